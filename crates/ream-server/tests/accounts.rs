//! The user's own account and administration, through the real router on SQLite and
//! PostgreSQL: what a user sees, what only administrators may do, and that every
//! documented endpoint exists.

mod common;

use axum::http::Method;
use common::{Db, TestApp};
use serde_json::{json, Value};

const ME: &str = "/api/v1/me";

fn names(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect()
}

async fn the_account_shows_credit_quotas_cost_centres_and_projects(db: Db) {
    let app = TestApp::demo(db).await;
    let alice = app.token("alice", "alice-demo").await;
    let me = app.get(ME, &alice).await.ok();
    assert_eq!((me["username"].as_str(), me["full_name"].as_str()), (Some("alice"), Some("Alice Martin")));
    assert_eq!(me["credit_cents"], 2_000);
    assert_eq!(me["groups"], json!(["Marketing", "Staff"]));
    assert_eq!(names(&me["cost_centres"]), ["Marketing"]);
    assert_eq!(names(&me["projects"]), ["Brochure 2026", "Website"]);
    let quota = &me["quotas"][0];
    assert_eq!((quota["period"].as_str(), quota["metric"].as_str()), (Some("month"), Some("total_pages")));
    assert_eq!(
        (quota["limit"].as_i64(), quota["used"].as_i64(), quota["remaining"].as_i64()),
        (Some(500), Some(0), Some(500))
    );
    assert!(quota["period_start_ms"].as_i64().unwrap() < quota["period_end_ms"].as_i64().unwrap());

    let bob = app.token("bob", "bob-demo").await;
    let me = app.get(ME, &bob).await.ok();
    assert_eq!((me["credit_cents"].as_i64(), me["quotas"].as_array().unwrap().len()), (Some(50), 0));
    // Carol reaches the Sales cost centre through her group.
    let carol = app.token("carol", "carol-demo").await;
    assert_eq!(names(&app.get(ME, &carol).await.ok()["cost_centres"]), ["Sales"]);

    let log = app.get("/api/v1/me/transactions", &alice).await.ok();
    assert_eq!(log["transactions"][0]["amount_cents"], 2_000);
    assert_eq!(log["transactions"][0]["kind"], "top_up");
}

async fn credit_moves_are_logged_with_their_balance(db: Db) {
    let app = TestApp::demo(db).await;
    let admin = app.admin_token().await;
    let top_up = "/api/v1/admin/users/bob/credit/top-up";
    let t = app.post(top_up, Some(&admin), json!({"amount_cents": 1_000, "comment": "cash"})).await.ok();
    assert_eq!((t["balance_after_cents"].as_i64(), t["actor"].as_str()), (Some(1_050), Some("admin")));
    app.post(
        "/api/v1/admin/users/bob/credit/adjust",
        Some(&admin),
        json!({"amount_cents": -75, "comment": "fix"}),
    )
    .await
    .ok();
    app.post(top_up, Some(&admin), json!({"amount_cents": -5})).await.err(422, "INVALID_INPUT");
    app.post("/api/v1/admin/users/bob/credit/adjust", Some(&admin), json!({"amount_cents": 0}))
        .await
        .err(422, "INVALID_INPUT");
    app.post("/api/v1/admin/users/nobody/credit/top-up", Some(&admin), json!({"amount_cents": 5}))
        .await
        .err(404, "NOT_FOUND");

    let bob = app.token("bob", "bob-demo").await;
    assert_eq!(app.get(ME, &bob).await.ok()["credit_cents"], 975);
    let log = app.get("/api/v1/me/transactions?limit=10", &bob).await.ok();
    let moves: Vec<(i64, i64)> = log["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["amount_cents"].as_i64().unwrap(), t["balance_after_cents"].as_i64().unwrap()))
        .collect();
    assert_eq!(moves, [(-75, 975), (1_000, 1_050), (50, 50)]);
}

/// Amounts near the integers' ends (as schemathesis sent them) are refused as input, not
/// answered with a database error, and a balance stops short of where sums overflow.
async fn absurd_amounts_of_credit_are_refused_and_nothing_overflows(db: Db) {
    let app = TestApp::demo(db).await;
    let admin = app.admin_token().await;
    let (top_up, adjust) = ("/api/v1/admin/users/bob/credit/top-up", "/api/v1/admin/users/bob/credit/adjust");
    for amount in [i64::MAX, i64::MAX - 1, 100_000_000_001] {
        app.post(top_up, Some(&admin), json!({"amount_cents": amount})).await.err(422, "INVALID_INPUT");
        app.post(adjust, Some(&admin), json!({"amount_cents": -amount})).await.err(422, "INVALID_INPUT");
    }
    app.post(adjust, Some(&admin), json!({"amount_cents": i64::MIN})).await.err(422, "INVALID_INPUT");
    // The largest movement is taken; one that would take a balance past its bound is
    // refused, and the balance stays as it was.
    let most = 100_000_000_000i64;
    app.post(top_up, Some(&admin), json!({"amount_cents": most})).await.ok();
    let bob = app.state.store.user("bob").await.unwrap();
    let near = 1_000_000_000_000_000 - most + 1;
    sqlx::query("UPDATE users SET credit_cents = $1 WHERE id = $2")
        .bind(near)
        .bind(&bob.id)
        .execute(app.state.store.pool())
        .await
        .unwrap();
    app.post(top_up, Some(&admin), json!({"amount_cents": most})).await.err(409, "CONFLICT");
    let bob = app.token("bob", "bob-demo").await;
    assert_eq!(app.get(ME, &bob).await.ok()["credit_cents"], near);
}

async fn concurrent_top_ups_lose_nothing(db: Db) {
    let app = TestApp::demo(db).await;
    let admin = app.admin_token().await;
    let calls = (0..20).map(|_| {
        app.post("/api/v1/admin/users/carol/credit/top-up", Some(&admin), json!({"amount_cents": 10}))
    });
    for r in futures_util::future::join_all(calls).await {
        r.ok();
    }
    let carol = app.token("carol", "carol-demo").await;
    assert_eq!(app.get(ME, &carol).await.ok()["credit_cents"], 500 + 200);
    let log = app.get("/api/v1/me/transactions?limit=100", &carol).await.ok();
    assert_eq!(log["transactions"].as_array().unwrap().len(), 21);
}

async fn administrators_manage_users_secrets_and_memberships(db: Db) {
    let app = TestApp::demo(db).await;
    let admin = app.admin_token().await;
    let new = json!({"username": "dave", "full_name": "Dave Leroy", "password": "dave-secret", "pin": "4321", "groups": ["Sales"]});
    let dave = app.post("/api/v1/admin/users", Some(&admin), new.clone()).await.ok();
    assert_eq!((dave["has_password"].as_bool(), dave["has_pin"].as_bool()), (Some(true), Some(true)));
    app.post("/api/v1/admin/users", Some(&admin), new).await.err(409, "CONFLICT");
    // A PIN identifies its owner alone: no two users may share one.
    app.post(
        "/api/v1/admin/users",
        Some(&admin),
        json!({"username": "eve", "full_name": "Eve", "pin": "1234"}),
    )
    .await
    .err(409, "SECRET_TAKEN");
    app.call(Method::GET, "/api/v1/admin/users/eve", Some(&admin), None).await.err(404, "NOT_FOUND");
    let put = |path: &'static str, body: Value| app.call(Method::PUT, path, Some(&admin), Some(body));
    put("/api/v1/admin/users/dave/pin", json!({"pin": "12"})).await.err(422, "PIN_INVALID");
    put("/api/v1/admin/users/dave/pin", json!({"pin": "5678"})).await.err(409, "SECRET_TAKEN");
    assert_eq!(put("/api/v1/admin/users/dave/pin", json!({"pin": "77889900"})).await.status, 204);
    put("/api/v1/admin/users/dave/password", json!({"password": "short"})).await.err(422, "INVALID_INPUT");
    assert_eq!(
        put("/api/v1/admin/users/dave/password", json!({"password": "a-new-password"})).await.status,
        204
    );
    app.post("/api/v1/admin/users/dave/cards", Some(&admin), json!({"card": "04A1B2C3"}))
        .await
        .err(409, "SECRET_TAKEN");
    let with_card =
        app.post("/api/v1/admin/users/dave/cards", Some(&admin), json!({"card": "DA7E0001"})).await.ok();
    assert_eq!(with_card["cards"][0]["hint"], "01");

    let login = |c: Value| app.login(c, None);
    login(json!({"method": "pin", "pin": "4321"})).await.err(401, "AUTH_INVALID");
    login(json!({"method": "card_pin", "card": "DA7E0001", "pin": "77889900"})).await.ok();
    login(json!({"method": "password", "username": "dave", "password": "dave-secret"}))
        .await
        .err(401, "AUTH_INVALID");
    let dave_token =
        login(json!({"method": "password", "username": "dave", "password": "a-new-password"})).await.ok();
    let dave_token = dave_token["access_token"].as_str().unwrap().to_string();
    assert_eq!(names(&app.get(ME, &dave_token).await.ok()["cost_centres"]), ["Sales"]);

    // Cost centres and projects: open one to a user, then take it away.
    let project =
        app.post("/api/v1/admin/projects", Some(&admin), json!({"name": "Annual report"})).await.ok();
    assert_eq!(project["members"], json!([]));
    let path = "/api/v1/admin/projects/Annual%20report/members/user/dave";
    let project = app.call(Method::PUT, path, Some(&admin), None).await.ok();
    assert_eq!(project["members"], json!([{"kind": "user", "name": "dave"}]));
    assert_eq!(names(&app.get(ME, &dave_token).await.ok()["projects"]), ["Annual report"]);
    app.call(Method::DELETE, path, Some(&admin), None).await.ok();
    assert_eq!(app.get(ME, &dave_token).await.ok()["projects"], json!([]));
    app.call(Method::DELETE, path, Some(&admin), None).await.err(404, "NOT_FOUND");

    // Quotas: limit, use and what remains.
    let quota = app
        .post(
            "/api/v1/admin/users/dave/quotas",
            Some(&admin),
            json!({"name": "Colour", "period": "week", "metric": "colour_pages", "limit": 100}),
        )
        .await
        .ok();
    let path = format!("/api/v1/admin/quotas/{}", quota["id"].as_str().unwrap());
    let quota = app.call(Method::PATCH, &path, Some(&admin), Some(json!({"used": 30}))).await.ok();
    assert_eq!((quota["used"].as_i64(), quota["remaining"].as_i64()), (Some(30), Some(70)));
    let me = app.get(ME, &dave_token).await.ok();
    assert_eq!(me["quotas"][0]["remaining"], 70);
    app.call(Method::PATCH, &path, Some(&admin), Some(json!({"limit": -1}))).await.err(422, "INVALID_INPUT");

    // Disabling ends the user's sessions; deleting removes them.
    let r = app
        .call(Method::PATCH, "/api/v1/admin/users/dave", Some(&admin), Some(json!({"disabled": true})))
        .await;
    assert_eq!(r.ok()["disabled"], true);
    app.get(ME, &dave_token).await.err(401, "SESSION_REVOKED");
    login(json!({"method": "pin", "pin": "77889900"})).await.err(403, "FORBIDDEN");
    assert_eq!(app.call(Method::DELETE, "/api/v1/admin/users/dave", Some(&admin), None).await.status, 204);
    login(json!({"method": "pin", "pin": "77889900"})).await.err(401, "AUTH_INVALID");
}

async fn users_generate_their_own_pin(db: Db) {
    let app = TestApp::demo(db).await;
    let bob = app.token("bob", "bob-demo").await;
    let pin =
        app.post("/api/v1/me/pin", Some(&bob), json!({})).await.ok()["pin"].as_str().unwrap().to_string();
    assert_eq!(pin.len(), 6);
    assert!(pin.bytes().all(|b| b.is_ascii_digit()));
    let t = app.login(json!({"method": "pin", "pin": pin}), None).await.ok();
    assert_eq!(t["user"]["username"], "bob");
    app.login(json!({"method": "pin", "pin": "5678"}), None).await.err(401, "AUTH_INVALID");
}

/// Every administration endpoint the API documents refuses anonymous callers and users
/// who are not administrators, whatever the method.
async fn only_administrators_reach_admin_endpoints(db: Db) {
    let app = TestApp::demo(db).await;
    let alice = app.token("alice", "alice-demo").await;
    let doc = app.call(Method::GET, "/api/openapi.json", None, None).await.ok();
    let mut checked = 0;
    for (path, methods) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/admin/") {
            continue;
        }
        let concrete = path.replace("{kind}", "user").replace(['{', '}'], "");
        for method in methods.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = Some(json!({}));
            app.call(method.clone(), &concrete, None, body.clone()).await.err(401, "AUTH_REQUIRED");
            app.call(method.clone(), &concrete, Some(&alice), body).await.err(403, "FORBIDDEN");
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} admin endpoints documented");
    // And alice's own account is untouched by all that.
    assert_eq!(app.get(ME, &alice).await.ok()["credit_cents"], 2_000);
}

/// No user can read or change another's account: every `/me` path acts on the caller.
async fn each_user_sees_only_their_own_account(db: Db) {
    let app = TestApp::demo(db).await;
    let alice = app.token("alice", "alice-demo").await;
    let bob = app.token("bob", "bob-demo").await;
    assert_eq!(app.get(ME, &alice).await.ok()["username"], "alice");
    assert_eq!(app.get(ME, &bob).await.ok()["username"], "bob");
    let bobs = app.get("/api/v1/me/transactions", &bob).await.ok();
    assert!(bobs["transactions"].as_array().unwrap().iter().all(|t| t["amount_cents"] == 50));
    // Bob generating a PIN changes bob's, not alice's.
    app.post("/api/v1/me/pin", Some(&bob), json!({})).await.ok();
    app.login(json!({"method": "pin", "pin": "1234"}), None).await.ok();
}

/// The OpenAPI document and the router agree: every documented operation is routed.
async fn every_documented_endpoint_exists(db: Db) {
    let app = TestApp::demo(db).await;
    let doc = app.call(Method::GET, "/api/openapi.json", None, None).await.ok();
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    let mut operations = 0;
    for (path, methods) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{kind}", "user").replace(['{', '}'], "");
        for (method, op) in methods.as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} has no responses"
            );
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app.call(m, &concrete, None, Some(json!({}))).await;
            assert_ne!(r.status.as_u16(), 405, "{method} {path} is documented but not routed");
            assert_ne!(r.body["message"], "no such endpoint", "{method} {path} is documented but not routed");
            operations += 1;
        }
    }
    assert!(operations >= 40, "{operations} operations");
    for schema in ["AccountView", "PushEvent", "ApiError", "SessionTokens", "WorkstationProof"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }
}

/// What the admin command line does, the admin API does too: deletions, lockouts lifted,
/// and no group made by naming it.
async fn the_admin_api_deletes_lifts_lockouts_and_makes_no_group_by_naming_it(db: Db) {
    let app = TestApp::demo(db).await;
    app.with_queues(&[]).await;
    let admin = app.admin_token().await;
    // A group must exist to be given.
    let user = json!({"username": "dora", "full_name": "Dora", "groups": ["Staff", "Stafff"]});
    let refused = app.post("/api/v1/admin/users", Some(&admin), user).await.err(404, "NOT_FOUND");
    assert!(refused["message"].as_str().unwrap().contains("Stafff"), "{refused}");
    let groups = app.get("/api/v1/admin/groups", &admin).await.ok();
    assert!(!groups.to_string().contains("Stafff"), "{groups}");
    let patch = json!({"groups": ["Nowhere"]});
    app.call(Method::PATCH, "/api/v1/admin/users/bob", Some(&admin), Some(patch)).await.err(404, "NOT_FOUND");
    // A lockout is listed and lifted.
    let wrong = json!({"method": "password", "username": "bob", "password": "wrong-password"});
    for _ in 0..4 {
        app.login(wrong.clone(), None).await.err(401, "AUTH_INVALID");
    }
    app.login(wrong, None).await.err(429, "AUTH_LOCKED");
    let listed = app.get("/api/v1/admin/lockouts", &admin).await.ok();
    let bob = listed["lockouts"].as_array().unwrap().iter().find(|l| l["name"] == "bob").cloned().unwrap();
    assert!(bob["locked_until_ms"].as_i64().is_some(), "{listed}");
    let lifted = app.post("/api/v1/admin/users/bob/unlock", Some(&admin), json!({})).await.ok();
    assert_eq!((&lifted["kind"], &lifted["name"]), (&json!("user"), &json!("bob")));
    assert!(lifted["locked_until_ms"].as_i64().is_some(), "what there was: {lifted}");
    app.token("bob", "bob-demo").await;
    let gone =
        app.call(Method::DELETE, "/api/v1/admin/lockouts/source/10.0.0.1", Some(&admin), None).await.ok();
    assert_eq!(gone["kind"], "source");
    // Deletions answer with what was deleted; what is still used is refused.
    app.call(Method::DELETE, "/api/v1/admin/price-lists/Standard", Some(&admin), None)
        .await
        .err(409, "CONFLICT");
    let queue = app.call(Method::DELETE, "/api/v1/admin/queues/Secure", Some(&admin), None).await.ok();
    assert_eq!(queue["name"], "Secure");
    for q in ["Direct", "Projects"] {
        app.call(Method::DELETE, &format!("/api/v1/admin/queues/{q}"), Some(&admin), None).await.ok();
    }
    let printer = app.call(Method::DELETE, "/api/v1/admin/printers/Nowhere", Some(&admin), None).await.ok();
    assert_eq!(printer["name"], "Nowhere");
    let list = app.call(Method::DELETE, "/api/v1/admin/price-lists/Standard", Some(&admin), None).await.ok();
    assert_eq!(list["mono_page_cents"], 5);
    let queues = app.get("/api/v1/admin/queues", &admin).await.ok();
    assert_eq!(queues["queues"], json!([]));
    // Not for users.
    let alice = app.token("alice", "alice-demo").await;
    app.call(Method::DELETE, "/api/v1/admin/queues/Direct", Some(&alice), None).await.err(403, "FORBIDDEN");
}

on_both_databases!(
    the_account_shows_credit_quotas_cost_centres_and_projects,
    credit_moves_are_logged_with_their_balance,
    absurd_amounts_of_credit_are_refused_and_nothing_overflows,
    concurrent_top_ups_lose_nothing,
    administrators_manage_users_secrets_and_memberships,
    users_generate_their_own_pin,
    only_administrators_reach_admin_endpoints,
    each_user_sees_only_their_own_account,
    every_documented_endpoint_exists,
    the_admin_api_deletes_lifts_lockouts_and_makes_no_group_by_naming_it,
);
