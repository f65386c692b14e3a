//! The desktop app `ream-desktop` end to end: the real built app, driven over WebDriver
//! under Xvfb like a user drives it (clicks, typing, keys on the elements `ui/README.md`
//! names), against a real `ream-server`, with the real OS keyring, real `ippeveprinter`
//! printers behind real CUPS queues, and the real session bus with a notification server.
//! `invoke` only checks state; every action under test goes through the window. Each test
//! leaves screenshots in `target/screenshots/<test>[-<screen>].png`.

use std::time::Duration;

use ream_system_tests::desktop::{keys, testid, Desktop, Home, Launched, Notifications};
use ream_system_tests::pdf;
use ream_system_tests::printer::{lp, CupsQueue, Printer};
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
    assert!(said.contains("already running") && said.contains("window is open"), "{said}");
    assert_eq!(app.invoke("status", json!({})).expect("status")["user"]["username"], "alice");

    let shot = app.screenshot();
    assert!(std::fs::metadata(&shot).unwrap().len() > 0);
}

/// Whether the app's local printer takes connections.
fn printer_listens(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[test]
fn a_closed_window_keeps_no_webview_and_starting_the_app_again_opens_it() {
    let (_site, server) = site();
    let home = Home::new(&server.url);
    let port = home.ipp_port;
    let display = ream_system_tests::x11::Display::open();
    let within = Duration::from_secs(60);

    // Started by the session's autostart: the client runs, with no window and no webview.
    let mut app = Launched::start(home, &["--hidden"]);
    let pid = app.pid();
    let windows = || display.windows_of(pid, "Ream");
    let agent = app.home().path().join("cache/ream/session.sock");
    app.wait_until("serving the local printer and the user's other front ends", within, |_| {
        printer_listens(port) && agent.exists()
    });
    assert!(windows().is_empty(), "a window at a hidden start");
    assert!(app.web_processes().is_empty(), "a web process at a hidden start: {:?}", app.web_processes());

    // Started again from the launcher: the running app opens its window, the launch leaves.
    for round in ["first", "second"] {
        let second = app.again().output().expect("start ream-desktop again");
        let said = String::from_utf8_lossy(&second.stderr);
        assert!(second.status.success() && said.contains("window is open"), "{round}: {said}");
        app.wait_until("a window with its webview", within, |app| {
            !windows().is_empty() && !app.web_processes().is_empty()
        });

        // Its close button: the window and its web process go; the client stays, in the tray.
        display.close(windows()[0]);
        app.wait_until("the window and its web process gone", within, |app| {
            windows().is_empty() && app.web_processes().is_empty()
        });
        assert!(app.running(), "{round}: the app ended with its window\n{}", app.log());
        app.wait_until("the window's process gone", within, |app| app.window_process().is_none());
        assert!(printer_listens(port), "{round}: the local printer stopped with the window");
    }
}

/// One call to the app's tray item on the session bus (`gdbus`, Debian libglib2.0-bin),
/// as a desktop's panel makes it; what it answered, in GVariant's text form.
fn tray_call(item: &str, path: &str, method: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("gdbus")
        .args(["call", "--session", "--dest", item, "--object-path", path, "--method", method, "--"])
        .args(args)
        .output()
        .expect("gdbus (Debian libglib2.0-bin)");
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The tray item's title (who is logged in, or that nobody is).
fn tray_title(item: &str) -> Option<String> {
    tray_call(
        item,
        "/StatusNotifierItem",
        "org.freedesktop.DBus.Properties.Get",
        &["org.kde.StatusNotifierItem", "Title"],
    )
}

/// The id of the tray menu's entry labelled `label`, from the menu's layout
/// (`(uint32 N, (0, {...}, [<(ID, {'label': <'LABEL'>}, @av [])>, ...]))`).
fn tray_menu_entry(item: &str, label: &str) -> Option<i32> {
    let layout = tray_call(item, "/MenuBar", "com.canonical.dbusmenu.GetLayout", &["0", "-1", "[]"])?;
    let at = layout.find(&format!("'label': <'{label}'>"))?;
    let open = layout[..at].rfind("<(")?;
    layout[open + 2..at].split(',').next()?.trim().parse().ok()
}

/// The tray as a desktop's panel uses it, over the session bus: its title says who is
/// logged in and follows a login made elsewhere; a click on the icon opens the window
/// (its own process); Quit in its menu ends the app, window and all, and a start right
/// after it becomes the client once the old one has let go.
#[test]
fn the_tray_says_who_is_logged_in_opens_the_window_and_quits() {
    let (_site, server) = site();
    let home = Home::new(&server.url);
    let display = ream_system_tests::x11::Display::open();
    let within = Duration::from_secs(60);
    let mut app = Launched::start(home, &["--hidden"]);
    let pid = app.pid();
    let item = format!("org.kde.StatusNotifierItem-{pid}-1");
    let agent = app.home().path().join("cache/ream/session.sock");
    app.wait_until("the tray item on the session bus, nobody logged in; the login lent", within, |_| {
        tray_title(&item).is_some_and(|t| t.contains("Not logged in")) && agent.exists()
    });
    assert_eq!(app.window_process(), None, "a window process at a hidden start");

    // A login in the terminal is the app's: the tray says who.
    let login = app.home().ream(&["login", "--method", "pin"], "1234\n");
    assert!(login.ok && login.stderr.contains("now uses this login"), "{}", login.stderr);
    app.wait_until("the tray naming who is logged in", within, |_| {
        tray_title(&item).is_some_and(|t| t.contains("Alice Martin"))
    });

    // A click on the icon opens the window, in a process of its own.
    assert!(
        tray_call(&item, "/StatusNotifierItem", "org.kde.StatusNotifierItem.Activate", &["0", "0"]).is_some()
    );
    app.wait_until("a window", within, |app| {
        !display.windows_of(pid, "Ream").is_empty() && !app.web_processes().is_empty()
    });
    let window = app.window_process().expect("the window's own process");
    assert_ne!(window, pid);

    // Quit, from the menu: the app ends, its window with it.
    let quit = tray_menu_entry(&item, "Quit").expect("a Quit entry in the tray menu");
    let clicked = tray_call(
        &item,
        "/MenuBar",
        "com.canonical.dbusmenu.Event",
        &[&quit.to_string(), "clicked", "<0>", "0"],
    );
    assert!(clicked.is_some(), "the menu refused the click");
    // Started again at once, as a user who quit by mistake does: the new start waits for
    // the old one to let go, and becomes the client.
    let mut again = Reaped(app.again().arg("--hidden").spawn().expect("start ream-desktop again"));
    app.wait_until("the app ended", within, |app| !app.running());
    app.wait_until("its window ended", within, |_| {
        std::fs::read_to_string(format!("/proc/{window}/stat")).map_or(true, |s| s.contains(") Z "))
    });
    let item = format!("org.kde.StatusNotifierItem-{}-1", again.0.id());
    app.wait_until("the new start's tray item", within, |_| tray_title(&item).is_some());
    assert!(again.0.try_wait().unwrap().is_none(), "the new start ended");
}

/// A process of the test's, killed when the test ends whichever way.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

// ----- driving the window as a user -----

/// How long a change may take to show in the window (a push from the server, a re-render).
const SHOWS_WITHIN: Duration = Duration::from_secs(10);

/// The dashboard shows `full_name` as the signed-in user.
#[track_caller]
fn dashboard_shows(app: &Desktop, full_name: &str) {
    app.wait_for_element("#screen-dashboard");
    app.wait_for_text(&testid("user-name"), SHOWS_WITHIN, |t| t == full_name);
}

/// Picks a login method's tab on the sign-in screen.
#[track_caller]
fn choose_method(app: &Desktop, method: &str) {
    app.wait_for_element("#screen-login");
    app.click(&testid(&format!("method-{method}")));
    app.wait_for(&format!("the {method} tab selected"), SHOWS_WITHIN, |app| {
        (app.attribute(&testid(&format!("method-{method}")), "aria-selected").as_deref() == Some("true"))
            .then_some(())
    });
}

/// Logs out with the navigation's button; the sign-in screen comes back.
#[track_caller]
fn log_out(app: &Desktop) {
    app.click(&testid("nav-logout"));
    app.wait_for_element("#screen-login");
    app.wait_for_element(&testid("nav-login"));
}

/// Signs alice in with her PIN, typed and confirmed with Enter.
#[track_caller]
fn sign_in_with_pin(app: &Desktop, pin: &str) {
    choose_method(app, "pin");
    app.send_keys(&testid("login-pin"), pin);
    app.send_keys(&testid("login-pin"), keys::ENTER);
}

/// A loopback site with the usual people and the printer `printer` behind `queues`, served.
fn site_with_printer(printer: &Printer, queues: &[&[&str]]) -> (Site, ServerProcess) {
    let site = Site::with_printer("", &printer.name, &printer.uri(), queues);
    let server = site.serve();
    (site, server)
}

/// The app's local printer behind a CUPS queue, as `ream cups install` makes it.
fn cups_queue(app: &Desktop) -> CupsQueue {
    let cups = CupsQueue(format!("Ream-desktop-{}", app.ipp_port()));
    let installed =
        app.ream(&["cups", "install", "--port", &app.ipp_port().to_string(), "--name", &cups.0], "");
    assert!(installed.ok, "{}", installed.stderr);
    cups
}

/// The engine is connected to its server (the window has something to show).
fn wait_online(app: &Desktop) {
    app.wait_for("an online status", Duration::from_secs(20), |app| {
        let status = app.invoke("status", json!({})).expect("status");
        (status["connection"]["state"] == "online").then_some(())
    });
}

#[test]
fn every_login_method_the_server_offers_signs_in_through_the_window() {
    let site = Site::new(
        &format!("127.0.0.1:{}", ream_system_tests::free_port()),
        "[login]\nmethods = [\"user_list\", \"pin\", \"card\", \"card_pin\", \"password\", \"sso\"]\n",
    );
    site.seed_people();
    let server = site.serve();
    let name = "every_login_method_the_server_offers_signs_in_through_the_window";
    let tabs = |app: &Desktop| -> Vec<String> {
        let script = "return Array.from(document.querySelectorAll('[role=tab]'), t => t.dataset.testid);";
        let found = app.execute(script, json!([]));
        found.as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect()
    };

    // Not enrolled: the user list and SSO cannot work here, so they are not offered.
    let app = Desktop::start(name, &server.url);
    app.wait_for_element(&testid("method-pin"));
    assert_eq!(tabs(&app), ["method-pin", "method-card", "method-card_pin", "method-password"]);
    app.screenshot_as("not-enrolled");

    // Enrolled by the headless client, as the same user (same settings file and keyring),
    // while the app is not running.
    let home = app.stop();
    let enrolled =
        home.ream(&["enroll", "--name", "desk-ui", "--json"], &format!("{}\n", site.enrolment_code()));
    let workstation = enrolled.json()["workstation_id"].as_str().unwrap().to_string();
    let app = Desktop::start_in(name, home);

    // Enrolled, and the server offers SSO: the OS user is signed in at start, untouched.
    dashboard_shows(&app, "The OS User");
    let os_user = ream_client::workstation::os_username().unwrap();
    assert_eq!(app.text(&testid("user-username")), os_user);
    assert_eq!(app.invoke("about", json!({})).unwrap()["workstation_id"], workstation.as_str());
    log_out(&app);
    assert_eq!(app.invoke("status", json!({})).unwrap()["user"], Value::Null);
    let all = ["user_list", "pin", "card", "card_pin", "password", "sso"].map(|m| format!("method-{m}"));
    assert_eq!(tabs(&app), all);

    // A wrong PIN: the error shows, the user stays on the sign-in screen, nobody is in.
    sign_in_with_pin(&app, "9999");
    let error = app.wait_for_text("#login-error", SHOWS_WITHIN, |t| !t.is_empty());
    assert_eq!(error, "These details were not recognised. Check them and try again.");
    assert!(app.find("#screen-login").is_some() && app.find("#screen-dashboard").is_none());
    assert_eq!(app.property(&testid("login-pin"), "value"), "", "the wrong PIN is not kept");
    assert_eq!(app.invoke("status", json!({})).unwrap()["user"], Value::Null);
    app.screenshot_as("wrong-pin");

    // PIN (typed, then Enter).
    sign_in_with_pin(&app, "1234");
    dashboard_shows(&app, "Alice Martin");
    assert_eq!(app.text(&testid("user-username")), "alice");
    log_out(&app);

    // Card (the reader types the number; case does not matter), card and PIN, username
    // and password: fill the method's fields, submit.
    let forms: [(&str, &[(&str, &str)]); 3] = [
        ("card", &[("login-card", "04a1b2c3")]),
        ("card_pin", &[("login-card", "04A1B2C3"), ("login-pin", "1234")]),
        ("password", &[("login-username", "alice"), ("login-password", "alice-demo")]),
    ];
    for (method, fields) in forms {
        choose_method(&app, method);
        for (field, value) in fields {
            app.send_keys(&testid(field), value);
        }
        app.click(&testid("login-submit"));
        dashboard_shows(&app, "Alice Martin");
        log_out(&app);
    }

    // The user list: search, pick, submit.
    choose_method(&app, "user_list");
    app.wait_for_element(&testid("login-user-alice"));
    app.send_keys(&testid("login-search"), "bob");
    app.wait_for("the search to leave only bob", SHOWS_WITHIN, |app| {
        (app.find(&testid("login-user-bob")).is_some() && app.find(&testid("login-user-alice")).is_none())
            .then_some(())
    });
    app.click(&testid("login-user-bob"));
    assert_eq!(app.property(&testid("login-user-bob"), "checked"), true);
    app.screenshot_as("user-list");
    app.click(&testid("login-submit"));
    dashboard_shows(&app, "Bob Durand");
    log_out(&app);

    // Single sign-on, asked for: "sign in as" the OS user.
    choose_method(&app, "sso");
    let button = app.text(&testid("login-submit"));
    assert!(button.contains(&os_user), "the button names the OS user: {button:?}");
    app.click(&testid("login-submit"));
    dashboard_shows(&app, "The OS User");
    let status = app.invoke("status", json!({})).unwrap();
    assert_eq!(
        (status["user"]["username"].as_str(), status["method"].as_str()),
        (Some(&*os_user), Some("sso"))
    );
    app.screenshot_as("dashboard");
}

#[test]
fn a_remembered_login_survives_an_app_restart() {
    let (_site, server) = site();
    let name = "a_remembered_login_survives_an_app_restart";
    let app = Desktop::start(name, &server.url);

    choose_method(&app, "password");
    app.send_keys(&testid("login-username"), "alice");
    app.send_keys(&testid("login-password"), "alice-demo");
    // The durations are the server's; the user picks one.
    app.click(&format!("{} option[value=\"8h\"]", testid("login-remember")));
    assert_eq!(app.property(&testid("login-remember"), "value"), "8h");
    app.click(&testid("login-submit"));
    dashboard_shows(&app, "Alice Martin");
    assert_eq!(app.invoke("status", json!({})).unwrap()["remember"], "8h");

    // The app goes away without logging out, and is started again.
    let home = app.stop();
    let app = Desktop::start_in(name, home);
    dashboard_shows(&app, "Alice Martin");
    let status = app.invoke("status", json!({})).unwrap();
    assert_eq!(
        (status["user"]["username"].as_str(), status["remember"].as_str()),
        (Some("alice"), Some("8h"))
    );
    app.wait_for_text(&testid("credit"), SHOWS_WITHIN, |t| t.contains("20.00"));
    app.screenshot_as("restored");

    // Logging out forgets it: the next start asks for a login.
    log_out(&app);
    let app = Desktop::start_in(name, app.stop());
    wait_online(&app);
    app.wait_for_element(&testid("method-pin"));
    assert!(app.find("#screen-dashboard").is_none());
    assert_eq!(app.invoke("status", json!({})).unwrap()["user"], Value::Null);
}

#[test]
fn a_credit_top_up_shows_on_the_dashboard_without_a_reload() {
    let (site, server) = site();
    let app = Desktop::start("a_credit_top_up_shows_on_the_dashboard_without_a_reload", &server.url);
    sign_in_with_pin(&app, "1234");
    dashboard_shows(&app, "Alice Martin");
    let before = app.wait_for_text(&testid("credit"), SHOWS_WITHIN, |t| t.contains("20.00"));
    // Marks this page: a reload would lose the mark.
    app.execute("window.__reamNoReload = true;", json!([]));

    site.admin(&["credit", "top-up", "alice", "5"], "");
    let after = app.wait_for_text(&testid("credit"), Duration::from_secs(5), |t| t.contains("25.00"));
    assert_eq!(after, before.replace("20.00", "25.00"));
    assert_eq!(
        app.execute("return window.__reamNoReload === true;", json!([])),
        true,
        "the page was reloaded"
    );
    assert!(app.find("#screen-dashboard").is_some());
    app.screenshot_as("topped-up");
}

/// The app and `ream` in a terminal of the same user share one login: the terminal uses
/// the app's (even one that is not remembered), its logout and login are the app's, and
/// neither spends the other's refresh token.
#[test]
fn the_terminal_uses_the_apps_login_both_ways() {
    let (_site, server) = site();
    let app = Desktop::start("the_terminal_uses_the_apps_login_both_ways", &server.url);
    sign_in_with_pin(&app, "1234");
    dashboard_shows(&app, "Alice Martin");

    let status = app.ream(&["status", "--json"], "");
    assert!(status.ok, "{}", status.stderr);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["user"]["username"], "alice", "{status}");
    assert_eq!(status["account"]["credit_cents"], 2000, "{status}");
    let jobs = app.ream(&["jobs", "--json"], "");
    assert!(jobs.ok, "{}", jobs.stderr);

    // A logout in the terminal signs the window out…
    assert!(app.ream(&["logout"], "").ok);
    app.wait_for_element("#screen-login");
    assert_eq!(app.invoke("status", json!({})).unwrap()["user"], Value::Null);
    // …and a login there signs it in, as bob.
    let login = app.ream(&["login", "--method", "pin"], "5678\n");
    assert!(login.ok, "{}", login.stderr);
    dashboard_shows(&app, "Bob Durand");
    app.screenshot_as("signed-in-from-the-terminal");
}

/// A password-protected PDF printed to the app is refused there, and My jobs shows it with
/// its reason.
#[test]
fn a_refused_document_shows_in_my_jobs_with_its_reason() {
    let printer = Printer::start("Refuses");
    let (_site, server) = site_with_printer(&printer, &[&["Direct"]]);
    let app = Desktop::start("a_refused_document_shows_in_my_jobs_with_its_reason", &server.url);
    sign_in_with_pin(&app, "1234");
    dashboard_shows(&app, "Alice Martin");
    let cups = cups_queue(&app);
    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("Payslip.pdf");
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/ream-print/tests/data/qpdf-encrypted-object-streams.pdf"
    );
    std::fs::copy(data, &document).unwrap();
    lp(&cups.0, &[], &document);

    let refused = app.wait_for("the refused job listed", Duration::from_secs(30), |app| {
        let jobs = app.invoke("jobs", json!({})).expect("jobs");
        jobs.as_array().unwrap().iter().find(|j| j["name"] == "Payslip.pdf").cloned()
    });
    assert_eq!(refused["state"], "rejected", "{refused}");
    let id = refused["id"].as_str().unwrap().to_string();
    app.click(&testid("nav-jobs"));
    app.wait_for("the refused job shown", SHOWS_WITHIN, |app| {
        (app.attribute(&testid(&format!("job-{id}")), "data-state").as_deref() == Some("rejected"))
            .then_some(())
    });
    let row = app.text(&testid(&format!("job-{id}")));
    assert!(row.contains("password-protected"), "the reason is shown: {row}");
    app.screenshot_as("refused");
    assert!(printer.documents().is_empty());
}

#[test]
fn a_pdf_printed_to_the_app_asks_for_the_cost_centre_and_project_and_prints() {
    let printer = Printer::start("Studio");
    let queue: &[&str] = &["Billed", "--accounting", "cost_centre", "--project-accounting", "--confirm-cost"];
    let (site, server) = site_with_printer(&printer, &[queue]);
    site.open_accounts("alice", &["Events", "Marketing"], &["Website", "Brochure 2026"]);
    let notifications = Notifications::watch();
    let app = Desktop::start(
        "a_pdf_printed_to_the_app_asks_for_the_cost_centre_and_project_and_prints",
        &server.url,
    );
    sign_in_with_pin(&app, "1234");
    dashboard_shows(&app, "Alice Martin");

    let cups = cups_queue(&app);
    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join(format!("flyer-{}.pdf", app.ipp_port()));
    let bytes = pdf::pages(2);
    std::fs::write(&document, &bytes).unwrap();
    lp(&cups.0, &["print-color-mode=monochrome"], &document);

    // The job dialog comes up by itself.
    app.wait_for_element("#screen-job-dialog");
    let waiting = app.wait_for("the job waiting for the user", SHOWS_WITHIN, |app| {
        let jobs = app.invoke("jobs", json!({})).expect("jobs");
        jobs.as_array().and_then(|j| j.first()).filter(|j| j["state"] == "waiting_for_user").cloned()
    });
    let id = waiting["id"].as_str().unwrap();
    assert_eq!(app.text(&testid("dialog-pages")), "2");
    app.screenshot_as("job-dialog");
    let dialog = app.invoke("job_dialog", json!({ "id": id })).expect("job_dialog");
    let marketing = dialog["payment_options"]
        .as_array()
        .unwrap()
        .iter()
        .position(|o| o["kind"] == "cost_centre" && o["name"] == "Marketing")
        .expect("Marketing among the payment options");
    assert!(printer.documents().is_empty(), "nothing prints before the user decides");

    app.click(&testid(&format!("payment-option-{marketing}")));
    app.click(&testid("project-option-Website"));
    app.click(&testid("dialog-print"));
    app.wait_for("the dialog to close", SHOWS_WITHIN, |app| {
        app.find("#screen-job-dialog").is_none().then_some(())
    });

    // The document reached the printer untouched, paid by the cost centre, for the project.
    let printed = app.wait_for("the document at the printer", Duration::from_secs(30), |_| {
        let docs = printer.documents();
        (!docs.is_empty()).then_some(docs)
    });
    assert_eq!(printed.len(), 1, "{printed:?}");
    assert_eq!(std::fs::read(&printed[0]).unwrap(), bytes, "the printer got other bytes than were printed");
    let job = app.wait_for("the job printed", Duration::from_secs(30), |app| {
        let jobs = app.invoke("jobs", json!({})).expect("jobs");
        jobs.as_array().unwrap().iter().find(|j| j["id"] == id && j["state"] == "printed").cloned()
    });
    assert_eq!(job["payment"], json!({ "kind": "cost_centre", "name": "Marketing" }), "{job}");
    assert_eq!(job["project"], "Website", "{job}");
    assert_eq!(
        app.invoke("refresh_account", json!({})).unwrap()["credit_cents"],
        2_000,
        "alice paid nothing"
    );

    // The desktop told the user, on the session bus.
    let pid = app.app_pid();
    let name = job["name"].as_str().unwrap().to_string();
    notifications.expect(SHOWS_WITHIN, "that the job printed", |n| {
        n.sender_pid == pid && n.summary == "Printed" && n.body.contains(&name)
    });
    app.click(&testid("nav-jobs"));
    app.wait_for(&format!("job {id} shown printed"), SHOWS_WITHIN, |app| {
        (app.attribute(&testid(&format!("job-{id}")), "data-state").as_deref() == Some("printed"))
            .then_some(())
    });
    app.screenshot_as("jobs");
}

#[test]
fn notifications_tell_the_user_of_low_credit_and_of_the_server_going_away() {
    let (site, mut server) = site();
    let notifications = Notifications::watch();
    let app =
        Desktop::start("notifications_tell_the_user_of_low_credit_and_of_the_server_going_away", &server.url);
    sign_in_with_pin(&app, "1234");
    dashboard_shows(&app, "Alice Martin");
    app.wait_for_text(&testid("credit"), SHOWS_WITHIN, |t| t.contains("20.00"));
    let pid = app.app_pid();
    assert!(pid.is_some(), "the app's process");
    let from_app = |n: &ream_system_tests::desktop::Notification| n.sender_pid == pid;

    // Credit falls below the threshold (1.00): one warning.
    site.admin(&["credit", "adjust", "alice", "-19.50"], "");
    app.wait_for_text(&testid("credit"), SHOWS_WITHIN, |t| t.contains("0.50"));
    let low =
        notifications.expect(SHOWS_WITHIN, "of low credit", |n| from_app(n) && n.summary == "Low credit");
    assert!(low.body.contains("0.50") && low.body.contains("1.00"), "{low:?}");

    // The server goes away: the user is told, and the window says it is offline.
    server.stop();
    notifications.expect(Duration::from_secs(20), "that the server is unreachable", |n| {
        from_app(n) && n.summary == "Server unreachable"
    });
    app.wait_for_element("#offline-banner");
    assert_eq!(app.attribute(&testid("connection-state"), "data-state").as_deref(), Some("offline"));
    app.screenshot_as("offline");

    // Back: told again, online again.
    server.resume();
    notifications.expect(Duration::from_secs(20), "that the server is back", |n| {
        from_app(n) && n.summary == "Server back"
    });
    app.wait_for("the connection shown online", SHOWS_WITHIN, |app| {
        (app.attribute(&testid("connection-state"), "data-state").as_deref() == Some("online")).then_some(())
    });
    assert!(app.find("#offline-banner").is_none());
}

/// The server goes away: the window offers the fallback printer with its state, the job
/// goes there byte-identical once the user chooses it, the banner counts what waits to
/// be reported, and once the server is back the job is charged once, marked offline.
#[test]
fn with_the_server_down_the_window_offers_a_fallback_printer_and_reports_the_job_later() {
    let (office, fallback) = (Printer::start("Office"), Printer::start("Fallback"));
    let (site, mut server) = site_with_printer(&office, &[&["Direct"]]);
    site.admin(&["price-list", "add", "fallback", "--mono", "0.10", "--colour", "0.40"], "");
    site.admin(&["printer", "add", "Fallback", "--uri", &fallback.uri(), "--price-list", "fallback"], "");
    let offline =
        ["queue", "offline", "Direct", "--policy", "print_if_unrestricted", "--fallback", "Fallback"];
    site.admin(&[&offline[..], &["--after", "1"][..]].concat(), "");
    site.admin(&["user", "offline-line", "alice", "--amount", "5"], "");
    let name = "with_the_server_down_the_window_offers_a_fallback_printer_and_reports_the_job_later";
    // The journal is signed with the workstation's key: enrolled before the app starts.
    let home = ream_system_tests::desktop::Home::new(&server.url);
    let enrolled =
        home.ream(&["enroll", "--name", "desk-offline", "--json"], &format!("{}\n", site.enrolment_code()));
    assert!(enrolled.ok, "{}", enrolled.stderr);
    let notifications = Notifications::watch();
    let app = Desktop::start_in(name, home);
    // Enrolled, the workstation signs its OS user in by SSO: alice takes over.
    dashboard_shows(&app, "The OS User");
    log_out(&app);
    sign_in_with_pin(&app, "1234");
    dashboard_shows(&app, "Alice Martin");
    let cache = app.home().join("cache/ream");
    app.wait_for("the offline terms kept", SHOWS_WITHIN, |_| {
        std::fs::read_dir(&cache)
            .ok()?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("offline-"))
            .then_some(())
    });
    let cups = cups_queue(&app);

    server.stop();
    app.wait_for_element("#offline-banner");
    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("minutes.pdf");
    let bytes = pdf::pages(3);
    std::fs::write(&document, &bytes).unwrap();
    lp(&cups.0, &["print-color-mode=monochrome"], &document);

    app.wait_for_element("#screen-fallback");
    app.wait_for_text("#fallback-printers", SHOWS_WITHIN, |t| t.contains("Fallback") && t.contains("Ready"));
    app.assert_accessible("fallback");
    let pid = app.app_pid();
    notifications.expect(SHOWS_WITHIN, "that the job may print elsewhere", |n| {
        n.sender_pid == pid && n.summary.starts_with("Server unreachable") && n.body.contains("minutes.pdf")
    });
    app.click(&testid("fallback-printer-Fallback"));
    app.click(&testid("fallback-print"));
    app.wait_for("the dialog to close", SHOWS_WITHIN, |app| {
        app.find("#screen-fallback").is_none().then_some(())
    });
    let printed = app.wait_for("the document at the fallback printer", Duration::from_secs(30), |_| {
        let docs = fallback.documents();
        (!docs.is_empty()).then_some(docs)
    });
    assert_eq!(std::fs::read(&printed[0]).unwrap(), bytes, "byte-identical from the encrypted spool");
    assert!(office.documents().is_empty());
    app.wait_for_text(&testid("offline-pending"), SHOWS_WITHIN, |t| {
        t.contains("1 job printed offline waits")
    });
    app.screenshot_as("offline-pending");
    notifications.expect(SHOWS_WITHIN, "that the job printed without the server", |n| {
        n.sender_pid == pid && n.summary == "Printed without the server" && n.body.contains("Fallback")
    });

    server.resume();
    app.wait_for("nothing left to report", Duration::from_secs(60), |app| {
        app.find(&testid("offline-pending")).is_none().then_some(())
    });
    let job = app.wait_for("the job on the server's record", Duration::from_secs(30), |app| {
        let jobs = app.invoke("jobs", json!({})).expect("jobs");
        jobs.as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == "minutes.pdf" && !j["id"].as_str().unwrap_or("").starts_with("offline-"))
            .cloned()
    });
    assert_eq!(
        (&job["state"], &job["offline"], &job["price_cents"]),
        (&json!("printed"), &json!(true), &json!(30)),
        "{job}"
    );
    assert_eq!(app.invoke("refresh_account", json!({})).unwrap()["credit_cents"], 2_000 - 30);
    app.click(&testid("nav-jobs"));
    let id = job["id"].as_str().unwrap().to_string();
    app.wait_for_text(&testid(&format!("offline-{id}")), SHOWS_WITHIN, |t| t == "Printed offline");
    app.screenshot_as("jobs-offline");
    assert_eq!(fallback.documents().len(), 1, "printed once");
}

#[test]
fn every_screen_passes_axe_core_in_the_real_webview() {
    let printer = Printer::start("Hall");
    let queue: &[&str] = &["Billed", "--accounting", "cost_centre", "--project-accounting", "--confirm-cost"];
    let (site, server) = site_with_printer(&printer, &[queue]);
    site.open_accounts("alice", &["Events", "Marketing"], &["Website", "Brochure 2026"]);
    // A job waiting for alice's choices, sent by another of her clients.
    let token = server.access_token(json!({ "method": "pin", "pin": "1234" }));
    let submitted: Value = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/jobs", server.url))
        .bearer_auth(&token)
        .header("x-ream-job", json!({ "name": "report.pdf", "color_mode": "monochrome" }).to_string())
        .body(pdf::pages(3))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(submitted["state"], "waiting_for_user", "{submitted}");
    let id = submitted["id"].as_str().unwrap();

    let app = Desktop::start("every_screen_passes_axe_core_in_the_real_webview", &server.url);
    app.wait_for_element(&testid("method-pin"));
    app.assert_accessible("login");
    sign_in_with_pin(&app, "0000");
    app.wait_for_text("#login-error", SHOWS_WITHIN, |t| !t.is_empty());
    app.assert_accessible("login-error");

    sign_in_with_pin(&app, "1234");
    dashboard_shows(&app, "Alice Martin");
    app.wait_for_element(&testid(&format!("recent-job-{id}")));
    app.wait_for_text(&testid("credit"), SHOWS_WITHIN, |t| t.contains("20.00"));
    app.assert_accessible("dashboard");

    app.click(&testid("nav-jobs"));
    app.wait_for_element("#screen-jobs");
    app.wait_for_element(&testid(&format!("job-{id}")));
    app.assert_accessible("jobs");

    // The dialog, opened from My jobs, with its choices made.
    app.click(&testid(&format!("answer-{id}")));
    app.wait_for_element("#screen-job-dialog");
    app.click(&testid("payment-option-0"));
    app.click(&testid("project-option-Website"));
    app.assert_accessible("job-dialog");
    app.press(keys::ESCAPE);
    app.wait_for("the dialog to hide", SHOWS_WITHIN, |app| {
        app.find("#screen-job-dialog").is_none().then_some(())
    });

    app.click(&testid("nav-settings"));
    app.wait_for_element("#screen-settings");
    app.assert_accessible("settings");

    app.click(&testid("nav-about"));
    app.wait_for_element("#screen-about");
    app.wait_for_text(&testid("about-server"), SHOWS_WITHIN, |t| t == server.url);
    app.assert_accessible("about");
}
