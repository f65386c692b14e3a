//! The identified user's own account. Every handler here acts on the caller's own user
//! only: no path names another user, so none can be reached.

use axum::extract::{Query, State};
use axum::Json;
use ream_wire::{AccountView, ApiError, ErrorCode, NewPin, TransactionPage};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Authed;
use crate::auth;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::account_view;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(account)).routes(routes!(transactions)).routes(routes!(new_pin))
}

/// The caller's account: identity, credit, quotas, cost centres and projects.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = AccountView), (status = 401, body = ApiError)))]
async fn account(State(state): State<AppState>, Authed(ctx): Authed) -> AppResult<Json<AccountView>> {
    Ok(Json(account_view(&state, &ctx.user).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
struct Limit {
    /// At most this many, newest first (default 50, at most 1000).
    limit: Option<i64>,
}

/// The caller's credit transactions, newest first.
#[utoipa::path(get, path = "/api/v1/me/transactions", tag = "me", security(("bearer" = [])), params(Limit),
    responses((status = 200, body = TransactionPage), (status = 401, body = ApiError)))]
async fn transactions(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    Query(q): Query<Limit>,
) -> AppResult<Json<TransactionPage>> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1_000);
    Ok(Json(TransactionPage { transactions: state.store.transactions(&ctx.user.id, limit).await? }))
}

/// Replaces the caller's PIN with a new random one, shown in this answer only; the
/// user's other sessions end. Not from a login by the user list, which proved no secret.
#[utoipa::path(post, path = "/api/v1/me/pin", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = NewPin), (status = 401, body = ApiError),
        (status = 403, description = "a login by the user list changes no secret", body = ApiError)))]
async fn new_pin(State(state): State<AppState>, Authed(ctx): Authed) -> AppResult<Json<NewPin>> {
    if ctx.session.method == "user_list" {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "a login from the user list cannot change a secret: log in with your PIN, card or password",
        ));
    }
    let pin = auth::generate_pin(&state, &ctx.user.id).await?;
    state.store.revoke_other_sessions(&ctx.user.id, &ctx.session.id, "the PIN was changed").await?;
    Ok(Json(NewPin { pin }))
}
