//! Jobs refused before the server made them (a damaged or password-protected document,
//! a login that never came, a server refusal of the submission): kept on the
//! workstation so that `ream jobs` and My jobs show them with their reason, beside the
//! server's jobs. A line of JSON each in `cache_dir/refused.jsonl` (0600), the newest
//! hundred; shown for a week, to the Ream user they were printed for (or anyone, when
//! nobody was identified then).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ream_wire::{Job, JobState};
use serde::{Deserialize, Serialize};

const KEPT: usize = 100;
const SHOWN_FOR_MS: i64 = 7 * 24 * 3_600 * 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub name: String,
    pub reason: String,
    pub code: String,
    pub queue: Option<String>,
    /// The Ream user it was printed for, when one was identified.
    pub user: Option<String>,
    pub at_ms: i64,
}

pub fn path() -> PathBuf {
    crate::settings::cache_dir().join("refused.jsonl")
}

/// Writes `refusal` down in `file` (the newest [`KEPT`] stay).
pub fn record(file: &Path, refusal: &Refusal) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut lines: Vec<String> =
        std::fs::read_to_string(file).unwrap_or_default().lines().map(str::to_string).collect();
    lines.push(serde_json::to_string(refusal).map_err(std::io::Error::other)?);
    let keep = &lines[lines.len().saturating_sub(KEPT)..];
    let tmp = file.with_extension(format!("tmp.{}", std::process::id()));
    let mut out =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    for line in keep {
        writeln!(out, "{line}")?;
    }
    out.sync_all()?;
    std::fs::rename(&tmp, file)
}

/// The refusals `user` may see, as jobs in the state `rejected`, newest first.
pub fn shown_to(file: &Path, user: &str, now_ms: i64) -> Vec<Job> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut jobs: Vec<Job> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Refusal>(l).ok())
        .filter(|r| r.user.as_deref().is_none_or(|u| u == user) && now_ms - r.at_ms < SHOWN_FOR_MS)
        .enumerate()
        .map(|(i, r)| Job {
            id: format!("refused-{}-{i}", r.at_ms),
            name: r.name,
            queue: r.queue.unwrap_or_default(),
            state: JobState::Rejected,
            reason: Some(format!("{} [{}]", r.reason, r.code)),
            pages: 0,
            copies: 1,
            colour: false,
            duplex: false,
            media: String::new(),
            price_cents: 0,
            printer: None,
            payment: None,
            project: None,
            created_at_ms: r.at_ms,
            updated_at_ms: r.at_ms,
            offline: false,
            local: false,
        })
        .collect();
    jobs.reverse();
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(name: &str, user: Option<&str>, at_ms: i64) -> Refusal {
        Refusal {
            name: name.into(),
            reason: "the PDF is password-protected".into(),
            code: "DOCUMENT_INVALID".into(),
            queue: None,
            user: user.map(str::to_string),
            at_ms,
        }
    }

    #[test]
    fn refusals_are_shown_to_their_user_newest_first_for_a_week() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ream/refused.jsonl");
        let now = 10 * SHOWN_FOR_MS;
        record(&file, &refusal("old.pdf", None, now - SHOWN_FOR_MS - 1)).unwrap();
        record(&file, &refusal("anyone.pdf", None, now - 2)).unwrap();
        record(&file, &refusal("bobs.pdf", Some("bob"), now - 1)).unwrap();
        record(&file, &refusal("alices.pdf", Some("alice"), now)).unwrap();
        let names = |user| shown_to(&file, user, now).into_iter().map(|j| j.name).collect::<Vec<_>>();
        assert_eq!(names("alice"), ["alices.pdf", "anyone.pdf"]);
        assert_eq!(names("bob"), ["bobs.pdf", "anyone.pdf"]);
        let job = &shown_to(&file, "alice", now)[0];
        assert_eq!(job.state, JobState::Rejected);
        assert_eq!(job.reason.as_deref(), Some("the PDF is password-protected [DOCUMENT_INVALID]"));
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn only_the_newest_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("refused.jsonl");
        for i in 0..KEPT as i64 + 5 {
            record(&file, &refusal(&format!("{i}.pdf"), None, i)).unwrap();
        }
        let shown = shown_to(&file, "alice", KEPT as i64 + 5);
        assert_eq!(shown.len(), KEPT);
        assert_eq!(shown[0].name, format!("{}.pdf", KEPT + 4));
    }
}
