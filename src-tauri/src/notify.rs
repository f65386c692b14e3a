//! Desktop notifications (org.freedesktop.Notifications on the session bus) for what the
//! engine's [`Notices`](ream_client::notices::Notices) say deserves one, in the user's
//! language. A click on a notification opens the window where the matter is handled; a
//! job waiting for a choice opens it at once.

use ream_client::notices::Notice;
use ream_client::Engine;

use crate::i18n::{self, Lang};
use crate::windows::Windows;

/// Where the window should go for `notice`.
pub fn target(notice: &Notice) -> String {
    match notice {
        Notice::LoginNeeded { .. } => "login".into(),
        Notice::JobNeedsChoice { id, .. }
        | Notice::JobHeld { id, .. }
        | Notice::JobPrinted { id, .. }
        | Notice::JobRejected { id: Some(id), .. } => format!("job:{id}"),
        Notice::JobRejected { id: None, .. }
        | Notice::JobDelayed { .. }
        | Notice::OfflinePrinted { .. }
        | Notice::OfflineReported { .. } => "jobs".into(),
        Notice::FallbackOffered { job, .. } => format!("fallback:{job}"),
        Notice::LowCredit { .. }
        | Notice::QuotaNearlyUsed { .. }
        | Notice::ServerUnreachable { .. }
        | Notice::ServerBack => "dashboard".into(),
    }
}

/// Tells the user; what cannot wait (a login for a job, a job's choices) also opens the
/// window there.
pub fn show(engine: &Engine, windows: &Windows, notice: &Notice) {
    tracing::info!(?notice, "notifying");
    let (title, body) = i18n::notice_text(Lang::of(engine), notice);
    let target = target(notice);
    let (on_click, at) = (windows.clone(), target.clone());
    // Sending waits for the bus, and the click is awaited for as long as the notification
    // is up: a thread of its own, gone when the notification is.
    let sent = std::thread::Builder::new().name("notification".into()).spawn(move || {
        let shown = notify_rust::Notification::new()
            .appname("Ream")
            .summary(&title)
            .body(&body)
            .action("default", "Open")
            .show();
        match shown {
            Ok(handle) => handle.wait_for_action(|action| {
                if action == "default" {
                    on_click.open(Some(at));
                }
            }),
            Err(e) => tracing::warn!(error = %e, "cannot show a notification"),
        }
    });
    if let Err(e) = sent {
        tracing::warn!(error = %e, "cannot show a notification");
    }
    if matches!(
        notice,
        Notice::LoginNeeded { .. } | Notice::JobNeedsChoice { .. } | Notice::FallbackOffered { .. }
    ) {
        windows.open(Some(target));
    }
}
