//! The print path, side by side with CUPS on the same machine and the same file:
//! - a large PDF taken in: by `cupsd` into a held queue (`lp -H hold`), and by the
//!   client's local IPP printer (`ream run`) from CUPS' own `ipp` backend, then on to
//!   the server, which spools it and counts its pages (the job's acceptance);
//! - a one-page job from `lp` to a real printer's spool (`ippeveprinter`), through a Ream
//!   queue (CUPS → client → server → printer) and through a plain CUPS queue to the same
//!   printer; the median of several.
//!
//! `cargo bench -p ream-system-tests` sends 1 GiB; under `cargo test` (no `--bench`) the
//! same paths run with 4 MiB and one small job each, as a smoke test. Reported: times,
//! throughputs, their ratios to CUPS' (the anchors of issue #14: the client takes a large
//! job at least 1.2× as fast as `cupsd`, the whole way to acceptance at least half as
//! fast; a one-page job at most 1.5× as slow as through plain CUPS), and the peak resident
//! memory (VmHWM) of the client and the server while the document goes through.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ream_system_tests::client::{credit_of, Client, Watch};
use ream_system_tests::printer::{CupsQueue, Printer};
use ream_system_tests::server::{ServerProcess, Site};
use ream_system_tests::{free_port, pdf, peak_rss_kib};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (pages, per_page) = if full { (256, 4 << 20) } else { (4, 1 << 20) };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.pdf");
    let size = pdf::write_large(&path, pages, per_page).unwrap();
    let mib = size as f64 / (1024.0 * 1024.0);
    // Both sides read it from the page cache.
    std::io::copy(&mut std::fs::File::open(&path).unwrap(), &mut std::io::sink()).unwrap();

    let cups = cupsd_takes(&path);
    let ream = ream_takes(&path, pages);
    let (through_ream, through_cups) = one_page(if full { 11 } else { 1 });

    if !full {
        println!("smoke run (a small document, a debug build): the figures below mean nothing");
    }
    let rate = |secs: f64| mib / secs;
    println!("document:              {mib:.0} MiB, {pages} pages");
    println!("cupsd, into a held queue: {:>7.2} s  {:>6.0} MiB/s", cups, rate(cups));
    println!(
        "ream client takes it:     {:>7.2} s  {:>6.0} MiB/s  {:.2}x cupsd (anchor: at least 1.2x)",
        ream.taken,
        rate(ream.taken),
        cups / ream.taken
    );
    println!(
        "to the server's acceptance: {:>5.2} s  {:>6.0} MiB/s  {:.2}x cupsd (anchor: at least 0.5x)",
        ream.accepted,
        rate(ream.accepted),
        cups / ream.accepted
    );
    println!(
        "peak memory:           client {} MiB, server {} MiB (anchor: under 32 MiB each)",
        ream.client_mib, ream.server_mib
    );
    println!(
        "one page, lp to the printer's spool: through Ream {:.0} ms, plain CUPS {:.0} ms: {:.2}x (anchor: at most 1.5x)",
        through_ream * 1000.0,
        through_cups * 1000.0,
        through_ream / through_cups
    );
    // Bounded memory: neither process may hold the document.
    assert!(ream.client_mib < 200 && ream.server_mib < 200, "memory grew with the document");
}

/// Seconds `lp` takes to hand `path` to `cupsd`, into a queue that holds it.
fn cupsd_takes(path: &Path) -> f64 {
    let queue = CupsQueue(format!("Bench-held-{}", free_port()));
    // A raw queue whose device is never reached: the job is held.
    let made = Command::new("lpadmin")
        .args([
            "-p",
            &queue.0,
            "-E",
            "-v",
            "socket://127.0.0.1:9",
            "-m",
            "raw",
            "-o",
            "printer-is-shared=false",
        ])
        .output()
        .unwrap();
    assert!(made.status.success(), "lpadmin: {}", String::from_utf8_lossy(&made.stderr));
    let started = Instant::now();
    let out =
        Command::new("lp").args(["-d", &queue.0, "-H", "hold", "-o", "raw"]).arg(path).output().unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "lp: {}", String::from_utf8_lossy(&out.stderr));
    let _ = Command::new("cancel").args(["-a", "-x", &queue.0]).output();
    secs
}

struct ReamFigures {
    /// Until CUPS' ipp backend was done: the document is the client's.
    taken: f64,
    /// Until the server accepted it (spooled, counted, priced).
    accepted: f64,
    client_mib: u64,
    server_mib: u64,
}

/// alice's logged-in client, running (`ream run`) with its printer on a free port.
fn running_client(server: &ServerProcess) -> (Client, Watch, u16) {
    let client = Client::new();
    client.run(&["connect", "--server", &server.url, "--json"], "").json();
    client.run(&["login", "--method", "pin", "--remember", "always", "--json"], "1234\n").json();
    let port = free_port();
    let run = Watch::start(&client, &["run", "--port", &port.to_string(), "--json"]);
    run.expect(Duration::from_secs(10), "the account", |v| credit_of(v).is_some());
    (client, run, port)
}

/// The document sent to the client's local printer as CUPS' `ipp` backend would.
fn ream_takes(path: &Path, pages: usize) -> ReamFigures {
    // The printer is never reached: the queue holds jobs until released.
    let site =
        Site::with_printer("", "Nowhere", "ipp://127.0.0.1:9/ipp/print", &[&["Hold", "--release", "pull"]]);
    // Enough credit for the largest document (256 colour pages at 0.20).
    site.admin(&["credit", "top-up", "alice", "100"], "");
    let server = site.serve();
    let (client, run, port) = running_client(&server);

    // CUPS' own ipp backend sends it, as cupsd runs it for a Ream queue's job; the
    // client has it once its spool file is complete (renamed from `.part` to `.spool`).
    // The backend itself ends some seconds later, when its monitor stops polling.
    let spool = client.cache_dir().join("spool");
    let complete = || {
        std::fs::read_dir(&spool)
            .map(|d| d.flatten().any(|e| e.path().extension().is_some_and(|x| x == "spool")))
            .unwrap_or(false)
    };
    // The peaks from here on: the print path's, not the login's (its password hash takes
    // memory by design). Writing 5 to clear_refs resets a process's VmHWM (Linux).
    for pid in [Some(run.pid()), server.pid()].into_iter().flatten() {
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the peak memory");
    }
    let started = Instant::now();
    let mut backend = Command::new("/usr/lib/cups/backend/ipp")
        .args(["1", "bench", "large.pdf", "1", ""])
        .arg(path)
        .env("DEVICE_URI", format!("ipp://127.0.0.1:{port}/ipp/print?waitjob=false"))
        .env("CONTENT_TYPE", "application/pdf")
        .env("FINAL_CONTENT_TYPE", "application/pdf")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while !complete() {
        assert!(backend.try_wait().unwrap().is_none_or(|s| s.success()), "the ipp backend failed");
        assert!(started.elapsed() < Duration::from_secs(3_600), "the client never had the document");
        std::thread::sleep(Duration::from_millis(5));
    }
    let taken = started.elapsed().as_secs_f64();
    let submitted = run.expect(Duration::from_secs(3_600), "the job at the server", |v| {
        v["type"] == "job_submitted" || v["type"] == "job_refused"
    });
    let accepted = started.elapsed().as_secs_f64();
    assert_eq!(submitted["type"], "job_submitted", "{submitted}");
    assert_eq!(submitted["job"]["pages"], pages as i64, "{submitted}");
    assert!(backend.wait().unwrap().success(), "the ipp backend failed");
    ReamFigures {
        taken,
        accepted,
        client_mib: peak_rss_kib(run.pid()).unwrap_or(0) / 1024,
        server_mib: server.pid().and_then(peak_rss_kib).unwrap_or(0) / 1024,
    }
}

/// Whether CUPS has no job left in `queue` (`lpstat -o` lists none).
fn queue_empty(queue: &str) -> bool {
    let out = Command::new("lpstat").args(["-o", queue]).output().unwrap();
    out.status.success() && out.stdout.is_empty()
}

/// The median seconds from `lp` to a one-page document in the printer's spool, through
/// a Ream queue and through a plain CUPS queue to the same printer, over `runs` each.
fn one_page(runs: usize) -> (f64, f64) {
    let printer = Printer::start("BenchOnePage");
    let site = Site::with_printer("", "Bench", &printer.uri(), &[&["Direct"]]);
    let server = site.serve();
    // Kept running for the whole measurement.
    let (client, _run, port) = running_client(&server);
    let ream = CupsQueue(format!("Bench-ream-{port}"));
    let r = client.run(&["cups", "install", "--port", &port.to_string(), "--name", &ream.0, "--json"], "");
    assert!(r.ok, "{}", r.stderr);
    let plain = CupsQueue(format!("Bench-plain-{port}"));
    let made = Command::new("lpadmin")
        .args([
            "-p",
            &plain.0,
            "-E",
            "-v",
            &printer.uri(),
            "-m",
            "everywhere",
            "-o",
            "printer-is-shared=false",
        ])
        .output()
        .unwrap();
    assert!(made.status.success(), "lpadmin: {}", String::from_utf8_lossy(&made.stderr));

    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("one.pdf");
    std::fs::write(&document, pdf::pages(1)).unwrap();
    let time = |queue: &str| {
        // The printer done with the previous job (CUPS' ipp backend waits for an idle
        // printer), and no job left in either queue (a backend follows its job on the
        // printer for a while after sending it, and the queue's next job waits for it):
        // either would charge one job for another.
        let idle = Instant::now();
        while printer.state() != Some(3) || !queue_empty(&ream.0) || !queue_empty(&plain.0) {
            assert!(idle.elapsed() < Duration::from_secs(120), "the printer never became idle");
            std::thread::sleep(Duration::from_millis(5));
        }
        let before = printer.documents().len();
        let started = Instant::now();
        let out = Command::new("lp")
            .args(["-d", queue, "-o", "print-color-mode=monochrome"])
            .arg(&document)
            .output()
            .unwrap();
        assert!(out.status.success(), "lp: {}", String::from_utf8_lossy(&out.stderr));
        // Looked for every millisecond: the figures are tens of milliseconds.
        while printer.documents().len() == before {
            assert!(started.elapsed() < Duration::from_secs(120), "the job never reached the printer");
            std::thread::sleep(Duration::from_millis(1));
        }
        started.elapsed().as_secs_f64()
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // Each first run warms its path up (the driver, the connections); then alternately.
    time(&ream.0);
    time(&plain.0);
    let (mut through_ream, mut through_cups) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        through_ream.push(time(&ream.0));
        through_cups.push(time(&plain.0));
    }
    (median(through_ream), median(through_cups))
}
