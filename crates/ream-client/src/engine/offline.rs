//! Offline operation: the server's offline terms kept for when it is gone, the offers of
//! fallback printing made to the user, a job sent to a fallback printer from the
//! encrypted spool (journaled before it goes, followed to the end, never sent twice
//! whatever crashes in between), and the journal replayed once the server is back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ream_wire::{
    AgentReply, AgentRequest, FallbackAnswer, FallbackChoice, FallbackOffer, JournalBatch, JournalRecord,
    JournalStatus, OfflineJob, OfflineOutcome, OfflineTerms, PrinterState,
};
use serde::{Deserialize, Serialize};

use super::*;
use crate::journal::Journal;
use crate::offline::{self as rules, Decision};

fn no_running_client() -> ClientError {
    ClientError::Config(
        "no Ream client is running for this user: fallback printing is offered by `ream run` or the desktop app"
            .into(),
    )
}

/// How long a printer offered for fallback may take to say its state.
const STATE_PATIENCE: Duration = Duration::from_secs(3);

/// The most entries sent in one request (the server takes 500).
const REPLAY_BATCH: usize = 200;

/// An offer waiting for the user's answer.
pub(super) struct OfferSlot {
    offer: FallbackOffer,
    answer: tokio::sync::mpsc::UnboundedSender<FallbackAnswer>,
}

/// Offers waiting for answers, by the job's client id.
pub(super) type Offers = Mutex<HashMap<String, OfferSlot>>;

/// The printer a user chose for a job the server cannot take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FallbackTarget {
    pub name: String,
    pub uri: String,
    pub fingerprint: Option<String>,
    /// Under `print_unaccounted`.
    pub unaccounted: bool,
}

/// How far a fallback print went, beside its spooled document (`ID.fallback`), written
/// before the job goes to the journal and after each step at the printer.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FallbackProgress {
    record: OfflineJob,
    fingerprint: Option<String>,
    printer_job_id: Option<i32>,
    floor: Option<i64>,
}

fn progress_path(document: &Path) -> PathBuf {
    crate::local_spool::fallback_of(document)
}

fn write_progress(path: &Path, progress: &FallbackProgress) -> std::io::Result<()> {
    crate::files::replace_synced(path, &serde_json::to_vec(progress).map_err(std::io::Error::other)?)
}

fn read_progress(path: &Path) -> Option<FallbackProgress> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// A printer address the user typed: `ipp://…` or `ipps://…` as given, a bare host (and
/// port) as its IPP Everywhere printer.
pub fn typed_printer(typed: &str) -> Result<String> {
    let typed = typed.trim();
    if let Some((scheme, rest)) = typed.split_once("://") {
        if !matches!(scheme, "ipp" | "ipps") || rest.is_empty() {
            return Err(ClientError::Config(format!(
                "{typed} is not a printer address: ipp://… or ipps://…"
            )));
        }
        return Ok(typed.to_string());
    }
    let valid = !typed.is_empty()
        && typed.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !valid {
        return Err(ClientError::Config(format!("{typed:?} is not a printer's host name or address")));
    }
    let has_port = typed.rsplit_once(':').is_some_and(|(h, p)| !h.ends_with(':') && p.parse::<u16>().is_ok());
    let authority = if has_port { typed.to_string() } else { format!("{typed}:631") };
    Ok(format!("ipp://{authority}/ipp/print"))
}

/// The workstation's own print queues (from CUPS, by the `printers` crate), save those
/// that lead to this client's local printer on `port`: name, IPP address and state.
fn local_queues(port: u16) -> Vec<(String, String, PrinterState)> {
    printers::get_printers()
        .into_iter()
        .map(|p| {
            let state = match p.state {
                printers::common::base::printer::PrinterState::READY => PrinterState::Idle,
                printers::common::base::printer::PrinterState::PRINTING => PrinterState::Processing,
                printers::common::base::printer::PrinterState::PAUSED => PrinterState::Stopped,
                _ => PrinterState::Unreachable,
            };
            (p.system_name, p.port_name, p.uri, state)
        })
        // A monitored queue is left out too: its jobs are charged as local jobs, and a
        // job printed there offline would be journaled twice.
        .filter(|(_, device, uri, _)| {
            !crate::cups::leads_to_client(device, port)
                && crate::monitor::unwrap(device).is_none()
                && !uri.is_empty()
        })
        .map(|(name, _, uri, state)| (name, uri, state))
        .collect()
}

async fn state_of(uri: &str, fingerprint: Option<&str>) -> PrinterState {
    let http = ream_print::printer::http_client(fingerprint);
    match tokio::time::timeout(STATE_PATIENCE, ream_print::printer::printer_state(&http, uri)).await {
        Ok(Ok((3, _))) => PrinterState::Idle,
        Ok(Ok((4, _))) => PrinterState::Processing,
        Ok(Ok(_)) => PrinterState::Stopped,
        _ => PrinterState::Unreachable,
    }
}

impl Engine {
    // ----- the terms -----

    /// Fetches what the client keeps to work without the server, and keeps it.
    pub async fn refresh_offline_terms(&self) -> Result<OfflineTerms> {
        let terms = self.authed(|api, token| async move { api.offline_terms(&token).await }).await?;
        if let Ok(server) = self.server() {
            rules::save_terms(&server, &terms);
        }
        *self.inner.terms.lock().expect("lock") = Some(terms.clone());
        Ok(terms)
    }

    /// The offline terms: those fetched in this run, else those kept on disk.
    pub fn offline_terms(&self) -> Option<OfflineTerms> {
        if let Some(t) = self.inner.terms.lock().expect("lock").clone() {
            return Some(t);
        }
        rules::load_terms(&self.server().ok()?)
    }

    pub(super) fn forget_offline_terms(&self) {
        *self.inner.terms.lock().expect("lock") = None;
        if let Ok(server) = self.server() {
            rules::forget_terms(&server);
        }
    }

    /// Whether the server has been unreachable long enough for `job`'s queue's offline
    /// policy to apply.
    pub(super) fn offline_long_enough(&self, job: &JobSubmission) -> bool {
        let Connection::Offline { since_ms, .. } = self.status().connection else { return false };
        let after = self
            .offline_terms()
            .and_then(|t| t.queue(job.queue.as_deref()).map(|q| q.after_seconds))
            .unwrap_or(30);
        now_ms() - since_ms >= after * 1_000
    }

    /// What `job` does while the server cannot be reached, for the identified user.
    pub(super) fn offline_decision(&self, job: &JobSubmission) -> Decision {
        let Some(user) = self.status().user else {
            return Decision::Wait { reason: "nobody is identified".into() };
        };
        if self.settings().workstation_id.is_none() {
            return Decision::Wait {
                reason: "this workstation is not enrolled, so it keeps no journal".into(),
            };
        }
        let terms = self.offline_terms();
        let pending = Journal::here().pending().unwrap_or_default();
        let used = terms.as_ref().map(|t| rules::usage(t, &user.username, &pending)).unwrap_or_default();
        let impressions = job.pages.map(|p| p * job.copies.max(1));
        rules::decide(terms.as_ref(), &user.username, job.queue.as_deref(), impressions, used)
    }

    // ----- offers -----

    /// The port this client's local printer listens on (the settings' until it serves).
    fn local_port(&self) -> u16 {
        self.serving_port().unwrap_or(self.settings().ipp_port)
    }

    /// The port the local printer listens on, once it serves.
    pub fn serving_port(&self) -> Option<u16> {
        match self.inner.local_port.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            port => Some(port),
        }
    }

    /// Notes the port the local printer listens on (see [`crate::services::serve`]).
    pub fn serving_on(&self, port: u16) {
        self.inner.local_port.store(port, std::sync::atomic::Ordering::Relaxed);
    }

    /// Offers the user fallback printing for `job` (an offer without printers: try again
    /// or cancel); the answers come on the receiver.
    pub(super) async fn offer_fallback(
        &self,
        job: &JobSubmission,
        decision: &Decision,
        reason: &str,
    ) -> tokio::sync::mpsc::UnboundedReceiver<FallbackAnswer> {
        let (printers, pick) = match decision {
            Decision::Offer { printers, pick, .. } => (printers.clone(), *pick),
            _ => (Vec::new(), false),
        };
        let mut choices = Vec::new();
        for p in &printers {
            let state = state_of(&p.uri, p.fingerprint.as_deref()).await;
            choices.push(FallbackChoice { name: p.name.clone(), uri: p.uri.clone(), local: false, state });
        }
        if pick {
            let port = self.local_port();
            for (name, uri, state) in
                tokio::task::spawn_blocking(move || local_queues(port)).await.unwrap_or_default()
            {
                choices.push(FallbackChoice { name, uri, local: true, state });
            }
        }
        let id = job.client_job_id.clone().unwrap_or_else(|| job.name.clone());
        let offer = FallbackOffer {
            job: id.clone(),
            name: job.name.clone(),
            queue: job.queue.clone(),
            pages: job.pages,
            printers: choices,
            may_type: pick,
            reason: reason.to_string(),
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.inner.offers.lock().expect("lock").insert(id, OfferSlot { offer: offer.clone(), answer: tx });
        tracing::info!(job = %job.name, printers = offer.printers.len(), "fallback offered");
        self.emit(ClientEvent::FallbackOffered { offer: Box::new(offer) });
        rx
    }

    /// Shows an offer again (after a try that failed).
    pub(super) fn offer_again(&self, job: &str) {
        let offer = self.inner.offers.lock().expect("lock").get(job).map(|s| s.offer.clone());
        if let Some(offer) = offer {
            self.emit(ClientEvent::FallbackOffered { offer: Box::new(offer) });
        }
    }

    pub(super) fn close_offer(&self, job: &str) {
        if self.inner.offers.lock().expect("lock").remove(job).is_some() {
            self.emit(ClientEvent::FallbackClosed { job: job.to_string() });
        }
    }

    /// The offers waiting for the user's answer now: this engine's, or (from another
    /// front end) the running client's.
    pub async fn fallback_offers(&self) -> Result<Vec<FallbackOffer>> {
        if self.is_agent() {
            return Ok(self.local_offers());
        }
        match crate::agent::ask(&AgentRequest::FallbackOffers).await {
            Some(AgentReply::Offers { offers }) => Ok(offers),
            Some(AgentReply::Refused { code, message }) => Err(super::session::refusal(&code, message)),
            _ => Err(no_running_client()),
        }
    }

    /// Answers the offer made for `job` (see [`Engine::answer_local`]): here, or (from
    /// another front end) to the running client, which made it.
    pub async fn answer_fallback(&self, job: &str, answer: FallbackAnswer) -> Result<()> {
        if self.is_agent() {
            return self.answer_local(job, answer);
        }
        match crate::agent::ask(&AgentRequest::Fallback { job: job.to_string(), answer }).await {
            Some(AgentReply::Done) => Ok(()),
            Some(AgentReply::Refused { code, message }) => Err(super::session::refusal(&code, message)),
            _ => Err(no_running_client()),
        }
    }

    /// This engine's offers.
    pub(crate) fn local_offers(&self) -> Vec<FallbackOffer> {
        let mut offers: Vec<FallbackOffer> =
            self.inner.offers.lock().expect("lock").values().map(|s| s.offer.clone()).collect();
        offers.sort_by(|a, b| a.job.cmp(&b.job));
        offers
    }

    /// Answers this engine's offer for `job`: a printer among those offered (by name), or
    /// an address typed where the offer allows it; try again; cancel.
    pub(crate) fn answer_local(&self, job: &str, answer: FallbackAnswer) -> Result<()> {
        let offers = self.inner.offers.lock().expect("lock");
        let slot = offers
            .get(job)
            .ok_or_else(|| ClientError::Config(format!("no job {job} waits for a fallback printer")))?;
        if let FallbackAnswer::Print { printer } = &answer {
            let known = slot.offer.printers.iter().any(|p| &p.name == printer);
            if !known && !slot.offer.may_type {
                let names: Vec<&str> = slot.offer.printers.iter().map(|p| p.name.as_str()).collect();
                return Err(ClientError::Config(if names.is_empty() {
                    "no printer is offered for this job: try again or cancel".to_string()
                } else {
                    format!("{printer} is not offered for this job: one of {}", names.join(", "))
                }));
            }
            if !known {
                typed_printer(printer)?;
            }
        }
        slot.answer.send(answer).map_err(|_| ClientError::Config("the job went on meanwhile".into()))
    }

    /// The printer a user's answer names, for the job's offer.
    pub(super) fn target_of(&self, job: &str, printer: &str, decision: &Decision) -> Result<FallbackTarget> {
        let unaccounted = matches!(decision, Decision::Offer { unaccounted: true, .. });
        let offer = self.inner.offers.lock().expect("lock").get(job).map(|s| s.offer.clone());
        let offered = offer.as_ref().and_then(|o| o.printers.iter().find(|p| p.name == printer));
        let fingerprint = match decision {
            Decision::Offer { printers, .. } => {
                printers.iter().find(|p| p.name == printer).and_then(|p| p.fingerprint.clone())
            }
            _ => None,
        };
        Ok(match offered {
            Some(p) => FallbackTarget { name: p.name.clone(), uri: p.uri.clone(), fingerprint, unaccounted },
            None => {
                let uri = typed_printer(printer)?;
                FallbackTarget { name: uri.clone(), uri, fingerprint: None, unaccounted }
            }
        })
    }

    // ----- printing offline -----

    /// Whether a spooled document is on its way to a fallback printer already (a
    /// previous run chose it): it goes on there, not to the server.
    pub(crate) fn fallback_under_way(document: &Path) -> bool {
        progress_path(document).exists()
    }

    /// Sends a spooled document to the fallback printer the user chose (or, taken up
    /// after a restart, the one chosen then): the job is written to the journal before
    /// it goes, sent once, followed to its end, and its outcome journaled before the
    /// document is dropped. Reported to the server by the journal's replay.
    pub(crate) async fn print_offline(
        &self,
        job: &JobSubmission,
        document: &Path,
        target: Option<FallbackTarget>,
    ) {
        match self.try_print_offline(job, document, target).await {
            Ok(outcome) if outcome.printed => {
                let printer = self.printed_on(document).unwrap_or_default();
                crate::local_spool::forget(document).await;
                self.emit(ClientEvent::OfflinePrinted { name: job.name.clone(), printer });
            }
            Ok(outcome) => {
                let reason = outcome.reason.unwrap_or_else(|| "the printer did not print it".into());
                self.refused(
                    job,
                    &ClientError::OfflineRefused(format!("the fallback printer failed: {reason}")),
                );
                crate::local_spool::forget(document).await;
            }
            // Kept for the next start: the journal and the progress file say where it was.
            Err(e) => {
                tracing::error!(job = %job.name, error = %format!("{e:#}"), "printing offline failed; kept")
            }
        }
        self.note_journal();
        let engine = self.clone();
        tokio::spawn(async move {
            if engine.status().connection == Connection::Online {
                let _ = engine.replay_journal().await;
            }
        });
    }

    fn printed_on(&self, document: &Path) -> Option<String> {
        read_progress(&progress_path(document)).map(|p| p.record.printer)
    }

    async fn try_print_offline(
        &self,
        job: &JobSubmission,
        document: &Path,
        target: Option<FallbackTarget>,
    ) -> anyhow::Result<OfflineOutcome> {
        let _serial = self.inner.journal_lock.lock().await;
        let path = progress_path(document);
        let mut progress = match (read_progress(&path), target) {
            (Some(p), _) => p,
            (None, Some(target)) => {
                let user = self.status().user.ok_or(ClientError::NotLoggedIn)?;
                let pages = match job.pages {
                    Some(p) => p,
                    None => {
                        let key = self.spool_key().await?;
                        ream_print::spool::count_pages(&key, document)
                            .await
                            .map_err(|e| anyhow::anyhow!("cannot count the document's pages: {e:?}"))?
                    }
                };
                let progress = FallbackProgress {
                    record: OfflineJob {
                        job: job.client_job_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                        user: user.username,
                        queue: job
                            .queue
                            .clone()
                            .unwrap_or_else(|| self.default_queue_name().unwrap_or_default()),
                        name: job.name.clone(),
                        printer: target.name,
                        printer_uri: target.uri,
                        pages,
                        copies: job.copies.max(1),
                        colour: job.color_mode.as_deref() != Some("monochrome"),
                        duplex: job.sides.as_deref().is_some_and(|s| s.starts_with("two-sided")),
                        media: job.media.clone().unwrap_or_else(|| "iso_a4_210x297mm".into()),
                        unaccounted: target.unaccounted,
                    },
                    fingerprint: target.fingerprint,
                    printer_job_id: None,
                    floor: None,
                };
                write_progress(&path, &progress)?;
                crate::crash_point("fallback-chosen");
                progress
            }
            (None, None) => anyhow::bail!("no printer was chosen for this job"),
        };
        let journal = Journal::here();
        let trace = journal.trace(&progress.record.job)?;
        if let Some(outcome) = trace.outcome {
            return Ok(outcome);
        }
        if trace.job.is_none() {
            let key = self.workstation_key().await?;
            journal.append(&key, JournalRecord::Job(progress.record.clone()))?;
            self.note_journal();
            crate::crash_point("fallback-journaled");
        }
        let outcome = match self.send_offline(&mut progress, &path, document).await {
            Ok((printer_job_id, impressions)) => OfflineOutcome {
                job: progress.record.job.clone(),
                printed: true,
                reason: None,
                printer_job_id: Some(i64::from(printer_job_id)),
                impressions,
            },
            Err(e) if ream_print::printer::is_transient(&e) => return Err(e),
            Err(e) => OfflineOutcome {
                job: progress.record.job.clone(),
                printed: false,
                reason: Some(format!("{e:#}")),
                printer_job_id: progress.printer_job_id.map(i64::from),
                impressions: None,
            },
        };
        crate::crash_point("fallback-printed");
        let key = self.workstation_key().await?;
        journal.append(&key, JournalRecord::Outcome(outcome.clone()))?;
        tracing::info!(job = %progress.record.name, printer = %progress.record.printer, printed = outcome.printed,
            "printed offline");
        crate::crash_point("fallback-reported");
        Ok(outcome)
    }

    fn default_queue_name(&self) -> Option<String> {
        Some(self.offline_terms()?.queue(None)?.name.clone())
    }

    async fn send_offline(
        &self,
        progress: &mut FallbackProgress,
        path: &Path,
        document: &Path,
    ) -> anyhow::Result<(i32, Option<i64>)> {
        let record = progress.record.clone();
        let sending = super::printing::Sending {
            document,
            uri: &record.printer_uri,
            fingerprint: progress.fingerprint.as_deref(),
            name: &record.name,
            user: &record.user,
            copies: record.copies,
            duplex: record.duplex,
            colour: record.colour,
            media: &record.media,
            progress: ream_print::printer::Progress {
                printer_job_id: progress.printer_job_id,
                floor: progress.floor,
            },
            sent: "fallback-sent",
        };
        // Each step is kept in the progress file, with the record it belongs to.
        let kept = std::sync::Arc::new(Mutex::new(progress.clone()));
        let sent = self
            .send_and_follow(sending, |p| {
                let kept = kept.clone();
                let path = path.to_path_buf();
                async move {
                    let mut now = kept.lock().expect("lock").clone();
                    now.printer_job_id = p.printer_job_id;
                    now.floor = p.floor;
                    write_progress(&path, &now)?;
                    *kept.lock().expect("lock") = now;
                    Ok(())
                }
            })
            .await;
        *progress = kept.lock().expect("lock").clone();
        sent
    }

    // ----- the journal's replay -----

    /// Shows in the status how many jobs printed offline wait to be reported.
    pub fn note_journal(&self) {
        let pending = Journal::here().pending().unwrap_or_default();
        let jobs: std::collections::HashSet<&str> = pending.iter().map(|e| e.job()).collect();
        let count = jobs.len() as u32;
        self.update(|s| s.offline_pending = count);
    }

    /// Sends the journal's pending entries to the server, oldest first; each one the
    /// server answered leaves the pending ones. Returns of how many jobs the entries were
    /// taken, and of how many some were refused.
    pub async fn replay_journal(&self) -> Result<(u32, u32)> {
        let _serial = self.inner.journal_lock.lock().await;
        let journal = Journal::here();
        let pending =
            journal.pending().map_err(|e| ClientError::Config(format!("the offline journal: {e}")))?;
        if pending.is_empty() {
            return Ok((0, 0));
        }
        let workstation = self.settings().workstation_id.ok_or(ClientError::NotEnrolled)?;
        let (mut taken, mut refused) = (std::collections::HashSet::new(), std::collections::HashSet::new());
        for chunk in pending.chunks(REPLAY_BATCH) {
            let batch = JournalBatch { entries: chunk.to_vec() };
            let receipt = self.observe(self.api()?.journal(&workstation, &batch).await)?;
            crate::crash_point("journal-replayed");
            let mut answered = Vec::new();
            let job_of =
                |id: &str| chunk.iter().find(|e| e.id == id).map(|e| e.job().to_string()).unwrap_or_default();
            for r in receipt.results {
                match r.status {
                    JournalStatus::Accepted | JournalStatus::Duplicate => {
                        taken.insert(job_of(&r.id));
                    }
                    JournalStatus::Refused => {
                        refused.insert(job_of(&r.id));
                        tracing::warn!(entry = %r.id, reason = ?r.reason, "the server refused an offline journal entry");
                    }
                }
                answered.push(r.id);
            }
            journal
                .acknowledge(&answered)
                .map_err(|e| ClientError::Config(format!("the offline journal: {e}")))?;
        }
        drop(_serial);
        self.note_journal();
        // A job one of whose entries was refused is not reported.
        let taken = taken.difference(&refused).count() as u32;
        let refused = refused.len() as u32;
        tracing::info!(reported = taken, refused, "offline journal replayed");
        self.emit(ClientEvent::OfflineReported { reported: taken, refused });
        Ok((taken, refused))
    }

    /// Replays the journal whenever the server is reachable, for as long as the engine
    /// lives (the running client's task).
    pub async fn run_journal(&self) {
        self.note_journal();
        let mut status = self.watch_status();
        loop {
            if status.borrow_and_update().connection == Connection::Online
                && self.status().offline_pending > 0
            {
                if let Err(e) = self.replay_journal().await {
                    tracing::warn!(error = %e, "cannot report the offline journal yet");
                }
            }
            if let Ok(Err(_)) = tokio::time::timeout(Duration::from_secs(30), status.changed()).await {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_printer_is_an_ipp_address_or_a_host() {
        assert_eq!(typed_printer("printer.example").unwrap(), "ipp://printer.example:631/ipp/print");
        assert_eq!(typed_printer("10.0.0.7:8631").unwrap(), "ipp://10.0.0.7:8631/ipp/print");
        assert_eq!(typed_printer("ipps://p.example/ipp/print").unwrap(), "ipps://p.example/ipp/print");
        for bad in ["", "http://p.example/", "file:///etc/passwd", "p.example/../x", "a b", "socket://p:9100"]
        {
            assert!(typed_printer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn queues_leading_to_this_client_are_left_out() {
        use crate::cups::leads_to_client as leads_to_ream;
        assert!(leads_to_ream("ipp://127.0.0.1:8632/ipp/print", 8632));
        assert!(leads_to_ream("ipp://localhost:8632/ipp/print/Secure", 8632));
        // Another printer on this computer is the user's to pick.
        assert!(!leads_to_ream("ipp://127.0.0.1:9000/ipp/print", 8632));
        assert!(!leads_to_ream("ipp://10.0.0.7/ipp/print", 8632));
        assert!(!leads_to_ream("usb://HP/LaserJet", 8632));
        assert!(!leads_to_ream("socket://127.0.0.1:9100", 8632));
    }
}
