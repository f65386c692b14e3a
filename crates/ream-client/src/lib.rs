//! Ream's client engine: everything the desktop app and the headless `ream` client do,
//! without any user interface.
//!
//! Invariants: no dependency on Tauri or any UI toolkit; front ends talk to
//! [`Engine`] only (its async calls, its [`ream_wire::ClientStatus`] and
//! [`ream_wire::ClientEvent`]s); secrets go to a [`secrets::SecretStore`] (the OS
//! keyring in production), never to files.

pub mod agent;
pub mod api;
pub mod cups;
pub mod engine;
pub mod error;
pub mod files;
pub mod held;
pub mod instance;
pub mod ipp_endpoint;
pub mod ipp_jobs;
pub mod journal;
pub mod local_spool;
pub mod monitor;
pub mod notices;
pub mod offline;
pub mod peer;
pub mod refusals;
pub mod secrets;
pub mod services;
pub mod settings;
pub mod tls;
pub mod workstation;

pub use engine::{Connected, Engine, Started};
pub use error::{ClientError, Result};
pub use ream_wire::LoginInput;
pub use settings::Settings;

/// A named point of a multi-step operation (fallback printing) where a test makes the
/// process die as SIGKILL would, with nothing flushed or cleaned up: `REAM_CRASH_AT`
/// names the point. Nothing happens otherwise.
pub fn crash_point(name: &str) {
    if std::env::var_os("REAM_CRASH_AT").is_some_and(|at| at == name) {
        tracing::warn!(point = name, "dying here, as REAM_CRASH_AT asks");
        // SAFETY: kill on our own pid has no preconditions; SIGKILL does not return.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
