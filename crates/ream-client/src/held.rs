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

/// How far sending a held job to its printer went (see `ream_print::printer::send_once`),
/// beside its document: a client killed after the printer took the job, before the server
/// heard it printed, follows it there when asked again instead of printing it twice.
pub fn progress_of(job_id: &str) -> PathBuf {
    document_of(job_id).with_extension("sent")
}

pub fn read_progress(job_id: &str) -> ream_print::printer::Progress {
    let parsed = std::fs::read(progress_of(job_id))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let field = |name: &str| parsed.as_ref().and_then(|v| v[name].as_i64());
    ream_print::printer::Progress {
        printer_job_id: field("printer_job_id").map(|id| id as i32),
        floor: field("floor"),
    }
}

/// Keeps how far sending went, flushed to disk before the next step.
pub fn write_progress(job_id: &str, p: ream_print::printer::Progress) -> std::io::Result<()> {
    let json = serde_json::json!({ "printer_job_id": p.printer_job_id, "floor": p.floor });
    crate::files::replace_synced(&progress_of(job_id), json.to_string().as_bytes())
}

/// Drops a held job's document and what its sending noted.
pub async fn forget(job_id: &str) {
    let _ = tokio::fs::remove_file(document_of(job_id)).await;
    let _ = tokio::fs::remove_file(progress_of(job_id)).await;
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
