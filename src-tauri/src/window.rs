//! The main window, made when it opens and destroyed when it closes: a window nobody
//! looks at keeps no webview (WebKit's web process is most of the app's memory), and
//! everything the window shows lives in the engine, which runs on in the tray. Closing the
//! last window does not end the app; Quit in the tray does.
//!
//! Where to go reaches an open window as a `ream://navigate` event, a new one in its
//! address (`index.html?open=TARGET`): "dashboard", "jobs", "login", "settings", "about",
//! "job:<id>" or "fallback:<job>".

use tauri::{AppHandle, Emitter, Manager, RunEvent, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

pub const MAIN: &str = "main";
pub const NAVIGATE: &str = "ream://navigate";

/// Opens the window (as it was last, or where the UI starts) and brings it forward.
pub fn show(app: &AppHandle) {
    open(app, None);
}

/// Opens the window at `target`.
pub fn navigate(app: &AppHandle, target: &str) {
    open(app, Some(target));
}

fn open(app: &AppHandle, target: Option<&str>) {
    let window = match app.get_webview_window(MAIN) {
        Some(window) => window,
        None => match create(app, target) {
            Ok(_) => return,
            // Made meanwhile by another caller (the tray and a notification at once).
            Err(tauri::Error::WebviewLabelAlreadyExists(_)) => match app.get_webview_window(MAIN) {
                Some(window) => window,
                None => return,
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the window");
                return;
            }
        },
    };
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
    if let Some(target) = target {
        if let Err(e) = app.emit_to(MAIN, NAVIGATE, target) {
            tracing::warn!(error = %e, target, "cannot ask the window to navigate");
        }
    }
}

/// The window as `tauri.conf.json` describes it (`"create": false`: not made at start).
fn create(app: &AppHandle, target: Option<&str>) -> tauri::Result<WebviewWindow> {
    let mut config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .cloned()
        .ok_or(tauri::Error::WindowNotFound)?;
    // Targets are screen names and ids (letters, digits, '-' and ':'): nothing to escape.
    let page = match target {
        Some(target) => format!("index.html?open={target}"),
        None => "index.html".to_string(),
    };
    config.url = WebviewUrl::App(page.into());
    let window = WebviewWindowBuilder::from_config(app, &config)?.build()?;
    #[cfg(target_os = "linux")]
    lighten(&window);
    Ok(window)
}

/// WebKitGTK composites pages with OpenGL: on a computer without a GPU (a virtual
/// desktop, a terminal server, most thin clients) Mesa's software renderer doubled the
/// web process (203 MB → 105 MB without it, `scripts/bench desktop`), and forms and
/// tables have nothing to accelerate. One local page needs no web caches either.
#[cfg(target_os = "linux")]
fn lighten(window: &WebviewWindow) {
    let done = window.with_webview(|webview| {
        use webkit2gtk::{CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt};
        let webview = webview.inner();
        if let Some(settings) = WebViewExt::settings(&webview) {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
        if let Some(context) = webview.context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
    });
    if let Err(e) = done {
        tracing::warn!(error = %e, "cannot lighten the webview");
    }
}

/// Once the window is gone, the memory its webview used goes back to the system (glibc
/// keeps freed memory for reuse otherwise, and the app may sit in the tray for days).
pub fn on_window_event(window: &tauri::Window, event: &tauri::WindowEvent) {
    if window.label() == MAIN && matches!(event, tauri::WindowEvent::Destroyed) {
        #[cfg(target_os = "linux")]
        // SAFETY: malloc_trim only returns free heap pages to the system.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// Set once the app is on its way out: a launch then waits for its claim instead of
/// having a window opened by an app that is about to end.
static QUITTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn quitting() -> bool {
    QUITTING.load(std::sync::atomic::Ordering::SeqCst)
}

/// The app outlives its window: with the last one closed it goes on in the tray. An exit
/// asked for with a code (Quit) goes ahead.
pub fn on_run_event(_app: &AppHandle, event: RunEvent) {
    match event {
        RunEvent::ExitRequested { code: None, api, .. } => api.prevent_exit(),
        RunEvent::ExitRequested { .. } | RunEvent::Exit => {
            QUITTING.store(true, std::sync::atomic::Ordering::SeqCst)
        }
        _ => {}
    }
}
