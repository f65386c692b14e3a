//! `ream-server` processes: started with any arguments, read until they say where they
//! listen, stopped and started again at the same address.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::bin;
use crate::client::Run;

/// A running (or stopped) server process; killed when dropped.
pub struct ServerProcess {
    args: Vec<String>,
    /// Set in its environment at every start (`start_with_env`).
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// Where its log goes, when kept for the test (`start_logged`).
    log: Option<PathBuf>,
    /// As printed, with `localhost` made `127.0.0.1` (the server listens on IPv4).
    pub url: String,
    /// Everything printed before "listening on", which comes last at start-up.
    pub output: Vec<String>,
}

impl ServerProcess {
    pub fn start(args: &[&str]) -> ServerProcess {
        ServerProcess::start_with_log(args, None)
    }

    /// Like `start`, with `env` set in the server's environment, this time and each
    /// time it starts again.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        let mut p = ServerProcess {
            args: args.iter().map(|a| a.to_string()).collect(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            child: None,
            log: None,
            url: String::new(),
            output: Vec::new(),
        };
        p.resume();
        p
    }

    /// Like `start`, with what the server logs (warnings and worse, or as
    /// REAM_TEST_SERVER_LOG says) appended to `log`, for [`ServerProcess::log`].
    pub fn start_logged(args: &[&str], log: PathBuf) -> ServerProcess {
        ServerProcess::start_with_log(args, Some(log))
    }

    fn start_with_log(args: &[&str], log: Option<PathBuf>) -> ServerProcess {
        let mut p = ServerProcess {
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            child: None,
            log,
            url: String::new(),
            output: Vec::new(),
        };
        p.resume();
        p
    }

    /// What the server logged so far (with `start_logged`).
    pub fn log(&self) -> String {
        let path = self.log.as_ref().expect("a server started with start_logged");
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Starts (again) with the same arguments.
    pub fn resume(&mut self) {
        self.resume_with(&[]);
    }

    /// Starts (again) with the same arguments and `env` set (e.g. `REAM_CRASH_AT`).
    pub fn resume_with(&mut self, env: &[(&str, &str)]) {
        let mut command = Command::new(bin("ream-server"));
        command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().copied())
            // REAM_TEST_SERVER_LOG=info (or debug) shows what the server logs in a test.
            .env("REAM_LOG", std::env::var("REAM_TEST_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::piped());
        if let Some(log) = &self.log {
            let file = std::fs::File::options().create(true).append(true).open(log).expect("server log file");
            command.stderr(file);
        }
        let mut child = command.spawn().expect("start ream-server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        self.output.clear();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(url) = line.strip_prefix("Ream server listening on ") {
                self.url = url.replace("//localhost:", "//127.0.0.1:");
                // Keep draining so the server never blocks on a full pipe.
                std::thread::spawn(move || lines.for_each(drop));
                self.child = Some(child);
                return;
            }
            self.output.push(line);
        }
        let status = child.wait().unwrap();
        panic!("ream-server {:?} exited ({status}) before listening: {:?}", self.args, self.output);
    }

    /// Waits for the server to end by itself; whether it did within `within`.
    pub fn ended_within(&mut self, within: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            match self.child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(_))) | None => return true,
                _ => crate::sleep(50),
            }
        }
        false
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The value of a start-up line `PREFIX value`.
    pub fn printed(&self, prefix: &str) -> Option<&str> {
        self.output.iter().find_map(|l| l.strip_prefix(prefix))
    }

    /// An access token for `credentials` (a `Credentials` JSON value), by the API.
    pub fn access_token(&self, credentials: serde_json::Value) -> String {
        let r: serde_json::Value = reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&serde_json::json!({ "credentials": credentials }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        r["access_token"].as_str().unwrap_or_else(|| panic!("login {credentials}: {r}")).to_string()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A server site: a configuration file in its own directory, administered with the
/// real command line, served by a [`ServerProcess`].
pub struct Site {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Site {
    /// A site whose config says `listen`, `data_dir = "data"`, then `extra`. The data
    /// folder is made, as an installer would: admin commands refuse one that does not
    /// exist (until `serve` makes it).
    pub fn new(listen: &str, extra: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("ream.toml");
        std::fs::write(&config, format!("listen = \"{listen}\"\ndata_dir = \"data\"\n{extra}")).unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        Site { dir, config }
    }

    pub fn serve(&self) -> ServerProcess {
        ServerProcess::start(&["serve", "--config", self.config.to_str().unwrap()])
    }

    /// `serve`, keeping what the server logs (see [`ServerProcess::log`]).
    pub fn serve_logged(&self) -> ServerProcess {
        let log = self.dir.path().join("server.log");
        ServerProcess::start_logged(&["serve", "--config", self.config.to_str().unwrap()], log)
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `ream-server admin --config … ARGS`, feeding `stdin`; its standard output.
    pub fn admin(&self, args: &[&str], stdin: &str) -> String {
        admin(&self.config, args, stdin)
    }

    /// `ream-server admin --config … ARGS`, which must succeed: what it printed, as JSON.
    #[track_caller]
    pub fn admin_json(&self, args: &[&str], stdin: &str) -> serde_json::Value {
        let out = self.admin(args, stdin);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("admin {args:?} printed no JSON ({e}): {out:?}"))
    }

    /// `ream-server admin --config … ARGS`, however it ends.
    pub fn admin_run(&self, args: &[&str], stdin: &str) -> Run {
        admin_run(&self.config, args, stdin)
    }

    /// alice (PIN 1234, card 04A1B2C3, password alice-demo, 20.00 credit), bob (PIN
    /// 5678), an administrator, and a user named after the OS account (for SSO).
    pub fn seed_people(&self) {
        self.admin(
            &["user", "add", "admin", "--name", "Admin", "--admin", "--password-stdin"],
            "admin-demo\n",
        );
        self.admin(
            &["user", "add", "alice", "--name", "Alice Martin", "--password-stdin", "--pin-stdin"],
            "alice-demo\n1234\n",
        );
        self.admin(&["user", "card-add", "alice"], "04A1B2C3\n");
        self.admin(&["credit", "top-up", "alice", "20"], "");
        self.admin(&["user", "add", "bob", "--name", "Bob Durand", "--pin-stdin"], "5678\n");
        let os_user = ream_client::workstation::os_username().unwrap();
        self.admin(&["user", "add", &os_user, "--name", "The OS User"], "");
    }

    /// A loopback site with the usual people, the price list `standard` (0.05 a mono
    /// page, 0.20 colour, 0.01 off per duplex page), the printer `name` at `uri`, and
    /// `queues` over it (each the arguments of `ream-server admin queue add` before
    /// `--printer`). `extra` goes into the configuration.
    pub fn with_printer(extra: &str, name: &str, uri: &str, queues: &[&[&str]]) -> Site {
        let site = Site::new(&format!("127.0.0.1:{}", crate::free_port()), extra);
        site.seed_people();
        let prices = ["--mono", "0.05", "--colour", "0.20", "--duplex-discount", "0.01"];
        site.admin(&[&["price-list", "add", "standard"][..], &prices[..]].concat(), "");
        site.admin(&["printer", "add", name, "--uri", uri, "--price-list", "standard"], "");
        for q in queues {
            site.admin(&[&["queue", "add"][..], q, &["--printer", name][..]].concat(), "");
        }
        site
    }

    /// Cost centres and projects, each open to `user`.
    pub fn open_accounts(&self, user: &str, cost_centres: &[&str], projects: &[&str]) {
        for (kind, names) in [("cost-centre", cost_centres), ("project", projects)] {
            for name in names {
                self.admin(&[kind, "add", name], "");
                self.admin(&[kind, "member-add", name, "--user", user], "");
            }
        }
    }

    pub fn enrolment_code(&self) -> String {
        let out: serde_json::Value = serde_json::from_str(&self.admin(&["workstation", "code"], "")).unwrap();
        out["code"].as_str().unwrap().to_string()
    }
}

pub fn admin(config: &Path, args: &[&str], stdin: &str) -> String {
    let out = admin_run(config, args, stdin);
    assert!(out.ok, "admin {args:?} failed: {}", out.stderr);
    out.stdout
}

pub fn admin_run(config: &Path, args: &[&str], stdin: &str) -> Run {
    let mut command = Command::new(bin("ream-server"));
    command.args(["admin", "--config", config.to_str().unwrap()]).args(args).env("REAM_LOG", "warn");
    crate::client::run_to_end(&mut command, stdin)
}
