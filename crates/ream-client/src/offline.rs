//! Offline operation's rules: what the client keeps of the server's offline terms (in
//! the cache folder, mode 0600, beside the account view; deleted with the login) and
//! what a job does while the server cannot be reached, by its queue's policy.

use std::path::PathBuf;

use ream_print::pricing::price;
use ream_wire::{FallbackPrinter, JournalRecord, OfflinePolicy, OfflineTerms, PriceList};

fn terms_path(server: &str) -> PathBuf {
    crate::files::per_server("offline", server)
}

/// Keeps the terms for an offline start.
pub fn save_terms(server: &str, terms: &OfflineTerms) {
    let written = serde_json::to_vec(terms).map_err(std::io::Error::other).and_then(|json| {
        std::fs::create_dir_all(crate::settings::cache_dir())?;
        crate::files::replace_synced(&terms_path(server), &json)
    });
    if let Err(e) = written {
        tracing::warn!(error = %e, "cannot keep the offline terms");
    }
}

pub fn load_terms(server: &str) -> Option<OfflineTerms> {
    serde_json::from_slice(&std::fs::read(terms_path(server)).ok()?).ok()
}

pub fn forget_terms(server: &str) {
    let _ = std::fs::remove_file(terms_path(server));
}

/// What a job does while the server cannot be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// It waits for the server (a held queue's job, nothing known of the queue, the
    /// offline credit line used up: `reason` says which).
    Wait { reason: String },
    /// It is refused: the queue discards jobs meanwhile, or prints them only for users
    /// nothing limits.
    Refuse { reason: String },
    /// The user may send it to one of `printers`, or (`pick`) a printer of their own or
    /// one typed, priced by `pick_price`; with neither, only try again or cancel.
    Offer { printers: Vec<FallbackPrinter>, pick: bool, pick_price: Option<PriceList>, unaccounted: bool },
}

/// What the user printed offline that the server has not acknowledged yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub pages: i64,
    pub cents: i64,
}

/// The pages and (by the printers' price lists) money of the jobs in `pending` entries
/// that `user` printed and that are charged.
pub fn usage(terms: &OfflineTerms, user: &str, pending: &[ream_wire::JournalEntry]) -> Usage {
    let mut used = Usage::default();
    for entry in pending {
        let JournalRecord::Job(j) = &entry.record else { continue };
        if j.user != user || j.unaccounted {
            continue;
        }
        used.pages += j.pages * j.copies;
        let queue = terms.queue(Some(&j.queue));
        let list = queue.and_then(|q| {
            q.fallback.iter().find(|p| p.name == j.printer).map(|p| &p.price).or(q.pick_price.as_ref())
        });
        if let Some(list) = list {
            used.cents += price(list, j.pages, j.copies, j.colour, j.duplex, &j.media);
        }
    }
    used
}

/// What a job of `pages × copies` pages for `queue` (the default queue when `None`) does
/// offline, for `user`, given what they printed offline already.
pub fn decide(
    terms: Option<&OfflineTerms>,
    user: &str,
    queue: Option<&str>,
    impressions: Option<i64>,
    used: Usage,
) -> Decision {
    let wait = |reason: &str| Decision::Wait { reason: reason.to_string() };
    let Some(terms) = terms.filter(|t| t.username == user) else {
        return wait("nothing is known here of what this queue does offline");
    };
    let Some(q) = terms.queue(queue) else {
        return wait("nothing is known here of this queue");
    };
    if q.released {
        return wait("its queue holds jobs until you release them, which needs the server");
    }
    match q.policy {
        OfflinePolicy::Hold => {
            return Decision::Offer {
                printers: Vec::new(),
                pick: false,
                pick_price: None,
                unaccounted: false,
            }
        }
        OfflinePolicy::Discard => {
            return Decision::Refuse {
                reason: format!(
                    "the server cannot be reached, and queue {} does not print without it",
                    q.name
                ),
            }
        }
        OfflinePolicy::PrintIfUnrestricted if !q.unrestricted => {
            return Decision::Refuse {
                reason: format!(
                    "the server cannot be reached, and queue {} prints without it only for users with no \
                     credit, quota or other limit to check",
                    q.name
                ),
            }
        }
        OfflinePolicy::PrintIfUnrestricted | OfflinePolicy::PrintUnaccounted => {}
    }
    let unaccounted = q.policy == OfflinePolicy::PrintUnaccounted;
    if !unaccounted {
        let pages = impressions.unwrap_or(0);
        let over_pages = terms.line.pages.is_some_and(|limit| used.pages + pages > limit);
        let cheapest = q
            .fallback
            .iter()
            .map(|p| &p.price)
            .chain(q.pick_price.as_ref())
            .map(|l| price(l, pages, 1, false, true, ""))
            .min();
        let over_money =
            terms.line.amount_cents.is_some_and(|limit| used.cents + cheapest.unwrap_or(0) > limit);
        if over_pages || over_money {
            return wait("what you may print without the server is used up until it is back");
        }
    }
    Decision::Offer {
        printers: q.fallback.clone(),
        pick: q.pick,
        pick_price: q.pick_price.clone(),
        unaccounted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ream_wire::{OfflineLine, OfflineQueue};

    fn list() -> PriceList {
        PriceList {
            name: "p".into(),
            mono_page_cents: 10,
            colour_page_cents: 40,
            duplex_page_discount_cents: 0,
        }
    }

    fn queue(name: &str, policy: OfflinePolicy, unrestricted: bool) -> OfflineQueue {
        OfflineQueue {
            name: name.into(),
            default: name == "Direct",
            policy,
            fallback: vec![FallbackPrinter {
                name: "fb".into(),
                uri: "ipp://fb/ipp/print".into(),
                fingerprint: None,
                price: list(),
            }],
            pick: false,
            pick_price: Some(list()),
            after_seconds: 30,
            unrestricted,
            released: false,
        }
    }

    fn terms(line: OfflineLine) -> OfflineTerms {
        let mut held = queue("Secure", OfflinePolicy::PrintUnaccounted, true);
        held.released = true;
        OfflineTerms {
            username: "alice".into(),
            queues: vec![
                queue("Direct", OfflinePolicy::PrintUnaccounted, false),
                queue("Shared", OfflinePolicy::PrintIfUnrestricted, true),
                queue("Limited", OfflinePolicy::PrintIfUnrestricted, false),
                queue("Gone", OfflinePolicy::Discard, true),
                queue("Later", OfflinePolicy::Hold, true),
                held,
            ],
            line,
        }
    }

    fn is_offer(d: &Decision) -> bool {
        matches!(d, Decision::Offer { printers, .. } if !printers.is_empty())
    }

    #[test]
    fn each_policy_decides_the_job() {
        let t = terms(OfflineLine::default());
        let decide = |queue: Option<&str>| decide(Some(&t), "alice", queue, Some(3), Usage::default());
        assert!(matches!(decide(None), Decision::Offer { unaccounted: true, .. }), "the default queue");
        assert!(matches!(decide(Some("Shared")), Decision::Offer { unaccounted: false, .. }));
        assert!(matches!(decide(Some("Limited")), Decision::Refuse { .. }));
        assert!(matches!(decide(Some("Gone")), Decision::Refuse { .. }));
        // Hold: no printer offered, only try again or cancel.
        assert_eq!(
            decide(Some("Later")),
            Decision::Offer { printers: Vec::new(), pick: false, pick_price: None, unaccounted: false }
        );
        assert!(matches!(decide(Some("Secure")), Decision::Wait { .. }), "a held queue waits for the server");
        assert!(matches!(decide(Some("Unknown")), Decision::Wait { .. }));
        // Another user's terms say nothing of this one.
        assert!(matches!(
            super::decide(Some(&t), "bob", None, Some(3), Usage::default()),
            Decision::Wait { .. }
        ));
        assert!(matches!(
            super::decide(None, "alice", None, Some(3), Usage::default()),
            Decision::Wait { .. }
        ));
    }

    #[test]
    fn the_offline_credit_line_stops_the_offers_of_charged_jobs() {
        let t = terms(OfflineLine { pages: Some(10), amount_cents: Some(100) });
        let decide =
            |queue: &str, pages: i64, used: Usage| decide(Some(&t), "alice", Some(queue), Some(pages), used);
        assert!(is_offer(&decide("Shared", 10, Usage::default())));
        assert!(matches!(decide("Shared", 11, Usage::default()), Decision::Wait { .. }), "pages");
        assert!(
            matches!(decide("Shared", 3, Usage { pages: 8, cents: 80 }), Decision::Wait { .. }),
            "pages used"
        );
        assert!(matches!(decide("Shared", 2, Usage { pages: 0, cents: 90 }), Decision::Wait { .. }), "money");
        // Jobs that are never charged do not count against it.
        assert!(is_offer(&decide("Direct", 50, Usage { pages: 10, cents: 100 })));
    }

    #[test]
    fn usage_counts_the_users_charged_jobs_not_yet_reported() {
        let t = terms(OfflineLine::default());
        let entry = |user: &str, queue: &str, pages: i64, unaccounted: bool| ream_wire::JournalEntry {
            id: "e".into(),
            seq: 1,
            prev: String::new(),
            at_ms: 0,
            record: JournalRecord::Job(ream_wire::OfflineJob {
                job: "j".into(),
                user: user.into(),
                queue: queue.into(),
                name: "a".into(),
                printer: "fb".into(),
                printer_uri: "ipp://fb/ipp/print".into(),
                pages,
                copies: 2,
                colour: false,
                duplex: false,
                media: "iso_a4_210x297mm".into(),
                unaccounted,
            }),
            signature: String::new(),
        };
        let pending = [
            entry("alice", "Shared", 3, false),
            entry("alice", "Direct", 5, true),
            entry("bob", "Shared", 7, false),
        ];
        assert_eq!(usage(&t, "alice", &pending), Usage { pages: 6, cents: 60 });
    }
}
