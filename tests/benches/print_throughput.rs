//! Throughput and peak memory of a large job's path: a PDF streamed into the client's
//! local IPP printer (`ream run`) and on to the server, which spools it and counts its
//! pages. `cargo bench -p ream-system-tests` sends 1 GiB; under `cargo test` (no
//! `--bench`) the same path runs with 16 MiB, as a smoke test.
//!
//! Reported: size, time from the first byte sent to the server's acceptance, throughput,
//! and the peak resident memory (VmHWM) of the client and the server processes. Bounded
//! memory means those peaks stay far below the document's size.

use std::io::Read;
use std::time::{Duration, Instant};

use ipp::prelude::*;
use ream_system_tests::client::{credit_of, Client, Watch};
use ream_system_tests::server::Site;
use ream_system_tests::{free_port, pdf, peak_rss_kib};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (pages, per_page) = if full { (256, 4 << 20) } else { (16, 1 << 20) };

    // The printer is never reached: the queue holds jobs until released.
    let site =
        Site::with_printer("", "Nowhere", "ipp://127.0.0.1:9/ipp/print", &[&["Hold", "--release", "pull"]]);
    // Enough credit for the largest document (256 colour pages at 0.20).
    site.admin(&["credit", "top-up", "alice", "100"], "");
    let server = site.serve();
    let client = Client::new();
    client.run(&["connect", "--server", &server.url, "--json"], "").json();
    client.run(&["login", "--method", "pin", "--remember", "always", "--json"], "1234\n").json();
    let port = free_port();
    let run = Watch::start(&client, &["run", "--port", &port.to_string(), "--json"]);
    run.expect(Duration::from_secs(10), "the account", |v| credit_of(v).is_some());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.pdf");
    let size = pdf::write_large(&path, pages, per_page).unwrap();

    let uri = format!("ipp://127.0.0.1:{port}/ipp/print");
    let mut req =
        IppRequestResponse::new(IppVersion::v1_1(), Operation::PrintJob, Some(uri.parse().unwrap())).unwrap();
    let name = |n: &str| ipp::value::IppName::new(n).unwrap();
    let attrs = req.attributes_mut();
    attrs.add(
        DelimiterTag::OperationAttributes,
        IppAttribute::new(name("job-name"), IppValue::new_name_without_language("large.pdf").unwrap()),
    );
    attrs.add(
        DelimiterTag::OperationAttributes,
        IppAttribute::new(name("document-format"), IppValue::new_mime_media_type("application/pdf").unwrap()),
    );
    let body = std::io::Cursor::new(req.to_bytes().to_vec()).chain(std::fs::File::open(&path).unwrap());

    let started = Instant::now();
    let resp = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(3_600))
        .build()
        .unwrap()
        .post(format!("http://127.0.0.1:{port}/ipp/print"))
        .header("content-type", "application/ipp")
        .body(reqwest::blocking::Body::new(body))
        .send()
        .unwrap();
    assert!(resp.status().is_success());
    let submitted = run.expect(Duration::from_secs(3_600), "the job at the server", |v| {
        v["type"] == "job_submitted" || v["type"] == "job_refused"
    });
    let elapsed = started.elapsed();
    assert_eq!(submitted["type"], "job_submitted", "{submitted}");
    assert_eq!(submitted["job"]["pages"], pages as i64, "{submitted}");

    let mib = size as f64 / (1024.0 * 1024.0);
    let client_peak = peak_rss_kib(run.pid()).unwrap_or(0) / 1024;
    let server_peak = server.pid().and_then(peak_rss_kib).unwrap_or(0) / 1024;
    println!("document:         {mib:.0} MiB, {pages} pages");
    println!("client to server: {:.2} s, {:.0} MiB/s", elapsed.as_secs_f64(), mib / elapsed.as_secs_f64());
    println!("peak memory:      client {client_peak} MiB, server {server_peak} MiB");
    // Bounded memory: neither process may hold the document.
    assert!(client_peak < 200 && server_peak < 200, "memory grew with the document");
}
