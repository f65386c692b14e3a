//! Desktop notifications for what the engine's [`Notices`] say deserves one, in the
//! user's language. A click on a notification opens the window where the matter is
//! handled (`navigate` in the notification's extra data); a job waiting for a choice
//! opens it at once.

use ream_client::notices::Notice;
use ream_client::Engine;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

use crate::i18n::{self, Lang};
use crate::window;

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
pub fn show(app: &AppHandle, notice: &Notice) {
    tracing::info!(?notice, "notifying");
    let engine = app.state::<Engine>();
    let (title, body) = i18n::notice_text(Lang::of(&engine), notice);
    let target = target(notice);
    let sent = app.notification().builder().title(title).body(body).extra("navigate", target.clone()).show();
    if let Err(e) = sent {
        tracing::warn!(error = %e, "cannot show a notification");
    }
    if matches!(
        notice,
        Notice::LoginNeeded { .. } | Notice::JobNeedsChoice { .. } | Notice::FallbackOffered { .. }
    ) {
        window::navigate(app, &target);
    }
}

/// A click on one of our notifications opens the window where it points.
pub fn on_click(app: &AppHandle) {
    let handle = app.clone();
    let registered = app.notification().on_action(move |action| {
        let target = action
            .notification()
            .and_then(|n| n.extra().get("navigate"))
            .and_then(|v| v.as_str())
            .unwrap_or("dashboard")
            .to_string();
        window::navigate(&handle, &target);
    });
    if let Err(e) = registered {
        tracing::warn!(error = %e, "notification clicks will not open the window");
    }
}
