//! What an owner does with a job that waits: release it to a printer (again, for a
//! pull job printed recently: a reprint, charged again), delete it; and the janitor's
//! work: jobs left waiting past their queue's `held_hours` expire (their reservation and
//! document go, their owner is told through the push channel), kept documents of printed
//! pull jobs go after the reprint period.

use ream_wire::{ErrorCode, Job, JobState};

use super::{deliver, drop_spool, owned};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::UserRow;

/// Releases a held job to its queue's printer (or the one named).
pub async fn release(
    state: &AppState,
    user: &UserRow,
    job_id: &str,
    printer: Option<&str>,
) -> AppResult<Job> {
    let job = state.store.job(job_id).await?;
    owned(&job, user)?;
    let printers = state.store.queue_printers(&job.queue_id).await?;
    let target = match printer {
        Some(name) => printers
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| AppError::not_found(format!("printer {name} of this queue")))?,
        None => printers.first().ok_or_else(|| AppError::invalid("the job's queue has no printer"))?,
    };
    // A pull queue keeps a printed job's document for a while: releasing it again
    // prints it again, and charges it again.
    let reprint = job.state() == JobState::Printed && job.spool_file.is_some();
    if reprint {
        // Cleared before the move, so that a delivery resumed after a crash never takes
        // the first printing's completed printer job for this one.
        state.store.clear_printer_job_id(job_id).await?;
    }
    // The move takes the reservation again for a reprint, and is refused when the
    // account cannot cover it.
    let from: &[JobState] = if reprint { &[JobState::Printed] } else { &[JobState::Held] };
    if !state.store.move_job(job_id, from, JobState::Printing, None, Some(&target.id)).await? {
        return Err(AppError::new(
            ErrorCode::Conflict,
            "only a held job (or a pull job printed recently) can be released",
        ));
    }
    tokio::spawn(deliver(state.clone(), job_id.to_string()));
    Ok(state.store.job(job_id).await?.view())
}

/// Deletes the documents of pull jobs printed longer ago than the reprint period.
pub async fn expire_reprints(state: &AppState) -> AppResult<()> {
    let cutoff = state.now_ms() - state.config.reprint_hours * 3_600_000;
    for job in state.store.jobs_in_state(JobState::Printed).await? {
        if job.spool_file.is_some() && job.updated_at_ms < cutoff {
            drop_spool(state, &job).await;
        }
    }
    Ok(())
}

/// Expires the jobs that waited (held, or for their dialog's answers) longer than their
/// queue's `held_hours` (else the server's): each gives its reservation back in the move
/// (see `store::ledger`), and its document goes.
pub async fn expire_waiting(state: &AppState) -> AppResult<()> {
    let now = state.now_ms();
    let queues = state.store.queues().await?;
    let hours_of = |queue_id: &str| {
        queues
            .iter()
            .find(|q| q.id == queue_id)
            .and_then(|q| q.queue.held_hours)
            .unwrap_or(state.config.held_hours)
    };
    let waiting = [JobState::WaitingForUser, JobState::Held];
    for kind in waiting {
        for job in state.store.jobs_in_state(kind).await? {
            let hours = hours_of(&job.queue_id);
            if job.created_at_ms + hours * 3_600_000 > now {
                continue;
            }
            let reason = format!("not released within {hours} hours");
            if state.store.move_job(&job.id, &waiting, JobState::Expired, Some(&reason), None).await? {
                tracing::info!(job = %job.id, hours, "expired");
                drop_spool(state, &job).await;
            }
        }
    }
    Ok(())
}

/// Deletes a job that has not printed (or whose printing failed); its document goes
/// with it, the record stays.
pub async fn delete(state: &AppState, user: &UserRow, job_id: &str) -> AppResult<Job> {
    let job = state.store.job(job_id).await?;
    owned(&job, user)?;
    if job.state() == JobState::Printed && job.spool_file.is_some() {
        // A printed pull job: its kept document goes, the record of its printing stays.
        drop_spool(state, &job).await;
        return Ok(state.store.job(job_id).await?.view());
    }
    let from = [JobState::Held, JobState::WaitingForUser, JobState::Failed, JobState::Expired];
    if !state.store.move_job(job_id, &from, JobState::Deleted, Some("deleted by its owner"), None).await? {
        return Err(AppError::new(ErrorCode::Conflict, "only a job that has not printed can be deleted"));
    }
    drop_spool(state, &job).await;
    Ok(state.store.job(job_id).await?.view())
}
