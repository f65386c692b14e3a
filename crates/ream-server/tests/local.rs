//! Local print monitoring through the real router, on SQLite and PostgreSQL: a job held
//! on a workstation's own printer priced by the local price list, its funds taken and a
//! grant signed with the key the server publishes; asked again (or eight times at once)
//! it is one job, charged once when its outcome comes; refused when the account cannot
//! cover it, when monitoring is off or nothing prices it; charged by the printer's count
//! when the administrator says so, the difference listed; journaled offline, taken once.

mod common;

use axum::http::Method;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{Db, Journal, TestApp};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use futures_util::future::join_all;
use ream_wire::{JournalRecord, LocalGrant, OfflineLocalJob, OfflineOutcome};
use serde_json::{json, Value};

/// The demo site with the local price list `Local` (10 cents a mono page) and
/// monitoring on, charged by `charge_by`.
async fn site(db: Db, charge_by: &str) -> TestApp {
    let app = TestApp::demo(db).await;
    let admin = app.admin_token().await;
    let list = json!({"name": "Local", "mono_page_cents": 10, "colour_page_cents": 40, "duplex_page_discount_cents": 0});
    app.post("/api/v1/admin/price-lists", Some(&admin), list).await.ok();
    let policy = json!({"enabled": true, "queues": [], "offline": "print_and_report", "charge_by": charge_by, "price_list": "Local"});
    app.call(Method::PUT, "/api/v1/admin/local-monitoring", Some(&admin), Some(policy)).await.ok();
    app
}

fn request(ws: &str, uuid: &str, pages: i64) -> Value {
    json!({
        "workstation_id": ws, "cups_queue": "Usb", "device_uri": "usb://HP/LaserJet", "job_uuid": uuid,
        "name": "usb.pdf", "pages": pages, "copies": 1, "colour": false, "duplex": false,
        "media": "iso_a4_210x297mm", "sha256": "ab".repeat(32),
        "nonce": uuid::Uuid::new_v4().simple().to_string(),
    })
}

fn credit(me: &Value) -> i64 {
    me["credit_cents"].as_i64().unwrap()
}

/// Whether `grant` is signed by the key the server publishes.
async fn signed_by_server(app: &TestApp, grant: &Value) -> bool {
    let info = app.call(Method::GET, "/api/v1/local-monitoring", None, None).await.ok();
    let key: [u8; 32] = STANDARD.decode(info["grant_key"].as_str().unwrap()).unwrap().try_into().unwrap();
    let grant: LocalGrant = serde_json::from_value(grant.clone()).unwrap();
    let sig = Signature::from_slice(&STANDARD.decode(&grant.signature).unwrap()).unwrap();
    VerifyingKey::from_bytes(&key).unwrap().verify(&grant.signed_bytes(), &sig).is_ok()
}

async fn a_local_job_is_one_job_granted_for_each_nonce_and_charged_once(db: Db) {
    let app = site(db, "document").await;
    let ws = app.enrol().await;
    let carol = app.token("carol", "carol-demo").await;
    let first = request(&ws.id, "urn:uuid:1", 3);
    let answer = app.post("/api/v1/me/local-jobs", Some(&carol), first.clone()).await.ok();
    assert!(signed_by_server(&app, &answer["grant"]).await, "{answer}");
    assert_eq!(answer["grant"]["nonce"], first["nonce"]);
    assert_eq!(
        (answer["grant"]["pages"].as_i64(), answer["grant"]["price_cents"].as_i64()),
        (Some(3), Some(30))
    );
    let job = &answer["job"];
    assert_eq!((job["local"].as_bool(), job["queue"].as_str()), (Some(true), Some("Usb@test-ws")), "{job}");
    assert_eq!(job["state"], "printing");
    // Held against her credit until it prints.
    let me = app.get("/api/v1/me", &carol).await.ok();
    assert_eq!(
        (credit(&me), Some(credit(&me) - me["reserved_cents"].as_i64().unwrap())),
        (500, Some(470)),
        "{me}"
    );

    // The backend asks again (CUPS retried the job): the same job, for the new nonce.
    let again = request(&ws.id, "urn:uuid:1", 3);
    let second = app.post("/api/v1/me/local-jobs", Some(&carol), again.clone()).await.ok();
    assert_eq!(second["job"]["id"], job["id"]);
    assert_eq!(second["grant"]["nonce"], again["nonce"]);
    // Eight at once about a new job: one job.
    let asks =
        (0..8).map(|_| app.post("/api/v1/me/local-jobs", Some(&carol), request(&ws.id, "urn:uuid:2", 2)));
    let ids: std::collections::HashSet<String> =
        join_all(asks).await.into_iter().map(|r| r.ok()["job"]["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let me = app.get("/api/v1/me", &carol).await.ok();
    assert_eq!(me["reserved_cents"], 30 + 20);

    // Printed, reported twice: charged once.
    let id = job["id"].as_str().unwrap();
    let report = json!({"printed": true, "printer_job_id": 12, "impressions": 3});
    for _ in 0..2 {
        let done =
            app.post(&format!("/api/v1/me/jobs/{id}/outcome"), Some(&carol), report.clone()).await.ok();
        assert_eq!(done["state"], "printed");
    }
    assert_eq!(credit(&app.get("/api/v1/me", &carol).await.ok()), 470);
    // In her history, marked local; and the printer is recorded for administrators.
    let jobs = app.get("/api/v1/me/jobs", &carol).await.ok();
    assert!(jobs["jobs"].as_array().unwrap().iter().all(|j| j["local"] == true), "{jobs}");
    let admin = app.admin_token().await;
    let printers = app.get("/api/v1/admin/local-printers", &admin).await.ok();
    assert_eq!(printers["printers"][0]["name"], "Usb@test-ws");
    assert_eq!(printers["printers"][0]["device_uri"], "usb://HP/LaserJet");
    // Another user cannot report on it.
    let bob = app.token("bob", "bob-demo").await;
    app.post(&format!("/api/v1/me/jobs/{id}/outcome"), Some(&bob), report).await.err(404, "NOT_FOUND");
}

async fn a_local_job_nothing_can_pay_for_or_price_is_refused_and_recorded_nowhere(db: Db) {
    let app = site(db, "document").await;
    let ws = app.enrol().await;
    // Bob has 0.50: six pages at 0.10 are more.
    let bob = app.token("bob", "bob-demo").await;
    app.post("/api/v1/me/local-jobs", Some(&bob), request(&ws.id, "urn:uuid:big", 6))
        .await
        .err(402, "CREDIT_INSUFFICIENT");
    assert!(app.get("/api/v1/me/jobs", &bob).await.ok()["jobs"].as_array().unwrap().is_empty());
    // Not an enrolled workstation.
    app.post("/api/v1/me/local-jobs", Some(&bob), request("nowhere", "urn:uuid:x", 1))
        .await
        .err(401, "WORKSTATION_UNKNOWN");
    // Out-of-bounds counts and a nonce of the wrong shape.
    let mut odd = request(&ws.id, "urn:uuid:y", 0);
    app.post("/api/v1/me/local-jobs", Some(&bob), odd.clone()).await.err(422, "INVALID_INPUT");
    odd["pages"] = json!(1);
    odd["nonce"] = json!("short");
    app.post("/api/v1/me/local-jobs", Some(&bob), odd).await.err(422, "INVALID_INPUT");
    // No price list for local printers: nothing to price by.
    let admin = app.admin_token().await;
    let unpriced = json!({"enabled": true, "offline": "refuse", "price_list": null});
    app.call(Method::PUT, "/api/v1/admin/local-monitoring", Some(&admin), Some(unpriced)).await.ok();
    let refused = app.post("/api/v1/me/local-jobs", Some(&bob), request(&ws.id, "urn:uuid:z", 1)).await;
    assert!(refused.err(409, "CONFLICT")["message"].as_str().unwrap().contains("price list"));
    // Monitoring off: refused.
    let off = json!({"enabled": false});
    app.call(Method::PUT, "/api/v1/admin/local-monitoring", Some(&admin), Some(off)).await.ok();
    app.post("/api/v1/me/local-jobs", Some(&bob), request(&ws.id, "urn:uuid:w", 1))
        .await
        .err(409, "CONFLICT");
    // Only administrators see or set the policy.
    let carol = app.token("carol", "carol-demo").await;
    app.call(Method::PUT, "/api/v1/admin/local-monitoring", Some(&carol), Some(json!({"enabled": true})))
        .await
        .err(403, "FORBIDDEN");
    app.get("/api/v1/admin/local-jobs", &carol).await.err(403, "FORBIDDEN");
}

async fn charged_by_the_printers_count_when_the_administrator_chooses_it(db: Db) {
    let app = site(db, "printer").await;
    let ws = app.enrol().await;
    let carol = app.token("carol", "carol-demo").await;
    let answer = app.post("/api/v1/me/local-jobs", Some(&carol), request(&ws.id, "urn:uuid:p", 4)).await.ok();
    let id = answer["job"]["id"].as_str().unwrap().to_string();
    // CUPS says two impressions completed, not four.
    let report = json!({"printed": true, "printer_job_id": 3, "impressions": 2});
    app.post(&format!("/api/v1/me/jobs/{id}/outcome"), Some(&carol), report).await.ok();
    assert_eq!(credit(&app.get("/api/v1/me", &carol).await.ok()), 500 - 20);
    let admin = app.admin_token().await;
    let listed = app.get("/api/v1/admin/local-jobs", &admin).await.ok();
    let job = &listed["jobs"][0];
    assert_eq!(
        (job["impressions_charged"].as_i64(), job["impressions_at_printer"].as_i64()),
        (Some(4), Some(2))
    );
    assert_eq!(job["check"], "mismatch", "the difference is there to see: {job}");
    assert_eq!(job["local"], true);
}

async fn a_local_job_journaled_offline_is_taken_once_and_one_granted_online_is_not_charged_again(db: Db) {
    let app = site(db, "document").await;
    let ws = app.enrol().await;
    let bob = app.token("bob", "bob-demo").await;
    let local = |job: &str, pages: i64| {
        JournalRecord::Local(OfflineLocalJob {
            job: job.into(),
            user: "bob".into(),
            cups_queue: "Usb".into(),
            device_uri: "usb://HP/LaserJet".into(),
            name: format!("{job}.pdf"),
            pages,
            copies: 1,
            colour: false,
            duplex: false,
            media: "iso_a4_210x297mm".into(),
        })
    };
    let outcome = |job: &str, pages: i64| {
        JournalRecord::Outcome(OfflineOutcome {
            job: job.into(),
            printed: true,
            reason: None,
            printer_job_id: Some(1),
            impressions: Some(pages),
        })
    };
    // Granted online first (its answer lost, say), then journaled as printed offline.
    app.post("/api/v1/me/local-jobs", Some(&bob), request(&ws.id, "urn:uuid:lost", 1)).await.ok();
    let mut journal = Journal::new(ws);
    journal.add(local("urn:uuid:lost", 1));
    journal.add(outcome("urn:uuid:lost", 1));
    // Bob has 0.50; eight pages offline cost 0.80.
    journal.add(local("urn:uuid:offline", 8));
    journal.add(outcome("urn:uuid:offline", 8));
    let sends = (0..4).map(|_| journal.send(&app, &journal.entries));
    let results = join_all(sends).await;
    for i in 0..4 {
        let accepted = results.iter().filter(|r| r[i] == "accepted").count();
        assert_eq!(accepted, 1, "entry {i} taken once: {results:?}");
    }
    let jobs = app.get("/api/v1/me/jobs", &bob).await.ok();
    let jobs = jobs["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "the job granted online is the one journaled: {jobs:?}");
    assert!(
        jobs.iter().all(|j| j["local"] == true && j["offline"] == true && j["state"] == "printed"),
        "{jobs:?}"
    );
    // Each charged once, below zero if need be; nothing left held.
    let me = app.get("/api/v1/me", &bob).await.ok();
    assert_eq!((credit(&me), me["reserved_cents"].as_i64()), (50 - 10 - 80, Some(0)), "{me}");
    // A journal naming a job of another workstation's is refused.
    let mut stranger = Journal::new(app.enrol().await);
    stranger.add(local("urn:uuid:offline", 8));
    assert_eq!(stranger.send(&app, &stranger.entries).await, ["refused"]);
}

on_both_databases!(
    a_local_job_is_one_job_granted_for_each_nonce_and_charged_once,
    a_local_job_nothing_can_pay_for_or_price_is_refused_and_recorded_nowhere,
    charged_by_the_printers_count_when_the_administrator_chooses_it,
    a_local_job_journaled_offline_is_taken_once_and_one_granted_online_is_not_charged_again,
);
