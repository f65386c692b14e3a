//! The commands the webview invokes, one module per domain. Each is one call to the
//! engine: no rule of its own lives here (a rule belongs in `ream-client`, tested there).
//! Names and arguments are the UI's contract; `build.rs` and `capabilities/main.json`
//! list the same names.

pub mod account;
pub mod jobs;
pub mod session;
pub mod settings;
