//! What the client engine tells its front ends (the desktop app's webview, the headless
//! client's terminal): its status and its events.

use serde::{Deserialize, Serialize};

use crate::{AccountView, LoginMethod, UserSummary};

/// The link to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Connection {
    /// No server configured yet.
    NotConfigured,
    Connecting,
    Online,
    /// The server cannot be reached; the engine keeps trying.
    Offline {
        since_ms: i64,
        reason: String,
    },
}

/// Everything a front end shows about the client, in one value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientStatus {
    pub server: Option<String>,
    pub connection: Connection,
    /// The identified user, if any.
    pub user: Option<UserSummary>,
    pub method: Option<LoginMethod>,
    /// The remember-me choice of the current login (`None`: this session only).
    pub remember: Option<String>,
    /// When the login ends by itself (`None` with a user: only by logout).
    pub session_ends_at_ms: Option<i64>,
    /// The last account state received.
    pub account: Option<AccountView>,
    /// True when `account` may be out of date (the server is unreachable).
    pub account_stale: bool,
    /// When `account` was received.
    pub account_as_of_ms: Option<i64>,
    pub workstation_id: Option<String>,
}

/// Something happened that a front end may want to show or act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    /// The status changed (any field).
    Status {
        status: Box<ClientStatus>,
    },
    /// Nobody is identified and something needs a user: ask for a login.
    LoginRequired {
        reason: String,
        /// The methods to offer; empty means any the server enables.
        #[serde(default)]
        methods: Vec<crate::LoginMethod>,
        /// The print job waiting for this login, if one is.
        #[serde(default)]
        job: Option<String>,
    },
    /// The user was logged out (by logout, expiry of the remember-me period, or the server).
    LoggedOut {
        reason: String,
    },
    ServerUnreachable {
        reason: String,
    },
    ServerBack,
    /// A document printed to this workstation reached the server as this job.
    JobSubmitted {
        job: crate::Job,
    },
    /// A document printed to this workstation could not be submitted.
    JobRefused {
        name: String,
        reason: String,
    },
    /// One of the user's jobs changed state on the server (printed, failed, held…).
    JobChanged {
        job: crate::Job,
    },
    /// A job waits for the user's choices: show its dialog, answer with `answer_job`.
    JobDialog {
        dialog: Box<crate::JobDialog>,
    },
}
