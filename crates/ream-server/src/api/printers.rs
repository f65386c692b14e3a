//! Administration of price lists, printers and queues.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ream_wire::{ApiError, PriceList, Printer, Queue};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Admin, Body};
use crate::admin;
use crate::error::AppResult;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_price_lists, create_price_list))
        .routes(routes!(list_printers, create_printer))
        .routes(routes!(list_queues, create_queue))
        .routes(routes!(delete_price_list))
        .routes(routes!(delete_printer))
        .routes(routes!(delete_queue))
}

/// Deletes a price list no printer uses; the answer is the list as it was.
#[utoipa::path(delete, path = "/api/v1/admin/price-lists/{name}", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = PriceList), (status = 404, body = ApiError),
        (status = 409, description = "a printer uses it", body = ApiError)))]
async fn delete_price_list(
    State(s): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> AppResult<Json<PriceList>> {
    Ok(Json(admin::delete_price_list(&s, &name).await?))
}

/// Deletes a printer no queue uses and no job is on its way to; finished jobs keep their
/// record. The answer is the printer as it was.
#[utoipa::path(delete, path = "/api/v1/admin/printers/{name}", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = Printer), (status = 404, body = ApiError),
        (status = 409, description = "a queue uses it, or jobs are on their way to it", body = ApiError)))]
async fn delete_printer(
    State(s): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> AppResult<Json<Printer>> {
    Ok(Json(admin::delete_printer(&s, &name).await?))
}

/// Deletes a queue none of whose jobs may still print; its finished jobs keep its name.
/// The answer is the queue as it was.
#[utoipa::path(delete, path = "/api/v1/admin/queues/{name}", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = Queue), (status = 404, body = ApiError),
        (status = 409, description = "some of its jobs may still print", body = ApiError)))]
async fn delete_queue(
    State(s): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> AppResult<Json<Queue>> {
    Ok(Json(admin::delete_queue(&s, &name).await?))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct PriceLists {
    price_lists: Vec<PriceList>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct Printers {
    printers: Vec<Printer>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct Queues {
    queues: Vec<Queue>,
}

#[utoipa::path(get, path = "/api/v1/admin/price-lists", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = PriceLists), (status = 403, body = ApiError)))]
async fn list_price_lists(State(s): State<AppState>, _: Admin) -> AppResult<Json<PriceLists>> {
    Ok(Json(PriceLists { price_lists: s.store.price_lists().await? }))
}

#[utoipa::path(post, path = "/api/v1/admin/price-lists", tag = "admin", security(("bearer" = [])),
    request_body = PriceList, responses((status = 201, description = "created"), (status = 409, body = ApiError)))]
async fn create_price_list(
    State(s): State<AppState>,
    _: Admin,
    Body(p): Body<PriceList>,
) -> AppResult<StatusCode> {
    admin::create_price_list(&s, &p).await?;
    Ok(StatusCode::CREATED)
}

#[utoipa::path(get, path = "/api/v1/admin/printers", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Printers), (status = 403, body = ApiError)))]
async fn list_printers(State(s): State<AppState>, _: Admin) -> AppResult<Json<Printers>> {
    Ok(Json(Printers { printers: admin::printers(&s).await? }))
}

/// Adds an IPP or IPPS printer with its price list.
#[utoipa::path(post, path = "/api/v1/admin/printers", tag = "admin", security(("bearer" = [])),
    request_body = Printer, responses((status = 201, description = "created"), (status = 409, body = ApiError)))]
async fn create_printer(
    State(s): State<AppState>,
    _: Admin,
    Body(p): Body<Printer>,
) -> AppResult<StatusCode> {
    admin::create_printer(&s, &p).await?;
    Ok(StatusCode::CREATED)
}

#[utoipa::path(get, path = "/api/v1/admin/queues", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Queues), (status = 403, body = ApiError)))]
async fn list_queues(State(s): State<AppState>, _: Admin) -> AppResult<Json<Queues>> {
    Ok(Json(Queues { queues: s.store.queues().await?.into_iter().map(|q| q.queue).collect() }))
}

#[utoipa::path(post, path = "/api/v1/admin/queues", tag = "admin", security(("bearer" = [])),
    request_body = Queue, responses((status = 201, description = "created"), (status = 409, body = ApiError)))]
async fn create_queue(State(s): State<AppState>, _: Admin, Body(q): Body<Queue>) -> AppResult<StatusCode> {
    admin::create_queue(&s, &q).await?;
    Ok(StatusCode::CREATED)
}
