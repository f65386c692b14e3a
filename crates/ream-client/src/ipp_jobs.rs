//! The local printer's IPP job ids, kept across runs of the client.
//!
//! CUPS' `ipp` backend follows a job by its id until the printer says it has ended, and
//! it follows it across a restart of the client. Two facts of that backend make the ids
//! matter (seen in the chaos run, read in `backend/ipp.c` and `cups/request.c`):
//! - a connection that breaks before the answer to Send-Document counts as success
//!   there (no error is recorded, the previous request's status stands), so a client
//!   killed while taking a document leaves CUPS believing it has it;
//! - when the printer answers Get-Job-Attributes with "not found", or with the state of
//!   another job that has the same id, CUPS takes the job as done and forgets it.
//!
//! So ids never repeat (a block of them is reserved on disk before any is handed out),
//! and every job whose document this client took is written down (flushed) before the
//! spooler hears so. Asked about an id of an earlier run, the client answers "completed"
//! for a job it took, and otherwise a job without a state: the backend then takes the
//! printer for non-conforming and stops the queue with the job still pending; the client
//! starts its queues again ([`crate::cups`]) and CUPS sends the job anew. Nothing CUPS
//! handed over is lost, and nothing is taken twice.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Ids reserved on disk at a time.
const BLOCK: i32 = 1_000;
/// Taken jobs remembered; older ones are forgotten (CUPS follows a job for minutes).
const TAKEN_KEPT: usize = 2_000;

/// What a job id means to this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Earlier {
    /// Not an earlier run's id (this run's, or never given out).
    No,
    /// An earlier run took its document.
    Taken,
    /// An earlier run gave the id out but never took the document.
    NotTaken,
}

#[derive(Debug)]
pub struct JobIds {
    dir: PathBuf,
    /// How many taken jobs are remembered ([`TAKEN_KEPT`]).
    kept: usize,
    /// The first id of this run: every smaller one is an earlier run's.
    first: i32,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    next: i32,
    reserved_until: i32,
    taken: HashSet<i32>,
    taken_order: Vec<i32>,
}

impl JobIds {
    /// The ids kept in `dir` (the client's cache folder).
    pub fn open(dir: &Path) -> std::io::Result<JobIds> {
        Self::open_keeping(dir, TAKEN_KEPT)
    }

    fn open_keeping(dir: &Path, kept: usize) -> std::io::Result<JobIds> {
        std::fs::create_dir_all(dir)?;
        let stored =
            std::fs::read_to_string(dir.join("ipp-next-job")).ok().and_then(|s| s.trim().parse::<i32>().ok());
        // Never below what time alone would give: a lost file does not bring ids back.
        let mut first = stored.unwrap_or(1).max(time_floor());
        if first > i32::MAX - 2 * BLOCK {
            first = 1;
        }
        let taken_order: Vec<i32> = std::fs::read_to_string(dir.join("ipp-taken-jobs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        let ids = JobIds {
            dir: dir.to_path_buf(),
            kept,
            first,
            state: Mutex::new(State {
                next: first,
                reserved_until: first,
                taken: taken_order.iter().copied().collect(),
                taken_order,
            }),
        };
        ids.reserve(&mut ids.state.lock().expect("lock"))?;
        Ok(ids)
    }

    fn reserve(&self, state: &mut State) -> std::io::Result<()> {
        let until = state.next + BLOCK;
        crate::files::replace_synced(&self.dir.join("ipp-next-job"), until.to_string().as_bytes())?;
        state.reserved_until = until;
        Ok(())
    }

    /// A new job id, never given out before.
    pub fn next(&self) -> std::io::Result<i32> {
        let mut state = self.state.lock().expect("lock");
        if state.next >= state.reserved_until {
            self.reserve(&mut state)?;
        }
        let id = state.next;
        state.next += 1;
        Ok(id)
    }

    /// Writes down (flushed) that this client has the document of job `id`.
    pub fn taken(&self, id: i32) -> std::io::Result<()> {
        let mut state = self.state.lock().expect("lock");
        state.taken.insert(id);
        state.taken_order.push(id);
        if state.taken_order.len() > self.kept {
            let from = state.taken_order.len() - self.kept / 2;
            let keep = state.taken_order.split_off(from);
            let text: String = keep.iter().map(|id| format!("{id}\n")).collect();
            crate::files::replace_synced(&self.dir.join("ipp-taken-jobs"), text.as_bytes())?;
            state.taken = keep.iter().copied().collect();
            state.taken_order = keep;
            return Ok(());
        }
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("ipp-taken-jobs"))?;
        file.write_all(format!("{id}\n").as_bytes())?;
        file.sync_all()
    }

    pub fn earlier(&self, id: i32) -> Earlier {
        if id <= 0 || id >= self.first {
            return Earlier::No;
        }
        if self.state.lock().expect("lock").taken.contains(&id) {
            Earlier::Taken
        } else {
            Earlier::NotTaken
        }
    }
}

/// The seconds since 2026: where ids start when nothing is stored.
fn time_floor() -> i32 {
    let since = crate::workstation::now_ms() / 1_000 - 1_767_225_600;
    i32::try_from(since.clamp(1, i64::from(i32::MAX / 2))).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_never_repeat_across_runs_and_taken_jobs_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let first_run = JobIds::open(dir.path()).unwrap();
        let a = first_run.next().unwrap();
        let b = first_run.next().unwrap();
        first_run.taken(a).unwrap();
        // Killed: the next run starts in the same second, with ids of its own.
        drop(first_run);
        let second_run = JobIds::open(dir.path()).unwrap();
        let c = second_run.next().unwrap();
        assert!(c > b, "{c} after {b}");
        assert_eq!(second_run.earlier(a), Earlier::Taken);
        assert_eq!(second_run.earlier(b), Earlier::NotTaken);
        assert_eq!(second_run.earlier(c), Earlier::No);
        // A whole block handed out: the next is reserved before it is given.
        let ids: Vec<i32> = (0..2 * BLOCK).map(|_| second_run.next().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
        let third_run = JobIds::open(dir.path()).unwrap();
        assert!(third_run.next().unwrap() > *ids.last().unwrap());
    }

    #[test]
    fn the_list_of_taken_jobs_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let ids = JobIds::open_keeping(dir.path(), 20).unwrap();
        let all: Vec<i32> = (0..30).map(|_| ids.next().unwrap()).collect();
        for id in &all {
            ids.taken(*id).unwrap();
        }
        let lines = std::fs::read_to_string(dir.path().join("ipp-taken-jobs")).unwrap().lines().count();
        assert!(lines <= 20, "{lines}");
        let reopened = JobIds::open_keeping(dir.path(), 20).unwrap();
        assert_eq!(reopened.earlier(*all.last().unwrap()), Earlier::Taken);
    }
}
