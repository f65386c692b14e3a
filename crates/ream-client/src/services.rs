//! What the user's running client serves beside its front end, the same whether that is
//! `ream run` or the desktop app: the local IPP printer CUPS prints to (with the spool
//! key fetched before the first job), the keeper of the CUPS queues, the session agent
//! that lends the login to the user's other front ends, and the offline journal's
//! replay. Only the holder of the
//! [`crate::instance`] claim starts them.
//!
//! Start-up order, for both front ends: [`serve`] (the printer takes jobs at once; they
//! wait for a login), the engine's `start`, then [`Services::after_start`] (so another
//! front end asking meanwhile restores the login itself rather than hearing "nobody is
//! logged in"), then [`resume`].

use tokio::task::JoinHandle;

use crate::engine::Engine;
use crate::error::{ClientError, Result};

/// The running services; dropping this stops them.
#[derive(Debug)]
pub struct Services {
    tasks: Vec<JoinHandle<()>>,
    /// Where the local printer listens.
    pub port: u16,
}

impl Drop for Services {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Serves the local printer on `127.0.0.1:port` (an error when the port is taken; port 0:
/// any free port, as each user's client on a shared computer does) and keeps the CUPS
/// queues that print to it enabled.
pub async fn serve(engine: &Engine, port: u16) -> Result<Services> {
    let cannot = |e: std::io::Error| ClientError::Config(format!("cannot listen on 127.0.0.1:{port}: {e}"));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(cannot)?;
    let port = listener.local_addr().map_err(cannot)?.port();
    // The spool key is fetched (or made) before the first job comes, not while the
    // spooler waits for an answer.
    if let Err(e) = engine.spool_key().await {
        tracing::warn!(code = e.code(), error = %e, "no spool key yet");
    }
    // So is the largest document the server takes: a larger one is refused as it comes.
    if engine.settings().server.is_some() {
        if let Err(e) = engine.server_queues().await {
            tracing::debug!(code = e.code(), error = %e, "the server's limits are not known yet");
        }
    }
    tracing::info!("printing to ipp://127.0.0.1:{port}{}", crate::ipp_endpoint::PATH);
    engine.serving_on(port);
    let printer = {
        let engine = engine.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::ipp_endpoint::serve(engine, listener, crate::local_spool::dir()).await {
                tracing::error!(error = %e, "the local printer stopped");
            }
        })
    };
    let queues = tokio::spawn(crate::cups::keep_queues_going(port));
    Ok(Services { tasks: vec![printer, queues], port })
}

impl Services {
    /// Once the engine has started: lends its login to the user's other front ends
    /// ([`crate::agent`]), reports the offline journal whenever the server is
    /// reachable ([`Engine::run_journal`]), and follows the jobs of monitored local
    /// queues ([`Engine::run_local`]).
    pub fn after_start(&mut self, engine: &Engine) {
        let agent = engine.clone();
        self.tasks.push(tokio::spawn(async move {
            if let Err(e) = crate::agent::serve(agent).await {
                tracing::warn!(error = %e, "cannot lend the login to other front ends; they refresh it themselves");
            }
        }));
        let journal = engine.clone();
        self.tasks.push(tokio::spawn(async move { journal.run_journal().await }));
        let local = engine.clone();
        self.tasks.push(tokio::spawn(async move { local.run_local().await }));
    }
}

/// Jobs a previous run took from the spooler but did not deliver go on now.
pub fn resume(engine: &Engine) {
    crate::ipp_endpoint::resume_spooled(engine, &crate::local_spool::dir());
}
