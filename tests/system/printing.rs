//! Printing end to end with the real parts: a PDF printed with `lp` through the CUPS
//! queue `ream cups install` made, into the `ream run` client's IPP printer, on to the
//! real server, out to an `ippeveprinter` printer; the owner charged for its real pages.

use std::time::Duration;

use ream_system_tests::client::{credit_of, files_under, keyring_has, Client, Watch};
use ream_system_tests::printer::{ipp_request, lp, CupsQueue, Printer};
use ream_system_tests::server::{ServerProcess, Site};
use ream_system_tests::{free_port, pdf, sleep};
use serde_json::{json, Value};

/// A site with the usual people, a price list (0.05 mono, 0.20 colour, 0.01 off per
/// duplex page) and a printer, with `queues` as `ream-server admin queue add` arguments.
fn site_with_printer(printer: &Printer, queues: &[&[&str]]) -> (Site, ServerProcess) {
    site_with_printer_at(printer, &printer.uri(), queues)
}

fn site_with_printer_at(printer: &Printer, uri: &str, queues: &[&[&str]]) -> (Site, ServerProcess) {
    let site = Site::with_printer("", &printer.name, uri, queues);
    let server = site.serve();
    (site, server)
}

fn logged_in_client(server: &ServerProcess) -> Client {
    let client = Client::new();
    client.run(&["connect", "--server", &server.url, "--json"], "").json();
    client.run(&["login", "--method", "pin", "--remember", "always", "--json"], "1234\n").json();
    client
}

/// Submits a document by the API, as a client does.
fn api_submit(
    server: &ServerProcess,
    token: &str,
    document: Vec<u8>,
    meta: Value,
) -> reqwest::blocking::Response {
    reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/jobs", server.url))
        .bearer_auth(token)
        .header("x-ream-job", meta.to_string())
        .body(document)
        .send()
        .unwrap()
}

fn jobs(client: &Client) -> Vec<Value> {
    client.run(&["jobs", "--json"], "").json()["jobs"].as_array().unwrap().clone()
}

/// Waits until the newest job of the client's user is in `state`.
fn wait_for_state(client: &Client, state: &str) -> Value {
    for _ in 0..100 {
        let list = jobs(client);
        match list.first() {
            Some(j) if j["state"] == state => return j.clone(),
            Some(j) if ["failed", "rejected", "deleted"].contains(&j["state"].as_str().unwrap_or("")) => {
                panic!("the job ended {} instead of {state}: {j}", j["state"])
            }
            _ => sleep(100),
        }
    }
    panic!("the job never reached {state}: {:?}", jobs(client));
}

/// Waits until every job of the client's user is printed.
fn wait_until_all_printed(client: &Client) {
    for _ in 0..300 {
        if jobs(client).iter().all(|j| j["state"] == "printed") {
            return;
        }
        sleep(100);
    }
    panic!("not every job printed: {:?}", jobs(client));
}

/// `ream run` with its local printer behind a CUPS queue, the account loaded.
fn workstation(client: &Client, port: u16) -> (Watch, CupsQueue) {
    let run = Watch::start(client, &["run", "--port", &port.to_string(), "--json"]);
    run.expect(Duration::from_secs(10), "the account", |v| credit_of(v) == Some(2_000));
    let queue = CupsQueue(format!("Ream-test-{port}"));
    let r = client.run(&["cups", "install", "--port", &port.to_string(), "--name", &queue.0, "--json"], "");
    assert!(r.ok, "{}", r.stderr);
    (run, queue)
}

/// Prints a PDF of `pages` pages with `lp`; returns its bytes.
fn lp_pdf(queue: &CupsQueue, pages: usize, options: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("document.pdf");
    let bytes = pdf::pages(pages);
    std::fs::write(&document, &bytes).unwrap();
    lp(&queue.0, options, &document);
    bytes
}

#[test]
fn a_pdf_printed_with_lp_reaches_the_printer_and_is_charged_for_its_pages() {
    let printer = Printer::start("Office");
    let (_site, server) = site_with_printer(&printer, &[&["Direct"]]);
    let client = logged_in_client(&server);

    let (run, queue) = workstation(&client, free_port());
    let bytes = lp_pdf(&queue, 3, &["print-color-mode=monochrome"]);

    let submitted =
        run.expect(Duration::from_secs(30), "the job at the server", |v| v["type"] == "job_submitted");
    let job = &submitted["job"];
    assert_eq!((job["pages"].as_i64(), job["colour"].as_bool()), (Some(3), Some(false)), "{job}");
    assert_eq!(job["price_cents"], 15, "3 mono pages at 0.05");
    // The client hears of the charge and that it printed (the push channel carries both,
    // from the one transaction that made them, in either order).
    let charged = |v: &Value| credit_of(v) == Some(2_000 - 15);
    let printed = |v: &Value| v["type"] == "job_changed" && v["job"]["state"] == "printed";
    let first =
        run.expect(Duration::from_secs(30), "the charge or the job printed", |v| charged(v) || printed(v));
    if charged(&first) {
        run.expect(Duration::from_secs(30), "the job printed", printed);
    } else {
        run.expect(Duration::from_secs(30), "the charge", charged);
    }
    let printed = wait_for_state(&client, "printed");
    assert_eq!(printed["printer"], "Office");

    // The printer received the document itself, untouched.
    let documents = printer.documents();
    assert_eq!(documents.len(), 1, "{documents:?}");
    assert_eq!(std::fs::read(&documents[0]).unwrap(), bytes);
}

#[test]
fn held_jobs_wait_for_their_owner_and_refusals_say_why() {
    let printer = Printer::start("Hall");
    let (site, server) =
        site_with_printer(&printer, &[&["Pull", "--release", "pull"], &["Private", "--release", "private"]]);
    let client = logged_in_client(&server);
    let token = |credentials: Value| server.access_token(credentials);
    let submit = |token: &str, body: Vec<u8>, meta: Value| api_submit(&server, token, body, meta);
    let alice = token(json!({"method": "pin", "pin": "1234"}));

    // Held until released: nothing reaches the printer before.
    let r = submit(&alice, pdf::pages(2), json!({"name": "slides.pdf", "queue": "Pull"}));
    assert_eq!(r.status(), 201);
    // Asked in colour of a mono printer: shown (and reserved) as mono, 2 pages at 0.05, the
    // price it will be charged.
    let held: Value = r.json().unwrap();
    assert_eq!(
        (
            held["state"].as_str(),
            held["pages"].as_i64(),
            held["colour"].as_bool(),
            held["price_cents"].as_i64()
        ),
        (Some("held"), Some(2), Some(false), Some(10))
    );
    assert_eq!(jobs(&client)[0]["state"], "held");
    sleep(500);
    assert!(printer.documents().is_empty());
    // While it waits, the server keeps the document encrypted, with the key in its own file.
    let spooled: Vec<_> = std::fs::read_dir(site.data().join("spool")).unwrap().flatten().collect();
    assert_eq!(spooled.len(), 1, "one document, and no plaintext copy beside it");
    let stored = std::fs::read(spooled[0].path()).unwrap();
    assert!(stored.starts_with(b"REAMSPL1"), "a Ream spool file");
    assert!(!stored.windows(5).any(|w| w == b"%PDF-"), "no plaintext PDF at rest");
    let key_mode = std::fs::metadata(site.data().join("spool.key")).unwrap().permissions();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key_mode) & 0o777, 0o600);
    let released = client.run(&["jobs", "release", held["id"].as_str().unwrap(), "--json"], "").json();
    assert_eq!(released["state"], "printing");
    // Charged what was shown.
    let printed = wait_for_state(&client, "printed");
    assert_eq!(
        (printed["colour"].as_bool(), printed["price_cents"].as_i64()),
        (Some(false), Some(10)),
        "{printed}"
    );
    assert_eq!(printer.documents().len(), 1);
    assert_eq!(client.status()["account"]["credit_cents"], 2_000 - 10);
    // A pull queue keeps the document: released again, it prints again and is charged again.
    let again = client.run(&["jobs", "release", held["id"].as_str().unwrap(), "--json"], "").json();
    assert_eq!(again["state"], "printing");
    wait_for_state(&client, "printed");
    assert_eq!(printer.documents().len(), 2);
    assert_eq!(client.status()["account"]["credit_cents"], 2_000 - 20);
    // Its kept document deleted, there is nothing to reprint.
    client.run(&["jobs", "delete", held["id"].as_str().unwrap(), "--json"], "").json();
    let r = client.run(&["jobs", "release", held["id"].as_str().unwrap()], "");
    assert_eq!(r.error_code(), "CONFLICT");

    // A private queue deletes the document once printed: no reprint.
    let r = submit(
        &alice,
        pdf::pages(1),
        json!({"name": "payslip.pdf", "queue": "Private", "color_mode": "monochrome"}),
    );
    let private: Value = r.json().unwrap();
    client.run(&["jobs", "release", private["id"].as_str().unwrap(), "--json"], "").json();
    wait_for_state(&client, "printed");
    assert_eq!(printer.documents().len(), 3);
    let r = client.run(&["jobs", "release", private["id"].as_str().unwrap()], "");
    assert_eq!(r.error_code(), "CONFLICT");

    // Deleted before release: never printed, never charged.
    let r = submit(
        &alice,
        pdf::pages(1),
        json!({"name": "draft.pdf", "queue": "Pull", "color_mode": "monochrome"}),
    );
    let draft: Value = r.json().unwrap();
    let deleted = client.run(&["jobs", "delete", draft["id"].as_str().unwrap(), "--json"], "").json();
    assert_eq!(deleted["state"], "deleted");
    let again = client.run(&["jobs", "release", draft["id"].as_str().unwrap()], "");
    assert_eq!(again.error_code(), "CONFLICT");
    assert_eq!(printer.documents().len(), 3);
    assert_eq!(client.status()["account"]["credit_cents"], 2_000 - 20 - 5);

    // Refusals name their reason: a broken document, credit that does not cover the job.
    let r = submit(
        &alice,
        b"%PDF-1.4 this is not really a PDF".to_vec(),
        json!({"name": "broken.pdf", "queue": "Pull"}),
    );
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().unwrap()["code"], "DOCUMENT_INVALID");
    let bob = token(json!({"method": "pin", "pin": "5678"}));
    let r = submit(&bob, pdf::pages(5), json!({"name": "poster.pdf", "queue": "Pull"}));
    assert_eq!(r.status(), 402);
    assert_eq!(r.json::<Value>().unwrap()["code"], "CREDIT_INSUFFICIENT");

    // A job is its owner's alone: another user cannot release or even see it.
    site.admin(&["credit", "top-up", "bob", "1"], "");
    let bobs: Value =
        submit(&bob, pdf::pages(1), json!({"name": "bob.pdf", "queue": "Pull"})).json().unwrap();
    let r = client.run(&["jobs", "release", bobs["id"].as_str().unwrap()], "");
    assert_eq!(r.error_code(), "NOT_FOUND");
    assert!(jobs(&client).iter().all(|j| j["id"] != bobs["id"]));
}

#[test]
fn jobs_travel_to_an_ipps_printer_encrypted() {
    let printer = Printer::start("Secure");
    let (_site, server) = site_with_printer_at(&printer, &printer.ipps_uri(), &[&["Direct"]]);
    let client = logged_in_client(&server);
    let token = server.access_token(json!({"method": "card", "card": "04A1B2C3"}));
    let bytes = pdf::pages(4);
    let meta = json!({"name": "contract.pdf", "color_mode": "monochrome", "sides": "two-sided-long-edge"});
    let r = api_submit(&server, &token, bytes.clone(), meta);
    assert_eq!(r.status(), 201);
    let job: Value = r.json().unwrap();
    assert_eq!(
        (job["duplex"].as_bool(), job["price_cents"].as_i64()),
        (Some(false), Some(20)),
        "asked two-sided of a printer without a duplex unit: 4 one-sided mono pages at 0.05"
    );
    wait_for_state(&client, "printed");
    assert_eq!(std::fs::read(&printer.documents()[0]).unwrap(), bytes);
    assert!(printer.log().contains("Connection now encrypted"), "{}", printer.log());
}

#[test]
fn ipps_printers_are_pinned_to_their_certificate() {
    let printer = Printer::start("Pinned");
    let (site, server) = site_with_printer_at(&printer, &printer.ipps_uri(), &[&["Direct"]]);
    // Added without a fingerprint, the printer was pinned to the certificate it presented.
    let listed: Value = serde_json::from_str(&site.admin(&["printer", "list"], "")).unwrap();
    let pinned = listed[0]["fingerprint"].as_str().unwrap_or_default().to_string();
    assert_eq!(pinned.len(), 95, "a SHA-256 fingerprint: {listed}");
    // Another certificate at that address (here: a wrong pin) is refused, and the job
    // fails with the reason instead of going to a printer that may be an impostor.
    let wrong = format!("00{}", &pinned[2..]);
    site.admin(
        &[
            "printer",
            "add",
            "Impostor",
            "--uri",
            &printer.ipps_uri(),
            "--price-list",
            "standard",
            "--fingerprint",
            &wrong,
        ],
        "",
    );
    site.admin(&["queue", "add", "Suspicious", "--printer", "Impostor"], "");
    let client = logged_in_client(&server);
    let token = server.access_token(json!({"method": "card", "card": "04A1B2C3"}));
    let r = api_submit(&server, &token, pdf::pages(1), json!({"name": "a.pdf", "queue": "Suspicious"}));
    assert_eq!(r.status(), 201);
    let failed = (0..100)
        .find_map(|_| {
            let j = jobs(&client).remove(0);
            if j["state"] == "failed" {
                Some(j)
            } else {
                sleep(100);
                None
            }
        })
        .expect("the job fails");
    assert!(failed["reason"].as_str().unwrap().contains("not the pinned one"), "{failed}");
    assert!(printer.documents().is_empty(), "nothing went to the impostor");
    assert_eq!(client.status()["account"]["credit_cents"], 2_000, "nothing charged");
}

#[test]
fn client_spooled_jobs_stay_on_the_workstation_until_released_even_while_it_is_off() {
    let printer = Printer::start("Annex");
    let (site, server) =
        site_with_printer(&printer, &[&["Local", "--spooling", "client", "--release", "pull"]]);
    let client = logged_in_client(&server);
    let port = free_port();
    let (run, queue) = workstation(&client, port);
    let bytes = lp_pdf(&queue, 2, &["print-color-mode=monochrome"]);

    // Only the description reaches the server; the pages were counted on the workstation.
    let submitted =
        run.expect(Duration::from_secs(30), "the job at the server", |v| v["type"] == "job_submitted");
    let id = submitted["job"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        (submitted["job"]["state"].as_str(), submitted["job"]["pages"].as_i64()),
        (Some("held"), Some(2)),
        "{submitted}"
    );
    let server_spool = site.data().join("spool");
    assert!(!server_spool.exists() || std::fs::read_dir(&server_spool).unwrap().count() == 0);
    // The workstation keeps it, encrypted.
    let held = client.cache_dir().join("held").join(format!("{id}.spool"));
    let stored = std::fs::read(&held).expect("the document is held on the workstation");
    assert!(stored.starts_with(b"REAMSPL1") && !stored.windows(5).any(|w| w == b"%PDF-"));

    // The workstation goes away; its owner releases the job meanwhile (from anywhere).
    drop(run);
    let released = client.run(&["jobs", "release", &id, "--json"], "").json();
    assert_eq!(released["state"], "printing");
    sleep(1_500);
    assert!(printer.documents().is_empty(), "nothing can print while the workstation is off");
    assert_eq!(jobs(&client)[0]["state"], "printing", "paused, waiting for the workstation");

    // It comes back: the server asks it to print, it sends the document straight to the
    // printer, reports, and the job is charged and done.
    let run = Watch::start(&client, &["run", "--port", &port.to_string(), "--json"]);
    run.expect(Duration::from_secs(30), "the job printed", |v| {
        v["type"] == "job_changed" && v["job"]["state"] == "printed"
    });
    let printed = wait_for_state(&client, "printed");
    assert_eq!((printed["id"].as_str(), printed["price_cents"].as_i64()), (Some(id.as_str()), Some(10)));
    assert_eq!(client.status()["account"]["credit_cents"], 2_000 - 10, "charged once");
    // The server asked the printer about the job the client reported: it confirms it.
    let listed: Value = serde_json::from_str(&site.admin(&["job", "list"], "")).unwrap();
    let checked = listed.as_array().unwrap().iter().find(|j| j["id"] == id.as_str()).unwrap().clone();
    assert_eq!(
        (checked["check"].as_str(), checked["impressions_charged"].as_i64()),
        (Some("confirmed"), Some(2)),
        "{checked}"
    );
    let documents = printer.documents();
    assert_eq!(documents.len(), 1, "printed once: {documents:?}");
    assert_eq!(std::fs::read(&documents[0]).unwrap(), bytes, "byte-identical");
    for _ in 0..50 {
        if !held.exists() {
            break;
        }
        sleep(100);
    }
    assert!(!held.exists(), "the workstation drops the document once it printed");
    assert!(!server_spool.exists() || std::fs::read_dir(&server_spool).unwrap().count() == 0);
}

/// The workstation killed (as SIGKILL would) once the printer took a held job, before the
/// server heard it printed: asked again when it is back, it follows the job at the printer
/// instead of printing it a second time.
#[test]
fn a_held_job_sent_just_before_its_workstation_died_prints_once() {
    let printer = Printer::start("Annex");
    let (_site, server) =
        site_with_printer(&printer, &[&["Local", "--spooling", "client", "--release", "pull"]]);
    let client = logged_in_client(&server);
    let port = free_port();
    let (run, queue) = workstation(&client, port);
    drop(run);
    let mut dying = Watch::start_env(
        &client,
        &["run", "--port", &port.to_string(), "--json"],
        &[("REAM_CRASH_AT", "held-sent")],
    );
    dying.expect(Duration::from_secs(15), "the account", |v| credit_of(v) == Some(2_000));
    lp_pdf(&queue, 1, &["print-color-mode=monochrome"]);
    let submitted =
        dying.expect(Duration::from_secs(30), "the job at the server", |v| v["type"] == "job_submitted");
    let id = submitted["job"]["id"].as_str().unwrap().to_string();
    client.run(&["jobs", "release", &id, "--json"], "").json();
    assert!(dying.ended_within(Duration::from_secs(30)), "the client did not die after sending");
    assert_eq!(printer.documents().len(), 1, "the printer took it");
    let again = Watch::start(&client, &["run", "--port", &port.to_string(), "--json"]);
    again.expect(Duration::from_secs(30), "the job printed", |v| {
        v["type"] == "job_changed" && v["job"]["state"] == "printed"
    });
    assert_eq!(printer.documents().len(), 1, "printed once");
    assert_eq!(client.status()["account"]["credit_cents"], 2_000 - 5, "charged once");
}

#[test]
fn the_job_dialog_asks_for_the_account_the_project_and_a_confirmation() {
    let printer = Printer::start("Studio");
    let queue: &[&str] = &["Billed", "--accounting", "cost_centre", "--project-accounting", "--confirm-cost"];
    let (site, server) = site_with_printer(&printer, &[queue]);
    site.open_accounts("alice", &["Events", "Marketing"], &["Website", "Brochure 2026"]);
    let client = logged_in_client(&server);

    // Printed through CUPS: the client shows the dialog the server asks for.
    let (run, cups) = workstation(&client, free_port());
    lp_pdf(&cups, 2, &["print-color-mode=monochrome"]);
    let event = run.expect(Duration::from_secs(30), "the job dialog", |v| v["type"] == "job_dialog");
    let dialog = &event["dialog"];
    assert_eq!(
        (dialog["choose_payment"].as_bool(), dialog["choose_project"].as_bool(), dialog["confirm"].as_bool()),
        (Some(true), Some(true), Some(true))
    );
    let options: Vec<String> = dialog["payment_options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| format!("{}:{}", o["kind"].as_str().unwrap(), o["name"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(options, ["cost_centre:Events", "cost_centre:Marketing", "credit:"]);
    let projects: Vec<&str> =
        dialog["projects"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(projects, ["Brochure 2026", "Website"]);
    assert_eq!((dialog["job"]["pages"].as_i64(), dialog["job"]["price_cents"].as_i64()), (Some(2), Some(10)));
    let id = dialog["job"]["id"].as_str().unwrap().to_string();
    sleep(300);
    assert!(printer.documents().is_empty(), "nothing prints before the answer");

    // Answers are checked: an account or project the user may not use is refused.
    let wrong =
        client.run(&["jobs", "answer", &id, "--account", "cost_centre:Sales", "--project", "Website"], "");
    assert_eq!(wrong.error_code(), "INVALID_INPUT");
    let no_project = client.run(&["jobs", "answer", &id, "--account", "cost_centre:Marketing"], "");
    assert_eq!(no_project.error_code(), "INVALID_INPUT");
    let answered = client
        .run(
            &["jobs", "answer", &id, "--account", "cost_centre:Marketing", "--project", "Website", "--json"],
            "",
        )
        .json();
    assert_eq!(answered["payment"], json!({"kind": "cost_centre", "name": "Marketing"}));
    assert_eq!(answered["project"], "Website");
    let printed = wait_for_state(&client, "printed");
    assert_eq!(printed["id"], id.as_str());
    assert_eq!(printer.documents().len(), 1);
    assert_eq!(client.status()["account"]["credit_cents"], 2_000, "the cost centre pays, not alice");

    // Paid by credit instead, answered for every waiting job at once; or cancelled.
    let token = server.access_token(json!({"method": "pin", "pin": "1234"}));
    let submit = |name: &str| -> String {
        let meta = json!({"name": name, "color_mode": "monochrome"});
        let r: Value = api_submit(&server, &token, pdf::pages(1), meta).json().unwrap();
        assert_eq!(r["state"], "waiting_for_user", "{r}");
        r["id"].as_str().unwrap().to_string()
    };
    let (a, b, c) = (submit("a.pdf"), submit("b.pdf"), submit("c.pdf"));
    // The cost centre used last now comes first.
    let dialog = client.run(&["jobs", "dialog", &a, "--json"], "").json();
    let first = &dialog["payment_options"][0];
    assert_eq!((first["kind"].as_str(), first["name"].as_str()), (Some("cost_centre"), Some("Marketing")));
    let cancelled = client.run(&["jobs", "answer", &c, "--cancel", "--json"], "").json();
    assert_eq!(cancelled["state"], "deleted");
    client
        .run(
            &["jobs", "answer", &a, "--account", "credit", "--project", "Brochure 2026", "--all", "--json"],
            "",
        )
        .json();
    for _ in 0..100 {
        let list = jobs(&client);
        let state_of =
            |id: &str| list.iter().find(|j| j["id"] == id).unwrap()["state"].as_str().unwrap().to_string();
        if state_of(&a) == "printed" && state_of(&b) == "printed" {
            break;
        }
        sleep(100);
    }
    let list = jobs(&client);
    for id in [&a, &b] {
        let job = list.iter().find(|j| &j["id"] == id).unwrap();
        assert_eq!(
            (job["state"].as_str(), job["project"].as_str()),
            (Some("printed"), Some("Brochure 2026")),
            "{job}"
        );
    }
    assert_eq!(client.status()["account"]["credit_cents"], 2_000 - 2 * 5);
    assert_eq!(printer.documents().len(), 3);
}

#[test]
fn a_server_stopped_mid_job_takes_it_up_again_without_printing_twice() {
    let printer = Printer::slow("Slow", 4);
    let (_site, mut server) = site_with_printer(&printer, &[&["Direct"]]);
    let client = logged_in_client(&server);
    let token = server.access_token(json!({"method": "pin", "pin": "1234"}));
    let r = api_submit(
        &server,
        &token,
        pdf::pages(2),
        json!({"name": "minutes.pdf", "color_mode": "monochrome"}),
    );
    assert_eq!(r.status(), 201);
    // The printer has the document and is still printing it: the server stops now.
    for _ in 0..100 {
        if !printer.documents().is_empty() {
            break;
        }
        sleep(50);
    }
    assert_eq!(printer.documents().len(), 1);
    // The printer answers once it has the whole document; give the server that moment
    // to note the printer's job id (the printer then prints for 4 s).
    sleep(1_000);
    server.stop();
    server.resume();
    // A second job while the printer is still busy with the first: it waits its turn.
    let token = server.access_token(json!({"method": "pin", "pin": "1234"}));
    let r =
        api_submit(&server, &token, pdf::pages(1), json!({"name": "agenda.pdf", "color_mode": "monochrome"}));
    assert_eq!(r.status(), 201);
    wait_until_all_printed(&client);
    assert_eq!(printer.documents().len(), 2, "each sent once");
    assert_eq!(client.status()["account"]["credit_cents"], 2_000 - 10 - 5, "each charged once");
}

#[test]
fn a_server_stopped_between_sending_and_noting_the_printer_job_does_not_print_twice() {
    let printer = Printer::slow("Window", 3);
    let (site, mut server) = site_with_printer(&printer, &[&["Direct"]]);
    let client = logged_in_client(&server);
    // The printer already has older jobs of this user: the floor must tell them apart.
    let token = server.access_token(json!({"method": "pin", "pin": "1234"}));
    let meta = json!({"name": "budget.pdf", "color_mode": "monochrome"});
    assert_eq!(api_submit(&server, &token, pdf::pages(1), meta.clone()).status(), 201);
    wait_for_state(&client, "printed");
    assert_eq!(api_submit(&server, &token, pdf::pages(1), meta).status(), 201);
    for _ in 0..100 {
        if printer.documents().len() == 2 {
            break;
        }
        sleep(50);
    }
    assert_eq!(printer.documents().len(), 2);
    sleep(500);
    server.stop();
    // Make the database look as if the server had stopped right after the printer took
    // the job, before it noted the printer's job id.
    let db = format!("sqlite://{}", site.data().join("ream.sqlite3").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db).await.unwrap();
        let done = sqlx::query("UPDATE jobs SET printer_job_id = NULL WHERE state = 'printing'")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1, "one job was on its way");
        pool.close().await;
    });
    server.resume();
    wait_until_all_printed(&client);
    assert_eq!(printer.documents().len(), 2, "found at the printer, not sent again");
    assert_eq!(client.status()["account"]["credit_cents"], 2_000 - 5 - 5, "each charged once");
}

#[test]
fn queue_scripts_ask_change_and_reject_jobs() {
    let printer = Printer::start("Lab");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("lab.rhai");
    std::fs::write(
        &script,
        r#"
        if job.pages > 1 {
            if !ask_yes_no("long", "Print all " + job.pages + " pages?") { reject("not confirmed"); }
        }
        let mode = ask_choice("mode", "Colour or mono?", ["colour", "mono"]);
        if mode == "mono" { force_mono(); }
        notify("Printed for " + job.owner + " on " + job.printer);
        "#,
    )
    .unwrap();
    let runaway = dir.path().join("runaway.rhai");
    std::fs::write(&runaway, "loop { }").unwrap();
    let script_arg = script.to_str().unwrap().to_string();
    let runaway_arg = runaway.to_str().unwrap().to_string();
    let (_site, server) = site_with_printer(
        &printer,
        &[&["Scripted", "--script", &script_arg], &["Runaway", "--script", &runaway_arg]],
    );
    let client = logged_in_client(&server);
    let token = server.access_token(json!({"method": "pin", "pin": "1234"}));
    let submit = |pages: usize, queue: &str| -> Value {
        let r = api_submit(&server, &token, pdf::pages(pages), json!({"name": "lab.pdf", "queue": queue}));
        assert_eq!(r.status(), 201);
        r.json().unwrap()
    };

    // The script's questions come in one dialog, with what it wants the user to know.
    let job = submit(3, "Scripted");
    assert_eq!(job["state"], "waiting_for_user");
    let id = job["id"].as_str().unwrap();
    let dialog = client.run(&["jobs", "dialog", id, "--json"], "").json();
    let questions: Vec<(&str, &str)> = dialog["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["id"].as_str().unwrap(), q["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(questions, [("long", "yes_no"), ("mode", "choice")]);
    assert_eq!(dialog["questions"][0]["text"], "Print all 3 pages?");
    assert_eq!(dialog["notices"], json!(["Printed for alice on Lab"]));
    // An answer outside the question's choices is refused, naming them; the job waits on.
    let wrong = client.run(&["jobs", "answer", id, "--answer", "long=maybe", "--answer", "mode=mono"], "");
    assert_eq!(wrong.error_code(), "INVALID_INPUT");
    assert!(wrong.stderr.contains("yes") && wrong.stderr.contains("no"), "{}", wrong.stderr);
    assert_eq!(jobs(&client)[0]["state"], "waiting_for_user");
    // Answered: the script forces mono, and the job is priced and printed as mono.
    client.run(&["jobs", "answer", id, "--answer", "long=yes", "--answer", "mode=mono", "--json"], "").json();
    let printed = wait_for_state(&client, "printed");
    assert_eq!(
        (printed["colour"].as_bool(), printed["price_cents"].as_i64()),
        (Some(false), Some(15)),
        "{printed}"
    );
    // Nothing left to answer: said so, and the command fails.
    let again = client.run(&["jobs", "answer", id], "");
    assert_eq!(again.error_code(), "CONFLICT");
    assert!(again.stderr.contains("waits for no answer"), "{}", again.stderr);
    assert_eq!(client.status()["account"]["credit_cents"], 2_000 - 15);

    // The script rejects with its reason; a runaway script is stopped and rejects.
    let job = submit(2, "Scripted");
    let rejected = client
        .run(
            &[
                "jobs",
                "answer",
                job["id"].as_str().unwrap(),
                "--answer",
                "long=no",
                "--answer",
                "mode=colour",
                "--json",
            ],
            "",
        )
        .json();
    assert_eq!(
        (rejected["state"].as_str(), rejected["reason"].as_str()),
        (Some("rejected"), Some("not confirmed"))
    );
    let started = std::time::Instant::now();
    let job = submit(1, "Runaway");
    assert_eq!(job["state"], "rejected", "{job}");
    assert!(job["reason"].as_str().unwrap().contains("script failed"), "{job}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(printer.documents().len(), 1, "only the answered job printed");
}

#[test]
fn a_job_with_nobody_logged_in_waits_for_the_login_its_queue_asks_for() {
    let printer = Printer::start("Kiosk");
    let (_site, server) = site_with_printer(&printer, &[&["Shared", "--detection", "pin_card"]]);
    let client = Client::new();
    client.run(&["connect", "--server", &server.url, "--json"], "").json();

    // Nobody is logged in; the person at the terminal will answer with a PIN.
    let port = free_port();
    let run = Watch::start_answering(&client, &["run", "--port", &port.to_string(), "--json"], "pin\n1234\n");
    run.expect(Duration::from_secs(15), "the client listening", |v| v["type"] == "status");
    let cups = CupsQueue(format!("Ream-kiosk-{port}"));
    assert!(client.run(&["cups", "install", "--port", &port.to_string(), "--name", &cups.0], "").ok);
    lp_pdf(&cups, 1, &["print-color-mode=monochrome"]);

    let asked = run.expect(Duration::from_secs(30), "the login prompt", |v| {
        v["type"] == "login_required" && v["job"].is_string()
    });
    assert_eq!(asked["methods"], json!(["pin", "card", "card_pin"]));
    let submitted =
        run.expect(Duration::from_secs(30), "the job at the server", |v| v["type"] == "job_submitted");
    assert_eq!(submitted["job"]["pages"], 1);
    run.expect(Duration::from_secs(30), "the job printed", |v| {
        v["type"] == "job_changed" && v["job"]["state"] == "printed"
    });
    assert_eq!(printer.documents().len(), 1);
}

#[test]
fn a_client_killed_while_a_job_waits_takes_it_up_at_its_next_start() {
    let printer = Printer::start("Lobby");
    let (_site, server) = site_with_printer(&printer, &[&["Shared", "--detection", "pin_card"]]);
    let client = Client::new();
    client.run(&["connect", "--server", &server.url, "--json"], "").json();
    let port = free_port();
    // Nobody answers the login prompt; the client is killed while the job waits.
    let run = Watch::start_answering(&client, &["run", "--port", &port.to_string(), "--json"], "");
    run.expect(Duration::from_secs(15), "the client listening", |v| v["type"] == "status");
    let cups = CupsQueue(format!("Ream-lobby-{port}"));
    let r = client.run(&["cups", "install", "--port", &port.to_string(), "--name", &cups.0], "");
    assert!(r.ok, "{}", r.stderr);
    let bytes = lp_pdf(&cups, 2, &["print-color-mode=monochrome"]);
    run.expect(Duration::from_secs(30), "the job's login prompt", |v| {
        v["type"] == "login_required" && v["job"].is_string()
    });
    drop(run);
    let spool = client.cache_dir().join("spool");
    let mut left: Vec<String> = std::fs::read_dir(&spool)
        .unwrap()
        .flatten()
        .map(|e| e.path().extension().unwrap().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["json", "spool"], "the document and its description wait");
    // A half-written document of an earlier crash is dropped (the spooler sends it again).
    std::fs::write(spool.join("torn.part"), b"REAMSPL1 and then nothing").unwrap();

    // At its next start the client asks for the login again and prints the job.
    let run = Watch::start_answering(&client, &["run", "--port", &port.to_string(), "--json"], "pin\n1234\n");
    let submitted =
        run.expect(Duration::from_secs(30), "the job at the server", |v| v["type"] == "job_submitted");
    assert_eq!(submitted["job"]["pages"], 2);
    run.expect(Duration::from_secs(30), "the job printed", |v| {
        v["type"] == "job_changed" && v["job"]["state"] == "printed"
    });
    assert_eq!(std::fs::read(&printer.documents()[0]).unwrap(), bytes);
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0, "nothing left behind");
}

#[test]
fn a_job_whose_login_never_comes_is_refused_with_the_reason() {
    let printer = Printer::start("Desk");
    let (_site, server) = site_with_printer(&printer, &[&["Shared", "--detection", "password"]]);
    let client = Client::new();
    client.run(&["connect", "--server", &server.url, "--json"], "").json();
    let settings = std::fs::read_to_string(client.settings_file()).unwrap();
    let settings = settings.replace("login_wait_seconds = 120", "login_wait_seconds = 2");
    assert!(settings.contains("login_wait_seconds = 2"), "{settings}");
    std::fs::write(client.settings_file(), settings).unwrap();

    let port = free_port();
    let run = Watch::start(&client, &["run", "--port", &port.to_string(), "--json"]);
    // Its first status comes once its printer listens, which CUPS' driver set-up asks.
    run.expect(Duration::from_secs(15), "the client listening", |v| v["type"] == "status");
    let cups = CupsQueue(format!("Ream-desk-{port}"));
    assert!(client.run(&["cups", "install", "--port", &port.to_string(), "--name", &cups.0], "").ok);
    lp_pdf(&cups, 1, &[]);

    let asked = run.expect(Duration::from_secs(30), "the login prompt", |v| {
        v["type"] == "login_required" && v["job"].is_string()
    });
    assert_eq!(asked["methods"], json!(["password"]));
    // While it waits, the document sits in the client's spool encrypted, its key in the
    // OS keyring.
    let spooled: Vec<_> = std::fs::read_dir(client.cache_dir().join("spool"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "spool"))
        .collect();
    assert_eq!(spooled.len(), 1);
    let stored = std::fs::read(spooled[0].path()).unwrap();
    assert!(stored.starts_with(b"REAMSPL1"), "a Ream spool file");
    assert!(!stored.windows(5).any(|w| w == b"%PDF-"), "no plaintext PDF on disk");
    let entry = format!("spool-key {}", client.cache_dir().display());
    assert!(keyring_has(&entry), "the spool key, named after the client's cache folder");
    let refused = run.expect(Duration::from_secs(30), "the refusal", |v| v["type"] == "job_refused");
    assert!(refused["reason"].as_str().unwrap().contains("nobody logged in"), "{refused}");
    assert!(printer.documents().is_empty());
    // Nothing is left in the client's spool.
    assert!(std::fs::read_dir(client.cache_dir().join("spool")).map(|d| d.count() == 0).unwrap_or(true));
}

#[test]
fn a_document_over_the_size_limit_is_refused() {
    // The printer is never reached: the queue holds jobs.
    let site = Site::with_printer(
        "max_job_bytes = 4000\n",
        "P",
        "ipp://127.0.0.1:9/ipp/print",
        &[&["Hold", "--release", "pull"]],
    );
    let server = site.serve();
    let token = server.access_token(json!({"method": "pin", "pin": "1234"}));
    let small = api_submit(&server, &token, pdf::pages(1), json!({"name": "small.pdf"}));
    assert_eq!(small.status(), 201);
    let large = api_submit(&server, &token, pdf::pages(40), json!({"name": "large.pdf"}));
    assert_eq!(large.status(), 422);
    let body: Value = large.json().unwrap();
    assert_eq!(body["code"], "DOCUMENT_INVALID");
    assert!(body["message"].as_str().unwrap().contains("larger"), "{body}");
    // Nothing of it stays in the spool.
    let spooled = std::fs::read_dir(site.data().join("spool")).unwrap().count();
    assert_eq!(spooled, 1, "only the small job's document");
}

#[test]
fn a_quota_queue_counts_printed_pages_and_refuses_what_exceeds_it() {
    let printer = Printer::start("Copier");
    let (site, server) = site_with_printer(&printer, &[&["Quota", "--accounting", "quota"]]);
    site.admin(
        &[
            "quota",
            "add",
            "alice",
            "--name",
            "Monthly",
            "--period",
            "month",
            "--metric",
            "total_pages",
            "--limit",
            "3",
        ],
        "",
    );
    let client = logged_in_client(&server);
    let token = server.access_token(json!({"method": "pin", "pin": "1234"}));

    let r =
        api_submit(&server, &token, pdf::pages(2), json!({"name": "two.pdf", "color_mode": "monochrome"}));
    assert_eq!(r.status(), 201);
    wait_for_state(&client, "printed");
    let quota = &client.status()["account"]["quotas"][0];
    assert_eq!((quota["used"].as_i64(), quota["remaining"].as_i64()), (Some(2), Some(1)), "{quota}");
    assert_eq!(client.status()["account"]["credit_cents"], 2_000, "paying by quota spends no credit");

    let r = api_submit(&server, &token, pdf::pages(2), json!({"name": "two-more.pdf"}));
    assert_eq!(r.status(), 402);
    assert_eq!(r.json::<Value>().unwrap()["code"], "QUOTA_EXCEEDED");
    assert_eq!(printer.documents().len(), 1);
}

#[test]
fn kept_reprint_documents_expire() {
    let printer = Printer::start("Archive");
    let site = Site::with_printer(
        "reprint_hours = 0\n",
        "Archive",
        &printer.uri(),
        &[&["Pull", "--release", "pull"]],
    );
    let mut server = site.serve();
    let client = logged_in_client(&server);
    let token = server.access_token(json!({"method": "pin", "pin": "1234"}));
    let job: Value = api_submit(&server, &token, pdf::pages(1), json!({"name": "old.pdf"})).json().unwrap();
    let id = job["id"].as_str().unwrap();
    client.run(&["jobs", "release", id, "--json"], "").json();
    wait_for_state(&client, "printed");
    assert_eq!(std::fs::read_dir(site.data().join("spool")).unwrap().count(), 1, "kept for a reprint");
    // The server's housekeeping runs at start (then every 10 minutes): with no reprint
    // period, the kept document goes, and a reprint is no longer possible.
    server.stop();
    server.resume();
    for _ in 0..50 {
        if std::fs::read_dir(site.data().join("spool")).unwrap().count() == 0 {
            break;
        }
        sleep(100);
    }
    assert_eq!(std::fs::read_dir(site.data().join("spool")).unwrap().count(), 0);
    assert_eq!(client.run(&["jobs", "release", id], "").error_code(), "CONFLICT");
}

/// The files waiting in the client's local spool, by extension.
fn spooled(client: &Client) -> Vec<std::path::PathBuf> {
    let mut files = files_under(&client.cache_dir().join("spool"));
    files.sort();
    files
}

#[test]
fn a_server_failing_an_upload_keeps_the_document_until_it_takes_it() {
    let printer = Printer::start("Annex");
    let (site, server) = site_with_printer(&printer, &[&["Direct"]]);
    let client = logged_in_client(&server);
    let (run, queue) = workstation(&client, free_port());
    // The server's spool is broken (a file where its folder should be): every upload
    // fails inside the server, which answers 500.
    let server_spool = site.data().join("spool");
    let _ = std::fs::remove_dir_all(&server_spool);
    std::fs::write(&server_spool, b"not a folder").unwrap();

    let bytes = lp_pdf(&queue, 2, &["print-color-mode=monochrome"]);
    let delayed = run.expect(Duration::from_secs(30), "the job kept", |v| v["type"] == "job_delayed");
    assert_eq!(delayed["code"], "INTERNAL", "{delayed}");
    let kept: Vec<_> = spooled(&client).iter().filter_map(|p| p.extension().map(|e| e.to_owned())).collect();
    assert_eq!(kept, ["json", "spool"], "the document waits on the workstation");

    // Mended, the server takes the document at the client's next try: one job, printed
    // and charged once, the workstation's copy gone.
    std::fs::remove_file(&server_spool).unwrap();
    run.expect(Duration::from_secs(90), "the job at the server", |v| v["type"] == "job_submitted");
    run.expect(Duration::from_secs(30), "the charge", |v| credit_of(v) == Some(2_000 - 10));
    wait_for_state(&client, "printed");
    assert_eq!(jobs(&client).len(), 1);
    let documents = printer.documents();
    assert_eq!(documents.len(), 1, "{documents:?}");
    assert_eq!(std::fs::read(&documents[0]).unwrap(), bytes);
    assert!(spooled(&client).is_empty(), "{:?}", spooled(&client));
}

#[test]
fn a_job_sent_again_after_its_answer_was_lost_is_made_printed_and_charged_once() {
    let printer = Printer::start("Foyer");
    let (_site, mut server) = site_with_printer(&printer, &[&["Direct"]]);
    let client = logged_in_client(&server);
    let port = free_port();
    let (run, queue) = workstation(&client, port);
    // With the server away the job waits in the local spool; its files are copied as
    // they are then.
    server.stop();
    lp_pdf(&queue, 2, &["print-color-mode=monochrome"]);
    let mut waiting = Vec::new();
    for _ in 0..300 {
        waiting = spooled(&client);
        if waiting.iter().filter(|p| p.extension().is_some_and(|e| e == "spool" || e == "json")).count() == 2
        {
            break;
        }
        sleep(100);
    }
    let copies: Vec<(std::path::PathBuf, Vec<u8>)> =
        waiting.iter().map(|p| (p.clone(), std::fs::read(p).unwrap())).collect();
    assert_eq!(copies.len(), 2, "{waiting:?}");
    server.resume();
    let first =
        run.expect(Duration::from_secs(90), "the job at the server", |v| v["type"] == "job_submitted");
    run.expect(Duration::from_secs(30), "the charge", |v| credit_of(v) == Some(2_000 - 10));
    wait_for_state(&client, "printed");
    // The client dies before it could drop its copy (as if the server's answer had been
    // lost): at its next start it sends the job again, with the id it gave it.
    drop(run);
    for (path, bytes) in &copies {
        std::fs::write(path, bytes).unwrap();
    }
    let run = Watch::start(&client, &["run", "--port", &port.to_string(), "--json"]);
    let again = run.expect(Duration::from_secs(30), "the job again", |v| v["type"] == "job_submitted");
    assert_eq!(again["job"]["id"], first["job"]["id"], "the same job, not a second one");
    assert_eq!(again["job"]["state"], "printed");
    assert_eq!(jobs(&client).len(), 1);
    assert_eq!(printer.documents().len(), 1, "printed once");
    assert_eq!(client.status()["account"]["credit_cents"], 2_000 - 10, "charged once");
    for _ in 0..100 {
        if spooled(&client).is_empty() {
            break;
        }
        sleep(100);
    }
    assert!(spooled(&client).is_empty(), "{:?}", spooled(&client));
}

#[test]
fn a3_is_charged_twice_only_when_the_printer_is_sent_a3() {
    // ippeveprinter takes Letter, Legal, A4 and envelopes, not A3: an A3 job is printed on
    // its default paper, Letter, and charged for that.
    let printer = Printer::start("Plotter");
    let (_site, server) = site_with_printer(&printer, &[&["Direct"]]);
    let client = logged_in_client(&server);
    let token = server.access_token(json!({"method": "pin", "pin": "1234"}));
    let meta = json!({"name": "poster.pdf", "color_mode": "monochrome", "media": "iso_a3_297x420mm"});
    let r = api_submit(&server, &token, pdf::pages(1), meta);
    assert_eq!(r.status(), 201);
    let job: Value = r.json().unwrap();
    // Priced at once as it will print: the printer asked first.
    assert_eq!(
        (job["media"].as_str(), job["price_cents"].as_i64()),
        (Some("na_letter_8.5x11in"), Some(5)),
        "shown as it will be charged: {job}"
    );
    let printed = wait_for_state(&client, "printed");
    assert_eq!(
        (printed["media"].as_str(), printed["price_cents"].as_i64()),
        (Some("na_letter_8.5x11in"), Some(5))
    );
    assert_eq!(client.status()["account"]["credit_cents"], 2_000 - 5);
    // A4, which it takes, is sent as A4 and charged as one page.
    let meta = json!({"name": "memo.pdf", "color_mode": "monochrome", "media": "iso_a4_210x297mm"});
    assert_eq!(api_submit(&server, &token, pdf::pages(1), meta).status(), 201);
    wait_until_all_printed(&client);
    let memo = jobs(&client).into_iter().find(|j| j["name"] == "memo.pdf").unwrap();
    assert_eq!((memo["state"].as_str(), memo["media"].as_str()), (Some("printed"), Some("iso_a4_210x297mm")));
    assert_eq!(client.status()["account"]["credit_cents"], 2_000 - 10);
}

#[test]
fn a_client_spooled_job_reported_printed_is_checked_with_its_printer() {
    let printer = Printer::start("Checked");
    let (site, server) =
        site_with_printer(&printer, &[&["Kept", "--release", "pull", "--spooling", "client"]]);
    let token = server.access_token(json!({"method": "pin", "pin": "1234"}));
    let http = reqwest::blocking::Client::new();
    let post = |path: &str, body: Value| -> Value {
        let r = http.post(format!("{}{path}", server.url)).bearer_auth(&token).json(&body).send().unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().unwrap()
    };
    // A client that says it printed a job it never sent: the printer knows no such job.
    let meta = json!({"name": "forged.pdf", "color_mode": "monochrome", "pages": 30, "holder": "forger"});
    let r = api_submit(&server, &token, Vec::new(), meta);
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().unwrap()["id"].as_str().unwrap().to_string();
    post(&format!("/api/v1/me/jobs/{id}/release"), json!({}));
    let report = json!({"printed": true, "printer_job_id": 4242, "impressions": 30});
    assert_eq!(post(&format!("/api/v1/me/jobs/{id}/outcome"), report)["state"], "printed");

    let flagged: Value = serde_json::from_str(&site.admin(&["job", "list", "--mismatch"], "")).unwrap();
    let flagged = flagged.as_array().unwrap();
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert_eq!(flagged[0]["id"], id.as_str());
    assert_eq!(flagged[0]["check"], "mismatch");
    assert_eq!(
        (flagged[0]["impressions_charged"].as_i64(), flagged[0]["impressions_reported"].as_i64()),
        (Some(30), Some(30))
    );
    // Both counts stay beside the charge for the administrator; the listing of every job
    // shows it too.
    let all: Value = serde_json::from_str(&site.admin(&["job", "list"], "")).unwrap();
    assert!(all.as_array().unwrap().iter().any(|j| j["id"] == id.as_str() && j["owner"] == "alice"), "{all}");
}

#[test]
fn a_document_named_in_any_language_prints_under_its_name() {
    let printer = Printer::start("Accueil");
    let (_site, server) = site_with_printer(&printer, &[&["Direct"]]);
    let client = logged_in_client(&server);
    let (run, queue) = workstation(&client, free_port());
    let dir = tempfile::tempdir().unwrap();
    // The name is the job's title. Not the file's name: cupsd 2.4.2-3+deb12u10 (Debian 12)
    // dies on a file named so (its document-name), which would stop every later test.
    let document = dir.path().join("resume.pdf");
    std::fs::write(&document, pdf::pages(1)).unwrap();
    let out = std::process::Command::new("lp")
        .args(["-d", &queue.0, "-o", "print-color-mode=monochrome", "-t", "Résumé – 履歴書.pdf"])
        .arg(&document)
        .output()
        .unwrap();
    assert!(out.status.success(), "lp failed: {}", String::from_utf8_lossy(&out.stderr));
    let submitted =
        run.expect(Duration::from_secs(30), "the job at the server", |v| v["type"] == "job_submitted");
    assert_eq!(submitted["job"]["name"], "Résumé – 履歴書.pdf", "{submitted}");
    let printed = wait_for_state(&client, "printed");
    assert_eq!(printed["name"], "Résumé – 履歴書.pdf");
}

#[test]
fn a_job_taken_while_the_server_is_away_survives_a_client_restart_before_it_is_back() {
    let printer = Printer::start("Hall");
    let (_site, mut server) = site_with_printer(&printer, &[&["Direct"]]);
    let client = logged_in_client(&server);
    let port = free_port();
    let (run, queue) = workstation(&client, port);
    server.stop();
    let bytes = lp_pdf(&queue, 1, &["print-color-mode=monochrome"]);
    run.expect(Duration::from_secs(30), "the job kept", |v| v["type"] == "job_delayed");
    // The client dies and starts again while the server is still away…
    drop(run);
    let run = Watch::start(&client, &["run", "--port", &port.to_string(), "--json"]);
    run.expect(Duration::from_secs(30), "the job kept again", |v| v["type"] == "job_delayed");
    // …and the job goes through once the server is back.
    server.resume();
    run.expect(Duration::from_secs(90), "the job at the server", |v| v["type"] == "job_submitted");
    wait_for_state(&client, "printed");
    assert_eq!(printer.documents().len(), 1);
    assert_eq!(std::fs::read(&printer.documents()[0]).unwrap(), bytes);
}

/// Every front end of one workstation user shares one login: `ream run` lends it to
/// `ream jobs`, `ream jobs answer`, `ream status` and `ream watch`, so no two of them
/// ever spend the same refresh token. Access tokens here last 17 s (fresh for 2 s), so
/// each front end renews its token on almost every call, as over days of real use, and
/// the server forgives no reuse at all (`refresh_retry_seconds = 0`).
#[test]
fn every_front_end_of_a_user_shares_one_login_and_every_job_still_prints() {
    let printer = Printer::start("Shared");
    let extra =
        "default_queue = \"Direct\"\n[security]\naccess_token_seconds = 17\nrefresh_retry_seconds = 0\n";
    let site = Site::with_printer(
        extra,
        &printer.name,
        &printer.uri(),
        &[&["Direct"], &["Confirm", "--confirm-cost"]],
    );
    let server = site.serve();
    let client = logged_in_client(&server);
    let (run, cups) = workstation(&client, free_port());
    let watch = Watch::start(&client, &["watch", "--json"]);
    watch.expect(Duration::from_secs(10), "the account", |v| credit_of(v) == Some(2_000));

    let rounds = 8;
    for round in 0..rounds {
        lp_pdf(&cups, 1, &["print-color-mode=monochrome"]);
        let status = client.status();
        assert_eq!(status["user"]["username"], "alice", "round {round}: {status}");
        // A job that asks for a confirmation, answered from another terminal.
        let meta =
            json!({"name": format!("confirm-{round}"), "queue": "Confirm", "color_mode": "monochrome"});
        let token = server.access_token(json!({"method": "pin", "pin": "1234"}));
        let waiting: Value = api_submit(&server, &token, pdf::pages(1), meta).json().unwrap();
        let id = waiting["id"].as_str().unwrap_or_else(|| panic!("{waiting}"));
        let answered = client.run(&["jobs", "answer", id, "--json"], "").json();
        assert_ne!(answered["state"], "waiting_for_user", "round {round}: {answered}");
        // Long enough for every token to go stale before the next round.
        sleep(2_500);
    }
    for _ in 0..300 {
        let list = jobs(&client);
        if list.len() == 2 * rounds && list.iter().all(|j| j["state"] == "printed") {
            break;
        }
        sleep(100);
    }
    let list = jobs(&client);
    assert_eq!(list.len(), 2 * rounds, "{list:?}");
    assert!(list.iter().all(|j| j["state"] == "printed"), "{list:?}");
    assert_eq!(printer.documents().len(), 2 * rounds);
    // The watcher followed along, and is still logged in.
    watch.expect(Duration::from_secs(30), "an account after the last job", |v| {
        credit_of(v) == Some(2_000 - 2 * rounds as i64 * 5)
    });
    assert_eq!(client.status()["user"]["username"], "alice");

    // A logout from another terminal logs out the running client too…
    assert!(client.run(&["logout"], "").ok);
    run.expect(Duration::from_secs(10), "the running client logged out", |v| v["type"] == "logged_out");
    // …and a login there (not remembered) is the running client's from then on: its jobs
    // are bob's, although the command that logged in has long ended.
    site.admin(&["credit", "top-up", "bob", "1"], "");
    let login = client.run(&["login", "--method", "pin"], "5678\n");
    assert!(login.ok, "{}", login.stderr);
    assert!(login.stderr.contains("now uses this login"), "{}", login.stderr);
    run.expect(Duration::from_secs(10), "bob in the running client", |v| {
        v["type"] == "status" && v["status"]["user"]["username"] == "bob"
    });
    lp_pdf(&cups, 1, &["print-color-mode=monochrome"]);
    let printed = wait_for_state(&client, "printed");
    assert_eq!(printed["name"], "document.pdf");
    assert_eq!(jobs(&client).len(), 1, "bob's one job");
    assert_eq!(printer.documents().len(), 2 * rounds + 1);
}

/// `ream cups install` makes a CUPS queue for each server queue, and a job goes to the
/// server queue whose CUPS queue it was printed to; `ream cups uninstall` removes them.
#[test]
fn each_server_queue_gets_its_own_cups_queue() {
    let printer = Printer::start("PerQueue");
    let queues: &[&[&str]] = &[&["Direct"], &["Confirm", "--confirm-cost"]];
    let (_site, server) = site_with_printer(&printer, queues);
    let client = logged_in_client(&server);
    let port = free_port();
    let run = Watch::start(&client, &["run", "--port", &port.to_string(), "--json"]);
    run.expect(Duration::from_secs(10), "the account", |v| credit_of(v) == Some(2_000));
    let prefix = format!("Ream-{port}");
    let made =
        client.run(&["cups", "install", "--port", &port.to_string(), "--prefix", &prefix, "--json"], "");
    let made = made.json();
    // Removed when the test ends, however it ends.
    let guards: Vec<CupsQueue> = made["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| CupsQueue(q["cups"].as_str().unwrap().to_string()))
        .collect();
    let names: Vec<(&str, &str)> = made["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["cups"].as_str().unwrap(), q["queue"].as_str().unwrap_or("(default)")))
        .collect();
    let (direct, confirm) = (format!("{prefix}-Direct"), format!("{prefix}-Confirm"));
    // No default queue on this server: no queue for it.
    assert_eq!(names, [(confirm.as_str(), "Confirm"), (direct.as_str(), "Direct")]);

    let guard = |name: &str| guards.iter().find(|g| g.0 == name).unwrap();
    lp_pdf(guard(&confirm), 1, &["print-color-mode=monochrome"]);
    let waiting = wait_for_state(&client, "waiting_for_user");
    assert_eq!(waiting["queue"], "Confirm");
    lp_pdf(guard(&direct), 2, &["print-color-mode=monochrome"]);
    for _ in 0..100 {
        if jobs(&client).iter().any(|j| j["queue"] == "Direct" && j["state"] == "printed") {
            break;
        }
        sleep(100);
    }
    let list = jobs(&client);
    let direct_job = list.iter().find(|j| j["queue"] == "Direct").unwrap_or_else(|| panic!("{list:?}"));
    assert_eq!((direct_job["state"].as_str(), direct_job["pages"].as_i64()), (Some("printed"), Some(2)));
    assert_eq!(list.len(), 2, "{list:?}");

    let removed = client.run(&["cups", "uninstall", "--port", &port.to_string(), "--json"], "").json();
    let mut removed: Vec<&str> =
        removed["removed"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    removed.sort();
    assert_eq!(removed, [confirm.as_str(), direct.as_str()]);
    let lpstat = std::process::Command::new("lpstat").arg("-v").output().unwrap();
    assert!(!String::from_utf8_lossy(&lpstat.stdout).contains(&format!(":{port}/")), "a queue is left");
}

/// The states CUPS gives the finished jobs of `queue`, by job name (ipptool's CSV).
fn cups_finished_jobs(queue: &str) -> Vec<(String, String)> {
    let out = std::process::Command::new("ipptool")
        .args(["-c", &format!("ipp://localhost/printers/{queue}"), "get-completed-jobs.test"])
        .output()
        .expect("ipptool (Debian cups-ipp-utils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((f.get(2)?.trim_matches('"').to_string(), f.get(1)?.to_string()))
        })
        .collect()
}

/// A document the client cannot print (password-protected, damaged) is refused to CUPS
/// with an IPP error, and shows in `ream jobs` with its reason, named for what it is.
#[test]
fn a_document_refused_at_the_client_is_listed_with_its_reason_and_cups_is_told() {
    let printer = Printer::start("Refusing");
    let (_site, server) = site_with_printer(&printer, &[&["Direct"]]);
    let client = logged_in_client(&server);
    let (run, cups) = workstation(&client, free_port());
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("Secret.pdf");
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/ream-print/tests/data/qpdf-encrypted-object-streams.pdf"
    );
    std::fs::copy(data, &secret).unwrap();
    lp(&cups.0, &[], &secret);
    let refused = run.expect(Duration::from_secs(30), "the refusal", |v| v["type"] == "job_refused");
    assert!(refused["reason"].as_str().unwrap().contains("password-protected"), "{refused}");

    let list = jobs(&client);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!((list[0]["name"].as_str(), list[0]["state"].as_str()), (Some("Secret.pdf"), Some("rejected")));
    assert!(list[0]["reason"].as_str().unwrap().contains("password-protected"), "{}", list[0]);
    for _ in 0..100 {
        if !cups_finished_jobs(&cups.0).is_empty() {
            break;
        }
        sleep(100);
    }
    // CUPS was answered with an IPP error and stops following the job (the stock ipp
    // backend then ends it as completed or canceled, depending on which of its threads
    // looks first).
    assert_eq!(cups_finished_jobs(&cups.0).len(), 1, "the CUPS job is over, not stuck");
    assert!(printer.documents().is_empty());
    assert!(spooled(&client).is_empty(), "nothing kept of it: {:?}", spooled(&client));
    // The server never saw it: nothing reserved, nothing charged.
    assert_eq!(client.status()["account"]["credit_cents"], 2_000);
}

/// The names of the tests of CUPS' `file` (`/usr/share/cups/ipptool/FILE.test`) that
/// fail against `uri`, with what they expected; every test is run (`-I`), with a PDF.
fn ipptool_failures(uri: &str, file: &str) -> Vec<String> {
    let out = std::process::Command::new("ipptool")
        .args(["-tI", "-f", "/usr/share/cups/data/topsecret.pdf", uri])
        .arg(format!("/usr/share/cups/ipptool/{file}.test"))
        .output()
        .expect("ipptool (Debian cups-ipp-utils)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut failures = Vec::new();
    for line in text.lines() {
        if line.trim_end().ends_with("[FAIL]") {
            failures.push(line.trim().trim_end_matches("[FAIL]").trim().to_string());
        } else if line.trim_start().starts_with("EXPECTED:") {
            if let Some(last) = failures.last_mut() {
                last.push_str(" | ");
                last.push_str(line.trim());
            }
        }
    }
    failures
}

/// CUPS' own conformance tests, `ipp-2.0.test` and `ipp-everywhere.test`, against the
/// local printer and against `ippeveprinter`: the local printer passes the first whole,
/// and of the second fails only what `ippeveprinter` fails too (JPEG, which Ream does
/// not take: it counts PDF pages).
#[test]
fn the_local_printer_passes_cups_conformance_tests_as_well_as_ippeveprinter() {
    let printer = Printer::start("Conformance");
    let (_site, server) = site_with_printer(&printer, &[&["Direct"]]);
    let client = logged_in_client(&server);
    let port = free_port();
    let (_run, _cups) = workstation(&client, port);
    let ours = format!("ipp://127.0.0.1:{port}/ipp/print");
    assert_eq!(ipptool_failures(&ours, "ipp-2.0"), Vec::<String>::new(), "ipp-2.0.test");
    let everywhere = ipptool_failures(&ours, "ipp-everywhere");
    let theirs = ipptool_failures(&printer.uri(), "ipp-everywhere");
    let jpeg = |f: &String| f.contains("document-format-supported WITH-VALUE \"image/jpeg\"");
    assert!(everywhere.iter().all(jpeg), "ipp-everywhere.test: {everywhere:#?}");
    assert!(theirs.iter().any(jpeg), "ippeveprinter fails it too: {theirs:#?}");
    assert!(everywhere.len() <= theirs.len(), "ours {everywhere:#?}, ippeveprinter's {theirs:#?}");
}

/// A Print-Job request of `attributes` attributes named `x-N` of `value`, with
/// collections nested `depth` deep (and closed, unless `unclosed`), then a PDF.
fn bloated_request(
    printer_uri: &str,
    attributes: usize,
    value: &[u8],
    depth: usize,
    unclosed: bool,
) -> Vec<u8> {
    let mut b = ipp_request(0x0002, printer_uri, "mallory", b"");
    b.pop(); // the end-of-attributes tag, put back below
    let mut attribute = |tag: u8, name: &str, value: &[u8]| {
        b.push(tag);
        b.extend((name.len() as u16).to_be_bytes());
        b.extend(name.as_bytes());
        b.extend((value.len() as u16).to_be_bytes());
        b.extend(value);
    };
    for i in 0..attributes {
        attribute(0x44, &format!("x-{i}"), value);
    }
    for _ in 0..depth {
        attribute(0x34, "media-col", b"");
    }
    for _ in 0..depth - usize::from(unclosed && depth > 0) {
        attribute(0x37, "", b"");
    }
    b.push(0x03);
    b.extend(pdf::pages(1));
    b
}

/// Requests past the local printer's bounds (a million attributes, too many bytes of them,
/// collections nested too deep, a document larger than the server takes) are refused with
/// an IPP status, and it goes on serving: nothing printed, nothing charged.
#[test]
fn the_local_printer_refuses_requests_past_its_bounds_and_keeps_serving() {
    let printer = Printer::start("Bounds");
    let site = Site::with_printer("max_job_bytes = 200000\n", &printer.name, &printer.uri(), &[&["Direct"]]);
    let server = site.serve();
    let client = logged_in_client(&server);
    let port = free_port();
    let (_run, cups) = workstation(&client, port);
    let url = format!("http://127.0.0.1:{port}/ipp/print");
    let uri = format!("ipp://127.0.0.1:{port}/ipp/print");
    let http = reqwest::blocking::Client::new();
    let send = |body: Vec<u8>| {
        let r = http.post(&url).header("content-type", "application/ipp").body(body).send().unwrap();
        let bytes = r.bytes().unwrap();
        u16::from_be_bytes([bytes[2], bytes[3]])
    };
    assert_eq!(send(bloated_request(&uri, 1_000_000, b"v", 0, false)), 0x0408, "a million attributes");
    assert_eq!(
        send(bloated_request(&uri, 20, &[b'x'; 30_000], 0, false)),
        0x0408,
        "too many bytes of attributes"
    );
    assert_eq!(send(bloated_request(&uri, 0, b"", 50, false)), 0x0408, "collections nested too deep");
    assert_eq!(send(bloated_request(&uri, 0, b"", 2, true)), 0x0400, "a collection never closed");
    // Still serving: the printer answers, and CUPS prints through it.
    assert_eq!(send(ipp_request(0x000B, &uri, "mallory", b"")), 0x0000);
    lp_pdf(&cups, 1, &["print-color-mode=monochrome"]);
    wait_for_state(&client, "printed");
    assert_eq!(jobs(&client).len(), 1, "only the job printed through CUPS");
    assert_eq!(printer.documents().len(), 1);
    // Larger than the server's max_job_bytes, which the client learnt when it started:
    // refused as it comes, and the user told why.
    let big = tempfile::tempdir().unwrap();
    pdf::write_large(&big.path().join("big.pdf"), 4, 100_000).unwrap();
    let oversized = ipp_request(0x0002, &uri, "mallory", &std::fs::read(big.path().join("big.pdf")).unwrap());
    assert_eq!(send(oversized), 0x0408, "a document larger than the server takes");
    let refused = jobs(&client)[0].clone();
    assert_eq!(refused["state"], "rejected", "{refused}");
    assert!(refused["reason"].as_str().unwrap().contains("larger than the server takes"), "{refused}");
    assert_eq!(send(ipp_request(0x000B, &uri, "mallory", b"")), 0x0000, "still serving");
    assert_eq!(printer.documents().len(), 1);
}

/// A web page can make a browser post to the local printer: a request with an `Origin`
/// header, or one that is not `application/ipp`, is refused (`client-error-not-authorized`)
/// and prints nothing; so is one from another OS user of the computer (`nobody`), whose
/// job would be charged to this client's user. CUPS' own requests go on working.
#[test]
fn the_local_printer_refuses_web_pages_and_other_os_users() {
    let printer = Printer::start("NoPages");
    let (_site, server) = site_with_printer(&printer, &[&["Direct"]]);
    let client = logged_in_client(&server);
    let port = free_port();
    let (_run, cups) = workstation(&client, port);
    let url = format!("http://127.0.0.1:{port}/ipp/print");
    let uri = format!("ipp://127.0.0.1:{port}/ipp/print");
    let http = reqwest::blocking::Client::new();
    let status_of = |r: reqwest::blocking::Response| {
        let bytes = r.bytes().unwrap();
        u16::from_be_bytes([bytes[2], bytes[3]])
    };
    let print_job = ipp_request(0x0002, &uri, "mallory", &pdf::pages(1));
    let with_origin = http
        .post(&url)
        .header("content-type", "application/ipp")
        .header("origin", "https://evil.example")
        .body(print_job.clone())
        .send()
        .unwrap();
    assert_eq!(status_of(with_origin), 0x0403, "client-error-not-authorized");
    let as_form =
        http.post(&url).header("content-type", "text/plain").body(print_job.clone()).send().unwrap();
    assert_eq!(status_of(as_form), 0x0403);
    // Another OS user, as an IPP client would send it.
    let shared = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let request = shared.path().join("print-job.ipp");
    std::fs::write(&request, &print_job).unwrap();
    std::fs::set_permissions(&request, std::fs::Permissions::from_mode(0o644)).unwrap();
    let as_nobody = std::process::Command::new("runuser")
        .args(["-u", "nobody", "--", "curl", "-s", "-H", "content-type: application/ipp", "--data-binary"])
        .arg(format!("@{}", request.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(as_nobody.status.success(), "{}", String::from_utf8_lossy(&as_nobody.stderr));
    let answer = &as_nobody.stdout;
    assert!(answer.len() >= 4, "an IPP answer: {answer:?}");
    assert_eq!(u16::from_be_bytes([answer[2], answer[3]]), 0x0403, "another OS user is not authorized");
    // The same request as an IPP client sends it is taken: the refusals were for the page.
    let get_attributes = ipp_request(0x000B, &uri, "mallory", b"");
    let plain =
        http.post(&url).header("content-type", "application/ipp").body(get_attributes).send().unwrap();
    assert_eq!(status_of(plain), 0x0000);
    // Nothing was printed or charged; CUPS still prints.
    lp_pdf(&cups, 1, &["print-color-mode=monochrome"]);
    wait_for_state(&client, "printed");
    assert_eq!(jobs(&client).len(), 1, "only the job printed through CUPS");
    assert_eq!(printer.documents().len(), 1);
}
