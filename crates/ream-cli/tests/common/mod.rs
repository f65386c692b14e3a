//! Helpers for testing the real `ream` binary against the real `ream-server` binary, with
//! the real OS keyring (the suite runs inside a D-Bus session with gnome-keyring: see
//! `scripts/lib/session.sh`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub const REAM: &str = env!("CARGO_BIN_EXE_ream");

/// `ream-server`, built beside `ream` by `cargo build --workspace`.
pub fn server_bin() -> PathBuf {
    let bin = Path::new(REAM).with_file_name("ream-server");
    assert!(bin.exists(), "{} is missing: build the workspace first (scripts/test does)", bin.display());
    bin
}

pub fn require_keyring() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "these tests use the OS keyring: run them inside a D-Bus session with an unlocked \
         Secret Service (scripts/test does, see scripts/lib/session.sh)"
    );
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `ream-server serve` process with its own data directory and a fixed port, so it
/// can be stopped and started again at the same address.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub url: String,
    pub output: Vec<String>,
    child: Option<Child>,
}

impl Server {
    /// Seeds alice (PIN 1234, card 04A1B2C3, password alice-demo), bob (user-list only),
    /// an administrator, and a user named after the OS account (for SSO); then starts.
    pub fn start(listen_host: &str, extra_config: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("ream.toml");
        std::fs::write(
            &config,
            format!("listen = \"{listen_host}:{port}\"\ndata_dir = \"data\"\n{extra_config}"),
        )
        .unwrap();
        let mut server = Server { dir, config, url: String::new(), output: Vec::new(), child: None };
        server.admin(
            &["user", "add", "admin", "--name", "Admin", "--admin", "--password-stdin"],
            "admin-demo\n",
        );
        server.admin(
            &["user", "add", "alice", "--name", "Alice Martin", "--pin", "1234", "--password-stdin"],
            "alice-demo\n",
        );
        server.admin(&["user", "card-add", "alice", "04A1B2C3"], "");
        server.admin(&["credit", "top-up", "alice", "20"], "");
        server.admin(&["user", "add", "bob", "--name", "Bob Durand", "--pin", "5678"], "");
        let os_user = ream_client::workstation::os_username().unwrap();
        server.admin(&["user", "add", &os_user, "--name", "The OS User"], "");
        server.resume();
        server
    }

    /// Starts (again) on the same address and data.
    pub fn resume(&mut self) {
        let mut child = Command::new(server_bin())
            .args(["serve", "--config", self.config.to_str().unwrap()])
            .env("REAM_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        self.output.clear();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(url) = line.strip_prefix("Ream server listening on ") {
                self.url = url.replace("localhost", "127.0.0.1");
                std::thread::spawn(move || lines.for_each(drop));
                self.child = Some(child);
                return;
            }
            self.output.push(line);
        }
        let status = child.wait().unwrap();
        panic!("ream-server exited ({status}) before listening: {:?}", self.output);
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `ream-server admin --config … ARGS`, feeding `stdin`.
    pub fn admin(&self, args: &[&str], stdin: &str) -> String {
        let mut child = Command::new(server_bin())
            .args(["admin", "--config", self.config.to_str().unwrap()])
            .args(args)
            .env("REAM_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn enrolment_code(&self) -> String {
        let out: Value = serde_json::from_str(&self.admin(&["workstation", "code"], "")).unwrap();
        out["code"].as_str().unwrap().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One workstation user's client: its own home, settings and cache.
pub struct Client {
    pub home: tempfile::TempDir,
}

pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn json(&self) -> Value {
        assert!(self.ok, "ream failed: {}", self.stderr);
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {:?}", self.stdout))
    }

    /// The error code of a failed run (`error [CODE]: …`).
    #[track_caller]
    pub fn error_code(&self) -> String {
        assert!(!self.ok, "ream should have failed: {}", self.stdout);
        // Prompts without a newline may stand before it on the line.
        let at = self.stderr.find("error [").unwrap_or_else(|| panic!("no error in: {}", self.stderr));
        let rest = &self.stderr[at + "error [".len()..];
        rest[..rest.find(']').unwrap()].to_string()
    }
}

impl Client {
    pub fn new() -> Client {
        require_keyring();
        Client { home: tempfile::tempdir().unwrap() }
    }

    pub fn settings_file(&self) -> PathBuf {
        self.home.path().join("config/ream/client.toml")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.home.path().join("cache/ream")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(REAM);
        c.args(args)
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .env_remove("REAM_CONFIG")
            .env("REAM_LOG", "warn");
        c
    }

    /// Runs `ream ARGS` to completion, answering its prompts with `stdin`.
    pub fn run(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out: Output = child.wait_with_output().unwrap();
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    pub fn status(&self) -> Value {
        self.run(&["status", "--json"], "").json()
    }
}

/// A long-running `ream` (watch), whose JSON lines arrive on a channel.
pub struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Watch {
    pub fn start(client: &Client, args: &[&str]) -> Watch {
        let mut child = client.command(args).stdin(Stdio::null()).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        Watch { child, lines }
    }

    /// The next line that satisfies `check`, within `within`; panics otherwise.
    #[track_caller]
    pub fn expect(&self, within: Duration, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if check(&v) => return v,
                Ok(v) => seen.push(v),
                Err(_) => panic!("no {what} within {within:?}; saw {seen:#?}"),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The credit in a `status` event's account, if any.
pub fn credit_of(event: &Value) -> Option<i64> {
    event["status"]["account"]["credit_cents"].as_i64()
}

pub fn keyring_has(name: &str) -> bool {
    use ream_client::secrets::SecretStore;
    ream_client::secrets::Keyring.get(name).unwrap().is_some()
}

/// Every file under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn sleep(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}
