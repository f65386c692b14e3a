//! `ream-desktop`: Ream's workstation client with a window, a tray icon and desktop
//! notifications, in two processes (see ARCHITECTURE.md): the client (`client`: the
//! `ream-client` engine, the tray and notifications on the session bus; it runs all
//! day) and, while somebody looks, the window (`window`: a thin Tauri 2 shell whose
//! webview's commands the client answers, `commands`). No business rule lives here.

mod client;
mod commands;
mod error;
mod events;
mod i18n;
mod link;
mod notify;
mod startup;
mod tray;
mod window;
mod windows;

fn main() -> std::process::ExitCode {
    let options = startup::Options::parse(std::env::args().skip(1));
    if options.window {
        window::before_gtk();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REAM_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if options.window {
        window::run(options.open)
    } else {
        client::run(options)
    }
}
