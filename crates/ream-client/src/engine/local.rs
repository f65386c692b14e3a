//! Local print monitoring in the engine (see [`crate::monitor`]): Ream's CUPS backend
//! asks the running client of a job's owner whether the job may print. Online, the
//! server prices and charges it and signs a grant; offline, the server's signed terms
//! decide, and the job is journaled to be reported once. Either way the CUPS job is then
//! followed until it ends, and how it ended (with CUPS' or the printer's count) reported.
//! Jobs the backend held for want of a decision are released here when one can be made.

use std::path::PathBuf;

use ream_wire::{
    DeliveryReport, JournalRecord, LocalJobRequest, LocalPrintAsk, LocalTerms, LocalVerdict, OfflineLocalJob,
    OfflineOutcome,
};
use serde::{Deserialize, Serialize};

use super::*;
use crate::journal::Journal;
use crate::monitor::{Paths, Registry, Wait};

/// How often a followed CUPS job is looked at.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// How often held jobs are looked at while the client runs.
const RELEASE_EVERY: Duration = Duration::from_secs(30);

/// A local job being followed to its end: written before the backend hears the verdict,
/// removed once the outcome is reported (or journaled), so a restart takes it up again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Follow {
    job_uuid: String,
    cups_job_id: i64,
    cups_queue: String,
    name: String,
    /// The server's job; none for a job printed offline (journaled).
    server_job: Option<String>,
}

impl Follow {
    fn of(ask: &LocalPrintAsk, server_job: Option<String>) -> Follow {
        Follow {
            job_uuid: ask.job_uuid.clone(),
            cups_job_id: ask.cups_job_id,
            cups_queue: ask.cups_queue.clone(),
            name: ask.name.clone(),
            server_job,
        }
    }
}

fn follows_dir() -> PathBuf {
    crate::settings::cache_dir().join("local-jobs")
}

fn follow_path(uuid: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    follows_dir().join(format!("{}.json", hex::encode(&Sha256::digest(uuid.as_bytes())[..12])))
}

fn save_follow(f: &Follow) -> std::io::Result<()> {
    std::fs::create_dir_all(follows_dir())?;
    crate::files::replace_synced(
        &follow_path(&f.job_uuid),
        &serde_json::to_vec(f).map_err(std::io::Error::other)?,
    )
}

fn terms_path(server: &str) -> PathBuf {
    crate::files::per_server("local-terms", server)
}

/// Where CUPS answers IPP for a queue of this computer.
fn cups_uri(queue: &str) -> String {
    format!(
        "ipp://localhost:631/printers/{}",
        percent_encoding::utf8_percent_encode(queue, percent_encoding::NON_ALPHANUMERIC)
    )
}

impl Engine {
    /// `ream cups monitor`: fetches the server's policy and grant key and sets this
    /// computer's queues up as it says (root).
    pub async fn set_up_monitoring(
        &self,
        ream: &std::path::Path,
        port: u16,
    ) -> Result<Vec<crate::monitor::setup::QueueState>> {
        let info = self.observe(self.api()?.local_monitoring().await)?;
        crate::monitor::setup::install(&Paths::default(), &info, &self.server()?, ream, port)
    }

    /// Fetches (and keeps, for when the server is gone) what the user's local jobs may do
    /// offline.
    pub async fn refresh_local_terms(&self) -> Result<LocalTerms> {
        let terms = self.authed(|api, token| async move { api.local_terms(&token).await }).await?;
        if let Ok(server) = self.server() {
            let kept = serde_json::to_vec(&terms).map_err(std::io::Error::other).and_then(|json| {
                std::fs::create_dir_all(crate::settings::cache_dir())?;
                crate::files::replace_synced(&terms_path(&server), &json)
            });
            if let Err(e) = kept {
                tracing::warn!(error = %e, "cannot keep the local print terms");
            }
        }
        Ok(terms)
    }

    fn kept_local_terms(&self, username: &str) -> Option<LocalTerms> {
        let server = self.server().ok()?;
        let terms: LocalTerms = serde_json::from_slice(&std::fs::read(terms_path(&server)).ok()?).ok()?;
        (terms.user == username).then_some(terms)
    }

    /// The verdict on a job held on a monitored local queue (the backend's question).
    pub(crate) async fn answer_local_print(&self, ask: LocalPrintAsk) -> LocalVerdict {
        let Some(user) = self.status().user else {
            return LocalVerdict::Wait { reason: "nobody is logged in to Ream".into() };
        };
        let Some(workstation_id) = self.settings().workstation_id else {
            return LocalVerdict::Wait {
                reason: "this workstation is not enrolled with the Ream server".into(),
            };
        };
        let req = LocalJobRequest {
            workstation_id,
            cups_queue: ask.cups_queue.clone(),
            device_uri: ask.device_uri.clone(),
            job_uuid: ask.job_uuid.clone(),
            name: ask.name.clone(),
            pages: ask.pages,
            copies: ask.copies,
            colour: ask.colour,
            duplex: ask.duplex,
            media: ask.media.clone(),
            sha256: ask.sha256.clone(),
            nonce: ask.nonce.clone(),
        };
        let asked = self
            .authed(|api, token| {
                let req = req.clone();
                async move { api.authorise_local(&token, &req).await }
            })
            .await;
        match asked {
            Ok(authorised) => {
                let follow = Follow::of(&ask, Some(authorised.job.id.clone()));
                if let Err(e) = save_follow(&follow) {
                    tracing::warn!(error = %e, "cannot note the local job to follow");
                }
                self.emit(ClientEvent::JobSubmitted { job: authorised.job });
                self.spawn_follow(follow);
                LocalVerdict::Granted { grant: authorised.grant }
            }
            Err(ClientError::Unreachable(reason) | ClientError::AnswerLost(reason)) => {
                self.offline_local(&user.username, &ask, &reason).await
            }
            Err(ClientError::NotLoggedIn) => {
                LocalVerdict::Wait { reason: "nobody is logged in to Ream".into() }
            }
            Err(e) => {
                tracing::info!(job = %ask.name, queue = %ask.cups_queue, error = %e, "local job refused");
                self.emit(ClientEvent::JobRefused {
                    name: ask.name.clone(),
                    reason: e.to_string(),
                    code: e.code().to_string(),
                });
                LocalVerdict::Refused { reason: e.to_string() }
            }
        }
    }

    /// The server cannot be reached: its signed terms decide; a job that prints is
    /// journaled first (once, however often the backend asks about it).
    async fn offline_local(&self, username: &str, ask: &LocalPrintAsk, reason: &str) -> LocalVerdict {
        let Some(terms) = self.kept_local_terms(username) else {
            return LocalVerdict::Wait { reason: format!("the Ream server cannot be reached ({reason})") };
        };
        if !terms.prints_offline() {
            self.emit(ClientEvent::JobDelayed {
                name: ask.name.clone(),
                reason: "the Ream server cannot be reached: the job waits, held, until it can".into(),
                code: ream_wire::ClientErrorCode::ServerUnreachable.as_str().into(),
            });
            return LocalVerdict::Wait { reason: "the Ream server cannot be reached".into() };
        }
        let follow = Follow::of(ask, None);
        let journal = Journal::here();
        let journaled = async {
            let _serial = self.inner.journal_lock.lock().await;
            if journal.trace(&ask.job_uuid)?.local.is_none() {
                let key = self.workstation_key().await.map_err(std::io::Error::other)?;
                let record = OfflineLocalJob {
                    job: ask.job_uuid.clone(),
                    user: username.to_string(),
                    cups_queue: ask.cups_queue.clone(),
                    device_uri: ask.device_uri.clone(),
                    name: ask.name.clone(),
                    pages: ask.pages,
                    copies: ask.copies,
                    colour: ask.colour,
                    duplex: ask.duplex,
                    media: ask.media.clone(),
                };
                journal.append(&key, JournalRecord::Local(record))?;
            }
            save_follow(&follow)
        };
        if let Err(e) = journaled.await {
            tracing::error!(error = %e, "cannot journal a local job: it waits");
            return LocalVerdict::Wait { reason: format!("the job cannot be journaled: {e}") };
        }
        self.note_journal();
        tracing::info!(job = %ask.name, queue = %ask.cups_queue, "local job printed offline, journaled");
        self.spawn_follow(follow);
        LocalVerdict::Offline { terms }
    }

    fn spawn_follow(&self, follow: Follow) {
        let engine = self.clone();
        tokio::spawn(async move { engine.follow(follow).await });
    }

    /// Follows a CUPS job until it ends, then reports how (and CUPS' count) to the server,
    /// or to the journal for a job printed offline; tried again until it is taken.
    async fn follow(&self, follow: Follow) {
        let http = ream_print::printer::http_client(None);
        let uri = cups_uri(&follow.cups_queue);
        let Ok(job_id) = i32::try_from(follow.cups_job_id) else { return };
        let status = loop {
            match ream_print::printer::job_status(&http, &uri, job_id).await {
                Ok(s) if s.state >= 7 => break s,
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %format!("{e:#}"), "cannot ask CUPS about a local job yet"),
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        };
        let printed = status.state == ream_print::printer::JobStatus::COMPLETED;
        let reason = (!printed).then(|| format!("CUPS ended the job ({})", status.reasons));
        loop {
            let reported = match &follow.server_job {
                Some(id) => {
                    let report = DeliveryReport {
                        printed,
                        reason: reason.clone(),
                        printer_job_id: Some(job_id),
                        impressions: status.impressions,
                    };
                    self.authed(|api, token| {
                        let report = report.clone();
                        async move { api.report_outcome(&token, id, &report).await }
                    })
                    .await
                    .map(|job| self.emit(ClientEvent::JobChanged { job }))
                    .map_err(|e| e.to_string())
                }
                None => {
                    self.journal_local_outcome(&follow, printed, reason.clone(), status.impressions).await
                }
            };
            match reported {
                Ok(()) => break,
                Err(e) => {
                    tracing::info!(job = %follow.name, error = %e, "cannot report a local job's outcome yet");
                    tokio::time::sleep(RELEASE_EVERY).await;
                }
            }
        }
        let _ = std::fs::remove_file(follow_path(&follow.job_uuid));
        tracing::info!(job = %follow.name, printed, impressions = ?status.impressions, "local job ended");
    }

    async fn journal_local_outcome(
        &self,
        follow: &Follow,
        printed: bool,
        reason: Option<String>,
        impressions: Option<i64>,
    ) -> std::result::Result<(), String> {
        let _serial = self.inner.journal_lock.lock().await;
        let journal = Journal::here();
        if journal.trace(&follow.job_uuid).map_err(|e| e.to_string())?.outcome.is_some() {
            return Ok(());
        }
        let key = self.workstation_key().await.map_err(|e| e.to_string())?;
        let outcome = OfflineOutcome {
            job: follow.job_uuid.clone(),
            printed,
            reason,
            printer_job_id: Some(follow.cups_job_id),
            impressions,
        };
        journal.append(&key, JournalRecord::Outcome(outcome)).map_err(|e| e.to_string())?;
        drop(_serial);
        self.note_journal();
        Ok(())
    }

    /// Takes up the local jobs a previous run was following.
    fn resume_follows(&self) {
        let Ok(entries) = std::fs::read_dir(follows_dir()) else { return };
        for entry in entries.flatten() {
            if let Some(follow) =
                std::fs::read(entry.path()).ok().and_then(|b| serde_json::from_slice::<Follow>(&b).ok())
            {
                self.spawn_follow(follow);
            }
        }
    }

    /// Releases this OS user's jobs that Ream's backend held waiting for `wait` (a
    /// decision, or this client running), so that it tries again now that it can.
    pub fn release_held_local(&self, wait: Wait) -> usize {
        let Ok(me) = os_username() else { return 0 };
        let held = Registry::new(Paths::default()).held_for(wait, &me);
        let mut released = 0;
        for job in held {
            match std::process::Command::new("lp").args(["-i", &job.to_string(), "-H", "resume"]).output() {
                Ok(o) if o.status.success() => {
                    released += 1;
                    tracing::info!(cups_job = job, waited_for = ?wait, "released a CUPS job Ream's backend held");
                }
                Ok(o) => tracing::debug!(cups_job = job, error = %String::from_utf8_lossy(&o.stderr).trim(),
                    "cannot release a held local job"),
                Err(e) => tracing::warn!(error = %e, "cannot run lp"),
            }
        }
        released
    }

    /// For as long as the client runs: takes up the local jobs it was following, and
    /// releases held ones whenever it can decide about them (logged in, and the server
    /// reachable or its terms printing offline).
    pub async fn run_local(&self) {
        self.resume_follows();
        let mut status = self.watch_status();
        loop {
            if self.is_agent() {
                // Monitoring may have been set up since this client started.
                // SAFETY: geteuid has no preconditions and cannot fail.
                let uid = unsafe { libc::geteuid() };
                let _ = Registry::new(Paths::default()).register(uid, &crate::agent::socket_path());
                // This user's jobs on a shared queue that waited for this client.
                let engine = self.clone();
                let _ = tokio::task::spawn_blocking(move || engine.release_held_local(Wait::Client)).await;
            }
            let now = status.borrow_and_update().clone();
            if let Some(user) = &now.user {
                let decides = now.connection == Connection::Online
                    || self.kept_local_terms(&user.username).is_some_and(|t| t.prints_offline());
                if decides {
                    let engine = self.clone();
                    let _ =
                        tokio::task::spawn_blocking(move || engine.release_held_local(Wait::Decision)).await;
                }
            }
            if let Ok(Err(_)) = tokio::time::timeout(RELEASE_EVERY, status.changed()).await {
                return;
            }
        }
    }
}
