//! Local print monitoring with the real parts: CUPS queues of this computer whose devices
//! are a raw `socket://` listener of the test's own (standing in for a USB or port-9100
//! printer) and an `ippeveprinter`, wrapped by `ream cups monitor` in Ream's CUPS backend;
//! `lp` → counted, granted by the real server through the user's running client,
//! released to the device byte-identical, charged once at the local price. Refused for
//! lack of credit, held while nobody can decide (`job-hold-until=no-hold`, the client
//! stopped), the server's offline policy applied and the job reported once afterwards.
//!
//! The tests share the machine's CUPS backend and monitoring folders (`/usr/lib/cups/
//! backend/ream`, `/etc/ream/monitor`, `/var/lib/ream`), so they run one at a time.

use std::io::Read;
use std::net::TcpListener;
use std::process::Command;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use ream_system_tests::client::{credit_of, Client, Watch};
use ream_system_tests::printer::{ipp_request, ipp_status, CupsQueue, Printer};
use ream_system_tests::server::{ServerProcess, Site};
use ream_system_tests::{free_port, pdf, sleep};
use ream_wire::{AgentReply, AgentRequest};
use serde_json::Value;

/// One test at a time: they share the computer's monitoring set-up.
static MACHINE: Mutex<()> = Mutex::new(());

/// A raw printer on a loopback port: every connection's bytes, one document each.
struct RawPrinter {
    port: u16,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    /// While some: a printer that keeps each connection open once it has the document.
    hold: Mutex<Option<mpsc::Sender<()>>>,
}

impl RawPrinter {
    fn start() -> RawPrinter {
        let printer = RawPrinter::holding();
        printer.release();
        printer
    }

    /// A printer that keeps each connection open once it has the document, as a slow
    /// one does, until [`RawPrinter::release`]: CUPS' job stays processing meanwhile.
    fn holding() -> RawPrinter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        let (hold, released) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut doc = Vec::new();
                if stream.read_to_end(&mut doc).is_ok() && !doc.is_empty() {
                    kept.lock().unwrap().push(doc);
                }
                // Until the sender is gone (nothing is ever sent).
                let _ = released.recv();
            }
        });
        RawPrinter { port, received, hold: Mutex::new(Some(hold)) }
    }

    /// From now on every connection ends once its document is in.
    fn release(&self) {
        self.hold.lock().unwrap().take();
    }

    fn uri(&self) -> String {
        format!("socket://127.0.0.1:{}", self.port)
    }

    fn documents(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }
}

/// A raw CUPS queue of this computer printing to `device` (no filter: the device gets
/// the document as printed).
fn local_queue(name: &str, device: &str) -> CupsQueue {
    let out = Command::new("lpadmin")
        .args(["-p", name, "-E", "-v", device, "-m", "raw", "-o", "printer-is-shared=false"])
        .output()
        .unwrap();
    assert!(out.status.success(), "lpadmin: {}", String::from_utf8_lossy(&out.stderr));
    CupsQueue(name.to_string())
}

fn device_of(queue: &str) -> String {
    let out = Command::new("lpstat").args(["-v", queue]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_once(": ").map(|(_, uri)| uri.trim().to_string()).unwrap_or_default()
}

/// A folder holding `document.pdf`.
fn write_temp(document: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("document.pdf"), document).unwrap();
    dir
}

/// The job id in `lp`'s "request id is QUEUE-42 (1 file(s))".
fn job_id_of(said: &str) -> i64 {
    let id = said.split_whitespace().nth(3).and_then(|r| r.rsplit('-').next()).and_then(|n| n.parse().ok());
    id.unwrap_or_else(|| panic!("no job id in {said:?}"))
}

/// `lp -d QUEUE [-o OPTION…] FILE`; the CUPS job id.
fn lp(queue: &str, options: &[&str], document: &[u8]) -> i64 {
    let dir = write_temp(document);
    let mut cmd = Command::new("lp");
    cmd.args(["-d", queue, "-t", "Local report"]);
    for o in options {
        cmd.args(["-o", o]);
    }
    let out = cmd.arg(dir.path().join("document.pdf")).output().unwrap();
    assert!(out.status.success(), "lp: {}", String::from_utf8_lossy(&out.stderr));
    job_id_of(&String::from_utf8_lossy(&out.stdout))
}

/// Whose job CUPS says a completed job is (`lpstat -W completed`'s second column).
fn owner_of(queue: &str, job: i64) -> String {
    let out = Command::new("lpstat").args(["-W", "completed", "-o", queue]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line =
        text.lines().find(|l| l.starts_with(&format!("{queue}-{job} "))).unwrap_or_default().to_string();
    line.split_whitespace().nth(1).unwrap_or_default().to_string()
}

fn os_user() -> String {
    ream_client::workstation::os_username().unwrap()
}

/// The CUPS job's `lpstat -l` description while it is not completed; `None` once it is.
fn pending(queue: &str, job: i64) -> Option<String> {
    let out = Command::new("lpstat").args(["-l", "-o", queue]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let head = format!("{queue}-{job} ");
    let start = text.find(&head)?;
    let rest = &text[start..];
    let end = rest[head.len()..].find(&format!("\n{queue}-")).map_or(rest.len(), |e| e + head.len());
    Some(rest[..end].to_string())
}

fn held(queue: &str, job: i64) -> bool {
    pending(queue, job).is_some_and(|d| d.contains("job-hold-until-specified"))
}

fn until(what: &str, within: Duration, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "waited {within:?} for {what}");
        sleep(100);
    }
}

/// The site: alice (20.00), bob (no credit), the local price list `local` (0.10 a mono
/// page, 0.40 colour), monitoring on for `queues`, offline policy `offline`.
fn site(queues: &[&str], offline: &str) -> Site {
    let site = Site::new(&format!("127.0.0.1:{}", free_port()), "");
    site.seed_people();
    site.admin(&["price-list", "add", "local", "--mono", "0.10", "--colour", "0.40"], "");
    let policy =
        ["--enabled", "true", "--queues", &queues.join(","), "--price-list", "local", "--offline", offline];
    site.admin(&[&["local", "policy"][..], &policy[..]].concat(), "");
    site
}

/// A person's enrolled, logged-in (remembered) client.
fn person(server: &ServerProcess, site: &Site, pin: &str) -> Client {
    let client = Client::new();
    client.run(&["connect", "--server", &server.url, "--json"], "").json();
    client.run(&["enroll", "--name", "desk", "--json"], &format!("{}\n", site.enrolment_code())).json();
    client.run(&["login", "--method", "pin", "--remember", "always", "--json"], &format!("{pin}\n")).json();
    client
}

/// `ream run` on a port of its own, once it has the account and keeps local terms with
/// the offline policy `offline`.
fn running(client: &Client, offline: &str) -> Watch {
    let run = Watch::start(client, &["run", "--port", &free_port().to_string(), "--json"]);
    run.expect(Duration::from_secs(15), "the account", |v| credit_of(v).is_some());
    until("the local terms", Duration::from_secs(15), || {
        let Ok(dir) = std::fs::read_dir(client.cache_dir()) else { return false };
        dir.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("local-terms-")).any(|e| {
            let kept: Value =
                serde_json::from_slice(&std::fs::read(e.path()).unwrap_or_default()).unwrap_or_default();
            kept["offline"] == offline
        })
    });
    run
}

/// `ream cups monitor` (the tests run as root, as an administrator would run it).
fn monitor(client: &Client) -> Value {
    let r = client.run(&["cups", "monitor", "--json"], "");
    assert!(r.ok, "ream cups monitor: {}", r.stderr);
    r.json()
}

/// Undoes monitoring when the test ends, however it ends.
struct Monitored<'a>(&'a Client);

impl Drop for Monitored<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["cups", "monitor", "--undo", "--json"], "");
    }
}

fn jobs(client: &Client) -> Vec<Value> {
    client.run(&["jobs", "--json"], "").json()["jobs"].as_array().cloned().unwrap_or_default()
}

fn credit(client: &Client) -> i64 {
    let account = client.run(&["account", "--json"], "").json();
    account["account"]["credit_cents"].as_i64().unwrap_or_else(|| panic!("no credit in {account}"))
}

/// Waits for the user's local job `name` to reach `state` in their history.
fn local_job(client: &Client, state: &str) -> Value {
    let mut last = Vec::new();
    for _ in 0..300 {
        last = jobs(client);
        if let Some(j) = last.iter().find(|j| j["local"] == true && j["state"] == state) {
            return j.clone();
        }
        sleep(100);
    }
    panic!("no local job {state} in {last:?}");
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    MACHINE.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_monitored_queue_prints_only_once_granted_byte_identical_and_charged_once_at_the_local_price() {
    let _machine = lock();
    let raw = RawPrinter::start();
    let ipp = Printer::start("local-ipp");
    let tag = free_port();
    let (usb, net, other) = (format!("Usb-{tag}"), format!("Net-{tag}"), format!("Other-{tag}"));
    let site = site(&[&usb, &net], "refuse");
    let server = site.serve();
    let alice = person(&server, &site, "1234");
    let _queues =
        [local_queue(&usb, &raw.uri()), local_queue(&net, &ipp.uri()), local_queue(&other, &raw.uri())];
    let set_up = monitor(&alice);
    let _undo = Monitored(&alice);
    let monitored: Vec<&str> = set_up["queues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["monitored"] == true)
        .map(|q| q["queue"].as_str().unwrap())
        .collect();
    assert!(monitored.contains(&usb.as_str()) && monitored.contains(&net.as_str()), "{set_up}");
    assert!(!monitored.contains(&other.as_str()), "a queue the policy does not name is left alone: {set_up}");
    assert_eq!(device_of(&usb), format!("ream:/{}", raw.uri()));
    assert_eq!(device_of(&other), raw.uri());
    let run = running(&alice, "refuse");

    // The raw (USB, port 9100) printer: three pages, 0.30.
    let document = pdf::pages(3);
    let job_of_usb = lp(&usb, &["print-color-mode=monochrome"], &document);
    until("the job to leave CUPS", Duration::from_secs(60), || pending(&usb, job_of_usb).is_none());
    assert_eq!(raw.documents(), std::slice::from_ref(&document), "received once, byte-identical");
    let printed = local_job(&alice, "printed");
    assert_eq!(printed["queue"], format!("{usb}@desk"), "{printed}");
    assert_eq!((printed["pages"].as_i64(), printed["price_cents"].as_i64()), (Some(3), Some(30)));
    assert_eq!(credit(&alice), 2000 - 30);

    // The IPP printer: one page.
    let one = pdf::labelled("to the IPP printer");
    let job = lp(&net, &["print-color-mode=monochrome"], &one);
    until("the job to leave CUPS", Duration::from_secs(60), || pending(&net, job).is_none());
    until("the IPP printer's document", Duration::from_secs(30), || !ipp.documents().is_empty());
    assert_eq!(std::fs::read(&ipp.documents()[0]).unwrap(), one);
    until("the charge", Duration::from_secs(30), || credit(&alice) == 2000 - 30 - 10);

    // A job that names someone else as its user is refused: the monitored queue's policy
    // has CUPS authenticate its sender (by the local socket's peer), so nobody prints on
    // another person's account; the sender's own jobs were theirs.
    let dir = write_temp(&one);
    let out = Command::new("lp")
        .args(["-U", "nobody", "-d", &usb, "-o", "print-color-mode=monochrome", "-t", "Not mine"])
        .arg(dir.path().join("document.pdf"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "lp -U nobody was taken: {}", String::from_utf8_lossy(&out.stdout));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Unauthorized"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(owner_of(&usb, job_of_usb), os_user(), "CUPS took the first job as its sender's");
    assert_eq!(raw.documents().len(), 1);

    // The unmonitored queue prints without Ream: no job, no charge.
    let job = lp(&other, &[], &pdf::labelled("not monitored"));
    until("the job to leave CUPS", Duration::from_secs(60), || pending(&other, job).is_none());
    assert_eq!(raw.documents().len(), 2);
    sleep(500);
    assert_eq!(jobs(&alice).iter().filter(|j| j["local"] == true).count(), 2);
    assert_eq!(credit(&alice), 2000 - 40);

    // Administrators see the local printers and jobs, with both counts.
    let printers = site.admin_json(&["local", "printers"], "");
    let names: Vec<&str> = printers.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{printers}");
    assert!(names.contains(&format!("{usb}@desk").as_str()), "{printers}");
    let listed = site.admin_json(&["local", "jobs"], "");
    let usb_job =
        listed.as_array().unwrap().iter().find(|j| j["queue"] == format!("{usb}@desk")).unwrap().clone();
    assert_eq!(usb_job["local"], true);
    assert_eq!(usb_job["impressions_charged"], 3);
    assert!(usb_job["impressions_at_printer"].is_i64(), "CUPS' count is kept: {usb_job}");
    drop(run);

    // Undone: the devices are the printers' again, and so is CUPS' configuration.
    let undone = alice.run(&["cups", "monitor", "--undo", "--json"], "");
    assert!(undone.ok, "{}", undone.stderr);
    assert_eq!(device_of(&usb), raw.uri());
    assert_eq!(device_of(&net), ipp.uri());
    let conf = std::fs::read_to_string("/etc/cups/cupsd.conf").unwrap();
    assert!(!conf.contains("ream-monitored"), "the policy is gone from cupsd.conf");
}

#[test]
fn monitoring_set_up_while_cups_finishes_a_job_finds_every_queue() {
    let _machine = lock();
    // The job's printer keeps it until it is released.
    let slow = RawPrinter::holding();
    let tag = free_port();
    let (busy, usb) = (format!("Busy-{tag}"), format!("Usb-{tag}"));
    let site = site(&[&usb], "refuse");
    let server = site.serve();
    let alice = person(&server, &site, "1234");
    let _queues = [local_queue(&busy, &slow.uri()), local_queue(&usb, &slow.uri())];
    // While a job is processing, cupsd puts off reading its configuration again (as
    // setting monitoring up has it do) until the job ends or its ReloadTimeout (30 s by
    // default) has passed: it holds the requests that come meanwhile, and drops them
    // when it reloads. An unanswered listing is not "no queues". The job is processing
    // all along: the printer holds it until monitoring is set up.
    let job = lp(&busy, &[], &pdf::pages(1));
    until("the printer to have the job", Duration::from_secs(60), || !slow.documents().is_empty());
    let set_up = monitor(&alice);
    slow.release();
    let _undo = Monitored(&alice);
    let monitored: Vec<&Value> =
        set_up["queues"].as_array().unwrap().iter().filter(|q| q["monitored"] == true).collect();
    assert_eq!(monitored.len(), 1, "{set_up}");
    assert_eq!(monitored[0]["queue"], usb.as_str(), "{set_up}");
    assert_eq!(device_of(&usb), format!("ream:/{}", slow.uri()));
    until("the job to leave CUPS", Duration::from_secs(60), || pending(&busy, job).is_none());
}

#[test]
fn without_enough_credit_a_local_job_is_cancelled_nothing_reaches_the_printer_and_the_user_is_told() {
    let _machine = lock();
    let raw = RawPrinter::start();
    let queue = format!("Usb-{}", free_port());
    let site = site(&[&queue], "refuse");
    let server = site.serve();
    let bob = person(&server, &site, "5678");
    let _queue = local_queue(&queue, &raw.uri());
    monitor(&bob);
    let _undo = Monitored(&bob);
    let run = running(&bob, "refuse");

    let job = lp(&queue, &["print-color-mode=monochrome"], &pdf::pages(2));
    let refused = run.expect(Duration::from_secs(60), "the refusal", |v| {
        v["type"] == "job_refused" && v["name"] == "Local report"
    });
    assert_eq!(refused["code"], "CREDIT_INSUFFICIENT", "{refused}");
    until("the job to leave CUPS", Duration::from_secs(60), || pending(&queue, job).is_none());
    let out = Command::new("lpstat").args(["-W", "completed", "-o", &queue]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{queue}-{job} ")), "ended in CUPS");
    assert!(raw.documents().is_empty(), "nothing reached the printer");
    assert!(jobs(&bob).iter().all(|j| j["local"] != true), "nothing recorded or charged");
}

#[test]
fn no_hold_asked_of_cups_and_a_stopped_client_print_nothing_until_ream_grants_the_job() {
    let _machine = lock();
    let raw = RawPrinter::start();
    let queue = format!("Usb-{}", free_port());
    let site = site(&[&queue], "refuse");
    let server = site.serve();
    let alice = person(&server, &site, "1234");
    let _queue = local_queue(&queue, &raw.uri());
    monitor(&alice);
    let _undo = Monitored(&alice);

    // Nobody's client runs: the job is held however it asks not to be.
    let document = pdf::pages(1);
    let job = lp(&queue, &["job-hold-until=no-hold", "print-color-mode=monochrome"], &document);
    until("Ream to hold the job", Duration::from_secs(60), || held(&queue, job));
    sleep(1000);
    assert!(raw.documents().is_empty(), "nothing printed without a grant");
    assert!(held(&queue, job));

    // Alice's client starts: it releases the job, which is granted, printed and charged once.
    let run = running(&alice, "refuse");
    until("the job to print", Duration::from_secs(90), || pending(&queue, job).is_none());
    assert_eq!(raw.documents(), [document]);
    local_job(&alice, "printed");
    assert_eq!(credit(&alice), 2000 - 10);
    drop(run);
}

#[test]
fn with_the_server_down_the_offline_policy_applies_and_each_job_is_reported_once() {
    let _machine = lock();
    let raw = RawPrinter::start();
    let queue = format!("Usb-{}", free_port());
    let site = site(&[&queue], "print_and_report");
    let mut server = site.serve();
    let alice = person(&server, &site, "1234");
    let _queue = local_queue(&queue, &raw.uri());
    monitor(&alice);
    let _undo = Monitored(&alice);
    let run = running(&alice, "print_and_report");

    // print_and_report: printed while the server is away, journaled, reported once.
    server.stop();
    let document = pdf::pages(2);
    let job = lp(&queue, &["print-color-mode=monochrome"], &document);
    until("the job to print offline", Duration::from_secs(90), || pending(&queue, job).is_none());
    assert_eq!(raw.documents(), [document]);
    server.resume();
    run.expect(Duration::from_secs(90), "the journal reported", |v| {
        v["type"] == "offline_reported" && v["reported"] == 1
    });
    let printed = local_job(&alice, "printed");
    assert_eq!(
        (printed["offline"].as_bool(), printed["price_cents"].as_i64()),
        (Some(true), Some(20)),
        "{printed}"
    );
    assert_eq!(credit(&alice), 2000 - 20);

    // refuse: held while the server is away, printed once it is back, charged once.
    site.admin(&["local", "policy", "--offline", "refuse"], "");
    drop(run);
    let run = running(&alice, "refuse");
    server.stop();
    let second = pdf::labelled("while the server is away");
    let job = lp(&queue, &["print-color-mode=monochrome"], &second);
    until("Ream to hold the job", Duration::from_secs(90), || held(&queue, job));
    assert_eq!(raw.documents().len(), 1, "nothing more printed while the server is away");
    server.resume();
    until("the held job to print", Duration::from_secs(120), || pending(&queue, job).is_none());
    assert_eq!(raw.documents().len(), 2);
    assert_eq!(raw.documents()[1], second);
    until("the charge", Duration::from_secs(30), || credit(&alice) == 2000 - 30);
    sleep(500);
    assert_eq!(jobs(&alice).iter().filter(|j| j["local"] == true).count(), 2, "each job recorded once");
    drop(run);
}

/// What a job owner's own program tells Ream's backend when it pretends to be their
/// client: a grant for the backend's very count and nonce, or offline terms that let
/// everything print, each signed with a key of its own.
fn forged_answer(line: &str, offline: bool) -> String {
    use base64::Engine as _;
    use ed25519_dalek::Signer;
    let key = ed25519_dalek::SigningKey::from_bytes(&rand_bytes());
    let sign = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(key.sign(bytes).to_bytes());
    let ask: ream_wire::AgentRequest = serde_json::from_str(line).unwrap();
    let ream_wire::AgentRequest::LocalPrint(ask) = ask else { panic!("the backend asked {line}") };
    let verdict = if offline {
        let mut terms = ream_wire::LocalTerms {
            user: "alice".into(),
            offline: ream_wire::LocalOfflinePolicy::PrintAndReport,
            unrestricted: true,
            issued_at_ms: 1,
            signature: String::new(),
        };
        terms.signature = sign(&terms.signed_bytes());
        ream_wire::LocalVerdict::Offline { terms }
    } else {
        let mut grant = ream_wire::LocalGrant {
            job_id: "forged".into(),
            job_uuid: ask.job_uuid,
            nonce: ask.nonce,
            sha256: ask.sha256,
            pages: ask.pages,
            copies: ask.copies,
            colour: ask.colour,
            price_cents: 0,
            signature: String::new(),
        };
        grant.signature = sign(&grant.signed_bytes());
        ream_wire::LocalVerdict::Granted { grant }
    };
    serde_json::to_string(&ream_wire::AgentReply::Local(verdict)).unwrap() + "\n"
}

fn rand_bytes() -> [u8; 32] {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut seed).unwrap();
    seed
}

#[test]
fn a_grant_or_offline_terms_not_signed_by_the_server_print_nothing() {
    use std::io::{BufRead, Write};
    let _machine = lock();
    let raw = RawPrinter::start();
    let queue = format!("Usb-{}", free_port());
    let site = site(&[&queue], "print_and_report");
    let server = site.serve();
    let alice = person(&server, &site, "1234");
    let _queue = local_queue(&queue, &raw.uri());
    let set_up = monitor(&alice);
    let _undo = Monitored(&alice);
    let watched = set_up["queues"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["queue"] == queue.as_str() && q["monitored"] == true);
    assert!(watched, "{queue} is monitored: {set_up}");
    assert!(device_of(&queue).starts_with("ream:"), "{queue} leads to Ream's backend: {}", device_of(&queue));

    // The job owner's program registers where its "client" listens, as a client does.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("fake.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let me = Command::new("id").arg("-u").output().unwrap();
    let uid = String::from_utf8_lossy(&me.stdout).trim().to_string();
    std::fs::write(format!("/var/lib/ream/agents/{uid}"), socket.to_str().unwrap()).unwrap();
    let asked = Arc::new(Mutex::new(0));
    let count = asked.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut line = String::new();
            if std::io::BufReader::new(&stream).read_line(&mut line).is_err() {
                continue;
            }
            let _ = stream.write_all(forged_answer(&line, n % 2 == 1).as_bytes());
            *count.lock().unwrap() += 1;
        }
    });

    let job = lp(&queue, &["print-color-mode=monochrome"], &pdf::pages(2));
    until("Ream to hold the job", Duration::from_secs(60), || held(&queue, job));
    assert_eq!(*asked.lock().unwrap(), 1, "the backend asked the registered program");
    // Released by its owner, asked again: forged offline terms fare no better.
    let out = Command::new("lp").args(["-i", &job.to_string(), "-H", "resume"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    until("the second answer", Duration::from_secs(60), || *asked.lock().unwrap() == 2);
    until("Ream to hold the job again", Duration::from_secs(60), || held(&queue, job));
    assert!(raw.documents().is_empty(), "nothing printed on a forged word");
    assert!(site.admin_json(&["local", "jobs"], "").as_array().unwrap().is_empty());
}

/// An OS user of this computer other than root, with a Ream client of their own: home,
/// D-Bus session and keyring, enrolment, login and `ream run` (on a port of its own, as
/// on a shared computer), all as that user.
struct Seat {
    run: Watch,
    _home: tempfile::TempDir,
}

impl Seat {
    fn start(user: &str, server: &ServerProcess, site: &Site, pin: &str) -> Seat {
        let home = tempfile::tempdir().unwrap();
        let chown = Command::new("chown").args(["-R", &format!("{user}:{user}")]).arg(home.path()).status();
        assert!(chown.unwrap().success());
        // Codes and PINs come on standard input, as a person types them.
        let script = r#"set -e
printf ream | gnome-keyring-daemon --components=secrets --daemonize --unlock >/dev/null
"$REAM" connect --server "$REAM_SERVER" --json >/dev/null
printf '%s\n' "$REAM_CODE" | "$REAM" enroll --name "$USER-desk" --json >/dev/null
printf '%s\n' "$REAM_PIN" | "$REAM" login --method pin --remember always --json >/dev/null
unset REAM_CODE REAM_PIN
exec "$REAM" run --port 0 --json"#;
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid", user, "--regid", user, "--init-groups", "--", "dbus-run-session", "--"])
            .args(["sh", "-c", script])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("USER", user)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("REAM", ream_system_tests::bin("ream"))
            .env("REAM_SERVER", &server.url)
            .env("REAM_CODE", site.enrolment_code())
            .env("REAM_PIN", pin)
            .env("REAM_LOG", std::env::var("REAM_TEST_LOG").unwrap_or_else(|_| "warn".into()));
        // Its own process group, so that the whole session goes when the test ends.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let run = Watch::of(command);
        run.expect(Duration::from_secs(30), "the account", |v| credit_of(v).is_some());
        Seat { run, _home: home }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.run.pid())]).status();
    }
}

/// `lp` as the OS user `user`; the CUPS job id, or what `lp` said when refused.
/// An OS account of this computer for a person of the test, made if it is missing (the
/// tests run as root, as CUPS' own tests of several users do).
fn os_account(name: &str) {
    if Command::new("id").arg("-u").arg(name).output().unwrap().status.success() {
        return;
    }
    let out = Command::new("useradd")
        .args(["--system", "--no-create-home", "--shell", "/bin/sh", name])
        .output()
        .expect("useradd");
    // Another run may have made it meanwhile.
    let exists = Command::new("id").arg("-u").arg(name).output().unwrap().status.success();
    assert!(exists, "useradd {name}: {}", String::from_utf8_lossy(&out.stderr));
}

fn lp_as(user: &str, queue: &str, options: &[&str], title: &str, document: &[u8]) -> Result<i64, String> {
    let dir = write_temp(document);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.path().join("document.pdf");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new("runuser")
        .args(["-u", user, "--", "lp", "-d", queue, "-t", title])
        .args(options)
        .arg(&file)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(job_id_of(&String::from_utf8_lossy(&out.stdout)))
}

/// The names of the jobs in the history of the Ream user logging in with `pin`.
fn history(server: &ServerProcess, pin: &str) -> Vec<String> {
    let token = server.access_token(serde_json::json!({"method": "pin", "pin": pin}));
    let listed: Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/me/jobs", server.url))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let jobs = listed.get("jobs").unwrap_or(&listed).as_array().cloned().unwrap_or_default();
    let mut names: Vec<String> =
        jobs.iter().map(|j| j["name"].as_str().unwrap_or_default().to_string()).collect();
    names.sort();
    names
}

/// `ream cups uninstall --shared` when the test ends, however it ends.
struct Shared<'a>(&'a Client);

impl Drop for Shared<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["cups", "uninstall", "--shared", "--json"], "");
    }
}

/// A computer shared by several people: one Ream queue for all (`ream cups install
/// --shared`), each OS user with a client of their own. Each job reaches its sender's
/// client and account, never another's, whatever `lp -U` claims; a job sent while its
/// sender runs no client waits, held, for theirs, not for whoever logs in next.
#[test]
fn on_a_shared_computer_each_persons_job_reaches_their_own_client_and_account() {
    let _machine = lock();
    let printer = Printer::start("SharedHall");
    let site = Site::with_printer("", "Hall", &printer.uri(), &[&["Direct"]]);
    site.admin(&["credit", "top-up", "bob", "20"], "");
    let server = site.serve();
    let (anna, bert) = ("ream-anna", "ream-bert");
    os_account(anna);
    os_account(bert);
    let queue = format!("Shared-{}", free_port());
    let root = Client::new();
    let made = root.run(&["cups", "install", "--shared", "--name", &queue, "--json"], "");
    let _unshare = Shared(&root);
    assert!(made.ok, "ream cups install --shared: {}", made.stderr);
    assert_eq!(device_of(&queue), "ream:/client/ipp/print");

    // Nobody runs Ream: each job waits for its own sender.
    let berts = lp_as(bert, &queue, &[], "Bert's report", &pdf::labelled("bert's")).unwrap();
    let annas = lp_as(anna, &queue, &[], "Anna's letter", &pdf::labelled("anna's")).unwrap();
    for (job, sender) in [(berts, bert), (annas, anna)] {
        until("the job to be held", Duration::from_secs(60), || held(&queue, job));
        let note = format!("/var/lib/ream/waiting/{job}");
        assert_eq!(std::fs::read_to_string(&note).unwrap(), sender);
    }

    // Anna logs in (as alice): her client releases her job, which is hers; bert's,
    // waiting beside it, it leaves alone.
    let anna_seat = Seat::start(anna, &server, &site, "1234");
    until("anna's job to leave CUPS", Duration::from_secs(60), || pending(&queue, annas).is_none());
    until("anna's job in alice's history", Duration::from_secs(30), || !history(&server, "1234").is_empty());
    assert_eq!(owner_of(&queue, annas), anna);
    assert!(held(&queue, berts), "{:?}", pending(&queue, berts));
    assert!(history(&server, "5678").is_empty(), "nothing reached bob's account");

    // Anna's printer takes no job that CUPS names as another user's, even sent by root
    // (as a queue leading to her port, or a port she took over, would send it).
    let socket = std::fs::read_to_string(format!("/var/lib/ream/agents/{}", uid_of(anna))).unwrap();
    let port = tokio::runtime::Runtime::new().unwrap().block_on(async {
        match ream_client::agent::ask_at(std::path::Path::new(socket.trim()), &AgentRequest::PrinterPort)
            .await
        {
            Some(AgentReply::Printer { port }) => port,
            other => panic!("anna's client says no port: {other:?}"),
        }
    });
    let (url, uri) =
        (format!("http://127.0.0.1:{port}/ipp/print"), format!("ipp://127.0.0.1:{port}/ipp/print"));
    let forged = ipp_request(0x0002, &uri, bert, &pdf::labelled("bert's, sent to anna"));
    assert_eq!(ipp_status(&url, forged), 0x0403, "client-error-not-authorized");

    // Bert logs in (as bob): his job comes to his client now, and to bob's account.
    let _bert_seat = Seat::start(bert, &server, &site, "5678");
    until("bert's job to leave CUPS", Duration::from_secs(60), || pending(&queue, berts).is_none());
    until("bert's job in bob's history", Duration::from_secs(30), || !history(&server, "5678").is_empty());
    // Claiming to be anna is refused: CUPS authenticates bert by his socket.
    let claimed = lp_as(bert, &queue, &["-U", anna], "Bert as Anna", &pdf::labelled("bert's too"));
    assert!(claimed.as_ref().is_err_and(|said| said.contains("Unauthorized")), "{claimed:?}");
    assert_eq!(owner_of(&queue, berts), bert);
    until("the two documents at the printer", Duration::from_secs(60), || printer.documents().len() == 2);
    assert_eq!(history(&server, "5678"), ["Bert's report"]);
    assert_eq!(history(&server, "1234"), ["Anna's letter"]);
    drop(anna_seat);
}

fn uid_of(user: &str) -> u32 {
    ream_client::monitor::uid_of(user).unwrap_or_else(|| panic!("no OS user {user}"))
}
