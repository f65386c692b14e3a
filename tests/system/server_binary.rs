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
        &["user", "add", "alice", "--name", "Alice Martin", "--password-stdin", "--pin-stdin"],
        "alice-demo\n1234\n",
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
    // Instances of a cluster cannot share a SQLite file in their own data directories.
    let site = Site::new("127.0.0.1:0", "[cluster]\ninstance_id = \"a\"\n");
    let out = Command::new(&bin).args(["serve", "--config", site.config.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PostgreSQL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The listening socket has room for a burst of connections (what `ss` shows as the
/// backlog of a listening socket), not the standard library's 128.
#[test]
fn the_server_listens_with_room_for_a_burst_of_connections() {
    let site = Site::new("127.0.0.1:0", "");
    let server = site.serve();
    let port = server.url.rsplit(':').next().unwrap().trim_end_matches('/').to_string();
    let out =
        Command::new("ss").args(["-ltnH", &format!("sport = :{port}")]).output().expect("ss (iproute2)");
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let backlog: u32 =
        line.split_whitespace().nth(2).and_then(|b| b.parse().ok()).unwrap_or_else(|| panic!("ss: {line:?}"));
    let cap: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap().trim().parse().unwrap();
    assert!(backlog >= 1024.min(cap) && backlog > 128, "backlog {backlog} (somaxconn {cap})");
}

/// The push channel takes nothing large from a client (which sends only pings): a
/// megabyte ends it, instead of being read into the server's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_channel_ends_on_a_message_larger_than_any_client_sends() {
    use futures_util::SinkExt;
    let site = Site::new("127.0.0.1:0", "");
    site.seed_people();
    let server = site.serve();
    let http = reqwest::Client::new();
    let tokens = login(&http, &server.url, json!({ "method": "pin", "pin": "1234" })).await;
    let mut ws = push_channel(&server.url, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(next_event(&mut ws, Duration::from_secs(10)).await["type"], "account");
    // A small message is taken (and ignored): the channel stays.
    ws.send(Message::Text("hello".into())).await.unwrap();
    // The server may cut the channel while the message is still going out: the send
    // fails then, and the channel has ended as it should.
    match ws.send(Message::Text("x".repeat(1 << 20).into())).await {
        Ok(()) => {}
        Err(tokio_tungstenite::tungstenite::Error::Io(e))
            if matches!(e.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe) =>
        {
            return;
        }
        Err(e) => panic!("sending the large message: {e}"),
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await.expect("the channel stayed open") {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
            Some(Ok(_)) => continue,
        }
    }
}

/// Two instances of a cluster over one PostgreSQL database, each with its own data
/// directory: one given the shared keys in files, the other in its environment. Neither
/// makes a key of its own, and a PIN set through one logs in through the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_instances_share_their_keys_and_never_make_one() {
    use base64::Engine as _;
    use std::os::unix::fs::OpenOptionsExt;
    let database = ream_system_tests::postgres_database().await;
    let keys = tempfile::tempdir().unwrap();
    let (server_key, spool_key) =
        ("5a".repeat(32), base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
    for (file, key) in [("server.key", &server_key), ("spool.key", &spool_key)] {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(keys.path().join(file))
            .unwrap();
        std::io::Write::write_all(&mut f, key.as_bytes()).unwrap();
    }
    let a = Site::new(
        "127.0.0.1:0",
        &format!(
            "database_url = \"{database}\"\nsecret_key_file = \"{}\"\n[cluster]\ninstance_id = \"a\"\nspool_key_file = \"{}\"\n",
            keys.path().join("server.key").display(),
            keys.path().join("spool.key").display()
        ),
    );
    let b =
        Site::new("127.0.0.1:0", &format!("database_url = \"{database}\"\n[cluster]\ninstance_id = \"b\"\n"));

    // Given no keys, an instance does not start, and makes none.
    let config_b = b.config.to_str().unwrap().to_string();
    let out = Command::new(ream_system_tests::bin("ream-server"))
        .args(["serve", "--config", &config_b])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("share one server key"), "{said}");
    assert!(!b.data().join("server.key").exists() && !b.data().join("spool.key").exists());

    a.seed_people();
    let server_a = a.serve();
    let server_b = ServerProcess::start_with_env(
        &["serve", "--config", &config_b],
        &[("REAM_SERVER_KEY", &server_key), ("REAM_SPOOL_KEY", &spool_key)],
    );
    assert!(!b.data().join("server.key").exists() && !b.data().join("spool.key").exists());

    // Each tells a load balancer it can serve, and which it is.
    let http = reqwest::Client::new();
    for (server, id) in [(&server_a, "a"), (&server_b, "b")] {
        let r = http.get(format!("{}/api/v1/health", server.url)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({ "status": "ok", "instance": id }));
    }

    // alice's PIN was set through A (its admin command line); B finds her by it.
    let tokens = login(&http, &server_b.url, json!({ "method": "pin", "pin": "1234" })).await;
    assert_eq!(me(&http, &server_b.url, &tokens).await["username"], "alice");
    assert_eq!(me(&http, &server_a.url, &tokens).await["username"], "alice", "and A takes B's session");
}

// The admin command line, as an administrator uses it: every command answers with JSON
// of what it did, in amounts and ISO 8601 times; what it is given is checked; nothing
// is created by mistake; every command says what it is; what is still used is not
// deleted; and a lockout can be lifted.

/// No field of what an admin command printed is in wire units (cents, milliseconds).
#[track_caller]
fn assert_for_people(value: &Value) {
    match value {
        Value::Object(fields) => {
            for (key, v) in fields {
                assert!(!key.ends_with("_cents") && !key.ends_with("_ms"), "{key} in {value}");
                assert_for_people(v);
            }
        }
        Value::Array(items) => items.iter().for_each(assert_for_people),
        _ => {}
    }
}

/// `actual` has every field `expected` names, with the same value; arrays have the same
/// length and match item by item; other values are equal.
#[track_caller]
fn assert_has(actual: &Value, expected: &Value) {
    fn matches(actual: &Value, expected: &Value) -> bool {
        match (actual, expected) {
            (Value::Object(a), Value::Object(e)) => {
                e.iter().all(|(k, v)| a.get(k).is_some_and(|x| matches(x, v)))
            }
            (Value::Array(a), Value::Array(e)) => {
                a.len() == e.len() && a.iter().zip(e).all(|(x, v)| matches(x, v))
            }
            _ => actual == expected,
        }
    }
    assert!(matches(actual, expected), "expected {expected}\n     in {actual}");
}

/// `ream-server admin ARGS` succeeds and prints JSON for people that has `expected`.
#[track_caller]
fn check(site: &Site, args: &[&str], stdin: &str, expected: Value) -> Value {
    let out = site.admin_json(args, stdin);
    assert_for_people(&out);
    assert_has(&out, &expected);
    out
}

/// `ream-server admin ARGS` fails; its standard error.
#[track_caller]
fn refused(site: &Site, args: &[&str]) -> String {
    let out = site.admin_run(args, "");
    assert!(!out.ok, "admin {args:?} should fail: {}", out.stdout);
    assert!(out.stdout.trim().is_empty(), "nothing on standard output: {}", out.stdout);
    out.stderr
}

/// An ISO 8601 time in UTC to the second, as `2026-12-01T12:00:00Z`.
#[track_caller]
fn assert_iso(value: &Value) -> String {
    let text = value.as_str().unwrap_or_else(|| panic!("not a time: {value}"));
    let digits = |range: std::ops::Range<usize>| text[range].bytes().all(|b| b.is_ascii_digit());
    let shape = text.len() == 20
        && [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'Z')]
            .iter()
            .all(|&(i, c)| text.as_bytes()[i] == c)
        && [0..4, 5..7, 8..10, 11..13, 14..16, 17..19].into_iter().all(digits);
    assert!(shape, "not ISO 8601 in UTC: {text}");
    text.to_string()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

async fn every_admin_command_answers_with_json_of_what_it_did(db: Db) {
    let site = site_for(db).await;
    let s = &site;
    check(s, &["group", "add", "Staff"], "", json!({"name": "Staff", "members": []}));
    check(s, &["group", "list"], "", json!([{"name": "Staff", "members": []}]));
    check(
        s,
        &["user", "add", "alice", "--name", "Alice Martin", "--group", "Staff", "--password-stdin"],
        "alice-secret\n",
        json!({"username": "alice", "full_name": "Alice Martin", "groups": ["Staff"], "has_password": true,
               "has_pin": false, "credit": "0.00", "cards": []}),
    );
    check(s, &["user", "list"], "", json!([{"username": "alice"}]));
    check(s, &["user", "show", "alice"], "", json!({"full_name": "Alice Martin"}));
    check(
        s,
        &["user", "set", "alice", "--email", "alice@example.org"],
        "",
        json!({"email": "alice@example.org"}),
    );
    check(
        s,
        &["user", "password", "alice"],
        "another-secret\n",
        json!({"username": "alice", "has_password": true}),
    );
    check(s, &["user", "pin", "alice"], "4321\n", json!({"username": "alice", "has_pin": true}));
    // Secrets go on standard input, never on the command line (where `ps` shows them).
    assert!(refused(s, &["user", "pin", "alice", "4321"]).contains("unexpected argument"));
    assert!(refused(s, &["user", "card-add", "alice", "04A1B2C3"]).contains("unexpected argument"));
    assert!(refused(s, &["user", "pin", "alice"]).contains("no PIN on standard input"));
    let generated =
        check(s, &["user", "pin", "alice", "--generate"], "", json!({"username": "alice", "has_pin": true}));
    let pin = generated["pin"].as_str().unwrap_or_else(|| panic!("the PIN drawn: {generated}"));
    assert!(pin.len() == 6 && pin.bytes().all(|b| b.is_ascii_digit()), "{pin}");
    let carded = check(s, &["user", "card-add", "alice"], "04A1B2C3\n", json!({"cards": [{"hint": "C3"}]}));
    assert_iso(&carded["cards"][0]["created_at"]);
    let card = carded["cards"][0]["id"].as_str().unwrap();
    check(s, &["user", "card-remove", "alice", card], "", json!({"username": "alice", "cards": []}));
    check(
        s,
        &["user", "unlock", "alice"],
        "",
        json!({"kind": "user", "name": "alice", "was_locked": false, "failures": 0, "locked_until": null}),
    );

    check(
        s,
        &["credit", "top-up", "alice", "5"],
        "",
        json!({"kind": "top_up", "amount": "5.00", "balance_after": "5.00"}),
    );
    let t = check(
        s,
        &["credit", "adjust", "alice", "-1.5", "--comment", "refund"],
        "",
        json!({"kind": "adjustment", "amount": "-1.50", "balance_after": "3.50", "comment": "refund"}),
    );
    assert_iso(&t["created_at"]);
    check(s, &["credit", "log", "alice", "--limit", "1"], "", json!([{"amount": "-1.50"}]));

    let pages = ["--period", "month", "--metric", "total_pages", "--limit", "100"];
    let q = check(
        s,
        &[&["quota", "add", "alice", "--name", "Pages"][..], &pages[..]].concat(),
        "",
        json!({"name": "Pages", "limit": 100, "used": 0, "reserved": 0, "remaining": 100}),
    );
    assert_iso(&q["period_start"]);
    let id = q["id"].as_str().unwrap();
    check(s, &["quota", "list", "alice"], "", json!([{"id": id, "name": "Pages"}]));
    check(s, &["quota", "set", id, "--used", "10"], "", json!({"used": 10, "remaining": 90}));
    check(s, &["quota", "delete", id], "", json!({"id": id, "name": "Pages", "used": 10}));
    check(s, &["quota", "list", "alice"], "", json!([]));

    for kind in ["cost-centre", "project"] {
        check(
            s,
            &[kind, "add", "Flyers", "--description", "Spring"],
            "",
            json!({"name": "Flyers", "description": "Spring", "members": []}),
        );
        check(s, &[kind, "list"], "", json!([{"name": "Flyers"}]));
        check(
            s,
            &[kind, "member-add", "Flyers", "--user", "alice"],
            "",
            json!({"members": [{"kind": "user", "name": "alice"}]}),
        );
        check(s, &[kind, "member-add", "Flyers", "--group", "Staff"], "", json!({"name": "Flyers"}));
        check(
            s,
            &[kind, "member-remove", "Flyers", "--user", "alice"],
            "",
            json!({"members": [{"kind": "group", "name": "Staff"}]}),
        );
        check(
            s,
            &[kind, "delete", "Flyers"],
            "",
            json!({"name": "Flyers", "members": [{"kind": "group", "name": "Staff"}]}),
        );
        check(s, &[kind, "list"], "", json!([]));
    }

    check(
        s,
        &["price-list", "add", "standard", "--mono", "0.05", "--colour", "0.2", "--duplex-discount", "0.01"],
        "",
        json!({"name": "standard", "mono_page": "0.05", "colour_page": "0.20", "duplex_page_discount": "0.01"}),
    );
    check(s, &["price-list", "list"], "", json!([{"name": "standard"}]));
    let uri = "ipp://127.0.0.1:9/ipp/print";
    check(
        s,
        &["printer", "add", "Office", "--uri", uri, "--price-list", "standard"],
        "",
        json!({"name": "Office", "uri": uri, "price_list": "standard", "fingerprint": null}),
    );
    check(s, &["printer", "list"], "", json!([{"name": "Office"}]));
    check(
        s,
        &["queue", "add", "Secure", "--printer", "Office", "--release", "pull", "--held-hours", "8"],
        "",
        json!({"name": "Secure", "printers": ["Office"], "release": "pull", "held_hours": 8}),
    );
    check(s, &["queue", "list"], "", json!([{"name": "Secure"}]));
    check(s, &["job", "list"], "", json!([]));
    check(s, &["lockout", "list"], "", json!([]));
    check(
        s,
        &["lockout", "lift", "--source", "192.0.2.1"],
        "",
        json!({"kind": "source", "name": "192.0.2.1", "was_locked": false}),
    );
    check(s, &["queue", "delete", "Secure"], "", json!({"name": "Secure", "printers": ["Office"]}));
    check(s, &["printer", "delete", "Office"], "", json!({"name": "Office", "uri": uri}));
    check(s, &["price-list", "delete", "standard"], "", json!({"name": "standard", "mono_page": "0.05"}));
    check(s, &["queue", "list"], "", json!([]));
    check(s, &["printer", "list"], "", json!([]));
    check(s, &["price-list", "list"], "", json!([]));

    // A workstation: its code, its enrolment (through the server), its revocation.
    let code = check(s, &["workstation", "code", "--valid-seconds", "600"], "", json!({}));
    let expires = assert_iso(&code["expires_at"]);
    assert!(expires > ream_server::clock::iso8601(now_ms() + 590_000), "{expires}");
    let server = site.serve();
    // The Ed25519 base point: a valid public key.
    let mut key = [0x66u8; 32];
    key[0] = 0x58;
    use base64::Engine;
    let enrolled: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/workstations/enrol", server.url))
        .json(&json!({"code": code["code"], "name": "desk-1",
                      "public_key": base64::engine::general_purpose::STANDARD.encode(key)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ws = enrolled["workstation_id"].as_str().unwrap_or_else(|| panic!("enrolled: {enrolled}"));
    let listed =
        check(s, &["workstation", "list"], "", json!([{"id": ws, "name": "desk-1", "revoked_at": null}]));
    assert_iso(&listed[0]["enrolled_at"]);
    let revoked = check(s, &["workstation", "revoke", ws], "", json!({"id": ws, "name": "desk-1"}));
    assert_iso(&revoked["revoked_at"]);

    check(s, &["group", "delete", "Staff"], "", json!({"name": "Staff", "members": ["alice"]}));
    check(s, &["user", "show", "alice"], "", json!({"groups": []}));
    check(s, &["user", "delete", "alice"], "", json!({"username": "alice", "credit": "3.50"}));
    check(s, &["user", "list"], "", json!([]));
}

#[test]
fn money_is_one_unit_everywhere_and_times_read_as_iso_8601() {
    let site = Site::new("127.0.0.1:0", "");
    let s = &site;
    s.admin(&["user", "add", "bob", "--name", "Bob Durand"], "");
    let money = ["--name", "Money", "--period", "month", "--metric", "money"];
    let q = check(
        s,
        &[&["quota", "add", "bob"][..], &money[..], &["--limit", "25.00"][..]].concat(),
        "",
        json!({"limit": "25.00", "used": "0.00", "reserved": "0.00", "remaining": "25.00"}),
    );
    let id = q["id"].as_str().unwrap();
    // `set` reads amounts as `add` does: 30 is thirty, not thirty cents.
    for (limit, shown) in [("30", "30.00"), ("30.5", "30.50"), ("30.50", "30.50"), ("7", "7.00")] {
        check(s, &["quota", "set", id, "--limit", limit], "", json!({"limit": shown}));
    }
    check(
        s,
        &["quota", "set", id, "--used", "2"],
        "",
        json!({"limit": "7.00", "used": "2.00", "remaining": "5.00"}),
    );
    assert!(refused(s, &["quota", "set", id, "--limit", "1.234"]).contains("1.234"));
    assert!(refused(s, &["quota", "set", id, "--limit", "ten"]).contains("ten"));
    check(s, &["quota", "list", "bob"], "", json!([{"limit": "7.00", "used": "2.00"}]));
    // Pages stay whole pages.
    let pages = ["--name", "Pages", "--period", "week", "--metric", "total_pages"];
    assert!(refused(s, &[&["quota", "add", "bob"][..], &pages[..], &["--limit", "30.5"][..]].concat())
        .contains("30.5"));
    let p = check(
        s,
        &[&["quota", "add", "bob"][..], &pages[..], &["--limit", "30"][..]].concat(),
        "",
        json!({"limit": 30}),
    );
    check(
        s,
        &["quota", "set", p["id"].as_str().unwrap(), "--limit", "40"],
        "",
        json!({"limit": 40, "remaining": 40}),
    );
    assert!(refused(s, &["quota", "set", p["id"].as_str().unwrap(), "--limit", "40.5"]).contains("40.5"));

    check(s, &["credit", "top-up", "bob", "30.5"], "", json!({"amount": "30.50", "balance_after": "30.50"}));
    check(s, &["credit", "adjust", "bob", "-0.5"], "", json!({"amount": "-0.50", "balance_after": "30.00"}));
    check(s, &["user", "show", "bob"], "", json!({"credit": "30.00"}));
    check(
        s,
        &["price-list", "add", "p", "--mono", "0.1", "--colour", "1"],
        "",
        json!({"mono_page": "0.10", "colour_page": "1.00", "duplex_page_discount": "0.00"}),
    );

    // Times: an enrolment code made now for a day expires a day from now, in UTC.
    let before = now_ms();
    let code = check(s, &["workstation", "code"], "", json!({}));
    let after = now_ms();
    let expires = assert_iso(&code["expires_at"]);
    let day = 86_400_000;
    let (earliest, latest) =
        (ream_server::clock::iso8601(before + day), ream_server::clock::iso8601(after + day + 1_000));
    assert!(earliest <= expires && expires <= latest, "{earliest} <= {expires} <= {latest}");
    let log = check(s, &["credit", "log", "bob"], "", json!([{"amount": "-0.50"}, {"amount": "30.50"}]));
    assert_iso(&log[0]["created_at"]);
}

#[test]
fn printer_uris_are_ipp_or_ipps_with_a_host_and_a_port_that_exists() {
    let site = Site::new("127.0.0.1:0", "");
    let s = &site;
    s.admin(&["price-list", "add", "standard", "--mono", "0.05", "--colour", "0.20"], "");
    for uri in [
        "http://x/",
        "https://printer.example/ipp/print",
        "ipp://",
        "ipps://",
        "ipp:///ipp/print",
        "ipp://:631/ipp/print",
        "ipp://printer.example:0/ipp/print",
        "ipp://printer.example:65536/ipp/print",
        "printer.example/ipp/print",
        "",
    ] {
        let err = refused(s, &["printer", "add", "P", "--uri", uri, "--price-list", "standard"]);
        assert!(err.contains("ipp://host[:port]/path"), "{uri:?}: {err}");
    }
    check(s, &["printer", "list"], "", json!([]));
    for (name, uri) in [
        ("A", "ipp://printer.example/ipp/print"),
        ("B", "ipp://192.0.2.7:631/ipp/print"),
        ("C", "ipp://[2001:db8::7]:65535/ipp/print"),
    ] {
        check(
            s,
            &["printer", "add", name, "--uri", uri, "--price-list", "standard"],
            "",
            json!({"name": name, "uri": uri}),
        );
    }
    // An IPPS printer given its fingerprint is not asked for its certificate.
    let fp = ["AB"; 32].join(":");
    check(
        s,
        &[
            "printer",
            "add",
            "D",
            "--uri",
            "ipps://printer.example/ipp/print",
            "--price-list",
            "standard",
            "--fingerprint",
            &fp,
        ],
        "",
        json!({"name": "D", "fingerprint": fp}),
    );
}

/// `ream-server ARGS` (no configuration given), however it ends.
fn server_command(args: &[&str]) -> ream_system_tests::client::Run {
    let mut command = Command::new(ream_system_tests::bin("ream-server"));
    command.args(args).env("REAM_LOG", "warn");
    ream_system_tests::client::run_to_end(&mut command, "")
}

#[test]
fn nothing_is_created_by_mistake() {
    let site = Site::new("127.0.0.1:0", "");
    let s = &site;
    s.admin(&["group", "add", "Staff"], "");
    s.admin(&["user", "add", "alice", "--name", "Alice Martin", "--group", "Staff"], "");
    // A group that does not exist is named, and neither made nor given.
    let err = refused(s, &["user", "set", "alice", "--groups", "Staff,Stafff"]);
    assert!(err.contains("Stafff") && err.contains("--create-groups"), "{err}");
    check(s, &["user", "show", "alice"], "", json!({"groups": ["Staff"]}));
    assert!(refused(s, &["user", "add", "bob", "--name", "Bob", "--group", "Sales"]).contains("Sales"));
    check(s, &["user", "list"], "", json!([{"username": "alice"}]));
    check(s, &["group", "list"], "", json!([{"name": "Staff", "members": ["alice"]}]));
    // Unless asked for.
    check(
        s,
        &["user", "set", "alice", "--groups", "Staff,Sales", "--create-groups"],
        "",
        json!({"groups": ["Sales", "Staff"]}),
    );
    check(
        s,
        &["user", "add", "bob", "--name", "Bob", "--group", "Ops", "--create-groups"],
        "",
        json!({"groups": ["Ops"]}),
    );
    check(s, &["user", "set", "bob", "--groups", ""], "", json!({"groups": []}));
    check(s, &["group", "list"], "", json!([{"name": "Ops"}, {"name": "Sales"}, {"name": "Staff"}]));

    // A data folder that does not exist is no site: refused, and not made.
    let dir = tempfile::tempdir().unwrap();
    let mistyped = dir.path().join("ream-demo-dta");
    let out = server_command(&["admin", "--data-dir", mistyped.to_str().unwrap(), "user", "list"]);
    assert!(!out.ok && out.stdout.is_empty());
    for needle in ["ream-demo-dta", "does not exist", "ream-server serve", "ream-server demo", "--create"] {
        assert!(out.stderr.contains(needle), "{needle:?} in {}", out.stderr);
    }
    assert!(!mistyped.exists());
    let config = dir.path().join("ream.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\ndata_dir = \"nowhere\"\n").unwrap();
    let out = server_command(&["admin", "--config", config.to_str().unwrap(), "user", "list"]);
    assert!(!out.ok && out.stderr.contains("does not exist"), "{}", out.stderr);
    assert!(!dir.path().join("nowhere").exists());
    // --create makes an empty site on purpose.
    let out = server_command(&["admin", "--create", "--config", config.to_str().unwrap(), "user", "list"]);
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(serde_json::from_str::<Value>(&out.stdout).unwrap(), json!([]));
    assert!(dir.path().join("nowhere").is_dir());

    // `serve` and `demo` make their sites, which admin commands then work on.
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\ndata_dir = \"served\"\n").unwrap();
    let server = ServerProcess::start(&["serve", "--config", config.to_str().unwrap()]);
    assert!(dir.path().join("served").is_dir());
    drop(server);
    let out = server_command(&["admin", "--config", config.to_str().unwrap(), "user", "list"]);
    assert!(out.ok, "{}", out.stderr);
    let demo_dir = dir.path().join("ream-demo-data");
    let demo =
        ServerProcess::start(&["demo", "--listen", "127.0.0.1:0", "--data-dir", demo_dir.to_str().unwrap()]);
    // The README's example.
    let out = server_command(&[
        "admin",
        "--data-dir",
        demo_dir.to_str().unwrap(),
        "credit",
        "top-up",
        "alice",
        "5.00",
    ]);
    assert!(out.ok, "{}", out.stderr);
    assert_has(
        &serde_json::from_str(&out.stdout).unwrap(),
        &json!({"amount": "5.00", "balance_after": "25.00"}),
    );
    drop(demo);
}

#[test]
fn every_command_and_argument_says_what_it_is() {
    // Walks `-h` of every command: each entry of its Commands, Arguments and Options
    // has a description (not only a default value).
    fn walk(path: &mut Vec<String>, missing: &mut Vec<String>, seen: &mut usize) {
        let args: Vec<&str> = path.iter().map(String::as_str).chain(["-h"]).collect();
        let out = server_command(&args);
        assert!(out.ok, "{args:?}: {}", out.stderr);
        // An entry is `NAME  description` on one line, or (clap's layout when names are
        // long) NAME alone with its description on the lines below, indented further.
        let mut section = "";
        let mut entries: Vec<(&str, String, String)> = Vec::new();
        for line in out.stdout.lines() {
            if !line.starts_with(' ') {
                section = line.trim_end_matches(':');
                continue;
            }
            let text = line.trim();
            if !["Commands", "Arguments", "Options"].contains(&section) || text.is_empty() {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let is_entry =
                text.starts_with('-') || text.starts_with('<') || (section == "Commands" && indent == 2);
            match entries.last_mut() {
                Some((_, _, about)) if !is_entry => about.push_str(text),
                _ => {
                    let (name, about) = text.split_once("  ").unwrap_or((text, ""));
                    entries.push((section, name.to_string(), about.trim().to_string()));
                }
            }
        }
        let mut subcommands = Vec::new();
        for (section, name, about) in entries {
            if about.is_empty() || about.starts_with('[') {
                missing.push(format!("{} {name}", path.join(" ")));
            }
            if section == "Commands" && name != "help" {
                subcommands.push(name);
            }
        }
        *seen += 1;
        for sub in subcommands {
            path.push(sub);
            walk(path, missing, seen);
            path.pop();
        }
    }
    let (mut missing, mut seen) = (Vec::new(), 0);
    walk(&mut Vec::new(), &mut missing, &mut seen);
    assert!(seen > 60, "only {seen} commands found");
    assert!(missing.is_empty(), "without a description: {missing:#?}");
}

async fn what_is_still_used_is_not_deleted(db: Db) {
    let site = site_for(db).await;
    let s = &site;
    site.seed_people();
    s.admin(&["price-list", "add", "standard", "--mono", "0.05", "--colour", "0.20"], "");
    s.admin(
        &["printer", "add", "Office", "--uri", "ipp://127.0.0.1:9/ipp/print", "--price-list", "standard"],
        "",
    );
    s.admin(&["queue", "add", "Secure", "--printer", "Office", "--release", "pull"], "");
    s.admin(&["queue", "add", "Unused", "--printer", "Office"], "");
    let err = refused(s, &["price-list", "delete", "standard"]);
    assert!(err.contains("printer Office"), "{err}");
    let err = refused(s, &["printer", "delete", "Office"]);
    assert!(err.contains("queue Secure, Unused"), "{err}");
    assert!(refused(s, &["queue", "delete", "Nope"]).contains("queue Nope not found"));
    // A queue no job named goes.
    check(s, &["queue", "delete", "Unused"], "", json!({"name": "Unused"}));

    // A held job may still print: its queue stays.
    let server = site.serve();
    let http = reqwest::Client::new();
    let alice = login(&http, &server.url, json!({"method": "pin", "pin": "1234"})).await;
    let token = alice["access_token"].as_str().unwrap();
    let job: Value = http
        .post(format!("{}/api/v1/jobs", server.url))
        .bearer_auth(token)
        .header(
            "x-ream-job",
            json!({"name": "a.pdf", "queue": "Secure", "color_mode": "monochrome"}).to_string(),
        )
        .body(ream_system_tests::pdf::pages(1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(job["state"], "held", "{job}");
    let err = refused(s, &["queue", "delete", "Secure"]);
    assert!(err.contains("1 job(s) that may still print"), "{err}");
    check(s, &["queue", "list"], "", json!([{"name": "Secure"}]));
    // Once it no longer may, the queue goes; the job keeps its queue's name.
    let r = http
        .delete(format!("{}/api/v1/me/jobs/{}", server.url, job["id"].as_str().unwrap()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    check(
        s,
        &["queue", "delete", "Secure"],
        "",
        json!({"name": "Secure", "release": "pull", "printers": ["Office"]}),
    );
    check(s, &["queue", "list"], "", json!([]));
    check(s, &["job", "list"], "", json!([{"id": job["id"], "queue": "Secure", "state": "deleted"}]));
    let mine: Value = http
        .get(format!("{}/api/v1/me/jobs", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["jobs"][0]["queue"], "Secure", "{mine}");
    // Its name is free again; the printer, once no queue uses it, goes, and so does
    // its price list.
    check(s, &["queue", "add", "Secure", "--printer", "Office"], "", json!({"name": "Secure"}));
    assert!(refused(s, &["printer", "delete", "Office"]).contains("queue Secure"));
    check(s, &["queue", "delete", "Secure"], "", json!({"name": "Secure"}));
    check(s, &["printer", "delete", "Office"], "", json!({"name": "Office", "price_list": "standard"}));
    check(s, &["price-list", "delete", "standard"], "", json!({"name": "standard"}));
    check(s, &["job", "list"], "", json!([{"queue": "Secure", "printer": null}]));
    assert!(refused(s, &["printer", "delete", "Office"]).contains("printer Office not found"));
    assert!(refused(s, &["price-list", "delete", "standard"]).contains("price list standard not found"));
}

on_both_databases!(every_admin_command_answers_with_json_of_what_it_did, what_is_still_used_is_not_deleted);

#[test]
fn a_lockout_says_when_it_ends_is_logged_and_can_be_lifted() {
    let site = Site::new(
        &format!("127.0.0.1:{}", ream_system_tests::free_port()),
        "[security]\nmax_failed_attempts = 2\nmax_failed_attempts_per_source = 4\n",
    );
    site.admin(
        &["user", "add", "alice", "--name", "Alice", "--password-stdin", "--pin-stdin"],
        "alice-secret\n1234\n",
    );
    let server = site.serve_logged();
    let http = reqwest::blocking::Client::new();
    let attempt = |credentials: Value| {
        let r = http
            .post(format!("{}/api/v1/auth/login", server.url))
            .json(&json!({"credentials": credentials}))
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let password = |p: &str| json!({"method": "password", "username": "alice", "password": p});

    // Two wrong passwords lock alice; the answer says until when, in words too.
    assert_eq!(attempt(password("wrong")).0, 401);
    let (status, locked) = attempt(password("wrong"));
    assert_eq!((status, locked["code"].as_str()), (429, Some("AUTH_LOCKED")), "{locked}");
    let until = ream_server::clock::iso8601(locked["retry_at_ms"].as_i64().unwrap());
    let message = locked["message"].as_str().unwrap();
    assert!(message.contains(&format!("until {until}")) && message.contains("15 more minutes"), "{message}");
    assert_eq!(attempt(password("alice-secret")).0, 429, "still locked");
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("alice") && l.contains(&until) && l.contains("locked")),
        "the lock is in the server's log: {log}"
    );
    let listed =
        check(&site, &["lockout", "list"], "", json!([{"kind": "user", "name": "alice", "failures": 2}]));
    assert_eq!(listed[0]["locked_until"], until.as_str());
    // An administrator lifts it.
    check(
        &site,
        &["user", "unlock", "alice"],
        "",
        json!({"kind": "user", "name": "alice", "was_locked": true, "failures": 2, "locked_until": until}),
    );
    assert_eq!(attempt(password("alice-secret")).0, 200);
    assert!(refused(&site, &["user", "unlock", "nobody"]).contains("not found"));

    // The address is locked after four failures of any kind (two above, two wrong PINs).
    assert_eq!(attempt(json!({"method": "pin", "pin": "9999"})).0, 401);
    let (status, locked) = attempt(json!({"method": "pin", "pin": "9998"}));
    assert_eq!(status, 429, "{locked}");
    let until = ream_server::clock::iso8601(locked["retry_at_ms"].as_i64().unwrap());
    assert!(locked["message"].as_str().unwrap().contains(&until), "{locked}");
    assert_eq!(attempt(json!({"method": "pin", "pin": "1234"})).0, 429, "everyone at that address");
    let log = server.log();
    assert!(
        log.lines().any(|l| l.contains("WARN") && l.contains("127.0.0.1") && l.contains(&until)),
        "the lock is in the server's log: {log}"
    );
    check(
        &site,
        &["lockout", "list"],
        "",
        json!([{"kind": "source", "name": "127.0.0.1", "locked_until": until}]),
    );
    check(
        &site,
        &["lockout", "lift", "--source", "127.0.0.1"],
        "",
        json!({"kind": "source", "name": "127.0.0.1", "was_locked": true, "failures": 4}),
    );
    assert_eq!(attempt(json!({"method": "pin", "pin": "1234"})).0, 200);
    check(&site, &["lockout", "list"], "", json!([]));
}

/// A line of a shell example as words, without its comment; quotes (`"…"`, `'…'`) kept
/// together. The comment comes second.
fn shell_words(line: &str) -> (Vec<String>, String) {
    let (mut words, mut word, mut quote, mut in_word) = (Vec::new(), String::new(), None, false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => (quote, in_word) = (Some(c), true),
            (None, '#') if !in_word => return (words, chars.collect::<String>().trim().to_string()),
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    (words, String::new())
}

#[test]
fn the_readme_admin_examples_do_what_they_say() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    assert!(readme.contains("A=\"target/debug/ream-server admin --data-dir ream-demo-data\""));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ream-demo-data");
    let data = data.to_str().unwrap();
    drop(ServerProcess::start(&["demo", "--listen", "127.0.0.1:0", "--data-dir", data]));
    let mut in_sh = false;
    let mut ran = 0;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        let admin_args = line
            .strip_prefix("$A ")
            .or_else(|| line.strip_prefix("target/debug/ream-server admin --data-dir ream-demo-data "));
        let Some(rest) = admin_args.filter(|_| in_sh) else { continue };
        let (words, comment) = shell_words(rest);
        let args: Vec<&str> =
            ["admin", "--data-dir", data].into_iter().chain(words.iter().map(String::as_str)).collect();
        let out = server_command(&args);
        if comment.starts_with("refused") {
            assert!(!out.ok && !out.stderr.is_empty(), "{line}\nshould be refused: {}", out.stdout);
        } else {
            assert!(out.ok, "{line}\n{}", out.stderr);
            let printed: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{line}\n{e}"));
            assert_for_people(&printed);
        }
        ran += 1;
    }
    assert!(ran >= 15, "only {ran} admin examples found in the README");
}

#[test]
fn shell_words_split_as_the_shell_does() {
    assert_eq!(
        shell_words(r#"user add dave --name "Dave Leroy" --pin 4321   # the user: {"a": 1}"#),
        (
            ["user", "add", "dave", "--name", "Dave Leroy", "--pin", "4321"].map(String::from).to_vec(),
            r#"the user: {"a": 1}"#.to_string()
        )
    );
    assert_eq!(shell_words("a 'b c'd#e").0, ["a", "b cd#e"]);
}

/// The data directory is the server's alone, the SQLite database too; a PIN or password
/// set by an administrator logs out whoever knew the old one.
#[test]
fn the_site_is_private_and_a_new_secret_ends_the_old_sessions() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new(&format!("127.0.0.1:{}", ream_system_tests::free_port()), "");
    site.seed_people();
    let server = site.serve();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&site.data()), 0o700);
    assert_eq!(mode(&site.data().join("ream.sqlite3")), 0o600);
    // SQLite writes ahead into a log of its own (made by the server's first connection):
    // as private as the database.
    assert_eq!(mode(&site.data().join("ream.sqlite3-wal")), 0o600);

    let http = reqwest::blocking::Client::new();
    let me = |token: &str| {
        http.get(format!("{}/api/v1/me", server.url)).bearer_auth(token).send().unwrap().status()
    };
    let by_pin = server.access_token(json!({"method": "pin", "pin": "1234"}));
    let by_password =
        server.access_token(json!({"method": "password", "username": "alice", "password": "alice-demo"}));
    assert_eq!(me(&by_pin), 200);
    site.admin(&["user", "pin", "alice", "--generate"], "");
    assert_eq!(me(&by_pin), 401, "the PIN changed: its sessions end");
    assert_eq!(me(&by_password), 401, "and every other session of the user");
    let again =
        server.access_token(json!({"method": "password", "username": "alice", "password": "alice-demo"}));
    site.admin(&["user", "password", "alice"], "a-new-password\n");
    assert_eq!(me(&again), 401, "a new password ends them too");
}
