//! The HTTP API: `/api/v1/…` REST endpoints, the push WebSocket, and the OpenAPI
//! document generated from the handlers' annotations (`/api/openapi.json`).
//!
//! Every route is registered through `utoipa_axum::routes!`, which adds it to the router
//! and to the document at once: an endpoint cannot exist undocumented.

mod admin;
mod auth;
mod events;
mod health;
mod jobs;
mod local;
mod me;
mod offline;
mod printers;
mod workstations;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use ream_wire::ErrorCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::auth::{authenticate, AuthContext};
use crate::error::AppError;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ream print management API",
        description = "The API the Ream client and administration tools speak. Errors are \
                       `{code, message}` with a stable code. Authenticated calls carry \
                       `Authorization: Bearer <access token>`.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(schemas(ream_wire::PushEvent, ream_wire::ApiError, ream_wire::ErrorCode)),
    tags(
        (name = "auth", description = "Login policy, login, refresh, logout, directory"),
        (name = "me", description = "The identified user's own account"),
        (name = "workstations", description = "Workstation enrolment"),
        (name = "jobs", description = "Print jobs: submission, the user's own jobs, release, deletion"),
        (name = "offline", description = "Offline operation: what a client keeps, the journals workstations replay"),
        (name = "local", description = "Local print monitoring: jobs on workstations' own printers"),
        (name = "admin", description = "Administration (administrators only)"),
        (name = "health", description = "For load balancers: whether an instance can serve")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API's router and its OpenAPI document.
pub fn router_and_doc(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::routes())
        .merge(me::routes())
        .merge(events::routes())
        .merge(workstations::routes())
        .merge(admin::routes())
        .merge(jobs::routes())
        .merge(printers::routes())
        .merge(offline::routes())
        .merge(local::routes())
        .merge(health::routes())
        .with_state(state)
        .split_for_parts();
    (router, doc)
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (router, doc) = router_and_doc(state);
    let doc = std::sync::Arc::new(doc);
    router
        .route("/api/openapi.json", get(move || async move { Json(doc.as_ref().clone()) }))
        .fallback(|| async { AppError::new(ErrorCode::NotFound, "no such endpoint") })
}

/// The caller's network address, for counting failed attempts per source: the peer's,
/// or behind a trusted proxy the one it forwards for (see [`crate::proxies`]).
pub struct Source(pub String);

impl FromRequestParts<AppState> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state).await.ok() else {
            return Ok(Source("unknown".into()));
        };
        let trusted = state.config.trusted_proxies();
        Ok(Source(crate::proxies::client_address(peer.0.ip(), &parts.headers, &trusted).to_string()))
    }
}

fn bearer(parts: &Parts) -> Result<&str, AppError> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| AppError::new(ErrorCode::AuthRequired, "log in first (Authorization: Bearer …)"))
}

/// An identified caller.
pub struct Authed(pub AuthContext);

impl FromRequestParts<AppState> for Authed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Authed(authenticate(state, bearer(parts)?).await?))
    }
}

/// An identified administrator.
pub struct Admin(pub AuthContext);

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ctx = authenticate(state, bearer(parts)?).await?;
        if !ctx.user.is_admin() {
            return Err(AppError::new(ErrorCode::Forbidden, "administrators only"));
        }
        // Administration needs the administrator's password, not a PIN or a card that
        // may be lent or read at a printer.
        if ctx.session.method != "password" {
            return Err(AppError::new(ErrorCode::Forbidden, "administration needs a password login"));
        }
        Ok(Admin(ctx))
    }
}

/// JSON bodies whose rejection is our `{code, message}` shape, not axum's plain text.
pub struct Body<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Body<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(AppError::invalid(e.body_text())),
        }
    }
}
