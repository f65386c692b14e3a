//! Ream's CUPS backend (`/usr/lib/cups/backend/ream`, run by `cupsd` as root for each
//! job of a monitored queue): counts the job, asks its owner's client for the server's
//! grant, checks the grant, and only then hands the job to the real backend of the
//! queue's device. Without a decision the job is held; refused, it is cancelled. What
//! it tells CUPS goes to standard error as CUPS reads it (`INFO:`, `ERROR:`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use ream_wire::{AgentReply, AgentRequest, LocalGrant, LocalPrintAsk, LocalTerms, LocalVerdict};

use super::{count, Paths, QueueSetup, Registry, Wait};

/// CUPS' backend exit codes (`cups/backend.h`).
pub const OK: i32 = 0;
pub const FAILED: i32 = 1;
pub const HOLD: i32 = 3;
pub const CANCEL: i32 = 5;

/// How long the backend waits for the owner's client (and the server behind it).
const PATIENCE: Duration = Duration::from_secs(60);

/// A job as CUPS hands it to a backend: `job user title copies options [file]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobArgs {
    pub job: i64,
    pub user: String,
    pub title: String,
    pub copies: i64,
    pub options: String,
    pub file: Option<PathBuf>,
}

impl JobArgs {
    pub fn parse(args: &[String]) -> Result<JobArgs, String> {
        if !(5..=6).contains(&args.len()) {
            return Err("usage: ream job-id user title copies options [file]".into());
        }
        Ok(JobArgs {
            job: args[0].parse().map_err(|_| format!("not a job id: {}", args[0]))?,
            user: args[1].clone(),
            title: args[2].clone(),
            copies: args[3].parse().ok().filter(|c| (1..=999).contains(c)).unwrap_or(1),
            options: args[4].clone(),
            file: args.get(5).map(PathBuf::from),
        })
    }

    /// An option's value from CUPS' `name=value name=value` list.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.split_whitespace().find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    }

    pub fn colour(&self) -> bool {
        !matches!(self.option("print-color-mode"), Some("monochrome" | "process-monochrome") | None)
    }

    pub fn duplex(&self) -> bool {
        self.option("sides").is_some_and(|s| s.starts_with("two-sided"))
    }
}

/// Checks the server's grant against what this backend counted and asked.
pub fn check_grant(grant_key: &str, grant: &LocalGrant, ask: &LocalPrintAsk) -> Result<(), String> {
    verify(grant_key, &grant.signed_bytes(), &grant.signature)?;
    let same = grant.nonce == ask.nonce
        && grant.sha256 == ask.sha256
        && grant.job_uuid == ask.job_uuid
        && grant.pages == ask.pages
        && grant.copies == ask.copies
        && grant.colour == ask.colour;
    if !same {
        return Err("the grant is for another job, or another count of it".into());
    }
    Ok(())
}

/// Checks the server's signature on offline terms.
pub fn check_terms(grant_key: &str, terms: &LocalTerms) -> Result<(), String> {
    verify(grant_key, &terms.signed_bytes(), &terms.signature)
}

fn verify(grant_key: &str, bytes: &[u8], signature: &str) -> Result<(), String> {
    let key: [u8; 32] = STANDARD
        .decode(grant_key)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or("the server's grant key is damaged: run `ream cups monitor` again")?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| "the server's grant key is not a key")?;
    let sig = STANDARD
        .decode(signature)
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
        .ok_or("the grant has no signature")?;
    key.verify(bytes, &sig).map_err(|_| "the grant is not signed by the server".to_string())
}

/// What CUPS hears, and how the job ends when Ream does not let it through.
pub(super) fn say(level: &str, message: &str) {
    eprintln!("{level}: Ream: {message}");
}

/// Runs the backend for the job in `args` (CUPS' argv without its first), CUPS' exit code.
pub async fn run(args: &[String]) -> i32 {
    // Without arguments CUPS asks a backend for the devices it finds: Ream finds none.
    if args.is_empty() {
        return OK;
    }
    let job = match JobArgs::parse(args) {
        Ok(job) => job,
        Err(e) => {
            say("ERROR", &e);
            return FAILED;
        }
    };
    let paths = Paths::default();
    // A shared queue's job goes to its sender's own client.
    let device = std::env::var("DEVICE_URI").unwrap_or_default();
    if let Some(path) = super::routed_path(&device) {
        let registry = Registry::new(paths);
        let outcome = super::route::route(&job, path, &registry).await;
        if outcome != HOLD {
            registry.forget_held(job.job);
        }
        return outcome;
    }
    let queue = std::env::var("PRINTER").unwrap_or_default();
    let setup = match QueueSetup::read(&paths, &queue) {
        Ok(s) => s,
        Err(e) => {
            // Held, not lost: an administrator runs `ream cups monitor` again.
            say(
                "ERROR",
                &format!("queue {queue} is not set up for monitoring ({e}): run `ream cups monitor`"),
            );
            return HOLD;
        }
    };
    let spool =
        std::env::var_os("CUPS_REQUESTROOT").map_or_else(|| PathBuf::from("/var/spool/cups"), PathBuf::from);
    let tmp = std::env::var_os("TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let registry = Registry::new(paths);
    let outcome = decide_and_print(&job, &setup, &spool, &tmp, &registry).await;
    if outcome != HOLD {
        registry.forget_held(job.job);
    }
    outcome
}

async fn decide_and_print(
    job: &JobArgs,
    setup: &QueueSetup,
    spool: &Path,
    tmp: &Path,
    registry: &Registry,
) -> i32 {
    // What goes to the device: the file CUPS gave, or what came on standard input.
    let (data, scratch) = match &job.file {
        Some(f) => (f.clone(), None),
        None => match copy_stdin(tmp) {
            Ok(file) => (file.path().to_path_buf(), Some(file)),
            Err(e) => {
                say("ERROR", &format!("cannot keep the job's data: {e}"));
                return FAILED;
            }
        },
    };
    let documents = count::job_documents(spool, job.job);
    let counted = if documents.is_empty() { vec![data.clone()] } else { documents };
    let mut pages = 0;
    for d in &counted {
        match count::pages_of(d) {
            Ok(n) => pages += n,
            Err(reason) => {
                say("ERROR", &reason);
                return CANCEL;
            }
        }
    }
    let sha256 = match count::sha256_of(&data) {
        Ok(h) => h,
        Err(e) => {
            say("ERROR", &format!("cannot read the job's data: {e}"));
            return FAILED;
        }
    };
    let ask = LocalPrintAsk {
        cups_job_id: job.job,
        cups_queue: setup.queue.clone(),
        device_uri: setup.device_uri.clone(),
        job_uuid: job.option("job-uuid").map_or_else(|| format!("cups-{}", job.job), str::to_string),
        name: job.title.clone(),
        pages,
        copies: job.copies,
        colour: job.colour(),
        duplex: job.duplex(),
        media: job.option("media").unwrap_or("iso_a4_210x297mm").to_string(),
        sha256,
        nonce: hex::encode(rand::random::<[u8; 16]>()),
    };
    say("INFO", &format!("{pages} page(s) × {} copies: asking {}'s Ream client", job.copies, job.user));
    let verdict = ask_owner(registry, &job.user, &ask).await;
    let go = match verdict {
        Some(LocalVerdict::Granted { grant }) => match check_grant(&setup.grant_key, &grant, &ask) {
            Ok(()) => true,
            Err(e) => {
                say("ERROR", &format!("refused a grant: {e}"));
                false
            }
        },
        Some(LocalVerdict::Offline { terms }) => match check_terms(&setup.grant_key, &terms) {
            Ok(()) if terms.prints_offline() => true,
            Ok(()) => false,
            Err(e) => {
                say("ERROR", &format!("refused offline terms: {e}"));
                false
            }
        },
        Some(LocalVerdict::Refused { reason }) => {
            say("ERROR", &reason);
            return CANCEL;
        }
        Some(LocalVerdict::Wait { reason }) => {
            say("INFO", &format!("held: {reason}"));
            false
        }
        None => {
            say("INFO", &format!("held until {} logs in to Ream", job.user));
            false
        }
    };
    if !go {
        if let Err(e) = registry.note_held(Wait::Decision, job.job, &job.user) {
            say("ERROR", &format!("cannot note the held job: {e}"));
        }
        return HOLD;
    }
    let input = if scratch.is_some() { Input::Stdin(&data) } else { Input::File(&data) };
    let code = run_device(job, &setup.device_uri, input);
    drop(scratch);
    code
}

/// Asks the job owner's running client, if it registered and its socket's peer is that
/// OS user; `None` when there is nobody to ask.
async fn ask_owner(registry: &Registry, user: &str, ask: &LocalPrintAsk) -> Option<LocalVerdict> {
    let uid = super::uid_of(user)?;
    match ask_client(registry, uid, &AgentRequest::LocalPrint(ask.clone())).await {
        Some(AgentReply::Local(verdict)) => Some(verdict),
        Some(AgentReply::Refused { message, .. }) => Some(LocalVerdict::Wait { reason: message }),
        _ => None,
    }
}

/// Asks `uid`'s running client, if it registered and its socket's peer is that OS user;
/// `None` when there is nobody to ask, or no answer in time.
pub(super) async fn ask_client(registry: &Registry, uid: u32, request: &AgentRequest) -> Option<AgentReply> {
    let socket = registry.socket_of(uid)?;
    let exchange = async {
        let stream = tokio::net::UnixStream::connect(&socket).await.ok()?;
        if stream.peer_cred().ok()?.uid() != uid {
            tracing::warn!(uid, "the socket registered for this user is someone else's");
            return None;
        }
        crate::agent::exchange(stream, request).await
    };
    tokio::time::timeout(PATIENCE, exchange).await.ok().flatten()
}

fn copy_stdin(tmp: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new().prefix("ream-").tempfile_in(tmp)?;
    std::io::copy(&mut std::io::stdin().lock(), &mut file)?;
    file.as_file().sync_all()?;
    Ok(file)
}

/// Where a backend reads the job's data.
pub enum Input<'a> {
    /// A file named as its last argument (a job CUPS gave as a file).
    File(&'a Path),
    /// This file as its standard input.
    Stdin(&'a Path),
    /// This backend's own standard input, as CUPS gave it.
    Inherited,
}

/// Runs the real backend of `device_uri` on the job, as CUPS would have; its exit code.
pub fn run_device(job: &JobArgs, device_uri: &str, input: Input) -> i32 {
    let Some(scheme) = device_uri.split_once(':').map(|(s, _)| s) else {
        say("ERROR", &format!("{device_uri} is not a device URI"));
        return FAILED;
    };
    let dir =
        std::env::var_os("CUPS_SERVERBIN").map_or_else(|| PathBuf::from("/usr/lib/cups"), PathBuf::from);
    let backend = dir.join("backend").join(scheme);
    let mut cmd = Command::new(&backend);
    use std::os::unix::process::CommandExt;
    // CUPS names the authenticated sender (the monitored queue's policy) in AUTH_UID, and
    // its ipp backend, run as root with it, would re-run itself as that user through a
    // helper of cupsd's: the device is reached as CUPS reaches it for any other queue.
    cmd.arg0(device_uri).env("DEVICE_URI", device_uri).env_remove("AUTH_UID");
    cmd.args([
        job.job.to_string(),
        job.user.clone(),
        job.title.clone(),
        job.copies.to_string(),
        job.options.clone(),
    ]);
    match input {
        Input::Stdin(data) => match std::fs::File::open(data) {
            Ok(f) => {
                cmd.stdin(Stdio::from(f));
            }
            Err(e) => {
                say("ERROR", &format!("cannot read the job's data: {e}"));
                return FAILED;
            }
        },
        Input::File(data) => {
            cmd.arg(data);
        }
        Input::Inherited => {}
    }
    match cmd.status() {
        Ok(status) => status.code().unwrap_or(FAILED),
        Err(e) => {
            say("ERROR", &format!("cannot run {}: {e}", backend.display()));
            FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn args(options: &str) -> JobArgs {
        JobArgs::parse(&["42".into(), "alice".into(), "Report".into(), "2".into(), options.into()]).unwrap()
    }

    #[test]
    fn cups_arguments_are_read_as_cups_gives_them() {
        let job = args("job-uuid=urn:uuid:1 print-color-mode=monochrome sides=two-sided-long-edge media=iso_a3_297x420mm");
        assert_eq!((job.job, job.copies, job.file.as_ref()), (42, 2, None));
        assert_eq!(job.option("job-uuid"), Some("urn:uuid:1"));
        assert_eq!(job.option("media"), Some("iso_a3_297x420mm"));
        assert!(!job.colour() && job.duplex());
        assert!(args("print-color-mode=color").colour());
        assert!(!args("").colour(), "CUPS names colour when it prints in colour");
        assert!(JobArgs::parse(&["x".into(), "a".into(), "t".into(), "1".into(), "".into()]).is_err());
        assert!(JobArgs::parse(&["1".into()]).is_err());
    }

    #[test]
    fn only_the_servers_grant_for_this_count_lets_a_job_through() {
        let server = SigningKey::from_bytes(&[9; 32]);
        let key = STANDARD.encode(server.verifying_key().to_bytes());
        let ask = LocalPrintAsk {
            cups_job_id: 42,
            cups_queue: "Office".into(),
            device_uri: "socket://p:9100".into(),
            job_uuid: "urn:uuid:1".into(),
            name: "Report".into(),
            pages: 3,
            copies: 2,
            colour: false,
            duplex: false,
            media: "iso_a4_210x297mm".into(),
            sha256: "ab".repeat(32),
            nonce: "00".repeat(16),
        };
        let signed = |g: LocalGrant, by: &SigningKey| LocalGrant {
            signature: STANDARD.encode(by.sign(&g.signed_bytes()).to_bytes()),
            ..g
        };
        let grant = LocalGrant {
            job_id: "j".into(),
            job_uuid: ask.job_uuid.clone(),
            nonce: ask.nonce.clone(),
            sha256: ask.sha256.clone(),
            pages: 3,
            copies: 2,
            colour: false,
            price_cents: 60,
            signature: String::new(),
        };
        assert_eq!(check_grant(&key, &signed(grant.clone(), &server), &ask), Ok(()));
        // Signed by anyone else (a user's own key): refused.
        let forger = SigningKey::from_bytes(&[1; 32]);
        assert!(check_grant(&key, &signed(grant.clone(), &forger), &ask).is_err());
        // A real grant for fewer pages, another document, or an earlier nonce: refused.
        for changed in [
            LocalGrant { pages: 1, ..grant.clone() },
            LocalGrant { sha256: "cd".repeat(32), ..grant.clone() },
            LocalGrant { nonce: "11".repeat(16), ..grant.clone() },
            LocalGrant { colour: true, ..grant.clone() },
        ] {
            assert!(check_grant(&key, &signed(changed, &server), &ask).is_err());
        }
        // Edited after signing: refused.
        let mut edited = signed(grant, &server);
        edited.price_cents = 0;
        assert!(check_grant(&key, &edited, &ask).is_err());
    }
}
