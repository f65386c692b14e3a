//! Client spooling: for a queue that spools on the client, the document stays on this
//! workstation (encrypted, in `held/` of the cache directory) and only its description
//! goes to the server. When its owner releases it, the server asks this client over the
//! push channel (`print_here`) to send it straight to the printer; the client reports
//! the outcome and drops the document. A released job waits while this client is off
//! and prints once it is back.
//!
//! The client is known to the server by its holder id, made once and kept beside the
//! documents: if they are lost, so is the id, and the server no longer asks for them.

use std::path::PathBuf;

use crate::settings::cache_dir;

pub fn held_dir() -> PathBuf {
    cache_dir().join("held")
}

/// Where the document of a held job waits.
pub fn document_of(job_id: &str) -> PathBuf {
    let safe: String = job_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    held_dir().join(format!("{safe}.spool"))
}

/// This client's holder id (made the first time).
pub fn holder_id() -> std::io::Result<String> {
    let path = held_dir().join("holder-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        _ => {
            std::fs::create_dir_all(held_dir())?;
            let id = uuid::Uuid::new_v4().to_string();
            std::fs::write(&path, &id)?;
            Ok(id)
        }
    }
}
