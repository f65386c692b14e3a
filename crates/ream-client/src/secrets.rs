//! Secrets the client keeps between runs, in the OS keyring (Secret Service on Linux):
//! the workstation's private key and a remembered login's refresh token. Never in a file.

use serde::{Deserialize, Serialize};

use crate::error::{ClientError, Result};

/// The keyring's service name for every Ream entry.
pub const SERVICE: &str = "ream";

pub trait SecretStore: Send + Sync + 'static {
    fn get(&self, name: &str) -> Result<Option<String>>;
    fn set(&self, name: &str, value: &str) -> Result<()>;
    /// Deleting what does not exist is not an error.
    fn delete(&self, name: &str) -> Result<()>;
}

/// The OS keyring, through the `keyring` crate.
#[derive(Debug, Default)]
pub struct Keyring;

fn entry(name: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, name).map_err(|e| ClientError::Keyring(e.to_string()))
}

impl SecretStore for Keyring {
    fn get(&self, name: &str) -> Result<Option<String>> {
        match entry(name)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(ClientError::Keyring(e.to_string())),
        }
    }

    fn set(&self, name: &str, value: &str) -> Result<()> {
        entry(name)?.set_password(value).map_err(|e| ClientError::Keyring(e.to_string()))
    }

    fn delete(&self, name: &str) -> Result<()> {
        match entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(ClientError::Keyring(e.to_string())),
        }
    }
}

/// The keyring entry names, per server (a workstation may know several servers).
pub fn workstation_key_entry(server: &str) -> String {
    format!("workstation-key {server}")
}

pub fn session_entry(server: &str) -> String {
    format!("session {server}")
}

/// A remembered login as kept in the keyring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RememberedSession {
    pub refresh_token: String,
    /// `None`: remembered "always".
    pub expires_at_ms: Option<i64>,
    pub remember: String,
    pub username: String,
    #[serde(default)]
    pub method: Option<ream_wire::LoginMethod>,
}
