//! Every login method, lockout, tokens, remember-me and workstation proofs, through the
//! real router on SQLite and on PostgreSQL.

mod common;

use axum::http::Method;
use common::{Db, TestApp};
use ream_wire::ProofPurpose;
use serde_json::{json, Value};

const ME: &str = "/api/v1/me";

async fn whoami(app: &TestApp, tokens: &Value) -> String {
    let token = tokens["access_token"].as_str().unwrap();
    app.get(ME, token).await.ok()["username"].as_str().unwrap().to_string()
}

async fn every_method_identifies_its_user(db: Db) {
    let app = TestApp::demo(db).await;
    let ws = app.enrol().await;
    let cases = [
        (json!({"method": "password", "username": "alice", "password": "alice-demo"}), "alice"),
        (json!({"method": "pin", "pin": "5678"}), "bob"),
        (json!({"method": "card", "card": "04A1B2C3"}), "alice"),
        (json!({"method": "card", "card": " 04d4e5f6 "}), "bob"),
        (json!({"method": "card_pin", "card": "04C0FFEE", "pin": "246810"}), "carol"),
        (json!({"method": "user_list", "proof": ws.proof(&app, ProofPurpose::UserList, "bob")}), "bob"),
        (json!({"method": "sso", "proof": ws.proof(&app, ProofPurpose::Sso, "alice")}), "alice"),
    ];
    for (credentials, user) in cases {
        let tokens = app.login(credentials.clone(), None).await.ok();
        assert_eq!(tokens["method"], credentials["method"]);
        assert_eq!(tokens["user"]["username"], user);
        assert_eq!(whoami(&app, &tokens).await, user, "{credentials}");
        assert!(tokens["access_token"].as_str().unwrap().starts_with("ra_"));
    }
}

async fn wrong_secrets_are_refused(db: Db) {
    let app = TestApp::demo(db).await;
    for credentials in [
        json!({"method": "password", "username": "alice", "password": "alice-demO"}),
        json!({"method": "password", "username": "nobody", "password": "whatever1"}),
        json!({"method": "pin", "pin": "9999"}),
        json!({"method": "pin", "pin": "12a4"}),
        json!({"method": "card", "card": "FFFFFFFF"}),
        json!({"method": "card_pin", "card": "04A1B2C3", "pin": "5678"}),
        json!({"method": "card_pin", "card": "04D4E5F6", "pin": "1234"}),
    ] {
        app.login(credentials, None).await.err(401, "AUTH_INVALID");
    }
    // Demo admin has no PIN: a PIN never identifies them.
    app.login(json!({"method": "password", "username": "admin", "password": "x"}), None)
        .await
        .err(401, "AUTH_INVALID");
}

async fn five_failures_lock_the_identity_for_fifteen_minutes(db: Db) {
    let app = TestApp::demo(db).await;
    let wrong = json!({"method": "password", "username": "alice", "password": "wrong-password"});
    let right = json!({"method": "password", "username": "alice", "password": "alice-demo"});
    for _ in 0..4 {
        app.login(wrong.clone(), None).await.err(401, "AUTH_INVALID");
    }
    let locked = app.login(wrong.clone(), None).await.err(429, "AUTH_LOCKED");
    assert!(locked["retry_at_ms"].as_i64().is_some());
    // Locked for every method that names alice, even with the right secret…
    app.login(right.clone(), None).await.err(429, "AUTH_LOCKED");
    app.login(json!({"method": "card_pin", "card": "04A1B2C3", "pin": "1234"}), None)
        .await
        .err(429, "AUTH_LOCKED");
    // …but not for other users.
    app.login(json!({"method": "pin", "pin": "5678"}), None).await.ok();
    app.clock.advance_secs(14 * 60);
    app.login(right.clone(), None).await.err(429, "AUTH_LOCKED");
    app.clock.advance_secs(61);
    app.login(right.clone(), None).await.ok();
    // A success starts the count again.
    for _ in 0..4 {
        app.login(wrong.clone(), None).await.err(401, "AUTH_INVALID");
    }
    app.login(right, None).await.ok();
    app.login(wrong, None).await.err(401, "AUTH_INVALID");
}

async fn card_and_pin_failures_lock_the_card_owner(db: Db) {
    let app = TestApp::demo(db).await;
    for i in 0..5 {
        let r = app
            .login(json!({"method": "card_pin", "card": "04D4E5F6", "pin": format!("000{i}")}), None)
            .await;
        r.err(if i < 4 { 401 } else { 429 }, if i < 4 { "AUTH_INVALID" } else { "AUTH_LOCKED" });
    }
    app.login(json!({"method": "pin", "pin": "5678"}), None).await.err(429, "AUTH_LOCKED");
    app.clock.advance_secs(15 * 60 + 1);
    app.login(json!({"method": "card_pin", "card": "04D4E5F6", "pin": "5678"}), None).await.ok();
}

async fn guessing_across_users_is_throttled_per_source(db: Db) {
    let app = TestApp::demo(db).await;
    let attacker = [192, 0, 2, 7];
    // Ten wrong PINs from one address: no identity is named, the address is locked.
    for i in 0..10 {
        let r = app
            .call_from(
                attacker,
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"credentials": {"method": "pin", "pin": format!("90{i:02}")}})),
            )
            .await;
        r.err(if i < 9 { 401 } else { 429 }, if i < 9 { "AUTH_INVALID" } else { "AUTH_LOCKED" });
    }
    // Even a right PIN from there is refused now; elsewhere it works.
    let good = Some(json!({"credentials": {"method": "pin", "pin": "1234"}}));
    app.call_from(attacker, Method::POST, "/api/v1/auth/login", None, good.clone())
        .await
        .err(429, "AUTH_LOCKED");
    app.call_from([10, 9, 9, 9], Method::POST, "/api/v1/auth/login", None, good.clone()).await.ok();
    app.clock.advance_secs(15 * 60 + 1);
    app.call_from(attacker, Method::POST, "/api/v1/auth/login", None, good).await.ok();
}

async fn access_tokens_expire_and_refresh_rotates(db: Db) {
    let app = TestApp::demo(db).await;
    let first = app.login(json!({"method": "pin", "pin": "1234"}), None).await.ok();
    let access = first["access_token"].as_str().unwrap();
    app.get(ME, access).await.ok();
    app.clock.advance_secs(15 * 60 + 1);
    app.get(ME, access).await.err(401, "TOKEN_EXPIRED");

    let second =
        app.post("/api/v1/auth/refresh", None, json!({"refresh_token": first["refresh_token"]})).await.ok();
    assert_eq!(second["session_id"], first["session_id"]);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(whoami(&app, &second).await, "alice");

    // The replaced token presented again at once: its holder most likely never got the
    // answer (killed, or cut off). It gets new tokens once more; those it missed stop working.
    let retried =
        app.post("/api/v1/auth/refresh", None, json!({"refresh_token": first["refresh_token"]})).await.ok();
    assert_eq!(retried["session_id"], first["session_id"]);
    assert_ne!(retried["refresh_token"], second["refresh_token"]);
    assert_eq!(whoami(&app, &retried).await, "alice");
    app.get(ME, second["access_token"].as_str().unwrap()).await.err(401, "AUTH_INVALID");
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": second["refresh_token"]}))
        .await
        .err(401, "AUTH_INVALID");

    // Past refresh_retry_seconds, the replaced token presented again is theft: the whole
    // session ends.
    app.clock.advance_secs(31);
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": first["refresh_token"]}))
        .await
        .err(401, "SESSION_REVOKED");
    app.get(ME, retried["access_token"].as_str().unwrap()).await.err(401, "SESSION_REVOKED");
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": retried["refresh_token"]}))
        .await
        .err(401, "SESSION_REVOKED");
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": "rr_made_up"}))
        .await
        .err(401, "AUTH_INVALID");
    app.get(ME, "ra_made_up").await.err(401, "AUTH_INVALID");
    app.call(Method::GET, ME, None, None).await.err(401, "AUTH_REQUIRED");
}

async fn remember_me_sets_how_long_a_login_lasts(db: Db) {
    let app = TestApp::demo(db).await;
    let refresh = |t: &Value| json!({"refresh_token": t["refresh_token"]});
    let pin = json!({"method": "pin", "pin": "1234"});

    // One hour: refreshing does not extend it, and after the hour it is over.
    let hour = app.login(pin.clone(), Some("1h")).await.ok();
    assert_eq!(hour["remember"], "1h");
    let end = hour["refresh_expires_at_ms"].as_i64().unwrap();
    app.clock.advance_secs(50 * 60);
    let again = app.post("/api/v1/auth/refresh", None, refresh(&hour)).await.ok();
    assert_eq!(again["refresh_expires_at_ms"].as_i64().unwrap(), end);
    assert!(again["access_expires_at_ms"].as_i64().unwrap() <= end, "access never outlives the login");
    app.clock.advance_secs(11 * 60);
    app.post("/api/v1/auth/refresh", None, refresh(&again)).await.err(401, "TOKEN_EXPIRED");
    app.get(ME, again["access_token"].as_str().unwrap()).await.err(401, "TOKEN_EXPIRED");

    // Always: no end.
    let always = app.login(pin.clone(), Some("always")).await.ok();
    assert!(always["refresh_expires_at_ms"].is_null());
    app.clock.advance_secs(400 * 86_400);
    let later = app.post("/api/v1/auth/refresh", None, refresh(&always)).await.ok();
    assert_eq!(whoami(&app, &later).await, "alice");

    // Not remembered: lives while used (each refresh extends a day), ends when idle.
    let session = app.login(pin.clone(), None).await.ok();
    assert!(session["remember"].is_null());
    app.clock.advance_secs(23 * 3_600);
    let session = app.post("/api/v1/auth/refresh", None, refresh(&session)).await.ok();
    app.clock.advance_secs(23 * 3_600);
    let session = app.post("/api/v1/auth/refresh", None, refresh(&session)).await.ok();
    app.clock.advance_secs(25 * 3_600);
    app.post("/api/v1/auth/refresh", None, refresh(&session)).await.err(401, "TOKEN_EXPIRED");

    app.login(pin, Some("forever")).await.err(422, "REMEMBER_INVALID");
}

async fn logout_revokes_the_session(db: Db) {
    let app = TestApp::demo(db).await;
    let t = app.login(json!({"method": "card", "card": "04A1B2C3"}), Some("1w")).await.ok();
    let access = t["access_token"].as_str().unwrap();
    let other = app.login(json!({"method": "card", "card": "04A1B2C3"}), None).await.ok();
    assert_eq!(app.post("/api/v1/auth/logout", Some(access), json!({})).await.status, 204);
    app.get(ME, access).await.err(401, "SESSION_REVOKED");
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": t["refresh_token"]}))
        .await
        .err(401, "SESSION_REVOKED");
    // Only that session: the user's other one lives on.
    assert_eq!(whoami(&app, &other).await, "alice");
}

async fn disabled_methods_are_refused(db: Db) {
    let app = TestApp::with(db, |c| c.login.methods = vec![ream_wire::LoginMethod::Password]).await;
    let policy = app.call(Method::GET, "/api/v1/auth/policy", None, None).await.ok();
    assert_eq!(policy["methods"], json!(["password"]));
    app.login(json!({"method": "pin", "pin": "1234"}), None).await.err(403, "METHOD_DISABLED");
    app.call(Method::GET, "/api/v1/directory", None, None).await.err(403, "METHOD_DISABLED");
    app.login(json!({"method": "password", "username": "bob", "password": "bob-demo"}), None).await.ok();
}

async fn sso_refuses_forged_replayed_expired_and_unknown_proofs(db: Db) {
    let app = TestApp::demo(db).await;
    let ws = app.enrol().await;
    let sso = |proof: Value| json!({"method": "sso", "proof": proof});

    let proof = ws.proof(&app, ProofPurpose::Sso, "alice");
    app.login(sso(proof.clone()), None).await.ok();
    app.login(sso(proof.clone()), None).await.err(401, "ASSERTION_REPLAYED");

    // Changing any signed field breaks the signature.
    let mut tampered = ws.proof(&app, ProofPurpose::Sso, "alice");
    tampered["subject"] = json!("admin");
    app.login(sso(tampered), None).await.err(401, "ASSERTION_INVALID");
    // Signed by a key the server does not know for this workstation.
    let forger = common::Workstation {
        id: ws.id.clone(),
        key: ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng),
    };
    app.login(sso(forger.proof(&app, ProofPurpose::Sso, "admin")), None).await.err(401, "ASSERTION_INVALID");
    // A proof made for the user list is no SSO proof.
    app.login(sso(ws.proof(&app, ProofPurpose::UserList, "alice")), None).await.err(401, "ASSERTION_INVALID");
    let mut garbage = ws.proof(&app, ProofPurpose::Sso, "alice");
    garbage["signature"] = json!("not base64!");
    app.login(sso(garbage), None).await.err(401, "ASSERTION_INVALID");

    use ream_server::clock::Clock;
    let now = app.clock.now_ms();
    app.login(sso(ws.proof_at(ProofPurpose::Sso, "alice", now - 61_000)), None)
        .await
        .err(401, "ASSERTION_EXPIRED");
    app.login(sso(ws.proof_at(ProofPurpose::Sso, "alice", now + 61_000)), None)
        .await
        .err(401, "ASSERTION_EXPIRED");
    app.login(sso(ws.proof_at(ProofPurpose::Sso, "alice", now - 30_000)), None).await.ok();

    let stranger = common::Workstation { id: "no-such-workstation".into(), key: ws.key.clone() };
    app.login(sso(stranger.proof(&app, ProofPurpose::Sso, "alice")), None)
        .await
        .err(401, "WORKSTATION_UNKNOWN");
    app.login(sso(ws.proof(&app, ProofPurpose::Sso, "mallory")), None).await.err(401, "AUTH_INVALID");
}

async fn revoking_a_workstation_ends_its_sessions_and_proofs(db: Db) {
    let app = TestApp::demo(db).await;
    let ws = app.enrol().await;
    let tokens = app
        .login(json!({"method": "sso", "proof": ws.proof(&app, ProofPurpose::Sso, "bob")}), Some("always"))
        .await
        .ok();
    let admin = app.admin_token().await;
    let listed = app.get("/api/v1/admin/workstations", &admin).await.ok();
    assert_eq!(listed["workstations"][0]["id"].as_str(), Some(ws.id.as_str()));
    assert!(listed["workstations"][0]["last_seen_ms"].as_i64().is_some());
    let r =
        app.call(Method::DELETE, &format!("/api/v1/admin/workstations/{}", ws.id), Some(&admin), None).await;
    assert_eq!(r.status, 204);
    app.get(ME, tokens["access_token"].as_str().unwrap()).await.err(401, "SESSION_REVOKED");
    app.login(json!({"method": "sso", "proof": ws.proof(&app, ProofPurpose::Sso, "bob")}), None)
        .await
        .err(401, "WORKSTATION_REVOKED");
    app.login(json!({"method": "user_list", "proof": ws.proof(&app, ProofPurpose::UserList, "bob")}), None)
        .await
        .err(401, "WORKSTATION_REVOKED");
}

async fn enrolment_codes_work_once_and_expire(db: Db) {
    let app = TestApp::demo(db).await;
    let admin = app.admin_token().await;
    let key = || {
        use base64::Engine;
        let k = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        base64::engine::general_purpose::STANDARD.encode(k.verifying_key().to_bytes())
    };
    let code = app
        .post("/api/v1/admin/workstations/enrolment-codes", Some(&admin), json!({"valid_seconds": 600}))
        .await
        .ok();
    let code = code["code"].as_str().unwrap().to_string();
    // People type codes in lower case and without dashes.
    let typed = code.replace('-', "").to_lowercase();
    app.post("/api/v1/workstations/enrol", None, json!({"code": typed, "name": "pc-1", "public_key": key()}))
        .await
        .ok();
    app.post("/api/v1/workstations/enrol", None, json!({"code": code, "name": "pc-2", "public_key": key()}))
        .await
        .err(401, "ENROLMENT_CODE_INVALID");
    let late = app
        .post("/api/v1/admin/workstations/enrolment-codes", Some(&admin), json!({"valid_seconds": 60}))
        .await
        .ok();
    app.clock.advance_secs(61);
    app.post(
        "/api/v1/workstations/enrol",
        None,
        json!({"code": late["code"], "name": "pc-3", "public_key": key()}),
    )
    .await
    .err(401, "ENROLMENT_CODE_INVALID");
    let fresh = app.post("/api/v1/admin/workstations/enrolment-codes", Some(&admin), json!({})).await.ok();
    app.post(
        "/api/v1/workstations/enrol",
        None,
        json!({"code": fresh["code"], "name": "pc-4", "public_key": "AAAA"}),
    )
    .await
    .err(422, "INVALID_INPUT");
}

async fn the_directory_needs_a_fresh_workstation_proof(db: Db) {
    let app = TestApp::demo(db).await;
    let ws = app.enrol().await;
    let get = |proof: Option<Value>, q: &str| {
        let mut req = axum::http::Request::builder().uri(format!("/api/v1/directory?q={q}"));
        if let Some(p) = proof {
            req = req.header(ream_wire::WORKSTATION_PROOF_HEADER, p.to_string());
        }
        req.body(axum::body::Body::empty()).unwrap()
    };
    app.send(get(None, "")).await.err(401, "AUTH_REQUIRED");
    let all = app.send(get(Some(ws.proof(&app, ProofPurpose::Directory, "")), "")).await.ok();
    let names: Vec<&str> =
        all["users"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["alice", "bob", "carol"], "administrators are not offered");
    let found = app.send(get(Some(ws.proof(&app, ProofPurpose::Directory, "MART")), "MART")).await.ok();
    assert_eq!(found["users"], json!([{"username": "alice", "full_name": "Alice Martin"}]));
    // A proof is bound to its search and used once.
    let proof = ws.proof(&app, ProofPurpose::Directory, "bob");
    app.send(get(Some(proof.clone()), "alice")).await.err(401, "ASSERTION_INVALID");
    app.send(get(Some(ws.proof(&app, ProofPurpose::Sso, "bob")), "bob")).await.err(401, "ASSERTION_INVALID");
    let replayed = ws.proof(&app, ProofPurpose::Directory, "b");
    app.send(get(Some(replayed.clone()), "b")).await.ok();
    app.send(get(Some(replayed), "b")).await.err(401, "ASSERTION_REPLAYED");
}

async fn malformed_requests_get_a_clear_error(db: Db) {
    let app = TestApp::demo(db).await;
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"credentials\": {\"method\": \"telepathy\"}}"))
        .unwrap();
    app.send(req).await.err(422, "INVALID_INPUT");
    app.call(Method::GET, "/api/v1/nothing-here", None, None).await.err(404, "NOT_FOUND");
}

/// An administrator is never identified by a workstation's word alone (user list, single
/// sign-on), and administration needs a password session even for an administrator.
async fn administrators_log_in_with_a_password_only(db: Db) {
    let app = TestApp::demo(db).await;
    let ws = app.enrol().await;
    let user_list = json!({"method": "user_list", "proof": ws.proof(&app, ProofPurpose::UserList, "admin")});
    app.login(user_list, None).await.err(401, "AUTH_INVALID");
    let sso = json!({"method": "sso", "proof": ws.proof(&app, ProofPurpose::Sso, "admin")});
    app.login(sso, None).await.err(401, "AUTH_INVALID");
    // The same workstation still logs a user in both ways.
    app.login(json!({"method": "user_list", "proof": ws.proof(&app, ProofPurpose::UserList, "bob")}), None)
        .await
        .ok();

    // An administrator with a PIN: the PIN identifies them, but opens no administration.
    let admin = app.admin_token().await;
    let put = app.call(
        Method::PUT,
        "/api/v1/admin/users/admin/pin",
        Some(&admin),
        Some(json!({"pin": "90817263"})),
    );
    assert_eq!(put.await.status, 204);
    // A new secret ends the user's sessions, this one too.
    app.get("/api/v1/admin/users", &admin).await.err(401, "SESSION_REVOKED");
    let admin = app.admin_token().await;
    let by_pin = app.login(json!({"method": "pin", "pin": "90817263"}), None).await.ok();
    let pin_token = by_pin["access_token"].as_str().unwrap();
    app.get("/api/v1/admin/users", pin_token).await.err(403, "FORBIDDEN");
    app.get("/api/v1/admin/users", &admin).await.ok();
}

/// A new PIN ends the user's other sessions (whoever knew the old one is logged out);
/// a login by the user list, which proved no secret, changes none.
async fn a_new_pin_ends_the_other_sessions(db: Db) {
    let app = TestApp::demo(db).await;
    let login =
        |c: Value| async { app.login(c, None).await.ok()["access_token"].as_str().unwrap().to_string() };
    let elsewhere = login(json!({"method": "pin", "pin": "1234"})).await;
    let here = login(json!({"method": "password", "username": "alice", "password": "alice-demo"})).await;
    let pin = app.call(Method::POST, "/api/v1/me/pin", Some(&here), None).await.ok();
    let new_pin = pin["pin"].as_str().unwrap().to_string();
    app.get("/api/v1/me", &here).await.ok();
    let ended = app.get("/api/v1/me", &elsewhere).await;
    assert_eq!(ended.status, 401, "{:?}", ended.body);
    app.login(json!({"method": "pin", "pin": "1234"}), None).await.err(401, "AUTH_INVALID");
    app.login(json!({"method": "pin", "pin": new_pin}), None).await.ok();

    let ws = app.enrol().await;
    let listed =
        login(json!({"method": "user_list", "proof": ws.proof(&app, ProofPurpose::UserList, "bob")})).await;
    app.call(Method::POST, "/api/v1/me/pin", Some(&listed), None).await.err(403, "FORBIDDEN");
}

fn wrong_pin(i: usize) -> Option<Value> {
    Some(json!({"credentials": {"method": "pin", "pin": format!("8{i:05}")}}))
}

async fn two_hundred_wrong_pins_at_once_get_no_more_tries_than_the_limit(db: Db) {
    let app = TestApp::demo(db).await;
    let attacker = std::net::IpAddr::from([192, 0, 2, 9]);
    // Wrong PINs, and wrong passwords of names nobody has (each checked against a hash
    // all the same, the slow step between the check of the lock and the count of the
    // failure): all sent at once.
    let tries = (0..200).map(|i| {
        let body = if i % 2 == 0 {
            wrong_pin(i)
        } else {
            Some(json!({"credentials": {"method": "password", "username": format!("nobody{i}"), "password": "guess"}}))
        };
        app.call_via(attacker, &[], Method::POST, "/api/v1/auth/login", None, body)
    });
    let replies = futures_util::future::join_all(tries).await;
    let checked = replies.iter().filter(|r| r.code() == "AUTH_INVALID").count();
    let locked = replies.iter().filter(|r| r.code() == "AUTH_LOCKED").count();
    assert_eq!(checked + locked, 200, "every one refused");
    assert!(checked <= 10, "{checked} PINs were tried, past max_failed_attempts_per_source");
    assert!(checked >= 1);
    // Each secret checked was an attempt counted first, and no more than the limit were.
    let row = app.state.store.failure_row("src:192.0.2.9").await.unwrap().unwrap();
    assert!(row.failures <= 10, "{} attempts counted against the address", row.failures);
    // The address is locked; another is not.
    let good = Some(json!({"credentials": {"method": "pin", "pin": "1234"}}));
    app.call_via(attacker, &[], Method::POST, "/api/v1/auth/login", None, good.clone())
        .await
        .err(429, "AUTH_LOCKED");
    app.call_from([10, 9, 9, 8], Method::POST, "/api/v1/auth/login", None, good).await.ok();
}

async fn an_ipv6_network_is_one_source(db: Db) {
    let app = TestApp::demo(db).await;
    // Ten wrong PINs, each from another address of one /64.
    for i in 0..10 {
        let from: std::net::IpAddr = format!("2001:db8:5:6::{:x}", i + 1).parse().unwrap();
        app.call_via(from, &[], Method::POST, "/api/v1/auth/login", None, wrong_pin(i)).await;
    }
    let good = Some(json!({"credentials": {"method": "pin", "pin": "1234"}}));
    let same_net: std::net::IpAddr = "2001:db8:5:6:ffff::1".parse().unwrap();
    app.call_via(same_net, &[], Method::POST, "/api/v1/auth/login", None, good.clone())
        .await
        .err(429, "AUTH_LOCKED");
    let next_net: std::net::IpAddr = "2001:db8:5:7::1".parse().unwrap();
    app.call_via(next_net, &[], Method::POST, "/api/v1/auth/login", None, good).await.ok();
}

async fn behind_a_trusted_proxy_each_client_is_its_own_source(db: Db) {
    let app = TestApp::with(db, |c| c.security.trusted_proxies = vec!["10.0.0.0/24".into()]).await;
    let proxy = std::net::IpAddr::from([10, 0, 0, 2]);
    let login = "/api/v1/auth/login";
    for i in 0..10 {
        let r = app.call_via(
            proxy,
            &[("x-forwarded-for", "203.0.113.5")],
            Method::POST,
            login,
            None,
            wrong_pin(i),
        );
        r.await;
    }
    let good = Some(json!({"credentials": {"method": "pin", "pin": "1234"}}));
    let as_client = |who: &'static str| [("x-forwarded-for", who)];
    app.call_via(proxy, &as_client("203.0.113.5"), Method::POST, login, None, good.clone())
        .await
        .err(429, "AUTH_LOCKED");
    // Another client through the same proxy is not locked out.
    app.call_via(proxy, &as_client("203.0.113.6"), Method::POST, login, None, good.clone()).await.ok();
    // An untrusted peer's header is not believed: its own address is counted.
    let stranger = std::net::IpAddr::from([198, 51, 100, 4]);
    for i in 0..10 {
        app.call_via(stranger, &as_client("203.0.113.7"), Method::POST, login, None, wrong_pin(i)).await;
    }
    app.call_via(stranger, &[], Method::POST, login, None, good.clone()).await.err(429, "AUTH_LOCKED");
    app.call_via(proxy, &as_client("203.0.113.7"), Method::POST, login, None, good).await.ok();
}

on_both_databases!(
    two_hundred_wrong_pins_at_once_get_no_more_tries_than_the_limit,
    an_ipv6_network_is_one_source,
    behind_a_trusted_proxy_each_client_is_its_own_source,
    every_method_identifies_its_user,
    administrators_log_in_with_a_password_only,
    a_new_pin_ends_the_other_sessions,
    wrong_secrets_are_refused,
    five_failures_lock_the_identity_for_fifteen_minutes,
    card_and_pin_failures_lock_the_card_owner,
    guessing_across_users_is_throttled_per_source,
    access_tokens_expire_and_refresh_rotates,
    remember_me_sets_how_long_a_login_lasts,
    logout_revokes_the_session,
    disabled_methods_are_refused,
    sso_refuses_forged_replayed_expired_and_unknown_proofs,
    revoking_a_workstation_ends_its_sessions_and_proofs,
    enrolment_codes_work_once_and_expire,
    the_directory_needs_a_fresh_workstation_proof,
    malformed_requests_get_a_clear_error,
);
