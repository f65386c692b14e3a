//! Submission: a client hands over a job for its user. The document is streamed to the
//! spool (encrypted, pages counted on the way in), or for a client-spooled queue only
//! its description comes; the job is priced by the queue's printer's price list and,
//! when nothing needs asking, settled at once: its reservation taken with its record
//! (`store::ledger`), then printed or held. A submission repeated under the same client
//! job id (its answer was lost) returns the job made the first time.

use futures_util::{StreamExt, TryStreamExt};
use ream_print::spool::CountError;
use ream_wire::{ErrorCode, Job, JobAnswer, JobState, JobSubmission, ReleaseMode, SpoolingMode};

use super::deliver;
use super::dialog::{choices, run_first_pass, settle};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{NewJob, QueueRow, UserRow};
use ream_print::pricing::price;

async fn queue_for(state: &AppState, name: Option<&str>) -> AppResult<QueueRow> {
    let queues = state.store.queues().await?;
    match name.or(state.config.default_queue.as_deref()) {
        Some(n) => queues
            .into_iter()
            .find(|q| q.queue.name == n)
            .ok_or_else(|| AppError::not_found(format!("queue {n}"))),
        None if queues.len() == 1 => Ok(queues.into_iter().next().expect("one")),
        None => {
            Err(AppError::invalid("name a queue: this server has several (or none) and no default_queue"))
        }
    }
}

/// Streams an uploaded document into the spool, encrypted, counting its pages on the way:
/// its pages, where it is, its size. Refused past `max_job_bytes`, and with `SPOOL_FULL`
/// past what the user's other kept documents leave of `max_user_spool_bytes` or when the
/// disk is full.
async fn spool_document<S, E>(state: &AppState, user: &UserRow, body: S) -> AppResult<(i64, String, u64)>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let body = tokio_util::io::StreamReader::new(body.map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::ConnectionAborted, format!("upload broke off: {e}"))
    }));
    let kept = u64::try_from(state.store.spooled_bytes_of(&user.id).await?).unwrap_or(0);
    let room = state.config.max_user_spool_bytes.saturating_sub(kept);
    let limit = state.config.max_job_bytes.min(room);
    match state.documents.put(&state.spool_key, body, limit).await {
        Ok((bytes, pages, at)) => Ok((pages, at, bytes)),
        Err(CountError::Document(reason)) => Err(AppError::new(ErrorCode::DocumentInvalid, reason)),
        Err(CountError::TooLarge(_)) if room < state.config.max_job_bytes => Err(AppError::new(
            ErrorCode::SpoolFull,
            format!(
                "your jobs waiting on the server already keep {kept} of the {} bytes they may; \
                 print or delete some, or wait for them to expire",
                state.config.max_user_spool_bytes
            ),
        )),
        Err(CountError::TooLarge(limit)) => Err(AppError::new(
            ErrorCode::DocumentInvalid,
            format!("the document is larger than this server accepts ({limit} bytes)"),
        )),
        Err(CountError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionAborted => {
            Err(AppError::invalid(e.to_string()))
        }
        Err(CountError::Io(e)) if e.kind() == std::io::ErrorKind::StorageFull => {
            tracing::error!("the spool's disk is full: uploads are refused");
            Err(AppError::new(
                ErrorCode::SpoolFull,
                "the server's disk is full; the document is not taken now",
            ))
        }
        Err(CountError::Io(e))
            if e.get_ref().is_some_and(|inner| inner.is::<crate::documents::StoreFailed>()) =>
        {
            tracing::error!(error = %e, "an upload could not be stored: it is turned away");
            Err(AppError::unavailable("the server cannot keep documents now; try again shortly"))
        }
        Err(CountError::Io(e)) => Err(anyhow::Error::from(e).into()),
    }
}

/// Accepts a document from its owner's client: spools it, counts and prices it, and
/// either settles it at once (nothing to ask: the one possible account reserves its
/// price, then it is printed or held) or leaves it waiting for the user's answers to
/// its job dialog.
pub async fn submit<S, E>(state: &AppState, user: &UserRow, sub: JobSubmission, mut body: S) -> AppResult<Job>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    if sub.name.len() > 500 || !(1..=999).contains(&sub.copies) {
        return Err(AppError::invalid("a job has a name of at most 500 characters and 1 to 999 copies"));
    }
    let client_job_id = sub.client_job_id.as_deref();
    if client_job_id.is_some_and(|id| id.is_empty() || id.len() > 100) {
        return Err(AppError::invalid("a client job id has 1 to 100 characters"));
    }
    if let Some(id) = client_job_id {
        if let Some(first) = state.store.job_by_client_id(&user.id, id).await? {
            // The answer to the first submission was lost: this one is the same job. Its
            // document is read to the end (and dropped) so the client hears the answer.
            while let Some(Ok(_)) = body.next().await {}
            return Ok(first.view());
        }
    }
    let queue = queue_for(state, sub.queue.as_deref()).await?;
    let printers = state.store.queue_printers(&queue.id).await?;
    let printer = printers
        .first()
        .ok_or_else(|| AppError::invalid(format!("queue {} has no printer", queue.queue.name)))?;
    let choices = choices(state, user, &queue).await?;

    let (pages, path, spool_bytes) = match queue.queue.spooling {
        SpoolingMode::Server => {
            let (pages, path, bytes) = spool_document(state, user, body).await?;
            (pages, Some(path), bytes as i64)
        }
        // The document stays on the workstation: only its description comes here.
        SpoolingMode::Client => {
            let pages = sub.pages.filter(|p| (1..=100_000).contains(p)).ok_or_else(|| {
                AppError::invalid("a client-spooled queue needs the document's page count (1 to 100000)")
            })?;
            if sub.holder.as_deref().is_none_or(|h| h.is_empty() || h.len() > 100) {
                return Err(AppError::invalid(
                    "a client-spooled job needs the id of the client that keeps it",
                ));
            }
            (pages, None, 0)
        }
    };
    // Priced as the queue's printer will print it: the price shown is the price charged.
    let (colour, duplex, media) = super::capabilities::printed_as(
        super::capabilities::known(printer).await.as_ref(),
        sub.color_mode.as_deref() != Some("monochrome"),
        sub.sides.as_deref().is_some_and(|s| s.starts_with("two-sided")),
        sub.media.as_deref().unwrap_or("iso_a4_210x297mm"),
    );
    let direct = queue.queue.release == ReleaseMode::Direct;
    // A queue with a script: the job waits until the script has had its say.
    let ask = choices.ask() || queue.queue.script.is_some();
    // What needs no asking is settled now.
    let (payment, account_id) = match &choices.payment_options[..] {
        [(only, id)] => (Some(only.kind), id.as_deref()),
        _ => (None, None),
    };
    let project_id = match &choices.projects[..] {
        [only] if choices.project_accounting => Some(only.id.as_str()),
        _ => None,
    };
    let state_now = match (ask, direct) {
        (true, _) => JobState::WaitingForUser,
        (false, true) => JobState::Printing,
        (false, false) => JobState::Held,
    };
    let new = NewJob {
        owner_id: &user.id,
        queue_id: &queue.id,
        name: if sub.name.is_empty() { "Untitled" } else { &sub.name },
        state: state_now,
        pages,
        copies: sub.copies,
        colour,
        duplex,
        media: &media,
        price_cents: price(&printer.price, pages, sub.copies, colour, duplex, &media),
        spool_file: path.as_deref(),
        holder: if path.is_none() { sub.holder.as_deref() } else { None },
        printer_id: if state_now == JobState::Printing { Some(&printer.id) } else { None },
        account_kind: payment,
        account_id,
        project_id,
        reason: None,
        client_job_id,
        spool_bytes,
        local_printer_id: None,
    };
    let job = match state.store.insert_job(&new).await {
        Ok(job) => job,
        Err(e) => {
            if let Some(at) = &path {
                let _ = state.documents.remove(at).await;
            }
            // The same job submitted twice at once: the other submission made it.
            if let (ErrorCode::Conflict, Some(id)) = (e.code(), client_job_id) {
                if let Some(first) = state.store.job_by_client_id(&user.id, id).await? {
                    return Ok(first.view());
                }
            }
            return Err(e);
        }
    };
    tracing::info!(job = %job.id, user = %user.username, pages, price = job.price_cents, state = ?state_now, "job accepted");
    crate::crash_point("job-made");
    if state_now == JobState::Printing {
        tokio::spawn(deliver(state.clone(), job.id.clone()));
    }
    if queue.queue.script.is_some() && !choices.ask() {
        // Nothing of the dialog's own to ask: if the script asks nothing either, the job
        // goes on at once, as answered.
        return settle(state, user, &job, &JobAnswer { accept: true, ..JobAnswer::default() }, true).await;
    }
    if queue.queue.script.is_some() {
        if let Some(done) = run_first_pass(state, user, &job, &queue).await? {
            return Ok(done);
        }
    }
    Ok(job.view())
}
