//! Printers that misbehave as real ones do (busy while printing, an answer lost after the
//! job was taken, firmware that hangs with the connection open) and what Ream's printer
//! client does about it: every job printed once, none left waiting for ever, none given
//! up while the printer still has it. The printer here is a small IPP server of the test's
//! own on loopback whose faults are scripted per operation; the happy paths run against
//! CUPS' `ippeveprinter` in the system tests.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipp::parser::AsyncIppParser;
use ipp::prelude::*;
use ipp::value::{IppName, IppValue};
use ream_print::printer::{self, Document, Outcome, PrintRequest, Progress};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the printer does with one request instead of answering it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// Answers server-error-busy and does nothing.
    Busy,
    /// Does what was asked (a Print-Job makes its job), then closes the line unanswered.
    Drop,
    /// Does what was asked, then never answers nor closes.
    Hang,
}

#[derive(Default)]
struct State {
    /// (job id, name, job-state)
    jobs: Vec<(i32, String, i32)>,
    /// Faults still to come: the first one for a request's operation is used up by it.
    faults: VecDeque<(Operation, Fault)>,
    /// Every request's operation, in order.
    seen: Vec<Operation>,
    /// How long the next document sent stops being read after its first bytes, as a
    /// printer out of paper stops reading until it is filled.
    out_of_paper: Option<Duration>,
    /// How many documents began to come (whether they came whole or not).
    documents_begun: usize,
    /// Whether the printer stops on the jobs it takes (a paper jam) instead of printing
    /// them, until they are canceled.
    jammed: bool,
    /// Whether a job asked to be canceled is found completed instead (it ended just
    /// before), and the canceling refused.
    finishes_when_canceled: bool,
}

struct TestPrinter {
    uri: String,
    state: Arc<Mutex<State>>,
}

impl TestPrinter {
    async fn start(faults: &[(Operation, Fault)]) -> TestPrinter {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("ipp://{}/ipp/print", listener.local_addr().unwrap());
        let state =
            Arc::new(Mutex::new(State { faults: faults.iter().copied().collect(), ..State::default() }));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((line, _)) = listener.accept().await {
                tokio::spawn(serve(line, shared.clone()));
            }
        });
        TestPrinter { uri, state }
    }

    fn jobs(&self) -> Vec<(i32, String, i32)> {
        self.state.lock().unwrap().jobs.clone()
    }

    fn count(&self, op: Operation) -> usize {
        self.state.lock().unwrap().seen.iter().filter(|o| **o == op).count()
    }

    fn faults_left(&self) -> usize {
        self.state.lock().unwrap().faults.len()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn more(line: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 16384];
    let n = line.read(&mut chunk).await.ok()?;
    (n > 0).then(|| buf.extend_from_slice(&chunk[..n]))
}

/// One HTTP request's body (by its length, or chunked as a streamed document comes).
async fn read_request(line: &mut TcpStream, state: &Mutex<State>) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        more(line, &mut buf).await?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let mut rest = buf.split_off(head_end);
    let length =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|n| n.trim().parse().unwrap());
    if let Some(length) = length {
        while rest.len() < length {
            more(line, &mut rest).await?;
        }
        rest.truncate(length);
        return Some(rest);
    }
    assert!(head.contains("transfer-encoding: chunked"), "a body of unknown length: {head}");
    let out_of_paper = {
        let mut s = state.lock().unwrap();
        s.documents_begun += 1;
        s.out_of_paper.take()
    };
    if let Some(pause) = out_of_paper {
        tokio::time::sleep(pause).await;
    }
    let mut body = Vec::new();
    loop {
        let end = loop {
            if let Some(i) = find(&rest, b"\r\n") {
                break i;
            }
            more(line, &mut rest).await?;
        };
        let size_text = String::from_utf8_lossy(&rest[..end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        rest.drain(..end + 2);
        if size == 0 {
            return Some(body);
        }
        while rest.len() < size + 2 {
            more(line, &mut rest).await?;
        }
        body.extend_from_slice(&rest[..size]);
        rest.drain(..size + 2);
    }
}

fn attr(name: &str, value: IppValue) -> IppAttribute {
    IppAttribute::new(IppName::new(name).unwrap(), value)
}

fn job_group(id: i32, name: &str, state: i32) -> IppAttributeGroup {
    let mut group = IppAttributeGroup::new(DelimiterTag::JobAttributes);
    group.attributes_mut().push(attr("job-id", IppValue::Integer(id)));
    group.attributes_mut().push(attr("job-name", IppValue::NameWithoutLanguage(IppName::new(name).unwrap())));
    group.attributes_mut().push(attr("job-state", IppValue::Enum(state)));
    group
}

async fn serve(mut line: TcpStream, state: Arc<Mutex<State>>) {
    while let Some(body) = read_request(&mut line, &state).await {
        let request = AsyncIppParser::new(futures_util::io::Cursor::new(body)).parse().await.unwrap();
        let (answer, fault) = answer(&request, &state);
        drop(request);
        match fault {
            Some(Fault::Drop) => return,
            Some(Fault::Hang) => {
                // Holds the line open, reading nothing more, as hung firmware does.
                std::future::pending::<()>().await;
            }
            _ => {}
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        if line.write_all(head.as_bytes()).await.is_err() || line.write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// The printer's answer to `request` and the fault it is to meet it with, if any.
fn answer(request: &IppRequestResponse, state: &Mutex<State>) -> (bytes::Bytes, Option<Fault>) {
    let op = Operation::from_i16(request.header().operation_or_status).unwrap();
    let operation = |name: &str| {
        request
            .attributes()
            .groups_of(DelimiterTag::OperationAttributes)
            .find_map(|g| g.get(name))
            .map(|a| a.value())
    };
    let (version, id) = (request.header().version, request.header().request_id);
    let respond = |status| IppRequestResponse::new_response(version, status, id).unwrap();
    let mut s = state.lock().unwrap();
    s.seen.push(op);
    let fault = s.faults.iter().position(|(o, _)| *o == op).map(|i| s.faults.remove(i).unwrap().1);
    if fault == Some(Fault::Busy) {
        return (respond(StatusCode::ServerErrorBusy).to_bytes(), fault);
    }
    let mut answer = respond(StatusCode::SuccessfulOk);
    match op {
        Operation::PrintJob => {
            let job = s.jobs.len() as i32 + 1;
            let state = if s.jammed { 6 } else { 9 };
            s.jobs.push((job, operation("job-name").unwrap().to_string(), state));
            answer.attributes_mut().add(DelimiterTag::JobAttributes, attr("job-id", IppValue::Integer(job)));
        }
        Operation::GetJobs => {
            let completed = operation("which-jobs").map(|v| v.to_string()).as_deref() == Some("completed");
            for (job, name, st) in &s.jobs {
                if (*st >= 7) == completed {
                    answer.attributes_mut().groups_mut().push(job_group(*job, name, *st));
                }
            }
        }
        Operation::GetJobAttributes => {
            let wanted = operation("job-id").and_then(|v| v.as_integer().copied());
            match s.jobs.iter().find(|(job, _, _)| Some(*job) == wanted) {
                Some((job, name, st)) => {
                    answer.attributes_mut().groups_mut().push(job_group(*job, name, *st))
                }
                None => answer = respond(StatusCode::ClientErrorNotFound),
            }
        }
        Operation::CancelJob => {
            let wanted = operation("job-id").and_then(|v| v.as_integer().copied());
            let user = operation("requesting-user-name").map(|v| v.to_string());
            assert_eq!(user.as_deref(), Some("anna"), "canceled as the job's owner");
            let finishes = s.finishes_when_canceled;
            match s.jobs.iter_mut().find(|(job, _, _)| Some(*job) == wanted) {
                Some((_, _, st)) if finishes => {
                    *st = 9;
                    answer = respond(StatusCode::ClientErrorNotPossible);
                }
                Some((_, _, st)) if *st < 7 => *st = 7,
                Some(_) => answer = respond(StatusCode::ClientErrorNotPossible),
                None => answer = respond(StatusCode::ClientErrorNotFound),
            }
        }
        other => panic!("the test printer was asked {other:?}"),
    }
    (answer.to_bytes(), fault)
}

/// A one-page document on disk, and the request that prints it as `name`.
struct Job {
    _dir: tempfile::TempDir,
    document: Document,
}

impl Job {
    fn new() -> Job {
        Self::of_size(0)
    }

    /// A document with `padding` bytes more than a page's few.
    fn of_size(padding: usize) -> Job {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.pdf");
        let mut bytes = b"%PDF-1.4\n% a page\n".to_vec();
        bytes.resize(bytes.len() + padding, b' ');
        bytes.extend_from_slice(b"\n%%EOF\n");
        std::fs::write(&path, bytes).unwrap();
        Job { _dir: dir, document: Document::Plain(path) }
    }

    fn request<'a>(&'a self, name: &'a str) -> PrintRequest<'a> {
        PrintRequest {
            document: &self.document,
            job_name: name,
            user: "anna",
            copies: 1,
            duplex: false,
            colour: false,
            media: "iso_a4_210x297mm",
        }
    }
}

const PATIENCE: Duration = Duration::from_secs(60);

/// What a sender keeps of its steps (as the server keeps them in its database).
#[derive(Default, Clone)]
struct Kept(Arc<Mutex<Vec<Progress>>>);

impl Kept {
    fn note(&self) -> impl FnMut(Progress) -> futures_util::future::Ready<anyhow::Result<()>> + '_ {
        move |p| {
            self.0.lock().unwrap().push(p);
            futures_util::future::ready(Ok(()))
        }
    }
}

/// `send_once` that must end within two minutes whatever the printer does: a test of a
/// printer that hangs fails instead of hanging the suite.
async fn send(
    client: &printer::Client,
    printer: &TestPrinter,
    job: &Job,
    progress: Progress,
) -> anyhow::Result<i32> {
    let kept = Kept::default();
    let request = job.request("report");
    let sent = printer::send_once(client, &printer.uri, &request, progress, PATIENCE, kept.note());
    tokio::time::timeout(Duration::from_secs(120), sent).await.expect("send_once came to no end")
}

#[tokio::test]
async fn a_print_job_whose_answer_is_lost_is_found_at_the_printer_not_sent_again() {
    let printer = TestPrinter::start(&[(Operation::PrintJob, Fault::Drop)]).await;
    let job = Job::new();
    let id = send(&printer::http_client(None), &printer, &job, Progress::default()).await.unwrap();
    assert_eq!(printer.jobs(), vec![(1, "report".to_string(), 9)], "printed once");
    assert_eq!(id, 1);
    assert_eq!(printer.count(Operation::PrintJob), 1, "never sent again");
}

#[tokio::test]
async fn a_printer_that_hangs_after_taking_a_job_is_given_up_on_and_the_job_found_not_sent_twice() {
    let printer = TestPrinter::start(&[(Operation::PrintJob, Fault::Hang)]).await;
    let job = Job::new();
    let client = printer::http_client(None).stalling_after(Duration::from_millis(500));
    let id = send(&client, &printer, &job, Progress::default()).await.unwrap();
    assert_eq!((id, printer.jobs().len(), printer.count(Operation::PrintJob)), (1, 1, 1));
}

#[tokio::test]
async fn a_printer_that_stops_reading_a_document_for_a_while_is_waited_for_not_cut_off() {
    let printer = TestPrinter::start(&[]).await;
    // Three seconds without reading, against half a second allowed for an answer: more
    // than the kernel's buffers hold (64 MiB) waits on the printer's reading.
    printer.state.lock().unwrap().out_of_paper = Some(Duration::from_secs(3));
    let job = Job::of_size(64 << 20);
    let client = printer::http_client(None).stalling_after(Duration::from_millis(500));
    let id = send(&client, &printer, &job, Progress::default()).await.unwrap();
    assert_eq!((id, printer.count(Operation::PrintJob)), (1, 1), "sent once, whole");
    assert_eq!(printer.state.lock().unwrap().documents_begun, 1, "never cut off and begun again");
    assert!(printer.state.lock().unwrap().out_of_paper.is_none(), "the printer did stop reading");
}

#[tokio::test]
async fn a_printer_busy_at_print_job_made_no_job_and_is_sent_it_again() {
    let printer =
        TestPrinter::start(&[(Operation::PrintJob, Fault::Busy), (Operation::PrintJob, Fault::Busy)]).await;
    let job = Job::new();
    let id = send(&printer::http_client(None), &printer, &job, Progress::default()).await.unwrap();
    assert_eq!(printer.jobs(), vec![(1, "report".to_string(), 9)]);
    assert_eq!((id, printer.count(Operation::PrintJob)), (1, 3), "twice busy, then taken");
}

#[tokio::test]
async fn a_job_sent_before_a_crash_is_looked_for_again_while_the_printer_is_busy_never_resent() {
    let printer = TestPrinter::start(&[]).await;
    let job = Job::new();
    let client = printer::http_client(None);
    // Sent by a run that stopped before it could note the printer's id: only the floor
    // (no jobs of anna's before it) was kept.
    assert_eq!(send(&client, &printer, &job, Progress::default()).await.unwrap(), 1);
    printer
        .state
        .lock()
        .unwrap()
        .faults
        .extend([(Operation::GetJobs, Fault::Busy), (Operation::GetJobs, Fault::Drop)]);
    let taken_up = Progress { printer_job_id: None, floor: Some(0) };
    assert_eq!(send(&client, &printer, &job, taken_up).await.unwrap(), 1, "the job the printer has");
    assert_eq!(printer.count(Operation::PrintJob), 1, "not sent twice");
    assert_eq!(printer.faults_left(), 0);
}

#[tokio::test]
async fn a_printer_busy_or_silent_while_its_job_is_followed_is_asked_again_until_it_answers() {
    let printer = TestPrinter::start(&[]).await;
    let job = Job::new();
    let client = printer::http_client(None).stalling_after(Duration::from_millis(500));
    let id = send(&client, &printer, &job, Progress::default()).await.unwrap();
    printer.state.lock().unwrap().faults.extend([
        (Operation::GetJobAttributes, Fault::Busy),
        (Operation::GetJobAttributes, Fault::Hang),
        (Operation::GetJobAttributes, Fault::Drop),
    ]);
    let followed = tokio::time::timeout(
        Duration::from_secs(120),
        printer::follow(&client, &printer.uri, id, "anna", PATIENCE),
    );
    let outcome = followed.await.expect("follow came to no end").unwrap();
    assert!(matches!(outcome, Outcome::Completed { .. }), "{outcome:?}");
    assert_eq!(printer.faults_left(), 0);
}

#[tokio::test]
async fn a_printer_that_never_answers_ends_the_sending_in_a_failure_worth_trying_again() {
    let printer = TestPrinter::start(&[]).await;
    printer.state.lock().unwrap().faults.extend((0..100).map(|_| (Operation::GetJobs, Fault::Hang)));
    let job = Job::new();
    let client = printer::http_client(None).stalling_after(Duration::from_millis(300));
    let (request, kept) = (job.request("report"), Kept::default());
    let sent = printer::send_once(
        &client,
        &printer.uri,
        &request,
        Progress::default(),
        Duration::from_secs(2),
        kept.note(),
    );
    let failed = tokio::time::timeout(Duration::from_secs(120), sent)
        .await
        .expect("send_once came to no end")
        .unwrap_err();
    assert!(printer::is_transient(&failed), "{failed:#}");
    assert!(format!("{failed:#}").contains("stopped answering"), "{failed:#}");
    assert_eq!(printer.count(Operation::PrintJob), 0, "nothing sent to a printer whose jobs are not known");
}

/// Sends a job to a jammed printer and follows it for a second.
async fn follow_jammed(finishes_when_canceled: bool) -> (TestPrinter, anyhow::Result<Outcome>) {
    let printer = TestPrinter::start(&[]).await;
    printer.state.lock().unwrap().jammed = true;
    printer.state.lock().unwrap().finishes_when_canceled = finishes_when_canceled;
    let job = Job::new();
    let client = printer::http_client(None);
    let id = send(&client, &printer, &job, Progress::default()).await.unwrap();
    let followed = printer::follow(&client, &printer.uri, id, "anna", Duration::from_secs(1));
    let outcome =
        tokio::time::timeout(Duration::from_secs(120), followed).await.expect("follow came to no end");
    (printer, outcome)
}

#[tokio::test]
async fn a_job_the_printer_still_holds_when_given_up_on_is_canceled_there_so_it_cannot_print_unpaid() {
    let (printer, outcome) = follow_jammed(false).await;
    match outcome.unwrap() {
        Outcome::Failed(reason) => assert!(reason.contains("canceled there"), "{reason}"),
        other => panic!("a jammed job came out {other:?}"),
    }
    assert_eq!(printer.jobs(), vec![(1, "report".to_string(), 7)], "canceled at the printer");
    assert_eq!(printer.count(Operation::CancelJob), 1);
}

#[tokio::test]
async fn a_job_that_ends_as_it_is_canceled_counts_as_printed() {
    let (printer, outcome) = follow_jammed(true).await;
    assert!(matches!(outcome.unwrap(), Outcome::Completed { .. }), "printed, so charged");
    assert_eq!(printer.count(Operation::CancelJob), 1);
}
