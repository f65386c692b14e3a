//! Offline operation and fallback printing with the real parts: the server stopped,
//! `lp` through a real CUPS queue into `ream run`, the job sent (after the user's
//! answer) from the client's encrypted spool to an `ippeveprinter` fallback printer,
//! journaled, and reported to the server once it is back: printed once, charged once,
//! whatever the client was killed in the middle of, and a tampered journal refused.

use std::time::Duration;

use ream_system_tests::client::{credit_of, Client, Watch};
use ream_system_tests::printer::{lp, CupsQueue, Printer};
use ream_system_tests::server::{ServerProcess, Site};
use ream_system_tests::{free_port, pdf, sleep};
use serde_json::Value;

/// The site: alice (20.00 credit, PIN 1234) and the printer `Office` over `queues`,
/// plus the fallback printer `Fallback` (0.10 a mono page).
fn site(office: &Printer, fallback: &Printer, queues: &[&[&str]]) -> Site {
    let site = Site::with_printer("", &office.name, &office.uri(), queues);
    site.admin(&["price-list", "add", "fallback", "--mono", "0.10", "--colour", "0.40"], "");
    site.admin(&["printer", "add", "Fallback", "--uri", &fallback.uri(), "--price-list", "fallback"], "");
    site
}

/// [`site`] with `Direct` printing offline on `Fallback` for users nothing limits, and
/// alice's credit allowed to go `amount` unchecked while the server is away.
fn falling_back(office: &Printer, fallback: &Printer, amount: &str) -> Site {
    let site = site(office, fallback, &[&["Direct"]]);
    let policy = ["--policy", "print_if_unrestricted", "--fallback", "Fallback", "--after", "1"];
    site.admin(&[&["queue", "offline", "Direct"][..], &policy[..]].concat(), "");
    site.admin(&["user", "offline-line", "alice", "--amount", amount], "");
    site
}

/// Alice logged in (remembered) on an enrolled workstation: the journal is signed with
/// its key.
fn alice(server: &ServerProcess, site: &Site) -> Client {
    let client = Client::new();
    client.run(&["connect", "--server", &server.url, "--json"], "").json();
    client.run(&["enroll", "--name", "offline-ws", "--json"], &format!("{}\n", site.enrolment_code())).json();
    client.run(&["login", "--method", "pin", "--remember", "always", "--json"], "1234\n").json();
    client
}

/// `ream run` on `port`, once it has the account and what to do offline.
fn run(client: &Client, port: u16, env: &[(&str, &str)]) -> Watch {
    let run = Watch::start_env(client, &["run", "--port", &port.to_string(), "--json"], env);
    run.expect(Duration::from_secs(15), "the account", |v| credit_of(v).is_some());
    for _ in 0..100 {
        let kept = std::fs::read_dir(client.cache_dir())
            .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("offline-")))
            .unwrap_or(false);
        if kept {
            return run;
        }
        sleep(100);
    }
    panic!("the client never kept the offline terms");
}

/// A workstation of alice's on the site, served: her enrolled client running on a port of
/// its own, with a CUPS queue per server queue.
struct Desk {
    server: ServerProcess,
    client: Client,
    port: u16,
    run: Watch,
    queues: Vec<CupsQueue>,
}

fn workstation(site: &Site) -> Desk {
    let server = site.serve();
    let client = alice(&server, site);
    let port = free_port();
    let run = run(&client, port, &[]);
    let queues = cups_queues(&client, port);
    Desk { server, client, port, run, queues }
}

/// A CUPS queue per server queue, `PREFIX-QUEUE`.
fn cups_queues(client: &Client, port: u16) -> Vec<CupsQueue> {
    let prefix = format!("Ream-off-{port}");
    let made =
        client.run(&["cups", "install", "--port", &port.to_string(), "--prefix", &prefix, "--json"], "");
    made.json()["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| CupsQueue(q["cups"].as_str().unwrap().into()))
        .collect()
}

fn queue<'a>(queues: &'a [CupsQueue], name: &str) -> &'a CupsQueue {
    queues
        .iter()
        .find(|q| q.0.ends_with(&format!("-{name}")))
        .unwrap_or_else(|| panic!("no CUPS queue for {name}"))
}

/// Prints a mono PDF of `pages` pages with `lp`; its bytes.
fn print(queue: &CupsQueue, pages: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("document.pdf");
    let bytes = pdf::pages(pages);
    std::fs::write(&document, &bytes).unwrap();
    lp(&queue.0, &["print-color-mode=monochrome"], &document);
    bytes
}

fn offered(run: &Watch) -> Value {
    run.expect(Duration::from_secs(60), "a fallback offer", |v| v["type"] == "fallback_offered")["offer"]
        .clone()
}

fn answer(client: &Client, job: &str, how: &[&str]) {
    let r = client.run(&[&["jobs", "fallback", job][..], how, &["--json"]].concat(), "");
    assert!(r.ok, "{}", r.stderr);
}

/// What a line is waited for, and how it is known.
type Check<'a> = (&'a str, &'a dyn Fn(&Value) -> bool);

/// Waits for a line satisfying each check, in whatever order they come; those lines.
fn expect_each(run: &Watch, within: Duration, checks: &[Check<'_>]) -> Vec<Value> {
    let met = std::cell::RefCell::new(vec![None::<Value>; checks.len()]);
    while met.borrow().iter().any(Option::is_none) {
        let waiting: Vec<&str> = checks
            .iter()
            .zip(met.borrow().iter())
            .filter(|(_, m)| m.is_none())
            .map(|((w, _), _)| *w)
            .collect();
        run.expect(within, &waiting.join(" and "), |v| {
            let mut met = met.borrow_mut();
            match checks.iter().enumerate().find(|(i, (_, check))| met[*i].is_none() && check(v)) {
                Some((i, _)) => {
                    met[i] = Some(v.clone());
                    true
                }
                None => false,
            }
        });
    }
    met.into_inner().into_iter().map(Option::unwrap).collect()
}

fn reported(v: &Value) -> bool {
    v["type"] == "offline_reported"
}

fn jobs(client: &Client) -> Vec<Value> {
    client.run(&["jobs", "--json"], "").json()["jobs"].as_array().unwrap().clone()
}

fn offline_jobs(site: &Site) -> Vec<Value> {
    site.admin_json(&["job", "list", "--offline"], "").as_array().unwrap().clone()
}

#[test]
fn with_the_server_down_a_job_prints_on_a_fallback_printer_and_is_charged_once_when_it_is_back() {
    let (office, fallback) = (Printer::start("Office"), Printer::start("Fallback"));
    let site = falling_back(&office, &fallback, "5");
    let Desk { mut server, client, run, queues, .. } = workstation(&site);

    server.stop();
    let bytes = print(queue(&queues, "Direct"), 3);
    let offer = offered(&run);
    assert_eq!(offer["printers"][0]["name"], "Fallback", "{offer}");
    assert_eq!(offer["printers"][0]["state"], "idle", "its live state: {offer}");
    assert_eq!(offer["pages"], 3);
    // Asked from another front end, the running client lists what it offers.
    let listed = client.run(&["jobs", "fallback", "--json"], "").json();
    assert_eq!(listed["offers"][0]["job"], offer["job"]);
    // A printer that is not offered is refused; the offer stands.
    let wrong =
        client.run(&["jobs", "fallback", offer["job"].as_str().unwrap(), "--printer", "Elsewhere"], "");
    assert_eq!(wrong.error_code(), "CONFIG");
    answer(&client, offer["job"].as_str().unwrap(), &["--printer", "Fallback"]);
    let printed = run.expect(Duration::from_secs(60), "printed offline", |v| v["type"] == "offline_printed");
    assert_eq!(printed["printer"], "Fallback");
    // The fallback printer has the document itself; the server's printer nothing.
    let documents = fallback.documents();
    assert_eq!(documents.len(), 1, "{documents:?}");
    assert_eq!(std::fs::read(&documents[0]).unwrap(), bytes, "byte-identical from the encrypted spool");
    assert!(office.documents().is_empty());
    // My jobs shows it, waiting to be reported.
    let mine = jobs(&client);
    assert_eq!(
        (&mine[0]["offline"], &mine[0]["state"]),
        (&Value::Bool(true), &Value::from("printed")),
        "{mine:?}"
    );

    server.resume();
    let seen = expect_each(
        &run,
        Duration::from_secs(60),
        &[("the journal reported", &reported), ("the charge", &|v| credit_of(v) == Some(2_000 - 30))],
    );
    assert_eq!((seen[0]["reported"].as_u64(), seen[0]["refused"].as_u64()), (Some(1), Some(0)));
    let mine = jobs(&client);
    assert_eq!(mine.len(), 1, "one job, the server's now: {mine:?}");
    assert_eq!(
        (&mine[0]["state"], &mine[0]["offline"], &mine[0]["price_cents"], &mine[0]["printer"]),
        (&Value::from("printed"), &Value::Bool(true), &Value::from(30), &Value::from("Fallback")),
        "{mine:?}"
    );
    let listed = offline_jobs(&site);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["owner"], "alice");
    assert_eq!(listed[0]["offline"]["unaccounted"], false);
    assert_eq!(listed[0]["offline"]["overdrawn"], false);
    assert_eq!(fallback.documents().len(), 1, "printed once");
    assert_eq!(client.status()["offline_pending"], 0);
}

#[test]
fn each_offline_policy_applies_to_its_queue() {
    let (office, fallback) = (Printer::start("Office"), Printer::start("Fallback"));
    let site = site(&office, &fallback, &[&["Gone"], &["Later"], &["Free"], &["Strict"]]);
    let offline = |queue: &str, policy: &str, fallback: bool| {
        let mut args = vec!["queue", "offline", queue, "--policy", policy, "--after", "1"];
        if fallback {
            args.extend(["--fallback", "Fallback"]);
        }
        site.admin(&args, "");
    };
    offline("Gone", "discard", false);
    offline("Later", "hold", false);
    offline("Free", "print_unaccounted", true);
    offline("Strict", "print_if_unrestricted", true);
    site.admin(&["user", "offline-line", "alice", "--pages", "100"], "");
    // A quota is a limit the client cannot check: `Strict` refuses her offline.
    site.admin(
        &[
            "quota",
            "add",
            "alice",
            "--name",
            "Pages",
            "--period",
            "month",
            "--metric",
            "total_pages",
            "--limit",
            "500",
        ],
        "",
    );
    let Desk { mut server, client, run, queues, .. } = workstation(&site);
    server.stop();

    print(queue(&queues, "Gone"), 1);
    let refused = run.expect(Duration::from_secs(60), "Gone's job refused", |v| v["type"] == "job_refused");
    assert_eq!(refused["code"], "OFFLINE_REFUSED", "{refused}");
    print(queue(&queues, "Strict"), 1);
    let refused = run.expect(Duration::from_secs(60), "Strict's job refused", |v| v["type"] == "job_refused");
    assert_eq!(refused["code"], "OFFLINE_REFUSED", "{refused}");
    assert!(refused["reason"].as_str().unwrap().contains("limit"), "{refused}");

    print(queue(&queues, "Free"), 2);
    let offer = offered(&run);
    assert_eq!(offer["queue"], "Free");
    answer(&client, offer["job"].as_str().unwrap(), &["--printer", "Fallback"]);
    run.expect(Duration::from_secs(60), "printed offline", |v| v["type"] == "offline_printed");

    // Hold: only try again or cancel; it waits for the server.
    let bytes = print(queue(&queues, "Later"), 4);
    let offer = offered(&run);
    assert_eq!(
        (offer["queue"].as_str(), offer["printers"].as_array().map(Vec::len)),
        (Some("Later"), Some(0))
    );
    let job = offer["job"].as_str().unwrap();
    let r = client.run(&["jobs", "fallback", job, "--printer", "Fallback"], "");
    assert_eq!(r.error_code(), "CONFIG", "no printer is offered for a held job");
    answer(&client, job, &["--try-again"]);
    offered(&run);

    server.resume();
    expect_each(
        &run,
        Duration::from_secs(90),
        &[
            ("Later's job at the server", &|v| v["type"] == "job_submitted" && v["job"]["queue"] == "Later"),
            ("the journal reported", &reported),
        ],
    );
    for _ in 0..100 {
        if office.documents().len() == 1 {
            break;
        }
        sleep(100);
    }
    assert_eq!(std::fs::read(&office.documents()[0]).unwrap(), bytes, "the held job printed as usual");
    assert_eq!(fallback.documents().len(), 1, "only Free's job fell back");
    // Free's job is on record, never charged; Later's is charged as usual (4 × 0.05).
    let listed = offline_jobs(&site);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (&listed[0]["queue"], &listed[0]["offline"]["unaccounted"]),
        (&Value::from("Free"), &Value::Bool(true))
    );
    run.expect(Duration::from_secs(30), "Later's charge only", |v| credit_of(v) == Some(2_000 - 20));
    // The refused jobs are in My jobs with their reason.
    let mine = jobs(&client);
    let refused: Vec<&Value> = mine.iter().filter(|j| j["state"] == "rejected").collect();
    assert_eq!(refused.len(), 2, "{mine:?}");
}

/// Where a queue lets them, users may also pick a printer of their own computer (a
/// CUPS queue, listed with its state; Ream's own queues are not offered) or type a
/// printer's address.
#[test]
fn a_user_may_pick_a_printer_of_this_computer_or_type_one() {
    let (office, fallback) = (Printer::start("Office"), Printer::start("Fallback"));
    let (desk, typed) = (Printer::start("Desk"), Printer::start("Typed"));
    let site = site(&office, &fallback, &[&["Direct"]]);
    site.admin(
        &["queue", "offline", "Direct", "--policy", "print_unaccounted", "--pick", "--after", "1"],
        "",
    );
    let Desk { mut server, client, port, run, queues } = workstation(&site);
    // A printer on this computer, straight to its device as a user would add it.
    let local = CupsQueue(format!("Desk-{port}"));
    let added = std::process::Command::new("lpadmin")
        .args(["-p", &local.0, "-E", "-v", &desk.uri(), "-m", "everywhere", "-o", "printer-is-shared=false"])
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    server.stop();

    print(queue(&queues, "Direct"), 2);
    let offer = offered(&run);
    let printers = offer["printers"].as_array().unwrap();
    let names: Vec<&str> = printers.iter().map(|p| p["name"].as_str().unwrap()).collect();
    let mine = printers.iter().find(|p| p["name"] == local.0.as_str()).unwrap_or_else(|| panic!("{offer}"));
    assert_eq!((&mine["local"], &mine["state"]), (&Value::Bool(true), &Value::from("idle")), "{offer}");
    assert!(
        !names.iter().any(|n| queues.iter().any(|q| q.0 == *n)),
        "Ream's own queues are not offered: {names:?}"
    );
    assert_eq!(offer["may_type"], true);
    answer(&client, offer["job"].as_str().unwrap(), &["--printer", &local.0]);
    run.expect(Duration::from_secs(60), "printed on this computer's printer", |v| {
        v["type"] == "offline_printed"
    });
    // Through the computer's own queue (whose filters may rewrite the PDF).
    for _ in 0..300 {
        if !desk.documents().is_empty() {
            break;
        }
        sleep(100);
    }
    assert_eq!(desk.documents().len(), 1, "through the computer's own queue");

    // Typed: an address that is not IPP is refused; an IPP one prints.
    let bytes = print(queue(&queues, "Direct"), 1);
    let offer = offered(&run);
    let job = offer["job"].as_str().unwrap();
    let refused = client.run(&["jobs", "fallback", job, "--printer", "file:///etc/passwd"], "");
    assert_eq!(refused.error_code(), "CONFIG");
    answer(&client, job, &["--printer", &typed.uri()]);
    run.expect(Duration::from_secs(60), "printed on the printer typed", |v| v["type"] == "offline_printed");
    assert_eq!(std::fs::read(&typed.documents()[0]).unwrap(), bytes);
    assert!(office.documents().is_empty() && fallback.documents().is_empty());
}

/// A job whose submission may have reached the server (the server recorded it and died
/// before answering) is never printed elsewhere, whoever answers the offers: it waits,
/// and prints once when the server is back.
#[test]
fn a_job_the_server_may_have_is_never_offered_for_fallback() {
    let (office, fallback) = (Printer::start("Office"), Printer::start("Fallback"));
    let site = site(&office, &fallback, &[&["Direct"]]);
    let policy = ["--policy", "print_unaccounted", "--fallback", "Fallback", "--after", "1"];
    site.admin(&[&["queue", "offline", "Direct"][..], &policy[..]].concat(), "");
    let Desk { mut server, client, run, queues, .. } = workstation(&site);
    // The server comes back as one that dies once it has recorded a job.
    server.stop();
    run.expect(Duration::from_secs(30), "the server gone", |v| v["type"] == "server_unreachable");
    server.resume_with(&[("REAM_CRASH_AT", "job-made")]);
    run.expect(Duration::from_secs(30), "the server back", |v| v["type"] == "server_back");
    print(queue(&queues, "Direct"), 2);
    assert!(server.ended_within(Duration::from_secs(30)), "the server did not die after recording the job");
    // Offline past the queue's second: any offer made is taken, as a user would.
    for _ in 0..40 {
        let offers = client.run(&["jobs", "fallback", "--json"], "").json();
        if let Some(job) = offers["offers"][0]["job"].as_str() {
            client.run(&["jobs", "fallback", job, "--printer", "Fallback"], "");
        }
        sleep(200);
    }
    server.resume();
    let printed =
        run.expect(Duration::from_secs(90), "the job at the server", |v| v["type"] == "job_submitted");
    assert_eq!(printed["job"]["queue"], "Direct");
    for _ in 0..300 {
        if office.documents().len() == 1 {
            break;
        }
        sleep(100);
    }
    assert_eq!(office.documents().len(), 1, "printed once, by the server");
    assert!(fallback.documents().is_empty(), "never printed elsewhere");
    assert!(offline_jobs(&site).is_empty());
}

/// The client killed (as SIGKILL would) at each step of a fallback print, then of the
/// journal's replay, and started again: each job printed once, reported and charged once.
#[test]
fn a_client_killed_at_any_step_of_an_offline_print_or_its_report_prints_and_charges_once() {
    let (office, fallback) = (Printer::start("Office"), Printer::start("Fallback"));
    let site = falling_back(&office, &fallback, "10");
    let mut server = site.serve();
    let client = alice(&server, &site);
    let port = free_port();
    let queues = {
        let first = run(&client, port, &[]);
        let queues = cups_queues(&client, port);
        drop(first);
        queues
    };
    server.stop();
    let points =
        ["fallback-chosen", "fallback-journaled", "fallback-sent", "fallback-printed", "fallback-reported"];
    for (n, point) in points.iter().enumerate() {
        let mut dying = Watch::start_env(
            &client,
            &["run", "--port", &port.to_string(), "--json"],
            &[("REAM_CRASH_AT", point)],
        );
        dying.expect(Duration::from_secs(15), "the client listening", |v| v["type"] == "status");
        print(queue(&queues, "Direct"), 1);
        let offer = offered(&dying);
        answer(&client, offer["job"].as_str().unwrap(), &["--printer", "Fallback"]);
        assert!(dying.ended_within(Duration::from_secs(60)), "the client did not die at {point}");
        drop(dying);
        // Started again: the job goes on from where it was, to the printer chosen.
        let again = Watch::start(&client, &["run", "--port", &port.to_string(), "--json"]);
        again.expect(Duration::from_secs(60), &format!("job {n} printed after dying at {point}"), |v| {
            v["type"] == "offline_printed"
        });
        drop(again);
        assert_eq!(fallback.documents().len(), n + 1, "printed once, after dying at {point}");
    }
    // Killed once the server took the entries, before noting that it did.
    let mut dying = Watch::start_env(
        &client,
        &["run", "--port", &port.to_string(), "--json"],
        &[("REAM_CRASH_AT", "journal-replayed")],
    );
    server.resume();
    assert!(dying.ended_within(Duration::from_secs(90)), "the client did not die while replaying");
    drop(dying);
    let again = Watch::start(&client, &["run", "--port", &port.to_string(), "--json"]);
    let seen = expect_each(
        &again,
        Duration::from_secs(60),
        &[
            ("the journal reported", &reported),
            ("five jobs charged once", &|v| credit_of(v) == Some(2_000 - 5 * 10)),
        ],
    );
    assert_eq!(seen[0]["refused"], 0, "{}", seen[0]);
    let listed = offline_jobs(&site);
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert!(listed.iter().all(|j| j["state"] == "printed"), "{listed:?}");
    assert_eq!(fallback.documents().len(), 5);
    assert!(office.documents().is_empty());
    assert_eq!(client.status()["offline_pending"], 0);
}

#[test]
fn an_edited_journal_is_refused_and_shown_to_administrators() {
    let (office, fallback) = (Printer::start("Office"), Printer::start("Fallback"));
    let site = falling_back(&office, &fallback, "10");
    let Desk { mut server, client, port, run: first, queues } = workstation(&site);
    server.stop();
    print(queue(&queues, "Direct"), 6);
    let offer = offered(&first);
    answer(&client, offer["job"].as_str().unwrap(), &["--printer", "Fallback"]);
    first.expect(Duration::from_secs(60), "printed offline", |v| v["type"] == "offline_printed");
    drop(first);
    // Six pages become one in the journal.
    let journal = client.cache_dir().join("journal/entries.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.contains("\"pages\":6"), "{text}");
    std::fs::write(&journal, text.replace("\"pages\":6", "\"pages\":1")).unwrap();

    server.resume();
    let again = Watch::start(&client, &["run", "--port", &port.to_string(), "--json"]);
    let reported = again.expect(Duration::from_secs(60), "the journal answered", reported);
    assert_eq!(
        (reported["reported"].as_u64(), reported["refused"].as_u64()),
        (Some(0), Some(1)),
        "{reported}"
    );
    let refusals = site.admin_json(&["journal", "refusals"], "");
    let reasons: Vec<&str> =
        refusals.as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert!(reasons.iter().any(|r| r.contains("forged or edited")), "{reasons:?}");
    assert!(offline_jobs(&site).is_empty());
    assert_eq!(client.status()["account"]["credit_cents"], 2_000, "nothing charged on an edited record");
    assert_eq!(client.status()["offline_pending"], 0, "answered, so no longer pending");
}
