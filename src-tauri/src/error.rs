//! The one shape every command error takes on its way to the webview (and over
//! [`crate::link`] from the client process to the window):
//! `{ code, message, details }`. `code` is the engine's stable code
//! ([`ClientError::code`]), which the UI branches on; `message` is for people;
//! `details` carries what acting on it needs (a certificate fingerprint to confirm, when
//! a lock ends). Never a bare string.

use ream_client::ClientError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandError {
    pub code: String,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

impl CommandError {
    /// An error of the desktop shell itself (a command it does not know, arguments it
    /// cannot read, the client gone), with no details.
    pub fn new(code: &str, message: impl Into<String>) -> CommandError {
        CommandError { code: code.to_string(), message: message.into(), details: None }
    }
}

impl From<ClientError> for CommandError {
    fn from(e: ClientError) -> Self {
        CommandError { code: e.code().to_string(), message: e.to_string(), details: e.details() }
    }
}

pub type CommandResult<T> = Result<T, CommandError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_reach_the_webview_as_code_message_details() {
        let e = CommandError::from(ClientError::CertificateUnconfirmed { fingerprint: "AB:CD".into() });
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({
                "code": "CERTIFICATE_UNTRUSTED",
                "message": e.message,
                "details": { "fingerprint": "AB:CD" },
            })
        );
        let e = serde_json::to_value(CommandError::from(ClientError::NotLoggedIn)).unwrap();
        assert_eq!(
            e,
            serde_json::json!({ "code": "NOT_LOGGED_IN", "message": "nobody is logged in", "details": null })
        );
    }
}
