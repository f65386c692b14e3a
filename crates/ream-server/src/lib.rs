//! Ream's print-management server as a library: the binary (`main.rs`) is a command
//! line over it, and tests drive its router directly or start the binary.
//!
//! Layers, each only calling the ones below it:
//! `api` (HTTP, OpenAPI) → `admin`, `auth`, `views` (rules) → `store` (SQL) ;
//! `push` follows the store for the WebSocket channel; `documents` keeps the spooled
//! documents (a folder or an object store); `server` wires them up.

pub mod admin;
pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod demo;
pub mod documents;
pub mod error;
pub mod printing;
pub mod proxies;
pub mod push;
pub mod script;
pub mod secrets;
pub mod server;
pub mod state;
pub mod store;
pub mod tls;
pub mod views;

/// A named point where a test makes the server die on the spot, nothing flushed or
/// answered (`REAM_CRASH_AT` names it): `job-made`, once a job is recorded and before the
/// client hears so. Nothing happens otherwise.
pub fn crash_point(name: &str) {
    if std::env::var_os("REAM_CRASH_AT").is_some_and(|at| at == name) {
        tracing::warn!(point = name, "dying here, as REAM_CRASH_AT asks");
        std::process::abort();
    }
}
