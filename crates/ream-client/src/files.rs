//! Files the client must not lose or find half-written: replaced whole, atomically.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where `path` is written before it replaces the file: `NAME.PID.tmp` beside it, so
/// that two front ends of the user writing the same file at once never mix their bytes.
pub fn temporary_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// A file in the cache folder named after `server` (hashed): `PREFIX-ID.json`.
pub fn per_server(prefix: &str, server: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let id = hex::encode(&Sha256::digest(server.as_bytes())[..8]);
    crate::settings::cache_dir().join(format!("{prefix}-{id}.json"))
}

/// Replaces `path` with `bytes` (mode 0600), flushed to disk, and the folder too: after a
/// crash the file is the old one or the new one, never a mix.
pub fn replace_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temporary_of(path);
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_file_is_replaced_whole_and_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        super::replace_synced(&path, b"one").unwrap();
        super::replace_synced(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary left");
    }
}
