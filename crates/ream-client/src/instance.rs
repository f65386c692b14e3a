//! One client per user: two engines on the same settings would fight over the local
//! printer's port and spool, and both spend the same remembered refresh token, which the
//! server takes for theft and answers by ending the session. A front end claims the
//! user's client at start and keeps the claim for as long as it runs.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{ClientError, Result};

/// Held while this process is the user's client; released when dropped (or when the
/// process ends, however it ends: it is an OS file lock).
#[derive(Debug)]
pub struct Claim {
    _file: File,
}

/// How long a new client waits for the claim of one that is quitting: a user who quits
/// the app and starts it again at once meets the old process still tearing its window
/// down, not a second client.
pub const QUITTING_GRACE: Duration = Duration::from_secs(5);

/// Claims the user's client (`cache_dir()/client.lock`), waiting up to
/// [`QUITTING_GRACE`] for a client that is on its way out. `Ok(None)`: another process
/// holds it still.
pub fn claim() -> Result<Option<Claim>> {
    claim_within(&lock_path(), QUITTING_GRACE)
}

/// Claims the user's client if it is free now, without waiting.
pub fn try_claim() -> Result<Option<Claim>> {
    claim_at(&lock_path())
}

fn lock_path() -> std::path::PathBuf {
    crate::settings::cache_dir().join("client.lock")
}

/// Tries the claim until it is free or `patience` has passed.
pub fn claim_within(path: &Path, patience: Duration) -> Result<Option<Claim>> {
    let deadline = Instant::now() + patience;
    loop {
        match claim_at(path)? {
            Some(claim) => return Ok(Some(claim)),
            None if Instant::now() >= deadline => return Ok(None),
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

pub fn claim_at(path: &Path) -> Result<Option<Claim>> {
    let io = |e: std::io::Error| ClientError::Config(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Claim { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ream/client.lock");
        let first = claim_at(&path).unwrap();
        assert!(first.is_some());
        assert!(claim_at(&path).unwrap().is_none(), "a second claim while the first holds");
        drop(first);
        assert!(claim_at(&path).unwrap().is_some(), "free again once released");
    }

    #[test]
    fn a_new_client_waits_for_one_that_is_quitting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.lock");
        let quitting = claim_at(&path).unwrap().unwrap();
        let (released, release) = std::sync::mpsc::channel::<()>();
        let old = std::thread::spawn(move || {
            // The old client lets go only once the new one is already waiting.
            release.recv().unwrap();
            drop(quitting);
        });
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || claim_within(&path, Duration::from_secs(600)).unwrap())
        };
        released.send(()).unwrap();
        old.join().unwrap();
        let new = waiter.join().unwrap();
        assert!(new.is_some(), "the claim passes to the new client");
        assert!(claim_within(&path, Duration::ZERO).unwrap().is_none(), "which holds it");
    }
}
