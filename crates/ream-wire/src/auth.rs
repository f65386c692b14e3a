//! Identification: the login policy, the login methods, sessions and workstation proofs.

use serde::{Deserialize, Serialize};

/// A way of identifying a user. Which ones a server accepts is its policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LoginMethod {
    /// Pick an account from the directory (enrolled workstations only).
    UserList,
    /// A PIN alone identifies the user.
    Pin,
    /// A card number alone identifies the user.
    Card,
    /// A card number, confirmed by the card owner's PIN.
    CardPin,
    /// Username and password.
    Password,
    /// The OS account logged in on an enrolled workstation, vouched for by its key.
    Sso,
}

impl LoginMethod {
    pub const ALL: [LoginMethod; 6] = [
        LoginMethod::UserList,
        LoginMethod::Pin,
        LoginMethod::Card,
        LoginMethod::CardPin,
        LoginMethod::Password,
        LoginMethod::Sso,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::UserList => "user_list",
            LoginMethod::Pin => "pin",
            LoginMethod::Card => "card",
            LoginMethod::CardPin => "card_pin",
            LoginMethod::Password => "password",
            LoginMethod::Sso => "sso",
        }
    }

    pub fn parse(s: &str) -> Option<LoginMethod> {
        LoginMethod::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// One remember-me choice offered at login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RememberOption {
    /// Stable identifier sent back in [`LoginRequest::remember`], e.g. `"8h"`.
    pub id: String,
    /// English label; clients translate by `id` where they can.
    pub label: String,
    /// How long the login lasts; `None` means "always" (until logout).
    pub seconds: Option<i64>,
}

/// What the server allows; public, read before login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginPolicy {
    pub methods: Vec<LoginMethod>,
    pub remember_options: Vec<RememberOption>,
    pub pin_min_length: u8,
    pub pin_max_length: u8,
    /// Length of PINs the server generates.
    pub pin_generated_length: u8,
    pub server_name: String,
    pub currency: String,
}

/// The secret (or proof) a login presents, by method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Credentials {
    UserList { proof: WorkstationProof },
    Pin { pin: String },
    Card { card: String },
    CardPin { card: String, pin: String },
    Password { username: String, password: String },
    Sso { proof: WorkstationProof },
}

impl Credentials {
    pub fn method(&self) -> LoginMethod {
        match self {
            Credentials::UserList { .. } => LoginMethod::UserList,
            Credentials::Pin { .. } => LoginMethod::Pin,
            Credentials::Card { .. } => LoginMethod::Card,
            Credentials::CardPin { .. } => LoginMethod::CardPin,
            Credentials::Password { .. } => LoginMethod::Password,
            Credentials::Sso { .. } => LoginMethod::Sso,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub credentials: Credentials,
    /// A [`RememberOption::id`] from the policy; absent means "this session only".
    #[serde(default)]
    pub remember: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserSummary {
    pub username: String,
    pub full_name: String,
}

/// A session's tokens. The refresh token is the long-lived secret: a client that was
/// asked to remember the login keeps it in the OS keyring, never in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionTokens {
    pub session_id: String,
    pub method: LoginMethod,
    pub user: UserSummary,
    pub access_token: String,
    pub access_expires_at_ms: i64,
    /// Rotated on every refresh: each one works once.
    pub refresh_token: String,
    /// `None` with `remember = "always"`: valid until logout.
    pub refresh_expires_at_ms: Option<i64>,
    /// The remember-me choice, or `None` for a session-only login.
    pub remember: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// One entry of the user directory shown by the user-list login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DirectoryEntry {
    pub username: String,
    pub full_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DirectoryPage {
    pub users: Vec<DirectoryEntry>,
}

/// What a workstation proof vouches for. Part of the signed bytes, so a proof made for
/// one purpose cannot be used for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProofPurpose {
    /// "The OS user `subject` is logged in on me."
    Sso,
    /// "The person at me picked `subject` from the user list."
    UserList,
    /// "Show me the directory" (`subject` is the search text).
    Directory,
}

impl ProofPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            ProofPurpose::Sso => "sso",
            ProofPurpose::UserList => "user_list",
            ProofPurpose::Directory => "directory",
        }
    }
}

/// A statement signed with an enrolled workstation's Ed25519 key. Valid for a short
/// time around `issued_at_ms`, and only once (`nonce`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkstationProof {
    pub workstation_id: String,
    pub purpose: ProofPurpose,
    pub subject: String,
    pub issued_at_ms: i64,
    /// Random, at least 16 characters.
    pub nonce: String,
    /// Base64 (standard, padded) Ed25519 signature over [`WorkstationProof::signed_bytes`].
    pub signature: String,
}

impl WorkstationProof {
    /// The exact bytes the workstation signs and the server verifies. Fields are joined
    /// by newlines after a domain tag; none of them may contain a newline, which the
    /// server checks, so no two different proofs share their bytes.
    pub fn signed_bytes(
        workstation_id: &str,
        purpose: ProofPurpose,
        subject: &str,
        issued_at_ms: i64,
        nonce: &str,
    ) -> Vec<u8> {
        format!(
            "ream-workstation-proof-v1\n{workstation_id}\n{}\n{subject}\n{issued_at_ms}\n{nonce}",
            purpose.as_str()
        )
        .into_bytes()
    }

    pub fn bytes_to_verify(&self) -> Vec<u8> {
        Self::signed_bytes(&self.workstation_id, self.purpose, &self.subject, self.issued_at_ms, &self.nonce)
    }
}

/// Header carrying a JSON [`WorkstationProof`] on requests that need one outside a body
/// (the directory listing).
pub const WORKSTATION_PROOF_HEADER: &str = "x-ream-workstation-proof";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrolRequest {
    /// The one-time code an administrator created.
    pub code: String,
    /// A name for the workstation, usually its host name.
    pub name: String,
    /// Base64 (standard, padded) Ed25519 public key, 32 bytes.
    pub public_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrolResponse {
    pub workstation_id: String,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_methods_round_trip_by_name() {
        for m in LoginMethod::ALL {
            assert_eq!(LoginMethod::parse(m.as_str()), Some(m));
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{}\"", m.as_str()));
        }
        assert_eq!(LoginMethod::parse("magic"), None);
    }

    #[test]
    fn credentials_are_tagged_by_method() {
        let json = r#"{"credentials":{"method":"card_pin","card":"04A1","pin":"1234"},"remember":"8h"}"#;
        let req: LoginRequest = serde_json::from_str(json).unwrap();
        assert_eq!(req.credentials.method(), LoginMethod::CardPin);
        assert_eq!(req.remember.as_deref(), Some("8h"));
    }

    #[test]
    fn signed_bytes_bind_every_field() {
        let base = WorkstationProof::signed_bytes("ws", ProofPurpose::Sso, "alice", 1, "n");
        for other in [
            WorkstationProof::signed_bytes("ws2", ProofPurpose::Sso, "alice", 1, "n"),
            WorkstationProof::signed_bytes("ws", ProofPurpose::UserList, "alice", 1, "n"),
            WorkstationProof::signed_bytes("ws", ProofPurpose::Sso, "bob", 1, "n"),
            WorkstationProof::signed_bytes("ws", ProofPurpose::Sso, "alice", 2, "n"),
            WorkstationProof::signed_bytes("ws", ProofPurpose::Sso, "alice", 1, "m"),
        ] {
            assert_ne!(base, other);
        }
    }
}
