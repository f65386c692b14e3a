//! Builds the wire views (what a user or an administrator sees) from the store's rows.

use ream_wire::{AccountView, AdminUser, CardInfo, SharedAccountKind};

use crate::error::AppResult;
use crate::state::AppState;
use crate::store::UserRow;

pub async fn account_view(state: &AppState, user: &UserRow) -> AppResult<AccountView> {
    let store = &state.store;
    let now = state.now_ms();
    Ok(AccountView {
        username: user.username.clone(),
        full_name: user.full_name.clone(),
        email: user.email.clone(),
        groups: store.groups_of(&user.id).await?,
        is_admin: user.is_admin(),
        credit_cents: user.credit_cents,
        reserved_cents: user.reserved_cents,
        currency: state.config.currency.clone(),
        quotas: store.quotas_of(&user.id).await?.iter().map(|q| q.view(now)).collect(),
        cost_centres: store.shared_accounts_of(&user.id, SharedAccountKind::CostCentre).await?,
        projects: store.shared_accounts_of(&user.id, SharedAccountKind::Project).await?,
        has_pin: user.pin_hash.is_some(),
        version: user.version,
        server_time_ms: now,
        offline_line: store.offline_line_of(&user.id).await?,
    })
}

pub async fn admin_user(state: &AppState, user: &UserRow) -> AppResult<AdminUser> {
    let store = &state.store;
    Ok(AdminUser {
        username: user.username.clone(),
        full_name: user.full_name.clone(),
        email: user.email.clone(),
        groups: store.groups_of(&user.id).await?,
        is_admin: user.is_admin(),
        disabled: user.is_disabled(),
        credit_cents: user.credit_cents,
        has_password: user.password_hash.is_some(),
        has_pin: user.pin_hash.is_some(),
        cards: store
            .cards_of(&user.id)
            .await?
            .into_iter()
            .map(|c| CardInfo { id: c.id, hint: c.hint, created_at_ms: c.created_at_ms })
            .collect(),
    })
}
