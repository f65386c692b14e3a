//! The authorisation matrix, generated from the server's own OpenAPI document: every
//! operation it serves is called anonymously, as a user on another user's objects, as a
//! session from the user list (which proved no secret) and as an administrator, and the
//! answer is checked against the rules. A new endpoint is covered without a test of its own.
//!
//! The rules: an operation that declares the bearer scheme refuses anonymous callers
//! (401); everything under `/api/v1/admin/` refuses anyone but an administrator (403)
//! and is the administrator's; another user's job is as good as absent (each call on it
//! answers as on a job that does not exist, and fails); a user-list session changes no
//! secret (403); and nothing answers with a server error.

mod common;

use axum::http::Method;
use common::{Db, TestApp};
use ream_wire::ProofPurpose;
use serde_json::{json, Value};

struct Operation {
    method: Method,
    path: String,
    secured: bool,
}

async fn operations(app: &TestApp) -> Vec<Operation> {
    let doc = app.call(Method::GET, "/api/openapi.json", None, None).await.ok();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            out.push(Operation { method, path: path.clone(), secured });
        }
    }
    assert!(out.len() >= 60, "only {} operations in the document", out.len());
    out
}

/// The path with its parameters filled: a job is `job` (another user's), anything else a
/// name nothing has.
fn filled(path: &str, job: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str(&rest[..start]);
        let param = &rest[start + 1..end];
        out.push_str(if param == "id" && path.starts_with("/api/v1/me/jobs/") {
            job
        } else {
            "nothing-such"
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn body(method: &Method) -> Option<Value> {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    /// carol, by password, on bob's job.
    OtherUser,
    /// alice, from the user list.
    UserList,
    Admin,
}

/// What the rules say of `op` called by `caller`: the status it must get, or `None`
/// where any answer but a refusal of the caller and a server error will do.
fn expected(op: &Operation, caller: Caller) -> Option<u16> {
    let admin_only = op.path.starts_with("/api/v1/admin/");
    let secret = matches!(op.path.as_str(), "/api/v1/me/pin");
    match caller {
        Caller::Anonymous if op.secured => Some(401),
        Caller::Anonymous => None,
        Caller::OtherUser | Caller::UserList if admin_only => Some(403),
        Caller::UserList if secret => Some(403),
        _ => None,
    }
}

async fn the_rules_hold_for_every_operation_and_caller(db: Db) {
    let app = TestApp::demo(db).await;
    app.with_queues(&[]).await;
    let bob = app.token("bob", "bob-demo").await;
    let job = app.submit(
        &bob,
        json!({"name": "bob's", "queue": "Secure", "color_mode": "monochrome"}),
        common::pdf::pages(1),
    );
    let job = job.await.ok()["id"].as_str().unwrap().to_string();
    let ws = app.enrol().await;
    let mut checked = 0;
    for op in operations(&app).await {
        let path = filled(&op.path, &job);
        for caller in [Caller::Anonymous, Caller::OtherUser, Caller::UserList, Caller::Admin] {
            // A fresh login each time: some operations end the session that calls them.
            let token = match caller {
                Caller::Anonymous => None,
                Caller::OtherUser => Some(app.token("carol", "carol-demo").await),
                Caller::UserList => {
                    let proof = ws.proof(&app, ProofPurpose::UserList, "alice");
                    let r = app.login(json!({"method": "user_list", "proof": proof}), None).await.ok();
                    Some(r["access_token"].as_str().unwrap().to_string())
                }
                Caller::Admin => Some(app.admin_token().await),
            };
            let reply = app.call(op.method.clone(), &path, token.as_deref(), body(&op.method)).await;
            let status = reply.status.as_u16();
            let what = format!("{} {} as {caller:?}: {status} {:?}", op.method, op.path, reply.body);
            assert!(status < 500, "a server error: {what}");
            match expected(&op, caller) {
                Some(want) => assert_eq!(status, want, "{what}"),
                // Operations that take no bearer token (the directory and the journal go by a
                // workstation's signature, a login by its credentials) answer by their own rules.
                None if caller != Caller::Anonymous && op.secured => {
                    assert!(status != 401 && status != 403, "the caller was refused: {what}")
                }
                None => {}
            }
            // Someone else's job: answered exactly as a job that does not exist.
            let others_job = op.path.starts_with("/api/v1/me/jobs/{id}");
            if others_job && matches!(caller, Caller::OtherUser | Caller::UserList) {
                let absent = filled(&op.path, "no-such-job");
                let as_absent =
                    app.call(op.method.clone(), &absent, token.as_deref(), body(&op.method)).await;
                assert!(status >= 400, "someone else's job was acted on: {what}");
                assert_eq!((status, reply.code()), (as_absent.status.as_u16(), as_absent.code()), "{what}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 240, "{checked} calls");
    // Bob's job is untouched by all of it.
    let jobs = app.get("/api/v1/me/jobs", &bob).await.ok();
    assert_eq!(jobs["jobs"][0]["state"], "held", "{jobs}");
}

on_both_databases!(the_rules_hold_for_every_operation_and_caller);
