//! Local print monitoring on the workstation: jobs on the computer's own CUPS queues (a
//! USB printer, a network printer added straight into CUPS) print only once Ream has
//! counted them and the server has priced, charged and granted them.
//!
//! The mechanism is a CUPS backend wrapper, because the backend is the one step every
//! job of a queue passes through, run by `cupsd` as root, out of the user's reach:
//! - `ream cups monitor` (root, once) rewrites each monitored queue's device URI from
//!   `socket://…` to `ream:/socket://…`, and keeps the real device in a root-only file
//!   ([`QueueSetup`], `/etc/ream/monitor/QUEUE.json`) with the server's grant key;
//!   `ream cups monitor --undo` puts the devices back.
//! - For each job CUPS runs `/usr/lib/cups/backend/ream` ([`backend`]): it counts the
//!   document's pages (the job's own spool files), hashes what goes to the device and
//!   asks the job owner's running client — found through [`Registry`], a socket the
//!   user's client registered and whose peer is checked to be that OS user — which asks
//!   the server. Only a grant signed by the server's key, naming the backend's nonce,
//!   hash and count, lets the real backend run. A user's own (even forged) client can ask,
//!   not forge; holding or not holding the job in CUPS (`job-hold-until=no-hold`), or
//!   stopping the client, changes nothing: without a grant the backend holds the job
//!   (CUPS' "held" state), and the owner's client releases it when it can decide.
//! - Whose job it is: CUPS believes the `requesting-user-name` a client gives unless the
//!   queue's policy asks for authentication. A monitored queue gets the operation policy
//!   [`setup::POLICY`], which does for creating jobs: a local `lp` is then authenticated
//!   by its socket's peer credentials (`PeerCred`, no password), so `lp -U someone-else`
//!   is still the sender's job, charged to the sender.
//! - Refused (not enough credit…): the backend cancels the job, telling CUPS why; the
//!   user's client tells the user.
//! - Offline: the server's signed terms ([`ream_wire::LocalTerms`]) say whether the job
//!   prints meanwhile; the client journals it, and reports it once when the server is back.
//!
//! The same backend routes the jobs of a Ream queue shared by everyone on the computer (a
//! terminal server, a lab; `ream cups install --shared`, see [`route`]): its device is
//! [`routed_device`], and each job goes to the local printer of its sender's own client,
//! never to another user's; with that client not running, the job waits, held, for it.

pub mod backend;
pub mod count;
pub mod route;
pub mod setup;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The scheme of a wrapped device URI, and the backend's name.
pub const SCHEME: &str = "ream";

/// Where Ream's files for monitoring live; `/` in production, a test's folder in unit tests.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths { root: PathBuf::from("/") }
    }
}

impl Paths {
    /// One root-only file per monitored queue.
    pub fn setup_dir(&self) -> PathBuf {
        self.root.join("etc/ream/monitor")
    }
    pub fn setup_file(&self, queue: &str) -> PathBuf {
        self.setup_dir().join(format!("{queue}.json"))
    }
    /// Where each OS user's running client says where its socket is (sticky, writable
    /// by all, listable by none but root).
    pub fn agents_dir(&self) -> PathBuf {
        self.root.join("var/lib/ream/agents")
    }
    /// The jobs the backend held, one file each, naming the owner: in `held/` for want of
    /// a decision, in `waiting/` for want of the sender's running client.
    pub fn held_dir(&self, wait: Wait) -> PathBuf {
        self.root.join(match wait {
            Wait::Decision => "var/lib/ream/held",
            Wait::Client => "var/lib/ream/waiting",
        })
    }
    pub fn backend(&self) -> PathBuf {
        self.root.join("usr/lib/cups/backend").join(SCHEME)
    }
    /// The scheduler's configuration, where the monitored queues' policy goes.
    pub fn cupsd_conf(&self) -> PathBuf {
        self.root.join("etc/cups/cupsd.conf")
    }
}

/// How a monitored queue was set up: its real device, and who decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSetup {
    pub queue: String,
    pub device_uri: String,
    pub server: String,
    /// Base64 Ed25519 public key of the server's grants.
    pub grant_key: String,
}

impl QueueSetup {
    pub fn read(paths: &Paths, queue: &str) -> std::io::Result<QueueSetup> {
        let text = std::fs::read(paths.setup_file(queue))?;
        serde_json::from_slice(&text).map_err(std::io::Error::other)
    }
}

/// The wrapped form of a device URI: `ream:/socket://printer:9100`.
pub fn wrap(device_uri: &str) -> String {
    format!("{SCHEME}:/{device_uri}")
}

/// The device a wrapped URI leads to; `None` for a URI that is not wrapped.
pub fn unwrap(uri: &str) -> Option<&str> {
    uri.strip_prefix(SCHEME)?.strip_prefix(":/")
}

/// The device of a queue shared by everyone on the computer whose jobs go to their
/// sender's own client: `ream:/client/ipp/print`, or `…/ipp/print/QUEUE` for a server queue.
pub fn routed_device(queue: Option<&str>) -> String {
    wrap(&format!("client{}", crate::ipp_endpoint::printer_path(queue)))
}

/// The local printer path a routed device leads to; `None` for any other device.
pub fn routed_path(device_uri: &str) -> Option<&str> {
    unwrap(device_uri)?.strip_prefix("client").filter(|path| path.starts_with('/'))
}

/// What a held job waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// A decision of its owner's client (a monitored queue's job).
    Decision,
    /// Its sender's client to run (a shared queue's job).
    Client,
}

/// Where each OS user's running client can be asked.
pub struct Registry {
    paths: Paths,
}

impl Registry {
    pub fn new(paths: Paths) -> Registry {
        Registry { paths }
    }

    /// Notes (for Ream's backend) that this OS user's client listens on `socket`. Does
    /// nothing where monitoring is not set up (no folder).
    pub fn register(&self, uid: u32, socket: &Path) -> std::io::Result<bool> {
        let dir = self.paths.agents_dir();
        if !dir.is_dir() {
            return Ok(false);
        }
        // Written beside and renamed: whole or not at all. (The folder cannot be flushed:
        // nobody but root may open it.)
        let file = dir.join(uid.to_string());
        let tmp = crate::files::temporary_of(&file);
        std::fs::write(&tmp, socket.as_os_str().as_encoded_bytes())?;
        std::fs::rename(&tmp, &file)?;
        Ok(true)
    }

    /// The socket `uid`'s client registered, if the registration is that user's own file.
    pub fn socket_of(&self, uid: u32) -> Option<PathBuf> {
        let file = self.paths.agents_dir().join(uid.to_string());
        let meta = std::fs::symlink_metadata(&file).ok()?;
        if !meta.is_file() || meta.uid() != uid {
            tracing::warn!(uid, "a client registration not owned by its user is ignored");
            return None;
        }
        let text = std::fs::read(&file).ok()?;
        let socket = PathBuf::from(String::from_utf8(text).ok()?.trim());
        let owner = std::fs::metadata(&socket).ok()?.uid();
        (owner == uid && socket.is_absolute()).then_some(socket)
    }

    /// Notes that the backend held CUPS job `job` of `user`, waiting for `wait`.
    pub fn note_held(&self, wait: Wait, job: i64, user: &str) -> std::io::Result<()> {
        let dir = self.paths.held_dir(wait);
        std::fs::create_dir_all(&dir)?;
        let file = dir.join(job.to_string());
        std::fs::write(&file, user)?;
        // The owner's client reads it (cupsd runs the backend with umask 077).
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))
    }

    pub fn forget_held(&self, job: i64) {
        for wait in [Wait::Decision, Wait::Client] {
            let _ = std::fs::remove_file(self.paths.held_dir(wait).join(job.to_string()));
        }
    }

    /// The CUPS jobs of `user` the backend held, waiting for `wait` of that user's client.
    pub fn held_for(&self, wait: Wait, user: &str) -> Vec<i64> {
        let Ok(entries) = std::fs::read_dir(self.paths.held_dir(wait)) else { return Vec::new() };
        let mut jobs: Vec<i64> = entries
            .flatten()
            .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|owner| owner == user))
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        jobs.sort_unstable();
        jobs
    }
}

/// The uid of the OS user `name`.
pub fn uid_of(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam_r writes into the buffers we own and sized.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(c.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        (rc == 0 && !result.is_null()).then_some(pwd.pw_uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_uris_lead_back_to_their_device() {
        for device in
            ["socket://10.0.0.7:9100", "ipp://printer.example/ipp/print", "usb://HP/LaserJet?serial=1"]
        {
            assert_eq!(unwrap(&wrap(device)), Some(device));
        }
        assert_eq!(unwrap("socket://10.0.0.7:9100"), None);
        assert_eq!(unwrap("reamx:/socket://p"), None);
    }

    #[test]
    fn a_registration_counts_only_as_its_owners() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths { root: dir.path().to_path_buf() };
        let registry = Registry::new(paths.clone());
        let me = unsafe { libc::geteuid() };
        let socket = dir.path().join("session.sock");
        // Not set up: nothing registered.
        assert!(!registry.register(me, &socket).unwrap());
        std::fs::create_dir_all(paths.agents_dir()).unwrap();
        assert!(registry.register(me, &socket).unwrap());
        // The socket is not there (yet): nobody to ask.
        assert_eq!(registry.socket_of(me), None);
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert_eq!(registry.socket_of(me), Some(socket.clone()));
        // A file under another uid's name is not that user's registration.
        std::fs::write(paths.agents_dir().join((me + 1).to_string()), socket.to_str().unwrap()).unwrap();
        assert_eq!(registry.socket_of(me + 1), None);
    }

    #[test]
    fn routed_devices_name_the_local_printers_path() {
        assert_eq!(routed_device(None), "ream:/client/ipp/print");
        assert_eq!(routed_path(&routed_device(None)), Some("/ipp/print"));
        assert_eq!(routed_path(&routed_device(Some("Colour A3"))), Some("/ipp/print/Colour%20A3"));
        // A monitored queue's device, or a queue named after a device called client…
        for other in ["ream:/socket://10.0.0.7:9100", "ream:/clientele/x", "ipp://127.0.0.1:8632/ipp/print"] {
            assert_eq!(routed_path(other), None, "{other}");
        }
    }

    #[test]
    fn held_jobs_are_listed_for_their_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::new(Paths { root: dir.path().to_path_buf() });
        registry.note_held(Wait::Decision, 12, "alice").unwrap();
        registry.note_held(Wait::Decision, 3, "alice").unwrap();
        registry.note_held(Wait::Decision, 5, "bob").unwrap();
        registry.note_held(Wait::Client, 7, "alice").unwrap();
        assert_eq!(registry.held_for(Wait::Decision, "alice"), [3, 12]);
        assert_eq!(registry.held_for(Wait::Client, "alice"), [7]);
        registry.forget_held(3);
        registry.forget_held(7);
        assert_eq!(registry.held_for(Wait::Decision, "alice"), [12]);
        assert!(registry.held_for(Wait::Client, "alice").is_empty());
        assert!(registry.held_for(Wait::Decision, "carol").is_empty());
    }
}
