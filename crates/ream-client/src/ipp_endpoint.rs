//! The client's local IPP Everywhere printer, on loopback: what the OS spooler (CUPS,
//! through a driverless `-m everywhere` queue) or any IPP client prints to.
//!
//! It speaks the IPP Everywhere operations: Get-Printer-Attributes, Validate-Job,
//! Print-Job, Create-Job + Send-Document (+ Close-Job), Get-Jobs, Get-Job-Attributes,
//! Cancel-Job, Cancel-My-Jobs, Identify-Printer; requests are checked as RFC 8011 asks
//! (request id, the first two operation attributes, the target, `requested-attributes`),
//! and CUPS' `ipp-2.0.test` and `ipp-everywhere.test` pass against it. A document is
//! streamed to the local spool (never held in memory) and handed to the engine, which
//! identifies the user and submits it to the server. To the spooler the job is done as
//! soon as the client holds it: what happens next (login, the server's answer) is told
//! to the user by the engine's events, not by stalling the spooler's queue.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode as HttpStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures_util::TryStreamExt;

use crate::error::ClientError;
use crate::ipp_jobs::Earlier;
use ipp::parser::AsyncIppParser;
use ipp::prelude::*;
use ipp::reader::AsyncIppReader;
use ipp::value::{IppName, IppValue};
use ream_wire::JobSubmission;
use tokio_util::compat::FuturesAsyncReadCompatExt;

use crate::engine::Engine;

/// The IPP path the endpoint serves (also `/`).
pub const PATH: &str = "/ipp/print";

#[derive(Clone, Debug)]
struct LocalJob {
    id: i32,
    name: String,
    user: String,
    /// IPP job-state: 3 pending (Create-Job without its document yet), 9 completed.
    state: i32,
    attributes: JobSubmission,
    /// The printer's up-time (seconds) when the job was made, and when it ended.
    created: i32,
    ended: Option<i32>,
}

struct Endpoint {
    engine: Engine,
    port: u16,
    started: std::time::Instant,
    uuid: String,
    ids: crate::ipp_jobs::JobIds,
    jobs: Mutex<HashMap<i32, LocalJob>>,
    spool: PathBuf,
    /// This client's OS user: uid and name.
    me: (u32, String),
}

/// Serves the endpoint on `listener` until the task is dropped.
pub async fn serve(engine: Engine, listener: tokio::net::TcpListener, spool: PathBuf) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    std::fs::create_dir_all(&spool)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o700))?;
    }
    let endpoint = Arc::new(Endpoint {
        engine,
        port,
        started: std::time::Instant::now(),
        uuid: uuid::Uuid::new_v4().to_string(),
        // Beside the spool, not in it: the spool holds documents only.
        ids: crate::ipp_jobs::JobIds::open(spool.parent().unwrap_or(&spool))?,
        jobs: Mutex::new(HashMap::new()),
        spool,
        // SAFETY: getuid has no preconditions and cannot fail.
        me: (unsafe { libc::getuid() }, crate::workstation::os_username().unwrap_or_default()),
    });
    let app = Router::new()
        .route(PATH, post(to_default))
        .route(&format!("{PATH}/{{queue}}"), post(to_queue))
        .route("/", post(to_default))
        .with_state(endpoint);
    axum::serve(listener, app.into_make_service_with_connect_info::<Sender>()).await
}

/// Who is on the other end of a connection, asked of the kernel once, when it is
/// accepted: a socket's owner never changes, and CUPS' backend sends several requests
/// over one connection (each lookup reads the kernel's socket table).
#[derive(Debug, Clone, Copy)]
struct Sender {
    /// The OS user owning the connecting socket, if the kernel says.
    owner: Option<u32>,
    /// Neither this client's user, nor root, nor CUPS' `lp`.
    stranger: bool,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for Sender
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Sender {
        let owner =
            stream.io().local_addr().ok().and_then(|local| crate::peer::owner(*stream.remote_addr(), local));
        Sender { owner, stranger: owner.is_none_or(|uid| !crate::peer::may_print(uid)) }
    }
}

/// The local printer's URI for `queue` (`PATH/QUEUE`, the name percent-encoded), or for
/// the server's default queue.
pub fn printer_uri(port: u16, queue: Option<&str>) -> String {
    format!("ipp://127.0.0.1:{port}{}", printer_path(queue))
}

/// The path part of [`printer_uri`].
pub fn printer_path(queue: Option<&str>) -> String {
    match queue {
        Some(q) => {
            format!("{PATH}/{}", percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC))
        }
        None => PATH.to_string(),
    }
}

type Peer = axum::extract::ConnectInfo<Sender>;

async fn to_default(State(ep): State<Arc<Endpoint>>, peer: Peer, req: Request) -> Response {
    handle(ep, peer, None, req).await
}

/// A CUPS queue made for one server queue prints here: its jobs go to that queue.
async fn to_queue(
    State(ep): State<Arc<Endpoint>>,
    peer: Peer,
    axum::extract::Path(queue): axum::extract::Path<String>,
    req: Request,
) -> Response {
    handle(ep, peer, Some(queue), req).await
}

/// Takes up the jobs a previous run of the client had spooled but not yet delivered (see
/// [`crate::local_spool::waiting`]). A front end calls it once it listens to the engine's
/// events and the engine has started (a remembered login restored), as a job may ask for
/// a login.
pub fn resume_spooled(engine: &Engine, spool: &std::path::Path) {
    for (submission, path) in crate::local_spool::waiting(spool) {
        tracing::info!(job = %submission.name, "taking up a job spooled before the client stopped");
        let engine = engine.clone();
        tokio::spawn(async move { engine.print_spooled(submission, path).await });
    }
}

fn attr(name: &str, value: IppValue) -> IppAttribute {
    IppAttribute::new(IppName::new(name).expect("a valid attribute name"), value)
}

fn kw(s: &str) -> IppValue {
    IppValue::new_keyword(s).expect("a valid keyword")
}

fn text(s: &str) -> IppValue {
    IppValue::new_text_without_language(s)
        .unwrap_or_else(|_| IppValue::new_text_without_language("?").expect("text"))
}

fn name(s: &str) -> IppValue {
    IppValue::NameWithoutLanguage(IppName::new_truncated(s))
}

fn uri(s: &str) -> IppValue {
    IppValue::new_uri(s).expect("a valid URI")
}

fn mime(s: &str) -> IppValue {
    IppValue::new_mime_media_type(s).expect("a valid MIME type")
}

fn collection(members: Vec<(&str, IppValue)>) -> IppValue {
    IppValue::Collection(
        members
            .into_iter()
            .map(|(k, v)| (IppName::new(k).expect("a valid member name"), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// Page margins, in hundredths of a millimetre. Not zero: CUPS would call the sizes
/// borderless and they would not match its defaults.
const MARGIN: i32 = 635;

/// The media offered: PWG name and size in hundredths of a millimetre.
const MEDIA: [(&str, i32, i32); 3] = [
    ("iso_a4_210x297mm", 21000, 29700),
    ("na_letter_8.5x11in", 21590, 27940),
    ("iso_a3_297x420mm", 29700, 42000),
];

fn media_col(x: i32, y: i32) -> IppValue {
    collection(vec![
        (
            "media-size",
            collection(vec![("x-dimension", IppValue::Integer(x)), ("y-dimension", IppValue::Integer(y))]),
        ),
        ("media-bottom-margin", IppValue::Integer(MARGIN)),
        ("media-left-margin", IppValue::Integer(MARGIN)),
        ("media-right-margin", IppValue::Integer(MARGIN)),
        ("media-top-margin", IppValue::Integer(MARGIN)),
        ("media-source", kw("main")),
        ("media-type", kw("stationery")),
    ])
}

const OPERATIONS: [Operation; 11] = [
    Operation::PrintJob,
    Operation::ValidateJob,
    Operation::CreateJob,
    Operation::SendDocument,
    Operation::CancelJob,
    Operation::GetJobAttributes,
    Operation::GetJobs,
    Operation::GetPrinterAttributes,
    Operation::CancelMyJobs,
    Operation::CloseJob,
    Operation::IdentifyPrinter,
];

impl Endpoint {
    /// Seconds since the printer started, from 1 (`printer-up-time` and the jobs' times).
    fn up_time(&self) -> i32 {
        i32::try_from(self.started.elapsed().as_secs()).unwrap_or(i32::MAX - 1) + 1
    }

    fn printer_uri(&self, queue: Option<&str>) -> String {
        printer_uri(self.port, queue)
    }

    /// What CUPS' driverless set-up needs to make a PDF queue of us (every value valid:
    /// CUPS refuses the whole printer over one bad attribute), and what IPP clients ask.
    fn printer_attributes(&self, queue: Option<&str>) -> Vec<IppAttribute> {
        let list = |v: Vec<IppValue>| IppValue::Array(v);
        let media_names = || list(MEDIA.iter().map(|m| kw(m.0)).collect());
        let media_cols = || list(MEDIA.iter().map(|m| media_col(m.1, m.2)).collect());
        let logged_in = self.engine.status().user.is_some();
        vec![
            attr("printer-uri-supported", uri(&self.printer_uri(queue))),
            attr("uri-security-supported", kw("none")),
            attr("uri-authentication-supported", kw("none")),
            attr("printer-name", name(queue.unwrap_or("Ream"))),
            attr(
                "printer-info",
                text(
                    &queue.map_or("Ream print management".into(), |q| format!("Ream print management: {q}")),
                ),
            ),
            attr("printer-make-and-model", text("Ream Secure Print")),
            attr("printer-location", text("This workstation")),
            attr("printer-uuid", uri(&format!("urn:uuid:{}", self.uuid))),
            attr("printer-device-id", text("MFG:Ream;MDL:Secure Print;CMD:PDF;")),
            attr("printer-state", IppValue::Enum(3)),
            attr("printer-state-reasons", kw("none")),
            attr(
                "printer-state-message",
                text(if logged_in { "Ready" } else { "Ready; you will be asked to log in" }),
            ),
            attr("printer-is-accepting-jobs", IppValue::Boolean(true)),
            attr("printer-up-time", IppValue::Integer(self.up_time())),
            attr("printer-more-info", uri(&format!("http://127.0.0.1:{}/", self.port))),
            attr("pages-per-minute", IppValue::Integer(60)),
            attr("pages-per-minute-color", IppValue::Integer(60)),
            attr("queued-job-count", IppValue::Integer(0)),
            attr(
                "operations-supported",
                list(OPERATIONS.iter().map(|o| IppValue::Enum(*o as i32)).collect()),
            ),
            attr("ipp-versions-supported", list(vec![kw("1.1"), kw("2.0")])),
            attr("ipp-features-supported", kw("ipp-everywhere")),
            attr("charset-configured", IppValue::new_charset("utf-8").expect("charset")),
            attr("charset-supported", IppValue::new_charset("utf-8").expect("charset")),
            attr("natural-language-configured", IppValue::new_natural_language("en").expect("language")),
            attr(
                "generated-natural-language-supported",
                IppValue::new_natural_language("en").expect("language"),
            ),
            attr("document-format-default", mime("application/pdf")),
            // application/vnd.cups-pdf makes CUPS pass PDF through untouched.
            attr(
                "document-format-supported",
                list(vec![mime("application/pdf"), mime("application/vnd.cups-pdf")]),
            ),
            attr("pdf-versions-supported", list(vec![kw("adobe-1.7"), kw("iso-32000-1_2008")])),
            attr("compression-supported", kw("none")),
            attr("pdl-override-supported", kw("attempted")),
            attr("color-supported", IppValue::Boolean(true)),
            attr("copies-default", IppValue::Integer(1)),
            attr("copies-supported", IppValue::RangeOfInteger { min: 1, max: 999 }),
            attr("multiple-document-jobs-supported", IppValue::Boolean(false)),
            attr("media-default", kw(MEDIA[0].0)),
            attr("media-supported", media_names()),
            attr("media-ready", media_names()),
            attr("media-col-default", media_col(MEDIA[0].1, MEDIA[0].2)),
            attr("media-col-ready", media_cols()),
            attr("media-col-database", media_cols()),
            attr(
                "media-size-supported",
                list(
                    MEDIA
                        .iter()
                        .map(|m| {
                            collection(vec![
                                ("x-dimension", IppValue::Integer(m.1)),
                                ("y-dimension", IppValue::Integer(m.2)),
                            ])
                        })
                        .collect(),
                ),
            ),
            attr(
                "media-col-supported",
                list(
                    [
                        "media-size",
                        "media-bottom-margin",
                        "media-left-margin",
                        "media-right-margin",
                        "media-top-margin",
                    ]
                    .into_iter()
                    .chain(["media-source", "media-type"])
                    .map(kw)
                    .collect(),
                ),
            ),
            attr("media-bottom-margin-supported", IppValue::Integer(MARGIN)),
            attr("media-left-margin-supported", IppValue::Integer(MARGIN)),
            attr("media-right-margin-supported", IppValue::Integer(MARGIN)),
            attr("media-top-margin-supported", IppValue::Integer(MARGIN)),
            attr("media-source-supported", kw("main")),
            attr("media-type-supported", kw("stationery")),
            attr("sides-default", kw("one-sided")),
            attr(
                "sides-supported",
                list(vec![kw("one-sided"), kw("two-sided-long-edge"), kw("two-sided-short-edge")]),
            ),
            attr("print-color-mode-default", kw("color")),
            attr("print-color-mode-supported", list(vec![kw("monochrome"), kw("color")])),
            attr("print-quality-default", IppValue::Enum(4)),
            attr(
                "print-quality-supported",
                list(vec![IppValue::Enum(3), IppValue::Enum(4), IppValue::Enum(5)]),
            ),
            attr("printer-resolution-default", IppValue::Resolution { cross_feed: 600, feed: 600, units: 3 }),
            attr(
                "printer-resolution-supported",
                IppValue::Resolution { cross_feed: 600, feed: 600, units: 3 },
            ),
            attr("orientation-requested-default", IppValue::Enum(3)),
            attr("orientation-requested-supported", list((3..=6).map(IppValue::Enum).collect())),
            attr("finishings-default", IppValue::Enum(3)),
            attr("finishings-supported", IppValue::Enum(3)),
            attr("output-bin-default", kw("face-down")),
            attr("output-bin-supported", kw("face-down")),
            attr(
                "job-creation-attributes-supported",
                list(
                    ["copies", "media", "media-col", "sides", "print-color-mode", "print-quality"]
                        .into_iter()
                        .chain(["printer-resolution", "orientation-requested", "finishings", "output-bin"])
                        .map(kw)
                        .collect(),
                ),
            ),
        ]
    }

    fn job_attributes(&self, job: &LocalJob) -> Vec<IppAttribute> {
        vec![
            attr("job-id", IppValue::Integer(job.id)),
            attr(
                "job-uri",
                uri(&format!("{}/{}", self.printer_uri(job.attributes.queue.as_deref()), job.id)),
            ),
            attr("job-printer-uri", uri(&self.printer_uri(job.attributes.queue.as_deref()))),
            attr("job-name", name(&job.name)),
            attr("job-originating-user-name", name(&job.user)),
            attr("job-state", IppValue::Enum(job.state)),
            attr(
                "job-state-reasons",
                kw(match job.state {
                    9 => "job-completed-successfully",
                    8 => "document-format-error",
                    _ => "none",
                }),
            ),
            attr("job-impressions-completed", IppValue::Integer(0)),
            attr("time-at-creation", IppValue::Integer(job.created)),
            attr(
                "time-at-processing",
                if job.state >= 5 { IppValue::Integer(job.created) } else { IppValue::NoValue },
            ),
            attr("time-at-completed", job.ended.map_or(IppValue::NoValue, IppValue::Integer)),
            attr("job-printer-up-time", IppValue::Integer(self.up_time())),
        ]
    }
}

/// The attributes a request asks for (`requested-attributes`), if it names any.
fn requested(attrs: &IppAttributes) -> Option<Vec<String>> {
    let value = attribute(attrs, DelimiterTag::OperationAttributes, "requested-attributes")?;
    Some(match value {
        IppValue::Array(list) => list.iter().map(|v| v.to_string()).collect(),
        one => vec![one.to_string()],
    })
}

/// `all` of them, or those named or in a group named (`printer-description`,
/// `job-description`, `job-template`: the `-default`, `-supported`, `-ready` and
/// `-database` attributes), as RFC 8011 section 4.2.5.1 asks.
fn keep_requested(all: Vec<IppAttribute>, wanted: &[String]) -> Vec<IppAttribute> {
    let wants = |w: &str| wanted.iter().any(|x| x == w);
    if wants("all") || wants("printer-description") || wants("job-description") {
        return all;
    }
    let template = wants("job-template");
    all.into_iter()
        .filter(|a| {
            let n = a.name();
            wants(n)
                || (template
                    && ["-default", "-supported", "-ready", "-database"].iter().any(|s| n.ends_with(s)))
        })
        .collect()
}

/// What RFC 8011 section 4.1 asks of every request: a request id, `attributes-charset`
/// then `attributes-natural-language` first of the operation attributes, and the target
/// (`printer-uri`; for a job operation with a `job-id`, or a `job-uri`).
fn malformed(request_id: i32, op: Option<Operation>, attrs: &IppAttributes) -> Option<&'static str> {
    if request_id == 0 {
        return Some("request-id 0");
    }
    let first = attrs.groups_of(DelimiterTag::OperationAttributes).next();
    let names: Vec<&str> =
        first.map(|g| g.attributes().iter().take(2).map(|a| a.name().as_str()).collect()).unwrap_or_default();
    if names != ["attributes-charset", "attributes-natural-language"] {
        return Some(
            "the operation attributes do not begin with attributes-charset, attributes-natural-language",
        );
    }
    let has = |n: &str| attribute(attrs, DelimiterTag::OperationAttributes, n).is_some();
    let job_op = matches!(
        op,
        Some(
            Operation::SendDocument
                | Operation::GetJobAttributes
                | Operation::CancelJob
                | Operation::CloseJob
        )
    );
    let target =
        if job_op { has("job-uri") || (has("printer-uri") && has("job-id")) } else { has("printer-uri") };
    (!target).then_some("no printer-uri (or job) the request is for")
}

fn reply(resp: IppRequestResponse) -> Response {
    ([(header::CONTENT_TYPE, "application/ipp")], resp.to_bytes()).into_response()
}

fn attribute<'a>(attrs: &'a IppAttributes, tag: DelimiterTag, name: &str) -> Option<&'a IppValue> {
    attrs.groups_of(tag).find_map(|g| g.get(name)).map(|a| a.value())
}

fn text_of(attrs: &IppAttributes, tag: DelimiterTag, name: &str) -> Option<String> {
    attribute(attrs, tag, name).map(|v| v.to_string())
}

/// The job attributes a submission carries to the server.
fn submission(attrs: &IppAttributes, job_name: &str) -> JobSubmission {
    let job = DelimiterTag::JobAttributes;
    let media = text_of(attrs, job, "media").or_else(|| {
        // CUPS sends media-col { media-size { x, y } }: name the size it matches.
        let IppValue::Collection(col) = attribute(attrs, job, "media-col")? else { return None };
        let IppValue::Collection(size) = col.iter().find(|(k, _)| k.as_str() == "media-size")?.1 else {
            return None;
        };
        let dim =
            |n: &str| size.iter().find(|(k, _)| k.as_str() == n).and_then(|(_, v)| v.as_integer().copied());
        let (x, y) = (dim("x-dimension")?, dim("y-dimension")?);
        MEDIA.iter().find(|m| (m.1 - x).abs() < 100 && (m.2 - y).abs() < 100).map(|m| m.0.to_string())
    });
    JobSubmission {
        name: job_name.to_string(),
        queue: None,
        copies: attribute(attrs, job, "copies").and_then(|v| v.as_integer().copied()).map_or(1, i64::from),
        sides: text_of(attrs, job, "sides"),
        color_mode: text_of(attrs, job, "print-color-mode"),
        media,
        pages: None,
        holder: None,
        client_job_id: None,
    }
}

async fn handle(ep: Arc<Endpoint>, peer: Peer, queue: Option<String>, req: Request) -> Response {
    // Another OS user of this computer printing here would print as this client's user.
    let Sender { owner, stranger } = peer.0;
    // Any web page can make the browser post to loopback: such a request carries an
    // `Origin`, or is not `application/ipp` (which a page cannot send without a CORS
    // preflight, never answered here). Only IPP clients print here.
    let from_a_page = req.headers().contains_key(header::ORIGIN)
        || req.headers().get(header::CONTENT_TYPE).is_none_or(|t| t.as_bytes() != b"application/ipp");
    let mut body = req.into_body().into_data_stream().map_err(std::io::Error::other).into_async_read();
    // Its attributes are read and checked before anything parses them (see
    // `ream_print::ipp_request`): a million attributes or endless nesting cost nothing.
    let read = match ream_print::ipp_request::read_head(&mut body, &ream_print::ipp_request::LIMITS).await {
        Ok(read) => read,
        Err(refusal) => {
            // What it still sends is read (up to a bound) and dropped, so that it hears
            // the refusal rather than a connection cut while it writes.
            let rest = futures_util::io::AsyncReadExt::take(&mut body, DRAINED);
            let _ = futures_util::io::copy(rest, &mut futures_util::io::sink()).await;
            return refused_request(&refusal);
        }
    };
    let body = futures_util::io::AsyncReadExt::chain(futures_util::io::Cursor::new(read), body);
    let (head, attrs, payload) = match AsyncIppParser::new(AsyncIppReader::new(body)).parse_parts().await {
        Ok(parts) => parts,
        Err(e) => return (HttpStatus::BAD_REQUEST, format!("malformed IPP request: {e}")).into_response(),
    };
    let (version, request_id) = (head.version, head.request_id);
    let major = version.0 >> 8;
    let respond = |status: StatusCode| {
        IppRequestResponse::new_response(version, status, request_id).expect("a response header")
    };
    if !(1..=2).contains(&major) {
        let mut r = respond(StatusCode::ServerErrorVersionNotSupported);
        r.header_mut().version = IppVersion::v2_0();
        return reply(r);
    }
    if from_a_page {
        tracing::warn!("refused an IPP request from a web page (Origin header, or not application/ipp)");
        return reply(respond(StatusCode::ClientErrorNotAuthorized));
    }
    if stranger {
        tracing::warn!(uid = ?owner, "refused an IPP request from another OS user (only CUPS and this user print here)");
        return reply(respond(StatusCode::ClientErrorNotAuthorized));
    }
    let op = Operation::from_i16(head.operation_or_status);
    let operation = DelimiterTag::OperationAttributes;
    if let Some(why) = malformed(request_id, op, &attrs) {
        tracing::debug!(why, "refused a malformed IPP request");
        return reply(respond(StatusCode::ClientErrorBadRequest));
    }
    let wanted = requested(&attrs);
    let mut resp = respond(StatusCode::SuccessfulOk);
    match op {
        Some(Operation::GetPrinterAttributes) => {
            let all = ep.printer_attributes(queue.as_deref());
            for a in wanted.as_deref().map_or(all.clone(), |w| keep_requested(all, w)) {
                resp.attributes_mut().add(DelimiterTag::PrinterAttributes, a);
            }
        }
        Some(Operation::ValidateJob) => {
            let format = text_of(&attrs, operation, "document-format");
            if format.as_deref().is_some_and(|f| {
                !matches!(f, "application/pdf" | "application/vnd.cups-pdf" | "application/octet-stream")
            }) {
                resp = respond(StatusCode::ClientErrorDocumentFormatNotSupported);
            }
        }
        Some(Operation::PrintJob) | Some(Operation::CreateJob) => {
            let id = match ep.ids.next() {
                Ok(id) => id,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot keep the job ids: cannot take a job");
                    return reply(respond(StatusCode::ServerErrorBusy));
                }
            };
            let job_name = text_of(&attrs, operation, "job-name").unwrap_or_else(|| "Untitled".into());
            let user =
                text_of(&attrs, operation, "requesting-user-name").unwrap_or_else(|| "anonymous".into());
            let sender = owner.unwrap_or(u32::MAX);
            if !crate::peer::job_is_mine(sender, &user, (ep.me.0, &ep.me.1)) {
                tracing::warn!(sender = %user, "refused a job CUPS took from another OS user: not this user's to pay");
                return reply(respond(StatusCode::ClientErrorNotAuthorized));
            }
            tracing::debug!(operation = ?op, ipp_job = id, job = %job_name, "job created");
            let attributes = JobSubmission { queue: queue.clone(), ..submission(&attrs, &job_name) };
            let created = ep.up_time();
            let mut job = LocalJob { id, user, state: 3, attributes, name: job_name, created, ended: None };
            if op == Some(Operation::PrintJob) {
                if let Err(status) = ep.take_document(&mut job, payload).await {
                    return reply(respond(status));
                }
            }
            ep.record(job, &mut resp);
        }
        Some(Operation::SendDocument) if attribute(&attrs, operation, "last-document").is_none() => {
            // Read (up to a bound) and dropped, so that the client hears the answer.
            let rest = futures_util::io::AsyncReadExt::take(payload.into_inner(), DRAINED);
            let _ = futures_util::io::copy(rest, &mut futures_util::io::sink()).await;
            resp = respond(StatusCode::ClientErrorBadRequest);
        }
        Some(Operation::SendDocument) => {
            let id =
                attribute(&attrs, operation, "job-id").and_then(|v| v.as_integer().copied()).unwrap_or(0);
            let job = ep.jobs.lock().expect("lock").get(&id).cloned();
            tracing::debug!(ipp_job = id, known = job.is_some(), "Send-Document");
            match job {
                Some(mut job) if job.state == 3 => {
                    if let Err(status) = ep.take_document(&mut job, payload).await {
                        return reply(respond(status));
                    }
                    ep.record(job, &mut resp);
                }
                Some(_) => resp = respond(StatusCode::ClientErrorNotPossible),
                // An earlier run has this document already: nothing to take twice.
                None if ep.ids.earlier(id) == Earlier::Taken => ep.earlier_job(id, true, &mut resp),
                None => resp = respond(StatusCode::ClientErrorNotFound),
            }
        }
        Some(Operation::GetJobAttributes) | Some(Operation::CancelJob) => {
            let id =
                attribute(&attrs, operation, "job-id").and_then(|v| v.as_integer().copied()).unwrap_or(0);
            let job = ep.jobs.lock().expect("lock").get(&id).cloned();
            match job {
                Some(job) if op == Some(Operation::GetJobAttributes) => {
                    let all = ep.job_attributes(&job);
                    for a in wanted.as_deref().map_or(all.clone(), |w| keep_requested(all, w)) {
                        resp.attributes_mut().add(DelimiterTag::JobAttributes, a);
                    }
                }
                // Pending (Create-Job without its document yet) can still be cancelled.
                Some(job) if job.state == 3 => {
                    ep.jobs.lock().expect("lock").remove(&job.id);
                }
                Some(_) => resp = respond(StatusCode::ClientErrorNotPossible),
                None if op == Some(Operation::GetJobAttributes) => match ep.ids.earlier(id) {
                    Earlier::Taken => ep.earlier_job(id, true, &mut resp),
                    Earlier::NotTaken => ep.earlier_job(id, false, &mut resp),
                    Earlier::No => resp = respond(StatusCode::ClientErrorNotFound),
                },
                None => resp = respond(StatusCode::ClientErrorNotFound),
            }
        }
        Some(Operation::GetJobs) => {
            // Not-completed jobs unless asked otherwise; only the asker's with my-jobs;
            // job-uri and job-id unless other attributes are asked for (RFC 8011 4.2.6).
            let which = text_of(&attrs, operation, "which-jobs").unwrap_or_else(|| "not-completed".into());
            let mine = matches!(attribute(&attrs, operation, "my-jobs"), Some(IppValue::Boolean(true)));
            let asker = text_of(&attrs, operation, "requesting-user-name");
            let default = ["job-uri".to_string(), "job-id".to_string()];
            let mut jobs: Vec<LocalJob> = ep.jobs.lock().expect("lock").values().cloned().collect();
            jobs.sort_by_key(|j| j.id);
            for job in jobs {
                let shown = match which.as_str() {
                    "completed" => job.state >= 7,
                    "all" => true,
                    _ => job.state < 7,
                };
                if !shown || (mine && asker.as_deref() != Some(job.user.as_str())) {
                    continue;
                }
                let mut group = IppAttributeGroup::new(DelimiterTag::JobAttributes);
                group
                    .attributes_mut()
                    .extend(keep_requested(ep.job_attributes(&job), wanted.as_deref().unwrap_or(&default)));
                resp.attributes_mut().groups_mut().push(group);
            }
        }
        // The asker's jobs still waiting for their document go; the others are the
        // client's already.
        Some(Operation::CancelMyJobs) => {
            let asker = text_of(&attrs, operation, "requesting-user-name");
            ep.jobs
                .lock()
                .expect("lock")
                .retain(|_, j| !(j.state == 3 && asker.as_deref() == Some(j.user.as_str())));
        }
        // No more documents: a job that never got one has nothing to print.
        Some(Operation::CloseJob) => {
            let id =
                attribute(&attrs, operation, "job-id").and_then(|v| v.as_integer().copied()).unwrap_or(0);
            let mut jobs = ep.jobs.lock().expect("lock");
            match jobs.get(&id).map(|j| j.state) {
                Some(3) => {
                    jobs.remove(&id);
                }
                Some(_) => {}
                None => resp = respond(StatusCode::ClientErrorNotFound),
            }
        }
        // A printer on loopback has nothing to blink.
        Some(Operation::IdentifyPrinter) => {}
        _ => resp = respond(StatusCode::ServerErrorOperationNotSupported),
    }
    reply(resp)
}

/// Answers a request refused before it was parsed, with the IPP status that says why
/// (the request id is not known: 0, as RFC 8011 allows for a request it cannot read).
fn refused_request(refusal: &ream_print::ipp_request::Refusal) -> Response {
    use ream_print::ipp_request::Refusal;
    let status = match refusal {
        Refusal::TooLarge(_) => StatusCode::ClientErrorRequestEntityTooLong,
        Refusal::Malformed(_) => StatusCode::ClientErrorBadRequest,
    };
    tracing::warn!(reason = %refusal, "refused an IPP request before parsing it");
    let r = IppRequestResponse::new_response(IppVersion::v1_1(), status, 0).expect("a response header");
    reply(r)
}

/// How much of a refused request's document is read (and dropped) so that its sender
/// hears the refusal; past it the connection is closed.
const DRAINED: u64 = 64 << 20;

/// What the disk must keep free beside the local spool.
const DISK_RESERVE: u64 = 256 << 20;

/// The largest document the local spool has room for now: what its disk has free, less
/// a reserve (the server's own limit, `max_job_bytes`, applies too).
fn spool_room(spool: &std::path::Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(spool.as_os_str().as_bytes()) else { return 0 };
    // SAFETY: statvfs writes into the struct we own; the path is a valid C string.
    let free = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut st) != 0 {
            return 0;
        }
        st.f_bavail as u64 * st.f_frsize as u64
    };
    free.saturating_sub(DISK_RESERVE)
}

/// How many finished jobs the endpoint remembers for Get-Jobs.
const JOBS_KEPT: usize = 100;

impl Endpoint {
    /// Answers about job `id` of an earlier run (see [`crate::ipp_jobs`]): completed when
    /// that run took its document; otherwise without a state, so that CUPS sends the job
    /// again rather than take it for done.
    fn earlier_job(&self, id: i32, taken: bool, resp: &mut IppRequestResponse) {
        resp.attributes_mut().add(DelimiterTag::JobAttributes, attr("job-id", IppValue::Integer(id)));
        if taken {
            resp.attributes_mut().add(DelimiterTag::JobAttributes, attr("job-state", IppValue::Enum(9)));
            resp.attributes_mut().add(
                DelimiterTag::JobAttributes,
                attr("job-state-reasons", kw("job-completed-successfully")),
            );
        } else {
            tracing::info!(ipp_job = id, "a job an earlier run never took: CUPS is to send it again");
        }
    }

    /// Keeps the job for Get-Jobs / Get-Job-Attributes (the newest few) and answers
    /// with its attributes.
    fn record(&self, job: LocalJob, resp: &mut IppRequestResponse) {
        for a in self.job_attributes(&job) {
            resp.attributes_mut().add(DelimiterTag::JobAttributes, a);
        }
        self.remember(job);
    }

    fn remember(&self, job: LocalJob) {
        let mut jobs = self.jobs.lock().expect("lock");
        jobs.insert(job.id, job);
        if jobs.len() > JOBS_KEPT {
            let oldest = jobs.keys().min().copied().expect("not empty");
            jobs.remove(&oldest);
        }
    }

    /// Streams the document to the spool and hands it to the engine; to the spooler the
    /// job is then complete. A failure here answers `server-error-busy`: CUPS' ipp backend
    /// stops the whole queue on `server-error-internal-error`, and sends the job again
    /// later on busy.
    async fn take_document<R>(&self, job: &mut LocalJob, payload: AsyncIppReader<R>) -> Result<(), StatusCode>
    where
        R: futures_util::io::AsyncRead + Send + Unpin,
    {
        let path = crate::local_spool::new_document(&self.spool);
        let key = match self.engine.spool_key().await {
            Ok(key) => key,
            Err(e) => {
                tracing::warn!(error = %e, "no spool key: cannot take a job");
                return Err(StatusCode::ServerErrorBusy);
            }
        };
        // The document is written as `.part` and becomes `.spool` once complete, with its
        // description (`.json`) beside it: a client killed while a job waits takes it up
        // again at its next start, and a half-written one is dropped (the spooler, told
        // nothing, sends it again).
        let part = crate::local_spool::part_of(&path);
        // Counted on the way in, by the counter the server uses: a document it would refuse
        // is refused to CUPS now with an IPP error, not accepted and lost later.
        let room = spool_room(&self.spool);
        let limit = self.engine.max_job_bytes().map_or(room, |max| max.min(room));
        let counted =
            ream_print::spool::write_counted(&key, payload.into_inner().compat(), &part, limit).await;
        let written = match counted {
            Ok((_bytes, pages)) => Ok(pages),
            Err(ream_print::spool::CountError::Document(reason)) => {
                let _ = tokio::fs::remove_file(&part).await;
                let refused = ClientError::Server(ream_wire::ApiError {
                    code: ream_wire::ErrorCode::DocumentInvalid,
                    message: format!("the document cannot be printed: {reason}"),
                    retry_at_ms: None,
                    shortfall: None,
                });
                self.engine.refused(&job.attributes, &refused);
                // Aborted from here on, so that CUPS, which follows the job after the
                // refused document, stops waiting for it.
                job.state = 8;
                job.ended = Some(self.up_time());
                self.remember(job.clone());
                return Err(StatusCode::ClientErrorDocumentFormatNotSupported);
            }
            Err(ream_print::spool::CountError::TooLarge(limit)) => {
                let _ = tokio::fs::remove_file(&part).await;
                let refused = if limit < room {
                    tracing::warn!(limit, "refused a document larger than the server takes");
                    ClientError::Config(format!(
                        "the document is larger than the server takes ({limit} bytes)"
                    ))
                } else {
                    tracing::warn!(limit, "refused a document larger than this computer's disk has room for");
                    ClientError::Config(format!(
                        "the document is larger than this computer has room for ({limit} bytes free)"
                    ))
                };
                self.engine.refused(&job.attributes, &refused);
                job.state = 8;
                job.ended = Some(self.up_time());
                self.remember(job.clone());
                return Err(StatusCode::ClientErrorRequestEntityTooLong);
            }
            Err(ream_print::spool::CountError::Io(e)) => Err(e),
        };
        // The job's id from here on, kept in its description: a submission repeated after a
        // lost answer or a restart is the same job to the server. The pages counted here go
        // with it (a client-spooled queue needs them; the server counts what it spools).
        let submission = JobSubmission {
            client_job_id: path.file_stem().map(|s| s.to_string_lossy().into_owned()),
            pages: written.as_ref().ok().copied(),
            ..job.attributes.clone()
        };
        // Written down as taken before the spooler hears so (see `ipp_jobs`).
        let kept = match written {
            Ok(_) => match crate::local_spool::keep(&submission, &path).await {
                Ok(()) => self.ids.taken(job.id),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = kept {
            tracing::warn!(error = %e, "cannot spool a job");
            crate::local_spool::forget(&path).await;
            return Err(StatusCode::ServerErrorBusy);
        }
        tracing::info!(job = %submission.name, ipp_job = job.id, file = %path.display(), "job spooled");
        let engine = self.engine.clone();
        tokio::spawn(async move { engine.print_spooled(submission, path).await });
        job.state = 9;
        job.ended = Some(self.up_time());
        Ok(())
    }
}
