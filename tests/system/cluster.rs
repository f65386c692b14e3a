//! Several `ream-server` instances over one real PostgreSQL database, each with its own
//! data directory, sharing their keys and a spool folder (as a network file system would
//! be shared), delivering to a real printer (`ippeveprinter`): every job printed once and
//! charged once, whichever instance took it, started, or died.

use std::time::{Duration, Instant};

use ream_system_tests::pdf;
use ream_system_tests::printer::Printer;
use ream_system_tests::server::{ServerProcess, Site};
use serde_json::{json, Value};

/// What the instances share: the database, the keys and the spool folder.
struct Shared {
    database: String,
    dir: tempfile::TempDir,
}

impl Shared {
    fn new() -> Shared {
        let database =
            tokio::runtime::Runtime::new().unwrap().block_on(ream_system_tests::postgres_database());
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("spool")).unwrap();
        // Made once, by the administrator, and given to every instance.
        std::fs::write(dir.path().join("server.key"), "5a".repeat(32)).unwrap();
        std::fs::write(dir.path().join("spool.key"), "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=").unwrap();
        Shared { database, dir }
    }

    /// Until no job's delivery lease is still held (by the clock the servers use).
    fn wait_for_leases_to_run_out(&self) {
        let database = self.database.clone();
        tokio::runtime::Runtime::new().unwrap().block_on(async move {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&database).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
                let held: i64 = sqlx::query_scalar(
                    "SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE state = 'printing' AND lease_until_ms >= $1",
                )
                .bind(now)
                .fetch_one(&pool)
                .await
                .unwrap();
                if held == 0 {
                    return;
                }
                assert!(Instant::now() < deadline, "{held} leases still held a minute after their instance died");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }

    /// The configuration of instance `id` (leases of two seconds, so that a dead
    /// instance's jobs are taken up soon).
    fn instance(&self, id: &str) -> String {
        let d = self.dir.path().display();
        format!(
            "database_url = \"{}\"\nsecret_key_file = \"{d}/server.key\"\n\
             [cluster]\ninstance_id = \"{id}\"\nspool_key_file = \"{d}/spool.key\"\nspool_dir = \"{d}/spool\"\nlease_seconds = 2\n",
            self.database
        )
    }
}

fn submit(server: &ServerProcess, token: &str, name: &str) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/jobs", server.url))
        .bearer_auth(token)
        .header("x-ream-job", json!({ "name": name, "queue": "Direct" }).to_string())
        .body(pdf::pages(1))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "submit {name}: {}", r.status());
}

fn get(server: &ServerProcess, token: &str, path: &str) -> Value {
    let r = reqwest::blocking::Client::new()
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "GET {path}: {}", r.status());
    r.json().unwrap()
}

/// Waits until every one of the user's jobs is printed (none failed), for at most two
/// minutes; the jobs.
fn all_printed(server: &ServerProcess, token: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let jobs = get(server, token, "/api/v1/me/jobs")["jobs"].as_array().unwrap().clone();
        assert!(!jobs.iter().any(|j| j["state"] == "failed"), "a job failed: {jobs:?}");
        if jobs.len() == count && jobs.iter().all(|j| j["state"] == "printed") {
            return jobs;
        }
        assert!(Instant::now() < deadline, "not all printed: {jobs:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn fifty_jobs_printing_when_two_instances_start_together_print_once_and_are_charged_once() {
    let shared = Shared::new();
    // The printer hangs: the jobs wait in `printing`, none sent yet.
    let printer = Printer::start("Hall");
    printer.hang();
    let a = Site::with_printer(&shared.instance("a"), "Hall", &printer.uri(), &[&["Direct"]]);
    let b = Site::new("127.0.0.1:0", &shared.instance("b"));
    let mut server_a = a.serve();
    let alice = server_a.access_token(json!({ "method": "pin", "pin": "1234" }));
    let credit = get(&server_a, &alice, "/api/v1/me")["credit_cents"].as_i64().unwrap();
    for n in 0..50 {
        submit(&server_a, &alice, &format!("job-{n}.pdf"));
    }
    // A dies with fifty jobs on their way (none sent: the printer never answered); their
    // leases run out while it is down, and the printer comes back.
    server_a.stop();
    shared.wait_for_leases_to_run_out();
    printer.wake();

    // Both start at once: each takes up what it can claim.
    let config_b = b.config.to_str().unwrap().to_string();
    let (server_a, server_b) = std::thread::scope(|s| {
        let again = s.spawn(move || {
            server_a.resume();
            server_a
        });
        let other = s.spawn(|| ServerProcess::start(&["serve", "--config", &config_b]));
        (again.join().unwrap(), other.join().unwrap())
    });

    let jobs = all_printed(&server_b, &alice, 50);
    assert_eq!(jobs.len(), 50);
    // Each printed once: fifty documents at the printer once all fifty are printed, and
    // fifty charges. (A second send after that would need a deliverer stalled for a whole
    // lease between noting its floor and sending; nothing here stalls one.)
    let deadline = Instant::now() + Duration::from_secs(30);
    while printer.documents().len() < 50 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(printer.documents().len(), 50, "printed more or less than once each");
    let charged: i64 = jobs.iter().map(|j| j["price_cents"].as_i64().unwrap()).sum();
    assert!(charged > 0);
    assert_eq!(get(&server_a, &alice, "/api/v1/me")["credit_cents"].as_i64().unwrap(), credit - charged);
    drop(server_b);
}

#[test]
fn a_job_whose_instance_is_killed_while_the_printer_prints_it_is_finished_by_another_once() {
    let shared = Shared::new();
    // Five seconds a job: the instance dies while the printer has it.
    let printer = Printer::slow("Studio", 5);
    let a = Site::with_printer(&shared.instance("a"), "Studio", &printer.uri(), &[&["Direct"]]);
    let b = Site::new("127.0.0.1:0", &shared.instance("b"));
    let mut server_a = a.serve();
    let server_b = ServerProcess::start(&["serve", "--config", b.config.to_str().unwrap()]);
    let alice = server_b.access_token(json!({ "method": "pin", "pin": "1234" }));
    let credit = get(&server_b, &alice, "/api/v1/me")["credit_cents"].as_i64().unwrap();

    submit(&server_a, &alice, "poster.pdf");
    let deadline = Instant::now() + Duration::from_secs(60);
    while printer.documents().is_empty() {
        assert!(Instant::now() < deadline, "the printer never got the job");
        std::thread::sleep(Duration::from_millis(50));
    }
    server_a.stop(); // SIGKILL, in the middle of the delivery

    // B takes it up once A's lease has run out, and follows it on the printer.
    let jobs = all_printed(&server_b, &alice, 1);
    assert_eq!(jobs[0]["name"], "poster.pdf");
    assert_eq!(printer.documents().len(), 1, "sent to the printer once");
    let price = jobs[0]["price_cents"].as_i64().unwrap();
    assert!(price > 0);
    assert_eq!(get(&server_b, &alice, "/api/v1/me")["credit_cents"].as_i64().unwrap(), credit - price);
}
