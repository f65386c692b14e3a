//! Offline operation: what the user's client keeps (`/me/offline`), the journal a
//! workstation replays (`/workstations/{id}/journal`, authenticated by each entry's
//! signature under the workstation's enrolled key, so it needs no login: the user who
//! printed may have left), and its administration.

use axum::extract::{Path, Query, State};
use axum::Json;
use ream_wire::{
    AdminJob, ApiError, JournalBatch, JournalReceipt, JournalRefusal, OfflineLine, OfflineSettings,
    OfflineTerms, Queue,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Admin, Authed, Body};
use crate::admin;
use crate::error::AppResult;
use crate::printing;
use crate::state::AppState;
use crate::store::LineOwner;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(terms))
        .routes(routes!(journal))
        .routes(routes!(set_queue_offline))
        .routes(routes!(set_user_line))
        .routes(routes!(set_group_line))
        .routes(routes!(offline_jobs))
        .routes(routes!(journal_refusals))
}

/// What the caller's client keeps to work while the server cannot be reached: each
/// queue's offline policy and fallback printers, whether the caller is unrestricted on
/// it, and the caller's offline credit line.
#[utoipa::path(get, path = "/api/v1/me/offline", tag = "offline", security(("bearer" = [])),
    responses((status = 200, body = OfflineTerms), (status = 401, body = ApiError)))]
async fn terms(State(state): State<AppState>, Authed(ctx): Authed) -> AppResult<Json<OfflineTerms>> {
    Ok(Json(printing::offline_terms(&state, &ctx.user).await?))
}

/// Takes a workstation's journal entries (oldest first, at most 500). Each is answered:
/// `accepted`, `duplicate` (taken before; nothing more done) or `refused` for good (a
/// signature that does not verify, an unknown user or queue, a job the server has under
/// that id already), which administrators see among the journal refusals.
#[utoipa::path(post, path = "/api/v1/workstations/{id}/journal", tag = "offline", request_body = JournalBatch,
    params(("id" = String, Path, description = "the workstation's id")),
    responses((status = 200, body = JournalReceipt),
        (status = 401, description = "WORKSTATION_UNKNOWN, WORKSTATION_REVOKED", body = ApiError)))]
async fn journal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(batch): Body<JournalBatch>,
) -> AppResult<Json<JournalReceipt>> {
    Ok(Json(printing::take_journal(&state, &id, &batch).await?))
}

/// Sets what the queue's jobs do while a workstation cannot reach the server.
#[utoipa::path(put, path = "/api/v1/admin/queues/{name}/offline", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = OfflineSettings,
    responses((status = 200, body = Queue), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
async fn set_queue_offline(
    State(s): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
    Body(offline): Body<OfflineSettings>,
) -> AppResult<Json<Queue>> {
    Ok(Json(admin::set_queue_offline(&s, &name, &offline).await?))
}

/// Sets how much the user may print offline (pages, money; absent: no limit).
#[utoipa::path(put, path = "/api/v1/admin/users/{username}/offline-line", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)), request_body = OfflineLine,
    responses((status = 200, body = OfflineLine), (status = 404, body = ApiError)))]
async fn set_user_line(
    State(s): State<AppState>,
    _: Admin,
    Path(username): Path<String>,
    Body(line): Body<OfflineLine>,
) -> AppResult<Json<OfflineLine>> {
    Ok(Json(admin::set_offline_line(&s, LineOwner::User, &username, &line).await?))
}

/// Sets how much the group's members may print offline, for those without their own line
/// (the most generous of a user's groups applies).
#[utoipa::path(put, path = "/api/v1/admin/groups/{name}/offline-line", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = OfflineLine,
    responses((status = 200, body = OfflineLine), (status = 404, body = ApiError)))]
async fn set_group_line(
    State(s): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
    Body(line): Body<OfflineLine>,
) -> AppResult<Json<OfflineLine>> {
    Ok(Json(admin::set_offline_line(&s, LineOwner::Group, &name, &line).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
struct Limit {
    /// At most this many, newest first (default 100).
    limit: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct OfflineJobs {
    jobs: Vec<AdminJob>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct JournalRefusals {
    refusals: Vec<JournalRefusal>,
}

/// Jobs printed offline, newest first, marked unaccounted or overdrawn.
#[utoipa::path(get, path = "/api/v1/admin/offline-jobs", tag = "admin", security(("bearer" = [])), params(Limit),
    responses((status = 200, body = OfflineJobs), (status = 403, body = ApiError)))]
async fn offline_jobs(
    State(s): State<AppState>,
    _: Admin,
    Query(q): Query<Limit>,
) -> AppResult<Json<OfflineJobs>> {
    Ok(Json(OfflineJobs { jobs: admin::offline_jobs(&s, q.limit.unwrap_or(100)).await? }))
}

/// Journal entries the server refused, newest first.
#[utoipa::path(get, path = "/api/v1/admin/journal-refusals", tag = "admin", security(("bearer" = [])), params(Limit),
    responses((status = 200, body = JournalRefusals), (status = 403, body = ApiError)))]
async fn journal_refusals(
    State(s): State<AppState>,
    _: Admin,
    Query(q): Query<Limit>,
) -> AppResult<Json<JournalRefusals>> {
    Ok(Json(JournalRefusals { refusals: admin::journal_refusals(&s, q.limit.unwrap_or(100)).await? }))
}
