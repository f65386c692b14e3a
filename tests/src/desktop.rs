//! The desktop app `ream-desktop` as a user runs it, driven over WebDriver: `tauri-driver`
//! (which starts `WebKitWebDriver`, which starts the app) on a free port, one per test,
//! with the test's own home, settings (connected to a real `ream-server`) and local
//! printer port, the real OS keyring, under the X display the suite runs in (`xvfb-run`
//! in `scripts/test`). Nothing is skipped: without a display, tauri-driver or
//! WebKitWebDriver a test fails and says what is missing.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::client::{require_keyring, run_to_end, Run};
use crate::{bin, free_port};

/// A program on `PATH` (or in `~/.cargo/bin`, where `cargo install` puts tauri-driver).
fn find_program(name: &str) -> Option<PathBuf> {
    let cargo_bin = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin"));
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain(cargo_bin).map(|dir| dir.join(name)).find(|p| p.is_file())
}

#[track_caller]
fn require_program(name: &str, install: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|| {
        panic!("{name} is missing: the desktop tests need it ({install}; scripts/test installs it)")
    })
}

/// The directory screenshots go to: `target/screenshots`.
pub fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/<test> → target
    exe.ancestors().nth(3).expect("the target directory").join("screenshots")
}

/// The user's environment under `home`: the app's settings, cache and data live there.
fn user_env(cmd: &mut Command, home: &Path) {
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("REAM_CONFIG", home.join("config/ream/client.toml"))
        .env("REAM_LOG", "info");
}

/// Starts `cmd` as the user of `home` ([`user_env`]), its output into `log`, in a process
/// group of its own, so that whatever it starts goes with it.
fn spawn_as_user(mut cmd: Command, home: &Path, log: std::fs::File) -> Child {
    user_env(&mut cmd, home);
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {:?}: {e}", cmd.get_program()))
}

/// The home of one desktop user: settings pointing at a server, a free port for the
/// app's local printer, and the cache and data directories; kept across app restarts.
pub struct Home {
    dir: tempfile::TempDir,
    /// The loopback port of the app's local IPP printer (`ipp_port` in the settings).
    pub ipp_port: u16,
}

impl Home {
    pub fn new(server: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let ipp_port = free_port();
        let home = Home { dir, ipp_port };
        std::fs::create_dir_all(home.settings_file().parent().unwrap()).unwrap();
        std::fs::write(home.settings_file(), format!("server = \"{server}\"\nipp_port = {ipp_port}\n"))
            .unwrap();
        home
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn settings_file(&self) -> PathBuf {
        self.path().join("config/ream/client.toml")
    }

    /// The headless client `ream ARGS` as this user, with the app's environment (same
    /// settings file, cache and keyring), answering its prompts with `stdin`.
    pub fn ream(&self, args: &[&str], stdin: &str) -> Run {
        let mut cmd = Command::new(bin("ream"));
        user_env(&mut cmd, self.path());
        run_to_end(cmd.args(args).env("REAM_LOG", "warn"), stdin)
    }
}

/// How long the helpers wait for an element (the UI renders from async state).
pub const UI_WAIT: Duration = Duration::from_secs(15);

/// The CSS selector of `[data-testid="ID"]`.
pub fn testid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// WebDriver's key codes for `send_keys`.
pub mod keys {
    pub const ENTER: &str = "\u{E007}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const TAB: &str = "\u{E004}";
}

/// A WebDriver error: its `error` name and message.
#[derive(Debug)]
struct WebDriverError {
    error: String,
    message: String,
}

impl WebDriverError {
    /// The element went away or was re-rendered: find it again.
    fn is_transient(&self) -> bool {
        matches!(
            self.error.as_str(),
            "no such element"
                | "stale element reference"
                | "element not interactable"
                | "element click intercepted"
        )
    }
}

/// One user's desktop app, in a WebDriver session; stopped (with its driver) when dropped.
pub struct Desktop {
    home: Option<Home>,
    name: String,
    driver: Child,
    url: String,
    session: String,
    http: reqwest::blocking::Client,
    /// When the WebDriver session (which launches the app) was asked for.
    pub launched: Instant,
}

/// The last lines of `log` (a driver that fails may repeat one line for ever).
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// tauri-driver (in a process group of its own: WebKitWebDriver and the app it starts
/// go with it), once it answers on its port; its URL. The two ports are free
/// when picked but may be taken before the drivers bind them (other tests open
/// connections meanwhile): then both stop and it starts again on two others.
fn start_driver(tauri_driver: &Path, home: &Path) -> (Child, String) {
    let log_path = home.join("driver.log");
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    for _ in 0..5 {
        let (port, native_port) = (free_port(), free_port());
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).unwrap();
        let mut driver = Command::new(tauri_driver);
        driver.args(["--port", &port.to_string(), "--native-port", &native_port.to_string()]);
        let mut driver = spawn_as_user(driver, home, log);
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // Ready once the native driver answers through it.
            let status = http.get(format!("{url}/status")).send();
            if status.is_ok_and(|r| r.status().is_success()) {
                return (driver, url);
            }
            let said = std::fs::read_to_string(&log_path).unwrap_or_default();
            let port_taken = said.contains("Unable to listen") || said.contains("can not listen");
            if port_taken || driver.try_wait().ok().flatten().is_some() || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", driver.id())]).status();
        let _ = driver.wait();
        // What the next try says is told apart from this one's.
        let _ = std::fs::rename(&log_path, home.join("driver.failed.log"));
    }
    panic!("tauri-driver never answered (five tries):\n{}", log_tail(&home.join("driver.failed.log")));
}

impl Desktop {
    /// Starts the app for the test `name`, its settings pointing at `server`.
    pub fn start(name: &str, server: &str) -> Desktop {
        Desktop::start_in(name, Home::new(server))
    }

    /// Starts the app for the test `name` in `home` (prepared, or kept from a previous run).
    pub fn start_in(name: &str, home: Home) -> Desktop {
        require_keyring();
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "the desktop tests need an X display: run them under xvfb-run (scripts/test does)"
        );
        let tauri_driver =
            require_program("tauri-driver", "cargo install tauri-driver --version ^2 --locked");
        require_program("WebKitWebDriver", "Debian package webkit2gtk-driver");
        // As on a desktop, something shows the app's notifications.
        ensure_notification_server();
        let app = bin("ream-desktop");

        let (driver, url) = start_driver(&tauri_driver, home.path());
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let mut desktop = Desktop {
            home: Some(home),
            name: name.to_string(),
            driver,
            url,
            session: String::new(),
            http,
            launched: Instant::now(),
        };
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "wry",
            "tauri:options": { "application": app },
        }}});
        desktop.launched = Instant::now();
        let session = desktop.request(reqwest::Method::POST, "/session", Some(capabilities));
        desktop.session = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}\n{}", desktop.driver_log()))
            .to_string();
        desktop
    }

    /// Ends the app (as a crash or a power cut would: no chance to tidy up) and gives back
    /// its home, to start it again.
    pub fn stop(mut self) -> Home {
        self.shutdown();
        self.home.take().expect("the home")
    }

    fn shutdown(&mut self) {
        let app = self.app_pid();
        if !self.session.is_empty() {
            let _ = self.http.delete(format!("{}/session/{}", self.url, self.session)).send();
            self.session.clear();
        }
        // The driver's process group: tauri-driver, WebKitWebDriver and the app.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
        // Gone for good (its lock and its port released) before anything starts again.
        if let Some(pid) = app {
            let deadline = Instant::now() + Duration::from_secs(10);
            while process_alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The app's process id (in the driver's process group), while it runs: the client,
    /// `ream-desktop` (its window is `ream-window`, started by it).
    pub fn app_pid(&self) -> Option<u32> {
        let group = self.driver.id();
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (comm, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let (state, pgrp) = (fields.first()?, fields.get(2)?.parse::<u32>().ok()?);
            (comm == "ream-desktop" && pgrp == group && *state != "Z").then_some(pid)
        })
    }

    /// What tauri-driver, WebKitWebDriver and the app printed.
    /// The end of what tauri-driver and WebKitWebDriver said.
    pub fn driver_log(&self) -> String {
        log_tail(&self.home().join("driver.log"))
    }

    /// A WebDriver call; its `value`, or the WebDriver error.
    fn try_request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.url));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.driver_log()));
        let status = resp.status();
        let v: Value = resp.json().unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(v["value"].clone());
        }
        Err(WebDriverError {
            error: v["value"]["error"].as_str().unwrap_or(status.as_str()).to_string(),
            message: v["value"]["message"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// A WebDriver call; its `value`. A WebDriver error fails the test.
    #[track_caller]
    fn request(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_request(method.clone(), path, body) {
            Ok(v) => v,
            Err(e) => panic!("{method} {path}: {} {}\n{}", e.error, e.message, self.driver_log()),
        }
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub fn title(&self) -> String {
        self.request(reqwest::Method::GET, &self.session_path("/title"), None).as_str().unwrap().to_string()
    }

    /// Runs `script` in the webview; it ends by calling its last argument with a value.
    pub fn execute_async(&self, script: &str, args: Value) -> Value {
        let body = json!({ "script": script, "args": args });
        self.request(reqwest::Method::POST, &self.session_path("/execute/async"), Some(body))
    }

    /// Runs `script` (a function body) in the webview; what it returns.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        let body = json!({ "script": script, "args": args });
        self.request(reqwest::Method::POST, &self.session_path("/execute/sync"), Some(body))
    }

    /// Invokes a command the way the UI does; `Err` carries the command's error value.
    /// For checking state: the user's actions go through the UI.
    pub fn invoke(&self, command: &str, args: Value) -> Result<Value, Value> {
        let script = "const done = arguments[arguments.length - 1];
            window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1])
                .then(ok => done({ ok: ok === undefined ? null : ok }), err => done({ err }));";
        let out = self.execute_async(script, json!([command, args]));
        match out.get("err") {
            Some(err) => Err(err.clone()),
            None => Ok(out["ok"].clone()),
        }
    }

    /// Polls `check` until it gives a value, for at most `within`.
    #[track_caller]
    pub fn wait_for<T>(&self, what: &str, within: Duration, check: impl Fn(&Self) -> Option<T>) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            if Instant::now() >= deadline {
                panic!("no {what} within {within:?}{}\n{}", self.failure_screenshot(), self.driver_log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // ----- elements, as a user sees and uses them -----

    /// The first element matching the CSS selector, if there is one now.
    pub fn find(&self, css: &str) -> Option<Element> {
        let body = json!({ "using": "css selector", "value": css });
        match self.try_request(reqwest::Method::POST, &self.session_path("/element"), Some(body)) {
            Ok(v) => Some(Element(v[ELEMENT_KEY].as_str().expect("an element reference").to_string())),
            // Also when it was re-rendered while being found.
            Err(e) if e.error == "no such element" || e.error == "stale element reference" => None,
            Err(e) => panic!("find {css}: {} {}", e.error, e.message),
        }
    }

    /// Whether an element matching `css` is there and displayed.
    pub fn is_displayed(&self, css: &str) -> bool {
        let Some(el) = self.find(css) else { return false };
        self.try_request(
            reqwest::Method::GET,
            &self.session_path(&format!("/element/{}/displayed", el.0)),
            None,
        )
        .is_ok_and(|v| v == Value::Bool(true))
    }

    /// Waits (up to [`UI_WAIT`]) for an element matching `css` to be displayed.
    #[track_caller]
    pub fn wait_for_element(&self, css: &str) -> Element {
        self.wait_for(&format!("element {css}"), UI_WAIT, |d| {
            d.is_displayed(css).then(|| d.find(css)).flatten()
        })
    }

    /// Runs `action` on the element matching `css` (waiting for it), again if the UI
    /// re-rendered it meanwhile, until it succeeds or [`UI_WAIT`] is over.
    #[track_caller]
    fn on_element(
        &self,
        css: &str,
        what: &str,
        action: impl Fn(&Element) -> Result<Value, WebDriverError>,
    ) -> Value {
        let deadline = Instant::now() + UI_WAIT;
        loop {
            let result = match self.find(css) {
                Some(el) => action(&el),
                None => Err(WebDriverError { error: "no such element".into(), message: css.into() }),
            };
            match result {
                Ok(v) => return v,
                Err(e) if e.is_transient() && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => {
                    let shot = self.failure_screenshot();
                    panic!("{what} {css}: {} {}{shot}\n{}", e.error, e.message, self.driver_log())
                }
            }
        }
    }

    /// Clicks the element matching `css`, as the user's pointer would.
    #[track_caller]
    pub fn click(&self, css: &str) {
        self.on_element(css, "click", |el| {
            self.try_request(
                reqwest::Method::POST,
                &self.session_path(&format!("/element/{}/click", el.0)),
                Some(json!({})),
            )
        });
    }

    /// Types `text` into the element matching `css` (see [`keys`] for Enter and others):
    /// focuses it, then presses the keys wherever the focus is, as a keyboard does. (A
    /// WebDriver "send keys" to the element would type into that element even once the
    /// screen was drawn again around the user and it replaced, its later keys lost; the
    /// focus moves to the field that replaces it.)
    #[track_caller]
    pub fn send_keys(&self, css: &str, text: &str) {
        let focus = "const el = document.querySelector(arguments[0]); \
                     if (!el) return false; el.focus(); return document.activeElement === el;";
        self.wait_for(&format!("{css} focused"), UI_WAIT, |app| {
            (app.execute(focus, json!([css])) == json!(true)).then_some(())
        });
        let mut actions = Vec::new();
        for key in text.chars() {
            actions.push(json!({ "type": "keyDown", "value": key.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": key.to_string() }));
        }
        let actions = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] });
        self.request(reqwest::Method::POST, &self.session_path("/actions"), Some(actions));
    }

    /// Presses `key` (see [`keys`]) wherever the keyboard focus is.
    pub fn press(&self, key: &str) {
        let actions = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
            { "type": "keyDown", "value": key },
            { "type": "keyUp", "value": key },
        ]}]});
        self.request(reqwest::Method::POST, &self.session_path("/actions"), Some(actions));
    }

    /// The rendered text of the element matching `css`.
    #[track_caller]
    pub fn text(&self, css: &str) -> String {
        let v = self.on_element(css, "read", |el| {
            self.try_request(
                reqwest::Method::GET,
                &self.session_path(&format!("/element/{}/text", el.0)),
                None,
            )
        });
        v.as_str().unwrap_or_default().to_string()
    }

    /// An attribute of the element matching `css`.
    #[track_caller]
    pub fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let v = self.on_element(css, "read", |el| {
            self.try_request(
                reqwest::Method::GET,
                &self.session_path(&format!("/element/{}/attribute/{name}", el.0)),
                None,
            )
        });
        v.as_str().map(str::to_string)
    }

    /// A DOM property (`value`, `checked`…) of the element matching `css`.
    #[track_caller]
    pub fn property(&self, css: &str, name: &str) -> Value {
        self.on_element(css, "read", |el| {
            self.try_request(
                reqwest::Method::GET,
                &self.session_path(&format!("/element/{}/property/{name}", el.0)),
                None,
            )
        })
    }

    /// Waits until the text of `css` satisfies `check`; that text.
    #[track_caller]
    pub fn wait_for_text(&self, css: &str, within: Duration, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        let mut last = None;
        loop {
            let text = self.find(css).and_then(|el| {
                let path = self.session_path(&format!("/element/{}/text", el.0));
                self.try_request(reqwest::Method::GET, &path, None).ok()?.as_str().map(str::to_string)
            });
            if let Some(t) = text.as_deref().filter(|t| check(t)) {
                return t.to_string();
            }
            last = text.or(last);
            if Instant::now() >= deadline {
                panic!(
                    "the text of {css} never became what was expected within {within:?}: last {last:?}{}\n{}",
                    self.failure_screenshot(),
                    self.driver_log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // ----- screenshots and accessibility -----

    /// The window as it is now, saved as `target/screenshots/<test name>.png`.
    pub fn screenshot(&self) -> PathBuf {
        self.save_screenshot(&self.name)
    }

    /// The window as it is now, saved as `target/screenshots/<test name>-<screen>.png`.
    pub fn screenshot_as(&self, screen: &str) -> PathBuf {
        self.save_screenshot(&format!("{}-{screen}", self.name))
    }

    /// For a failure's message: where the window as it was is saved, and the engine's status.
    fn failure_screenshot(&self) -> String {
        if self.session.is_empty() {
            return String::new();
        }
        if self.try_request(reqwest::Method::GET, &self.session_path("/screenshot"), None).is_err() {
            return String::new();
        }
        let shot = self.screenshot_as("failure");
        // And what the engine behind the window says.
        let status = self.invoke("status", json!({})).unwrap_or_else(|e| e);
        format!(" (see {}; the engine's status: {status})", shot.display())
    }

    fn save_screenshot(&self, file: &str) -> PathBuf {
        // WebKit's automation takes the snapshot at the page's next presentation; the app
        // paints without compositing (see src-tauri's window.rs), where a page that does
        // not change never presents again. A dot no one sees changes while it is taken.
        self.execute(
            "const dot = document.createElement('div');
             dot.id = '__ream_repaint';
             dot.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;opacity:0.01;pointer-events:none;background:#000';
             document.body.append(dot);
             let on = false;
             window.__reamRepaint = setInterval(() => { on = !on; dot.style.background = on ? '#fff' : '#000'; }, 20);",
            json!([]),
        );
        let b64 = self.request(reqwest::Method::GET, &self.session_path("/screenshot"), None);
        self.execute(
            "clearInterval(window.__reamRepaint); document.getElementById('__ream_repaint')?.remove();",
            json!([]),
        );
        let png = base64::engine::general_purpose::STANDARD.decode(b64.as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{file}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// axe-core's violations on the document as it is rendered now (colour contrast
    /// included: this is a real browser engine), one readable line per rule.
    pub fn accessibility_violations(&self) -> Vec<String> {
        let loaded = self.execute("return typeof window.axe === 'object';", json!([]));
        if loaded != Value::Bool(true) {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../node_modules/axe-core/axe.min.js");
            let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (run `npm ci` at the repository root; scripts/test does)", path.display())
            });
            let script = format!("{source}\n;return typeof window.axe === 'object';");
            assert_eq!(self.execute(&script, json!([])), Value::Bool(true), "axe-core did not load");
        }
        let script = "const done = arguments[arguments.length - 1];
            window.axe.run(document, { resultTypes: ['violations'] }).then(
                r => done({ violations: r.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => ({ target: n.target, summary: n.failureSummary })),
                })) }),
                e => done({ error: String(e) }));";
        let out = self.execute_async(script, json!([]));
        assert!(out.get("error").is_none(), "axe-core failed: {}", out["error"]);
        out["violations"]
            .as_array()
            .expect("violations")
            .iter()
            .map(|v| {
                let nodes: Vec<String> = v["nodes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|n| {
                        let target: Vec<String> = n["target"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|t| t.as_str().map_or_else(|| t.to_string(), str::to_string))
                            .collect();
                        let summary = n["summary"].as_str().unwrap_or_default().replace('\n', " ");
                        format!("    at {}: {summary}", target.join(" "))
                    })
                    .collect();
                let text = |key: &str| v[key].as_str().unwrap_or_default().to_string();
                format!("{} ({}): {}\n{}", text("id"), text("impact"), text("help"), nodes.join("\n"))
            })
            .collect()
    }

    /// No axe-core violation on `screen` as shown now; its screenshot saved either way.
    #[track_caller]
    pub fn assert_accessible(&self, screen: &str) {
        let shot = self.screenshot_as(screen);
        let violations = self.accessibility_violations();
        assert!(
            violations.is_empty(),
            "axe-core found {} violation(s) on the {screen} screen (see {}):\n{}",
            violations.len(),
            shot.display(),
            violations.join("\n")
        );
    }

    pub fn home(&self) -> &Path {
        self.home.as_ref().expect("the home").path()
    }

    /// The headless client `ream ARGS` as this user (see [`Home::ream`]).
    pub fn ream(&self, args: &[&str], stdin: &str) -> Run {
        self.home.as_ref().expect("the home").ream(args, stdin)
    }

    /// The port of the app's local IPP printer.
    pub fn ipp_port(&self) -> u16 {
        self.home.as_ref().expect("the home").ipp_port
    }

    /// `ream-desktop` as this user would start it again from a launcher (not under WebDriver).
    pub fn another_instance(&self) -> Command {
        let mut cmd = Command::new(bin("ream-desktop"));
        user_env(&mut cmd, self.home());
        cmd
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The app as a user starts it (from a launcher, or `--hidden` from their session's
/// autostart), not under WebDriver: for what WebDriver does not see, its windows and its
/// processes. Killed, with everything it started, when dropped.
pub struct Launched {
    home: Home,
    child: Child,
}

impl Launched {
    #[track_caller]
    pub fn start(home: Home, args: &[&str]) -> Launched {
        require_keyring();
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "no X display: run under xvfb-run (scripts/test does)"
        );
        ensure_notification_server();
        let log = std::fs::File::create(home.path().join("app.log")).unwrap();
        let mut cmd = Command::new(bin("ream-desktop"));
        cmd.args(args);
        let child = spawn_as_user(cmd, home.path(), log);
        Launched { home, child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The app's window process (`ream-window`), while one runs.
    pub fn window_process(&self) -> Option<u32> {
        crate::procs::tree(self.pid())
            .into_iter()
            .find(|&p| crate::procs::name(p).is_some_and(|n| n == "ream-window"))
    }

    /// The WebKit web processes the app runs now (one per webview it keeps).
    pub fn web_processes(&self) -> Vec<u32> {
        crate::procs::tree(self.pid())
            .into_iter()
            .filter(|&p| crate::procs::name(p).is_some_and(|n| n.starts_with("WebKitWebProces")))
            .collect()
    }

    /// `ream-desktop ARGS` started again by the same user.
    pub fn again(&self) -> Command {
        let mut cmd = Command::new(bin("ream-desktop"));
        user_env(&mut cmd, self.home.path());
        cmd
    }

    /// What the app printed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("app.log")).unwrap_or_default()
    }

    /// Polls `check` until it holds, for at most `within`; the app's log on failure.
    #[track_caller]
    pub fn wait_until(&mut self, what: &str, within: Duration, mut check: impl FnMut(&mut Self) -> bool) {
        let deadline = Instant::now() + within;
        while !check(self) {
            assert!(Instant::now() < deadline, "not {what} within {within:?}\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// The key of an element reference in WebDriver's JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// An element of the window, as WebDriver names it.
#[derive(Debug, Clone)]
pub struct Element(String);

fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

// ----- desktop notifications -----

/// One `Notify` call seen on the session bus.
#[derive(Debug, Clone)]
pub struct Notification {
    pub app_name: String,
    pub summary: String,
    pub body: String,
    /// The process that sent it, as the bus knows it.
    pub sender_pid: Option<u32>,
}

/// The `Notify` calls on the session bus, as `dbus-monitor` sees them, with a real
/// notification server (`dunst`) owning `org.freedesktop.Notifications` to receive them.
pub struct Notifications {
    monitor: Child,
    calls: mpsc::Receiver<Notification>,
}

/// One notification server for the whole test binary (only one may own the bus name).
static NOTIFICATION_SERVER: OnceLock<Result<(), String>> = OnceLock::new();

fn bus_name_has_owner(name: &str) -> bool {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
        ])
        .arg(format!("string:{name}"))
        .output()
        .expect("dbus-send (Debian dbus-bin)");
    String::from_utf8_lossy(&out.stdout).contains("boolean true")
}

fn bus_connection_pid(unique_name: &str) -> Option<u32> {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
        ])
        .arg(format!("string:{unique_name}"))
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .skip_while(|w| *w != "uint32")
        .nth(1)?
        .parse()
        .ok()
}

/// Makes sure a notification server owns `org.freedesktop.Notifications` on the session
/// bus: one `dunst` for the whole test binary, started on the suite's display.
fn ensure_notification_server() {
    const NAME: &str = "org.freedesktop.Notifications";
    let started = NOTIFICATION_SERVER.get_or_init(|| {
        if bus_name_has_owner(NAME) {
            return Ok(());
        }
        let dunst =
            find_program("dunst").ok_or("dunst is missing (Debian dunst; scripts/test installs it)")?;
        let log = std::env::temp_dir().join(format!("ream-dunst-{}.log", std::process::id()));
        let child = Command::new(dunst)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("cannot start dunst: {e}"))?;
        // It lives as long as the session bus and the display the suite runs in.
        std::mem::forget(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !bus_name_has_owner(NAME) {
            if Instant::now() > deadline {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("dunst did not take {NAME} on the session bus: {said}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    });
    if let Err(e) = started {
        panic!("{e}");
    }
}

impl Notifications {
    /// Starts watching (a notification server running); returns once the monitor is in
    /// place, so nothing sent afterwards is missed.
    pub fn watch() -> Notifications {
        require_keyring();
        ensure_notification_server();
        let program = require_program("dbus-monitor", "Debian package dbus-bin");
        let mut monitor = Command::new(program)
            .arg("interface='org.freedesktop.Notifications'")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-monitor");
        let stdout = monitor.stdout.take().unwrap();
        let (ready_tx, ready) = mpsc::channel();
        let (tx, calls) = mpsc::channel();
        std::thread::spawn(move || {
            let mut message: Vec<String> = Vec::new();
            let flush = |message: &mut Vec<String>| {
                if let Some(call) = parse_notify(message) {
                    let _ = tx.send(call);
                }
                message.clear();
            };
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !line.starts_with(' ') {
                    flush(&mut message);
                    // It is a monitor once the bus has taken its name back.
                    if line.contains("member=NameLost") {
                        let _ = ready_tx.send(());
                    }
                }
                message.push(line);
                // A Notify call is complete once its expiry timeout (the last argument) came.
                if message.first().is_some_and(|h| h.contains("member=Notify"))
                    && message.last().is_some_and(|l| l.starts_with("   int32 "))
                {
                    flush(&mut message);
                }
            }
        });
        ready.recv_timeout(Duration::from_secs(10)).expect("dbus-monitor did not become a monitor");
        Notifications { monitor, calls }
    }

    /// The first `Notify` call that satisfies `check` within `within`; fails the test
    /// naming those that came instead.
    #[track_caller]
    pub fn expect(
        &self,
        within: Duration,
        what: &str,
        check: impl Fn(&Notification) -> bool,
    ) -> Notification {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.calls.recv_timeout(left) {
                Ok(n) if check(&n) => return n,
                Ok(n) => seen.push(n),
                Err(_) => panic!("no notification {what} within {within:?}; the bus carried {seen:#?}"),
            }
        }
    }
}

impl Drop for Notifications {
    fn drop(&mut self) {
        let _ = self.monitor.kill();
        let _ = self.monitor.wait();
    }
}

/// A `Notify` method call as `dbus-monitor` prints it: the header line, then the
/// arguments (app name, replaces id, icon, summary, body, actions, hints, timeout).
fn parse_notify(message: &[String]) -> Option<Notification> {
    let header = message.first()?;
    if !header.starts_with("method call") || !header.contains("member=Notify") {
        return None;
    }
    let sender = header.split_whitespace().find_map(|w| w.strip_prefix("sender="))?;
    let strings: Vec<String> = message[1..]
        .iter()
        .filter_map(|l| l.strip_prefix("   string \""))
        .map(|s| s.strip_suffix('"').unwrap_or(s).replace("\\\"", "\""))
        .collect();
    Some(Notification {
        app_name: strings.first()?.clone(),
        summary: strings.get(2)?.clone(),
        body: strings.get(3)?.clone(),
        sender_pid: bus_connection_pid(sender),
    })
}
