//! One client per user: two engines on the same settings would fight over the local
//! printer's port and spool, and both spend the same remembered refresh token, which the
//! server takes for theft and answers by ending the session. A front end claims the
//! user's client at start and keeps the claim for as long as it runs.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::{ClientError, Result};

/// Held while this process is the user's client; released when dropped (or when the
/// process ends, however it ends: it is an OS file lock).
#[derive(Debug)]
pub struct Claim {
    _file: File,
}

/// Claims the user's client (`cache_dir()/client.lock`). `Ok(None)`: another process
/// holds it.
pub fn claim() -> Result<Option<Claim>> {
    claim_at(&crate::settings::cache_dir().join("client.lock"))
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
}
