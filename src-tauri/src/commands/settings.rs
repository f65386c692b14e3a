//! The About screen and the desktop's settings: language and server.

use ream_client::Engine;
use ream_wire::{About, DesktopSettings};
use tauri::{AppHandle, State};

use crate::error::CommandResult;

#[tauri::command]
pub fn about(engine: State<'_, Engine>) -> About {
    engine.about()
}

#[tauri::command]
pub fn desktop_settings(engine: State<'_, Engine>) -> DesktopSettings {
    engine.desktop_settings()
}

/// `None` follows the operating system's locale. The tray speaks the new language at once.
#[tauri::command]
pub async fn set_language(
    app: AppHandle,
    engine: State<'_, Engine>,
    language: Option<String>,
) -> CommandResult<DesktopSettings> {
    let settings = engine.set_language(language.as_deref()).await?;
    crate::tray::refresh(&app);
    Ok(settings)
}

/// Fails with `CERTIFICATE_UNTRUSTED` and `details.fingerprint` when the server's
/// certificate must be confirmed: call again with that fingerprint once the user agrees.
#[tauri::command]
pub async fn set_server(
    engine: State<'_, Engine>,
    url: String,
    fingerprint: Option<String>,
) -> CommandResult<DesktopSettings> {
    engine.set_server(&url, fingerprint.as_deref()).await?;
    Ok(engine.desktop_settings())
}
