//! `GET /api/v1/health`: what a load balancer asks before it sends an instance traffic.
//! No login; it says only whether the instance's database answers, and which instance
//! it is.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use ream_wire::Health;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// Whether this instance can serve: 200 when its database answers, 503 when it does not.
#[utoipa::path(get, path = "/api/v1/health", tag = "health",
    responses((status = 200, body = Health), (status = 503, description = "the database does not answer", body = Health)))]
async fn health(State(s): State<AppState>) -> (StatusCode, Json<Health>) {
    let instance = s.config.cluster.instance_id.clone();
    match s.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(Health { status: "ok".into(), instance })),
        Err(e) => {
            tracing::warn!(error = %e, "health: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "unavailable".into(), instance }))
        }
    }
}
