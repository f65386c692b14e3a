//! The main window: shown and focused on demand, hidden (not closed) when the user closes
//! it, so the client keeps running in the tray. Navigation requests reach the webview as
//! `ream://navigate` events: "dashboard", "jobs", "login", "settings", "about" or
//! "job:<id>", "fallback:<job>".

use tauri::{AppHandle, Emitter, Manager, Window, WindowEvent};

pub const MAIN: &str = "main";
pub const NAVIGATE: &str = "ream://navigate";

pub fn show(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

pub fn navigate(app: &AppHandle, target: &str) {
    show(app);
    if let Err(e) = app.emit_to(MAIN, NAVIGATE, target) {
        tracing::warn!(error = %e, target, "cannot ask the window to navigate");
    }
}

/// Closing the window hides it; Quit in the tray ends the app.
pub fn on_event(window: &Window, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event {
        if window.label() == MAIN {
            api.prevent_close();
            let _ = window.hide();
        }
    }
}
