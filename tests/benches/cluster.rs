//! Server instances under load, release build, over loopback (issue #13's benchmark):
//! two `ream-server` instances over one real PostgreSQL database and an S3-compatible
//! store (s3s-fs, in this process), with HAProxy in front where two are compared with
//! one. Arrivals are open-loop (each request leaves at its time, whether or not the
//! earlier ones were answered, and its latency counts from that time), from clients
//! spread over 127.0.0.2 to 127.0.0.201. It reports:
//! - logins (PIN, an argon2 check each) per second and their p99, at rising rates;
//! - job registrations (a one-page PDF into a held queue: counted, encrypted, stored in
//!   the object store, its price reserved) per second and their p99, at rising rates;
//!   both spread over forty people;
//! - push latency, from a top-up's request to its event on every socket, with the
//!   sockets on the instance that took the top-up and on the other one;
//! - one instance's memory with 1,000, 5,000 and 10,000 idle push channels, and its CPU
//!   while they idle;
//! - two instances behind HAProxy against one behind it.
//!
//! Anchors (issue #13): at least 150 registrations/s, p99 under 250 ms at 120/s; 10,000
//! idle WebSockets in under 160 MB; push p99 under 50 ms across instances.
//!
//! `cargo bench -p ream-system-tests --bench cluster` runs it in full (`scripts/bench
//! cluster`); under `cargo test` (no `--bench`) it runs once through at a trickle, as a
//! smoke test whose figures mean nothing.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ream_system_tests::haproxy::Haproxy;
use ream_system_tests::pdf;
use ream_system_tests::printer::Printer;
use ream_system_tests::s3::S3Server;
use ream_system_tests::server::{ServerProcess, Site};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Client addresses: 127.0.0.2 and up.
const SOURCES: u8 = 200;

struct Plan {
    full: bool,
    seconds: f64,
    login_rates: Vec<f64>,
    job_rates: Vec<f64>,
    push_rounds: usize,
    push_sockets: usize,
    idle_levels: Vec<usize>,
    idle_cpu_seconds: u64,
    compare_rates: Vec<f64>,
    /// `REAM_BENCH_PARTS` (`load,push,sockets,compare`, all by default): what runs.
    parts: Vec<String>,
}

impl Plan {
    fn new(full: bool) -> Plan {
        if full {
            Plan {
                full,
                seconds: 10.0,
                login_rates: vec![20.0, 40.0, 60.0, 80.0],
                job_rates: vec![60.0, 120.0, 150.0, 200.0, 250.0],
                push_rounds: 200,
                push_sockets: 1,
                idle_levels: vec![1_000, 5_000, 10_000],
                idle_cpu_seconds: 10,
                compare_rates: vec![150.0, 200.0],
                parts: parts(),
            }
        } else {
            Plan {
                full,
                seconds: 1.0,
                login_rates: vec![4.0],
                job_rates: vec![8.0],
                push_rounds: 2,
                push_sockets: 2,
                idle_levels: vec![20],
                idle_cpu_seconds: 1,
                compare_rates: vec![8.0],
                parts: parts(),
            }
        }
    }
}

fn parts() -> Vec<String> {
    let parts = std::env::var("REAM_BENCH_PARTS").unwrap_or_else(|_| "load,push,sockets,compare".into());
    parts.split(',').map(str::to_owned).collect()
}

impl Plan {
    fn runs(&self, part: &str) -> bool {
        self.parts.iter().any(|p| p == part)
    }

    /// Between two rates, in a full run: waits until PostgreSQL is quiet (no statement
    /// running but this one, no autovacuum worker), so that what the last rate left (a
    /// backlog past capacity, the vacuuming of what it wrote) is not counted against the
    /// next.
    async fn settle(&self, database: &str) {
        if !self.full {
            return;
        }
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(database).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let busy: i64 = sqlx::query_scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM pg_stat_activity WHERE pid <> pg_backend_pid() \
                 AND (state = 'active' OR backend_type = 'autovacuum worker')",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            if busy == 0 {
                break;
            }
            if Instant::now() > deadline {
                println!("  (PostgreSQL still busy after five minutes: {busy} backends; going on)");
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        pool.close().await;
    }
}

fn main() {
    let plan = Plan::new(std::env::args().any(|a| a == "--bench"));
    // Ten thousand sockets need as many files open here as in the server.
    ream_server::server::raise_open_files_limit();
    // Past its capacity a server warns of every slow statement: only errors are shown.
    if std::env::var_os("REAM_TEST_SERVER_LOG").is_none() {
        std::env::set_var("REAM_TEST_SERVER_LOG", "error");
    }
    // The driver keeps to one thread: the machine's cores are for the servers.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let database = runtime.block_on(ream_system_tests::postgres_database());
    let keys = tempfile::tempdir().unwrap();
    std::fs::write(keys.path().join("server.key"), "5a".repeat(32)).unwrap();
    std::fs::write(keys.path().join("spool.key"), "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=").unwrap();
    let s3 = S3Server::start("ream");
    let instance = |id: &str| {
        let d = keys.path().display();
        format!(
            "database_url = \"{database}\"\nsecret_key_file = \"{d}/server.key\"\n\
             [security]\ntrusted_proxies = [\"127.0.0.1\"]\n\
             [cluster]\ninstance_id = \"{id}\"\nspool_key_file = \"{d}/spool.key\"\n{}",
            s3.config()
        )
    };
    let env = s3.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let serve = |site: &Site| {
        ServerProcess::start_with_env(&["serve", "--config", site.config.to_str().unwrap()], &env)
    };

    let printer = Printer::start("Bench");
    let a = Site::with_printer(&instance("a"), "Bench", &printer.uri(), &[&["Held", "--release", "pull"]]);
    let b = Site::new("127.0.0.1:0", &instance("b"));
    // The site's people: registrations and logins are spread over them, as at a site
    // (one user's jobs all reserve from the same account, one after the other).
    let people = if plan.full { 40 } else { 3 };
    let pins: Vec<String> = (0..people).map(|n| format!("{}", 700_000 + n)).collect();
    for (n, pin) in pins.iter().enumerate() {
        let name = format!("user{n:02}");
        a.admin(&["user", "add", &name, "--name", &format!("User {n}"), "--pin-stdin"], &format!("{pin}\n"));
        a.admin(&["credit", "top-up", &name, "100000"], "");
    }
    let mut server_a = serve(&a);
    let server_b = serve(&b);
    let driver = Driver::new();

    if !plan.full {
        println!("smoke run (a trickle, a debug build): the figures below mean nothing");
    }
    runtime.block_on(async {
        let mut tokens = Vec::new();
        for pin in &pins {
            tokens.push(driver.login(&server_a.url, json!({ "method": "pin", "pin": pin })).await);
        }
        let tokens = std::sync::Arc::new(tokens);
        let admin = driver
            .login(
                &server_a.url,
                json!({ "method": "password", "username": "admin", "password": "admin-demo" }),
            )
            .await;

        println!("one instance:");
        let load_rates =
            if plan.runs("load") { (&plan.login_rates[..], &plan.job_rates[..]) } else { (&[][..], &[][..]) };
        for &rate in load_rates.0 {
            let url = server_a.url.clone();
            let pins = pins.clone();
            let stats = driver
                .open_loop(rate, plan.seconds, move |n, http| {
                    let url = url.clone();
                    let pin = pins[n % pins.len()].clone();
                    async move {
                        let body = json!({ "credentials": { "method": "pin", "pin": pin } });
                        let r = http.post(format!("{url}/api/v1/auth/login")).json(&body).send().await;
                        r.is_ok_and(|r| r.status() == 200)
                    }
                })
                .await;
            println!("  logins, offered {rate}/s: {stats}");
            plan.settle(&database).await;
        }
        for &rate in load_rates.1 {
            let stats = driver.open_loop(rate, plan.seconds, register(&server_a.url, &tokens)).await;
            let anchor = if rate == 120.0 { " (anchor: p99 under 250 ms at 120/s)" } else { "" };
            println!("  job registrations, offered {rate}/s: {stats}{anchor}");
            plan.settle(&database).await;
        }
        if plan.runs("load") {
            println!("  (anchor: at least 150 job registrations/s)");
        }
        if !plan.runs("push") {
            return;
        }
        let same = push_latency(&driver, &server_a.url, &server_a.url, &admin, &plan, 0).await;
        println!("  push, top-up and sockets on one instance: {}", same.latencies());
        let across =
            push_latency(&driver, &server_a.url, &server_b.url, &admin, &plan, plan.push_rounds).await;
        println!("  push, top-up through A, sockets on B: {} (anchor: p99 under 50 ms)", across.latencies());
    });

    // Idle push channels, on an instance just started (memory freed by the runs above
    // would otherwise take the first sockets for nothing).
    server_a.stop();
    server_a.resume();
    // New connections: those kept open went with the process.
    let driver = Driver::new();
    runtime.block_on(async {
        if !plan.runs("sockets") {
            return;
        }
        let alice = driver.login(&server_a.url, json!({ "method": "pin", "pin": "1234" })).await;
        let pid = server_a.pid().unwrap();
        let addr: SocketAddr = server_a.url.strip_prefix("http://").unwrap().parse().unwrap();
        let mut sockets = Vec::new();
        open_sockets(&mut sockets, addr, &alice, 1).await;
        let base = rss_kib(pid);
        println!("idle push channels on one instance (RSS {:.1} MB with one):", mb(base));
        for &level in &plan.idle_levels {
            let more = level - sockets.len();
            open_sockets(&mut sockets, addr, &alice, more).await;
            let rss = rss_kib(pid);
            let each = (rss.saturating_sub(base)) as f64 * 1024.0 / (level - 1) as f64;
            println!("  {level}: RSS {:.1} MB, {:.1} KiB a socket", mb(rss), each / 1024.0);
        }
        let level = sockets.len();
        let before = cpu_ticks(pid);
        tokio::time::sleep(Duration::from_secs(plan.idle_cpu_seconds)).await;
        let used = (cpu_ticks(pid) - before) as f64 / ticks_per_second();
        println!(
            "  idle CPU with {level} sockets: {:.1}% of one core over {} s (anchor: 10,000 in under 160 MB)",
            100.0 * used / plan.idle_cpu_seconds as f64,
            plan.idle_cpu_seconds
        );
        drop(sockets);
    });

    // Two instances behind HAProxy against one.
    let compare_rates = if plan.runs("compare") { &plan.compare_rates[..] } else { &[][..] };
    for &rate in compare_rates {
        println!("behind HAProxy, job registrations offered {rate}/s:");
        for (label, backends) in [
            ("one instance", vec![server_a.url.as_str()]),
            ("two instances", vec![&server_a.url, &server_b.url]),
        ] {
            let proxy = Haproxy::start(&backends);
            runtime.block_on(async {
                let mut tokens = Vec::new();
                for pin in &pins {
                    tokens.push(driver.login(&proxy.url, json!({ "method": "pin", "pin": pin })).await);
                }
                let tokens = std::sync::Arc::new(tokens);
                let stats = driver.open_loop(rate, plan.seconds, register(&proxy.url, &tokens)).await;
                println!("  {label}: {stats}");
                plan.settle(&database).await;
            });
        }
    }
    println!("(one machine of 2 cores runs the instances, PostgreSQL, the object store and this driver)");
}

/// A job registration: a one-page PDF into the held queue, for the next of the people.
fn register(
    url: &str,
    tokens: &std::sync::Arc<Vec<String>>,
) -> impl Fn(usize, reqwest::Client) -> futures_util::future::BoxFuture<'static, bool> + Clone + 'static {
    let (url, tokens) = (url.to_owned(), tokens.clone());
    let document = pdf::pages(1);
    move |n, http| {
        let (url, token, document) = (url.clone(), tokens[n % tokens.len()].clone(), document.clone());
        Box::pin(async move {
            let r = http
                .post(format!("{url}/api/v1/jobs"))
                .bearer_auth(token)
                .header("x-ream-job", json!({ "name": "bench.pdf", "queue": "Held" }).to_string())
                .body(document)
                .send()
                .await;
            r.is_ok_and(|r| r.status() == 201)
        })
    }
}

struct Driver {
    /// One client per source address.
    clients: Vec<reqwest::Client>,
}

impl Driver {
    fn new() -> Driver {
        let clients = (0..SOURCES)
            .map(|n| {
                reqwest::Client::builder()
                    .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + n)))
                    .build()
                    .unwrap()
            })
            .collect();
        Driver { clients }
    }

    async fn login(&self, url: &str, credentials: Value) -> String {
        let r: Value = self.clients[0]
            .post(format!("{url}/api/v1/auth/login"))
            .json(&json!({ "credentials": credentials }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["access_token"].as_str().unwrap_or_else(|| panic!("login: {r}")).to_owned()
    }

    /// `rate` requests a second for `seconds`, each sent at its time from the next
    /// source address.
    async fn open_loop<F, Fut>(&self, rate: f64, seconds: f64, request: F) -> Stats
    where
        F: Fn(usize, reqwest::Client) -> Fut,
        Fut: std::future::Future<Output = bool> + Send + 'static,
    {
        let count = (rate * seconds).round().max(1.0) as usize;
        let start = tokio::time::Instant::now();
        let mut running = Vec::with_capacity(count);
        for n in 0..count {
            let at = start + Duration::from_secs_f64(n as f64 / rate);
            tokio::time::sleep_until(at).await;
            let sent = request(n, self.clients[n % self.clients.len()].clone());
            running.push(tokio::spawn(async move {
                let ok = sent.await;
                (ok, at.elapsed(), Instant::now())
            }));
        }
        let mut latencies = Vec::with_capacity(count);
        let (mut failed, mut last) = (0, Instant::now());
        for r in running {
            let (ok, latency, done) = r.await.unwrap();
            if ok {
                latencies.push(latency);
            } else {
                failed += 1;
            }
            last = last.max(done);
        }
        let elapsed = last.duration_since(start.into_std()).as_secs_f64();
        Stats::of(latencies, failed, elapsed)
    }
}

struct Stats {
    done: usize,
    failed: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(mut latencies: Vec<Duration>, failed: usize, elapsed: f64) -> Stats {
        latencies.sort();
        let at = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        Stats {
            done: latencies.len(),
            failed,
            per_second: latencies.len() as f64 / elapsed.max(1e-9),
            p50: at(0.50),
            p99: at(0.99),
            max: latencies.last().copied().unwrap_or_default(),
        }
    }
}

impl Stats {
    /// Only the latencies (of events, not of requests at a rate).
    fn latencies(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        format!(
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} events",
            ms(self.p50),
            ms(self.p99),
            ms(self.max),
            self.done
        )
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "{:.1}/s done ({} answered, {} failed), p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.per_second,
            self.done,
            self.failed,
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A push channel for `token` to the server at `addr`, from the `n`th source address.
async fn socket(addr: SocketAddr, token: &str, n: usize) -> Socket {
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (n % SOURCES as usize) as u8)), 0))
        .unwrap();
    let stream = tcp.connect(addr).await.unwrap();
    let mut req = format!("ws://{addr}/api/v1/me/events").into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::client_async(req, stream).await.expect("push channel").0
}

/// Opens `more` idle sockets, a hundred at a time, each read to its end by a task of
/// its own (as a client does: it answers the server's pings). Each has had the account
/// the server sends first: the server is done with it and it is idle.
async fn open_sockets(
    sockets: &mut Vec<tokio::task::JoinHandle<()>>,
    addr: SocketAddr,
    token: &str,
    more: usize,
) {
    let from = sockets.len();
    let opened: Vec<Socket> = futures_util::stream::iter(from..from + more)
        .map(|n| async move {
            let mut ws = socket(addr, token, n).await;
            let first = ws.next().await.expect("the account, first").expect("the account, first");
            assert!(matches!(first, Message::Text(_)), "{first:?}");
            ws
        })
        .buffer_unordered(100)
        .collect()
        .await;
    for mut ws in opened {
        sockets.push(tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} }));
    }
}

/// From a top-up's request through `top_up_url` to its account event on each of the
/// plan's sockets held on `sockets_url`, over the plan's rounds.
async fn push_latency(
    driver: &Driver,
    top_up_url: &str,
    sockets_url: &str,
    admin: &str,
    plan: &Plan,
    already: usize,
) -> Stats {
    let bob = driver.login(sockets_url, json!({ "method": "pin", "pin": "5678" })).await;
    let addr: SocketAddr = sockets_url.strip_prefix("http://").unwrap().parse().unwrap();
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel::<(i64, Instant)>();
    let mut readers = Vec::new();
    for n in 0..plan.push_sockets {
        let mut ws = socket(addr, &bob, n).await;
        let events = events.clone();
        readers.push(tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(text) = msg {
                    let event: Value = serde_json::from_str(&text).unwrap();
                    if event["type"] == "account" {
                        let _ =
                            events.send((event["account"]["credit_cents"].as_i64().unwrap(), Instant::now()));
                    }
                }
            }
        }));
    }
    // Each socket's first event: the account as it is.
    for _ in 0..plan.push_sockets {
        received.recv().await.unwrap();
    }
    let http = &driver.clients[0];
    let mut latencies = Vec::new();
    for round in 0..plan.push_rounds {
        let expected = (already + round + 1) as i64;
        let sent = Instant::now();
        let r = http
            .post(format!("{top_up_url}/api/v1/admin/users/bob/credit/top-up"))
            .bearer_auth(admin)
            .json(&json!({ "amount_cents": 1 }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "top-up: {}", r.status());
        let mut seen = 0;
        while seen < plan.push_sockets {
            let (credit, at) = tokio::time::timeout(Duration::from_secs(30), received.recv())
                .await
                .expect("a push event")
                .unwrap();
            if credit == expected {
                latencies.push(at - sent);
                seen += 1;
            }
        }
    }
    for r in readers {
        r.abort();
    }
    Stats::of(latencies, 0, 1.0)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// User and system CPU time of the process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command (in parentheses, which may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the command.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf reads a constant of the system.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}
