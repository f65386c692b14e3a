//! The headless client `ream` against the real `ream-server`, with the real OS keyring:
//! connecting and trust, enrolment, every login method, remember-me across process
//! restarts, live account changes, and the server going away and coming back.

use std::time::Duration;

use ream_system_tests::client::{credit_of, files_under, keyring_has, Client, Watch};
use ream_system_tests::server::{ServerProcess, Site};
use ream_system_tests::sleep;
use serde_json::{json, Value};

fn user_of(status: &Value) -> Option<&str> {
    status["user"]["username"].as_str()
}

/// A loopback site with the usual people, served.
fn site(extra: &str) -> (Site, ServerProcess) {
    let site = Site::new(&format!("127.0.0.1:{}", ream_system_tests::free_port()), extra);
    site.seed_people();
    let server = site.serve();
    (site, server)
}

fn connect(client: &Client, server: &ServerProcess) {
    let r = client.run(&["connect", "--server", &server.url, "--json"], "");
    assert_eq!(r.json()["server"], server.url);
}

#[test]
fn every_login_method_identifies_its_user() {
    let (site, server) =
        site("[login]\nmethods = [\"user_list\", \"pin\", \"card\", \"card_pin\", \"password\", \"sso\"]\n");
    let client = Client::new();
    connect(&client, &server);
    let login = |args: &[&str], stdin: &str| {
        let mut all = vec!["login", "--json"];
        all.extend_from_slice(args);
        client.run(&all, stdin)
    };
    assert_eq!(user_of(&login(&["--method", "pin"], "1234\n").json()), Some("alice"));
    assert_eq!(user_of(&login(&["--method", "card"], "04a1b2c3\n").json()), Some("alice"));
    assert_eq!(user_of(&login(&["--method", "card_pin"], "04A1B2C3\n1234\n").json()), Some("alice"));
    assert_eq!(
        user_of(&login(&["--method", "password", "--username", "alice"], "alice-demo\n").json()),
        Some("alice")
    );
    // Without a method, the terminal asks for one.
    assert_eq!(user_of(&login(&[], "password\nalice\nalice-demo\n").json()), Some("alice"));
    assert_eq!(login(&["--method", "pin"], "9999\n").error_code(), "AUTH_INVALID");
    assert_eq!(
        login(&["--method", "password", "--username", "alice"], "nope-nope\n").error_code(),
        "AUTH_INVALID"
    );

    // User list and single sign-on need an enrolled workstation.
    assert_eq!(login(&["--method", "sso"], "").error_code(), "NOT_ENROLLED");
    assert_eq!(login(&["--method", "user_list", "--username", "bob"], "").error_code(), "NOT_ENROLLED");
    assert_eq!(client.run(&["users"], "").error_code(), "NOT_ENROLLED");

    let r = client
        .run(&["enroll", "--name", "desk-12", "--json"], &format!("{}\n", site.enrolment_code()))
        .json();
    let id = r["workstation_id"].as_str().unwrap().to_string();
    // The key went to the keyring, not to the settings file.
    let settings = std::fs::read_to_string(client.settings_file()).unwrap();
    assert!(settings.contains(&id) && !settings.to_lowercase().contains("key"), "{settings}");
    assert!(keyring_has(&format!("workstation-key {}", server.url)));

    let users = client.run(&["users", "--json"], "").json();
    let names: Vec<&str> =
        users["users"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert!(names.contains(&"alice") && names.contains(&"bob"), "{names:?}");
    assert_eq!(user_of(&login(&["--method", "user_list", "--username", "bob"], "").json()), Some("bob"));
    // Picked from the list by number.
    let picked = login(
        &["--method", "user_list"],
        &format!("{}\n", names.iter().position(|n| *n == "bob").unwrap() + 1),
    );
    assert_eq!(user_of(&picked.json()), Some("bob"));
    let os_user = ream_client::workstation::os_username().unwrap();
    assert_eq!(user_of(&login(&["--method", "sso"], "").json()), Some(os_user.as_str()));

    // SSO happens by itself at start when the server offers it.
    let status = client.status();
    assert_eq!((user_of(&status), status["method"].as_str()), (Some(os_user.as_str()), Some("sso")));

    // Revoked by the administrator: SSO is refused from then on.
    site.admin(&["workstation", "revoke", &id], "");
    assert_eq!(login(&["--method", "sso"], "").error_code(), "WORKSTATION_REVOKED");
    assert_eq!(user_of(&client.status()), None);
}

/// What the client keeps in its cache folder, but for its empty lock files (the session
/// lock that refreshes are made under holds nothing).
fn kept_data(client: &Client) -> Vec<std::path::PathBuf> {
    let lock = |f: &std::path::PathBuf| {
        f.extension().is_some_and(|e| e == "lock") && std::fs::metadata(f).is_ok_and(|m| m.len() == 0)
    };
    files_under(&client.cache_dir()).into_iter().filter(|f| !lock(f)).collect()
}

#[test]
fn remembered_logins_survive_restarts_until_their_period_ends() {
    let remember = r#"[[login.remember]]
id = "4s"
label = "4 seconds"
seconds = 4

[[login.remember]]
id = "always"
label = "Always"
"#;
    let (_site, server) = site(remember);
    let client = Client::new();
    connect(&client, &server);
    let entry = format!("session {}", server.url);
    let policy = client.run(&["policy", "--json"], "").json();
    assert_eq!(policy["remember_options"].as_array().unwrap().len(), 2);

    // Not remembered: nothing stays behind, the next run is logged out.
    client.run(&["login", "--method", "pin", "--json"], "1234\n").json();
    assert!(!keyring_has(&entry));
    assert_eq!(kept_data(&client), Vec::<std::path::PathBuf>::new());
    assert_eq!(user_of(&client.status()), None);

    // Remembered for 4 s: restored by each new process, then logged out and deleted.
    let login = client.run(&["login", "--method", "pin", "--remember", "4s", "--json"], "1234\n").json();
    assert_eq!(login["remember"], "4s");
    assert!(keyring_has(&entry));
    let restored = client.status();
    assert_eq!((user_of(&restored), restored["remember"].as_str()), (Some("alice"), Some("4s")));
    assert_eq!(restored["account"]["credit_cents"], 2_000);
    assert_eq!(user_of(&client.status()), Some("alice"));
    sleep(4_500);
    let after = client.run(&["status", "--json"], "");
    assert_eq!(user_of(&after.json()), None);
    assert!(!keyring_has(&entry), "an ended login leaves no keyring entry");
    assert!(kept_data(&client).is_empty());

    // Always: survives restarts; logout removes everything, on the server too.
    client.run(&["login", "--method", "card", "--remember", "always", "--json"], "04A1B2C3\n").json();
    for _ in 0..3 {
        let s = client.status();
        assert_eq!((user_of(&s), s["session_ends_at_ms"].clone()), (Some("alice"), Value::Null));
    }
    let stored: Value = {
        use ream_client::secrets::SecretStore;
        serde_json::from_str(&ream_client::secrets::Keyring.get(&entry).unwrap().unwrap()).unwrap()
    };
    assert!(!kept_data(&client).is_empty(), "a remembered login caches its account");
    let r = client.run(&["logout"], "");
    assert!(r.ok, "{}", r.stderr);
    assert!(!keyring_has(&entry));
    assert!(kept_data(&client).is_empty());
    assert_eq!(user_of(&client.status()), None);
    let refused = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/auth/refresh", server.url))
        .json(&json!({"refresh_token": stored["refresh_token"]}))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 401, "the server ended the session too");

    // Remember-me disabled at install: not offered, refused, nothing persisted.
    std::fs::write(client.settings_file(), format!("server = \"{}\"\nremember_me = false\n", server.url))
        .unwrap();
    let policy = client.run(&["policy", "--json"], "").json();
    assert_eq!(policy["remember_options"], json!([]));
    let r = client.run(&["login", "--method", "pin", "--remember", "always"], "1234\n");
    assert_eq!(r.error_code(), "CONFIG");
    assert!(!keyring_has(&entry));
}

#[test]
fn watch_follows_the_account_live_and_survives_the_server_going_away() {
    let (site, mut server) = site("");
    let client = Client::new();
    connect(&client, &server);
    client.run(&["login", "--method", "pin", "--remember", "always", "--json"], "1234\n").json();
    let watch = Watch::start(&client, &["watch", "--json"]);
    let first = watch.expect(Duration::from_secs(10), "the account", |v| credit_of(v) == Some(2_000));
    assert_eq!(first["status"]["connection"]["state"], "online");

    // A top-up by an administrator shows within a second.
    site.admin(&["credit", "top-up", "alice", "5"], "");
    let started = std::time::Instant::now();
    watch.expect(Duration::from_secs(1), "the top-up", |v| credit_of(v) == Some(2_500));
    eprintln!("top-up seen after {:?}", started.elapsed());

    // The server dies: offline, the last known account kept and marked stale.
    server.stop();
    watch.expect(Duration::from_secs(10), "server_unreachable", |v| v["type"] == "server_unreachable");
    let offline = watch.expect(Duration::from_secs(5), "an offline status", |v| {
        v["status"]["connection"]["state"] == "offline" && v["status"]["account_stale"] == true
    });
    assert_eq!(credit_of(&offline), Some(2_500));
    let status = client.status();
    assert_eq!(
        (status["connection"]["state"].as_str(), status["account_stale"].as_bool()),
        (Some("offline"), Some(true))
    );
    assert_eq!((user_of(&status), status["account"]["credit_cents"].as_i64()), (Some("alice"), Some(2_500)));

    // Changed while it was away; when it is back the client reconnects and refreshes.
    site.admin(&["credit", "adjust", "alice", "-1.25"], "");
    server.resume();
    watch.expect(Duration::from_secs(10), "server_back", |v| v["type"] == "server_back");
    let back = watch.expect(Duration::from_secs(5), "the refreshed account", |v| credit_of(v) == Some(2_375));
    assert_eq!(back["status"]["account_stale"], false);
    assert_eq!(client.status()["connection"]["state"], "online");
}

#[test]
fn a_server_certificate_other_than_the_pinned_one_is_refused() {
    // Beyond loopback the server makes itself a certificate no authority vouches for.
    let site = Site::new(&format!("0.0.0.0:{}", ream_system_tests::free_port()), "");
    site.seed_people();
    let mut server = site.serve();
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let printed = server.printed("Certificate SHA-256 fingerprint: ").unwrap().to_string();
    let client = Client::new();

    // Declined: nothing is saved.
    let r = client.run(&["connect", "--server", &server.url], "n\n");
    assert_eq!(r.error_code(), "DECLINED");
    assert!(r.stderr.contains(&printed), "the fingerprint is shown: {}", r.stderr);
    assert!(!client.settings_file().exists());

    let r = client.run(&["connect", "--server", &server.url, "--json"], "y\n").json();
    assert_eq!(r["pinned_fingerprint"], printed);
    client.run(&["login", "--method", "pin", "--remember", "always", "--json"], "1234\n").json();
    assert_eq!(client.status()["account"]["credit_cents"], 2_000);
    let watch = Watch::start(&client, &["watch", "--json"]);
    watch.expect(Duration::from_secs(10), "the account over TLS", |v| credit_of(v) == Some(2_000));
    drop(watch);

    // Another certificate at the same address: refused, with both fingerprints named.
    server.stop();
    std::fs::remove_dir_all(site.data().join("tls")).unwrap();
    server.resume();
    let r = client.run(&["status"], "");
    assert_eq!(r.error_code(), "CERTIFICATE_CHANGED");
    assert!(r.stderr.contains(&printed), "{}", r.stderr);
    let r = client.run(&["login", "--method", "pin"], "1234\n");
    assert_eq!(r.error_code(), "CERTIFICATE_CHANGED");
}

#[test]
fn a_certificate_from_a_trusted_ca_file_needs_no_confirmation() {
    // A private CA and a server certificate it signed, as an organisation would deploy.
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.to_str().unwrap().to_string()
    };
    let ca_file = write("ca.pem", ca.pem());
    let cert = write("cert.pem", server_cert.pem());
    let key = write("key.pem", server_key.serialize_pem());
    let site = Site::new(
        &format!("127.0.0.1:{}", ream_system_tests::free_port()),
        &format!("[tls]\ncert = \"{cert}\"\nkey = \"{key}\"\n"),
    );
    site.seed_people();
    let server = site.serve();
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);

    // The system's roots do not know this CA: the user would be asked (and says no).
    let client = Client::new();
    assert_eq!(client.run(&["connect", "--server", &server.url], "n\n").error_code(), "DECLINED");
    // With the CA file: trusted without a question, nothing pinned.
    let r = client.run(&["connect", "--server", &server.url, "--ca-file", &ca_file, "--json"], "").json();
    assert_eq!(r["pinned_fingerprint"], Value::Null);
    assert_eq!(user_of(&client.run(&["login", "--method", "pin", "--json"], "1234\n").json()), Some("alice"));
}

#[test]
fn one_client_runs_per_user() {
    let (_site, server) = site("");
    let client = Client::new();
    connect(&client, &server);
    let port = ream_system_tests::free_port().to_string();
    let run = Watch::start(&client, &["run", "--port", &port, "--json"]);
    run.expect(Duration::from_secs(10), "the status", |v| v["type"] == "status");
    // A second one (another port, so only the claim can stop it) leaves at once.
    let other = ream_system_tests::free_port().to_string();
    let second = client.run(&["run", "--port", &other, "--json"], "");
    assert!(!second.ok, "a second client ran");
    assert!(second.stderr.contains("already running"), "{}", second.stderr);
    // Once the first is gone, the next one starts.
    drop(run);
    let again = Watch::start(&client, &["run", "--port", &other, "--json"]);
    again.expect(Duration::from_secs(10), "the status", |v| v["type"] == "status");
}

/// Mistakes a newcomer makes are named before anything is asked: a remember-me duration
/// the server does not offer, an `https://` address of a plain-HTTP server. And a new
/// site offers no login without a secret.
#[test]
fn a_wrong_remember_me_or_https_to_a_plain_server_is_said_plainly() {
    let (_site, server) = site("");
    let client = Client::new();
    connect(&client, &server);
    let offered = client.run(&["policy", "--json"], "").json();
    let ids: Vec<&str> =
        offered["remember_options"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&"3h"), "{ids:?}");
    let wrong = client.run(&["login", "--method", "pin", "--remember", "3h"], "1234\n");
    assert_eq!(wrong.error_code(), "CONFIG");
    assert!(wrong.stderr.contains("3h is not a remember-me duration"), "{}", wrong.stderr);
    assert!(
        ids.iter().all(|id| wrong.stderr.contains(id)),
        "the durations offered are named: {}",
        wrong.stderr
    );
    assert!(!wrong.stderr.contains("PIN"), "no secret is asked for: {}", wrong.stderr);
    assert_eq!(user_of(&client.status()), None);

    // The user list, which logs in without a secret, is off unless the site turns it on.
    let methods: Vec<&str> =
        offered["policy"]["methods"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert_eq!(methods, ["pin", "card", "card_pin", "password", "sso"]);

    let https = server.url.replace("http://", "https://");
    let plain = Client::new().run(&["connect", "--server", &https, "--yes"], "");
    assert_eq!(plain.error_code(), "CONFIG");
    assert!(plain.stderr.contains("does not speak HTTPS"), "{}", plain.stderr);
    assert!(plain.stderr.contains(&server.url), "the http:// address is suggested: {}", plain.stderr);
}
