//! The desktop app `ream-desktop` end to end: the real built app, driven over WebDriver
//! under Xvfb, against a real `ream-server`, with the real OS keyring. Each test leaves a
//! screenshot in `target/screenshots/<test>.png`.

use std::time::Duration;

use ream_system_tests::desktop::Desktop;
use ream_system_tests::server::{ServerProcess, Site};
use serde_json::{json, Value};

fn site() -> (Site, ServerProcess) {
    let site = Site::new(&format!("127.0.0.1:{}", ream_system_tests::free_port()), "");
    site.seed_people();
    let server = site.serve();
    (site, server)
}

#[test]
fn the_app_starts_against_a_real_server_and_answers_the_webview() {
    let (_site, server) = site();
    let app = Desktop::start("the_app_starts_against_a_real_server_and_answers_the_webview", &server.url);
    assert!(app.title().contains("Ream"), "{}", app.title());

    // The engine behind the window read the test's settings and reached the server.
    let status = app.wait_for("an online status", Duration::from_secs(20), |app| {
        let status = app.invoke("status", json!({})).expect("status");
        (status["connection"]["state"] == "online").then_some(status)
    });
    assert_eq!(status["server"], server.url);
    assert_eq!(status["user"], Value::Null);

    // Commands take the UI's arguments; errors arrive as {code, message, details}.
    let refused = app.invoke("login", json!({ "input": { "method": "pin", "pin": "9999" } })).unwrap_err();
    assert_eq!(refused["code"], "AUTH_INVALID", "{refused}");
    assert!(refused["message"].as_str().is_some_and(|m| !m.is_empty()), "{refused}");
    let user = app
        .invoke("login", json!({ "input": { "method": "pin", "pin": "1234" }, "remember": null }))
        .expect("login");
    assert_eq!(user["username"], "alice");
    let account = app.invoke("refresh_account", json!({})).expect("refresh_account");
    assert_eq!(account["credit_cents"], 2000);
    assert_eq!(app.invoke("about", json!({})).expect("about")["server"], server.url);

    // One client per user: a second start leaves at once, the first stays.
    let mut second = app
        .another_instance()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start ream-desktop again");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while second.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = second.kill();
            panic!("a second ream-desktop for the same user kept running");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut said = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut said).unwrap();
    assert!(said.contains("already running"), "{said}");
    assert_eq!(app.invoke("status", json!({})).expect("status")["user"]["username"], "alice");

    let shot = app.screenshot();
    assert!(std::fs::metadata(&shot).unwrap().len() > 0);
}

#[test]
fn the_webview_sets_a_server_once_the_user_confirms_its_certificate() {
    let (_first_site, first) = site();
    // Beyond loopback the server makes itself a certificate no authority vouches for.
    let tls_site = Site::new(&format!("0.0.0.0:{}", ream_system_tests::free_port()), "");
    tls_site.seed_people();
    let tls = tls_site.serve();
    let printed = tls.printed("Certificate SHA-256 fingerprint: ").unwrap().to_string();
    let app = Desktop::start("the_webview_sets_a_server_once_the_user_confirms_its_certificate", &first.url);
    app.wait_for("an online status", Duration::from_secs(20), |app| {
        let status = app.invoke("status", json!({})).expect("status");
        (status["connection"]["state"] == "online").then_some(())
    });

    // Unknown: refused, naming the fingerprint for the user to confirm; a wrong one too.
    let unconfirmed = app.invoke("set_server", json!({ "url": tls.url })).unwrap_err();
    assert_eq!(unconfirmed["code"], "CERTIFICATE_UNTRUSTED", "{unconfirmed}");
    assert_eq!(unconfirmed["details"]["fingerprint"], printed);
    let wrong = app.invoke("set_server", json!({ "url": tls.url, "fingerprint": "00:11:22" })).unwrap_err();
    assert_eq!(wrong["details"]["fingerprint"], printed, "{wrong}");
    assert_eq!(app.invoke("status", json!({})).unwrap()["server"], first.url);

    let settings =
        app.invoke("set_server", json!({ "url": tls.url, "fingerprint": printed })).expect("set_server");
    assert_eq!(settings["server"], tls.url);
    assert_eq!(app.invoke("about", json!({})).unwrap()["server_fingerprint"], printed);
    let user = app.invoke("login", json!({ "input": { "method": "pin", "pin": "1234" } })).expect("login");
    assert_eq!(user["username"], "alice");

    // The language is kept in the settings file; only the ones the app speaks.
    let settings = app.invoke("set_language", json!({ "language": "fr" })).expect("set_language");
    assert_eq!(settings["language"], "fr");
    let file = std::fs::read_to_string(app.home().join("config/ream/client.toml")).unwrap();
    assert!(file.contains("language = \"fr\""), "{file}");
    assert_eq!(app.invoke("set_language", json!({ "language": "de" })).unwrap_err()["code"], "CONFIG");
    app.screenshot();
}
