//! Workstation enrolment: a workstation registers its public key with a one-time code.

use axum::extract::State;
use axum::Json;
use ream_wire::{ApiError, EnrolRequest, EnrolResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, Source};
use crate::auth;
use crate::error::{AppError, AppResult};
use crate::secrets::{normalise_enrolment_code, token_hash};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(enrol))
}

/// Enrols a workstation: spends the one-time code and registers the Ed25519 public key
/// that will sign its single sign-on and user-list proofs. Wrong codes count as failed
/// attempts from the caller's address.
#[utoipa::path(post, path = "/api/v1/workstations/enrol", tag = "workstations", request_body = EnrolRequest,
    responses(
        (status = 200, body = EnrolResponse),
        (status = 401, description = "ENROLMENT_CODE_INVALID", body = ApiError),
        (status = 409, description = "the key is enrolled already", body = ApiError),
        (status = 429, description = "AUTH_LOCKED", body = ApiError)))]
async fn enrol(
    State(state): State<AppState>,
    Source(source): Source,
    Body(req): Body<EnrolRequest>,
) -> AppResult<Json<EnrolResponse>> {
    let name = req.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::invalid("name must be 1 to 200 characters"));
    }
    auth::check_public_key(&req.public_key)?;
    let max = state.config.security.max_failed_attempts_per_source;
    let attempt = auth::Attempt::take(&state, auth::source_key(&source), max).await?;
    let code_hash = token_hash(&normalise_enrolment_code(&req.code));
    match state.store.enrol_workstation(&code_hash, name, &req.public_key).await {
        Ok(ws) => {
            attempt.succeeded(&state).await?;
            tracing::info!(workstation = %ws.id, name = %ws.name, "workstation enrolled");
            Ok(Json(EnrolResponse { workstation_id: ws.id, name: ws.name }))
        }
        Err(e) if e.code() == ream_wire::ErrorCode::EnrolmentCodeInvalid => {
            let locked = attempt.failed(&state).await?;
            Err(locked.map_or(e, |until| AppError::locked(until, state.now_ms())))
        }
        Err(e) => {
            attempt.succeeded(&state).await?;
            Err(e)
        }
    }
}
