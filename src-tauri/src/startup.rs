//! Start-up, as `ream run` does it (this app is the workstation client): the settings
//! (`$REAM_CONFIG` honoured), the OS keyring, the local IPP printer CUPS prints to, the
//! engine's start (a remembered login or single sign-on) and its push loop; then the
//! tray, notifications and the event bridge to the webview.

use std::sync::Arc;

use ream_client::secrets::Keyring;
use ream_client::{Engine, Settings};
use tauri::{App, Manager};

use crate::{events, notify, tray, window};

/// The command line: `ream-desktop [--server URL] [--hidden]`.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Connect to this server at start (a certificate must be trusted or already pinned).
    pub server: Option<String>,
    /// Start in the tray, without showing the window.
    pub hidden: bool,
}

impl Options {
    pub fn parse(mut args: impl Iterator<Item = String>) -> Options {
        let mut options = Options::default();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--server" => options.server = args.next(),
                "--hidden" => options.hidden = true,
                other => match other.strip_prefix("--server=") {
                    Some(url) => options.server = Some(url.to_string()),
                    None => tracing::warn!(argument = other, "unknown argument ignored"),
                },
            }
        }
        options
    }
}

/// The engine over the settings file and the OS keyring. A settings file that cannot be
/// read is reported and left alone: the app runs on defaults without overwriting it.
pub fn engine() -> Engine {
    match Settings::load() {
        Ok(settings) => Engine::new(settings, Arc::new(Keyring), true),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the settings; running on defaults");
            Engine::new(Settings::default(), Arc::new(Keyring), false)
        }
    }
}

/// This process as the user's one client (see `ream_client::instance`); `None` when
/// another holds it. A lock that cannot be made is reported, not fatal.
pub fn claim_client() -> Option<Option<ream_client::instance::Claim>> {
    match ream_client::instance::claim() {
        Ok(Some(claim)) => Some(Some(claim)),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot make sure this is the only Ream client");
            Some(None)
        }
    }
}

/// Tauri's `setup`: everything that runs beside the window.
pub fn setup(app: &mut App, options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let engine = app.state::<Engine>().inner().clone();
    if let Err(e) = tray::create(app) {
        tracing::warn!(error = %e, "no tray icon");
    }
    notify::on_click(app.handle());
    if options.hidden {
        if let Some(w) = app.get_webview_window(window::MAIN) {
            w.hide()?;
        }
    }
    let events = engine.subscribe();
    tauri::async_runtime::spawn(events::forward(app.handle().clone(), engine.clone(), events));
    tauri::async_runtime::spawn(local_printer(engine.clone()));
    let runner = engine.clone();
    tauri::async_runtime::spawn(async move { runner.run().await });
    tauri::async_runtime::spawn(async move { connect(&engine, options.server.as_deref()).await });
    Ok(())
}

async fn connect(engine: &Engine, server: Option<&str>) {
    let result = match server {
        Some(url) => engine.set_server(url, None).await.map(drop),
        None if engine.settings().server.is_some() => engine.start().await.map(drop),
        None => return,
    };
    if let Err(e) = result {
        tracing::warn!(code = e.code(), error = %e, "start-up did not connect");
    }
    // Jobs a previous run had taken from the spooler but not delivered: their login
    // prompts now reach the window, as the events are forwarded already.
    ream_client::ipp_endpoint::resume_spooled(engine, &ream_client::settings::cache_dir().join("spool"));
}

/// The local IPP Everywhere printer on loopback, as `ream run` serves it.
async fn local_printer(engine: Engine) {
    let port = engine.settings().ipp_port;
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(port, error = %e, "cannot serve the local printer (is another Ream client running?)");
            return;
        }
    };
    let spool = ream_client::settings::cache_dir().join("spool");
    // The spool key is fetched (or made) before the first job comes, not while the
    // spooler waits for an answer.
    if let Err(e) = engine.spool_key().await {
        tracing::warn!(error = %e, "no spool key yet");
    }
    tracing::info!("printing to ipp://127.0.0.1:{port}{}", ream_client::ipp_endpoint::PATH);
    tokio::spawn(ream_client::cups::keep_queues_going(port));
    if let Err(e) = ream_client::ipp_endpoint::serve(engine, listener, spool).await {
        tracing::error!(error = %e, "the local printer stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_the_command_line() {
        let parse = |args: &[&str]| Options::parse(args.iter().map(|a| a.to_string()));
        let o = parse(&["--server", "http://127.0.0.1:8631", "--hidden"]);
        assert_eq!((o.server.as_deref(), o.hidden), (Some("http://127.0.0.1:8631"), true));
        let o = parse(&["--server=https://print.example", "--other"]);
        assert_eq!((o.server.as_deref(), o.hidden), (Some("https://print.example"), false));
    }
}
