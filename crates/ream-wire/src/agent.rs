//! The session agent: how a second front end of the same workstation user (`ream jobs`
//! while `ream run` or the desktop app runs) uses the login of the running client
//! instead of spending its refresh token too. One JSON line each way over the client's
//! Unix socket; only the client that holds the login ever refreshes it.

use serde::{Deserialize, Serialize};

use crate::{LoginMethod, SessionTokens, UserSummary};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AgentRequest {
    /// A usable access token of the running client's login, for this server.
    Session { server: String },
    /// A login made by another front end: the running client takes it over (and the
    /// front end that made it forgets its refresh token).
    Adopt { server: String, tokens: SessionTokens },
    /// Log out the running client.
    Logout { server: String },
    /// The jobs the running client offers for fallback printing now.
    FallbackOffers,
    /// Answers the running client's fallback offer for a job.
    Fallback { job: String, answer: crate::FallbackAnswer },
    /// Ream's CUPS backend (root) asks whether a job on a monitored local queue may print.
    LocalPrint(crate::LocalPrintAsk),
    /// Ream's CUPS backend (root) asks where this user's local printer listens, to hand
    /// it the user's job from a queue shared by everyone on the computer.
    PrinterPort,
    /// The app launched again while it runs: the running client opens its window (a
    /// client without one, `ream run`, refuses).
    OpenWindow,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum AgentReply {
    /// The login lent: an access token, never the refresh token.
    Session(LentSession),
    Done,
    Offers {
        offers: Vec<crate::FallbackOffer>,
    },
    Local(crate::LocalVerdict),
    /// The loopback port this user's local printer listens on.
    Printer {
        port: u16,
    },
    /// The running client could not do it; `code` is a client error code
    /// (`NOT_LOGGED_IN`, `SERVER_UNREACHABLE`, a server code…).
    Refused {
        code: String,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LentSession {
    pub user: UserSummary,
    pub method: LoginMethod,
    pub remember: Option<String>,
    pub session_ends_at_ms: Option<i64>,
    pub access_token: String,
    pub access_expires_at_ms: i64,
}
