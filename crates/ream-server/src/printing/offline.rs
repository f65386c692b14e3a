//! Offline operation on the server's side: what a user's client keeps to act without
//! the server (`terms`), and the journal a workstation replays when it is back
//! (`take_journal`): each entry verified (signed by the workstation's enrolled key),
//! taken once, its job recorded in the owner's history marked offline and charged by the
//! printer's price list.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use ream_wire::{
    AccountingMode, ErrorCode, FallbackPrinter, JournalBatch, JournalEntry, JournalReceipt, JournalRecord,
    JournalResult, JournalStatus, OfflineQueue, OfflineTerms, PaymentKind, PriceList, ReleaseMode,
};
use sha2::{Digest, Sha256};

use super::dialog::choices;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{JournalEffect, OfflineJobRow, QueueRow, UserRow};
use ream_print::pricing::price;

/// The most entries one request may carry.
pub const MAX_BATCH: usize = 500;

/// What the user's client needs to act on its own while the server is unreachable.
pub async fn terms(state: &AppState, user: &UserRow) -> AppResult<OfflineTerms> {
    let all = state.store.queues().await?;
    let default = match state.config.default_queue.as_deref() {
        Some(name) => Some(name.to_string()),
        None if all.len() == 1 => Some(all[0].queue.name.clone()),
        None => None,
    };
    let has_quota = !state.store.quotas_of(&user.id).await?.is_empty();
    let line = state.store.offline_line_of(&user.id).await?;
    let mut queues = Vec::with_capacity(all.len());
    for q in &all {
        let fallback: Vec<FallbackPrinter> = state
            .store
            .fallback_printers(&q.id)
            .await?
            .into_iter()
            .map(|p| FallbackPrinter { name: p.name, uri: p.uri, fingerprint: p.fingerprint, price: p.price })
            .collect();
        let pick_price = pick_price(state, q, &fallback).await?;
        queues.push(OfflineQueue {
            name: q.queue.name.clone(),
            default: default.as_deref() == Some(q.queue.name.as_str()),
            policy: q.queue.offline.policy,
            fallback,
            pick: q.queue.offline.pick,
            pick_price,
            after_seconds: q.queue.offline.after_seconds,
            unrestricted: unrestricted(state, user, q, has_quota, &line).await?,
            released: q.queue.release != ReleaseMode::Direct,
        });
    }
    Ok(OfflineTerms { username: user.username.clone(), queues, line })
}

/// How a printer picked or typed at the workstation is priced: by the queue's first
/// fallback printer's list, or its first printer's.
async fn pick_price(
    state: &AppState,
    q: &QueueRow,
    fallback: &[FallbackPrinter],
) -> AppResult<Option<PriceList>> {
    if let Some(first) = fallback.first() {
        return Ok(Some(first.price.clone()));
    }
    Ok(state.store.queue_printers(&q.id).await?.into_iter().next().map(|p| p.price))
}

/// Nothing the client cannot check limits the user's jobs on this queue: no script or
/// cost confirmation, no quota, and either a cost centre pays (no balance to run out) or
/// their credit does and an administrator gave them an offline credit line (how far it
/// may go unchecked; the charge may take it below zero, which administrators see).
pub(super) async fn unrestricted(
    state: &AppState,
    user: &UserRow,
    q: &QueueRow,
    has_quota: bool,
    line: &ream_wire::OfflineLine,
) -> AppResult<bool> {
    if q.queue.script.is_some()
        || q.queue.confirm_cost
        || has_quota
        || q.queue.accounting == AccountingMode::Quota
    {
        return Ok(false);
    }
    let has_line = line.pages.is_some() || line.amount_cents.is_some();
    Ok(match choices(state, user, q).await {
        Ok(c) => match c.payment_options.first().map(|(o, _)| o.kind) {
            Some(PaymentKind::CostCentre) => true,
            Some(PaymentKind::Credit) => has_line,
            _ => false,
        },
        Err(_) => false,
    })
}

/// What pays for a job reported by a journal: the user's first payment option on the
/// queue; none when nothing may pay there now (no project left to them), the job then
/// recorded at its price, unpaid, for administrators to settle.
async fn first_payment(
    state: &AppState,
    user: &UserRow,
    queue: &QueueRow,
) -> (Option<PaymentKind>, Option<String>) {
    match choices(state, user, queue).await {
        Ok(c) => c.payment_options.into_iter().next().map_or((None, None), |(o, id)| (Some(o.kind), id)),
        Err(_) => (None, None),
    }
}

/// The SHA-256 (hex) an entry is chained by.
pub fn entry_hash(workstation_id: &str, entry: &JournalEntry) -> String {
    hex::encode(Sha256::digest(entry.signed_bytes(workstation_id)))
}

/// Takes a workstation's journal entries, in order. Each is answered: accepted, a
/// duplicate of one taken before, or refused for good (written down for administrators).
/// An unknown or revoked workstation is refused as a whole.
pub async fn take_journal(
    state: &AppState,
    workstation_id: &str,
    batch: &JournalBatch,
) -> AppResult<JournalReceipt> {
    if batch.entries.len() > MAX_BATCH {
        return Err(AppError::invalid(format!("at most {MAX_BATCH} entries per request")));
    }
    let ws =
        state.store.workstation(workstation_id).await?.ok_or_else(|| {
            AppError::new(ErrorCode::WorkstationUnknown, "this workstation is not enrolled")
        })?;
    if ws.revoked_at_ms.is_some() {
        return Err(AppError::new(ErrorCode::WorkstationRevoked, "this workstation's enrolment was revoked"));
    }
    let key = crate::auth::workstation_key(&ws)?;
    let mut results = Vec::with_capacity(batch.entries.len());
    for entry in &batch.entries {
        let result = match take_entry(state, &ws, &key, entry).await {
            Ok(status) => JournalResult { id: entry.id.clone(), status, reason: None },
            Err(e) if matches!(e, AppError::Internal(_)) => return Err(e),
            Err(e) => {
                let reason = match &e {
                    AppError::Api { message, .. } => message.clone(),
                    AppError::Internal(_) => unreachable!("returned above"),
                };
                tracing::warn!(workstation = %workstation_id, entry = %entry.id, seq = entry.seq, %reason,
                    "journal entry refused");
                state.store.refuse_journal_entry(workstation_id, entry, &reason).await?;
                JournalResult { id: entry.id.clone(), status: JournalStatus::Refused, reason: Some(reason) }
            }
        };
        results.push(result);
    }
    Ok(JournalReceipt { results })
}

async fn take_entry(
    state: &AppState,
    ws: &crate::store::WorkstationRow,
    key: &VerifyingKey,
    entry: &JournalEntry,
) -> AppResult<JournalStatus> {
    let workstation_id = ws.id.as_str();
    let bytes = entry.signed_bytes(workstation_id);
    let signature = STANDARD.decode(&entry.signature).ok().and_then(|b| Signature::from_slice(&b).ok());
    if signature.is_none_or(|s| key.verify(&bytes, &s).is_err()) {
        return Err(AppError::new(
            ErrorCode::AssertionInvalid,
            "the entry's signature does not verify: it was forged or edited",
        ));
    }
    if entry.id.is_empty() || entry.id.len() > 100 || entry.job().is_empty() || entry.job().len() > 100 {
        return Err(AppError::invalid("an entry and its job have ids of 1 to 100 characters"));
    }
    if state.store.journal_entry_known(&entry.id).await? {
        return Ok(JournalStatus::Duplicate);
    }
    let hash = entry_hash(workstation_id, entry);
    match &entry.record {
        JournalRecord::Job(j) => {
            if j.name.len() > 500 || !(1..=999).contains(&j.copies) || !(1..=100_000).contains(&j.pages) {
                return Err(AppError::invalid(
                    "an offline job has a name of at most 500 characters, 1 to 999 \
                    copies and 1 to 100000 pages",
                ));
            }
            let user = state
                .store
                .find_user(&j.user)
                .await?
                .ok_or_else(|| AppError::not_found(format!("user {}", j.user)))?;
            let queue = state
                .store
                .queues()
                .await?
                .into_iter()
                .find(|q| q.queue.name == j.queue)
                .ok_or_else(|| AppError::not_found(format!("queue {}", j.queue)))?;
            let fallback = state.store.fallback_printers(&queue.id).await?;
            let known = fallback.iter().find(|p| p.name == j.printer && p.uri == j.printer_uri);
            let list = match known {
                Some(p) => p.price.clone(),
                None => {
                    let offered: Vec<FallbackPrinter> = fallback
                        .iter()
                        .map(|p| FallbackPrinter {
                            name: p.name.clone(),
                            uri: p.uri.clone(),
                            fingerprint: None,
                            price: p.price.clone(),
                        })
                        .collect();
                    pick_price(state, &queue, &offered).await?.ok_or_else(|| {
                        AppError::invalid(format!("queue {} has no printer to price by", j.queue))
                    })?
                }
            };
            let (kind, account_id) =
                if j.unaccounted { (None, None) } else { first_payment(state, &user, &queue).await };
            let row = OfflineJobRow {
                owner_id: &user.id,
                queue_id: &queue.id,
                name: if j.name.is_empty() { "Untitled" } else { &j.name },
                pages: j.pages,
                copies: j.copies,
                colour: j.colour,
                duplex: j.duplex,
                media: &j.media,
                price_cents: price(&list, j.pages, j.copies, j.colour, j.duplex, &j.media),
                printer_id: known.map(|p| p.id.as_str()),
                printer_name: &j.printer,
                account_kind: kind,
                account_id: account_id.as_deref(),
                unaccounted: j.unaccounted,
                client_job_id: &j.job,
                local_printer_id: None,
            };
            let status =
                state.store.take_journal_entry(workstation_id, entry, &hash, JournalEffect::Job(row)).await?;
            if status == JournalStatus::Accepted {
                tracing::info!(workstation = %workstation_id, user = %j.user, job = %j.name, printer = %j.printer,
                    "offline job recorded");
            }
            Ok(status)
        }
        JournalRecord::Local(l) => {
            let user = state
                .store
                .find_user(&l.user)
                .await?
                .ok_or_else(|| AppError::not_found(format!("user {}", l.user)))?;
            // Granted online already, the grant's answer lost on the way: that job is the
            // one the journal tells of, charged once by the journal's outcome.
            if let Some(known) = state.store.job_by_client_id(&user.id, &l.job).await? {
                let ours =
                    known.local() && known.holder.as_deref() == Some(&format!("local:{workstation_id}"));
                if !ours {
                    return Err(AppError::new(
                        ErrorCode::Conflict,
                        "the server has a job under this id already",
                    ));
                }
                let effect = JournalEffect::Adopt { job_id: &known.id };
                return state.store.take_journal_entry(workstation_id, entry, &hash, effect).await;
            }
            let (printer, cents) = super::local::offline_local_printer(state, ws, l).await?;
            let queue = state.store.local_queue().await?;
            let (kind, account_id) = first_payment(state, &user, &queue).await;
            let row = OfflineJobRow {
                owner_id: &user.id,
                queue_id: &queue.id,
                name: if l.name.is_empty() { "Untitled" } else { &l.name },
                pages: l.pages,
                copies: l.copies,
                colour: l.colour,
                duplex: l.duplex,
                media: &l.media,
                price_cents: cents,
                printer_id: None,
                printer_name: &printer.name,
                account_kind: kind,
                account_id: account_id.as_deref(),
                unaccounted: false,
                client_job_id: &l.job,
                local_printer_id: Some(&printer.id),
            };
            let status =
                state.store.take_journal_entry(workstation_id, entry, &hash, JournalEffect::Job(row)).await?;
            if status == JournalStatus::Accepted {
                tracing::info!(workstation = %workstation_id, user = %l.user, printer = %printer.name,
                    "local job printed offline recorded");
            }
            Ok(status)
        }
        JournalRecord::Outcome(o) => {
            // The job entry named its owner; the outcome's job is theirs on this workstation.
            let owner = state
                .store
                .offline_job_owner(workstation_id, &o.job)
                .await?
                .ok_or_else(|| AppError::not_found("the offline job this outcome is about"))?;
            let effect = JournalEffect::Outcome {
                owner_id: &owner,
                client_job_id: &o.job,
                printed: o.printed,
                reason: o.reason.as_deref(),
                printer_job_id: o.printer_job_id,
                impressions: o.impressions,
            };
            let status = state.store.take_journal_entry(workstation_id, entry, &hash, effect).await?;
            if status == JournalStatus::Accepted {
                tracing::info!(workstation = %workstation_id, job = %o.job, printed = o.printed, "offline job ended");
            }
            Ok(status)
        }
    }
}
