//! The push channel: one WebSocket per session, carrying [`PushEvent`]s as JSON text.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use ream_wire::{ApiError, JobState, PrintTarget, PushEvent};
use serde::Deserialize;
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

/// The largest message a client may send on its push channel (it sends none but pings).
const MAX_CLIENT_MESSAGE: usize = 64 << 10;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
struct Channel {
    /// The id of the connecting client, when it keeps documents of client-spooled queues.
    holder: Option<String>,
}

/// Opens the session's push channel (WebSocket). The server sends the account at once
/// and again after every change (credit, quotas, groups, cost centres, projects), each
/// change of the user's jobs, `print_here` for released jobs whose documents the
/// connecting client keeps (`holder`), and `session_ended` before closing when the
/// session ends.
#[utoipa::path(get, path = "/api/v1/me/events", tag = "me", security(("bearer" = [])), params(Channel),
    responses(
        (status = 101, description = "WebSocket of JSON PushEvent messages", body = PushEvent),
        (status = 401, body = ApiError)))]
async fn events(
    State(state): State<AppState>,
    Authed(ctx): Authed,
    Query(channel): Query<Channel>,
    ws: WebSocketUpgrade,
) -> Response {
    // Thousands of these stay open, mostly idle, and clients send nothing but control
    // frames: small buffers (the library's defaults reserve 128 KiB to read per socket)
    // and no large message.
    ws.read_buffer_size(4 << 10)
        .write_buffer_size(4 << 10)
        .max_write_buffer_size(1 << 20)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| async move {
            if let Err(e) = serve(state, ctx, channel.holder, socket).await {
                tracing::debug!(error = %e, "push channel closed");
            }
        })
}

async fn send(socket: &mut WebSocket, event: &PushEvent) -> anyhow::Result<()> {
    socket.send(Message::Text(serde_json::to_string(event)?.into())).await?;
    Ok(())
}

/// One channel. What it waits on while idle is all it holds then: each step that talks
/// to the database runs boxed, so that its state (sqlx's futures are large) is not
/// reserved in every idle channel's task (thousands of them stay open).
async fn serve(
    state: AppState,
    ctx: AuthContext,
    holder: Option<String>,
    mut socket: WebSocket,
) -> anyhow::Result<()> {
    let mut live = Live {
        user_id: ctx.user.id.clone(),
        username: ctx.user.username.clone(),
        session_id: ctx.session.id.clone(),
        holder,
        sent_version: ctx.user.version,
        asked: HashSet::new(),
        opened: state.now_ms(),
        jobs_sent: HashMap::new(),
    };
    let mut changes = state.hub.watch(&live.user_id, ctx.user.version);
    Box::pin(live.start(&state, &ctx, &mut socket)).await?;
    drop(ctx);
    let mut check = tokio::time::interval(SESSION_CHECK);
    loop {
        tokio::select! {
            changed = changes.changed() => {
                changed?;
                if Box::pin(live.changed(&state, &mut socket)).await? {
                    return Ok(());
                }
            }
            _ = check.tick() => {
                if Box::pin(live.check(&state, &mut socket)).await? {
                    return Ok(());
                }
            }
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Ok(_)) => {} // pings are answered by the library; nothing else is expected
            }
        }
    }
}

/// What a channel keeps between events.
struct Live {
    user_id: String,
    username: String,
    session_id: String,
    holder: Option<String>,
    sent_version: i64,
    /// Released jobs this client keeps the documents of: asked for once per connection.
    asked: HashSet<String>,
    /// Job changes since the channel opened are sent, each once per change.
    opened: i64,
    jobs_sent: HashMap<String, i64>,
}

impl Live {
    async fn start(
        &mut self,
        state: &AppState,
        ctx: &AuthContext,
        socket: &mut WebSocket,
    ) -> anyhow::Result<()> {
        send(socket, &PushEvent::Account { account: account_view(state, &ctx.user).await? }).await?;
        if let Some(holder) = &self.holder {
            for job in state.store.jobs_to_print_at(&self.user_id, holder).await? {
                ask_to_print(state, socket, &self.username, &job, &mut self.asked).await?;
            }
        }
        Ok(())
    }

    /// The user changed: what changed is sent. Whether the channel ended (its session did).
    async fn changed(&mut self, state: &AppState, socket: &mut WebSocket) -> anyhow::Result<bool> {
        if self.check(state, socket).await? {
            return Ok(true);
        }
        let user = state.store.user_by_id(&self.user_id).await?;
        if user.version > self.sent_version {
            self.sent_version = user.version;
            send(socket, &PushEvent::Account { account: account_view(state, &user).await? }).await?;
        }
        for job in state.store.jobs_changed_since(&self.user_id, self.opened).await? {
            if self.jobs_sent.get(&job.id) != Some(&job.updated_at_ms) {
                self.jobs_sent.insert(job.id.clone(), job.updated_at_ms);
                send(socket, &PushEvent::Job { job: job.view() }).await?;
            }
            if self.holder.is_some() && job.holder == self.holder && job.state() == JobState::Printing {
                ask_to_print(state, socket, &self.username, &job, &mut self.asked).await?;
            }
        }
        Ok(false)
    }

    /// Ends the channel, with a word, when its session is over; whether it did.
    async fn check(&mut self, state: &AppState, socket: &mut WebSocket) -> anyhow::Result<bool> {
        match ended(state, &self.session_id).await? {
            Some(reason) => close(socket, reason).await.map(|()| true),
            None => Ok(false),
        }
    }
}

async fn ask_to_print(
    state: &AppState,
    socket: &mut WebSocket,
    username: &str,
    job: &crate::store::JobRow,
    asked: &mut HashSet<String>,
) -> anyhow::Result<()> {
    let Some(printer_id) = &job.printer_id else { return Ok(()) };
    if !asked.insert(job.id.clone()) {
        return Ok(());
    }
    let printer = state.store.printer(printer_id).await?;
    let target = PrintTarget {
        printer: printer.name,
        uri: printer.uri,
        fingerprint: printer.fingerprint,
        user: username.to_string(),
    };
    send(socket, &PushEvent::PrintHere { job: job.view(), target }).await
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
