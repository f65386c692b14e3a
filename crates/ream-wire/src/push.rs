//! Messages the server pushes to a connected client over the session's WebSocket
//! (`GET /api/v1/me/events`). Each is one JSON text frame.

use serde::{Deserialize, Serialize};

use crate::AccountView;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PushEvent {
    /// Sent on connect and after every change to the account.
    Account { account: AccountView },
    /// One of the user's jobs changed state (accepted, waiting, held, printed, failed…).
    Job { job: crate::Job },
    /// A job whose document this client keeps (client spooling) was released: send it
    /// to `target` and report the outcome. Sent again each time the client connects
    /// until it reports.
    PrintHere { job: crate::Job, target: crate::PrintTarget },
    /// The session ended (logout elsewhere, revocation, expiry); the socket closes next.
    SessionEnded { reason: String },
}
