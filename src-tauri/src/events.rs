//! From the engine to the desktop: every [`ClientEvent`] goes to the webview as
//! `ream://event` (its JSON as the payload), refreshes the tray on status changes, and
//! becomes a notification when [`Notices`] says so.

use ream_client::notices::Notices;
use ream_client::Engine;
use ream_wire::ClientEvent;
use tauri::{AppHandle, Emitter};
use tokio::sync::broadcast::{error::RecvError, Receiver};

use crate::{notify, tray};

pub const EVENT: &str = "ream://event";

/// Runs until the engine is gone. `events` is subscribed before the engine starts, so
/// nothing said at start-up is missed.
pub async fn forward(app: AppHandle, engine: Engine, mut events: Receiver<ClientEvent>) {
    let mut notices = Notices::new(engine.settings().low_credit_cents);
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the desktop fell behind the engine's events");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if let Err(e) = app.emit(EVENT, &event) {
            tracing::warn!(error = %e, "cannot send an event to the webview");
        }
        if matches!(event, ClientEvent::Status { .. }) {
            tray::refresh(&app);
        }
        for notice in notices.observe(&event) {
            notify::show(&app, &notice);
        }
    }
}
