//! The local spool: documents printed to this workstation, waiting encrypted in `spool/`
//! of the cache folder (0700) until the server has them, or a fallback printer printed
//! them. This module owns its files; each job is a set named after its client job id:
//! - `ID.part` while the spooler is still sending it (dropped at the next start: the
//!   spooler, told nothing, sends it again);
//! - `ID.spool`, the complete document (`ream_print::spool` frames), with `ID.json` its
//!   description (`JobSubmission`, which carries the id); both and the folder are
//!   flushed to disk before the spooler hears the job is complete;
//! - `ID.fallback`, once the user sent it to a fallback printer: how far that went (see
//!   the engine's offline module), so a restart goes on there and not to the server.

use std::path::{Path, PathBuf};

use ream_wire::JobSubmission;

/// Where documents printed to this client wait.
pub fn dir() -> PathBuf {
    crate::settings::cache_dir().join("spool")
}

/// A new job's document, in `dir`; its id is its file stem.
pub fn new_document(dir: &Path) -> PathBuf {
    dir.join(format!("{}.spool", uuid::Uuid::new_v4()))
}

/// The document while the spooler still sends it.
pub fn part_of(document: &Path) -> PathBuf {
    document.with_extension("part")
}

pub fn description_of(document: &Path) -> PathBuf {
    document.with_extension("json")
}

/// How far sending it to a fallback printer went.
pub fn fallback_of(document: &Path) -> PathBuf {
    document.with_extension("fallback")
}

/// Makes a completely written document (its `.part`) a job waiting at `document`, its
/// description beside it, and flushes both and the folder to disk: what the spooler
/// has handed over survives a crash.
pub async fn keep(submission: &JobSubmission, document: &Path) -> std::io::Result<()> {
    let description = serde_json::to_vec(submission).map_err(std::io::Error::other)?;
    let mut file = tokio::fs::File::create(description_of(document)).await?;
    tokio::io::AsyncWriteExt::write_all(&mut file, &description).await?;
    file.sync_all().await?;
    tokio::fs::rename(part_of(document), document).await?;
    if let Some(dir) = document.parent() {
        tokio::fs::File::open(dir).await?.sync_all().await?;
    }
    Ok(())
}

/// Drops a job's files: its document first (the rest means nothing without it).
pub async fn forget(document: &Path) {
    let _ = tokio::fs::remove_file(document).await;
    let _ = tokio::fs::remove_file(part_of(document)).await;
    let _ = tokio::fs::remove_file(description_of(document)).await;
    let _ = tokio::fs::remove_file(fallback_of(document)).await;
}

/// The jobs waiting in `dir`, each with its description, after dropping what a stopped
/// client left half-written and the leftovers of documents already gone.
pub fn waiting(dir: &Path) -> Vec<(JobSubmission, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut jobs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("part") => {
                tracing::info!(file = %path.display(), "dropping a half-written job");
                let _ = std::fs::remove_file(&path);
            }
            Some("spool") => {
                let description = std::fs::read(description_of(&path))
                    .ok()
                    .and_then(|d| serde_json::from_slice::<JobSubmission>(&d).ok());
                match description {
                    Some(submission) => jobs.push((submission, path)),
                    None => {
                        tracing::warn!(file = %path.display(), "dropping a spooled job without its description");
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
            Some("json" | "fallback") if !path.with_extension("spool").exists() => {
                let _ = std::fs::remove_file(&path);
            }
            // A replacement a crash cut short: the file it was to replace stands.
            Some("tmp") => {
                let _ = std::fs::remove_file(&path);
            }
            _ => {}
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_kept_job_waits_and_leftovers_go() {
        let dir = tempfile::tempdir().unwrap();
        let document = new_document(dir.path());
        std::fs::write(part_of(&document), b"ciphertext").unwrap();
        let submission = JobSubmission { name: "a.pdf".into(), copies: 1, ..JobSubmission::default() };
        keep(&submission, &document).await.unwrap();
        assert!(document.exists() && !part_of(&document).exists());
        // A half-written job and the leftovers of one already delivered.
        let half = new_document(dir.path());
        std::fs::write(part_of(&half), b"half").unwrap();
        let gone = new_document(dir.path());
        std::fs::write(description_of(&gone), b"{}").unwrap();
        std::fs::write(fallback_of(&gone), b"{}").unwrap();
        let found = waiting(dir.path());
        assert_eq!(found, [(submission, document.clone())]);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.path()).collect();
        assert_eq!(left.len(), 2, "the document and its description: {left:?}");
        forget(&document).await;
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
