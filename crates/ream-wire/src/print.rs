//! Printing: printers, price lists, queues and jobs, as the server and its clients see
//! them.

use serde::{Deserialize, Serialize};

/// How a queue learns who sent a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DetectionMethod {
    /// The user identified at the workstation owns the job.
    Session,
    /// Ask the user to pick their account from the user list.
    UserList,
    /// Ask for a PIN or a card.
    PinCard,
    /// Ask for username and password.
    Password,
}

impl DetectionMethod {
    /// The login methods a queue with this detection asks for (empty: any).
    pub fn login_methods(self) -> Vec<crate::LoginMethod> {
        use crate::LoginMethod::*;
        match self {
            DetectionMethod::Session => Vec::new(),
            DetectionMethod::UserList => vec![UserList],
            DetectionMethod::PinCard => vec![Pin, Card, CardPin],
            DetectionMethod::Password => vec![Password],
        }
    }
}

/// What a client may know of a queue before anyone logs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueInfo {
    pub name: String,
    pub detection: DetectionMethod,
    /// The printers a job of this queue can be released to (the first by default).
    #[serde(default)]
    pub printers: Vec<String>,
    /// `client`: the document stays on the workstation until it is released.
    #[serde(default)]
    pub spooling: SpoolingMode,
    /// Jobs that name no queue go to this one (the configured default queue, or the only
    /// queue there is).
    #[serde(default)]
    pub default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueInfoList {
    pub queues: Vec<QueueInfo>,
    /// The largest document the server takes, in bytes (its `max_job_bytes`): the
    /// workstation refuses a larger one as it comes, rather than sending it to be refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_job_bytes: Option<u64>,
}

/// What pays for a queue's jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccountingMode {
    Credit,
    Quota,
    CostCentre,
}

/// Where a queue's job data waits until it prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SpoolingMode {
    #[default]
    Server,
    Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReleaseMode {
    /// Prints at once.
    Direct,
    /// Held until its owner releases it.
    Pull,
    /// Like pull, and deleted after printing.
    Private,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceList {
    pub name: String,
    /// Per A4/Letter page.
    pub mono_page_cents: i64,
    pub colour_page_cents: i64,
    /// Taken off each page printed on both sides.
    pub duplex_page_discount_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Printer {
    pub name: String,
    /// `ipp://…` or `ipps://…`.
    pub uri: String,
    pub price_list: String,
    /// For IPPS: the SHA-256 fingerprint of the printer's certificate; no other is
    /// accepted. Taken from the printer when it is added without one.
    #[serde(default)]
    pub fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Queue {
    pub name: String,
    pub detection: DetectionMethod,
    pub accounting: AccountingMode,
    pub project_accounting: bool,
    pub spooling: SpoolingMode,
    pub release: ReleaseMode,
    /// Ask the user to confirm pages and price before a job is accepted.
    #[serde(default)]
    pub confirm_cost: bool,
    /// A Rhai script run for each job (see the README).
    #[serde(default)]
    pub script: Option<String>,
    pub printers: Vec<String>,
    /// How long a job waits (held, or for its dialog's answers) before it expires; the
    /// server's `held_hours` when absent.
    #[serde(default)]
    pub held_hours: Option<i64>,
    /// What the queue's jobs do while a workstation cannot reach the server.
    #[serde(default)]
    pub offline: crate::OfflineSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for the user to answer the job dialog.
    WaitingForUser,
    /// Held until its owner releases it.
    Held,
    /// On its way to the printer, or printing.
    Printing,
    Printed,
    /// The printer failed it; `reason` says why.
    Failed,
    /// Refused before printing (not enough credit, a script, the user); `reason` says why.
    Rejected,
    /// Deleted by its owner.
    Deleted,
    /// Not released (or its dialog not answered) within the queue's `held_hours`: its
    /// document is gone and it holds nothing more.
    Expired,
}

/// What a client sends with a job's document (as JSON in the `X-Ream-Job` header of
/// `POST /api/v1/jobs`; the body is the document itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobSubmission {
    pub name: String,
    /// The queue; the server's default queue when absent.
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default = "one")]
    pub copies: i64,
    /// `one-sided`, `two-sided-long-edge` or `two-sided-short-edge`.
    #[serde(default)]
    pub sides: Option<String>,
    /// `monochrome` or `color` (anything else: colour).
    #[serde(default)]
    pub color_mode: Option<String>,
    /// A PWG media name such as `iso_a4_210x297mm`.
    #[serde(default)]
    pub media: Option<String>,
    /// For a client-spooled queue only (the body is then empty): the document's pages,
    /// counted by the client that keeps it.
    #[serde(default)]
    pub pages: Option<i64>,
    /// For a client-spooled queue only: the id of the client that keeps the document
    /// (the one it connects its push channel with).
    #[serde(default)]
    pub holder: Option<String>,
    /// The id the client gave the job when it entered its local spool (at most 100
    /// characters). A submission repeated with the same id (its answer was lost) returns
    /// the job made the first time instead of making a second one.
    #[serde(default)]
    pub client_job_id: Option<String>,
}

/// How a client-spooled job went at the printer, reported by the client that sent it
/// (`POST /api/v1/jobs/{id}/outcome`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryReport {
    pub printed: bool,
    /// Why it did not print.
    #[serde(default)]
    pub reason: Option<String>,
    /// The printer's id for the job, so the server can ask the printer itself.
    #[serde(default)]
    pub printer_job_id: Option<i32>,
    /// The impressions the printer told the client it made (`job-impressions-completed`).
    #[serde(default)]
    pub impressions: Option<i64>,
}

/// How the server checked a printed job against its printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PrintCheck {
    /// The printer says it completed the job, with the impressions expected (or does not
    /// count them).
    Confirmed,
    /// The printer disagrees: the job is not completed there, or its impressions differ
    /// from the pages charged. Shown to administrators.
    Mismatch,
    /// The printer could not be asked (unreachable from the server, or no job id).
    Unverified,
}

/// A job as administrators review it: what was charged beside what the printer and the
/// reporting client counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminJob {
    pub id: String,
    pub owner: Option<String>,
    pub name: String,
    pub queue: String,
    pub state: JobState,
    pub printer: Option<String>,
    /// Impressions charged: pages × copies.
    pub impressions_charged: i64,
    /// What the client that printed a client-spooled job reported.
    pub impressions_reported: Option<i64>,
    /// What the printer says (`job-impressions-completed`).
    pub impressions_at_printer: Option<i64>,
    pub check: Option<PrintCheck>,
    pub price_cents: i64,
    pub updated_at_ms: i64,
    /// For a job printed offline: where, and how its charge went.
    #[serde(default)]
    pub offline: Option<OfflineMark>,
    /// A job of a workstation's own printer (local print monitoring).
    #[serde(default)]
    pub local: bool,
}

/// How a job printed while its workstation was offline was accounted for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineMark {
    pub workstation_id: String,
    /// Printed under `print_unaccounted`: recorded, not charged.
    pub unaccounted: bool,
    /// Its charge took the owner's credit below zero.
    pub overdrawn: bool,
}

/// Where a client sends a document it keeps, once its owner released it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrintTarget {
    pub printer: String,
    /// `ipp://…` or `ipps://…`.
    pub uri: String,
    /// The pinned certificate of an IPPS printer.
    pub fingerprint: Option<String>,
    /// Whose job it is, for the printer's records.
    pub user: String,
}

fn one() -> i64 {
    1
}

pub const JOB_HEADER: &str = "x-ream-job";

/// A job as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    pub id: String,
    pub name: String,
    pub queue: String,
    pub state: JobState,
    /// Why it failed or was refused.
    pub reason: Option<String>,
    /// Pages of the document (from the document itself).
    pub pages: i64,
    pub copies: i64,
    pub colour: bool,
    pub duplex: bool,
    pub media: String,
    pub price_cents: i64,
    pub printer: Option<String>,
    /// What pays, once decided.
    pub payment: Option<PaymentChoice>,
    pub project: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Printed on a fallback printer while the workstation could not reach the server,
    /// and reported afterwards.
    #[serde(default)]
    pub offline: bool,
    /// Printed on one of the workstation's own printers (local print monitoring);
    /// `queue` is then `queue@workstation`.
    #[serde(default)]
    pub local: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobList {
    pub jobs: Vec<Job>,
}

/// What pays for a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    Credit,
    Quota,
    CostCentre,
}

/// One account the user may pay a job with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentOption {
    pub kind: PaymentKind,
    /// The cost centre's name; absent for credit and quota.
    pub name: Option<String>,
    /// What it has left, for people ("20.00 EUR", "480 pages"), or the cost centre's
    /// description.
    pub detail: String,
    /// For credit: the balance, for front ends to format in their own language.
    #[serde(default)]
    pub credit_cents: Option<i64>,
    /// For a quota: the user's quotas as they stand.
    #[serde(default)]
    pub quotas: Vec<crate::QuotaView>,
}

/// Everything the user must decide about a job, in one dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobDialog {
    pub job: Job,
    /// The accounts that may pay; one is chosen when `choose_payment`.
    pub payment_options: Vec<PaymentOption>,
    pub choose_payment: bool,
    /// The projects open to the user; one is chosen when `choose_project`.
    pub projects: Vec<crate::AccountRef>,
    pub choose_project: bool,
    /// The user must confirm the job's pages and price.
    pub confirm: bool,
    /// The queue script's questions, answered in [`JobAnswer::answers`].
    #[serde(default)]
    pub questions: Vec<Question>,
    /// What the script wants the user to know.
    #[serde(default)]
    pub notices: Vec<String>,
}

/// The user's answer to a job dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobAnswer {
    #[serde(default)]
    pub payment: Option<PaymentChoice>,
    /// A project's name.
    #[serde(default)]
    pub project: Option<String>,
    /// False cancels the job.
    pub accept: bool,
    /// Answer every other job of mine that waits for the same choices, the same way.
    #[serde(default)]
    pub apply_to_all_waiting: bool,
    /// Answers to the script's questions, by question id.
    #[serde(default)]
    pub answers: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentChoice {
    pub kind: PaymentKind,
    /// The cost centre's name, for `cost_centre`.
    #[serde(default)]
    pub name: Option<String>,
}

/// The kind of a question a queue's script asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// Answered `yes` or `no`.
    YesNo,
    /// Answered `print` or `no`.
    PrintNo,
    /// Answered `yes`, `no` or `cancel`.
    YesNoCancel,
    Text,
    /// A number, as text.
    Number,
    /// One of `choices`.
    Choice,
    /// Answered `true` or `false`.
    Checkbox,
}

/// A question from the queue's script, part of the job dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Question {
    /// The key its answer goes under in [`JobAnswer::answers`].
    pub id: String,
    pub kind: QuestionKind,
    pub text: String,
    #[serde(default)]
    pub choices: Vec<String>,
}
