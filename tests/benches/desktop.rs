//! The desktop app as it sits on every employee's computer, release build, under the X
//! display the bench runs in, against a real server:
//! - start-up: from the launch (the WebDriver session that starts the app is asked for)
//!   to the login screen shown, the median of several launches;
//! - memory with the window open at the login screen;
//! - memory in the tray: started hidden (as the session's autostart does), and after
//!   the window was opened (by starting the app again) and closed (its close button).
//!
//! Memory is what all of Ream's processes hold together (the client `ream-desktop`, its
//! window `ream-window` while the window is open, and WebKit's web and network processes
//! under it): the sum of their proportional set sizes (Pss: a shared page
//! divided among the processes that map it), with the sum of resident sizes (Rss, shared
//! pages counted in each) beside it. The anchors of issue #14: in the tray under 60 MB,
//! the window open under 200 MB, the login screen within 1 s.
//!
//! `cargo bench -p ream-system-tests --bench desktop` runs it in full; under `cargo test`
//! (no `--bench`) it runs once through, as a smoke test whose figures mean nothing.

use std::time::Duration;

use ream_system_tests::desktop::{testid, Desktop, Home, Launched};
use ream_system_tests::procs::{memory_of_tree, Memory};
use ream_system_tests::server::Site;
use ream_system_tests::sleep;
use ream_system_tests::x11::Display;

/// Long enough for memory to settle after a change of state, in a full run (the
/// figures are read after it, nothing depends on it; the smoke run reads at once).
const SETTLE_MS: u64 = 3_000;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let site = Site::new(&format!("127.0.0.1:{}", ream_system_tests::free_port()), "");
    site.seed_people();
    let server = site.serve();
    let within = Duration::from_secs(60);

    // Start-up to the login screen, and the memory with it open.
    let mut startups = Vec::new();
    let mut at_login = Vec::new();
    for _ in 0..if full { 5 } else { 1 } {
        let app = Desktop::start("bench-desktop", &server.url);
        app.wait_for("the login screen", within, |app| {
            app.is_displayed(&testid("login-submit")).then_some(())
        });
        startups.push(app.launched.elapsed().as_secs_f64());
        if at_login.is_empty() {
            settle(full);
            at_login = memory_of_tree(app.app_pid().expect("the app runs"));
        }
    }
    startups.sort_by(f64::total_cmp);

    // The tray: started hidden, then the window opened and closed.
    let display = Display::open();
    let home = Home::new(&server.url);
    let port = home.ipp_port;
    let mut app = Launched::start(home, &["--hidden"]);
    app.wait_until("serving the local printer", within, |_| {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    settle(full);
    let tray_fresh = memory_of_tree(app.pid());
    let again = app.again().output().expect("start ream-desktop again");
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    app.wait_until("the window", within, |app| {
        !display.windows_of(app.pid(), "Ream").is_empty() && !app.web_processes().is_empty()
    });
    settle(full);
    let window_open = memory_of_tree(app.pid());
    display.close(display.windows_of(app.pid(), "Ream")[0]);
    app.wait_until("the window gone", within, |app| {
        display.windows_of(app.pid(), "Ream").is_empty() && app.web_processes().is_empty()
    });
    settle(full);
    let tray_after = memory_of_tree(app.pid());
    assert!(app.running(), "the app ended with its window");

    if !full {
        println!("smoke run (one launch, a debug build): the figures below mean nothing");
    }
    let median = startups[startups.len() / 2];
    println!(
        "start-up to the login screen: median {median:.2} s over {} launches (min {:.2}, max {:.2}) (anchor: within 1 s)",
        startups.len(),
        startups[0],
        startups[startups.len() - 1]
    );
    report("window open, at the login screen (WebDriver)", &at_login, 200);
    report("window open, from the tray", &window_open, 200);
    report("in the tray, started hidden", &tray_fresh, 60);
    report("in the tray, the window closed again", &tray_after, 60);
}

fn settle(full: bool) {
    if full {
        sleep(SETTLE_MS);
    }
}

fn report(state: &str, processes: &[Memory], anchor_mb: u64) {
    let mb = |kib: u64| kib as f64 * 1024.0 / 1e6;
    let (pss, rss): (u64, u64) =
        (processes.iter().map(|p| p.pss_kib).sum(), processes.iter().map(|p| p.rss_kib).sum());
    let each: Vec<String> = processes.iter().map(|p| format!("{} {:.0}", p.name, mb(p.pss_kib))).collect();
    println!(
        "{state}: {:.0} MB together (Pss; Rss sum {:.0} MB) [{}] (anchor: under {anchor_mb} MB)",
        mb(pss),
        mb(rss),
        each.join(", ")
    );
}
