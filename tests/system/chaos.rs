//! The chaos run: documents printed with `lp` through CUPS, the `ream run` client, the
//! server and an `ippeveprinter` printer, while the client and the server are killed with
//! SIGKILL at random moments and started again. At the end every document must have been
//! printed once, byte-identical, and charged once: nothing lost, nothing doubled.
//!
//! The suite runs it with 10 jobs; `scripts/chaos JOBS` with as many as asked (100 by
//! default, `REAM_CHAOS_JOBS`). The schedule comes from `REAM_CHAOS_SEED` (printed, so a
//! failing run can be replayed); only the moments differ between runs, and every check
//! waits for a condition, never for a time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ream_system_tests::client::{credit_of, Client, Watch};
use ream_system_tests::printer::{CupsQueue, Printer};
use ream_system_tests::server::{ServerProcess, Site};
use ream_system_tests::{free_port, pdf, sleep};
use serde_json::{json, Value};

/// xorshift64*: a schedule that a seed replays, without a dependency for it.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What happened to the documents, as the printer and the server's ledger tell it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    printed_once: usize,
    printed_twice_or_more: usize,
    lost: usize,
    charged_once: usize,
    charged_twice_or_more: usize,
    uncharged: usize,
}

fn token(server: &ServerProcess) -> String {
    server.access_token(json!({"method": "pin", "pin": "1234"}))
}

fn get(server: &ServerProcess, path: &str) -> Value {
    reqwest::blocking::Client::new()
        .get(format!("{}{path}", server.url))
        .bearer_auth(token(server))
        .send()
        .and_then(|r| r.json())
        .unwrap_or(Value::Null)
}

/// Times each document's bytes arrived at the printer, by job name.
fn received(printer: &Printer, sent: &HashMap<String, Vec<u8>>) -> HashMap<String, usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for file in printer.documents() {
        let bytes = std::fs::read(&file).unwrap_or_default();
        if let Some((name, _)) = sent.iter().find(|(_, b)| **b == bytes) {
            *seen.entry(name.clone()).or_default() += 1;
        } else {
            *seen.entry(format!("unknown document {}", file.display())).or_default() += 1;
        }
    }
    seen
}

/// Charges in the user's credit log, by job name.
fn charges(server: &ServerProcess) -> HashMap<String, usize> {
    let log = get(server, "/api/v1/me/transactions?limit=1000");
    let mut out: HashMap<String, usize> = HashMap::new();
    for t in log["transactions"].as_array().into_iter().flatten().filter(|t| t["kind"] == "charge") {
        // "print job NAME (N pages)"
        let comment = t["comment"].as_str().unwrap_or("");
        let name = comment.strip_prefix("print job ").and_then(|c| c.rsplit_once(" (")).map(|(n, _)| n);
        *out.entry(name.unwrap_or(comment).to_string()).or_default() += 1;
    }
    out
}

/// `lp -t NAME`: the job's name is its title, which CUPS passes on.
fn lp_titled(queue: &str, name: &str, file: &std::path::Path) {
    let out = std::process::Command::new("lp")
        .args(["-d", queue, "-t", name, "-o", "print-color-mode=monochrome"])
        .arg(file)
        .output()
        .expect("lp");
    assert!(out.status.success(), "lp failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn start_client(client: &Client, port: u16) -> Watch {
    Watch::start(client, &["run", "--port", &port.to_string(), "--json"])
}

#[test]
fn documents_print_and_are_charged_once_while_client_and_server_are_killed() {
    let jobs = env_number("REAM_CHAOS_JOBS", 10) as usize;
    let seed = env_number("REAM_CHAOS_SEED", 20_261_201).max(1);
    eprintln!("chaos: {jobs} jobs, REAM_CHAOS_SEED={seed}");
    let mut dice = Dice(seed);

    let printer = Printer::start("Chaos");
    let site = Site::with_printer("", &printer.name, &printer.uri(), &[&["Direct"]]);
    let mut server = site.serve();
    let client = Client::new();
    client.run(&["connect", "--server", &server.url, "--json"], "").json();
    client.run(&["login", "--method", "pin", "--remember", "always", "--json"], "1234\n").json();
    let port = free_port();
    let mut run = Some(start_client(&client, port));
    run.as_ref().unwrap().expect(Duration::from_secs(30), "the account", |v| credit_of(v) == Some(2_000));
    let queue = CupsQueue(format!("Ream-chaos-{port}"));
    let r = client.run(&["cups", "install", "--port", &port.to_string(), "--name", &queue.0, "--json"], "");
    assert!(r.ok, "{}", r.stderr);

    let dir = tempfile::tempdir().unwrap();
    let mut sent: HashMap<String, Vec<u8>> = HashMap::new();
    let (mut client_kills, mut server_kills) = (0, 0);
    for i in 0..jobs {
        let name = format!("chaos-{i:04}");
        let bytes = pdf::labelled(&name);
        let path = dir.path().join(format!("{name}.pdf"));
        std::fs::write(&path, &bytes).unwrap();
        lp_titled(&queue.0, &name, &path);
        sent.insert(name.clone(), bytes);
        // Let the job get some way (or none) before something dies.
        sleep(dice.below(400));
        let trace = std::env::var_os("REAM_TEST_TRACE").is_some();
        match dice.below(4) {
            0 => {
                drop(run.take());
                client_kills += 1;
                if trace {
                    eprintln!("chaos: after {name}: client killed");
                }
            }
            1 => {
                server.stop();
                server_kills += 1;
                if trace {
                    eprintln!("chaos: after {name}: server killed");
                }
            }
            _ => {}
        }
        sleep(dice.below(300));
        if run.is_none() {
            run = Some(start_client(&client, port));
        }
        if server.pid().is_none() {
            server.resume();
        }
    }
    // Every run ends with one kill of each, whatever the dice said.
    drop(run.take());
    server.stop();
    server.resume();
    let _run = start_client(&client, port);
    client_kills += 1;
    server_kills += 1;

    // Done once every document reached the printer and every job is settled; a run
    // that loses a job would wait here for ever, so the wait is bounded generously.
    let deadline = Instant::now() + Duration::from_secs(120 + 6 * jobs as u64);
    loop {
        let arrived = received(&printer, &sent);
        let listed = get(&server, "/api/v1/me/jobs");
        let settled = listed["jobs"].as_array().is_some_and(|l| {
            l.len() >= jobs.min(100)
                && l.iter().all(|j| {
                    !["printing", "held", "waiting_for_user"].contains(&j["state"].as_str().unwrap_or(""))
                })
        });
        if (sent.keys().all(|n| arrived.contains_key(n)) && settled) || Instant::now() > deadline {
            break;
        }
        sleep(200);
    }

    let arrived = received(&printer, &sent);
    let charged = charges(&server);
    let mut tally = Tally::default();
    for name in sent.keys() {
        match arrived.get(name).copied().unwrap_or(0) {
            0 => tally.lost += 1,
            1 => tally.printed_once += 1,
            _ => tally.printed_twice_or_more += 1,
        }
        match charged.get(name).copied().unwrap_or(0) {
            0 => tally.uncharged += 1,
            1 => tally.charged_once += 1,
            _ => tally.charged_twice_or_more += 1,
        }
    }
    let strangers: Vec<&String> = arrived.keys().filter(|n| !sent.contains_key(*n)).collect();
    eprintln!(
        "chaos: {jobs} jobs, {client_kills} client kills, {server_kills} server kills: printed once {}, printed twice or more {}, lost {}, charged once {}, charged twice or more {}, uncharged {}",
        tally.printed_once,
        tally.printed_twice_or_more,
        tally.lost,
        tally.charged_once,
        tally.charged_twice_or_more,
        tally.uncharged
    );
    let clean = Tally { printed_once: jobs, charged_once: jobs, ..Tally::default() };
    assert_eq!(tally, clean, "seed {seed}; printed {arrived:?}; charged {charged:?}");
    assert!(strangers.is_empty(), "documents nobody sent: {strangers:?}");
    let balance = get(&server, "/api/v1/me")["credit_cents"].as_i64();
    assert_eq!(balance, Some(2_000 - 5 * jobs as i64), "one mono page each, charged once");
}
