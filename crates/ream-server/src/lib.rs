//! Ream's print-management server as a library: the binary (`main.rs`) is a command
//! line over it, and tests drive its router directly or start the binary.
//!
//! Layers, each only calling the ones below it:
//! `api` (HTTP, OpenAPI) → `admin`, `auth`, `views` (rules) → `store` (SQL) ;
//! `push` follows the store for the WebSocket channel; `server` wires them up.

pub mod admin;
pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod demo;
pub mod error;
pub mod pricing;
pub mod printing;
pub mod push;
pub mod script;
pub mod secrets;
pub mod server;
pub mod state;
pub mod store;
pub mod tls;
pub mod views;
