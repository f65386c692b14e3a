//! Administration, shared by the admin REST endpoints and `ream-server admin`: both
//! call these functions, so the rules (validation, hashing, logging) are the same.

use ream_wire::{
    AdminUser, CreditChange, CreditTransaction, EnrolmentCode, ErrorCode, Group, Member, NewEnrolmentCode,
    NewQuota, NewSharedAccount, NewUser, PriceList, Printer, Queue, QuotaUpdate, QuotaView, SharedAccount,
    SharedAccountKind, TransactionKind, UserUpdate, Workstation,
};

use crate::auth::{self, LockKind, Lockout};
use crate::error::{AppError, AppResult};
use crate::secrets::{enrolment_code, hash_secret, normalise_enrolment_code, token_hash};
use crate::state::AppState;
use crate::store::UserInsert;
use crate::views::admin_user;

pub const MIN_PASSWORD_LEN: usize = 8;

fn check_username(name: &str) -> AppResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid("a username is 1 to 64 letters, digits or . _ - @"))
    }
}

fn check_name(what: &str, name: &str) -> AppResult<()> {
    if name.trim().is_empty() || name.len() > 200 || name.contains('\n') {
        return Err(AppError::invalid(format!("{what} must be 1 to 200 characters on one line")));
    }
    Ok(())
}

async fn hash_password(password: &str) -> AppResult<String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AppError::invalid(format!("a password has at least {MIN_PASSWORD_LEN} characters")));
    }
    Ok(hash_secret(password).await?)
}

pub async fn create_user(state: &AppState, u: &NewUser) -> AppResult<AdminUser> {
    check_username(&u.username)?;
    check_name("full_name", &u.full_name)?;
    if let Some(pin) = &u.pin {
        auth::check_pin_format(state, pin)?;
    }
    let password_hash = match u.password.as_deref() {
        Some(password) => Some(hash_password(password).await?),
        None => None,
    };
    let row = state
        .store
        .insert_user(&UserInsert {
            username: u.username.clone(),
            full_name: u.full_name.clone(),
            email: u.email.clone().filter(|e| !e.is_empty()),
            is_admin: u.is_admin,
            password_hash,
        })
        .await?;
    let result = async {
        if let Some(pin) = &u.pin {
            auth::set_pin(state, &row.id, pin).await?;
        }
        if !u.groups.is_empty() {
            state.store.set_groups(&row.id, &u.groups).await?;
        }
        Ok::<_, AppError>(())
    }
    .await;
    if let Err(e) = result {
        // A half-made user (say, with a PIN someone else has) is worse than none.
        state.store.delete_user(&row.id).await?;
        return Err(e);
    }
    admin_user(state, &state.store.user_by_id(&row.id).await?).await
}

pub async fn get_user(state: &AppState, username: &str) -> AppResult<AdminUser> {
    admin_user(state, &state.store.user(username).await?).await
}

pub async fn list_users(state: &AppState, search: &str) -> AppResult<Vec<AdminUser>> {
    let mut out = Vec::new();
    for row in state.store.list_users(search, 1_000).await? {
        out.push(admin_user(state, &row).await?);
    }
    Ok(out)
}

pub async fn update_user(state: &AppState, username: &str, u: &UserUpdate) -> AppResult<AdminUser> {
    let user = state.store.user(username).await?;
    if let Some(name) = &u.full_name {
        check_name("full_name", name)?;
    }
    let email = u.email.as_deref().map(|e| Some(e).filter(|e| !e.is_empty()));
    state.store.update_user_fields(&user.id, u.full_name.as_deref(), email, u.is_admin, u.disabled).await?;
    if let Some(groups) = &u.groups {
        for g in groups {
            check_name("a group name", g)?;
        }
        state.store.set_groups(&user.id, groups).await?;
    }
    if u.disabled == Some(true) {
        state.store.revoke_user_sessions(&user.id, "account disabled").await?;
    }
    get_user(state, username).await
}

/// Refuses names of groups that do not exist, naming them: a user's groups are chosen
/// among existing ones (`create_group`), so that a typing mistake does not become a group.
pub async fn require_groups(state: &AppState, groups: &[String]) -> AppResult<()> {
    let known: Vec<String> = state.store.list_groups().await?.into_iter().map(|(name, _)| name).collect();
    let missing: Vec<&str> = groups.iter().filter(|g| !known.contains(g)).map(String::as_str).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(AppError::new(ErrorCode::NotFound, format!("no group named {}", missing.join(", "))))
}

/// Deletes the user; the answer is the user as they were.
pub async fn delete_user(state: &AppState, username: &str) -> AppResult<AdminUser> {
    let user = state.store.user(username).await?;
    let view = admin_user(state, &user).await?;
    state.store.delete_user(&user.id).await?;
    tracing::info!(user = username, "user deleted");
    Ok(view)
}

pub async fn set_password(state: &AppState, username: &str, password: &str) -> AppResult<AdminUser> {
    let user = state.store.user(username).await?;
    let hash = hash_password(password).await?;
    state.store.set_password_hash(&user.id, Some(&hash)).await?;
    // Whoever knew the old one is logged out.
    state.store.revoke_user_sessions(&user.id, "the password was changed").await?;
    get_user(state, username).await
}

pub async fn set_pin(state: &AppState, username: &str, pin: &str) -> AppResult<AdminUser> {
    let user = state.store.user(username).await?;
    auth::set_pin(state, &user.id, pin).await?;
    state.store.revoke_user_sessions(&user.id, "the PIN was changed").await?;
    get_user(state, username).await
}

pub async fn generate_pin(state: &AppState, username: &str) -> AppResult<String> {
    let user = state.store.user(username).await?;
    let pin = auth::generate_pin(state, &user.id).await?;
    state.store.revoke_user_sessions(&user.id, "the PIN was changed").await?;
    Ok(pin)
}

pub async fn add_card(state: &AppState, username: &str, card: &str) -> AppResult<AdminUser> {
    let user = state.store.user(username).await?;
    auth::add_card(state, &user.id, card).await?;
    get_user(state, username).await
}

pub async fn remove_card(state: &AppState, username: &str, card_id: &str) -> AppResult<AdminUser> {
    let user = state.store.user(username).await?;
    state.store.remove_card(&user.id, card_id).await?;
    get_user(state, username).await
}

/// Lifts the user's lockout (if any) and forgets their failed attempts; the answer is
/// what there was.
pub async fn unlock_user(state: &AppState, username: &str, actor: &str) -> AppResult<Lockout> {
    let user = state.store.user(username).await?;
    auth::unlock(state, LockKind::User, &user.username, actor).await
}

/// A top-up (positive) or an adjustment (either sign), logged with who made it.
pub async fn change_credit(
    state: &AppState,
    username: &str,
    kind: TransactionKind,
    change: &CreditChange,
    actor: &str,
) -> AppResult<CreditTransaction> {
    match kind {
        TransactionKind::TopUp if change.amount_cents <= 0 => {
            return Err(AppError::invalid("a top-up is a positive amount"))
        }
        TransactionKind::TopUp | TransactionKind::Adjustment => {}
        _ => return Err(AppError::invalid("administrators top up or adjust credit")),
    }
    if change.amount_cents == 0 {
        return Err(AppError::invalid("an adjustment of zero changes nothing"));
    }
    let user = state.store.user(username).await?;
    let t =
        state.store.change_credit(&user.id, kind, change.amount_cents, &change.comment, actor, true).await?;
    tracing::info!(user = username, actor, amount_cents = change.amount_cents, "credit changed");
    Ok(t)
}

pub async fn transactions(state: &AppState, username: &str, limit: i64) -> AppResult<Vec<CreditTransaction>> {
    let user = state.store.user(username).await?;
    state.store.transactions(&user.id, limit.clamp(1, 1_000)).await
}

pub async fn create_quota(state: &AppState, username: &str, q: &NewQuota) -> AppResult<QuotaView> {
    check_name("a quota name", &q.name)?;
    let user = state.store.user(username).await?;
    Ok(state.store.create_quota(&user.id, q).await?.view(state.now_ms()))
}

pub async fn quotas(state: &AppState, username: &str) -> AppResult<Vec<QuotaView>> {
    let user = state.store.user(username).await?;
    let now = state.now_ms();
    Ok(state.store.quotas_of(&user.id).await?.iter().map(|q| q.view(now)).collect())
}

pub async fn quota(state: &AppState, id: &str) -> AppResult<QuotaView> {
    Ok(state.store.quota(id).await?.view(state.now_ms()))
}

/// Deletes the quota; the answer is the quota as it was.
pub async fn delete_quota(state: &AppState, id: &str) -> AppResult<QuotaView> {
    let view = quota(state, id).await?;
    state.store.delete_quota(id).await?;
    Ok(view)
}

pub async fn update_quota(state: &AppState, id: &str, u: &QuotaUpdate) -> AppResult<QuotaView> {
    if let Some(name) = &u.name {
        check_name("a quota name", name)?;
    }
    let row = state.store.update_quota(id, u.name.as_deref(), u.limit, u.used).await?;
    Ok(row.view(state.now_ms()))
}

pub async fn list_groups(state: &AppState) -> AppResult<Vec<Group>> {
    Ok(state.store.list_groups().await?.into_iter().map(|(name, members)| Group { name, members }).collect())
}

pub async fn group(state: &AppState, name: &str) -> AppResult<Group> {
    list_groups(state)
        .await?
        .into_iter()
        .find(|g| g.name == name)
        .ok_or_else(|| AppError::not_found(format!("group {name}")))
}

pub async fn create_group(state: &AppState, name: &str) -> AppResult<Group> {
    check_name("a group name", name)?;
    state.store.create_group(name).await?;
    group(state, name).await
}

/// Deletes the group (its members stay, without it); the answer is the group as it was.
pub async fn delete_group(state: &AppState, name: &str) -> AppResult<Group> {
    let view = group(state, name).await?;
    state.store.delete_group(name).await?;
    Ok(view)
}

pub async fn create_shared_account(
    state: &AppState,
    kind: SharedAccountKind,
    a: &NewSharedAccount,
) -> AppResult<SharedAccount> {
    check_name("a name", &a.name)?;
    state.store.create_shared_account(kind, &a.name, &a.description).await?;
    shared_account(state, kind, &a.name).await
}

pub async fn shared_account(
    state: &AppState,
    kind: SharedAccountKind,
    name: &str,
) -> AppResult<SharedAccount> {
    state
        .store
        .list_shared_accounts(kind)
        .await?
        .into_iter()
        .find(|a| a.name == name)
        .ok_or_else(|| AppError::not_found(name))
}

/// Deletes the cost centre or project; the answer is the account as it was.
pub async fn delete_shared_account(
    state: &AppState,
    kind: SharedAccountKind,
    name: &str,
) -> AppResult<SharedAccount> {
    let view = shared_account(state, kind, name).await?;
    state.store.delete_shared_account(kind, name).await?;
    Ok(view)
}

pub async fn set_member(
    state: &AppState,
    kind: SharedAccountKind,
    account: &str,
    member: &Member,
    present: bool,
) -> AppResult<SharedAccount> {
    state.store.set_member(kind, account, member, present).await?;
    shared_account(state, kind, account).await
}

/// A one-time code that enrols one workstation; only its hash is kept.
pub async fn new_enrolment_code(state: &AppState, req: &NewEnrolmentCode) -> AppResult<EnrolmentCode> {
    let secs = req.valid_seconds.unwrap_or(state.config.security.enrolment_code_seconds);
    if !(60..=30 * 86_400).contains(&secs) {
        return Err(AppError::invalid("valid_seconds lies between 60 and 2592000 (30 days)"));
    }
    let code = enrolment_code();
    let expires_at_ms = state.now_ms() + secs * 1_000;
    state.store.create_enrolment_code(&token_hash(&normalise_enrolment_code(&code)), expires_at_ms).await?;
    Ok(EnrolmentCode { code, expires_at_ms })
}

pub async fn price_list(state: &AppState, name: &str) -> AppResult<PriceList> {
    let lists = state.store.price_lists().await?;
    lists
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| AppError::not_found(format!("price list {name}")))
}

/// Deletes a price list no printer uses; the answer is the list as it was.
pub async fn delete_price_list(state: &AppState, name: &str) -> AppResult<PriceList> {
    let view = price_list(state, name).await?;
    state.store.delete_price_list(name).await?;
    tracing::info!(price_list = name, "price list deleted");
    Ok(view)
}

pub async fn create_price_list(state: &AppState, p: &PriceList) -> AppResult<PriceList> {
    check_name("a price list name", &p.name)?;
    if [p.mono_page_cents, p.colour_page_cents, p.duplex_page_discount_cents].iter().any(|c| *c < 0)
        || p.duplex_page_discount_cents > p.mono_page_cents.min(p.colour_page_cents)
    {
        return Err(AppError::invalid(
            "prices are not negative and the duplex discount is at most a page's price",
        ));
    }
    state.store.create_price_list(p).await?;
    price_list(state, &p.name).await
}

/// Every user's jobs, newest change first, with what was charged beside what the printer
/// and the reporting client counted; `mismatch_only` keeps those the printer disagreed on.
pub async fn jobs(state: &AppState, mismatch_only: bool, limit: i64) -> AppResult<Vec<ream_wire::AdminJob>> {
    Ok(state
        .store
        .admin_jobs(mismatch_only, limit.clamp(1, 10_000))
        .await?
        .iter()
        .map(|j| j.admin_view())
        .collect())
}

pub async fn printers(state: &AppState) -> AppResult<Vec<Printer>> {
    Ok(state
        .store
        .printers()
        .await?
        .into_iter()
        .map(|p| ream_wire::Printer {
            name: p.name,
            uri: p.uri,
            price_list: p.price.name,
            fingerprint: p.fingerprint,
        })
        .collect())
}

pub async fn printer(state: &AppState, name: &str) -> AppResult<Printer> {
    printers(state)
        .await?
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| AppError::not_found(format!("printer {name}")))
}

/// Deletes a printer no queue uses and no job is on its way to; the answer is the
/// printer as it was.
pub async fn delete_printer(state: &AppState, name: &str) -> AppResult<Printer> {
    let view = printer(state, name).await?;
    state.store.delete_printer(name).await?;
    tracing::info!(printer = name, "printer deleted");
    Ok(view)
}

/// A printer's URI: `ipp://` or `ipps://`, a host, and a port from 1 to 65535 if any.
pub fn check_printer_uri(uri: &str) -> AppResult<()> {
    let bad = |why: String| {
        AppError::invalid(format!(
            "the printer URI {uri:?} is not valid ({why}); it reads ipp://host[:port]/path or ipps://host[:port]/path"
        ))
    };
    let url = reqwest::Url::parse(uri).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "ipp" | "ipps") {
        return Err(bad(format!("{}:// is not ipp:// or ipps://", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host".into()));
    }
    if url.port() == Some(0) {
        return Err(bad("port 0".into()));
    }
    Ok(())
}

pub async fn create_printer(state: &AppState, p: &Printer) -> AppResult<Printer> {
    check_name("a printer name", &p.name)?;
    check_printer_uri(&p.uri)?;
    // An IPPS printer is pinned to the certificate it presents now, unless the
    // administrator gave the fingerprint (read off the printer's own page) beforehand.
    let fingerprint = match (&p.fingerprint, p.uri.starts_with("ipps://")) {
        (Some(given), _) => Some(given.clone()),
        (None, true) => Some(ream_print::printer::presented_fingerprint(&p.uri).await.map_err(|e| {
            AppError::invalid(format!(
                "cannot read the certificate of {}: {e:#}; give its fingerprint to add it while it is off",
                p.uri
            ))
        })?),
        (None, false) => None,
    };
    if let Some(f) = &fingerprint {
        tracing::info!(printer = %p.name, fingerprint = %f, "printer certificate pinned");
    }
    state.store.create_printer(&p.name, &p.uri, &p.price_list, fingerprint.as_deref()).await?;
    printer(state, &p.name).await
}

pub async fn queue(state: &AppState, name: &str) -> AppResult<Queue> {
    let queues = state.store.queues().await?;
    queues
        .into_iter()
        .map(|q| q.queue)
        .find(|q| q.name == name)
        .ok_or_else(|| AppError::not_found(format!("queue {name}")))
}

/// Deletes a queue none of whose jobs may still print; the answer is the queue as it was.
/// Its finished jobs keep its name.
pub async fn delete_queue(state: &AppState, name: &str) -> AppResult<Queue> {
    let view = queue(state, name).await?;
    state.store.delete_queue(name).await?;
    tracing::info!(queue = name, "queue deleted");
    Ok(view)
}

fn check_offline(offline: &ream_wire::OfflineSettings) -> AppResult<()> {
    if !(0..=86_400).contains(&offline.after_seconds) {
        return Err(AppError::invalid("after_seconds is 0 to 86400"));
    }
    let printing = matches!(
        offline.policy,
        ream_wire::OfflinePolicy::PrintUnaccounted | ream_wire::OfflinePolicy::PrintIfUnrestricted
    );
    if !printing && (!offline.fallback_printers.is_empty() || offline.pick) {
        return Err(AppError::invalid(format!(
            "fallback printers print only under print_unaccounted or print_if_unrestricted, not {}",
            offline.policy.as_str()
        )));
    }
    Ok(())
}

/// Sets what a queue's jobs do while a workstation cannot reach the server; the answer
/// is the queue as it is now.
pub async fn set_queue_offline(
    state: &AppState,
    name: &str,
    offline: &ream_wire::OfflineSettings,
) -> AppResult<Queue> {
    check_offline(offline)?;
    state.store.set_queue_offline(name, offline).await?;
    tracing::info!(queue = name, policy = offline.policy.as_str(), "offline policy set");
    queue(state, name).await
}

/// Sets a user's (or a group's) offline credit line; the answer is the line set.
pub async fn set_offline_line(
    state: &AppState,
    owner: crate::store::LineOwner,
    name: &str,
    line: &ream_wire::OfflineLine,
) -> AppResult<ream_wire::OfflineLine> {
    if line.pages.is_some_and(|p| p < 0) || line.amount_cents.is_some_and(|c| c < 0) {
        return Err(AppError::invalid("an offline credit line is not negative"));
    }
    state.store.set_offline_line(owner, name, line).await?;
    Ok(line.clone())
}

/// Jobs printed offline, newest first: whose, where, charged or not, overdrawn or not.
pub async fn offline_jobs(state: &AppState, limit: i64) -> AppResult<Vec<ream_wire::AdminJob>> {
    Ok(state.store.offline_jobs(limit.clamp(1, 10_000)).await?.iter().map(|j| j.admin_view()).collect())
}

/// Journal entries the server did not take (forged or edited, or naming what is not
/// there), newest first.
pub async fn journal_refusals(state: &AppState, limit: i64) -> AppResult<Vec<ream_wire::JournalRefusal>> {
    state.store.journal_refusals(limit.clamp(1, 10_000)).await
}

pub async fn create_queue(state: &AppState, q: &Queue) -> AppResult<Queue> {
    check_name("a queue name", &q.name)?;
    check_offline(&q.offline)?;
    if q.printers.is_empty() {
        return Err(AppError::invalid("a queue needs at least one printer"));
    }
    if let Some(script) = &q.script {
        crate::script::check(script)
            .map_err(|e| AppError::invalid(format!("the script does not compile: {e}")))?;
    }
    state.store.create_queue(q).await?;
    queue(state, &q.name).await
}

/// Revokes the workstation (its sessions end); the answer is the workstation revoked.
pub async fn revoke_workstation(state: &AppState, id: &str) -> AppResult<Workstation> {
    state.store.revoke_workstation(id).await?;
    tracing::info!(workstation = id, "workstation revoked");
    let ws = state.store.workstation(id).await?.ok_or_else(|| AppError::not_found("workstation"))?;
    Ok(ws.view())
}

/// Sets the local print monitoring policy; the answer is the policy set.
pub async fn set_local_monitoring(
    state: &AppState,
    m: &ream_wire::LocalMonitoring,
) -> AppResult<ream_wire::LocalMonitoring> {
    for q in &m.queues {
        if q.is_empty() || q.len() > 127 {
            return Err(AppError::invalid("a monitored CUPS queue has a name of 1 to 127 bytes"));
        }
    }
    state.store.set_local_monitoring(m).await?;
    tracing::info!(enabled = m.enabled, queues = ?m.queues, offline = ?m.offline, "local print monitoring set");
    state.store.local_monitoring().await
}

/// Gives a local printer (`queue@workstation`) its own price list, or none (the policy's).
pub async fn set_local_printer_price(
    state: &AppState,
    name: &str,
    price_list: Option<&str>,
) -> AppResult<ream_wire::LocalPrinter> {
    state.store.set_local_printer_price(name, price_list).await?;
    state
        .store
        .local_printers()
        .await?
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| AppError::not_found(format!("local printer {name}")))
}

/// Jobs of workstations' own printers, newest change first.
pub async fn local_jobs(state: &AppState, limit: i64) -> AppResult<Vec<ream_wire::AdminJob>> {
    Ok(state.store.local_jobs(limit.clamp(1, 10_000)).await?.iter().map(|j| j.admin_view()).collect())
}
