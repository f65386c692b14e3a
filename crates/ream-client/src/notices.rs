//! What deserves a desktop notification, decided from the engine's events.
//!
//! A front end feeds every [`ClientEvent`] to [`Notices::observe`] and shows what comes
//! back in its own words; it decides nothing itself. The rules live here so that every
//! front end (the desktop app's notifications, a terminal) warns about the same things,
//! and only once:
//! - a login is asked for a print job (not the plain "nobody is logged in" at start);
//! - a job waits for the user's choices; a job is held, printed, failed or rejected —
//!   each job once per state, although the server's push and the client's own submission
//!   may both report it;
//! - credit falls below the threshold: once when it crosses (or is first seen below), not
//!   on every update; again only after it has been back above;
//! - a quota is at least 90 % used: once per quota and period;
//! - a document cannot reach the server yet and is kept (the engine tells this once per
//!   job);
//! - the server became unreachable, or is back;
//! - a job may go to a fallback printer (each offer once), was printed on one, and the
//!   jobs printed offline were reported.
//!
//! The memory is per run and per user: a new user starts afresh.

use std::collections::{HashMap, HashSet};

use ream_wire::{ClientEvent, ClientStatus, JobState, QuotaView};

/// A quota counts as nearly used up from this share used, in percent.
pub const QUOTA_NEARLY_USED_PERCENT: i64 = 90;

/// Something to tell the user, with what the words need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Nobody is identified and a print job waits for a login.
    LoginNeeded {
        job: String,
    },
    /// A job waits for the user's choices (payment, project, confirmation, questions).
    JobNeedsChoice {
        id: String,
        name: String,
    },
    JobHeld {
        id: String,
        name: String,
    },
    JobPrinted {
        id: String,
        name: String,
    },
    /// A document kept on the workstation until the server takes it.
    JobDelayed {
        name: String,
        reason: String,
    },
    /// Failed at the printer, refused by the server, or not submitted at all (`id` none).
    JobRejected {
        id: Option<String>,
        name: String,
        reason: String,
    },
    LowCredit {
        credit_cents: i64,
        threshold_cents: i64,
        currency: String,
    },
    QuotaNearlyUsed {
        quota: QuotaView,
    },
    ServerUnreachable {
        reason: String,
    },
    ServerBack,
    /// The server cannot be reached: the user may send the job to a fallback printer,
    /// or try again, or cancel it.
    FallbackOffered {
        job: String,
        name: String,
        /// Printers are offered (else only try again or cancel).
        printers: bool,
    },
    /// A job printed on a fallback printer while the server was unreachable.
    OfflinePrinted {
        name: String,
        printer: String,
    },
    /// Jobs printed offline reached the server's accounts.
    OfflineReported {
        reported: u32,
        refused: u32,
    },
}

/// The memory behind "only once"; see the module documentation.
#[derive(Debug)]
pub struct Notices {
    low_credit_cents: i64,
    user: Option<String>,
    credit_below: bool,
    /// (quota id, period start) already warned about.
    quotas_warned: HashSet<(String, Option<i64>)>,
    /// The last state told for each job.
    jobs_told: HashMap<String, JobState>,
    /// Jobs whose fallback offer was told (an offer shown again is not told again).
    offers_told: HashSet<String>,
}

impl Notices {
    /// `low_credit_cents`: credit below this is low (the settings' `low_credit_cents`).
    pub fn new(low_credit_cents: i64) -> Notices {
        Notices {
            low_credit_cents,
            user: None,
            credit_below: false,
            quotas_warned: HashSet::new(),
            jobs_told: HashMap::new(),
            offers_told: HashSet::new(),
        }
    }

    /// What `event` should tell the user, in order.
    pub fn observe(&mut self, event: &ClientEvent) -> Vec<Notice> {
        match event {
            ClientEvent::Status { status } => self.account(status),
            ClientEvent::LoginRequired { job: Some(job), .. } => {
                vec![Notice::LoginNeeded { job: job.clone() }]
            }
            ClientEvent::LoginRequired { job: None, .. } | ClientEvent::LoggedOut { .. } => Vec::new(),
            ClientEvent::ServerUnreachable { reason } => {
                vec![Notice::ServerUnreachable { reason: reason.clone() }]
            }
            ClientEvent::ServerBack => vec![Notice::ServerBack],
            ClientEvent::JobSubmitted { job } | ClientEvent::JobChanged { job } => self.job(job),
            ClientEvent::JobRefused { name, reason, .. } => {
                vec![Notice::JobRejected { id: None, name: name.clone(), reason: reason.clone() }]
            }
            ClientEvent::JobDelayed { name, reason, .. } => {
                vec![Notice::JobDelayed { name: name.clone(), reason: reason.clone() }]
            }
            ClientEvent::JobDialog { dialog } => {
                let job = &dialog.job;
                self.jobs_told.insert(job.id.clone(), JobState::WaitingForUser);
                vec![Notice::JobNeedsChoice { id: job.id.clone(), name: job.name.clone() }]
            }
            ClientEvent::FallbackOffered { offer } => {
                if !self.offers_told.insert(offer.job.clone()) {
                    return Vec::new();
                }
                vec![Notice::FallbackOffered {
                    job: offer.job.clone(),
                    name: offer.name.clone(),
                    printers: !offer.printers.is_empty() || offer.may_type,
                }]
            }
            ClientEvent::FallbackClosed { .. } => Vec::new(),
            ClientEvent::OfflinePrinted { name, printer } => {
                vec![Notice::OfflinePrinted { name: name.clone(), printer: printer.clone() }]
            }
            ClientEvent::OfflineReported { reported, refused } if reported + refused > 0 => {
                vec![Notice::OfflineReported { reported: *reported, refused: *refused }]
            }
            ClientEvent::OfflineReported { .. } => Vec::new(),
        }
    }

    fn job(&mut self, job: &ream_wire::Job) -> Vec<Notice> {
        let (id, name) = (job.id.clone(), job.name.clone());
        let notice = match job.state {
            JobState::Held => Notice::JobHeld { id, name },
            JobState::Printed => Notice::JobPrinted { id, name },
            JobState::Failed | JobState::Rejected | JobState::Expired => {
                let reason = job.reason.clone().unwrap_or_default();
                Notice::JobRejected { id: Some(id), name, reason }
            }
            // Waiting jobs are told by their dialog; printing and deleted ones need nothing.
            JobState::WaitingForUser | JobState::Printing | JobState::Deleted => return Vec::new(),
        };
        if self.jobs_told.insert(job.id.clone(), job.state) == Some(job.state) {
            return Vec::new();
        }
        vec![notice]
    }

    fn account(&mut self, status: &ClientStatus) -> Vec<Notice> {
        let user = status.user.as_ref().map(|u| u.username.clone());
        if user != self.user {
            self.user = user;
            self.credit_below = false;
            self.quotas_warned.clear();
            self.jobs_told.clear();
        }
        let Some(account) = &status.account else { return Vec::new() };
        let mut out = Vec::new();
        let below = account.credit_cents < self.low_credit_cents;
        if below && !self.credit_below {
            out.push(Notice::LowCredit {
                credit_cents: account.credit_cents,
                threshold_cents: self.low_credit_cents,
                currency: account.currency.clone(),
            });
        }
        self.credit_below = below;
        for quota in &account.quotas {
            let nearly_used = quota.limit > 0 && quota.used * 100 >= quota.limit * QUOTA_NEARLY_USED_PERCENT;
            if nearly_used && self.quotas_warned.insert((quota.id.clone(), quota.period_start_ms)) {
                out.push(Notice::QuotaNearlyUsed { quota: quota.clone() });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use ream_wire::{AccountView, Connection, Job, QuotaMetric, QuotaPeriod, UserSummary};

    use super::*;

    fn quota(id: &str, used: i64, limit: i64, period_start_ms: i64) -> QuotaView {
        QuotaView {
            id: id.into(),
            name: format!("quota {id}"),
            period: QuotaPeriod::Month,
            metric: QuotaMetric::TotalPages,
            limit,
            used,
            reserved: 0,
            remaining: (limit - used).max(0),
            period_start_ms: Some(period_start_ms),
            period_end_ms: None,
        }
    }

    /// A status event: `user` with `credit_cents` and `quotas`.
    fn account(user: &str, credit_cents: i64, quotas: Vec<QuotaView>) -> ClientEvent {
        let status = ClientStatus {
            server: Some("http://127.0.0.1:8631".into()),
            connection: Connection::Online,
            user: Some(UserSummary { username: user.into(), full_name: user.into() }),
            method: None,
            remember: None,
            session_ends_at_ms: None,
            account: Some(AccountView {
                username: user.into(),
                full_name: user.into(),
                email: None,
                groups: Vec::new(),
                is_admin: false,
                credit_cents,
                reserved_cents: 0,
                currency: "EUR".into(),
                quotas,
                cost_centres: Vec::new(),
                projects: Vec::new(),
                has_pin: true,
                version: 1,
                server_time_ms: 0,
                offline_line: Default::default(),
            }),
            account_stale: false,
            account_as_of_ms: None,
            workstation_id: None,
            revision: 1,
            offline_pending: 0,
        };
        ClientEvent::Status { status: Box::new(status) }
    }

    fn job(id: &str, state: JobState, reason: Option<&str>) -> Job {
        Job {
            id: id.into(),
            name: format!("doc {id}"),
            queue: "Direct".into(),
            state,
            reason: reason.map(Into::into),
            pages: 1,
            copies: 1,
            colour: false,
            duplex: false,
            media: "iso_a4_210x297mm".into(),
            price_cents: 5,
            printer: None,
            payment: None,
            project: None,
            created_at_ms: 0,
            updated_at_ms: 0,
            offline: false,
            local: false,
        }
    }

    /// Feeds `events` in order; each item is what the matching event must give, by kind.
    fn check(threshold: i64, steps: &[(ClientEvent, &[&str])]) {
        let mut notices = Notices::new(threshold);
        for (i, (event, expected)) in steps.iter().enumerate() {
            let got: Vec<String> = notices
                .observe(event)
                .iter()
                .map(|n| format!("{n:?}").split([' ', '{']).next().unwrap().to_string())
                .collect();
            assert_eq!(got, *expected, "step {i}: {event:?}");
        }
    }

    #[test]
    fn low_credit_is_told_when_crossed_not_on_every_update() {
        check(
            100,
            &[
                (account("alice", 2000, vec![]), &[]),
                (account("alice", 150, vec![]), &[]),
                (account("alice", 99, vec![]), &["LowCredit"]),
                (account("alice", 50, vec![]), &[]),
                (account("alice", 0, vec![]), &[]),
                (account("alice", 500, vec![]), &[]),
                (account("alice", 80, vec![]), &["LowCredit"]),
                // Exactly at the threshold is not below it.
                (account("alice", 100, vec![]), &[]),
            ],
        );
    }

    #[test]
    fn low_credit_at_first_sight_is_told_once_per_user() {
        check(
            100,
            &[
                (account("bob", 50, vec![]), &["LowCredit"]),
                (account("bob", 50, vec![]), &[]),
                (account("carol", 20, vec![]), &["LowCredit"]),
                (account("bob", 50, vec![]), &["LowCredit"]),
            ],
        );
        let mut notices = Notices::new(100);
        assert_eq!(
            notices.observe(&account("bob", 50, vec![])),
            vec![Notice::LowCredit { credit_cents: 50, threshold_cents: 100, currency: "EUR".into() }]
        );
    }

    #[test]
    fn a_quota_nearly_used_is_told_once_per_period() {
        check(
            0,
            &[
                (account("alice", 2000, vec![quota("q", 89, 100, 1)]), &[]),
                (account("alice", 2000, vec![quota("q", 90, 100, 1)]), &["QuotaNearlyUsed"]),
                (account("alice", 2000, vec![quota("q", 95, 100, 1)]), &[]),
                (account("alice", 2000, vec![quota("q", 100, 100, 1)]), &[]),
                // Another quota, and the next period of the first.
                (
                    account("alice", 2000, vec![quota("q", 0, 100, 2), quota("r", 9, 10, 1)]),
                    &["QuotaNearlyUsed"],
                ),
                (
                    account("alice", 2000, vec![quota("q", 91, 100, 2), quota("r", 9, 10, 1)]),
                    &["QuotaNearlyUsed"],
                ),
                // A quota without a limit is never nearly used.
                (account("alice", 2000, vec![quota("z", 0, 0, 1)]), &[]),
            ],
        );
    }

    #[test]
    fn each_job_state_is_told_once() {
        let held = || ClientEvent::JobSubmitted { job: job("1", JobState::Held, None) };
        let held_again = || ClientEvent::JobChanged { job: job("1", JobState::Held, None) };
        let printing = || ClientEvent::JobChanged { job: job("1", JobState::Printing, None) };
        let printed = || ClientEvent::JobChanged { job: job("1", JobState::Printed, None) };
        let failed = ClientEvent::JobChanged { job: job("2", JobState::Failed, Some("paper jam")) };
        check(
            0,
            &[
                (held(), &["JobHeld"]),
                (held_again(), &[]),
                (printing(), &[]),
                (printed(), &["JobPrinted"]),
                (printed(), &[]),
                (failed.clone(), &["JobRejected"]),
                (failed, &[]),
            ],
        );
        let mut notices = Notices::new(0);
        let refused = ClientEvent::JobRefused {
            name: "a.pdf".into(),
            reason: "not enough credit".into(),
            code: "CREDIT_INSUFFICIENT".into(),
        };
        assert_eq!(
            notices.observe(&refused),
            vec![Notice::JobRejected { id: None, name: "a.pdf".into(), reason: "not enough credit".into() }]
        );
        let rejected = ClientEvent::JobChanged { job: job("3", JobState::Rejected, Some("cancelled")) };
        assert_eq!(
            notices.observe(&rejected),
            vec![Notice::JobRejected {
                id: Some("3".into()),
                name: "doc 3".into(),
                reason: "cancelled".into()
            }]
        );
    }

    #[test]
    fn logins_are_told_only_for_a_job_and_the_server_on_each_change() {
        let login = |job: Option<&str>| ClientEvent::LoginRequired {
            reason: "log in".into(),
            methods: Vec::new(),
            job: job.map(Into::into),
        };
        check(
            0,
            &[
                (login(None), &[]),
                (login(Some("a.pdf")), &["LoginNeeded"]),
                (ClientEvent::ServerUnreachable { reason: "refused".into() }, &["ServerUnreachable"]),
                (ClientEvent::ServerBack, &["ServerBack"]),
                (ClientEvent::LoggedOut { reason: "logged out".into(), cause: Default::default() }, &[]),
            ],
        );
    }
}
