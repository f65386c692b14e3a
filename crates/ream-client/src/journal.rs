//! The offline journal: what this client printed while the server could not be reached,
//! kept until the server has acknowledged it.
//!
//! `journal/entries.jsonl` in the cache folder holds one [`JournalEntry`] per line,
//! appended and flushed to disk (fsync) before the job it tells of goes further: a job
//! entry before its document is sent, an outcome entry once the printer finished it.
//! Entries are numbered, chained by SHA-256 and signed with the workstation key, so the
//! server tells a forged, edited or shortened journal. `journal/acked` lists the ids the
//! server answered (accepted, duplicate or refused for good); once every entry is
//! acknowledged the file keeps only the newest, which the next entry chains to.
//!
//! A crash while a line was being written leaves a torn last line: it was never flushed,
//! so nothing was done on its strength; it is cut off before the next append.

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ream_wire::{JournalEntry, JournalRecord, OfflineJob, OfflineOutcome};
use sha2::{Digest, Sha256};

use crate::workstation::{now_ms, WorkstationKey};

/// The journal in `dir` (created 0700 on first use).
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

/// What the journal says of one job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobTrace {
    pub job: Option<OfflineJob>,
    pub outcome: Option<OfflineOutcome>,
    /// A monitored local queue's job printed offline.
    pub local: Option<ream_wire::OfflineLocalJob>,
}

/// The SHA-256 (hex) of an entry as signed, which the next entry's `prev` names.
pub fn hash(workstation_id: &str, entry: &JournalEntry) -> String {
    hex::encode(Sha256::digest(entry.signed_bytes(workstation_id)))
}

impl Journal {
    pub fn at(dir: impl Into<PathBuf>) -> Journal {
        Journal { dir: dir.into() }
    }

    /// This client's journal.
    pub fn here() -> Journal {
        Journal::at(crate::settings::cache_dir().join("journal"))
    }

    fn entries_path(&self) -> PathBuf {
        self.dir.join("entries.jsonl")
    }

    fn acked_path(&self) -> PathBuf {
        self.dir.join("acked")
    }

    /// Every entry in the file (the newest acknowledged one included), oldest first, and
    /// how many bytes of the file they fill (a torn last line excluded).
    fn read(&self) -> std::io::Result<(Vec<JournalEntry>, u64)> {
        let bytes = match std::fs::read(self.entries_path()) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(e),
        };
        let mut entries = Vec::new();
        let mut good = 0u64;
        let mut start = 0;
        while let Some(end) = bytes[start..].iter().position(|b| *b == b'\n').map(|p| start + p) {
            match serde_json::from_slice::<JournalEntry>(&bytes[start..end]) {
                Ok(entry) => entries.push(entry),
                Err(e) => {
                    // A whole line that does not read was not written by us: keep it out of
                    // what is sent, and say so.
                    tracing::warn!(error = %e, "an unreadable line in the offline journal");
                }
            }
            start = end + 1;
            good = start as u64;
        }
        Ok((entries, good))
    }

    fn acked(&self) -> std::io::Result<HashSet<String>> {
        match std::fs::read_to_string(self.acked_path()) {
            Ok(text) => Ok(text.lines().filter(|l| !l.is_empty()).map(str::to_string).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
            Err(e) => Err(e),
        }
    }

    fn ensure_dir(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
    }

    /// Appends `record`, signed by `key` and chained to the newest entry, and flushes it
    /// to disk before returning it.
    pub fn append(&self, key: &WorkstationKey, record: JournalRecord) -> std::io::Result<JournalEntry> {
        self.ensure_dir()?;
        let (entries, good) = self.read()?;
        let (seq, prev) = match entries.last() {
            Some(last) => (last.seq + 1, hash(key.id(), last)),
            None => (1, String::new()),
        };
        let mut entry = JournalEntry {
            id: uuid::Uuid::new_v4().to_string(),
            seq,
            prev,
            at_ms: now_ms(),
            record,
            signature: String::new(),
        };
        entry.signature = STANDARD.encode(key.sign(&entry.signed_bytes(key.id())));
        let mut line = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(false)
            .write(true)
            .truncate(false)
            .mode(0o600)
            .open(self.entries_path())?;
        // A torn line (a crash mid-write) goes before the next entry is written.
        file.set_len(good)?;
        use std::io::Seek;
        file.seek(std::io::SeekFrom::Start(good))?;
        file.write_all(&line)?;
        file.sync_all()?;
        if good == 0 {
            std::fs::File::open(&self.dir)?.sync_all()?;
        }
        Ok(entry)
    }

    /// The entries the server has not acknowledged, oldest first.
    pub fn pending(&self) -> std::io::Result<Vec<JournalEntry>> {
        let acked = self.acked()?;
        Ok(self.read()?.0.into_iter().filter(|e| !acked.contains(&e.id)).collect())
    }

    /// What the journal holds about the job `job` (acknowledged entries included, while
    /// they are still in the file).
    pub fn trace(&self, job: &str) -> std::io::Result<JobTrace> {
        let mut trace = JobTrace::default();
        for entry in self.read()?.0 {
            match entry.record {
                JournalRecord::Job(j) if j.job == job => trace.job = Some(j),
                JournalRecord::Outcome(o) if o.job == job => trace.outcome = Some(o),
                JournalRecord::Local(l) if l.job == job => trace.local = Some(l),
                _ => {}
            }
        }
        Ok(trace)
    }

    /// Notes that the server answered these entries; once all are, the file is cut down
    /// to its newest entry (kept for the chain).
    pub fn acknowledge(&self, ids: &[String]) -> std::io::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.ensure_dir()?;
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(self.acked_path())?;
        let mut text = ids.join("\n");
        text.push('\n');
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        let acked = self.acked()?;
        let (entries, _) = self.read()?;
        if entries.len() > 1 && entries.iter().all(|e| acked.contains(&e.id)) {
            let last = entries.last().expect("more than one");
            let mut line = serde_json::to_vec(last).map_err(std::io::Error::other)?;
            line.push(b'\n');
            crate::files::replace_synced(&self.entries_path(), &line)?;
            crate::files::replace_synced(&self.acked_path(), format!("{}\n", last.id).as_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> WorkstationKey {
        WorkstationKey::from_secret_b64(
            "ws-1".into(),
            &WorkstationKey::secret_b64(&WorkstationKey::generate()),
        )
        .unwrap()
    }

    fn job(id: &str) -> JournalRecord {
        JournalRecord::Job(OfflineJob {
            job: id.into(),
            user: "alice".into(),
            queue: "Direct".into(),
            name: "a.pdf".into(),
            printer: "fb".into(),
            printer_uri: "ipp://fb/ipp/print".into(),
            pages: 2,
            copies: 1,
            colour: false,
            duplex: false,
            media: "iso_a4_210x297mm".into(),
            unaccounted: false,
        })
    }

    fn outcome(id: &str) -> JournalRecord {
        JournalRecord::Outcome(OfflineOutcome {
            job: id.into(),
            printed: true,
            reason: None,
            printer_job_id: Some(3),
            impressions: None,
        })
    }

    #[test]
    fn entries_are_numbered_chained_and_signed() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(dir.path());
        let key = key();
        let first = journal.append(&key, job("a")).unwrap();
        let second = journal.append(&key, outcome("a")).unwrap();
        assert_eq!((first.seq, first.prev.as_str()), (1, ""));
        assert_eq!((second.seq, second.prev.clone()), (2, hash("ws-1", &first)));
        assert!(key.verifies(&second.signed_bytes("ws-1"), &second.signature));
        assert_eq!(journal.pending().unwrap(), [first.clone(), second.clone()]);
        let trace = journal.trace("a").unwrap();
        assert!(trace.job.is_some() && trace.outcome.is_some());
        assert_eq!(journal.trace("b").unwrap(), JobTrace::default());
        let mode = std::fs::metadata(dir.path().join("entries.jsonl")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn acknowledged_entries_leave_and_the_chain_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(dir.path());
        let key = key();
        let first = journal.append(&key, job("a")).unwrap();
        let second = journal.append(&key, outcome("a")).unwrap();
        journal.acknowledge(std::slice::from_ref(&first.id)).unwrap();
        assert_eq!(journal.pending().unwrap(), std::slice::from_ref(&second));
        journal.acknowledge(std::slice::from_ref(&second.id)).unwrap();
        assert!(journal.pending().unwrap().is_empty());
        // Only the newest stays in the file, for the next entry to chain to.
        let lines = std::fs::read_to_string(dir.path().join("entries.jsonl")).unwrap();
        assert_eq!(lines.lines().count(), 1);
        let third = journal.append(&key, job("b")).unwrap();
        assert_eq!((third.seq, third.prev.clone()), (3, hash("ws-1", &second)));
        assert_eq!(journal.pending().unwrap(), [third]);
    }

    #[test]
    fn a_torn_last_line_is_cut_off_before_the_next_entry() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::at(dir.path());
        let key = key();
        let first = journal.append(&key, job("a")).unwrap();
        // A crash in the middle of writing the second entry.
        let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join("entries.jsonl")).unwrap();
        f.write_all(br#"{"id":"torn","seq":2,"prev"#).unwrap();
        drop(f);
        assert_eq!(journal.pending().unwrap(), std::slice::from_ref(&first));
        let second = journal.append(&key, outcome("a")).unwrap();
        assert_eq!(second.seq, 2);
        assert_eq!(journal.pending().unwrap(), [first, second]);
    }
}
