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

/// A loopback port nobody listens on, for a process a test starts to bind. Taken below
/// the kernel's ephemeral range (`net.ipv4.ip_local_port_range`, 32768–60999 by
/// default), where outgoing connections take their local ports: a port the kernel hands
/// out for binding port 0 is free again once that listener closes, and a connection of
/// the busy machine may take it before the process it was given to binds it (seen under
/// load: `ream run` ending on "address in use", its printer never there). Each pick of
/// this test process is a port it has not picked before (a counter from a start that
/// differs between processes), checked free by binding it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const FIRST: u32 = 10_000;
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let count = ephemeral.saturating_sub(FIRST);
    if count < 1_000 {
        // No room below the ephemeral range on this machine: the kernel's pick, then.
        return std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    }
    let start = std::process::id().wrapping_mul(7919) % count;
    for _ in 0..count {
        let port = (FIRST + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % count) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port below the ephemeral range");
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
