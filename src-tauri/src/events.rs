//! From the engine to the desktop: every [`ClientEvent`] goes to the window, if one runs
//! (the webview gets it as `ream://event`), refreshes the tray on status changes, and
//! becomes a notification when [`Notices`] says so.

use ream_client::notices::Notices;
use ream_client::Engine;
use ream_wire::ClientEvent;
use tokio::sync::broadcast::{error::RecvError, Receiver};

use crate::tray::Tray;
use crate::windows::Windows;
use ream_desktop::link::ToWindow;

/// Runs until the engine is gone. `events` is subscribed before the engine starts, so
/// nothing said at start-up is missed. `tray` is set once the icon is up.
pub async fn forward(
    engine: Engine,
    windows: Windows,
    tray: std::sync::Arc<tokio::sync::OnceCell<Tray>>,
    mut events: Receiver<ClientEvent>,
) {
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
        if matches!(event, ClientEvent::Status { .. }) {
            if let Some(tray) = tray.get() {
                tray.refresh().await;
            }
        }
        for notice in notices.observe(&event) {
            crate::notify::show(&engine, &windows, &notice);
        }
        windows.send(ToWindow::Event(event));
    }
}
