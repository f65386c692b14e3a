//! Offline operation through the real router, on SQLite and PostgreSQL: what a client is
//! told to keep (queues' offline policies, fallback printers, whether the user is
//! unrestricted, the offline credit line), and the journal a workstation replays: each
//! entry taken once however often (or however concurrently) it is sent, charged at the
//! fallback printer's price (below zero if need be, marked for administrators),
//! recorded without charge under `print_unaccounted`, and a forged or edited entry
//! refused and listed.

mod common;

use axum::http::Method;
use common::{Db, Journal, TestApp, Workstation};
use futures_util::future::join_all;
use ream_wire::{
    AccountingMode, DetectionMethod, JournalRecord, OfflineJob, OfflineOutcome, OfflinePolicy,
    OfflineSettings, Queue, ReleaseMode, SpoolingMode,
};
use serde_json::{json, Value};

fn queue(name: &str, accounting: AccountingMode, policy: OfflinePolicy) -> Queue {
    Queue {
        name: name.into(),
        detection: DetectionMethod::Session,
        accounting,
        project_accounting: false,
        spooling: SpoolingMode::Server,
        release: ReleaseMode::Direct,
        confirm_cost: false,
        script: None,
        printers: vec!["Nowhere".into()],
        held_hours: None,
        offline: OfflineSettings {
            policy,
            fallback_printers: vec!["Fallback".into()],
            pick: true,
            after_seconds: 5,
        },
    }
}

/// The demo site with a fallback printer (10 cents a mono page) and two queues falling
/// back to it: `Anyway` (credit, `print_unaccounted`) and `Shared` (cost centre,
/// `print_if_unrestricted`).
async fn site(db: Db) -> TestApp {
    let app = TestApp::demo(db).await;
    app.with_queues(&[]).await;
    let admin = app.admin_token().await;
    let list = json!({"name": "Fallback", "mono_page_cents": 10, "colour_page_cents": 40, "duplex_page_discount_cents": 0});
    app.post("/api/v1/admin/price-lists", Some(&admin), list).await.ok();
    let printer =
        json!({"name": "Fallback", "uri": "ipp://127.0.0.1:9/ipp/fallback", "price_list": "Fallback"});
    app.post("/api/v1/admin/printers", Some(&admin), printer).await.ok();
    for q in [
        queue("Anyway", AccountingMode::Credit, OfflinePolicy::PrintUnaccounted),
        queue("Shared", AccountingMode::CostCentre, OfflinePolicy::PrintIfUnrestricted),
    ] {
        ream_server::admin::create_queue(&app.state, &q).await.unwrap();
    }
    app
}

/// A job printed on the fallback printer, and its outcome.
fn printed(journal: &mut Journal, job: &str, user: &str, queue: &str, pages: i64, unaccounted: bool) {
    journal.add(JournalRecord::Job(OfflineJob {
        job: job.into(),
        user: user.into(),
        queue: queue.into(),
        name: format!("{job}.pdf"),
        printer: "Fallback".into(),
        printer_uri: "ipp://127.0.0.1:9/ipp/fallback".into(),
        pages,
        copies: 1,
        colour: false,
        duplex: false,
        media: "iso_a4_210x297mm".into(),
        unaccounted,
    }));
    journal.add(JournalRecord::Outcome(OfflineOutcome {
        job: job.into(),
        printed: true,
        reason: None,
        printer_job_id: Some(7),
        impressions: Some(pages),
    }));
}

fn credit(me: &Value) -> i64 {
    me["credit_cents"].as_i64().unwrap()
}

async fn the_client_is_told_each_queues_policy_and_whether_the_user_is_unrestricted(db: Db) {
    let app = site(db).await;
    let admin = app.admin_token().await;
    app.call(
        Method::PUT,
        "/api/v1/admin/users/carol/offline-line",
        Some(&admin),
        Some(json!({"pages": 20, "amount_cents": 300})),
    )
    .await
    .ok();
    let carol = app.token("carol", "carol-demo").await;
    let terms = app.get("/api/v1/me/offline", &carol).await.ok();
    assert_eq!(terms["username"], "carol");
    assert_eq!(terms["line"], json!({"pages": 20, "amount_cents": 300}));
    // Her account shows it too.
    let me = app.get("/api/v1/me", &carol).await.ok();
    assert_eq!(me["offline_line"], json!({"pages": 20, "amount_cents": 300}));
    let of = |terms: &Value, name: &str| {
        terms["queues"].as_array().unwrap().iter().find(|q| q["name"] == name).cloned().unwrap()
    };
    let shared = of(&terms, "Shared");
    assert_eq!(shared["policy"], "print_if_unrestricted");
    assert_eq!(shared["fallback"][0]["name"], "Fallback");
    assert_eq!(shared["fallback"][0]["price"]["mono_page_cents"], 10);
    assert_eq!(shared["pick"], true);
    // Carol pays by a cost centre on `Shared` and has no quota: nothing limits her there.
    assert_eq!(shared["unrestricted"], true, "{shared}");
    // Her credit pays on `Anyway`: with an offline credit line, how far it may go
    // unchecked is set, so it does not hold her back.
    assert_eq!(of(&terms, "Anyway")["unrestricted"], true);
    // Bob has no line: his credit is a limit the client cannot check.
    let bob = app.token("bob", "bob-demo").await;
    assert_eq!(of(&app.get("/api/v1/me/offline", &bob).await.ok(), "Anyway")["unrestricted"], false);
    assert_eq!(of(&terms, "Direct")["policy"], "hold");
    // Alice has a quota: she is restricted everywhere; with no line of her own or of
    // her groups, she has no offline limit.
    let alice = app.token("alice", "alice-demo").await;
    let terms = app.get("/api/v1/me/offline", &alice).await.ok();
    assert_eq!(of(&terms, "Shared")["unrestricted"], false);
    assert_eq!(terms["line"], json!({"pages": null, "amount_cents": null}));
    // A group's line applies to its members without their own.
    app.call(
        Method::PUT,
        "/api/v1/admin/groups/Marketing/offline-line",
        Some(&admin),
        Some(json!({"pages": 50})),
    )
    .await
    .ok();
    let terms = app.get("/api/v1/me/offline", &alice).await.ok();
    assert_eq!(terms["line"], json!({"pages": 50, "amount_cents": null}));
    // Fallback printers under a policy that never prints are refused.
    let hold = json!({"policy": "hold", "fallback_printers": ["Fallback"]});
    app.call(Method::PUT, "/api/v1/admin/queues/Direct/offline", Some(&admin), Some(hold))
        .await
        .err(422, "INVALID_INPUT");
    let unknown = json!({"policy": "print_unaccounted", "fallback_printers": ["Nope"]});
    app.call(Method::PUT, "/api/v1/admin/queues/Direct/offline", Some(&admin), Some(unknown))
        .await
        .err(404, "NOT_FOUND");
    // Not for a user to set.
    app.call(
        Method::PUT,
        "/api/v1/admin/queues/Direct/offline",
        Some(&carol),
        Some(json!({"policy": "discard"})),
    )
    .await
    .err(403, "FORBIDDEN");
}

async fn a_journal_entry_is_taken_once_however_often_it_is_sent(db: Db) {
    let app = site(db).await;
    let mut journal = Journal::new(app.enrol().await);
    let alice = app.token("alice", "alice-demo").await;
    printed(&mut journal, "job-1", "alice", "Anyway", 3, false);
    let all = journal.entries.clone();
    // Sent four times at once, then again: one job, one charge of 3 × 0.10.
    let sends = join_all((0..4).map(|_| journal.send(&app, &all))).await;
    let accepted = sends.iter().flatten().filter(|s| *s == "accepted").count();
    assert_eq!(accepted, 2, "each entry accepted once: {sends:?}");
    assert!(sends.iter().flatten().all(|s| s == "accepted" || s == "duplicate"), "{sends:?}");
    assert_eq!(journal.send(&app, &all).await, ["duplicate", "duplicate"]);
    assert_eq!(credit(&app.get("/api/v1/me", &alice).await.ok()), 2_000 - 30);
    let jobs = app.get("/api/v1/me/jobs", &alice).await.ok();
    let job = &jobs["jobs"][0];
    assert_eq!(
        (&job["state"], &job["offline"], &job["printer"], &job["price_cents"], &job["pages"]),
        (&json!("printed"), &json!(true), &json!("Fallback"), &json!(30), &json!(3)),
        "{jobs}"
    );
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 1);
    let transactions = app.get("/api/v1/me/transactions", &alice).await.ok();
    let charges: Vec<&Value> =
        transactions["transactions"].as_array().unwrap().iter().filter(|t| t["kind"] == "charge").collect();
    assert_eq!(charges.len(), 1, "{transactions}");
}

async fn an_offline_job_may_overdraw_and_is_marked_for_administrators(db: Db) {
    let app = site(db).await;
    let mut journal = Journal::new(app.enrol().await);
    // Bob has 0.50; twelve pages at 0.10 printed offline cost 1.20.
    printed(&mut journal, "big", "bob", "Anyway", 12, false);
    // Under print_unaccounted as the client applied it: recorded, not charged.
    printed(&mut journal, "free", "bob", "Anyway", 4, true);
    assert_eq!(journal.send(&app, &journal.entries).await, ["accepted"; 4]);
    let bob = app.token("bob", "bob-demo").await;
    assert_eq!(credit(&app.get("/api/v1/me", &bob).await.ok()), 50 - 120);
    let admin = app.admin_token().await;
    let listed = app.get("/api/v1/admin/offline-jobs", &admin).await.ok();
    let marks: Vec<(String, Value)> = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["name"].as_str().unwrap().to_string(), j["offline"].clone()))
        .collect();
    let mark = |name: &str| marks.iter().find(|(n, _)| n == name).map(|(_, m)| m.clone()).unwrap();
    assert_eq!(mark("big.pdf")["overdrawn"], true, "{listed}");
    assert_eq!(mark("big.pdf")["unaccounted"], false);
    assert_eq!(mark("free.pdf")["unaccounted"], true);
    assert_eq!(mark("free.pdf")["overdrawn"], false);
    assert_eq!(mark("free.pdf")["workstation_id"], json!(journal.ws.id));
}

async fn a_forged_or_edited_entry_is_refused_and_listed(db: Db) {
    let app = site(db).await;
    let mut journal = Journal::new(app.enrol().await);
    printed(&mut journal, "edited", "alice", "Anyway", 9, false);
    // Nine pages made one after signing.
    let mut edited = journal.entries.clone();
    if let JournalRecord::Job(j) = &mut edited[0].record {
        j.pages = 1;
    }
    let statuses = journal.send(&app, &edited).await;
    assert_eq!(statuses[0], "refused");
    // Its outcome names a job the server never took.
    assert_eq!(statuses[1], "refused");
    // Signed by another workstation's key.
    let other = app.enrol().await;
    let mut forged = Journal::new(Workstation { id: journal.ws.id.clone(), key: other.key });
    printed(&mut forged, "forged", "alice", "Anyway", 2, false);
    assert_eq!(journal.send(&app, &forged.entries).await, ["refused", "refused"]);
    let alice = app.token("alice", "alice-demo").await;
    assert_eq!(credit(&app.get("/api/v1/me", &alice).await.ok()), 2_000, "nothing charged");
    assert!(app.get("/api/v1/me/jobs", &alice).await.ok()["jobs"].as_array().unwrap().is_empty());
    let admin = app.admin_token().await;
    let refusals = app.get("/api/v1/admin/journal-refusals", &admin).await.ok();
    let reasons: Vec<&str> =
        refusals["refusals"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons.len(), 4, "{refusals}");
    assert_eq!(reasons.iter().filter(|r| r.contains("forged or edited")).count(), 3, "{reasons:?}");
    // The untouched entries are still taken: the edit cost the cheat nothing but the
    // record of it.
    assert_eq!(journal.send(&app, &journal.entries).await, ["accepted", "accepted"]);
    assert_eq!(credit(&app.get("/api/v1/me", &alice).await.ok()), 2_000 - 90);
    // An unknown workstation is refused as a whole.
    let stranger = Journal::new(Workstation { id: "nobody".into(), key: journal.ws.key.clone() });
    app.post("/api/v1/workstations/nobody/journal", None, json!({"entries": stranger.entries}))
        .await
        .err(401, "WORKSTATION_UNKNOWN");
}

on_both_databases!(
    the_client_is_told_each_queues_policy_and_whether_the_user_is_unrestricted,
    a_journal_entry_is_taken_once_however_often_it_is_sent,
    an_offline_job_may_overdraw_and_is_marked_for_administrators,
    a_forged_or_edited_entry_is_refused_and_listed,
);
