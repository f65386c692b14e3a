//! Print jobs on the server: accepting a document from a client, what the job dialog
//! asks, holding and releasing, delivery to a printer over IPP(S) and the outcome. Each
//! concern has its module; what a job costs is `crate::pricing`, what it reserves and is
//! charged is the store's ledger (`store::ledger`), written with every move of the job.
//!
//! - `submit` — a document streamed to the spool (encrypted, pages counted on the way
//!   in) or, for a client-spooled queue, only its description; priced, its account
//!   settled when there is nothing to ask; repeated submissions answered once.
//! - `dialog` — what the user must choose (payment, project, confirmation, the queue
//!   script's questions) and how answers are checked and applied.
//! - `release` — release to a printer, deletion, reprints of pull jobs, expiry.
//! - `capabilities` — what a printer really prints (colour, duplex, paper), for the price.
//! - `offline` — what a client keeps to work offline, and the journals of what
//!   workstations printed meanwhile, taken once each.
//! - `delivery` — sending to the printer and following the job there, the holder's
//!   outcome report for client-spooled jobs, and resuming after a restart.
//! - `local` — local print monitoring: jobs on workstations' own printers priced,
//!   their funds taken and a signed grant given to the workstation's CUPS backend.

mod capabilities;
mod delivery;
mod dialog;
mod local;
mod offline;
mod release;
mod submit;

pub use delivery::{deliver, report_outcome, resume, take_over, DeliveryRun};
pub use dialog::{answer, dialog};
pub use local::{authorise_local, local_terms, monitoring_info};
pub use offline::{entry_hash, take_journal, terms as offline_terms};
pub use release::{delete, expire_reprints, expire_waiting, release};
pub use submit::submit;

use ream_wire::Job;

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{JobRow, QueueRow, UserRow};

fn owned(job: &JobRow, user: &UserRow) -> AppResult<()> {
    // Someone else's job is as good as absent: its existence is not disclosed.
    if job.owner_id.as_deref() != Some(user.id.as_str()) {
        return Err(AppError::not_found("job"));
    }
    Ok(())
}

async fn queue_of(state: &AppState, job: &JobRow) -> AppResult<QueueRow> {
    state.store.queue_row_by_id(&job.queue_id).await
}

async fn drop_spool(state: &AppState, job: &JobRow) {
    if let Some(at) = &job.spool_file {
        if let Err(e) = state.documents.remove(at).await {
            tracing::warn!(job = %job.id, error = %format!("{e:#}"), "cannot delete a job's document");
        }
        let _ = state.store.clear_job_spool(&job.id).await;
    }
}

/// The owner's jobs, newest first.
pub async fn jobs_of(state: &AppState, user: &UserRow) -> AppResult<Vec<Job>> {
    Ok(state.store.jobs_of(&user.id, 100).await?.iter().map(|j| j.view()).collect())
}
