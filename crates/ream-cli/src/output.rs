//! What `ream` prints: sentences for people, or one JSON document (one per line for
//! `watch`) with `--json`.

use ream_client::Connected;
use ream_wire::{
    AccountView, ClientEvent, ClientStatus, Connection, DirectoryEntry, Job, JobDialog, LoginPolicy,
    QuotaMetric, QuotaView, RememberOption, TransactionPage,
};
use serde_json::json;

pub struct Output {
    pub json: bool,
}

fn now_ms() -> i64 {
    ream_client::workstation::now_ms()
}

/// "3 h 5 min", "42 s": how long from now until `t`, or since.
fn span(ms: i64) -> String {
    let s = ms.abs() / 1_000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3_599 => format!("{} min", s / 60),
        3_600..=86_399 => format!("{} h {} min", s / 3_600, s % 3_600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3_600),
    }
}

pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let amount = format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100);
    if currency.is_empty() {
        amount
    } else {
        format!("{amount} {currency}")
    }
}

fn quota_line(q: &QuotaView, currency: &str) -> String {
    let amount = |v: i64| match q.metric {
        QuotaMetric::Money => money(v, currency),
        QuotaMetric::TotalPages => format!("{v} pages"),
        QuotaMetric::ColourPages => format!("{v} colour pages"),
        QuotaMetric::MonoPages => format!("{v} mono pages"),
    };
    let period =
        serde_json::to_value(q.period).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let held =
        if q.reserved > 0 { format!(", {} held by waiting jobs", amount(q.reserved)) } else { String::new() };
    format!(
        "{}: {} used of {}{held}, {} left (per {period})",
        q.name,
        amount(q.used),
        amount(q.limit),
        amount(q.remaining)
    )
}

fn connection_line(status: &ClientStatus) -> String {
    let server = status.server.as_deref().unwrap_or("(none)");
    match &status.connection {
        Connection::NotConfigured => "no server configured (ream connect --server URL)".into(),
        Connection::Connecting => format!("{server} (connecting)"),
        Connection::Online => format!("{server} (online)"),
        Connection::Offline { since_ms, reason } => {
            format!("{server} (OFFLINE for {}: {reason})", span(now_ms() - since_ms))
        }
    }
}

impl Output {
    fn print(&self, value: serde_json::Value) {
        println!("{value}");
    }

    pub fn cups_installed(&self, queues: &[CupsQueue]) {
        if self.json {
            let list: Vec<_> =
                queues.iter().map(|q| json!({"cups": q.cups, "queue": q.queue, "uri": q.uri})).collect();
            return self.print(json!({ "queues": list }));
        }
        for q in queues {
            match &q.queue {
                Some(queue) => {
                    println!("CUPS queue {} prints to the server queue {queue} ({})", q.cups, q.uri)
                }
                None => println!("CUPS queue {} prints to the server's default queue ({})", q.cups, q.uri),
            }
        }
    }

    pub fn cups_removed(&self, names: &[String]) {
        if self.json {
            return self.print(json!({ "removed": names }));
        }
        if names.is_empty() {
            println!("No CUPS queue printed to this client.");
        }
        for name in names {
            println!("Removed the CUPS queue {name}");
        }
    }

    pub fn monitored(&self, queues: &[ream_client::monitor::setup::QueueState], undone: bool) {
        if self.json {
            return self.print(json!({ "queues": queues, "undone": undone }));
        }
        if queues.is_empty() {
            println!("No CUPS queue to monitor.");
        }
        for q in queues {
            match (q.monitored, undone) {
                (true, _) => println!("Monitored: {} ({})", q.queue, q.device_uri),
                (false, true) => println!("No longer monitored: {} (back to {})", q.queue, q.device_uri),
                (false, false) => println!("Not monitored (by the server's policy): {}", q.queue),
            }
        }
    }

    pub fn message(&self, text: &str) {
        if self.json {
            self.print(json!({"message": text}));
        } else {
            println!("{text}");
        }
    }

    pub fn connected(&self, status: &ClientStatus, c: &Connected) {
        if self.json {
            return self
                .print(json!({"server": status.server, "pinned_fingerprint": c.pinned, "policy": c.policy}));
        }
        println!("Connected to {} ({}).", status.server.as_deref().unwrap_or(""), c.policy.server_name);
        if let Some(fp) = &c.pinned {
            println!("Trusting the certificate with SHA-256 fingerprint {fp}.");
        }
    }

    pub fn enrolled(&self, id: &str, name: &str) {
        if self.json {
            return self.print(json!({"workstation_id": id, "name": name}));
        }
        println!("Enrolled this workstation as {name} ({id}); its key is in the OS keyring.");
    }

    pub fn policy(&self, p: &LoginPolicy, remember: &[RememberOption]) {
        if self.json {
            return self.print(json!({"policy": p, "remember_options": remember}));
        }
        let methods: Vec<&str> = p.methods.iter().map(|m| m.as_str()).collect();
        println!("Server:      {}", p.server_name);
        println!("Log in by:   {}", methods.join(", "));
        let labels: Vec<&str> = remember.iter().map(|o| o.label.as_str()).collect();
        println!("Remember me: {}", if labels.is_empty() { "not offered".into() } else { labels.join(", ") });
    }

    pub fn directory(&self, users: &[DirectoryEntry]) {
        if self.json {
            return self.print(json!({"users": users}));
        }
        for u in users {
            println!("{:<20} {}", u.username, u.full_name);
        }
    }

    pub fn pin(&self, pin: &str) {
        if self.json {
            return self.print(json!({"pin": pin}));
        }
        println!("Your new PIN: {pin}");
    }

    pub fn status(&self, status: &ClientStatus) {
        self.account(status, None, false)
    }

    pub fn account(&self, status: &ClientStatus, transactions: Option<&TransactionPage>, detailed: bool) {
        if self.json {
            let mut v = serde_json::to_value(status).expect("serialisable");
            if let Some(t) = transactions {
                v["transactions"] = serde_json::to_value(&t.transactions).expect("serialisable");
            }
            return self.print(v);
        }
        println!("Server:       {}", connection_line(status));
        let Some(user) = &status.user else {
            println!("User:         not logged in");
            return;
        };
        let how = match (&status.remember, status.session_ends_at_ms) {
            (Some(r), Some(end)) => format!("remembered ({r}), ends in {}", span(end - now_ms())),
            (Some(r), None) => format!("remembered ({r})"),
            (None, _) => "this session only".into(),
        };
        println!("User:         {} ({}), {how}", user.full_name, user.username);
        let Some(a) = &status.account else { return };
        if status.account_stale {
            let age = status.account_as_of_ms.map(|t| span(now_ms() - t)).unwrap_or_default();
            println!("              account as last known, {age} ago (offline: may be out of date)");
        }
        self.account_lines(a, detailed);
        if let Some(t) = transactions {
            println!("Recent credit movements:");
            for t in &t.transactions {
                println!(
                    "  {:>12}  balance {:>12}  {:?} {}",
                    money(t.amount_cents, &a.currency),
                    money(t.balance_after_cents, &a.currency),
                    t.kind,
                    t.comment
                );
            }
        }
    }

    fn account_lines(&self, a: &AccountView, detailed: bool) {
        if a.reserved_cents > 0 {
            println!(
                "Credit:       {} available ({} of {} held by jobs waiting to print)",
                money(a.credit_cents - a.reserved_cents, &a.currency),
                money(a.reserved_cents, &a.currency),
                money(a.credit_cents, &a.currency)
            );
        } else {
            println!("Credit:       {}", money(a.credit_cents, &a.currency));
        }
        for q in &a.quotas {
            println!("Quota:        {}", quota_line(q, &a.currency));
        }
        let names = |list: &[ream_wire::AccountRef]| {
            if list.is_empty() {
                "none".to_string()
            } else {
                list.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            }
        };
        let line = &a.offline_line;
        let offline = match (line.pages, line.amount_cents) {
            (None, None) => None,
            (Some(p), None) => Some(format!("{p} page(s)")),
            (None, Some(c)) => Some(money(c, &a.currency)),
            (Some(p), Some(c)) => Some(format!("{p} page(s) and {}", money(c, &a.currency))),
        };
        if let Some(offline) = offline {
            println!("Offline:      up to {offline} while the server cannot be reached");
        }
        println!("Cost centres: {}", names(&a.cost_centres));
        println!("Projects:     {}", names(&a.projects));
        if detailed {
            println!("Email:        {}", a.email.as_deref().unwrap_or("-"));
            println!(
                "Groups:       {}",
                if a.groups.is_empty() { "none".into() } else { a.groups.join(", ") }
            );
            println!("PIN:          {}", if a.has_pin { "set" } else { "none" });
        }
    }

    pub fn jobs(&self, jobs: &[Job]) {
        if self.json {
            return self.print(json!({"jobs": jobs}));
        }
        if jobs.is_empty() {
            println!("No jobs.");
        }
        for j in jobs {
            self.job_line(j);
        }
    }

    pub fn job(&self, job: &Job) {
        if self.json {
            return self.print(serde_json::to_value(job).expect("serialisable"));
        }
        self.job_line(job);
    }

    fn job_line(&self, j: &Job) {
        let state =
            serde_json::to_value(j.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let reason = j.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
        let offline = if j.offline { " [printed offline]" } else { "" };
        let local = if j.local { format!(" [local: {}]", j.queue) } else { String::new() };
        println!(
            "{}  {:<10} {:<30} {} page(s) x{} {}{}{}{}",
            j.id,
            state,
            j.name,
            j.pages,
            j.copies,
            money(j.price_cents, ""),
            local,
            offline,
            reason
        );
    }

    pub fn dialog(&self, d: &JobDialog) {
        if self.json {
            return self.print(serde_json::to_value(d).expect("serialisable"));
        }
        let j = &d.job;
        println!(
            "Job {:?}: {} page(s) x{}, {}, {}",
            j.name,
            j.pages,
            j.copies,
            if j.colour { "colour" } else { "mono" },
            if j.duplex { "two-sided" } else { "one-sided" }
        );
        println!("Price: {}", money(j.price_cents, ""));
        if d.choose_payment {
            println!("Pay with (--account):");
            for o in &d.payment_options {
                let kind = serde_json::to_value(o.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                let name = o.name.as_deref().map(|n| format!(":{n}")).unwrap_or_default();
                println!("  {kind}{name}  {}", o.detail);
            }
        }
        if d.choose_project {
            println!(
                "Project (--project): {}",
                d.projects.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
        for q in &d.questions {
            let kind = serde_json::to_value(q.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let choices =
                if q.choices.is_empty() { String::new() } else { format!(" [{}]", q.choices.join("/")) };
            println!("Question {} ({kind}{choices}): {}  (--answer {}=…)", q.id, q.text, q.id);
        }
        for n in &d.notices {
            println!("Note: {n}");
        }
        if d.confirm {
            println!("Confirm with `ream jobs answer {}` (or --cancel).", j.id);
        }
    }

    pub fn event(&self, event: &ClientEvent) {
        if self.json {
            return self.print(serde_json::to_value(event).expect("serialisable"));
        }
        match event {
            ClientEvent::Status { status } => {
                if let (Some(user), Some(a)) = (&status.user, &status.account) {
                    let stale = if status.account_stale { " (offline, last known)" } else { "" };
                    println!("{}: credit {}{stale}", user.username, money(a.credit_cents, &a.currency));
                }
            }
            ClientEvent::LoginRequired { reason, .. } => println!("Login required: {reason}"),
            ClientEvent::LoggedOut { reason, .. } => println!("Logged out: {reason}"),
            ClientEvent::ServerUnreachable { reason } => println!("Server unreachable: {reason}"),
            ClientEvent::ServerBack => println!("Server reachable again."),
            ClientEvent::JobSubmitted { job } => {
                println!("Job {:?} sent: {} page(s), {}", job.name, job.pages, money(job.price_cents, ""))
            }
            ClientEvent::JobRefused { name, reason, .. } => println!("Job {name:?} refused: {reason}"),
            ClientEvent::JobDelayed { name, reason, .. } => {
                println!(
                    "Job {name:?} is kept here until the server takes it ({reason}); it will be sent again."
                )
            }
            ClientEvent::JobDialog { dialog } => self.dialog(dialog),
            ClientEvent::JobChanged { job } => self.job_line(job),
            ClientEvent::FallbackOffered { offer } => self.offer(offer),
            ClientEvent::FallbackClosed { .. } => {}
            ClientEvent::OfflinePrinted { name, printer } => {
                println!("Server unreachable: job {name:?} printed on {printer}; it is reported when the server is back.")
            }
            ClientEvent::OfflineReported { reported, refused } => {
                println!("Jobs printed offline reported to the server: {reported}; refused: {refused}.")
            }
        }
    }

    /// A job the server cannot take now, and how to answer for it.
    fn offer(&self, o: &ream_wire::FallbackOffer) {
        println!("The server cannot be reached ({}): job {:?} ({}) waits.", o.reason, o.name, o.job);
        for p in &o.printers {
            let state = serde_json::to_value(p.state)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let local = if p.local { ", this computer's" } else { "" };
            println!(
                "  Printer {} ({state}{local}): ream jobs fallback {} --printer {:?}",
                p.name, o.job, p.name
            );
        }
        if o.may_type {
            println!("  Another printer: ream jobs fallback {} --printer HOST-OR-IPP-ADDRESS", o.job);
        }
        println!(
            "  Try again: ream jobs fallback {} --try-again; cancel: ream jobs fallback {} --cancel",
            o.job, o.job
        );
    }

    /// The jobs waiting for a fallback printer.
    pub fn offers(&self, offers: &[ream_wire::FallbackOffer]) {
        if self.json {
            return self.print(json!({"offers": offers}));
        }
        if offers.is_empty() {
            println!("No job waits for a fallback printer.");
        }
        for o in offers {
            self.offer(o);
        }
    }

    pub fn done(&self, what: &str) {
        if self.json {
            return self.print(json!({"done": what}));
        }
        println!("{what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_spans_read_well() {
        assert_eq!(money(2_000, "EUR"), "20.00 EUR");
        assert_eq!(money(-5, "EUR"), "-0.05 EUR");
        assert_eq!(money(10, ""), "0.10");
        assert_eq!(span(42_000), "42 s");
        assert_eq!(span(3 * 3_600_000 + 5 * 60_000), "3 h 5 min");
        assert_eq!(span(-90_000), "1 min");
    }
}

/// A CUPS queue made by `ream cups install`.
#[derive(Debug)]
pub struct CupsQueue {
    /// Its name in CUPS.
    pub cups: String,
    /// The server queue its jobs go to (`None`: the default one).
    pub queue: Option<String>,
    pub uri: String,
}
