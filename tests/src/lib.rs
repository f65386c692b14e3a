//! Helpers for the system tests: the real `ream-server`, `ream` and `ream-desktop`
//! binaries (built by `cargo build --workspace`, which `scripts/test` runs first),
//! throwaway PostgreSQL databases, the OS keyring, and WebDriver for the desktop app.

pub mod client;
pub mod desktop;
pub mod haproxy;
pub mod pdf;
pub mod printer;
pub mod procs;
pub mod s3;
pub mod server;
pub mod x11;

use std::path::PathBuf;

/// A binary of the workspace, from the target directory these tests were built in.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps");
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing: build the workspace first (scripts/test does)", path.display());
    path
}

#[path = "postgres.rs"]
mod postgres;
pub use postgres::postgres_database;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn sleep(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

/// The peak resident memory of a running process, in KiB (Linux `VmHWM`).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
