//! The ledger through the real router, on SQLite and PostgreSQL: jobs reserve what they
//! will cost from the moment their account is known, nothing is accepted that available
//! funds do not cover (however many requests race for the same money), a job ending
//! unprinted gives its reservation back, a printed one is charged exactly once, and a
//! repeated submission or outcome report is answered with what the first one made.

mod common;

use axum::http::Method;
use common::{pdf, Db, TestApp};
use futures_util::future::join_all;
use ream_wire::{AccountingMode, DetectionMethod, Queue, ReleaseMode, SpoolingMode};
use serde_json::{json, Value};

/// A pull queue over the test printer, paid by `accounting`, spooled where `spooling` says.
fn queue(name: &str, accounting: AccountingMode, spooling: SpoolingMode) -> Queue {
    Queue {
        name: name.into(),
        detection: DetectionMethod::Session,
        accounting,
        project_accounting: false,
        spooling,
        release: ReleaseMode::Pull,
        confirm_cost: false,
        script: None,
        printers: vec!["Nowhere".into()],
        held_hours: None,
        offline: Default::default(),
    }
}

/// A site whose queues are the demo's, plus `Quota` (paid by quota) and `Kept` (credit,
/// the document kept by the client).
async fn site(db: Db) -> TestApp {
    let app = TestApp::demo(db).await;
    app.with_queues(&[
        queue("Quota", AccountingMode::Quota, SpoolingMode::Server),
        queue("Kept", AccountingMode::Credit, SpoolingMode::Client),
    ])
    .await;
    app
}

/// A mono job of `pages` pages (5 cents a page) to `queue`.
fn mono(queue: &str, name: &str) -> Value {
    json!({"name": name, "queue": queue, "color_mode": "monochrome"})
}

fn account_figures(me: &Value) -> (i64, i64) {
    (me["credit_cents"].as_i64().unwrap(), me["reserved_cents"].as_i64().unwrap())
}

async fn waiting_jobs_reserve_their_price_and_nothing_is_accepted_beyond_the_credit(db: Db) {
    let app = site(db).await;
    let bob = app.token("bob", "bob-demo").await;
    // Bob has 0.50; each job costs 0.35. The first is held with its price reserved…
    let first = app.submit(&bob, mono("Secure", "report 1"), pdf::pages(7)).await.ok();
    assert_eq!((first["state"].as_str(), first["price_cents"].as_i64()), (Some("held"), Some(35)));
    assert_eq!(account_figures(&app.get("/api/v1/me", &bob).await.ok()), (50, 35));
    // …so the next four are refused, saying what is missing.
    for n in 2..=5 {
        let refused = app.submit(&bob, mono("Secure", &format!("report {n}")), pdf::pages(7)).await;
        let body = refused.err(402, "CREDIT_INSUFFICIENT");
        assert_eq!(body["shortfall"], json!({"needed": 35, "available": 15, "reserved": 35}), "{body}");
        assert!(body["message"].as_str().unwrap().contains("0.35"), "{body}");
    }
    let jobs = app.get("/api/v1/me/jobs", &bob).await.ok();
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 1, "refused jobs are not recorded: {jobs}");
    // Deleting the held job gives its reservation back; the balance never moved.
    let id = first["id"].as_str().unwrap();
    app.call(Method::DELETE, &format!("/api/v1/me/jobs/{id}"), Some(&bob), None).await.ok();
    assert_eq!(account_figures(&app.get("/api/v1/me", &bob).await.ok()), (50, 0));
    app.submit(&bob, mono("Secure", "report 2"), pdf::pages(7)).await.ok();
}

async fn twenty_racing_submissions_never_take_available_credit_below_zero(db: Db) {
    let app = site(db).await;
    let bob = app.token("bob", "bob-demo").await;
    let document = pdf::pages(1);
    // Twenty one-page jobs at 0.05 against 0.50, all at once: ten fit.
    let replies =
        join_all((0..20).map(|i| app.submit(&bob, mono("Secure", &format!("page {i}")), document.clone())))
            .await;
    let accepted = replies.iter().filter(|r| r.status.is_success()).count();
    let refused = replies.iter().filter(|r| r.code() == "CREDIT_INSUFFICIENT").count();
    assert_eq!((accepted, refused), (10, 10), "{:?}", replies.iter().map(|r| &r.body).collect::<Vec<_>>());
    assert_eq!(account_figures(&app.get("/api/v1/me", &bob).await.ok()), (50, 50));
}

async fn twenty_racing_submissions_never_take_a_quota_below_zero(db: Db) {
    let app = site(db).await;
    let admin = app.admin_token().await;
    let alice = app.token("alice", "alice-demo").await;
    let quota = app.get("/api/v1/me", &alice).await.ok()["quotas"][0]["id"].as_str().unwrap().to_string();
    app.call(
        Method::PATCH,
        &format!("/api/v1/admin/quotas/{quota}"),
        Some(&admin),
        Some(json!({"limit": 10})),
    )
    .await
    .ok();
    let document = pdf::pages(1);
    let replies =
        join_all((0..20).map(|i| app.submit(&alice, mono("Quota", &format!("q{i}")), document.clone())))
            .await;
    let accepted = replies.iter().filter(|r| r.status.is_success()).count();
    assert_eq!(accepted, 10, "{:?}", replies.iter().map(|r| &r.body).collect::<Vec<_>>());
    let refused = replies.iter().find(|r| !r.status.is_success()).unwrap();
    assert_eq!(refused.code(), "QUOTA_EXCEEDED");
    assert_eq!(refused.body["shortfall"]["quota"], "Monthly pages");
    let q = &app.get("/api/v1/me", &alice).await.ok()["quotas"][0];
    assert_eq!(
        (q["used"].as_i64(), q["reserved"].as_i64(), q["remaining"].as_i64()),
        (Some(0), Some(10), Some(0))
    );
}

async fn a_submission_repeated_under_its_client_job_id_is_the_same_job(db: Db) {
    let app = site(db).await;
    let bob = app.token("bob", "bob-demo").await;
    let description =
        json!({"name": "minutes", "queue": "Secure", "color_mode": "monochrome", "client_job_id": "c-1"});
    let first = app.submit(&bob, description.clone(), pdf::pages(2)).await.ok();
    // The answer was lost: the client sends it all again.
    let again = app.submit(&bob, description.clone(), pdf::pages(2)).await.ok();
    assert_eq!(again["id"], first["id"]);
    // A new job sent several times at once (a client retrying while the first is still
    // on its way) is made once too.
    let other =
        json!({"name": "agenda", "queue": "Secure", "color_mode": "monochrome", "client_job_id": "c-2"});
    let racing = join_all((0..5).map(|_| app.submit(&bob, other.clone(), pdf::pages(2)))).await;
    let ids: Vec<Value> = racing.into_iter().map(|r| r.ok()["id"].clone()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]) && ids[0] != first["id"], "{ids:?}");
    let jobs = app.get("/api/v1/me/jobs", &bob).await.ok();
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 2, "{jobs}");
    assert_eq!(account_figures(&app.get("/api/v1/me", &bob).await.ok()), (50, 20), "each reserved once");
    // The id is the user's own: another user's job with the same id is another job.
    let alice = app.token("alice", "alice-demo").await;
    let hers = app.submit(&alice, description, pdf::pages(2)).await.ok();
    assert_ne!(hers["id"], first["id"]);
}

/// A client-spooled job of `pages` pages, submitted by its description, released so
/// that its holder prints it. Its id.
async fn released_kept_job(app: &TestApp, token: &str, pages: i64) -> String {
    let description = json!({"name": "kept", "queue": "Kept", "color_mode": "monochrome", "pages": pages, "holder": "ws-1"});
    let job = app.submit(token, description, Vec::new()).await.ok();
    let id = job["id"].as_str().unwrap().to_string();
    let released = app.post(&format!("/api/v1/me/jobs/{id}/release"), Some(token), json!({})).await.ok();
    assert_eq!(released["state"], "printing");
    id
}

async fn a_printed_report_charges_once_however_often_it_is_repeated(db: Db) {
    let app = site(db).await;
    let bob = app.token("bob", "bob-demo").await;
    let id = released_kept_job(&app, &bob, 7).await;
    assert_eq!(account_figures(&app.get("/api/v1/me", &bob).await.ok()), (50, 35));
    let outcome = format!("/api/v1/me/jobs/{id}/outcome");
    let reports = join_all((0..6).map(|_| app.post(&outcome, Some(&bob), json!({"printed": true})))).await;
    for r in reports {
        assert_eq!(r.ok()["state"], "printed");
    }
    assert_eq!(account_figures(&app.get("/api/v1/me", &bob).await.ok()), (15, 0));
    let log = app.get("/api/v1/me/transactions", &bob).await.ok();
    let charges: Vec<&Value> =
        log["transactions"].as_array().unwrap().iter().filter(|t| t["kind"] == "charge").collect();
    assert_eq!(charges.len(), 1, "{log}");
    assert_eq!(charges[0]["amount_cents"], -35);
    // A report of the other outcome comes too late to change anything.
    app.post(&outcome, Some(&bob), json!({"printed": false, "reason": "jam"})).await.err(409, "CONFLICT");
}

async fn a_failed_job_gives_its_reservation_back_and_costs_nothing(db: Db) {
    let app = site(db).await;
    let bob = app.token("bob", "bob-demo").await;
    let id = released_kept_job(&app, &bob, 7).await;
    let outcome = format!("/api/v1/me/jobs/{id}/outcome");
    let failed = app.post(&outcome, Some(&bob), json!({"printed": false, "reason": "paper jam"})).await.ok();
    assert_eq!((failed["state"].as_str(), failed["reason"].as_str()), (Some("failed"), Some("paper jam")));
    app.post(&outcome, Some(&bob), json!({"printed": false, "reason": "paper jam"})).await.ok();
    assert_eq!(account_figures(&app.get("/api/v1/me", &bob).await.ok()), (50, 0));
}

async fn a_job_waiting_for_its_account_reserves_when_the_user_chooses(db: Db) {
    let app = site(db).await;
    let alice = app.token("alice", "alice-demo").await;
    let admin = app.admin_token().await;
    // Alice's credit: 20.00; make it 0.20 so a choice of credit can be refused.
    app.post("/api/v1/admin/users/alice/credit/adjust", Some(&admin), json!({"amount_cents": -1_980}))
        .await
        .ok();
    // `Projects` offers her cost centre or her credit: nothing is reserved until she chooses.
    let job = app.submit(&alice, mono("Projects", "flyer"), pdf::pages(5)).await.ok();
    assert_eq!(job["state"], "waiting_for_user");
    let id = job["id"].as_str().unwrap();
    assert_eq!(account_figures(&app.get("/api/v1/me", &alice).await.ok()), (20, 0));
    let answer = format!("/api/v1/me/jobs/{id}/answer");
    let credit = json!({"accept": true, "payment": {"kind": "credit"}, "project": "Website"});
    app.post(&answer, Some(&alice), credit).await.err(402, "CREDIT_INSUFFICIENT");
    let dialog = app.get(&format!("/api/v1/me/jobs/{id}/dialog"), &alice).await.ok();
    assert_eq!(dialog["job"]["state"], "waiting_for_user", "refused, the job still waits for a choice");
    // Still waiting: the cost centre, which has no balance, takes it.
    let centre = json!({"accept": true, "payment": {"kind": "cost_centre", "name": "Marketing"}, "project": "Website"});
    let printed = app.post(&answer, Some(&alice), centre).await.ok();
    assert_ne!(printed["state"], "waiting_for_user");
    assert_eq!(account_figures(&app.get("/api/v1/me", &alice).await.ok()), (20, 0));
}

/// The documents in the server's spool.
fn spool_files(app: &TestApp) -> usize {
    std::fs::read_dir(app.state.config.data_dir.join("spool")).map(|d| d.count()).unwrap_or(0)
}

async fn jobs_left_waiting_expire_and_give_back_what_they_held(db: Db) {
    let app = TestApp::demo(db).await;
    let mut brief = queue("Brief", AccountingMode::Credit, SpoolingMode::Server);
    brief.held_hours = Some(1);
    app.with_queues(&[brief]).await;
    let bob = app.token("bob", "bob-demo").await;
    let held = app.submit(&bob, mono("Secure", "held"), pdf::pages(2)).await.ok();
    let brief = app.submit(&bob, mono("Brief", "brief"), pdf::pages(2)).await.ok();
    assert_eq!((account_figures(&app.get("/api/v1/me", &bob).await.ok()), spool_files(&app)), ((50, 20), 2));
    let state_of = |jobs: &Value, id: &Value| {
        jobs["jobs"].as_array().unwrap().iter().find(|j| j["id"] == *id).unwrap()["state"].clone()
    };

    // Past its queue's hour, the Brief job expires; the Secure one waits its 72.
    app.clock.advance_secs(3_601);
    ream_server::printing::expire_waiting(&app.state).await.unwrap();
    let bob = app.token("bob", "bob-demo").await;
    let jobs = app.get("/api/v1/me/jobs", &bob).await.ok();
    assert_eq!(
        (state_of(&jobs, &brief["id"]), state_of(&jobs, &held["id"])),
        (json!("expired"), json!("held"))
    );
    assert_eq!((account_figures(&app.get("/api/v1/me", &bob).await.ok()), spool_files(&app)), ((50, 10), 1));

    app.clock.advance_secs(72 * 3_600);
    ream_server::printing::expire_waiting(&app.state).await.unwrap();
    let bob = app.token("bob", "bob-demo").await;
    let jobs = app.get("/api/v1/me/jobs", &bob).await.ok();
    let expired = jobs["jobs"].as_array().unwrap().iter().find(|j| j["id"] == held["id"]).unwrap().clone();
    assert_eq!(expired["state"], "expired");
    assert_eq!(expired["reason"], "not released within 72 hours");
    assert_eq!((account_figures(&app.get("/api/v1/me", &bob).await.ok()), spool_files(&app)), ((50, 0), 0));
    // An expired job can no longer be released; its owner may delete its record.
    let id = held["id"].as_str().unwrap();
    app.post(&format!("/api/v1/me/jobs/{id}/release"), Some(&bob), json!({})).await.err(409, "CONFLICT");
    app.call(Method::DELETE, &format!("/api/v1/me/jobs/{id}"), Some(&bob), None).await.ok();
}

async fn what_one_users_kept_documents_take_is_bounded(db: Db) {
    let document = pdf::pages(3);
    let size = document.len() as u64;
    // Room for two documents of this size, not three.
    let app = TestApp::with(db, |c| c.max_user_spool_bytes = size * 2 + size / 2).await;
    app.with_queues(&[]).await;
    let admin = app.admin_token().await;
    app.post("/api/v1/admin/users/bob/credit/top-up", Some(&admin), json!({"amount_cents": 1_000}))
        .await
        .ok();
    let bob = app.token("bob", "bob-demo").await;
    let first = app.submit(&bob, mono("Secure", "one"), document.clone()).await.ok();
    app.submit(&bob, mono("Secure", "two"), document.clone()).await.ok();
    let full = app.submit(&bob, mono("Secure", "three"), document.clone()).await.err(507, "SPOOL_FULL");
    assert!(full["message"].as_str().unwrap().contains("waiting on the server"), "{full}");
    assert_eq!(spool_files(&app), 2, "nothing is left of the refused document");
    // Another user is not concerned.
    let alice = app.token("alice", "alice-demo").await;
    app.submit(&alice, mono("Secure", "hers"), document.clone()).await.ok();
    // Deleting a kept job makes room again.
    let id = first["id"].as_str().unwrap();
    app.call(Method::DELETE, &format!("/api/v1/me/jobs/{id}"), Some(&bob), None).await.ok();
    app.submit(&bob, mono("Secure", "three"), document).await.ok();
}

async fn a_failed_delivery_drops_its_document_and_may_be_deleted(db: Db) {
    let app = site(db).await;
    let alice = app.token("alice", "alice-demo").await;
    // `Direct` prints at once to a printer that is not there.
    let job = app.submit(&alice, mono("Direct", "lost"), pdf::pages(1)).await.ok();
    let id = job["id"].as_str().unwrap();
    let mut state = job["state"].clone();
    for _ in 0..600 {
        let jobs = app.get("/api/v1/me/jobs", &alice).await.ok();
        state = jobs["jobs"][0]["state"].clone();
        if state == "failed" && spool_files(&app) == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!((state, spool_files(&app)), (json!("failed"), 0));
    assert_eq!(
        account_figures(&app.get("/api/v1/me", &alice).await.ok()),
        (2_000, 0),
        "nothing charged or held"
    );
    let deleted = app.call(Method::DELETE, &format!("/api/v1/me/jobs/{id}"), Some(&alice), None).await.ok();
    assert_eq!(deleted["state"], "deleted");
}

on_both_databases!(
    jobs_left_waiting_expire_and_give_back_what_they_held,
    what_one_users_kept_documents_take_is_bounded,
    a_failed_delivery_drops_its_document_and_may_be_deleted,
    waiting_jobs_reserve_their_price_and_nothing_is_accepted_beyond_the_credit,
    twenty_racing_submissions_never_take_available_credit_below_zero,
    twenty_racing_submissions_never_take_a_quota_below_zero,
    a_submission_repeated_under_its_client_job_id_is_the_same_job,
    a_printed_report_charges_once_however_often_it_is_repeated,
    a_failed_job_gives_its_reservation_back_and_costs_nothing,
    a_job_waiting_for_its_account_reserves_when_the_user_chooses,
);
