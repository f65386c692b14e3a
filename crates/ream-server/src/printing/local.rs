//! Local print monitoring on the server's side: a job held on a workstation's own CUPS
//! queue is priced by its local printer's price list, recorded in its owner's history
//! (in `printing`, holding its price like any job) and granted: the answer carries a
//! grant signed with the server's grant key, which the workstation's CUPS backend checks
//! against its own count of the document before the job reaches the device. The client
//! then reports the outcome (`report_outcome`), which charges it once.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::Signer;
use ream_wire::{
    ErrorCode, LocalAuthorised, LocalGrant, LocalJobRequest, LocalMonitoringInfo, LocalTerms, OfflineLocalJob,
};

use super::dialog::choices;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{NewJob, UserRow};
use ream_print::pricing::price;

fn check_shape(cups_queue: &str, device_uri: &str, name: &str, pages: i64, copies: i64) -> AppResult<()> {
    if cups_queue.is_empty() || cups_queue.len() > 127 || device_uri.len() > 1000 || name.len() > 500 {
        return Err(AppError::invalid(
            "a local job names a CUPS queue (1 to 127 bytes), a device of at most 1000 and a title of at most 500",
        ));
    }
    if !(1..=100_000).contains(&pages) || !(1..=999).contains(&copies) {
        return Err(AppError::invalid("a local job has 1 to 100000 pages and 1 to 999 copies"));
    }
    Ok(())
}

/// The policy and the key that signs grants: public (`ream cups monitor` reads it as root).
pub async fn monitoring_info(state: &AppState) -> AppResult<LocalMonitoringInfo> {
    Ok(LocalMonitoringInfo {
        monitoring: state.store.local_monitoring().await?,
        grant_key: STANDARD.encode(state.key.signing_key().verifying_key().to_bytes()),
    })
}

/// What the user's local jobs may do offline, signed for the workstation's backend.
pub async fn local_terms(state: &AppState, user: &UserRow) -> AppResult<LocalTerms> {
    let policy = state.store.local_monitoring().await?;
    let queue = state.store.local_queue().await?;
    let has_quota = !state.store.quotas_of(&user.id).await?.is_empty();
    let line = state.store.offline_line_of(&user.id).await?;
    let mut terms = LocalTerms {
        user: user.username.clone(),
        offline: policy.offline,
        unrestricted: super::offline::unrestricted(state, user, &queue, has_quota, &line).await?,
        issued_at_ms: state.now_ms(),
        signature: String::new(),
    };
    terms.signature = STANDARD.encode(state.key.signing_key().sign(&terms.signed_bytes()).to_bytes());
    Ok(terms)
}

/// Prices and records a local job and grants it; refused (`CREDIT_INSUFFICIENT`,
/// `QUOTA_EXCEEDED`…) when its owner cannot pay. Asked again about the same CUPS job
/// (its answer was lost), it grants the job recorded the first time, for the new nonce.
pub async fn authorise_local(
    state: &AppState,
    user: &UserRow,
    req: &LocalJobRequest,
) -> AppResult<LocalAuthorised> {
    check_shape(&req.cups_queue, &req.device_uri, &req.name, req.pages, req.copies)?;
    if req.job_uuid.is_empty() || req.job_uuid.len() > 100 || req.nonce.len() != 32 || req.sha256.len() != 64
    {
        return Err(AppError::invalid(
            "a local job has a UUID (1 to 100 bytes), a 32-digit nonce and a SHA-256",
        ));
    }
    let policy = state.store.local_monitoring().await?;
    if !policy.enabled {
        return Err(AppError::new(ErrorCode::Conflict, "local print monitoring is off on this server"));
    }
    let workstation = state
        .store
        .workstation(&req.workstation_id)
        .await?
        .filter(|w| w.revoked_at_ms.is_none())
        .ok_or_else(|| AppError::new(ErrorCode::WorkstationUnknown, "this workstation is not enrolled"))?;
    let job = match state.store.job_by_client_id(&user.id, &req.job_uuid).await? {
        Some(first) if first.local() => first,
        Some(_) => return Err(AppError::new(ErrorCode::Conflict, "a job of another kind has this id")),
        None => record(state, user, &workstation, req).await?,
    };
    let mut grant = LocalGrant {
        job_id: job.id.clone(),
        job_uuid: req.job_uuid.clone(),
        nonce: req.nonce.clone(),
        sha256: req.sha256.clone(),
        pages: job.pages,
        copies: job.copies,
        colour: job.colour != 0,
        price_cents: job.price_cents,
        signature: String::new(),
    };
    grant.signature = STANDARD.encode(state.key.signing_key().sign(&grant.signed_bytes()).to_bytes());
    Ok(LocalAuthorised { job: job.view(), grant })
}

async fn record(
    state: &AppState,
    user: &UserRow,
    workstation: &crate::store::WorkstationRow,
    req: &LocalJobRequest,
) -> AppResult<crate::store::JobRow> {
    let printer = state
        .store
        .local_printer(&workstation.id, &workstation.name, &req.cups_queue, &req.device_uri)
        .await?;
    let list = printer.price.clone().ok_or_else(|| {
        AppError::new(
            ErrorCode::Conflict,
            format!(
                "{} has no price list: an administrator sets one (admin local policy --price-list)",
                printer.name
            ),
        )
    })?;
    let queue = state.store.local_queue().await?;
    let choices = choices(state, user, &queue).await?;
    let (kind, account_id) = match choices.payment_options.into_iter().next() {
        Some((o, id)) => (Some(o.kind), id),
        None => {
            return Err(AppError::new(ErrorCode::Conflict, "you have nothing to pay for local printing with"))
        }
    };
    let holder = format!("local:{}", workstation.id);
    let new = NewJob {
        owner_id: &user.id,
        queue_id: &queue.id,
        name: if req.name.is_empty() { "Untitled" } else { &req.name },
        state: ream_wire::JobState::Printing,
        pages: req.pages,
        copies: req.copies,
        colour: req.colour,
        duplex: req.duplex,
        media: &req.media,
        price_cents: price(&list, req.pages, req.copies, req.colour, req.duplex, &req.media),
        spool_file: None,
        holder: Some(&holder),
        printer_id: None,
        account_kind: kind,
        account_id: account_id.as_deref(),
        project_id: None,
        reason: None,
        client_job_id: Some(&req.job_uuid),
        spool_bytes: 0,
        local_printer_id: Some(&printer.id),
    };
    match state.store.insert_job(&new).await {
        Ok(job) => {
            tracing::info!(job = %job.id, user = %user.username, printer = %printer.name, pages = req.pages,
                price = job.price_cents, "local job authorised");
            Ok(job)
        }
        // Asked twice at once: the other request recorded it.
        Err(e) if e.code() == ErrorCode::Conflict => {
            state.store.job_by_client_id(&user.id, &req.job_uuid).await?.filter(|j| j.local()).ok_or(e)
        }
        Err(e) => Err(e),
    }
}

/// A local job journaled offline, as the journal intake records it: its printer and price.
pub async fn offline_local_printer(
    state: &AppState,
    workstation: &crate::store::WorkstationRow,
    j: &OfflineLocalJob,
) -> AppResult<(crate::store::LocalPrinterRow, i64)> {
    check_shape(&j.cups_queue, &j.device_uri, &j.name, j.pages, j.copies)?;
    let printer =
        state.store.local_printer(&workstation.id, &workstation.name, &j.cups_queue, &j.device_uri).await?;
    let list = printer
        .price
        .clone()
        .ok_or_else(|| AppError::invalid(format!("{} has no price list", printer.name)))?;
    let cents = price(&list, j.pages, j.copies, j.colour, j.duplex, &j.media);
    Ok((printer, cents))
}
