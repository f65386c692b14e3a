//! Print jobs: a client submits a document for its user; the user lists, releases and
//! deletes their own jobs.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use ream_wire::{
    ApiError, DeliveryReport, Job, JobAnswer, JobDialog, JobList, JobSubmission, QueueInfo, QueueInfoList,
    JOB_HEADER,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Authed, Body};
use crate::error::{AppError, AppResult};
use crate::printing;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit))
        .routes(routes!(list))
        .routes(routes!(release))
        .routes(routes!(delete))
        .routes(routes!(dialog))
        .routes(routes!(answer))
        .routes(routes!(queues))
        .routes(routes!(outcome))
}

/// Reports how a client-spooled job went at the printer; sent by the owner's client that
/// keeps the document, after the push channel asked it to print (`print_here`).
#[utoipa::path(post, path = "/api/v1/me/jobs/{id}/outcome", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = DeliveryReport,
    responses((status = 200, body = Job), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn outcome(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    Path(id): Path<String>,
    Json(report): Json<DeliveryReport>,
) -> AppResult<Json<Job>> {
    Ok(Json(printing::report_outcome(&state, &ctx.user, &id, &report).await?))
}

/// The queues, how each identifies its users and the printers its jobs go to, so that a
/// client with nobody logged in knows what to ask for when a job arrives, and an owner
/// can choose where to release. Public: nothing else about them is shown.
#[utoipa::path(get, path = "/api/v1/queues", tag = "jobs", responses((status = 200, body = QueueInfoList)))]
async fn queues(State(state): State<AppState>) -> AppResult<Json<QueueInfoList>> {
    let queues = state.store.queues().await?;
    let only = queues.len() == 1;
    Ok(Json(QueueInfoList {
        queues: queues
            .into_iter()
            .map(|q| QueueInfo {
                // As `printing::queue_for` picks it for a job that names no queue.
                default: match &state.config.default_queue {
                    Some(name) => *name == q.queue.name,
                    None => only,
                },
                name: q.queue.name,
                detection: q.queue.detection,
                printers: q.queue.printers,
                spooling: q.queue.spooling,
            })
            .collect(),
        max_job_bytes: Some(state.config.max_job_bytes),
    }))
}

/// What the user must decide about one of their jobs that waits: the accounts that may
/// pay, the projects, and whether to confirm pages and price.
#[utoipa::path(get, path = "/api/v1/me/jobs/{id}/dialog", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = JobDialog), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn dialog(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    Path(id): Path<String>,
) -> AppResult<Json<JobDialog>> {
    Ok(Json(printing::dialog(&state, &ctx.user, &id).await?))
}

/// Answers a job's dialog: the account that pays, the project, and acceptance (or
/// cancellation). Checked here: an account that cannot pay is refused with its code.
#[utoipa::path(post, path = "/api/v1/me/jobs/{id}/answer", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = JobAnswer,
    responses(
        (status = 200, body = Job),
        (status = 402, description = "CREDIT_INSUFFICIENT or QUOTA_EXCEEDED", body = ApiError),
        (status = 409, body = ApiError),
        (status = 422, body = ApiError)))]
async fn answer(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    Path(id): Path<String>,
    Body(answer): Body<JobAnswer>,
) -> AppResult<Json<Job>> {
    Ok(Json(printing::answer(&state, &ctx.user, &id, &answer).await?))
}

/// Submits a document for printing by the caller. The body is the PDF itself (streamed
/// to the spool, never held in memory); the `X-Ream-Job` header carries a JSON
/// `JobSubmission`. Pages are counted from the document; the price comes from the
/// queue's printer's price list; a job its account cannot pay for is refused.
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/pdf"),
    params(("x-ream-job" = String, Header, description = "JSON JobSubmission")),
    responses(
        (status = 201, body = Job),
        (status = 402, description = "CREDIT_INSUFFICIENT or QUOTA_EXCEEDED", body = ApiError),
        (status = 422, description = "DOCUMENT_INVALID or INVALID_INPUT", body = ApiError)))]
async fn submit(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    headers: HeaderMap,
    body: axum::body::Body,
) -> AppResult<(StatusCode, Json<Job>)> {
    let sub: JobSubmission = headers
        .get(JOB_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::invalid("the X-Ream-Job header is missing"))
        .and_then(|v| serde_json::from_str(v).map_err(|e| AppError::invalid(format!("X-Ream-Job: {e}"))))?;
    let job = printing::submit(&state, &ctx.user, sub, body.into_data_stream()).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

/// The caller's jobs, newest first: waiting, held and finished.
#[utoipa::path(get, path = "/api/v1/me/jobs", tag = "jobs", security(("bearer" = [])),
    responses((status = 200, body = JobList), (status = 401, body = ApiError)))]
async fn list(State(state): State<AppState>, Authed(ctx): Authed) -> AppResult<Json<JobList>> {
    Ok(Json(JobList { jobs: printing::jobs_of(&state, &ctx.user).await? }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
struct Release {
    /// A printer of the job's queue; its first printer when absent.
    #[serde(default)]
    printer: Option<String>,
}

/// Releases one of the caller's held jobs to a printer.
#[utoipa::path(post, path = "/api/v1/me/jobs/{id}/release", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Release,
    responses((status = 200, body = Job), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn release(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    Path(id): Path<String>,
    body: Option<Json<Release>>,
) -> AppResult<Json<Job>> {
    let printer = body.and_then(|Json(r)| r.printer);
    Ok(Json(printing::release(&state, &ctx.user, &id, printer.as_deref()).await?))
}

/// Deletes one of the caller's jobs that has not printed.
#[utoipa::path(delete, path = "/api/v1/me/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
async fn delete(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    Path(id): Path<String>,
) -> AppResult<Json<Job>> {
    Ok(Json(printing::delete(&state, &ctx.user, &id).await?))
}
