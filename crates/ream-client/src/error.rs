//! The engine's errors. Each has a stable code (`code()`) a front end branches on;
//! server refusals keep the server's own code.

use ream_wire::{ApiError, ClientErrorCode, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no server is configured: run `ream connect --server URL` first")]
    NotConfigured,
    #[error("the server cannot be reached: {0}")]
    Unreachable(String),
    /// The connection broke after a request was sent and before its answer: the server
    /// may have acted on it (a job submitted may be there).
    #[error("the server did not answer: {0}")]
    AnswerLost(String),
    /// The server cannot be reached and the job's queue does not print meanwhile.
    #[error("{0}")]
    OfflineRefused(String),
    /// The user cancelled the job.
    #[error("cancelled")]
    Cancelled,
    #[error(
        "the server presented a different certificate (SHA-256 {presented}) than the one trusted \
         (SHA-256 {pinned}); refusing to connect. If the administrator replaced it, connect again \
         to review the new one."
    )]
    CertificateChanged { pinned: String, presented: String },
    #[error("the server's certificate is not trusted: {0}")]
    CertificateUntrusted(String),
    #[error("the certificate was not accepted")]
    Declined,
    /// A front end that shows fingerprints itself connected without naming this one (or
    /// named another): ask the user about `fingerprint`, then connect again with it.
    #[error(
        "the server's certificate (SHA-256 {fingerprint}) is not trusted: confirm this fingerprint \
         with the administrator to connect"
    )]
    CertificateUnconfirmed { fingerprint: String },
    #[error("this workstation is not enrolled with the server: run `ream enroll` with the code an administrator gives")]
    NotEnrolled,
    #[error("nobody is logged in")]
    NotLoggedIn,
    #[error("{}", .0.message)]
    Server(ApiError),
    #[error("the OS keyring failed: {0}")]
    Keyring(String),
    #[error("{0}")]
    Config(String),
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

impl ClientError {
    /// Stable code for front ends: the server's code for its refusals, else the client's.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::Server(e) => e.code.as_str(),
            other => other.client_code().expect("not a server refusal").as_str(),
        }
    }

    /// The client's own code; none for a server's refusal.
    pub fn client_code(&self) -> Option<ClientErrorCode> {
        Some(match self {
            ClientError::NotConfigured => ClientErrorCode::NotConfigured,
            ClientError::Unreachable(_) | ClientError::AnswerLost(_) => ClientErrorCode::ServerUnreachable,
            ClientError::CertificateChanged { .. } => ClientErrorCode::CertificateChanged,
            ClientError::CertificateUntrusted(_) | ClientError::CertificateUnconfirmed { .. } => {
                ClientErrorCode::CertificateUntrusted
            }
            ClientError::Declined => ClientErrorCode::Declined,
            ClientError::NotEnrolled => ClientErrorCode::NotEnrolled,
            ClientError::NotLoggedIn => ClientErrorCode::NotLoggedIn,
            ClientError::Server(_) => return None,
            ClientError::Keyring(_) => ClientErrorCode::Keyring,
            ClientError::Config(_) => ClientErrorCode::Config,
            ClientError::Protocol(_) => ClientErrorCode::Protocol,
            ClientError::OfflineRefused(_) => ClientErrorCode::OfflineRefused,
            ClientError::Cancelled => ClientErrorCode::Cancelled,
        })
    }

    /// A failure that may go away by itself (the server unreachable, failing inside, or
    /// answering something that is not Ream): worth trying again later, never a reason to
    /// drop a document.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable(_) | ClientError::AnswerLost(_) | ClientError::Protocol(_) => true,
            // The server's disk fills and empties; the user's held jobs print or expire.
            ClientError::Server(e) => {
                matches!(e.code, ErrorCode::Internal | ErrorCode::SpoolFull | ErrorCode::Unavailable)
            }
            _ => false,
        }
    }

    /// The session is gone: a login would let the call succeed.
    pub fn needs_login(&self) -> bool {
        match self {
            ClientError::NotLoggedIn => true,
            ClientError::Server(e) => {
                matches!(
                    e.code,
                    ErrorCode::AuthRequired | ErrorCode::TokenExpired | ErrorCode::SessionRevoked
                )
            }
            _ => false,
        }
    }

    /// What a front end needs beyond the code and message to act on the error: the
    /// fingerprint to confirm, the certificates that differ, when a lock ends.
    pub fn details(&self) -> Option<serde_json::Value> {
        match self {
            ClientError::CertificateUnconfirmed { fingerprint } => {
                Some(serde_json::json!({ "fingerprint": fingerprint }))
            }
            ClientError::CertificateChanged { pinned, presented } => {
                Some(serde_json::json!({ "pinned": pinned, "presented": presented }))
            }
            ClientError::Server(e) => match (&e.retry_at_ms, &e.shortfall) {
                (Some(t), _) => Some(serde_json::json!({ "retry_at_ms": t })),
                (None, Some(s)) => serde_json::to_value(s).ok(),
                (None, None) => None,
            },
            _ => None,
        }
    }

    pub fn server_code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server(e) => Some(e.code),
            _ => None,
        }
    }

    /// The session is over on the server: log out locally.
    pub fn ends_session(&self) -> bool {
        matches!(
            self.server_code(),
            Some(
                ErrorCode::SessionRevoked
                    | ErrorCode::AuthInvalid
                    | ErrorCode::TokenExpired
                    | ErrorCode::Forbidden
            )
        )
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_codes_are_the_wires_enum() {
        for code in ClientErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str(), "the TypeScript binding says what the engine sends");
        }
        assert_eq!(ClientError::OfflineRefused("x".into()).code(), "OFFLINE_REFUSED");
        assert_eq!(ClientError::AnswerLost("x".into()).code(), "SERVER_UNREACHABLE");
    }

    #[test]
    fn details_carry_what_the_user_acts_on() {
        let unconfirmed = ClientError::CertificateUnconfirmed { fingerprint: "AB:CD".into() };
        assert_eq!(unconfirmed.code(), "CERTIFICATE_UNTRUSTED");
        assert_eq!(unconfirmed.details(), Some(serde_json::json!({ "fingerprint": "AB:CD" })));
        let locked = ClientError::Server(ApiError {
            code: ErrorCode::AuthLocked,
            message: "locked".into(),
            retry_at_ms: Some(42),
            shortfall: None,
        });
        assert_eq!(
            (locked.code(), locked.details()),
            ("AUTH_LOCKED", Some(serde_json::json!({ "retry_at_ms": 42 })))
        );
        let short = ClientError::Server(ApiError {
            code: ErrorCode::CreditInsufficient,
            message: "short".into(),
            retry_at_ms: None,
            shortfall: Some(ream_wire::Shortfall { needed: 35, available: 15, reserved: 35, quota: None }),
        });
        assert_eq!(
            short.details(),
            Some(serde_json::json!({ "needed": 35, "available": 15, "reserved": 35 }))
        );
        assert_eq!(ClientError::NotLoggedIn.details(), None);
    }
}
