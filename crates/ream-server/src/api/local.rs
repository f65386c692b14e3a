//! Local print monitoring: the policy workstations read (public: root's `ream cups
//! monitor` has no login), the grant a user's client asks for a job held on one of the
//! workstation's own printers, the terms its offline jobs go by, and the administration.

use axum::extract::{Path, Query, State};
use axum::Json;
use ream_wire::{
    AdminJob, ApiError, LocalAuthorised, LocalJobRequest, LocalMonitoring, LocalMonitoringInfo, LocalPrinter,
    LocalTerms,
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

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(info))
        .routes(routes!(authorise))
        .routes(routes!(terms))
        .routes(routes!(get_policy, set_policy))
        .routes(routes!(printers))
        .routes(routes!(set_printer_price))
        .routes(routes!(jobs))
}

/// The monitoring policy and the public key that signs grants.
#[utoipa::path(get, path = "/api/v1/local-monitoring", tag = "local",
    responses((status = 200, body = LocalMonitoringInfo)))]
async fn info(State(state): State<AppState>) -> AppResult<Json<LocalMonitoringInfo>> {
    Ok(Json(printing::monitoring_info(&state).await?))
}

/// Authorises a job held on a monitored local queue: priced by its local printer's
/// price list, its funds taken, recorded in the caller's history and granted (signed).
/// The same CUPS job asked about again is the same job, charged once.
#[utoipa::path(post, path = "/api/v1/me/local-jobs", tag = "local", security(("bearer" = [])),
    request_body = LocalJobRequest,
    responses((status = 200, body = LocalAuthorised),
        (status = 409, description = "CREDIT_INSUFFICIENT, QUOTA_EXCEEDED, CONFLICT (no price list, monitoring off)", body = ApiError)))]
async fn authorise(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    Body(req): Body<LocalJobRequest>,
) -> AppResult<Json<LocalAuthorised>> {
    Ok(Json(printing::authorise_local(&state, &ctx.user, &req).await?))
}

/// What the caller's local jobs may do while the workstation cannot reach the server,
/// signed for the workstation's CUPS backend.
#[utoipa::path(get, path = "/api/v1/me/local-terms", tag = "local", security(("bearer" = [])),
    responses((status = 200, body = LocalTerms), (status = 401, body = ApiError)))]
async fn terms(State(state): State<AppState>, Authed(ctx): Authed) -> AppResult<Json<LocalTerms>> {
    Ok(Json(printing::local_terms(&state, &ctx.user).await?))
}

#[utoipa::path(get, path = "/api/v1/admin/local-monitoring", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = LocalMonitoring), (status = 403, body = ApiError)))]
async fn get_policy(State(s): State<AppState>, _: Admin) -> AppResult<Json<LocalMonitoring>> {
    Ok(Json(s.store.local_monitoring().await?))
}

/// Sets which local queues workstations monitor, what their jobs do offline, which count
/// they are charged by and the price list of local printers without their own.
#[utoipa::path(put, path = "/api/v1/admin/local-monitoring", tag = "admin", security(("bearer" = [])),
    request_body = LocalMonitoring,
    responses((status = 200, body = LocalMonitoring), (status = 404, description = "no such price list", body = ApiError)))]
async fn set_policy(
    State(s): State<AppState>,
    _: Admin,
    Body(m): Body<LocalMonitoring>,
) -> AppResult<Json<LocalMonitoring>> {
    Ok(Json(admin::set_local_monitoring(&s, &m).await?))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct LocalPrinters {
    printers: Vec<LocalPrinter>,
}

/// Workstations' printers, each recorded on its first job as `queue@workstation`.
#[utoipa::path(get, path = "/api/v1/admin/local-printers", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = LocalPrinters), (status = 403, body = ApiError)))]
async fn printers(State(s): State<AppState>, _: Admin) -> AppResult<Json<LocalPrinters>> {
    Ok(Json(LocalPrinters { printers: s.store.local_printers().await? }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct PriceListChoice {
    /// None: the policy's price list.
    price_list: Option<String>,
}

#[utoipa::path(put, path = "/api/v1/admin/local-printers/{name}/price-list", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path, description = "queue@workstation")), request_body = PriceListChoice,
    responses((status = 200, body = LocalPrinter), (status = 404, body = ApiError)))]
async fn set_printer_price(
    State(s): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
    Body(choice): Body<PriceListChoice>,
) -> AppResult<Json<LocalPrinter>> {
    Ok(Json(admin::set_local_printer_price(&s, &name, choice.price_list.as_deref()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
struct Limit {
    /// At most this many, newest first (default 100).
    limit: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct LocalJobs {
    jobs: Vec<AdminJob>,
}

/// Jobs of workstations' own printers, newest first, with Ream's and the printer's counts.
#[utoipa::path(get, path = "/api/v1/admin/local-jobs", tag = "admin", security(("bearer" = [])), params(Limit),
    responses((status = 200, body = LocalJobs), (status = 403, body = ApiError)))]
async fn jobs(State(s): State<AppState>, _: Admin, Query(q): Query<Limit>) -> AppResult<Json<LocalJobs>> {
    Ok(Json(LocalJobs { jobs: admin::local_jobs(&s, q.limit.unwrap_or(100)).await? }))
}
