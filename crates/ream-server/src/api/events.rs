//! The push channel: one WebSocket per session, carrying [`PushEvent`]s as JSON text.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use ream_wire::{ApiError, PushEvent};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Authed;
use crate::auth::{check_session_live, AuthContext};
use crate::error::AppResult;
use crate::state::AppState;
use crate::views::account_view;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// How often a quiet connection re-checks that its session still lives (expiry).
const SESSION_CHECK: Duration = Duration::from_secs(15);

/// Opens the session's push channel (WebSocket). The server sends the account at once
/// and again after every change (credit, quotas, groups, cost centres, projects), and
/// `session_ended` before closing when the session ends.
#[utoipa::path(get, path = "/api/v1/me/events", tag = "me", security(("bearer" = [])),
    responses(
        (status = 101, description = "WebSocket of JSON PushEvent messages", body = PushEvent),
        (status = 401, body = ApiError)))]
async fn events(State(state): State<AppState>, Authed(ctx): Authed, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| async move {
        if let Err(e) = serve(state, ctx, socket).await {
            tracing::debug!(error = %e, "push channel closed");
        }
    })
}

async fn send(socket: &mut WebSocket, event: &PushEvent) -> anyhow::Result<()> {
    socket.send(Message::Text(serde_json::to_string(event)?.into())).await?;
    Ok(())
}

async fn serve(state: AppState, ctx: AuthContext, mut socket: WebSocket) -> anyhow::Result<()> {
    let user_id = ctx.user.id.clone();
    let mut changes = state.hub.watch(&user_id, ctx.user.version);
    let mut sent_version = ctx.user.version;
    send(&mut socket, &PushEvent::Account { account: account_view(&state, &ctx.user).await? }).await?;
    // Job changes since the channel opened, each sent once per change.
    let opened = state.now_ms();
    let mut jobs_sent: HashMap<String, i64> = HashMap::new();
    let mut check = tokio::time::interval(SESSION_CHECK);
    loop {
        tokio::select! {
            changed = changes.changed() => {
                changed?;
                if let Some(reason) = ended(&state, &ctx.session.id).await? {
                    return close(&mut socket, reason).await;
                }
                let user = state.store.user_by_id(&user_id).await?;
                if user.version > sent_version {
                    sent_version = user.version;
                    send(&mut socket, &PushEvent::Account { account: account_view(&state, &user).await? }).await?;
                }
                for job in state.store.jobs_changed_since(&user_id, opened).await? {
                    if jobs_sent.get(&job.id) != Some(&job.updated_at_ms) {
                        jobs_sent.insert(job.id.clone(), job.updated_at_ms);
                        send(&mut socket, &PushEvent::Job { job: job.view() }).await?;
                    }
                }
            }
            _ = check.tick() => {
                if let Some(reason) = ended(&state, &ctx.session.id).await? {
                    return close(&mut socket, reason).await;
                }
            }
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Ok(_)) => {} // pings are answered by the library; nothing else is expected
            }
        }
    }
}

/// Why the session is over, if it is.
async fn ended(state: &AppState, session_id: &str) -> AppResult<Option<String>> {
    let Some(session) = state.store.session(session_id).await? else {
        return Ok(Some("the session no longer exists".into()));
    };
    Ok(check_session_live(state, &session).err().map(|e| e.to_string()))
}

async fn close(socket: &mut WebSocket, reason: String) -> anyhow::Result<()> {
    send(socket, &PushEvent::SessionEnded { reason }).await?;
    socket.send(Message::Close(None)).await?;
    Ok(())
}
