//! Offline operation and fallback printing: what a queue allows while the server cannot
//! be reached, what a client keeps to act on it, and the journal of what it printed
//! meanwhile, replayed to the server exactly once.

use serde::{Deserialize, Serialize};

use crate::PriceList;

/// What a queue's jobs do while the workstation cannot reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OfflinePolicy {
    /// Printed on a fallback printer, recorded when the server is back, never charged.
    PrintUnaccounted,
    /// Printed on a fallback printer only for a user nothing the client cannot check
    /// limits on this queue: no quota, no script or cost confirmation, and a cost centre
    /// pays, or their credit does within an offline credit line; charged when the server
    /// is back (below zero if need be). Anyone else's job is refused.
    PrintIfUnrestricted,
    /// Kept on the workstation and sent when the server is back.
    #[default]
    Hold,
    /// Refused, the user told why.
    Discard,
}

impl OfflinePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            OfflinePolicy::PrintUnaccounted => "print_unaccounted",
            OfflinePolicy::PrintIfUnrestricted => "print_if_unrestricted",
            OfflinePolicy::Hold => "hold",
            OfflinePolicy::Discard => "discard",
        }
    }
}

fn default_after() -> i64 {
    30
}

/// A queue's offline settings, as an administrator sets them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineSettings {
    #[serde(default)]
    pub policy: OfflinePolicy,
    /// Printers (by name, among the server's printers) a job may fall back to; each is
    /// priced by its own price list.
    #[serde(default)]
    pub fallback_printers: Vec<String>,
    /// The user may also pick a printer of the workstation's own spooler, or type a
    /// printer's address; such a job is priced by the first fallback printer's list (or,
    /// without one, the queue's first printer's).
    #[serde(default)]
    pub pick: bool,
    /// How long the server must have been unreachable before the policy applies.
    #[serde(default = "default_after")]
    pub after_seconds: i64,
}

impl Default for OfflineSettings {
    fn default() -> Self {
        OfflineSettings {
            policy: OfflinePolicy::Hold,
            fallback_printers: Vec::new(),
            pick: false,
            after_seconds: 30,
        }
    }
}

/// How much a user may print while offline before the client stops offering it (jobs
/// not yet reported count); no limit where both are absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineLine {
    #[serde(default)]
    pub pages: Option<i64>,
    #[serde(default)]
    pub amount_cents: Option<i64>,
}

/// A printer a client may send a job to directly while offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FallbackPrinter {
    pub name: String,
    pub uri: String,
    /// The pinned certificate of an IPPS printer.
    #[serde(default)]
    pub fingerprint: Option<String>,
    pub price: PriceList,
}

/// One queue as a client acts on it offline, for the identified user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineQueue {
    pub name: String,
    /// Jobs that name no queue go to this one.
    pub default: bool,
    pub policy: OfflinePolicy,
    pub fallback: Vec<FallbackPrinter>,
    /// The user may pick a local printer or type one; priced by `pick_price`.
    pub pick: bool,
    #[serde(default)]
    pub pick_price: Option<PriceList>,
    pub after_seconds: i64,
    /// Nothing the client cannot check limits this user's jobs on this queue (see
    /// `print_if_unrestricted`).
    pub unrestricted: bool,
    /// Jobs wait for their owner's release (pull, private): they wait for the server.
    pub released: bool,
}

/// What a client keeps to work for its user while the server cannot be reached
/// (`GET /api/v1/me/offline`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineTerms {
    pub username: String,
    pub queues: Vec<OfflineQueue>,
    pub line: OfflineLine,
}

impl OfflineTerms {
    /// The queue named `name`, or the default queue when `None`.
    pub fn queue(&self, name: Option<&str>) -> Option<&OfflineQueue> {
        self.queues.iter().find(|q| match name {
            Some(name) => q.name == name,
            None => q.default,
        })
    }
}

/// A job printed while offline, written to the journal before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineJob {
    /// The client's id for the job (its local spool name): one job, however often told.
    pub job: String,
    pub user: String,
    pub queue: String,
    pub name: String,
    /// The printer's name: a fallback printer's, a local queue's, or the address typed.
    pub printer: String,
    pub printer_uri: String,
    pub pages: i64,
    pub copies: i64,
    pub colour: bool,
    pub duplex: bool,
    pub media: String,
    /// Under `print_unaccounted`: recorded, never charged.
    pub unaccounted: bool,
}

/// How an offline job ended at its printer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineOutcome {
    pub job: String,
    pub printed: bool,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub printer_job_id: Option<i64>,
    #[serde(default)]
    pub impressions: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JournalRecord {
    Job(OfflineJob),
    Outcome(OfflineOutcome),
    /// A job of a monitored local queue printed while the server could not be reached.
    Local(OfflineLocalJob),
}

/// A local job printed offline (see [`crate::local`]); `job` is its CUPS job UUID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfflineLocalJob {
    pub job: String,
    pub user: String,
    pub cups_queue: String,
    pub device_uri: String,
    pub name: String,
    pub pages: i64,
    pub copies: i64,
    pub colour: bool,
    pub duplex: bool,
    pub media: String,
}

/// One entry of a workstation's journal: numbered, chained to the one before by its
/// SHA-256 (`prev`, hex, empty for the first) and signed with the workstation key over
/// [`JournalEntry::signed_bytes`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JournalEntry {
    /// Unique (a UUID): the server accepts each entry once.
    pub id: String,
    /// 1 for the workstation's first entry, then one more each.
    pub seq: i64,
    pub prev: String,
    pub at_ms: i64,
    pub record: JournalRecord,
    /// Base64 Ed25519 signature.
    pub signature: String,
}

/// Appends a field as `length:bytes\n`, so that no two different entries share their
/// bytes whatever their texts hold.
pub(crate) fn field(out: &mut Vec<u8>, value: &str) {
    out.extend_from_slice(value.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
}

fn flag(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

fn number(n: Option<i64>) -> String {
    n.map_or_else(|| "-".to_string(), |n| n.to_string())
}

impl JournalEntry {
    /// The exact bytes the workstation signs, and whose SHA-256 the next entry's `prev`
    /// names: a domain tag, the workstation, then every field but the signature.
    pub fn signed_bytes(&self, workstation_id: &str) -> Vec<u8> {
        let mut out = b"ream-journal-v1\n".to_vec();
        for f in [workstation_id, &self.id, &self.seq.to_string(), &self.prev, &self.at_ms.to_string()] {
            field(&mut out, f);
        }
        match &self.record {
            JournalRecord::Job(j) => {
                field(&mut out, "job");
                for f in [&j.job, &j.user, &j.queue, &j.name, &j.printer, &j.printer_uri] {
                    field(&mut out, f);
                }
                for n in [j.pages, j.copies] {
                    field(&mut out, &n.to_string());
                }
                field(&mut out, flag(j.colour));
                field(&mut out, flag(j.duplex));
                field(&mut out, &j.media);
                field(&mut out, flag(j.unaccounted));
            }
            JournalRecord::Outcome(o) => {
                field(&mut out, "outcome");
                field(&mut out, &o.job);
                field(&mut out, flag(o.printed));
                field(&mut out, o.reason.as_deref().unwrap_or("-"));
                field(&mut out, flag(o.reason.is_some()));
                field(&mut out, &number(o.printer_job_id));
                field(&mut out, &number(o.impressions));
            }
            JournalRecord::Local(l) => {
                field(&mut out, "local");
                for f in [&l.job, &l.user, &l.cups_queue, &l.device_uri, &l.name] {
                    field(&mut out, f);
                }
                for n in [l.pages, l.copies] {
                    field(&mut out, &n.to_string());
                }
                field(&mut out, flag(l.colour));
                field(&mut out, flag(l.duplex));
                field(&mut out, &l.media);
            }
        }
        out
    }

    /// The client's id of the job the entry is about.
    pub fn job(&self) -> &str {
        match &self.record {
            JournalRecord::Job(j) => &j.job,
            JournalRecord::Outcome(o) => &o.job,
            JournalRecord::Local(l) => &l.job,
        }
    }
}

/// `POST /api/v1/workstations/{id}/journal`: entries in order, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JournalBatch {
    pub entries: Vec<JournalEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JournalStatus {
    /// Taken now.
    Accepted,
    /// Taken before (its answer was lost): nothing more done.
    Duplicate,
    /// Not taken, for good (a forged or edited entry, an unknown user or queue): the
    /// client stops sending it; administrators see it among the journal refusals.
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JournalResult {
    pub id: String,
    pub status: JournalStatus,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JournalReceipt {
    pub results: Vec<JournalResult>,
}

/// A journal entry the server did not take, for administrators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JournalRefusal {
    pub workstation_id: String,
    pub entry_id: String,
    pub seq: i64,
    pub reason: String,
    pub at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(record: JournalRecord) -> JournalEntry {
        JournalEntry {
            id: "e".into(),
            seq: 1,
            prev: String::new(),
            at_ms: 5,
            record,
            signature: String::new(),
        }
    }

    fn job() -> OfflineJob {
        OfflineJob {
            job: "j".into(),
            user: "alice".into(),
            queue: "q".into(),
            name: "a.pdf".into(),
            printer: "fb".into(),
            printer_uri: "ipp://fb/ipp/print".into(),
            pages: 3,
            copies: 1,
            colour: false,
            duplex: false,
            media: "iso_a4_210x297mm".into(),
            unaccounted: false,
        }
    }

    #[test]
    fn signed_bytes_bind_every_field() {
        let base = entry(JournalRecord::Job(job())).signed_bytes("ws");
        type Change = Box<dyn Fn(&mut JournalEntry)>;
        let changes: Vec<Change> = vec![
            Box::new(|e| e.id = "f".into()),
            Box::new(|e| e.seq = 2),
            Box::new(|e| e.prev = "00".into()),
            Box::new(|e| e.at_ms = 6),
            Box::new(|e| {
                if let JournalRecord::Job(j) = &mut e.record {
                    j.pages = 1
                }
            }),
            Box::new(|e| {
                if let JournalRecord::Job(j) = &mut e.record {
                    j.user = "bob".into()
                }
            }),
            Box::new(|e| {
                if let JournalRecord::Job(j) = &mut e.record {
                    j.colour = true
                }
            }),
            Box::new(|e| {
                if let JournalRecord::Job(j) = &mut e.record {
                    j.unaccounted = true
                }
            }),
            // A text that would read as two fields joined is still another entry.
            Box::new(|e| {
                if let JournalRecord::Job(j) = &mut e.record {
                    j.name = "a.pdf\n2:fb".into();
                    j.printer = String::new();
                }
            }),
        ];
        for change in changes {
            let mut other = entry(JournalRecord::Job(job()));
            change(&mut other);
            assert_ne!(other.signed_bytes("ws"), base);
        }
        assert_ne!(entry(JournalRecord::Job(job())).signed_bytes("ws2"), base);
        let outcome = |reason: Option<&str>| {
            entry(JournalRecord::Outcome(OfflineOutcome {
                job: "j".into(),
                printed: false,
                reason: reason.map(str::to_string),
                printer_job_id: None,
                impressions: None,
            }))
            .signed_bytes("ws")
        };
        assert_ne!(outcome(None), outcome(Some("-")));
    }
}
