//! The one error shape every API answer uses: a stable `code` a program branches on and
//! a `message` a person reads.

use serde::{Deserialize, Serialize};

/// Stable error codes. Never rename one: clients branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// No credentials were presented where they are needed.
    AuthRequired,
    /// The presented credentials (password, PIN, card, token) are wrong or unknown.
    AuthInvalid,
    /// Too many failed attempts: the identity or the source is locked for a while.
    AuthLocked,
    /// The login method is not enabled by the server's policy.
    MethodDisabled,
    /// The access or refresh token has expired.
    TokenExpired,
    /// The session was ended (logout, revocation, reuse of a rotated refresh token).
    SessionRevoked,
    /// The caller is identified but may not do this.
    Forbidden,
    /// The workstation is not enrolled (or its proof names an unknown workstation).
    WorkstationUnknown,
    /// The workstation's enrolment was revoked by an administrator.
    WorkstationRevoked,
    /// A workstation proof's signature does not verify.
    AssertionInvalid,
    /// A workstation proof is too old (or dated in the future).
    AssertionExpired,
    /// A workstation proof was already used once.
    AssertionReplayed,
    /// The enrolment code is unknown, used or expired.
    EnrolmentCodeInvalid,
    /// The requested remember-me duration is not offered by the policy.
    RememberInvalid,
    /// The PIN breaks the policy (length, digits only).
    PinInvalid,
    /// The PIN (or card) already belongs to another user.
    SecretTaken,
    /// The document cannot be read (a broken or unsupported file).
    DocumentInvalid,
    /// Not enough credit for the job.
    CreditInsufficient,
    /// The quota the job would use is exhausted.
    QuotaExceeded,
    /// The server cannot keep the document now: its disk is full, or the user's jobs
    /// waiting there already take all the room they may. Nothing already accepted is lost.
    SpoolFull,
    /// The thing named does not exist.
    NotFound,
    /// It exists already, or the change conflicts with the current state.
    Conflict,
    /// The request is malformed or a field is out of range.
    InvalidInput,
    /// The server cannot do it now: its database or its document store did not answer in
    /// time (overloaded, or down). Nothing was done; the same request can be sent again
    /// (`Retry-After` says when), here or to another instance.
    Unavailable,
    /// Something failed on the server; details are in its log, not here.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AuthRequired => "AUTH_REQUIRED",
            ErrorCode::AuthInvalid => "AUTH_INVALID",
            ErrorCode::AuthLocked => "AUTH_LOCKED",
            ErrorCode::MethodDisabled => "METHOD_DISABLED",
            ErrorCode::TokenExpired => "TOKEN_EXPIRED",
            ErrorCode::SessionRevoked => "SESSION_REVOKED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::WorkstationUnknown => "WORKSTATION_UNKNOWN",
            ErrorCode::WorkstationRevoked => "WORKSTATION_REVOKED",
            ErrorCode::AssertionInvalid => "ASSERTION_INVALID",
            ErrorCode::AssertionExpired => "ASSERTION_EXPIRED",
            ErrorCode::AssertionReplayed => "ASSERTION_REPLAYED",
            ErrorCode::EnrolmentCodeInvalid => "ENROLMENT_CODE_INVALID",
            ErrorCode::RememberInvalid => "REMEMBER_INVALID",
            ErrorCode::PinInvalid => "PIN_INVALID",
            ErrorCode::SecretTaken => "SECRET_TAKEN",
            ErrorCode::DocumentInvalid => "DOCUMENT_INVALID",
            ErrorCode::CreditInsufficient => "CREDIT_INSUFFICIENT",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::SpoolFull => "SPOOL_FULL",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::InvalidInput => "INVALID_INPUT",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Body of every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// For `AUTH_LOCKED`: when the lock ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at_ms: Option<i64>,
    /// For `CREDIT_INSUFFICIENT` and `QUOTA_EXCEEDED`: the figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortfall: Option<Shortfall>,
}

/// Why a job cannot be paid for: what it needs against what is available, in cents for
/// credit and money quotas, in pages for page quotas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Shortfall {
    pub needed: i64,
    /// What is left: the balance (or the quota's limit less its use) less `reserved`.
    pub available: i64,
    /// Held by the user's other jobs that may still print.
    pub reserved: i64,
    /// The quota concerned; none for credit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_stable_names() {
        for code in [
            ErrorCode::AuthInvalid,
            ErrorCode::AuthLocked,
            ErrorCode::TokenExpired,
            ErrorCode::Forbidden,
            ErrorCode::EnrolmentCodeInvalid,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
    }
}
