//! The real `ream-server` binary on loopback ports: serving over HTTP and HTTPS, the
//! demo site, the push channel, and the admin command line reaching connected clients.

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ream_system_tests::server::{ServerProcess, Site};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Db {
    Sqlite,
    Postgres,
}

/// Instantiates an async test fn `name(db: Db)` once per database backend.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name(super::Db::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name(super::Db::Postgres).await }
        }
    )*};
}

async fn site_for(db: Db) -> Site {
    let extra = match db {
        Db::Sqlite => String::new(),
        Db::Postgres => format!("database_url = \"{}\"\n", ream_system_tests::postgres_database().await),
    };
    Site::new("127.0.0.1:0", &extra)
}

async fn login(http: &reqwest::Client, url: &str, credentials: Value) -> Value {
    let r = http
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({"credentials": credentials}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "login {credentials}: {}", r.status());
    r.json().await.unwrap()
}

async fn me(http: &reqwest::Client, url: &str, tokens: &Value) -> Value {
    let token = tokens["access_token"].as_str().unwrap();
    let r = http.get(format!("{url}/api/v1/me")).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success());
    r.json().await.unwrap()
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn push_channel(url: &str, token: &str) -> Socket {
    let mut req =
        format!("{}/api/v1/me/events", url.replacen("http", "ws", 1)).into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req).await.expect("websocket").0
}

/// The next push event, which must come within `within`.
async fn next_event(ws: &mut Socket, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, ws.next()).await.expect("no push event in time");
        match msg.expect("socket closed").expect("socket error") {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            _ => continue,
        }
    }
}

/// Waits for an account event satisfying `check`, within a second of now.
async fn account_event_within_a_second(ws: &mut Socket, check: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let left = Duration::from_secs(1).saturating_sub(start.elapsed());
        let event = next_event(ws, left).await;
        assert_eq!(event["type"], "account", "{event}");
        if check(&event["account"]) {
            return event["account"].clone();
        }
    }
}

async fn changes_reach_a_connected_client_within_a_second(db: Db) {
    let site = site_for(db).await;
    site.admin(&["user", "add", "root", "--name", "Root", "--admin", "--password-stdin"], "root-secret\n");
    site.admin(
        &["user", "add", "alice", "--name", "Alice Martin", "--pin", "1234", "--password-stdin"],
        "alice-demo\n",
    );
    let server = site.serve();
    let url = &server.url;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let http = reqwest::Client::new();

    let alice = login(&http, url, json!({"method": "pin", "pin": "1234"})).await;
    let mut ws = push_channel(url, alice["access_token"].as_str().unwrap()).await;
    let first = next_event(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(
        (first["type"].as_str(), first["account"]["credit_cents"].as_i64()),
        (Some("account"), Some(0))
    );

    // A top-up through the REST API.
    let root =
        login(&http, url, json!({"method": "password", "username": "root", "password": "root-secret"})).await;
    let r = http
        .post(format!("{url}/api/v1/admin/users/alice/credit/top-up"))
        .bearer_auth(root["access_token"].as_str().unwrap())
        .json(&json!({"amount_cents": 500, "comment": "desk"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    account_event_within_a_second(&mut ws, |a| a["credit_cents"] == 500).await;

    // A top-up by the command line, another process writing to the database.
    site.admin(&["credit", "top-up", "alice", "2.50", "--comment", "cli"], "");
    account_event_within_a_second(&mut ws, |a| a["credit_cents"] == 750).await;
    site.admin(&["cost-centre", "add", "Marketing"], "");
    site.admin(&["cost-centre", "member-add", "Marketing", "--user", "alice"], "");
    let account =
        account_event_within_a_second(&mut ws, |a| a["cost_centres"][0]["name"] == "Marketing").await;
    assert_eq!(account["credit_cents"], 750);
    assert_eq!(me(&http, url, &alice).await["credit_cents"], 750);

    // Logging out ends the channel, with a word first.
    let r = http
        .post(format!("{url}/api/v1/auth/logout"))
        .bearer_auth(alice["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let start = Instant::now();
    loop {
        let event = next_event(&mut ws, Duration::from_secs(2)).await;
        if event["type"] == "session_ended" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(2));
    }
    // A push channel without a valid token is refused.
    let mut req =
        format!("{}/api/v1/me/events", url.replacen("http", "ws", 1)).into_client_request().unwrap();
    req.headers_mut().insert("authorization", "Bearer ra_nope".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_err());
}

async fn the_demo_site_has_the_documented_accounts(db: Db) {
    // `demo` runs on SQLite; on the PostgreSQL leg, `serve` the same data from there.
    if db == Db::Postgres {
        return check_demo_on_postgres().await;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let args = [
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--printer",
        "Office=ipp://127.0.0.1:9/ipp/print",
    ];
    let server = ServerProcess::start(&args);
    let printed = server.output.join("\n");
    for needle in [
        "Created demo data",
        "alice",
        "alice-demo",
        "1234",
        "04A1B2C3",
        "bob-demo",
        "5678",
        "04D4E5F6",
        "admin-demo",
    ] {
        assert!(printed.contains(needle), "demo output lacks {needle:?}: {printed}");
    }
    let code_line = server.output.iter().find(|l| l.starts_with("Workstation enrolment code")).unwrap();
    assert!(code_line.rsplit(' ').next().unwrap().len() == 19, "{code_line}");
    check_demo_accounts(&server.url).await;

    // Started again on the same directory, it keeps its data and does not seed twice.
    let http = reqwest::Client::new();
    let admin = login(
        &http,
        &server.url,
        json!({"method": "password", "username": "admin", "password": "admin-demo"}),
    )
    .await;
    http.post(format!("{}/api/v1/admin/users/bob/credit/top-up", server.url))
        .bearer_auth(admin["access_token"].as_str().unwrap())
        .json(&json!({"amount_cents": 100}))
        .send()
        .await
        .unwrap();
    // The demo's queues print to the printer it was given.
    let queues: Value = http
        .get(format!("{}/api/v1/admin/queues", server.url))
        .bearer_auth(admin["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> =
        queues["queues"].as_array().unwrap().iter().map(|q| q["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Direct", "Projects", "Secure"]);
    assert!(queues["queues"].as_array().unwrap().iter().all(|q| q["printers"] == json!(["Office"])));
    drop(server);
    let again = ServerProcess::start(&args);
    assert!(again.output.iter().any(|l| l.starts_with("Using demo data")), "{:?}", again.output);
    let bob = login(&http, &again.url, json!({"method": "card", "card": "04D4E5F6"})).await;
    assert_eq!(me(&http, &again.url, &bob).await["credit_cents"], 150);
}

async fn check_demo_on_postgres() {
    // Seed the demo data into a PostgreSQL database through the library, then serve it
    // with the binary: the same store code runs on both.
    let url = ream_system_tests::postgres_database().await;
    let site = Site::new("127.0.0.1:0", &format!("database_url = \"{url}\"\n"));
    let config = ream_server::config::Config::load(&site.config).unwrap();
    let state = ream_server::server::open_system_state(config).await.unwrap();
    ream_server::demo::seed(&state).await.unwrap();
    state.store.close().await;
    let server = site.serve();
    check_demo_accounts(&server.url).await;
}

async fn check_demo_accounts(url: &str) {
    let http = reqwest::Client::new();
    let alice = login(&http, url, json!({"method": "pin", "pin": "1234"})).await;
    let a = me(&http, url, &alice).await;
    assert_eq!((a["username"].as_str(), a["full_name"].as_str()), (Some("alice"), Some("Alice Martin")));
    assert_eq!(a["credit_cents"], 2_000);
    assert_eq!(
        (a["quotas"][0]["limit"].as_i64(), a["quotas"][0]["period"].as_str()),
        (Some(500), Some("month"))
    );
    assert_eq!(a["cost_centres"][0]["name"], "Marketing");
    let projects: Vec<&str> =
        a["projects"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(projects, ["Brochure 2026", "Website"]);
    login(&http, url, json!({"method": "card", "card": "04A1B2C3"})).await;
    login(&http, url, json!({"method": "password", "username": "alice", "password": "alice-demo"})).await;
    let bob = login(&http, url, json!({"method": "card_pin", "card": "04D4E5F6", "pin": "5678"})).await;
    let b = me(&http, url, &bob).await;
    assert_eq!((b["full_name"].as_str(), b["credit_cents"].as_i64()), (Some("Bob Durand"), Some(50)));
    assert_eq!(b["quotas"], json!([]));
    let admin =
        login(&http, url, json!({"method": "password", "username": "admin", "password": "admin-demo"})).await;
    assert_eq!(me(&http, url, &admin).await["is_admin"], true);
}

on_both_databases!(
    changes_reach_a_connected_client_within_a_second,
    the_demo_site_has_the_documented_accounts
);

/// SHA-256 fingerprint of the certificate a TLS server presents.
async fn presented_fingerprint(url: &str) -> String {
    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).tls_info(true).build().unwrap();
    let r = http.get(format!("{url}/api/v1/auth/policy")).send().await.unwrap();
    assert!(r.status().is_success());
    let info = r.extensions().get::<reqwest::tls::TlsInfo>().expect("TLS info");
    ream_server::tls::fingerprint(info.peer_certificate().expect("a certificate"))
}

#[tokio::test]
async fn a_server_beyond_loopback_generates_a_certificate_once() {
    let site = Site::new("0.0.0.0:0", "");
    let server = site.serve();
    assert!(server.output.iter().any(|l| l == "Generated a self-signed certificate."), "{:?}", server.output);
    let printed =
        server.printed("Certificate SHA-256 fingerprint: ").expect("fingerprint printed").to_string();
    assert_eq!(printed.len(), 32 * 3 - 1);
    let url = server.url.clone();
    assert!(url.starts_with("https://"), "{url}");
    assert_eq!(presented_fingerprint(&url).await, printed);
    // Plain HTTP is not served there.
    assert!(reqwest::get(url.replace("https", "http") + "/api/v1/auth/policy")
        .await
        .map(|r| !r.status().is_success())
        .unwrap_or(true));
    drop(server);

    // The next start reuses it: clients that pinned it keep trusting the server.
    let again = site.serve();
    assert!(!again.output.iter().any(|l| l.starts_with("Generated")), "{:?}", again.output);
    assert!(again.output.iter().any(|l| l.ends_with(&printed)));
    assert_eq!(presented_fingerprint(&again.url).await, printed);
}

#[test]
fn a_bad_configuration_is_refused_with_the_reason() {
    let site = Site::new("127.0.0.1:0", "[login]\npin_min_length = 2\n");
    let bin = ream_system_tests::bin("ream-server");
    let out = Command::new(&bin).args(["serve", "--config", site.config.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pin_min_length"));
    let out = Command::new(&bin).args(["serve", "--config", "/nonexistent/ream.toml"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config"));
}
