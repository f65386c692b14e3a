//! `ream-desktop`: Ream's workstation client with a window, a tray icon and desktop
//! notifications. This program is the client (`client`: the `ream-client` engine, the
//! tray and notifications on the session bus; it runs all day, and links no toolkit);
//! the window is `ream-window` (`window.rs`), a thin Tauri 2 shell it starts while
//! somebody looks, whose webview's commands it answers (`commands`). No business rule
//! lives here (see ARCHITECTURE.md).

mod client;
mod commands;
mod events;
mod i18n;
mod notify;
mod startup;
mod tray;
mod windows;

fn main() -> std::process::ExitCode {
    ream_desktop::log_to_stderr();
    client::run(startup::Options::parse(std::env::args().skip(1)))
}
