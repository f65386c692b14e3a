//! The client process: what runs all day, in the tray. It is this user's Ream client
//! (the engine, the local printer and the session agent, as `ream run` is), with a tray
//! icon and notifications on the session bus, and it starts the window process when
//! somebody opens the window (see `windows`). No toolkit and no webview live here.

use std::process::ExitCode;
use std::sync::Arc;

use tokio::sync::{Notify, OnceCell};

use crate::startup::{self, Launch, Options};
use crate::tray::Tray;
use crate::windows::Windows;

/// Runs the client until Quit (the tray's menu, SIGTERM or SIGINT).
pub fn run(options: Options) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _claim = match startup::claim_client(&runtime) {
        Launch::First(claim) => claim,
        Launch::Shown => {
            eprintln!("Ream is already running for this user: its window is open.");
            return ExitCode::SUCCESS;
        }
        Launch::Refused(why) => {
            eprintln!("Ream is already running for this user ({why}).");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(options));
    // Blocking tasks (a notification waiting for its click) do not hold the exit up.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    ExitCode::SUCCESS
}

async fn serve(options: Options) {
    let engine = startup::engine();
    let tray: Arc<OnceCell<Tray>> = Arc::default();
    let on_language = {
        let tray = tray.clone();
        move || {
            let tray = tray.clone();
            tokio::spawn(async move {
                if let Some(tray) = tray.get() {
                    tray.refresh().await;
                }
            });
        }
    };
    let windows = Windows::new(engine.clone(), tokio::runtime::Handle::current(), on_language);
    // The window first: it shows the login screen while the engine starts.
    if !options.hidden {
        windows.open(None);
    }
    let opener = windows.clone();
    engine.set_window_opener(move || opener.open(None));

    let quit = Arc::new(Notify::new());
    match Tray::create(engine.clone(), windows.clone(), quit.clone()).await {
        Ok(icon) => {
            let _ = tray.set(icon);
        }
        Err(e) => tracing::warn!(error = %e, "no tray icon"),
    }
    let events = engine.subscribe();
    tokio::spawn(crate::events::forward(engine.clone(), windows.clone(), tray, events));
    let runner = engine.clone();
    tokio::spawn(async move { runner.run().await });
    tokio::spawn(startup::start(engine, options.server));

    let (Ok(mut term), Ok(mut int)) = (
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()),
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()),
    ) else {
        quit.notified().await;
        windows.quit();
        return;
    };
    tokio::select! {
        _ = quit.notified() => {}
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    // A launch from now on waits for the claim instead of asking this client for a window.
    windows.quit();
}
