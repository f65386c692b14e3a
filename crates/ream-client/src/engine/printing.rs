//! Printing: the local spool's key, the user's jobs, documents printed to this
//! workstation taken to the server, and held documents sent to a printer.

use ream_wire::FallbackAnswer;

use super::offline::FallbackTarget;
use super::*;
use crate::offline::Decision;

/// A spooled document on its way to a printer (see [`Engine::send_and_follow`]).
pub(super) struct Sending<'a> {
    pub document: &'a std::path::Path,
    pub uri: &'a str,
    pub fingerprint: Option<&'a str>,
    pub name: &'a str,
    pub user: &'a str,
    pub copies: i64,
    pub duplex: bool,
    pub colour: bool,
    pub media: &'a str,
    /// How far it went before (after a restart).
    pub progress: ream_print::printer::Progress,
    /// The crash point once the printer has it (see [`crate::crash_point`]).
    pub sent: &'static str,
}

/// Where a document printed here went.
#[derive(Debug)]
pub(crate) enum Taken {
    /// The server has it as this job.
    Server(ream_wire::Job),
    /// The server cannot be reached, and the user sent it to this printer.
    Fallback(FallbackTarget),
}

/// The user's offline jobs the server has not heard of yet, as My jobs shows them.
fn unreported(username: &str) -> Vec<ream_wire::Job> {
    use ream_wire::{JobState, JournalRecord};
    let pending = crate::journal::Journal::here().pending().unwrap_or_default();
    let mut jobs: Vec<ream_wire::Job> = Vec::new();
    for entry in &pending {
        match &entry.record {
            JournalRecord::Job(j) if j.user == username => jobs.push(ream_wire::Job {
                id: format!("offline-{}", j.job),
                name: j.name.clone(),
                queue: j.queue.clone(),
                state: JobState::Printing,
                reason: Some("printed without the server; reported when it is back".into()),
                pages: j.pages,
                copies: j.copies,
                colour: j.colour,
                duplex: j.duplex,
                media: j.media.clone(),
                price_cents: 0,
                printer: Some(j.printer.clone()),
                payment: None,
                project: None,
                created_at_ms: entry.at_ms,
                updated_at_ms: entry.at_ms,
                offline: true,
                local: false,
            }),
            JournalRecord::Local(l) if l.user == username => jobs.push(ream_wire::Job {
                id: format!("offline-{}", l.job),
                name: l.name.clone(),
                queue: l.cups_queue.clone(),
                state: JobState::Printing,
                reason: Some("printed without the server; reported when it is back".into()),
                pages: l.pages,
                copies: l.copies,
                colour: l.colour,
                duplex: l.duplex,
                media: l.media.clone(),
                price_cents: 0,
                printer: Some(l.cups_queue.clone()),
                payment: None,
                project: None,
                created_at_ms: entry.at_ms,
                updated_at_ms: entry.at_ms,
                offline: true,
                local: true,
            }),
            JournalRecord::Outcome(o) => {
                if let Some(job) = jobs.iter_mut().find(|job| job.id == format!("offline-{}", o.job)) {
                    job.state = if o.printed { JobState::Printed } else { JobState::Failed };
                    job.updated_at_ms = entry.at_ms;
                }
            }
            JournalRecord::Job(_) | JournalRecord::Local(_) => {}
        }
    }
    jobs
}

impl Engine {
    /// The keyring entry of the key that encrypts the documents kept in this client's
    /// cache folder: named after the folder, so two clients of one OS user with their own
    /// folders (another home, a test) never take each other's key for theirs.
    pub fn spool_key_entry() -> String {
        format!("{SPOOL_KEY_ENTRY} {}", cache_dir().display())
    }

    /// The key the local spool is encrypted with, from the OS keyring (made on first use).
    pub async fn spool_key(&self) -> Result<SpoolKey> {
        let mut cached = self.inner.spool_key.lock().await;
        if let Some(key) = cached.as_ref() {
            return Ok(key.clone());
        }
        let entry = Self::spool_key_entry();
        let scoped = self.secret_get(&entry).await?;
        let stored = match &scoped {
            Some(stored) => Some(stored.clone()),
            // Before the entry was named after the folder it had one name for every folder:
            // documents kept then stay readable.
            None => self.secret_get(SPOOL_KEY_ENTRY).await?,
        };
        let key = match stored {
            Some(stored) => SpoolKey::from_b64(&stored)
                .ok_or_else(|| ClientError::Keyring("the stored spool key is damaged".into()))?,
            None => SpoolKey::generate(),
        };
        if scoped.is_none() {
            self.secret_set(&entry, &key.to_b64()).await?;
        }
        *cached = Some(key.clone());
        Ok(key)
    }

    /// The user's jobs, newest first: the server's, those refused on the way to it (see
    /// [`crate::refusals`]) and those printed offline that the server has not heard of
    /// yet. While the server cannot be reached, only the last two.
    pub async fn jobs(&self) -> Result<Vec<ream_wire::Job>> {
        let mut jobs = match self.authed(|api, token| async move { api.jobs(&token).await }).await {
            Ok(list) => list.jobs,
            Err(ClientError::Unreachable(_) | ClientError::AnswerLost(_)) if self.status().user.is_some() => {
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        if let Some(user) = self.status().user {
            jobs.extend(crate::refusals::shown_to(&crate::refusals::path(), &user.username, now_ms()));
            jobs.extend(unreported(&user.username));
            jobs.sort_by_key(|j| std::cmp::Reverse(j.created_at_ms));
        }
        Ok(jobs)
    }

    /// Releases one of the user's held jobs (to the named printer of its queue, or its first).
    pub async fn release_job(&self, id: &str, printer: Option<&str>) -> Result<ream_wire::Job> {
        self.authed(|api, token| async move { api.release_job(&token, id, printer).await }).await
    }

    /// Deletes one of the user's jobs that has not printed.
    pub async fn delete_job(&self, id: &str) -> Result<ream_wire::Job> {
        self.authed(|api, token| async move { api.delete_job(&token, id).await }).await
    }

    /// What the user must decide about a waiting job.
    pub async fn job_dialog(&self, id: &str) -> Result<ream_wire::JobDialog> {
        self.authed(|api, token| async move { api.job_dialog(&token, id).await }).await
    }

    /// Answers a waiting job's dialog.
    pub async fn answer_job(&self, id: &str, answer: &ream_wire::JobAnswer) -> Result<ream_wire::Job> {
        self.authed(|api, token| async move { api.answer_job(&token, id, answer).await }).await
    }

    /// Takes a document printed to this workstation (already in the local spool) to the
    /// server for its user: asks for a login when nobody is identified, keeps trying while
    /// the server is unreachable or failing (with growing pauses, the user told once), and
    /// tells the outcome as an event. The spooled file is deleted only once the server has
    /// the job, or has refused it for good; every attempt carries the job's client id, so
    /// one whose answer was lost is not made twice.
    pub async fn print_spooled(&self, mut job: JobSubmission, document: std::path::PathBuf) {
        if job.queue.is_none() {
            job.queue = self.settings().queue;
        }
        // A previous run sent it to a fallback printer: it goes on there.
        if Self::fallback_under_way(&document) {
            return self.print_offline(&job, &document, None).await;
        }
        let outcome = self.submit_spooled(&job, &document).await;
        if let Ok(Taken::Fallback(target)) = outcome {
            return self.print_offline(&job, &document, Some(target)).await;
        }
        crate::local_spool::forget(&document).await;
        match outcome {
            Ok(Taken::Fallback(_)) => unreachable!("printed offline above"),
            Ok(Taken::Server(submitted)) => {
                tracing::info!(job = %job.name, id = %submitted.id, state = ?submitted.state, "job submitted");
                let waiting = submitted.state == ream_wire::JobState::WaitingForUser;
                let id = submitted.id.clone();
                self.emit(ClientEvent::JobSubmitted { job: submitted });
                if waiting {
                    match self.job_dialog(&id).await {
                        Ok(dialog) => self.emit(ClientEvent::JobDialog { dialog: Box::new(dialog) }),
                        Err(e) => tracing::warn!(error = %e, "cannot read the job's dialog"),
                    }
                }
            }
            Err(e) => self.refused(&job, &e),
        }
    }

    /// Tells of a job refused before the server made it (or by the server, at
    /// submission), and writes it down so that the user's job lists show it.
    pub(crate) fn refused(&self, job: &JobSubmission, e: &ClientError) {
        tracing::info!(job = %job.name, error = %e, "print job refused");
        let refusal = crate::refusals::Refusal {
            name: job.name.clone(),
            reason: e.to_string(),
            code: e.code().to_string(),
            queue: job.queue.clone(),
            user: self.status().user.map(|u| u.username),
            at_ms: now_ms(),
        };
        if let Err(error) = crate::refusals::record(&crate::refusals::path(), &refusal) {
            tracing::warn!(%error, "cannot write the refused job down");
        }
        self.emit(ClientEvent::JobRefused {
            name: job.name.clone(),
            reason: e.to_string(),
            code: e.code().to_string(),
        });
    }

    /// Submits until the server has the job or refuses it for good. Nobody logged in: waits
    /// for a login up to `login_wait_seconds`. The server unreachable or failing: tries
    /// again after growing pauses (1 s doubling to a minute), for as long as it takes;
    /// once it has been unreachable past the queue's `after_seconds`, the queue's
    /// offline policy applies: the job is refused, or the user is offered fallback
    /// printers (or only to try again or cancel), the tries going on meanwhile. A job the
    /// server may have received (its answer was lost) is never offered: it waits.
    pub(super) async fn submit_spooled(
        &self,
        job: &JobSubmission,
        document: &std::path::Path,
    ) -> Result<Taken> {
        let id = job.client_job_id.clone().unwrap_or_else(|| job.name.clone());
        let taken = self.submit_or_fall_back(job, document, &id).await;
        self.close_offer(&id);
        taken
    }

    async fn submit_or_fall_back(
        &self,
        job: &JobSubmission,
        document: &std::path::Path,
        id: &str,
    ) -> Result<Taken> {
        const FIRST_PAUSE: Duration = Duration::from_secs(1);
        const LONGEST_PAUSE: Duration = Duration::from_secs(60);
        let wait = Duration::from_secs(self.settings().login_wait_seconds);
        let mut deadline = tokio::time::Instant::now() + wait;
        let mut attempts = self.inner.login_attempts.subscribe();
        let mut status = self.watch_status();
        if status.borrow().user.is_none() {
            // The queue says how its users identify themselves.
            let methods = match self.server_queues().await {
                Ok(list) => list
                    .queues
                    .into_iter()
                    .find(|q| job.queue.as_deref().is_none_or(|name| q.name == name))
                    .map(|q| q.detection.login_methods())
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            let reason = format!("“{}” waits until you log in.", job.name);
            self.emit(ClientEvent::LoginRequired { reason, methods, job: Some(job.name.clone()) });
        }
        let mut pause = FIRST_PAUSE;
        let mut told = false;
        // The server may have this job already (an answer lost): it is never printed
        // elsewhere.
        let mut maybe_there = false;
        let mut offered: Option<(Decision, tokio::sync::mpsc::UnboundedReceiver<FallbackAnswer>)> = None;
        let mut show_again = false;
        loop {
            let logged_in = status.borrow_and_update().user.is_some();
            if logged_in {
                match self.submit_now(job, document).await {
                    Ok(submitted) => return Ok(Taken::Server(submitted)),
                    Err(e) if e.is_transient() => {
                        if matches!(e, ClientError::AnswerLost(_)) {
                            maybe_there = true;
                            // The server may have the job now: it must not print elsewhere.
                            if offered.take().is_some() {
                                self.close_offer(id);
                            }
                        }
                        tracing::warn!(job = %job.name, error = %e, "cannot submit yet; the document is kept");
                        if !told {
                            told = true;
                            self.emit(ClientEvent::JobDelayed {
                                name: job.name.clone(),
                                reason: e.to_string(),
                                code: e.code().to_string(),
                            });
                        }
                        if offered.is_none() && !maybe_there && self.offline_long_enough(job) {
                            match self.offline_decision(job) {
                                Decision::Refuse { reason } => {
                                    return Err(ClientError::OfflineRefused(reason))
                                }
                                Decision::Wait { reason } => {
                                    tracing::info!(job = %job.name, %reason, "the job waits for the server")
                                }
                                decision @ Decision::Offer { .. } => {
                                    let answers = self.offer_fallback(job, &decision, &e.to_string()).await;
                                    offered = Some((decision, answers));
                                }
                            }
                        } else if show_again {
                            self.offer_again(id);
                        }
                        show_again = false;
                        // The next try comes after the pause, or sooner when the server
                        // is back (a status change) or the user answers the offer.
                        let answer = async {
                            match offered.as_mut() {
                                Some((_, answers)) => answers.recv().await,
                                None => std::future::pending().await,
                            }
                        };
                        tokio::select! {
                            changed = tokio::time::timeout(pause, status.changed()) => {
                                if let Ok(Err(_)) = changed {
                                    return Err(ClientError::NotLoggedIn);
                                }
                            }
                            Some(answer) = answer => {
                                let decision = &offered.as_ref().expect("answered an offer").0;
                                match answer {
                                    FallbackAnswer::Print { printer } => {
                                        let target = self.target_of(id, &printer, decision)?;
                                        return Ok(Taken::Fallback(target));
                                    }
                                    FallbackAnswer::Cancel => return Err(ClientError::Cancelled),
                                    FallbackAnswer::TryAgain => {
                                        pause = FIRST_PAUSE;
                                        show_again = true;
                                        continue;
                                    }
                                }
                            }
                        }
                        pause = (pause * 2).min(LONGEST_PAUSE);
                        continue;
                    }
                    // The session ended meanwhile: once the engine has let the user go, wait
                    // for a login as at first.
                    Err(e) if e.needs_login() => {
                        let _ = tokio::time::timeout(pause, status.changed()).await;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            // The wait runs from the prompt, and again from each login attempt.
            let changed = tokio::time::timeout_at(deadline, async {
                tokio::select! {
                    changed = status.changed() => changed,
                    tried = attempts.changed() => {
                        deadline = tokio::time::Instant::now() + wait;
                        tried
                    }
                }
            });
            match changed.await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(ClientError::NotLoggedIn),
                // A login that succeeded as the wait ran out takes the job.
                Err(_) if status.borrow_and_update().user.is_some() => {}
                Err(_) => {
                    return Err(ClientError::Config(format!("nobody logged in within {} s", wait.as_secs())))
                }
            }
        }
    }

    /// Submits a spooled document: the whole document for a queue that spools on the
    /// server; for one that spools on the client only its description (with the pages
    /// counted here), the document moving to the held documents until it is released.
    pub(super) async fn submit_now(
        &self,
        job: &JobSubmission,
        document: &std::path::Path,
    ) -> Result<ream_wire::Job> {
        let key = self.spool_key().await?;
        let queues = self.server_queues().await?.queues;
        let queue = queues.iter().find(|q| match &job.queue {
            Some(name) => &q.name == name,
            None => q.default,
        });
        if queue.is_none_or(|q| q.spooling != ream_wire::SpoolingMode::Client) {
            // A document that cannot be read here (damaged, or under another key) breaks
            // the upload like a lost connection would; it is told apart, as no retry mends it.
            let unreadable = Arc::new(Mutex::new(None::<String>));
            let submitted = self
                .authed(|api, token| {
                    let key = key.clone();
                    let unreadable = unreadable.clone();
                    let body = ream_print::spool::read(&key, document).inspect_err(move |e| {
                        *unreadable.lock().expect("lock") = Some(e.to_string());
                    });
                    async move { api.submit_job(&token, job, body).await }
                })
                .await;
            if let (Err(_), Some(reason)) = (&submitted, unreadable.lock().expect("lock").take()) {
                return Err(ClientError::Config(format!("the spooled document cannot be read: {reason}")));
            }
            return submitted;
        }
        // Counted when the document came in; a document spooled before that was done is
        // counted now.
        let counted = match job.pages {
            Some(pages) => Ok(pages),
            None => ream_print::spool::count_pages(&key, document).await,
        };
        let pages = match counted {
            Ok(pages) => pages,
            Err(ream_print::spool::CountError::Document(reason)) => {
                return Err(ClientError::Config(format!("the document cannot be read: {reason}")))
            }
            Err(ream_print::spool::CountError::TooLarge(limit)) => {
                return Err(ClientError::Config(format!("the document is larger than {limit} bytes")))
            }
            Err(ream_print::spool::CountError::Io(e)) => {
                return Err(ClientError::Config(format!("cannot read the spooled document: {e}")))
            }
        };
        let holder =
            crate::held::holder_id().map_err(|e| ClientError::Config(format!("held documents: {e}")))?;
        let description = JobSubmission { pages: Some(pages), holder: Some(holder), ..job.clone() };
        let submitted = self
            .authed(|api, token| {
                let description = description.clone();
                async move { api.submit_job(&token, &description, futures_util::stream::empty()).await }
            })
            .await?;
        let kept = crate::held::document_of(&submitted.id);
        if let Err(e) = tokio::fs::rename(document, &kept).await {
            tracing::warn!(error = %e, job = %submitted.id, "cannot keep the document of a client-spooled job");
        }
        Ok(submitted)
    }

    /// Sends a held document to the printer its owner released it to, follows it there
    /// and reports the outcome; the document goes once the server has the report.
    pub(super) async fn print_here(&self, job: ream_wire::Job, target: ream_wire::PrintTarget) {
        if !self.inner.printing_here.lock().expect("lock").insert(job.id.clone()) {
            return;
        }
        let document = crate::held::document_of(&job.id);
        let report = match self.send_to_printer(&job, &target, &document).await {
            // The printer's job id lets the server ask the printer itself.
            Ok((printer_job_id, impressions)) => ream_wire::DeliveryReport {
                printed: true,
                reason: None,
                printer_job_id: Some(printer_job_id),
                impressions,
            },
            Err(e) => {
                tracing::warn!(job = %job.id, error = %format!("{e:#}"), "printing a held job failed");
                ream_wire::DeliveryReport {
                    printed: false,
                    reason: Some(format!("{e:#}")),
                    printer_job_id: None,
                    impressions: None,
                }
            }
        };
        let reported = self
            .authed(|api, token| {
                let report = report.clone();
                let id = job.id.clone();
                async move { api.report_outcome(&token, &id, &report).await }
            })
            .await;
        match reported {
            Ok(_) => crate::held::forget(&job.id).await,
            // Not reported: the server asks again when this client reconnects.
            Err(e) => tracing::warn!(job = %job.id, error = %e, "cannot report a held job's outcome"),
        }
        self.inner.printing_here.lock().expect("lock").remove(&job.id);
    }

    pub(super) async fn send_to_printer(
        &self,
        job: &ream_wire::Job,
        target: &ream_wire::PrintTarget,
        document: &std::path::Path,
    ) -> anyhow::Result<(i32, Option<i64>)> {
        let sending = Sending {
            document,
            uri: &target.uri,
            fingerprint: target.fingerprint.as_deref(),
            name: &job.name,
            user: &target.user,
            copies: job.copies,
            duplex: job.duplex,
            colour: job.colour,
            media: &job.media,
            // Sent once, whatever stops this client in between (see `held::progress_of`).
            progress: crate::held::read_progress(&job.id),
            sent: "held-sent",
        };
        self.send_and_follow(sending, |p| async move {
            crate::held::write_progress(&job.id, p)?;
            Ok(())
        })
        .await
    }

    /// Sends a spooled document to a printer once (`ream_print::printer::send_once`,
    /// each step given to `note`) and follows it to its end: the printer's job id, and
    /// the impressions it counted.
    pub(super) async fn send_and_follow<F, Fut>(
        &self,
        s: Sending<'_>,
        note: F,
    ) -> anyhow::Result<(i32, Option<i64>)>
    where
        F: FnMut(ream_print::printer::Progress) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>>,
    {
        use ream_print::printer;
        anyhow::ensure!(s.document.exists(), "the document is no longer on this workstation");
        let key = self.spool_key().await?;
        let document = printer::Document::Spooled { path: s.document.to_path_buf(), key };
        let http = printer::http_client(s.fingerprint);
        let request = printer::PrintRequest {
            document: &document,
            job_name: s.name,
            user: s.user,
            copies: s.copies,
            duplex: s.duplex,
            colour: s.colour,
            media: s.media,
        };
        let patience = Duration::from_secs(600);
        let printer_job = printer::send_once(&http, s.uri, &request, s.progress, patience, note).await?;
        crate::crash_point(s.sent);
        match printer::follow(&http, s.uri, printer_job, s.user, patience).await? {
            printer::Outcome::Completed { impressions } => Ok((printer_job, impressions)),
            printer::Outcome::Failed(reason) => anyhow::bail!(reason),
        }
    }
}
