//! Test helpers: a server state on a fresh SQLite file or a fresh PostgreSQL database,
//! requests driven through the real router, and an enrolled workstation's key.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use ream_server::clock::ManualClock;
use ream_server::config::Config;
use ream_server::state::AppState;
use ream_wire::{JournalEntry, JournalRecord, ProofPurpose, WorkstationProof};
use serde_json::{json, Value};
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Instantiates an async test fn `name(db: Db)` once per database backend.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name($crate::common::Db::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name($crate::common::Db::Postgres).await }
        }
    )*};
}

#[path = "../../../../tests/src/postgres.rs"]
mod postgres;
pub use postgres::postgres_database;

#[path = "../../../../tests/src/pdf.rs"]
pub mod pdf;

pub struct TestDir(pub tempfile::TempDir);

/// A config on a fresh database of the given kind, with its data in a fresh directory.
pub async fn config(db: Db) -> (Config, TestDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    // These tests try every login method, the user list (off by default) too.
    config.login.methods = ream_wire::LoginMethod::ALL.to_vec();
    if db == Db::Postgres {
        config.database_url = Some(postgres_database().await);
    }
    (config, TestDir(dir))
}

pub struct TestApp {
    pub state: AppState,
    pub router: axum::Router,
    pub clock: Arc<ManualClock>,
    _dir: TestDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// The `{code}` of an error answer.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(self.status.is_success(), "expected success, got {} {}", self.status, self.body);
        self.body
    }

    #[track_caller]
    pub fn err(self, status: u16, code: &str) -> Value {
        assert_eq!((self.status.as_u16(), self.code()), (status, code), "body: {}", self.body);
        assert!(self.body["message"].as_str().is_some_and(|m| !m.is_empty()), "message: {}", self.body);
        self.body
    }
}

impl TestApp {
    /// A server with the demo data, on the given database.
    pub async fn demo(db: Db) -> TestApp {
        Self::with(db, |_| {}).await
    }

    pub async fn with(db: Db, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let (mut config, dir) = config(db).await;
        adjust(&mut config);
        let clock = ManualClock::new();
        let state = ream_server::server::open_state(config, clock.clone()).await.unwrap();
        assert!(ream_server::demo::seed(&state).await.unwrap());
        let router = ream_server::api::router(state.clone());
        TestApp { state, router, clock, _dir: dir }
    }

    /// One request through the real router, as if from `source`.
    pub async fn call_from(
        &self,
        source: [u8; 4],
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.call_via(std::net::IpAddr::from(source), &[], method, path, token, body).await
    }

    /// One request from the peer `peer` (IPv4 or IPv6), with extra `headers` (a proxy's
    /// `X-Forwarded-For`, say).
    pub async fn call_via(
        &self,
        peer: std::net::IpAddr,
        headers: &[(&str, &str)],
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let mut req = match body {
            Some(b) => {
                req.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap()
            }
            None => req.body(Body::empty()).unwrap(),
        };
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from((peer, 40_000))));
        self.send(req).await
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Reply { status, body }
    }

    /// Submits a document for printing as the token's user, with its description.
    pub async fn submit(&self, token: &str, description: Value, document: Vec<u8>) -> Reply {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/jobs")
            .header("authorization", format!("Bearer {token}"))
            .header(ream_wire::JOB_HEADER, description.to_string())
            .header("content-type", "application/pdf")
            .body(Body::from(document))
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 40_000))));
        self.send(req).await
    }

    /// The demo's printing set-up (a price list at 5 cents a mono page, 20 colour; the
    /// queues `Direct`, `Secure`, `Projects`) over a printer that is never there, for
    /// tests that need no printing to happen; plus the `queues` given.
    pub async fn with_queues(&self, queues: &[ream_wire::Queue]) {
        let printer = [("Nowhere".to_string(), "ipp://127.0.0.1:9/ipp/print".to_string())];
        ream_server::demo::seed_printing(&self.state, &printer).await.unwrap();
        for q in queues {
            ream_server::admin::create_queue(&self.state, q).await.unwrap();
        }
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        self.call_from([10, 0, 0, 1], method, path, token, body).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn login(&self, credentials: Value, remember: Option<&str>) -> Reply {
        self.post("/api/v1/auth/login", None, json!({"credentials": credentials, "remember": remember})).await
    }

    /// Logs in by password and returns the access token.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let r =
            self.login(json!({"method": "password", "username": username, "password": password}), None).await;
        r.ok()["access_token"].as_str().unwrap().to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.token("admin", "admin-demo").await
    }

    /// Enrols a new workstation with a fresh key, through the API.
    pub async fn enrol(&self) -> Workstation {
        let admin = self.admin_token().await;
        let code =
            self.post("/api/v1/admin/workstations/enrolment-codes", Some(&admin), json!({})).await.ok();
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let r = self
            .post(
                "/api/v1/workstations/enrol",
                None,
                json!({"code": code["code"], "name": "test-ws", "public_key": STANDARD.encode(key.verifying_key().to_bytes())}),
            )
            .await
            .ok();
        Workstation { id: r["workstation_id"].as_str().unwrap().to_string(), key }
    }
}

pub struct Workstation {
    pub id: String,
    pub key: SigningKey,
}

impl Workstation {
    /// A proof signed now (by the app's clock), with a fresh nonce.
    pub fn proof(&self, app: &TestApp, purpose: ProofPurpose, subject: &str) -> Value {
        use ream_server::clock::Clock;
        self.proof_at(purpose, subject, app.clock.now_ms())
    }

    pub fn proof_at(&self, purpose: ProofPurpose, subject: &str, issued_at_ms: i64) -> Value {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let bytes = WorkstationProof::signed_bytes(&self.id, purpose, subject, issued_at_ms, &nonce);
        let signature = STANDARD.encode(self.key.sign(&bytes).to_bytes());
        serde_json::to_value(WorkstationProof {
            workstation_id: self.id.clone(),
            purpose,
            subject: subject.to_string(),
            issued_at_ms,
            nonce,
            signature,
        })
        .unwrap()
    }
}

/// A workstation's journal, as a client writes it: numbered, chained, signed.
pub struct Journal {
    pub ws: Workstation,
    pub entries: Vec<JournalEntry>,
}

impl Journal {
    pub fn new(ws: Workstation) -> Journal {
        Journal { ws, entries: Vec::new() }
    }

    pub fn sign(&self, entry: &mut JournalEntry) {
        entry.signature = STANDARD.encode(self.ws.key.sign(&entry.signed_bytes(&self.ws.id)).to_bytes());
    }

    pub fn add(&mut self, record: JournalRecord) -> JournalEntry {
        let prev = self
            .entries
            .last()
            .map(|e| ream_server::printing::entry_hash(&self.ws.id, e))
            .unwrap_or_default();
        let mut entry = JournalEntry {
            id: uuid::Uuid::new_v4().to_string(),
            seq: self.entries.len() as i64 + 1,
            prev,
            at_ms: 1_000,
            record,
            signature: String::new(),
        };
        self.sign(&mut entry);
        self.entries.push(entry.clone());
        entry
    }

    pub async fn send(&self, app: &TestApp, entries: &[JournalEntry]) -> Vec<String> {
        let body = json!({"entries": entries});
        let receipt =
            app.post(&format!("/api/v1/workstations/{}/journal", self.ws.id), None, body).await.ok();
        receipt["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap().to_string())
            .collect()
    }
}
