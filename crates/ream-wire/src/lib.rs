//! Ream's wire schema.
//!
//! Every request, response, push event and error that crosses a process boundary
//! (client ⇄ server over HTTPS and WebSocket, later Rust ⇄ webview) is defined here and
//! nowhere else, so the server, the client engine and the UI cannot disagree on a field.
//!
//! Invariants: this crate holds data shapes and the canonical bytes of signed messages;
//! it performs no I/O, no cryptography and depends on nothing but `serde` (and `utoipa`
//! behind the `openapi` feature, for the server's generated API document). Times are
//! Unix milliseconds (`*_ms`), money is integer cents (`*_cents`).

pub mod account;
pub mod admin;
pub mod agent;
pub mod auth;
pub mod client;
pub mod error;
pub mod local;
pub mod offline;
pub mod print;
pub mod push;

pub use account::*;
pub use admin::*;
pub use agent::*;
pub use auth::*;
pub use client::*;
pub use error::*;
pub use local::*;
pub use offline::*;
pub use print::*;
pub use push::*;

#[cfg(test)]
mod bindings;

/// The version segment of every REST path (`/api/v1/...`).
pub const API_PREFIX: &str = "/api/v1";
