//! What the desktop app's two programs share: the line between them (see ARCHITECTURE.md)
//! and how they log.
//! `ream-desktop` (`main.rs`) is the client, with no toolkit; `ream-window`
//! (`window.rs`) is the window, Tauri and WebKit.

pub mod link;

/// Logs to stderr at `$REAM_LOG` (an `EnvFilter`; warnings by default), as `ream` does.
pub fn log_to_stderr() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REAM_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}
