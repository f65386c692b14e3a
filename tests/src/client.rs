//! The headless client `ream` as a user runs it: its own home, settings and cache, the
//! real OS keyring (the suite runs inside a D-Bus session with gnome-keyring: see
//! `scripts/lib/session.sh`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::bin;

pub fn require_keyring() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "these tests use the OS keyring: run them inside a D-Bus session with an unlocked \
         Secret Service (scripts/test does, see scripts/lib/session.sh)"
    );
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

impl Default for Client {
    fn default() -> Self {
        Client::new()
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
        let mut c = Command::new(bin("ream"));
        c.args(args)
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .env_remove("REAM_CONFIG")
            // REAM_TEST_LOG=info (or debug) shows what the client logs while a test runs.
            .env("REAM_LOG", std::env::var("REAM_TEST_LOG").unwrap_or_else(|_| "warn".into()));
        c
    }

    /// Runs `ream ARGS` to completion, answering its prompts with `stdin`.
    pub fn run(&self, args: &[&str], stdin: &str) -> Run {
        run_to_end(&mut self.command(args), stdin)
    }

    pub fn status(&self) -> Value {
        self.run(&["status", "--json"], "").json()
    }
}

/// Runs `command` to completion with `stdin` on its standard input.
pub fn run_to_end(command: &mut Command, stdin: &str) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out: Output = child.wait_with_output().unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A long-running `ream` (watch), whose JSON lines arrive on a channel.
pub struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
    /// Kept open: the process may still be asked something.
    _stdin: Option<std::process::ChildStdin>,
}

impl Watch {
    pub fn start(client: &Client, args: &[&str]) -> Watch {
        Self::spawn(client, args, None)
    }

    /// Starts with `answers` waiting on its standard input (which stays open).
    pub fn start_answering(client: &Client, args: &[&str], answers: &str) -> Watch {
        Self::spawn(client, args, Some(answers))
    }

    /// Starts with `env` set (e.g. `REAM_CRASH_AT`, where the client kills itself).
    pub fn start_env(client: &Client, args: &[&str], env: &[(&str, &str)]) -> Watch {
        let mut command = client.command(args);
        command.envs(env.iter().copied());
        Self::spawn_command(command, None)
    }

    /// Runs `command` as it is (another OS user's client, say).
    pub fn of(command: Command) -> Watch {
        Self::spawn_command(command, None)
    }

    fn spawn(client: &Client, args: &[&str], answers: Option<&str>) -> Watch {
        Self::spawn_command(client.command(args), answers)
    }

    fn spawn_command(mut command: Command, answers: Option<&str>) -> Watch {
        let stdin = if answers.is_some() { Stdio::piped() } else { Stdio::null() };
        let mut child = command.stdin(stdin).stdout(Stdio::piped()).spawn().unwrap();
        let mut input = child.stdin.take();
        if let (Some(pipe), Some(text)) = (input.as_mut(), answers) {
            pipe.write_all(text.as_bytes()).unwrap();
        }
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("REAM_TEST_TRACE").is_some() {
                    eprintln!("watch: {line}");
                }
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        Watch { child, lines, _stdin: input }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to end by itself; whether it did within `within`.
    pub fn ended_within(&mut self, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            crate::sleep(50);
        }
        false
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
