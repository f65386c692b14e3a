//! Login policy, login, refresh, logout and the user directory.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use ream_wire::{
    ApiError, DirectoryEntry, DirectoryPage, ErrorCode, LoginMethod, LoginPolicy, LoginRequest, ProofPurpose,
    RefreshRequest, SessionTokens, WorkstationProof, WORKSTATION_PROOF_HEADER,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Authed, Body, Source};
use crate::auth;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(policy))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(directory))
}

/// The login methods and remember-me durations this server offers.
#[utoipa::path(get, path = "/api/v1/auth/policy", tag = "auth",
    responses((status = 200, body = LoginPolicy)))]
async fn policy(State(state): State<AppState>) -> Json<LoginPolicy> {
    Json(state.config.policy())
}

/// Identifies a user by any enabled method and opens a session.
///
/// Five failed attempts on one identity lock it for the lockout period; failures are
/// also counted per source address. User-list and SSO logins need a proof signed by an
/// enrolled workstation.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = SessionTokens),
        (status = 401, description = "AUTH_INVALID, or a workstation proof refused", body = ApiError),
        (status = 403, description = "METHOD_DISABLED, or the account is disabled", body = ApiError),
        (status = 422, description = "REMEMBER_INVALID or INVALID_INPUT", body = ApiError),
        (status = 429, description = "AUTH_LOCKED", body = ApiError)))]
async fn login(
    State(state): State<AppState>,
    Source(source): Source,
    Body(req): Body<LoginRequest>,
) -> AppResult<Json<SessionTokens>> {
    Ok(Json(auth::login(&state, &req.credentials, req.remember.as_deref(), &source).await?))
}

/// Trades a refresh token for a new access token and a new refresh token. Each refresh
/// token works once; presenting a used one ends the session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = SessionTokens),
        (status = 401, description = "AUTH_INVALID, TOKEN_EXPIRED or SESSION_REVOKED", body = ApiError)))]
async fn refresh(
    State(state): State<AppState>,
    Body(req): Body<RefreshRequest>,
) -> AppResult<Json<SessionTokens>> {
    Ok(Json(auth::refresh(&state, &req.refresh_token).await?))
}

/// Ends the caller's session: its tokens stop working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "logged out"), (status = 401, body = ApiError)))]
async fn logout(State(state): State<AppState>, Authed(ctx): Authed) -> AppResult<StatusCode> {
    state.store.revoke_session(&ctx.session.id, "logout").await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
struct DirectoryQuery {
    /// Part of a username or full name, any case.
    #[serde(default)]
    q: String,
}

/// The user directory for the user-list login. Only enrolled workstations may read it:
/// send a fresh proof with purpose `directory` and the search text as subject, as JSON
/// in the `X-Ream-Workstation-Proof` header.
#[utoipa::path(get, path = "/api/v1/directory", tag = "auth", params(DirectoryQuery,
        ("x-ream-workstation-proof" = String, Header, description = "JSON WorkstationProof")),
    responses(
        (status = 200, body = DirectoryPage),
        (status = 401, description = "missing or refused workstation proof", body = ApiError),
        (status = 403, description = "METHOD_DISABLED", body = ApiError)))]
async fn directory(
    State(state): State<AppState>,
    Query(query): Query<DirectoryQuery>,
    headers: HeaderMap,
) -> AppResult<Json<DirectoryPage>> {
    if !state.config.login.methods.contains(&LoginMethod::UserList) {
        return Err(AppError::new(ErrorCode::MethodDisabled, "the user list is not enabled on this server"));
    }
    let proof: WorkstationProof = headers
        .get(WORKSTATION_PROOF_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str(v).ok())
        .ok_or_else(|| AppError::new(ErrorCode::AuthRequired, "the directory needs a workstation proof"))?;
    if proof.subject != query.q {
        return Err(AppError::new(ErrorCode::AssertionInvalid, "the proof was made for another search"));
    }
    auth::verify_proof(&state, &proof, ProofPurpose::Directory).await?;
    let users = state
        .store
        .list_users(&query.q, 200)
        .await?
        .into_iter()
        // Administrators are not offered: they log in with a password only.
        .filter(|u| !u.is_disabled() && !u.is_admin())
        .map(|u| DirectoryEntry { username: u.username, full_name: u.full_name })
        .collect();
    Ok(Json(DirectoryPage { users }))
}
