//! Delivery: a job in state `printing` is sent to its printer, followed there to the
//! end and moved to `printed` (which charges it, in the same transaction, exactly once)
//! or `failed` (which gives its reservation back). A client-spooled job is instead sent
//! by the client that keeps it, which reports the outcome. At start, jobs that were on
//! their way are taken up again without being sent twice.
//!
//! Several instances may serve one database, so a job is delivered under a lease: the
//! run that delivers it claims it with a compare-and-set (`Store::claim_delivery`),
//! renews the lease while it works, and every write it makes names its token, so a run
//! that lost the lease (paused, cut off) changes nothing. A job whose lease ran out (its
//! instance died) is taken up by whichever instance sweeps first (`take_over`), which
//! follows it on the printer if the printer has it already.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ream_print::printer::{self as ipp_printer, JobStatus, Outcome};
use ream_wire::{DeliveryReport, ErrorCode, Job, JobState, PrintCheck, ReleaseMode};

use super::{drop_spool, owned, queue_of};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{JobRow, UserRow};
use ream_print::pricing::price;

/// How long a printer may take to finish one job before the server gives up on it.
const PRINTER_PATIENCE: Duration = Duration::from_secs(600);

/// How long the server waits for a printer's answer about a job a client reports.
const PRINTER_QUESTION: Duration = Duration::from_secs(10);

/// This run of the server as a deliverer: its instance's name, a token of its own (a
/// restarted instance is another run), and the jobs it is delivering now.
pub struct DeliveryRun {
    instance: String,
    token: String,
    busy: Mutex<HashSet<String>>,
}

impl DeliveryRun {
    pub fn new(instance: &str) -> DeliveryRun {
        DeliveryRun {
            instance: instance.to_string(),
            token: format!("{instance}/{}", uuid::Uuid::new_v4()),
            busy: Mutex::default(),
        }
    }
}

/// What ends a delivery that another run now holds: it goes on there.
#[derive(Debug)]
struct LeaseLost;

impl std::fmt::Display for LeaseLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the job's delivery lease passed to another instance")
    }
}

impl std::error::Error for LeaseLost {}

/// Sends a job in state `printing` to its printer, follows it, and charges its owner
/// for what was printed. Runs in its own task; failures end in the job's state. A job
/// another run delivers is left to it.
pub async fn deliver(state: AppState, job_id: String) {
    deliver_taking(state, job_id, None).await
}

/// `take_from`: at start, the jobs a previous run of this instance held are taken at
/// once (an instance's name is one process at a time), not after their leases run out.
async fn deliver_taking(state: AppState, job_id: String, take_from: Option<String>) {
    let run = state.delivery.clone();
    if !run.busy.lock().expect("lock").insert(job_id.clone()) {
        return; // this run delivers it already
    }
    struct Done<'a>(&'a DeliveryRun, &'a str);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.busy.lock().expect("lock").remove(self.1);
        }
    }
    let _done = Done(&run, &job_id);
    let until = state.now_ms() + lease(&state).as_millis() as i64;
    match state.store.claim_delivery(&job_id, &run.instance, &run.token, until, take_from.as_deref()).await {
        Ok(true) => {}
        Ok(false) => return tracing::debug!(job = %job_id, "another instance delivers it"),
        Err(e) => {
            return tracing::warn!(job = %job_id, error = %e, "cannot claim the delivery; it is tried again")
        }
    }
    let outcome = tokio::select! {
        outcome = try_deliver(&state, &job_id, &run.token) => outcome,
        () = keep_lease(&state, &job_id, &run.token) => Err(LeaseLost.into()),
    };
    match outcome {
        Ok(()) => {}
        Err(e) if e.downcast_ref::<LeaseLost>().is_some() => {
            tracing::warn!(job = %job_id, "lost the job's delivery lease: another instance goes on with it");
        }
        Err(e) => {
            tracing::warn!(job = %job_id, error = %format!("{e:#}"), "delivery failed");
            let reason = format!("{e:#}");
            let failed = state.store.move_delivered(&job_id, &run.token, JobState::Failed, Some(&reason));
            if let (Ok(true), Ok(job)) = (failed.await, state.store.job(&job_id).await) {
                drop_spool(&state, &job).await;
            }
        }
    }
}

fn lease(state: &AppState) -> Duration {
    Duration::from_secs(state.config.cluster.lease_seconds)
}

/// Renews the lease every third of it; ends when the lease is lost (another run holds
/// it, or the database could not be told in time).
async fn keep_lease(state: &AppState, job_id: &str, token: &str) {
    let lease = lease(state);
    let mut held_until = Instant::now() + lease;
    loop {
        tokio::time::sleep(lease / 3).await;
        let until = state.now_ms() + lease.as_millis() as i64;
        match state.store.renew_delivery(job_id, token, until).await {
            Ok(true) => held_until = Instant::now() + lease,
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(job = %job_id, error = %e, "cannot renew the delivery lease");
                if Instant::now() >= held_until {
                    return;
                }
            }
        }
    }
}

/// Fails with [`LeaseLost`] when a fenced write changed nothing.
fn held(written: bool) -> anyhow::Result<()> {
    if written {
        Ok(())
    } else {
        Err(LeaseLost.into())
    }
}

async fn try_deliver(state: &AppState, job_id: &str, token: &str) -> anyhow::Result<()> {
    let job = state.store.job(job_id).await?;
    if job.holder.is_some() {
        // The client that keeps the document sends it, when its push channel tells it to
        // (at once if it is connected, else when it is back).
        return Ok(());
    }
    let printer_id = job.printer_id.clone().ok_or_else(|| anyhow::anyhow!("no printer chosen"))?;
    let printer = state.store.printer(&printer_id).await?;
    let spool = job.spool_file.clone().ok_or_else(|| anyhow::anyhow!("the job's document is gone"))?;
    let owner = match &job.owner_id {
        Some(id) => state.store.user_by_id(id).await?.username,
        None => "ream".into(),
    };
    let http = ipp_printer::http_client(printer.fingerprint.as_deref());
    // A printer without a duplex unit (or colour, or the paper asked for) prints what it
    // can, and the job is charged for what it really was: A3 counts twice only when A3 is
    // what the printer is sent.
    let caps = super::capabilities::ask(&printer).await?;
    let (colour, duplex, media) =
        super::capabilities::printed_as(Some(&caps), job.colour != 0, job.duplex != 0, &job.media);
    let job = if (duplex, colour, media.as_str()) != (job.duplex != 0, job.colour != 0, job.media.as_str()) {
        let price = price(&printer.price, job.pages, job.copies, colour, duplex, &media);
        held(state.store.set_job_printing(job_id, colour, duplex, &media, price, Some(token)).await?)?;
        state.store.job(job_id).await?
    } else {
        job
    };
    let document = state.documents.document(&spool, &state.spool_key)?;
    let request = ipp_printer::PrintRequest {
        document: &document,
        job_name: &job.name,
        user: &owner,
        copies: job.copies,
        duplex,
        colour,
        media: &job.media,
    };
    // A job the printer already has (the server stopped while following it, or just after
    // sending it) is followed, not sent again.
    let progress = ipp_printer::Progress {
        printer_job_id: job.printer_job_id.map(|id| id as i32),
        floor: job.printer_job_floor,
    };
    let printer_job =
        ipp_printer::send_once(&http, &printer.uri, &request, progress, PRINTER_PATIENCE, |p| async move {
            held(match p.printer_job_id {
                Some(id) => state.store.set_printer_job_id(job_id, i64::from(id), Some(token)).await?,
                None => state.store.set_printer_job_floor(job_id, p.floor.unwrap_or(0), Some(token)).await?,
            })
        })
        .await?;
    match ipp_printer::follow(&http, &printer.uri, printer_job, &owner, PRINTER_PATIENCE).await? {
        Outcome::Completed { impressions } => {
            let check = judge(&job, true, impressions, None);
            held(state.store.set_print_check(job_id, None, impressions, check, Some(token)).await?)?;
            // The one move out of `printing` that succeeds charges the job.
            held(state.store.move_delivered(job_id, token, JobState::Printed, None).await?)?;
            // Pull jobs keep their document for reprints; direct and private ones do not.
            if queue_of(state, &job).await?.queue.release != ReleaseMode::Pull {
                drop_spool(state, &job).await;
            }
            tracing::info!(job = %job_id, printer = %printer.name, "printed");
        }
        Outcome::Failed(reason) => {
            held(state.store.move_delivered(job_id, token, JobState::Failed, Some(&reason)).await?)?;
            // A failed job is not printed again from here: its document goes.
            drop_spool(state, &job).await;
        }
    }
    Ok(())
}

/// How a client-spooled job went, reported by its owner's client that sent it to the
/// printer: printed (and charged, once however often it is reported) or failed. A report
/// repeated because its answer was lost gets the job as the first one left it.
pub async fn report_outcome(
    state: &AppState,
    user: &UserRow,
    job_id: &str,
    report: &DeliveryReport,
) -> AppResult<Job> {
    let job = state.store.job(job_id).await?;
    owned(&job, user)?;
    if job.holder.is_none() {
        return Err(AppError::new(ErrorCode::Conflict, "the server prints this job itself"));
    }
    let (to, reason) = if report.printed {
        (JobState::Printed, None)
    } else {
        (JobState::Failed, Some(report.reason.as_deref().unwrap_or("the printer did not print it")))
    };
    if report.printed && job.state() == JobState::Printing && job.local() {
        // A workstation's own printer, out of the server's reach: what CUPS or the
        // printer counted is kept beside Ream's count, and charged by where the
        // administrator chose.
        let at_printer = report.impressions.filter(|n| *n > 0);
        let check = judge(&job, true, at_printer, None);
        state.store.set_print_check(job_id, None, report.impressions, check, None).await?;
        let charged = job.pages * job.copies;
        if let Some(counted) = at_printer.filter(|n| *n != charged) {
            tracing::warn!(job = %job_id, ream = charged, printer = counted, "the local printer's count differs from Ream's");
            if state.store.local_monitoring().await?.charge_by == ream_wire::LocalChargeBy::Printer {
                state.store.reprice_job(job_id, job.price_cents * counted / charged.max(1)).await?;
            }
        }
    } else if report.printed && job.state() == JobState::Printing {
        // The client's word is checked against the printer's where the server reaches it.
        let (at_printer, check) = ask_printer(state, &job, report).await;
        state.store.set_print_check(job_id, report.impressions, at_printer, check, None).await?;
        if check == PrintCheck::Mismatch {
            tracing::warn!(job = %job_id, reported = ?report.impressions, at_printer = ?at_printer,
                "the printer does not confirm what the client reported");
        }
    }
    if !state.store.move_job(job_id, &[JobState::Printing], to, reason, None).await? {
        let now = state.store.job(job_id).await?;
        if now.state() == to {
            return Ok(now.view());
        }
        return Err(AppError::new(ErrorCode::Conflict, "this job is not printing"));
    }
    if report.printed {
        tracing::info!(job = %job_id, "printed by the client that keeps it");
    }
    Ok(state.store.job(job_id).await?.view())
}

/// How a printed job compares with its printer: the printer must have completed it, and
/// a count it gives (0 is taken for "not counted", as printers that do not count say)
/// must be the impressions charged, pages × copies, and what the client reported.
fn judge(job: &JobRow, completed: bool, at_printer: Option<i64>, reported: Option<i64>) -> PrintCheck {
    let charged = job.pages * job.copies;
    let counted = at_printer.filter(|n| *n > 0);
    let agrees = |n: Option<i64>| n.is_none_or(|n| n == charged);
    if completed && agrees(counted) && (counted.is_none() || reported.is_none_or(|r| Some(r) == counted)) {
        PrintCheck::Confirmed
    } else {
        PrintCheck::Mismatch
    }
}

/// Asks the job's printer how the job the client says it printed went there.
async fn ask_printer(state: &AppState, job: &JobRow, report: &DeliveryReport) -> (Option<i64>, PrintCheck) {
    let (Some(printer_id), Some(printer_job)) = (&job.printer_id, report.printer_job_id) else {
        return (None, PrintCheck::Unverified);
    };
    let Ok(printer) = state.store.printer(printer_id).await else { return (None, PrintCheck::Unverified) };
    let http = ipp_printer::http_client(printer.fingerprint.as_deref());
    let asked =
        tokio::time::timeout(PRINTER_QUESTION, ipp_printer::job_status(&http, &printer.uri, printer_job));
    match asked.await {
        Ok(Ok(status)) => {
            let completed = status.state == JobStatus::COMPLETED;
            (status.impressions, judge(job, completed, status.impressions, report.impressions))
        }
        // Out of the server's reach: the client's word stands, marked as not checked.
        Ok(Err(e)) if ipp_printer::is_transient(&e) => (None, PrintCheck::Unverified),
        Err(_) => (None, PrintCheck::Unverified),
        // The printer answered, and does not know the job as printed.
        Ok(Err(_)) => (None, PrintCheck::Mismatch),
    }
}

/// At start: takes up the jobs that were on their way to a printer when this instance
/// stopped. One the printer had already received is followed there, not sent twice;
/// one another instance delivers is left to it.
pub async fn resume(state: AppState) {
    match state.store.jobs_in_state(JobState::Printing).await {
        Ok(jobs) => {
            for job in jobs.into_iter().filter(|j| j.holder.is_none()) {
                tracing::info!(job = %job.id, "resuming delivery");
                let instance = state.delivery.instance.clone();
                tokio::spawn(deliver_taking(state.clone(), job.id, Some(instance)));
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot list the jobs to resume"),
    }
}

/// For as long as the server runs: takes up the jobs whose delivery no run holds (an
/// instance died with them, or a claim failed), every half lease.
pub async fn take_over(state: AppState) {
    let mut tick = tokio::time::interval(lease(&state) / 2);
    loop {
        tick.tick().await;
        match state.store.deliveries_to_take().await {
            Ok(jobs) => {
                for job in jobs {
                    tokio::spawn(deliver(state.clone(), job));
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list the deliveries to take up"),
        }
    }
}
