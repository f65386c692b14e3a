//! The desktop app `ream-desktop` as a user runs it, driven over WebDriver: `tauri-driver`
//! (which starts `WebKitWebDriver`, which starts the app) on a free port, one per test,
//! with the test's own home, settings (connected to a real `ream-server`) and local
//! printer port, the real OS keyring, under the X display the suite runs in (`xvfb-run`
//! in `scripts/test`). Nothing is skipped: without a display, tauri-driver or
//! WebKitWebDriver a test fails and says what is missing.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::{bin, client::require_keyring, free_port};

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

/// One user's desktop app, in a WebDriver session; stopped (with its driver) when dropped.
pub struct Desktop {
    pub home: tempfile::TempDir,
    name: String,
    driver: Child,
    url: String,
    session: String,
    http: reqwest::blocking::Client,
}

impl Desktop {
    /// Starts the app for the test `name`, its settings pointing at `server`.
    pub fn start(name: &str, server: &str) -> Desktop {
        require_keyring();
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "the desktop tests need an X display: run them under xvfb-run (scripts/test does)"
        );
        let tauri_driver =
            require_program("tauri-driver", "cargo install tauri-driver --version ^2 --locked");
        require_program("WebKitWebDriver", "Debian package webkit2gtk-driver");
        let app = bin("ream-desktop");

        let home = tempfile::tempdir().unwrap();
        let settings = home.path().join("config/ream/client.toml");
        std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
        std::fs::write(&settings, format!("server = \"{server}\"\nipp_port = {}\n", free_port())).unwrap();

        let (port, native_port) = (free_port(), free_port());
        let log = std::fs::File::create(home.path().join("driver.log")).unwrap();
        // Its own process group, so that the app it starts goes with it.
        let mut driver = Command::new(tauri_driver);
        user_env(&mut driver, home.path());
        let driver = driver
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start tauri-driver");
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let mut desktop = Desktop {
            home,
            name: name.to_string(),
            driver,
            url: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            http,
        };
        desktop.wait_for("tauri-driver to listen", Duration::from_secs(15), |d| {
            d.http.get(format!("{}/status", d.url)).send().ok().map(drop)
        });
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "wry",
            "tauri:options": { "application": app },
        }}});
        let session = desktop.request(reqwest::Method::POST, "/session", Some(capabilities));
        desktop.session = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}\n{}", desktop.driver_log()))
            .to_string();
        desktop
    }

    /// What tauri-driver, WebKitWebDriver and the app printed.
    pub fn driver_log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("driver.log")).unwrap_or_default()
    }

    /// A WebDriver call; its `value`. A WebDriver error fails the test.
    #[track_caller]
    fn request(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.url));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.driver_log()));
        let status = resp.status();
        let v: Value = resp.json().unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {v}\n{}", self.driver_log());
        v["value"].clone()
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

    /// Invokes a command the way the UI does; `Err` carries the command's error value.
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
            assert!(Instant::now() < deadline, "no {what} within {within:?}\n{}", self.driver_log());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The window as it is now, saved as `target/screenshots/<test name>.png`.
    pub fn screenshot(&self) -> PathBuf {
        let b64 = self.request(reqwest::Method::GET, &self.session_path("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD.decode(b64.as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.png", self.name));
        std::fs::write(&path, png).unwrap();
        path
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `ream-desktop` as this user would start it again from a launcher (not under WebDriver).
    pub fn another_instance(&self) -> Command {
        let mut cmd = Command::new(bin("ream-desktop"));
        user_env(&mut cmd, self.home.path());
        cmd
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.http.delete(format!("{}/session/{}", self.url, self.session)).send();
        }
        // The driver's process group: tauri-driver, WebKitWebDriver and the app.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}
