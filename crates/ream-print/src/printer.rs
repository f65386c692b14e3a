//! Talking to printers over IPP and IPPS: submit a spooled document (streamed from its
//! file, never held in memory) and follow the printer's job to its end.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use ipp::parser::AsyncIppParser;
use ipp::prelude::*;
use ipp::value::{IppName, IppValue};

/// How a printer's job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Printed; with the impressions the printer says it made (`job-impressions-completed`),
    /// where it says.
    Completed { impressions: Option<i64> },
    /// Aborted or canceled at the printer, with its reasons.
    Failed(String),
}

/// The HTTP URL an `ipp://` / `ipps://` printer URI is reached at.
pub fn http_url(uri: &str) -> anyhow::Result<String> {
    let (scheme, rest) = uri.split_once("://").context("a printer URI looks like ipp://host:port/path")?;
    let (http, default_port) = match scheme {
        "ipp" => ("http", 631),
        "ipps" => ("https", 443),
        "http" | "https" => (scheme, 0),
        _ => anyhow::bail!("unsupported printer URI scheme {scheme:?}"),
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()));
    let authority = if has_port || default_port == 0 {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    Ok(format!("{http}://{authority}/{path}"))
}

/// How long a printer may go without giving any more of its answer (or taking any more of
/// a request, but see [`STALL_TAKING`]) before the request is given up, as one that may go
/// better later. A printer
/// whose firmware hangs with its connection open, or a host gone without closing it,
/// would otherwise hold a job `printing` for ever: each request's time is unbounded (a
/// large document to a slow printer takes what it takes), only its silences are.
pub const STALL: Duration = Duration::from_secs(120);

/// How long a printer may stop taking a document it is being sent: one out of paper
/// stops reading until somebody fills it, and cutting its line then would end a job it
/// has begun to print.
pub const STALL_TAKING: Duration = Duration::from_secs(15 * 60);

/// The most of a printer's answer that is read: answers to what Ream asks are a few
/// kilobytes, even a busy printer's list of jobs.
const ANSWER_LIMIT: usize = 4 << 20;

/// How Ream talks to one printer: an HTTP client and how long it lets the printer stall
/// ([`STALL`]).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    stall: Duration,
}

impl Client {
    /// This client, giving up a request after `stall` without progress (tests of printers
    /// that hang need not wait two minutes).
    pub fn stalling_after(self, stall: Duration) -> Client {
        Client { stall, ..self }
    }
}

/// A client for one printer. Printers present their own (usually self-signed)
/// certificates, so an IPPS printer is trusted by the fingerprint recorded when it was
/// added (`pin`): any other certificate is refused. Without a pin (a printer on plain
/// IPP, or one added before pinning) any certificate is taken: privacy on the wire, not
/// proof of the printer's identity.
///
/// Either way the TLS configuration is our own verifier's, never reqwest's default: that
/// one loads the system's certificate authorities (some 300 files under /etc/ssl/certs)
/// whenever a client is built, which a printer needs none of, and which was most of a
/// one-page job's time on its way to the printer (`scripts/bench print`).
pub fn http_client(pin: Option<&str>) -> Client {
    let trust = crate::tls::Fingerprint::new(pin.map(str::to_string), Arc::default());
    client_with(trust.client_config())
}

fn client_with(tls: rustls::ClientConfig) -> Client {
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .use_preconfigured_tls(tls)
        .build()
        .expect("HTTP client");
    Client { http, stall: STALL }
}

/// The SHA-256 fingerprint of the certificate an IPPS printer presents, to pin it. The
/// printer must answer Get-Printer-Attributes.
pub async fn presented_fingerprint(uri: &str) -> anyhow::Result<String> {
    let presented = Arc::new(Mutex::new(None));
    let config = crate::tls::Fingerprint::new(None, presented.clone()).client_config();
    capabilities(&client_with(config), uri).await?;
    let seen = presented.lock().expect("lock").clone();
    seen.context("the printer presented no certificate (is it IPPS?)")
}

/// A document to print: a plain file, or one in the encrypted spool, in a file or
/// elsewhere (an object store).
#[derive(Clone)]
pub enum Document {
    Plain(PathBuf),
    Spooled { path: PathBuf, key: crate::spool::SpoolKey },
    SpooledElsewhere { source: Arc<dyn CipherSource>, key: crate::spool::SpoolKey },
}

/// Where a spool file kept elsewhere than on this machine's disk is read from.
pub trait CipherSource: Send + Sync {
    /// The spool file's bytes (its ciphertext), from the start.
    fn open(&self) -> futures_util::future::BoxFuture<'static, anyhow::Result<CipherStream>>;
}

/// A spool file's bytes as they come.
pub type CipherStream = futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>;

impl Document {
    /// The document's bytes, streamed from its file (decrypted on the way for a spooled one).
    pub async fn stream(
        &self,
    ) -> anyhow::Result<futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>> {
        Ok(match self {
            Document::Plain(path) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .with_context(|| format!("opening {}", path.display()))?;
                tokio_util::io::ReaderStream::new(file).boxed()
            }
            Document::Spooled { path, key } => {
                anyhow::ensure!(path.exists(), "the job's document is gone ({})", path.display());
                crate::spool::read(key, path).boxed()
            }
            Document::SpooledElsewhere { source, key } => {
                crate::spool::read_stream(key, source.open().await?).boxed()
            }
        })
    }
}

/// An attribute; the names used here are short constants, always valid.
fn attr(name: &str, value: IppValue) -> IppAttribute {
    IppAttribute::new(IppName::new(name).expect("a valid attribute name"), value)
}

fn name_value(s: &str) -> IppValue {
    IppValue::NameWithoutLanguage(IppName::new_truncated(s))
}

fn request(op: Operation, uri: &str, user: &str) -> anyhow::Result<IppRequestResponse> {
    let parsed: Uri = uri.parse().context("printer URI")?;
    let mut req = IppRequestResponse::new(IppVersion::v1_1(), op, Some(parsed))?;
    req.attributes_mut()
        .add(DelimiterTag::OperationAttributes, attr("requesting-user-name", name_value(user)));
    Ok(req)
}

/// An error with everything that caused it, as one line.
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

/// Whether the TLS handshake failed on the printer's certificate.
fn certificate_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(inner) = c.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            if certificate_refused(inner) {
                return true;
            }
        }
        cause = c.source();
    }
    false
}

/// What a request sends: an IPP request whole, or one followed by its document, streamed.
enum Payload {
    Whole(bytes::Bytes),
    Streamed(Streamed),
}

/// When a request last moved, either way, and whether the printer is still taking its
/// document: what [`send`] measures silences by.
#[derive(Clone)]
struct Activity {
    since: tokio::time::Instant,
    last_ms: Arc<AtomicU64>,
    taking: Arc<std::sync::atomic::AtomicBool>,
}

impl Activity {
    fn new() -> Activity {
        Activity { since: tokio::time::Instant::now(), last_ms: Arc::default(), taking: Arc::default() }
    }

    fn moved(&self) {
        self.last_ms.store(self.since.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// `document`, noting each part the printer takes and when it has taken the last.
    fn watch(&self, document: Streamed) -> reqwest::Body {
        self.taking.store(true, Ordering::Relaxed);
        let (seen, done) = (self.clone(), self.clone());
        let end = futures_util::stream::once(async move {
            done.taking.store(false, Ordering::Relaxed);
            done.moved();
        })
        .filter_map(|()| futures_util::future::ready(None));
        reqwest::Body::wrap_stream(document.inspect(move |_| seen.moved()).chain(end))
    }

    /// Ends once nothing has moved for `stall` ([`STALL_TAKING`] while the printer is
    /// still taking the document), looking again at least every `stall`.
    async fn stalled(&self, stall: Duration) {
        loop {
            let last = self.since + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let limit = if self.taking.load(Ordering::Relaxed) { STALL_TAKING.max(stall) } else { stall };
            let now = tokio::time::Instant::now();
            if now >= last + limit {
                return;
            }
            tokio::time::sleep_until((last + limit).min(now + stall)).await;
        }
    }
}

type Streamed = futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>;

async fn send(client: &Client, uri: &str, payload: Payload) -> anyhow::Result<IppRequestResponse> {
    let url = http_url(uri)?;
    let activity = Activity::new();
    let body = match payload {
        Payload::Whole(bytes) => reqwest::Body::from(bytes),
        Payload::Streamed(document) => activity.watch(document),
    };
    let exchange = async {
        let resp =
            client.http.post(url).header("content-type", "application/ipp").body(body).send().await.map_err(
                |e| {
                    let detail = with_causes(&e);
                    // A certificate that is not the pinned one does not get better by waiting.
                    if certificate_refused(&e) {
                        anyhow::anyhow!("the printer at {uri} was refused: {detail}")
                    } else {
                        anyhow::Error::new(Transient(format!("cannot reach the printer at {uri}: {detail}")))
                    }
                },
            )?;
        anyhow::ensure!(resp.status().is_success(), "the printer answered HTTP {}", resp.status());
        let mut answer = Vec::new();
        let mut chunks = resp.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| {
                Transient(format!("the printer at {uri} broke off its answer: {}", with_causes(&e)))
            })?;
            activity.moved();
            anyhow::ensure!(
                answer.len() + chunk.len() <= ANSWER_LIMIT,
                "the printer's answer is longer than {} MiB",
                ANSWER_LIMIT >> 20
            );
            answer.extend_from_slice(&chunk);
        }
        let parsed = AsyncIppParser::new(futures_util::io::Cursor::new(answer)).parse().await?;
        let status = parsed.header().status_code();
        if matches!(status, StatusCode::ServerErrorBusy | StatusCode::ServerErrorServiceUnavailable) {
            return Err(Busy(format!("the printer is busy ({status:?})")).into());
        }
        anyhow::ensure!(status.is_success(), "the printer refused: {status:?}");
        Ok(parsed)
    };
    tokio::select! {
        answered = exchange => answered,
        () = activity.stalled(client.stall) => Err(Transient(format!(
            "the printer at {uri} stopped answering (nothing moved for {} s)",
            client.stall.as_secs_f32()
        ))
        .into()),
    }
}

/// A failure worth trying again later: the printer out of reach, or its line cut or
/// silent (a request it may have acted on: a Print-Job whose answer was lost may have made
/// a job), or the document's store unable to give it for now.
#[derive(Debug)]
pub struct Transient(pub String);

impl std::fmt::Display for Transient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Transient {}

/// The printer answered that it is busy or unavailable: worth trying again later, and it
/// did nothing with the request.
#[derive(Debug)]
pub struct Busy(pub String);

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Busy {}

fn busy(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<Busy>().is_some())
}

/// Whether an error (anywhere in its chain) is [`Transient`] or [`Busy`].
pub fn is_transient(e: &anyhow::Error) -> bool {
    busy(e) || e.chain().any(|c| c.downcast_ref::<Transient>().is_some())
}

fn job_attribute<'a>(resp: &'a IppRequestResponse, name: &str) -> Option<&'a IppValue> {
    resp.attributes()
        .groups_of(DelimiterTag::JobAttributes)
        .find_map(|g| g.attributes().iter().find(|a| a.name().as_ref() as &str == name))
        .map(|a| a.value())
}

/// What to print, and how.
pub struct PrintRequest<'a> {
    pub document: &'a Document,
    pub job_name: &'a str,
    pub user: &'a str,
    pub copies: i64,
    pub duplex: bool,
    pub colour: bool,
    /// The PWG media name to print on (what the job is priced for).
    pub media: &'a str,
}

/// Sends the document with Print-Job; returns the printer's job id.
pub async fn print_job(client: &Client, uri: &str, job: &PrintRequest<'_>) -> anyhow::Result<i32> {
    let PrintRequest { document, job_name, user, copies, duplex, colour, media } = *job;
    let mut req = request(Operation::PrintJob, uri, user)?;
    let attrs = req.attributes_mut();
    attrs.add(DelimiterTag::OperationAttributes, attr("job-name", name_value(job_name)));
    attrs.add(
        DelimiterTag::OperationAttributes,
        attr("document-format", IppValue::new_mime_media_type("application/pdf")?),
    );
    attrs.add(DelimiterTag::JobAttributes, attr("copies", IppValue::Integer(copies.clamp(1, 999) as i32)));
    let sides = if duplex { "two-sided-long-edge" } else { "one-sided" };
    attrs.add(DelimiterTag::JobAttributes, attr("sides", IppValue::new_keyword(sides)?));
    let mode = if colour { "color" } else { "monochrome" };
    attrs.add(DelimiterTag::JobAttributes, attr("print-color-mode", IppValue::new_keyword(mode)?));
    attrs.add(DelimiterTag::JobAttributes, attr("media", IppValue::new_keyword(media)?));
    let head = req.to_bytes();
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) })
        .chain(document.stream().await?);
    let resp = send(client, uri, Payload::Streamed(stream.boxed())).await.context("Print-Job")?;
    match job_attribute(&resp, "job-id") {
        Some(IppValue::Integer(id)) => Ok(*id),
        _ => anyhow::bail!("the printer did not say which job it made"),
    }
}

/// What a printer can do that changes what a job costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub duplex: bool,
    pub colour: bool,
    /// The media it takes (`media-supported`); empty when it does not say.
    pub media: Vec<String>,
    /// What it prints on when asked for media it does not take (`media-default`).
    pub media_default: Option<String>,
}

impl Capabilities {
    /// The media a job asking for `wanted` is really printed on: `wanted` if the printer
    /// takes it (or does not say what it takes), else its default.
    pub fn media_for<'a>(&'a self, wanted: &'a str) -> &'a str {
        if self.media.is_empty() || self.media.iter().any(|m| m == wanted) {
            return wanted;
        }
        self.media_default.as_deref().unwrap_or(wanted)
    }
}

/// Asks the printer (Get-Printer-Attributes) whether it prints on both sides and in colour.
pub async fn capabilities(client: &Client, uri: &str) -> anyhow::Result<Capabilities> {
    let mut req = request(Operation::GetPrinterAttributes, uri, "ream")?;
    let wanted = [
        "sides-supported",
        "color-supported",
        "print-color-mode-supported",
        "media-supported",
        "media-default",
    ];
    let keywords = wanted.iter().map(|k| IppValue::new_keyword(*k)).collect::<Result<Vec<_>, _>>()?;
    req.attributes_mut()
        .add(DelimiterTag::OperationAttributes, attr("requested-attributes", IppValue::Array(keywords)));
    let resp = send(client, uri, Payload::Whole(req.to_bytes())).await.context("Get-Printer-Attributes")?;
    let printer = |name: &str| {
        resp.attributes()
            .groups_of(DelimiterTag::PrinterAttributes)
            .find_map(|g| g.get(name))
            .map(|a| a.value().into_iter().map(|v| v.to_string()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let duplex = printer("sides-supported").iter().any(|s| s.starts_with("two-sided"));
    let colour = printer("color-supported").iter().any(|v| v == "true")
        || printer("print-color-mode-supported").iter().any(|m| m == "color");
    let media = printer("media-supported");
    let media_default = printer("media-default").into_iter().next();
    Ok(Capabilities { duplex, colour, media, media_default })
}

/// The printer's jobs of `user` (Get-Jobs, finished and not): their ids and names.
pub async fn jobs_of(client: &Client, uri: &str, user: &str) -> anyhow::Result<Vec<(i32, String)>> {
    let mut found = Vec::new();
    for which in ["not-completed", "completed"] {
        let mut req = request(Operation::GetJobs, uri, user)?;
        let attrs = req.attributes_mut();
        attrs.add(DelimiterTag::OperationAttributes, attr("which-jobs", IppValue::new_keyword(which)?));
        let wanted = ["job-id", "job-name"]
            .iter()
            .map(|k| IppValue::new_keyword(*k))
            .collect::<Result<Vec<_>, _>>()?;
        attrs.add(DelimiterTag::OperationAttributes, attr("requested-attributes", IppValue::Array(wanted)));
        let resp = send(client, uri, Payload::Whole(req.to_bytes())).await.context("Get-Jobs")?;
        for group in resp.attributes().groups_of(DelimiterTag::JobAttributes) {
            let id = match group.get("job-id").map(|a| a.value()) {
                Some(IppValue::Integer(id)) => *id,
                _ => continue,
            };
            let name = group.get("job-name").map(|a| a.value().to_string()).unwrap_or_default();
            found.push((id, name));
        }
    }
    Ok(found)
}

/// The printer's job state (IPP `job-state`) and its reasons.
/// A job as its printer describes it (Get-Job-Attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    /// `job-state`: 3 pending … 5 processing, 7 canceled, 8 aborted, 9 completed.
    pub state: i32,
    pub reasons: String,
    /// `job-impressions-completed`, where the printer gives it.
    pub impressions: Option<i64>,
}

impl JobStatus {
    pub const COMPLETED: i32 = 9;
}

pub async fn job_status(client: &Client, uri: &str, job_id: i32) -> anyhow::Result<JobStatus> {
    let mut req = request(Operation::GetJobAttributes, uri, "ream")?;
    let attrs = req.attributes_mut();
    attrs.add(DelimiterTag::OperationAttributes, attr("job-id", IppValue::Integer(job_id)));
    let wanted = ["job-state", "job-state-reasons", "job-impressions-completed"];
    let keywords = wanted.iter().map(|k| IppValue::new_keyword(*k)).collect::<Result<Vec<_>, _>>()?;
    attrs.add(DelimiterTag::OperationAttributes, attr("requested-attributes", IppValue::Array(keywords)));
    let resp = send(client, uri, Payload::Whole(req.to_bytes())).await.context("Get-Job-Attributes")?;
    let state = match job_attribute(&resp, "job-state") {
        Some(IppValue::Enum(s)) | Some(IppValue::Integer(s)) => *s,
        _ => anyhow::bail!("the printer did not give the job's state"),
    };
    let reasons = match job_attribute(&resp, "job-state-reasons") {
        Some(IppValue::Keyword(k)) => k.to_string(),
        Some(IppValue::Array(list)) => list.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "),
        _ => String::new(),
    };
    let impressions = match job_attribute(&resp, "job-impressions-completed") {
        Some(IppValue::Integer(n)) => Some(i64::from(*n)),
        _ => None,
    };
    Ok(JobStatus { state, reasons, impressions })
}

/// Asks the printer to cancel one of `user`'s jobs (IPP Cancel-Job).
pub async fn cancel_job(client: &Client, uri: &str, job_id: i32, user: &str) -> anyhow::Result<()> {
    let mut req = request(Operation::CancelJob, uri, user)?;
    req.attributes_mut().add(DelimiterTag::OperationAttributes, attr("job-id", IppValue::Integer(job_id)));
    send(client, uri, Payload::Whole(req.to_bytes())).await.context("Cancel-Job")?;
    Ok(())
}

/// A duration as people say it: "10 min", "90 s".
fn span(d: Duration) -> String {
    match d.as_secs() {
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// How long a printer asked to cancel a job it still held is given to do it.
const CANCEL_WAIT: Duration = Duration::from_secs(60);

/// Follows `user`'s job until the printer is done with it (completed, aborted or
/// canceled). A printer that is busy, restarting or out of reach for a while has not lost
/// the job (it may well print it): it is asked again until `give_up`. A job the printer
/// still holds then (jammed, out of paper, stopped) is canceled there before it is given
/// up on: a job Ream fails, and charges nothing for, must not print once somebody sees
/// to the printer.
pub async fn follow(
    client: &Client,
    uri: &str,
    job_id: i32,
    user: &str,
    give_up: Duration,
) -> anyhow::Result<Outcome> {
    let deadline = tokio::time::Instant::now() + give_up;
    // Once past the deadline: until when the printer is given to cancel the job, how the
    // job stood when it was asked to (once the asking succeeded), and why the printer
    // refused to.
    let mut cancel_by = None;
    let mut canceled: Option<String> = None;
    let mut refused: Option<String> = None;
    let mut pause = Duration::from_millis(200);
    loop {
        let now = tokio::time::Instant::now();
        let late = now > deadline;
        let status = job_status(client, uri, job_id).await;
        match status {
            Ok(JobStatus { state: JobStatus::COMPLETED, impressions, .. }) => {
                return Ok(Outcome::Completed { impressions })
            }
            Ok(JobStatus { state: 7 | 8, reasons, .. }) => {
                return Ok(Outcome::Failed(match canceled {
                    Some(stood) => format!(
                        "the printer had not printed the job after {} ({stood}); it was canceled there",
                        span(give_up)
                    ),
                    None => format!("the printer stopped the job ({reasons})"),
                }))
            }
            Ok(_) if !late => {}
            Err(e) if is_transient(&e) && !late => {
                tracing::info!(printer = uri, job = job_id, error = %format!("{e:#}"), "cannot follow the job for now; asking again");
            }
            Err(e) if !is_transient(&e) => return Err(e),
            still => {
                let until = *cancel_by.get_or_insert(now + CANCEL_WAIT);
                let stood = match &still {
                    Ok(JobStatus { state, reasons, .. }) => format!("state {state}, {reasons}"),
                    Err(e) => format!("{e:#}"),
                };
                if let Some(why) = &refused {
                    anyhow::bail!(
                        "the printer did not finish the job in {} ({stood}) and refused to cancel it: {why}",
                        span(give_up)
                    );
                }
                if now > until {
                    anyhow::bail!(match canceled {
                        Some(_) => format!("the printer did not finish the job in {}, nor cancel it when asked ({stood})", span(give_up)),
                        None => format!("the printer did not finish the job in {} and could not be asked to cancel it ({stood})", span(give_up)),
                    });
                }
                if still.is_ok() && canceled.is_none() {
                    match cancel_job(client, uri, job_id, user).await {
                        Ok(()) => {
                            tracing::warn!(printer = uri, job = job_id, stood = %stood, "the printer still held the job when given up on; canceled it there");
                            canceled = Some(stood);
                        }
                        Err(e) if is_transient(&e) => {}
                        // The job may have ended just before (a printer refuses to cancel
                        // a completed job): it is looked at once more.
                        Err(e) => refused = Some(format!("{e:#}")),
                    }
                }
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// How far a job's sending went, as its sender keeps it (the server in its database,
/// the client beside its spooled document) so that a sender taken up after a crash does
/// not send the job twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// The printer's id for the job, once it answered Print-Job.
    pub printer_job_id: Option<i32>,
    /// The newest of the user's jobs at the printer before this one was sent.
    pub floor: Option<i64>,
}

/// Sends a job to its printer once, whatever crashes or cut lines come in between: a job
/// whose printer id is known is not sent again; one sent before its id could be noted (a
/// crash just after sending, or a Print-Job whose answer was lost or never came) is found
/// among the printer's jobs of `request.user` newer than the floor and with its name
/// before it is sent again. `note` keeps each step (the floor before sending, then the id)
/// and must have kept it when it returns. A busy or unreachable printer is tried again
/// with growing pauses (1 s, doubling up to 30 s) until `patience` is spent; other
/// failures end it at once. The printer's job id comes back, to follow.
pub async fn send_once<F, Fut>(
    client: &Client,
    uri: &str,
    request: &PrintRequest<'_>,
    progress: Progress,
    patience: Duration,
    mut note: F,
) -> anyhow::Result<i32>
where
    F: FnMut(Progress) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    /// What is to be done next.
    enum Step {
        /// Note the newest of the user's jobs at the printer, to know this one by later.
        Floor,
        /// Look for the job among those newer than the floor: it may have been sent.
        Look(i64),
        Send,
    }
    if let Some(id) = progress.printer_job_id {
        return Ok(id);
    }
    let mut floor = progress.floor;
    let mut step = floor.map_or(Step::Floor, Step::Look);
    let give_up = tokio::time::Instant::now() + patience;
    let mut pause = Duration::from_secs(1);
    loop {
        let failure = match step {
            Step::Floor => match jobs_of(client, uri, request.user).await {
                Ok(jobs) => {
                    let newest = jobs.iter().map(|(id, _)| i64::from(*id)).max().unwrap_or(0);
                    note(Progress { printer_job_id: None, floor: Some(newest) }).await?;
                    (floor, step) = (Some(newest), Step::Send);
                    continue;
                }
                Err(e) if is_transient(&e) => e,
                // A printer that cannot list its jobs gets no floor: after a crash or a
                // lost answer the job is sent again rather than lost.
                Err(_) => {
                    step = Step::Send;
                    continue;
                }
            },
            Step::Look(since) => match jobs_of(client, uri, request.user).await {
                Ok(jobs) => {
                    let sent = jobs
                        .into_iter()
                        .find(|(id, name)| i64::from(*id) > since && name == request.job_name);
                    match sent {
                        Some((id, _)) => {
                            note(Progress { printer_job_id: Some(id), floor }).await?;
                            return Ok(id);
                        }
                        None => {
                            step = Step::Send;
                            continue;
                        }
                    }
                }
                Err(e) => e,
            },
            Step::Send => match print_job(client, uri, request).await {
                Ok(id) => {
                    note(Progress { printer_job_id: Some(id), floor }).await?;
                    return Ok(id);
                }
                // Unless the printer said it was busy, it may have made the job.
                Err(e) => {
                    if let (Some(since), false) = (floor, busy(&e)) {
                        step = Step::Look(since);
                    }
                    e
                }
            },
        };
        if !is_transient(&failure) || tokio::time::Instant::now() >= give_up {
            return Err(failure);
        }
        tracing::info!(printer = uri, job = request.job_name, error = %format!("{failure:#}"), "printer not ready; trying again");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}

/// A printer's state (`printer-state`: 3 idle, 4 processing, 5 stopped) and its reasons.
pub async fn printer_state(client: &Client, uri: &str) -> anyhow::Result<(i32, String)> {
    let mut req = request(Operation::GetPrinterAttributes, uri, "ream")?;
    let wanted = ["printer-state", "printer-state-reasons"];
    let keywords = wanted.iter().map(|k| IppValue::new_keyword(*k)).collect::<Result<Vec<_>, _>>()?;
    req.attributes_mut()
        .add(DelimiterTag::OperationAttributes, attr("requested-attributes", IppValue::Array(keywords)));
    let resp = send(client, uri, Payload::Whole(req.to_bytes())).await.context("Get-Printer-Attributes")?;
    let printer =
        |name: &str| resp.attributes().groups_of(DelimiterTag::PrinterAttributes).find_map(|g| g.get(name));
    let state = match printer("printer-state").map(|a| a.value()) {
        Some(IppValue::Enum(n)) | Some(IppValue::Integer(n)) => *n,
        _ => anyhow::bail!("the printer did not say its state"),
    };
    let reasons = printer("printer-state-reasons")
        .map(|a| a.value().into_iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    Ok((state, reasons))
}

#[cfg(test)]
mod tests {
    use super::{http_url, Capabilities};

    #[test]
    fn a_job_is_printed_on_the_paper_the_printer_takes() {
        let caps = |media: &[&str], default: Option<&str>| Capabilities {
            duplex: false,
            colour: false,
            media: media.iter().map(|m| m.to_string()).collect(),
            media_default: default.map(str::to_string),
        };
        let (a3, a4, letter) = ("iso_a3_297x420mm", "iso_a4_210x297mm", "na_letter_8.5x11in");
        let office = caps(&[a4, letter], Some(letter));
        assert_eq!(office.media_for(a4), a4);
        assert_eq!(office.media_for(a3), letter, "no A3 tray: its default paper");
        assert_eq!(caps(&[], None).media_for(a3), a3, "a printer that does not say is taken at its word");
        assert_eq!(caps(&[a4], None).media_for(a3), a3, "nor a default: what was asked");
    }

    #[test]
    fn printer_uris_map_to_http_urls() {
        for (uri, url) in [
            ("ipp://printer.example/ipp/print", "http://printer.example:631/ipp/print"),
            ("ipp://127.0.0.1:8501/ipp/print", "http://127.0.0.1:8501/ipp/print"),
            ("ipps://printer.example/ipp/print", "https://printer.example:443/ipp/print"),
            ("ipps://[::1]:8443/ipp/print", "https://[::1]:8443/ipp/print"),
        ] {
            assert_eq!(http_url(uri).unwrap(), url);
        }
        assert!(http_url("lpd://printer/queue").is_err());
    }
}
