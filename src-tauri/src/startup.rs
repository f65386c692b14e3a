//! Start-up of the client process (this app is the workstation client, as `ream run`
//! is): the command line, the claim to be this user's one client, the settings
//! (`$REAM_CONFIG` honoured), the OS keyring, and the client's services and the engine's
//! start in the order `ream_client::services` gives (a remembered login or single
//! sign-on).

use std::sync::Arc;

use ream_client::secrets::Keyring;
use ream_client::{Engine, Settings};
use ream_wire::{AgentReply, AgentRequest};

/// The command line: `ream-desktop [--server URL] [--hidden]`.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Connect to this server at start (a certificate must be trusted or already pinned).
    pub server: Option<String>,
    /// Start in the tray, without a window.
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

/// How this launch goes (see `ream_client::instance`).
pub enum Launch {
    /// This process is the user's client (`None`: the lock could not be made, which is
    /// reported, not fatal).
    First(Option<ream_client::instance::Claim>),
    /// Another is: it opened its window for this launch.
    Shown,
    /// Another is and has no window to show (`ream run`), or does not answer.
    Refused(String),
}

/// Claims the user's client. A launch while the app runs opens its window, as people
/// expect of a tray app started again (on desktops without a tray it is the only way
/// back to the window). A client that holds the claim but does not answer yet is
/// starting (it answers once it has started) or on its way out (its claim comes free):
/// both are waited for, a while.
pub fn claim_client(runtime: &tokio::runtime::Runtime) -> Launch {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        match ream_client::instance::try_claim() {
            Ok(Some(claim)) => return Launch::First(Some(claim)),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot make sure this is the only Ream client");
                return Launch::First(None);
            }
        }
        match runtime.block_on(ream_client::agent::ask(&AgentRequest::OpenWindow)) {
            Some(AgentReply::Done) => return Launch::Shown,
            // Quitting: its claim comes free in a moment (the user quit and started again).
            Some(AgentReply::Refused { code, .. }) if code == "QUITTING" => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            Some(AgentReply::Refused { message, .. }) => return Launch::Refused(message),
            Some(_) | None if std::time::Instant::now() >= deadline => {
                return Launch::Refused("it does not answer".into())
            }
            Some(_) | None => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

/// How long a launch waits for a running client that does not answer yet.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(15);

/// As `ream run` starts (see `ream_client::services`): the local printer, the engine's
/// start, the login lent to the user's other front ends, the jobs left by a previous run.
/// The services run for as long as the app.
pub async fn start(engine: Engine, server: Option<String>) {
    let port = engine.settings().ipp_port;
    let mut services = match ream_client::services::serve(&engine, port).await {
        Ok(services) => Some(services),
        Err(e) => {
            tracing::error!(port, error = %e, "cannot serve the local printer (is another Ream client running?)");
            None
        }
    };
    let result = match server.as_deref() {
        Some(url) => engine.set_server(url, None).await.map(drop),
        None if engine.settings().server.is_some() => engine.start().await.map(drop),
        None => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(code = e.code(), error = %e, "start-up did not connect");
    }
    if let Some(services) = services.as_mut() {
        services.after_start(&engine);
    }
    // Jobs a previous run had taken from the spooler but not delivered: their login
    // prompts now reach the window, as the events are forwarded already.
    ream_client::services::resume(&engine);
    // The services stop when dropped: this task keeps them for as long as the app runs.
    let _services = services;
    std::future::pending::<()>().await;
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
