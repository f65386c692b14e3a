//! What an identified user sees of their own account.

use serde::{Deserialize, Serialize};

/// How often a quota starts again from zero. Periods follow the UTC calendar; weeks
/// start on Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum QuotaPeriod {
    Day,
    Week,
    Month,
    Year,
    /// Never resets by itself.
    Unlimited,
}

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum QuotaMetric {
    /// Every printed page.
    TotalPages,
    ColourPages,
    MonoPages,
    /// Money spent, in cents.
    Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuotaView {
    pub id: String,
    pub name: String,
    pub period: QuotaPeriod,
    pub metric: QuotaMetric,
    /// Pages, or cents for [`QuotaMetric::Money`].
    pub limit: i64,
    /// Used in the current period.
    pub used: i64,
    /// Held by jobs that may still print (waiting, held or printing): not used yet, but
    /// not available either.
    pub reserved: i64,
    /// What a new job may still use: `max(limit - used - reserved, 0)`.
    pub remaining: i64,
    pub period_start_ms: Option<i64>,
    pub period_end_ms: Option<i64>,
}

/// A cost centre or a project the user may charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountRef {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// The user's whole account as the client shows it. `version` grows with every change,
/// so a client can drop a stale push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountView {
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
    pub is_admin: bool,
    /// The balance.
    pub credit_cents: i64,
    /// Of the balance, what the user's jobs that may still print hold; what a new job
    /// may spend is `credit_cents - reserved_cents`.
    pub reserved_cents: i64,
    pub currency: String,
    pub quotas: Vec<QuotaView>,
    pub cost_centres: Vec<AccountRef>,
    pub projects: Vec<AccountRef>,
    pub has_pin: bool,
    pub version: i64,
    pub server_time_ms: i64,
    /// What the user may print while their workstation cannot reach the server (where a
    /// queue's offline policy charges offline jobs); none set: no such limit.
    #[serde(default)]
    pub offline_line: crate::OfflineLine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// Money added by an administrator (or a payment).
    TopUp,
    /// A correction by an administrator, either sign.
    Adjustment,
    /// Printing paid by credit.
    Charge,
    /// A charge given back.
    Refund,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreditTransaction {
    pub id: String,
    pub kind: TransactionKind,
    pub amount_cents: i64,
    pub balance_after_cents: i64,
    pub comment: String,
    /// Who made it: an administrator's username, `cli`, or `system`.
    pub actor: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransactionPage {
    pub transactions: Vec<CreditTransaction>,
}

/// A PIN shown once, right after it was generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPin {
    pub pin: String,
}
