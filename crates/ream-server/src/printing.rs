//! Print jobs on the server: accepting a document from a client (streamed to the spool,
//! pages counted from the document itself, priced by the printer's price list, checked
//! against the account that pays), holding it, releasing it to a printer over IPP(S),
//! following it to the end and charging what was printed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::TryStreamExt;
use ream_print::printer::{self as ipp_printer, Document, Outcome};
use ream_print::spool::{self, CountError};
use ream_wire::{
    AccountRef, AccountingMode, DeliveryReport, ErrorCode, Job, JobAnswer, JobDialog, JobState,
    JobSubmission, PaymentKind, PaymentOption, PriceList, QuotaMetric, ReleaseMode, SharedAccountKind,
    SpoolingMode, TransactionKind,
};

use crate::error::{AppError, AppResult};
use crate::script;
use crate::state::AppState;
use crate::store::{period_bounds, JobRow, NewJob, QueueRow, UserRow};

/// How long a printer may take to finish one job before the server gives up on it.
const PRINTER_PATIENCE: Duration = Duration::from_secs(600);

/// A3 and its kin count as two pages, as their sheets are twice the size.
pub fn size_factor(media: &str) -> i64 {
    if media.starts_with("iso_a3") || media.starts_with("na_ledger") || media.starts_with("na_tabloid") {
        2
    } else {
        1
    }
}

/// The job's price from a price list: every printed page (pages × copies, A3 counting
/// twice) at the mono or colour price, less the duplex discount per page.
pub fn price(list: &PriceList, pages: i64, copies: i64, colour: bool, duplex: bool, media: &str) -> i64 {
    let counted = pages * copies * size_factor(media);
    let per_page = if colour { list.colour_page_cents } else { list.mono_page_cents };
    let discount = if duplex { list.duplex_page_discount_cents } else { 0 };
    (counted * (per_page - discount)).max(0)
}

fn spool_dir(state: &AppState) -> PathBuf {
    state.config.data_dir.join("spool")
}

async fn queue_for(state: &AppState, name: Option<&str>) -> AppResult<QueueRow> {
    let queues = state.store.queues().await?;
    match name.or(state.config.default_queue.as_deref()) {
        Some(n) => queues
            .into_iter()
            .find(|q| q.queue.name == n)
            .ok_or_else(|| AppError::not_found(format!("queue {n}"))),
        None if queues.len() == 1 => Ok(queues.into_iter().next().expect("one")),
        None => {
            Err(AppError::invalid("name a queue: this server has several (or none) and no default_queue"))
        }
    }
}

/// What a job counts against a quota of this metric.
fn quota_amount(metric: QuotaMetric, printed_pages: i64, colour: bool, price_cents: i64) -> i64 {
    match metric {
        QuotaMetric::TotalPages => printed_pages,
        QuotaMetric::ColourPages if colour => printed_pages,
        QuotaMetric::MonoPages if !colour => printed_pages,
        QuotaMetric::ColourPages | QuotaMetric::MonoPages => 0,
        QuotaMetric::Money => price_cents,
    }
}

/// An existing job as `check_funds` weighs it (what it prints and costs).
fn as_new<'a>(job: &'a JobRow, owner_id: &'a str) -> NewJob<'a> {
    NewJob {
        owner_id,
        queue_id: &job.queue_id,
        name: &job.name,
        state: job.state(),
        pages: job.pages,
        copies: job.copies,
        colour: job.colour != 0,
        duplex: job.duplex != 0,
        media: &job.media,
        price_cents: job.price_cents,
        spool_file: None,
        holder: None,
        printer_id: None,
        account_kind: None,
        account_id: None,
        project_id: None,
        reason: None,
    }
}

/// Refuses a job its account cannot pay for, before anything is printed.
async fn check_funds(state: &AppState, user: &UserRow, kind: PaymentKind, job: &NewJob<'_>) -> AppResult<()> {
    match kind {
        PaymentKind::Credit if user.credit_cents < job.price_cents => Err(AppError::new(
            ErrorCode::CreditInsufficient,
            format!("the job costs {} cents and the credit is {} cents", job.price_cents, user.credit_cents),
        )),
        PaymentKind::Credit | PaymentKind::CostCentre => Ok(()),
        PaymentKind::Quota => {
            let now = state.now_ms();
            let printed = job.pages * job.copies * size_factor(job.media);
            let quotas = state.store.quotas_of(&user.id).await?;
            let mut applies = false;
            for q in quotas.iter().map(|q| q.view(now)) {
                let amount = quota_amount(q.metric, printed, job.colour, job.price_cents);
                if amount > 0 {
                    applies = true;
                    if amount > q.remaining {
                        return Err(AppError::new(
                            ErrorCode::QuotaExceeded,
                            format!(
                                "the job needs {amount} of quota {:?}, which has {} left",
                                q.name, q.remaining
                            ),
                        ));
                    }
                }
            }
            if !applies {
                return Err(AppError::new(ErrorCode::QuotaExceeded, "no quota of yours covers this job"));
            }
            Ok(())
        }
    }
}

/// What the user must (or need not) decide about a job in `queue`.
struct Choices {
    payment_options: Vec<(PaymentOption, Option<String>)>,
    projects: Vec<AccountRef>,
    project_accounting: bool,
    confirm: bool,
}

impl Choices {
    fn choose_payment(&self) -> bool {
        self.payment_options.len() > 1
    }
    fn choose_project(&self) -> bool {
        self.project_accounting && self.projects.len() > 1
    }
    fn ask(&self) -> bool {
        self.choose_payment() || self.choose_project() || self.confirm
    }
}

/// The accounts that may pay for a job in this queue: the queue's kind, and beside cost
/// centres the user's own credit (for private prints). Each with the cost centre's id.
async fn choices(state: &AppState, user: &UserRow, queue: &QueueRow) -> AppResult<Choices> {
    let currency = &state.config.currency;
    let credit = || PaymentOption {
        kind: PaymentKind::Credit,
        name: None,
        detail: format!("{}.{:02} {currency}", user.credit_cents / 100, (user.credit_cents % 100).abs()),
        credit_cents: Some(user.credit_cents),
        quotas: Vec::new(),
    };
    let payment_options = match queue.queue.accounting {
        AccountingMode::Credit => vec![(credit(), None)],
        AccountingMode::Quota => {
            let now = state.now_ms();
            let quotas: Vec<_> = state.store.quotas_of(&user.id).await?.iter().map(|q| q.view(now)).collect();
            let left: Vec<String> =
                quotas.iter().map(|q| format!("{}: {} left", q.name, q.remaining)).collect();
            let option = PaymentOption {
                kind: PaymentKind::Quota,
                name: None,
                detail: left.join(", "),
                credit_cents: None,
                quotas,
            };
            vec![(option, None)]
        }
        AccountingMode::CostCentre => {
            let mut options: Vec<(PaymentOption, Option<String>)> = state
                .store
                .shared_accounts_of(&user.id, SharedAccountKind::CostCentre)
                .await?
                .into_iter()
                .map(|c| {
                    (
                        PaymentOption {
                            kind: PaymentKind::CostCentre,
                            name: Some(c.name),
                            detail: c.description,
                            credit_cents: None,
                            quotas: Vec::new(),
                        },
                        Some(c.id),
                    )
                })
                .collect();
            // The cost centres this user charged most recently come first.
            let recent = state.store.recent_accounts(&user.id).await?;
            let rank = |id: &Option<String>| {
                id.as_ref().and_then(|id| recent.iter().position(|r| r == id)).unwrap_or(usize::MAX)
            };
            options.sort_by_key(|(_, id)| rank(id));
            options.push((credit(), None));
            options
        }
    };
    let projects = if queue.queue.project_accounting {
        state.store.shared_accounts_of(&user.id, SharedAccountKind::Project).await?
    } else {
        Vec::new()
    };
    if queue.queue.project_accounting && projects.is_empty() {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "this queue needs a project and none is open to you",
        ));
    }
    Ok(Choices {
        payment_options,
        projects,
        project_accounting: queue.queue.project_accounting,
        confirm: queue.queue.confirm_cost,
    })
}

/// Runs the queue's script off the async threads. A failing script is logged and
/// rejects the job with a reason that reveals nothing of the script.
async fn run_script(
    script: &str,
    facts: script::JobFacts,
    answers: BTreeMap<String, String>,
) -> Result<script::Outcome, String> {
    let script = script.to_string();
    let job = facts.name.clone();
    match tokio::task::spawn_blocking(move || script::run(&script, &facts, &answers)).await {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(e)) => {
            tracing::warn!(job = %job, error = %e, "queue script failed");
            Err("the queue's script failed; the administrator can see why in the server's log".into())
        }
        Err(e) => {
            tracing::error!(job = %job, error = %e, "queue script panicked");
            Err("the queue's script failed".into())
        }
    }
}

fn answers_of(job: &JobRow) -> BTreeMap<String, String> {
    job.script_answers.as_deref().and_then(|a| serde_json::from_str(a).ok()).unwrap_or_default()
}

async fn facts_of(
    state: &AppState,
    user: &UserRow,
    job: &JobRow,
    queue: &QueueRow,
) -> AppResult<script::JobFacts> {
    let printer =
        state.store.queue_printers(&queue.id).await?.into_iter().next().map(|p| p.name).unwrap_or_default();
    Ok(script::JobFacts {
        owner: user.username.clone(),
        name: job.name.clone(),
        pages: job.pages,
        copies: job.copies,
        colour: job.colour != 0,
        duplex: job.duplex != 0,
        printer,
        queue: queue.queue.name.clone(),
        price_cents: job.price_cents,
    })
}

/// Applies what a complete script run decided to a waiting job: mono, duplex (and the
/// price that follows), its project.
async fn apply_script(state: &AppState, job: &JobRow, outcome: &script::Outcome) -> AppResult<()> {
    let colour = job.colour != 0 && !outcome.force_mono;
    let duplex = job.duplex != 0 || outcome.force_duplex;
    if (colour, duplex) != (job.colour != 0, job.duplex != 0) {
        let printer = state.store.queue_printers(&job.queue_id).await?.into_iter().next();
        let price = printer
            .map_or(job.price_cents, |p| price(&p.price, job.pages, job.copies, colour, duplex, &job.media));
        state.store.set_job_printing(&job.id, colour, duplex, price).await?;
    }
    if let Some(project) = &outcome.project {
        let id = state.store.shared_account_id(SharedAccountKind::Project, project).await?;
        state.store.set_job_project(&job.id, Some(&id)).await?;
    }
    Ok(())
}

async fn reject(state: &AppState, job: &JobRow, reason: &str) -> AppResult<Job> {
    state
        .store
        .move_job(&job.id, &[JobState::WaitingForUser], JobState::Rejected, Some(reason), None)
        .await?;
    drop_spool(state, job).await;
    Ok(state.store.job(&job.id).await?.view())
}

/// Streams an uploaded document into the spool, encrypted, counting its pages on the way.
async fn spool_document<S, E>(state: &AppState, body: S) -> AppResult<(i64, PathBuf)>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let dir = spool_dir(state);
    tokio::fs::create_dir_all(&dir).await.map_err(anyhow::Error::from)?;
    // Documents are nobody's business but the server's.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let private = std::fs::Permissions::from_mode(0o700);
        tokio::fs::set_permissions(&dir, private).await.map_err(anyhow::Error::from)?;
    }
    let path = dir.join(format!("{}.spool", uuid::Uuid::new_v4()));
    let body = tokio_util::io::StreamReader::new(body.map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::ConnectionAborted, format!("upload broke off: {e}"))
    }));
    let limit = state.config.max_job_bytes;
    match spool::write_counted(&state.spool_key, body, &path, &dir, limit).await {
        Ok((_, pages)) => Ok((pages, path)),
        Err(CountError::Document(reason)) => Err(AppError::new(ErrorCode::DocumentInvalid, reason)),
        Err(CountError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionAborted => {
            Err(AppError::invalid(e.to_string()))
        }
        Err(CountError::Io(e)) => Err(anyhow::Error::from(e).into()),
    }
}

/// Accepts a document from its owner's client: spools it, counts and prices it, and
/// either settles it at once (nothing to ask: charged to the one possible account, then
/// printed or held) or leaves it waiting for the user's answers to its job dialog.
pub async fn submit<S, E>(state: &AppState, user: &UserRow, sub: JobSubmission, body: S) -> AppResult<Job>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    if sub.name.len() > 500 || !(1..=999).contains(&sub.copies) {
        return Err(AppError::invalid("a job has a name of at most 500 characters and 1 to 999 copies"));
    }
    let queue = queue_for(state, sub.queue.as_deref()).await?;
    let printers = state.store.queue_printers(&queue.id).await?;
    let printer = printers
        .first()
        .ok_or_else(|| AppError::invalid(format!("queue {} has no printer", queue.queue.name)))?;
    let choices = choices(state, user, &queue).await?;

    let (pages, path) = match queue.queue.spooling {
        SpoolingMode::Server => {
            let (pages, path) = spool_document(state, body).await?;
            (pages, Some(path))
        }
        // The document stays on the workstation: only its description comes here.
        SpoolingMode::Client => {
            let pages = sub.pages.filter(|p| (1..=100_000).contains(p)).ok_or_else(|| {
                AppError::invalid("a client-spooled queue needs the document's page count (1 to 100000)")
            })?;
            if sub.holder.as_deref().is_none_or(|h| h.is_empty() || h.len() > 100) {
                return Err(AppError::invalid(
                    "a client-spooled job needs the id of the client that keeps it",
                ));
            }
            (pages, None)
        }
    };
    let colour = sub.color_mode.as_deref() != Some("monochrome");
    let duplex = sub.sides.as_deref().is_some_and(|s| s.starts_with("two-sided"));
    let media = sub.media.clone().unwrap_or_else(|| "iso_a4_210x297mm".into());
    let direct = queue.queue.release == ReleaseMode::Direct;
    let spool = path.as_ref().map(|p| p.to_string_lossy().to_string());
    // A queue with a script: the job waits until the script has had its say.
    let ask = choices.ask() || queue.queue.script.is_some();
    // What needs no asking is settled now.
    let (payment, account_id) = match &choices.payment_options[..] {
        [(only, id)] => (Some(only.kind), id.as_deref()),
        _ => (None, None),
    };
    let project_id = match &choices.projects[..] {
        [only] if choices.project_accounting => Some(only.id.as_str()),
        _ => None,
    };
    let state_now = match (ask, direct) {
        (true, _) => JobState::WaitingForUser,
        (false, true) => JobState::Printing,
        (false, false) => JobState::Held,
    };
    let new = NewJob {
        owner_id: &user.id,
        queue_id: &queue.id,
        name: if sub.name.is_empty() { "Untitled" } else { &sub.name },
        state: state_now,
        pages,
        copies: sub.copies,
        colour,
        duplex,
        media: &media,
        price_cents: price(&printer.price, pages, sub.copies, colour, duplex, &media),
        spool_file: spool.as_deref(),
        holder: if path.is_none() { sub.holder.as_deref() } else { None },
        printer_id: if state_now == JobState::Printing { Some(&printer.id) } else { None },
        account_kind: payment,
        account_id,
        project_id,
        reason: None,
    };
    if let (false, Some(kind)) = (ask, payment) {
        if let Err(e) = check_funds(state, user, kind, &new).await {
            if let Some(path) = &path {
                let _ = tokio::fs::remove_file(path).await;
            }
            return Err(e);
        }
    }
    let job = state.store.insert_job(&new).await?;
    tracing::info!(job = %job.id, user = %user.username, pages, price = job.price_cents, state = ?state_now, "job accepted");
    if state_now == JobState::Printing {
        tokio::spawn(deliver(state.clone(), job.id.clone()));
    }
    if queue.queue.script.is_some() && !choices.ask() {
        // Nothing of the dialog's own to ask: if the script asks nothing either, the job
        // goes on at once, as answered.
        return settle(state, user, &job, &JobAnswer { accept: true, ..JobAnswer::default() }, true).await;
    }
    if queue.queue.script.is_some() {
        if let Some(done) = run_first_pass(state, user, &job, &queue).await? {
            return Ok(done);
        }
    }
    Ok(job.view())
}

/// The script's first pass over a job that waits anyway: it may reject the job or
/// decide things at once. `Some` when the job is settled (rejected).
async fn run_first_pass(
    state: &AppState,
    user: &UserRow,
    job: &JobRow,
    queue: &QueueRow,
) -> AppResult<Option<Job>> {
    let script = queue.queue.script.as_deref().expect("called with a script");
    match run_script(script, facts_of(state, user, job, queue).await?, BTreeMap::new()).await {
        Err(reason) => Ok(Some(reject(state, job, &reason).await?)),
        Ok(out) => match out.rejected {
            Some(reason) => Ok(Some(reject(state, job, &reason).await?)),
            None => {
                if out.questions.is_empty() {
                    apply_script(state, job, &out).await?;
                }
                Ok(None)
            }
        },
    }
}

async fn queue_of(state: &AppState, job: &JobRow) -> AppResult<QueueRow> {
    state
        .store
        .queues()
        .await?
        .into_iter()
        .find(|q| q.id == job.queue_id)
        .ok_or_else(|| AppError::not_found("queue"))
}

/// The dialog of a job that waits for its owner's answers.
pub async fn dialog(state: &AppState, user: &UserRow, job_id: &str) -> AppResult<JobDialog> {
    let job = state.store.job(job_id).await?;
    owned(&job, user)?;
    if job.state() != JobState::WaitingForUser {
        return Err(AppError::new(ErrorCode::Conflict, "this job waits for no answer"));
    }
    let queue = queue_of(state, &job).await?;
    let choices = choices(state, user, &queue).await?;
    let (questions, notices) = match &queue.queue.script {
        Some(script) => {
            match run_script(script, facts_of(state, user, &job, &queue).await?, answers_of(&job)).await {
                Ok(out) => (out.questions, out.notices),
                Err(_) => (Vec::new(), Vec::new()),
            }
        }
        None => (Vec::new(), Vec::new()),
    };
    Ok(JobDialog {
        job: job.view(),
        choose_payment: choices.choose_payment(),
        choose_project: choices.choose_project() && job.project_id.is_none(),
        payment_options: choices.payment_options.into_iter().map(|(o, _)| o).collect(),
        projects: choices.projects,
        confirm: choices.confirm,
        questions,
        notices,
    })
}

/// Applies the user's answers to a waiting job (and, when asked, to every other job of
/// theirs waiting for the same choices): it is then paid, printed or held, or cancelled.
pub async fn answer(state: &AppState, user: &UserRow, job_id: &str, answer: &JobAnswer) -> AppResult<Job> {
    let job = answer_one(state, user, job_id, answer).await?;
    if answer.apply_to_all_waiting {
        for other in state.store.jobs_of(&user.id, 100).await? {
            if other.id != job_id && other.state() == JobState::WaitingForUser {
                if let Err(e) = answer_one(state, user, &other.id, answer).await {
                    tracing::info!(job = %other.id, error = %e, "the same answer does not fit this job");
                }
            }
        }
    }
    Ok(job)
}

async fn answer_one(state: &AppState, user: &UserRow, job_id: &str, answer: &JobAnswer) -> AppResult<Job> {
    let job = state.store.job(job_id).await?;
    owned(&job, user)?;
    settle(state, user, &job, answer, false).await
}

/// Runs the script with the answers so far (rejecting, or asking again when it has new
/// questions), then checks the dialog's choices and sends the job on. `automatic`: no
/// person answered (a scripted job with nothing of the dialog's own to ask).
async fn settle(
    state: &AppState,
    user: &UserRow,
    job: &JobRow,
    answer: &JobAnswer,
    automatic: bool,
) -> AppResult<Job> {
    let job_id = job.id.as_str();
    if job.state() != JobState::WaitingForUser {
        return Err(AppError::new(ErrorCode::Conflict, "this job waits for no answer"));
    }
    if !answer.accept {
        let cancelled = Some("cancelled by its owner");
        state.store.move_job(job_id, &[JobState::WaitingForUser], JobState::Deleted, cancelled, None).await?;
        drop_spool(state, job).await;
        return Ok(state.store.job(job_id).await?.view());
    }
    let queue = queue_of(state, job).await?;
    let mut script_project = false;
    if let Some(script) = &queue.queue.script {
        let mut answers = answers_of(job);
        answers.extend(answer.answers.clone());
        let json = serde_json::to_string(&answers).map_err(anyhow::Error::from)?;
        state.store.set_job_answers(job_id, &json).await?;
        match run_script(script, facts_of(state, user, job, &queue).await?, answers).await {
            Err(reason) => return reject(state, job, &reason).await,
            Ok(out) => {
                if let Some(reason) = &out.rejected {
                    return reject(state, job, reason).await;
                }
                // More to ask: the job keeps waiting for the next answers.
                if !out.questions.is_empty() {
                    return Ok(state.store.job(job_id).await?.view());
                }
                apply_script(state, job, &out).await?;
                script_project = out.project.is_some();
            }
        }
    }
    let job = state.store.job(job_id).await?;
    let choices = choices(state, user, &queue).await?;
    if automatic && choices.ask() {
        return Ok(job.view());
    }
    let (option, account_id) = match (&choices.payment_options[..], &answer.payment) {
        ([only], _) => only.clone(),
        (options, Some(choice)) => options
            .iter()
            .find(|(o, _)| {
                o.kind == choice.kind && (o.kind != PaymentKind::CostCentre || o.name == choice.name)
            })
            .cloned()
            .ok_or_else(|| AppError::invalid("that account may not pay for this job"))?,
        (_, None) => return Err(AppError::invalid("choose the account that pays for this job")),
    };
    let project_id = if script_project {
        job.project_id.clone()
    } else if choices.project_accounting {
        match (&choices.projects[..], &answer.project) {
            ([only], _) => Some(only.id.clone()),
            (projects, Some(name)) => Some(
                projects
                    .iter()
                    .find(|p| &p.name == name)
                    .map(|p| p.id.clone())
                    .ok_or_else(|| AppError::invalid(format!("project {name} is not open to you")))?,
            ),
            (_, None) => return Err(AppError::invalid("choose the project of this job")),
        }
    } else {
        None
    };
    check_funds(state, user, option.kind, &as_new(&job, &user.id)).await?;
    state.store.set_job_choice(job_id, option.kind, account_id.as_deref(), project_id.as_deref()).await?;
    if queue.queue.release == ReleaseMode::Direct {
        let printers = state.store.queue_printers(&queue.id).await?;
        let printer = printers.first().ok_or_else(|| AppError::invalid("the job's queue has no printer"))?;
        if state
            .store
            .move_job(job_id, &[JobState::WaitingForUser], JobState::Printing, None, Some(&printer.id))
            .await?
        {
            tokio::spawn(deliver(state.clone(), job_id.to_string()));
        }
    } else {
        state.store.move_job(job_id, &[JobState::WaitingForUser], JobState::Held, None, None).await?;
    }
    Ok(state.store.job(job_id).await?.view())
}

fn owned(job: &JobRow, user: &UserRow) -> AppResult<()> {
    // Someone else's job is as good as absent: its existence is not disclosed.
    if job.owner_id.as_deref() != Some(user.id.as_str()) {
        return Err(AppError::not_found("job"));
    }
    Ok(())
}

/// Releases a held job to its queue's printer (or the one named).
pub async fn release(
    state: &AppState,
    user: &UserRow,
    job_id: &str,
    printer: Option<&str>,
) -> AppResult<Job> {
    let job = state.store.job(job_id).await?;
    owned(&job, user)?;
    let printers = state.store.queue_printers(&job.queue_id).await?;
    let target = match printer {
        Some(name) => printers
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| AppError::not_found(format!("printer {name} of this queue")))?,
        None => printers.first().ok_or_else(|| AppError::invalid("the job's queue has no printer"))?,
    };
    // A pull queue keeps a printed job's document for a while: releasing it again
    // prints it again, and charges it again.
    let reprint = job.state() == JobState::Printed && job.spool_file.is_some();
    if reprint {
        if let Some(kind) = job.payment().map(|p| p.kind) {
            check_funds(state, user, kind, &as_new(&job, &user.id)).await?;
        }
        state.store.clear_printer_job_id(job_id).await?;
    }
    let from: &[JobState] = if reprint { &[JobState::Printed] } else { &[JobState::Held] };
    if !state.store.move_job(job_id, from, JobState::Printing, None, Some(&target.id)).await? {
        return Err(AppError::new(
            ErrorCode::Conflict,
            "only a held job (or a pull job printed recently) can be released",
        ));
    }
    tokio::spawn(deliver(state.clone(), job_id.to_string()));
    Ok(state.store.job(job_id).await?.view())
}

/// Deletes the documents of pull jobs printed longer ago than the reprint period.
pub async fn expire_reprints(state: &AppState) -> AppResult<()> {
    let cutoff = state.now_ms() - state.config.reprint_hours * 3_600_000;
    for job in state.store.jobs_in_state(JobState::Printed).await? {
        if job.spool_file.is_some() && job.updated_at_ms < cutoff {
            drop_spool(state, &job).await;
        }
    }
    Ok(())
}

/// Deletes a job that has not printed; its document goes with it.
pub async fn delete(state: &AppState, user: &UserRow, job_id: &str) -> AppResult<Job> {
    let job = state.store.job(job_id).await?;
    owned(&job, user)?;
    if job.state() == JobState::Printed && job.spool_file.is_some() {
        // A printed pull job: its kept document goes, the record of its printing stays.
        drop_spool(state, &job).await;
        return Ok(state.store.job(job_id).await?.view());
    }
    let from = [JobState::Held, JobState::WaitingForUser];
    if !state.store.move_job(job_id, &from, JobState::Deleted, Some("deleted by its owner"), None).await? {
        return Err(AppError::new(ErrorCode::Conflict, "only a job that has not printed can be deleted"));
    }
    drop_spool(state, &job).await;
    Ok(state.store.job(job_id).await?.view())
}

async fn drop_spool(state: &AppState, job: &JobRow) {
    if let Some(f) = &job.spool_file {
        let _ = tokio::fs::remove_file(f).await;
        let _ = state.store.set_job_spool(&job.id, None).await;
    }
}

/// Sends a job in state `printing` to its printer, follows it, and charges its owner
/// for what was printed. Runs in its own task; failures end in the job's state.
pub async fn deliver(state: AppState, job_id: String) {
    if let Err(e) = try_deliver(&state, &job_id).await {
        tracing::warn!(job = %job_id, error = %format!("{e:#}"), "delivery failed");
        let reason = format!("{e:#}");
        let _ =
            state.store.move_job(&job_id, &[JobState::Printing], JobState::Failed, Some(&reason), None).await;
    }
}

async fn try_deliver(state: &AppState, job_id: &str) -> anyhow::Result<()> {
    let job = state.store.job(job_id).await?;
    if job.holder.is_some() {
        // The client that keeps the document sends it, when its push channel tells it to
        // (at once if it is connected, else when it is back).
        return Ok(());
    }
    let printer_id = job.printer_id.clone().ok_or_else(|| anyhow::anyhow!("no printer chosen"))?;
    let printer = state.store.printer(&printer_id).await?;
    let spool = job.spool_file.clone().ok_or_else(|| anyhow::anyhow!("the job's document is gone"))?;
    let owner = match &job.owner_id {
        Some(id) => state.store.user_by_id(id).await?.username,
        None => "ream".into(),
    };
    let http = ipp_printer::http_client(printer.fingerprint.as_deref());
    // A printer without a duplex unit (or colour) prints what it can, and the job is
    // charged for what it really was.
    let caps = ipp_printer::capabilities(&http, &printer.uri).await?;
    let (duplex, colour) = (job.duplex != 0 && caps.duplex, job.colour != 0 && caps.colour);
    let job = if (duplex, colour) != (job.duplex != 0, job.colour != 0) {
        let price = price(&printer.price, job.pages, job.copies, colour, duplex, &job.media);
        state.store.set_job_printing(job_id, colour, duplex, price).await?;
        state.store.job(job_id).await?
    } else {
        job
    };
    let document = Document::Spooled { path: PathBuf::from(&spool), key: state.spool_key.clone() };
    let request = ipp_printer::PrintRequest {
        document: &document,
        job_name: &job.name,
        user: &owner,
        copies: job.copies,
        duplex,
        colour,
    };
    // A job the printer already has (the server stopped while following it) is followed,
    // not sent again; so is one sent just before the server stopped, before it could
    // note the printer's job id: it is among the printer's jobs newer than the floor.
    let sent_before = match (job.printer_job_id, job.printer_job_floor) {
        (Some(id), _) => Some(id as i32),
        (None, Some(floor)) => ipp_printer::jobs_of(&http, &printer.uri, &owner)
            .await?
            .into_iter()
            .find(|(id, name)| i64::from(*id) > floor && *name == job.name)
            .map(|(id, _)| id),
        (None, None) => None,
    };
    let printer_job = match sent_before {
        Some(id) => {
            state.store.set_printer_job_id(job_id, i64::from(id)).await?;
            id
        }
        None => {
            // A printer that cannot list its jobs gets no floor: after a stop in the
            // window the job is sent again rather than lost.
            if let Ok(jobs) = ipp_printer::jobs_of(&http, &printer.uri, &owner).await {
                let floor = jobs.iter().map(|(id, _)| i64::from(*id)).max().unwrap_or(0);
                state.store.set_printer_job_floor(job_id, floor).await?;
            }
            let id =
                ipp_printer::print_job_patiently(&http, &printer.uri, &request, PRINTER_PATIENCE).await?;
            state.store.set_printer_job_id(job_id, id as i64).await?;
            id
        }
    };
    match ipp_printer::follow(&http, &printer.uri, printer_job, PRINTER_PATIENCE).await? {
        Outcome::Completed => {
            charge(state, &job).await?;
            state.store.move_job(job_id, &[JobState::Printing], JobState::Printed, None, None).await?;
            // Pull jobs keep their document for reprints; direct and private ones do not.
            if queue_of(state, &job).await?.queue.release != ReleaseMode::Pull {
                drop_spool(state, &job).await;
            }
            tracing::info!(job = %job_id, printer = %printer.name, "printed");
        }
        Outcome::Failed(reason) => {
            state
                .store
                .move_job(job_id, &[JobState::Printing], JobState::Failed, Some(&reason), None)
                .await?;
        }
    }
    Ok(())
}

/// How a client-spooled job went, reported by its owner's client that sent it to the
/// printer: printed (and charged, once however often it is reported) or failed.
pub async fn report_outcome(
    state: &AppState,
    user: &UserRow,
    job_id: &str,
    report: &DeliveryReport,
) -> AppResult<Job> {
    let job = state.store.job(job_id).await?;
    owned(&job, user)?;
    if job.holder.is_none() {
        return Err(AppError::new(ErrorCode::Conflict, "the server prints this job itself"));
    }
    let printing = [JobState::Printing];
    if report.printed {
        if !state.store.move_job(job_id, &printing, JobState::Printed, None, None).await? {
            return Err(AppError::new(ErrorCode::Conflict, "this job is not printing"));
        }
        charge(state, &job).await?;
        tracing::info!(job = %job_id, "printed by the client that keeps it");
    } else {
        let reason = report.reason.as_deref().unwrap_or("the printer did not print it");
        if !state.store.move_job(job_id, &printing, JobState::Failed, Some(reason), None).await? {
            return Err(AppError::new(ErrorCode::Conflict, "this job is not printing"));
        }
    }
    Ok(state.store.job(job_id).await?.view())
}

/// Charges what was printed to the account chosen for the job.
async fn charge(state: &AppState, job: &JobRow) -> AppResult<()> {
    let Some(owner) = &job.owner_id else { return Ok(()) };
    match job.payment().map(|p| p.kind) {
        Some(PaymentKind::Credit) => {
            let comment = format!("print job {} ({} pages)", job.name, job.pages * job.copies);
            // Printed is printed: the charge stands even if the balance went down meanwhile.
            state
                .store
                .change_credit(owner, TransactionKind::Charge, -job.price_cents, &comment, "system", true)
                .await?;
        }
        Some(PaymentKind::Quota) => {
            let now = state.now_ms();
            let printed = job.pages * job.copies * size_factor(&job.media);
            for q in state.store.quotas_of(owner).await? {
                let view = q.view(now);
                let amount = quota_amount(view.metric, printed, job.colour != 0, job.price_cents);
                if amount > 0 {
                    let start = period_bounds(view.period, now).map(|b| b.0);
                    state.store.add_quota_use(&q.id, amount, start).await?;
                }
            }
        }
        // The job records the cost centre and the price: that is the charge.
        Some(PaymentKind::CostCentre) | None => {}
    }
    Ok(())
}

/// At start: takes up the jobs that were on their way to a printer when the server
/// stopped. One the printer had already received is followed there, not sent twice.
pub async fn resume(state: AppState) {
    match state.store.jobs_in_state(JobState::Printing).await {
        Ok(jobs) => {
            for job in jobs {
                tracing::info!(job = %job.id, "resuming delivery");
                tokio::spawn(deliver(state.clone(), job.id));
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot list the jobs to resume"),
    }
}

/// The owner's jobs, newest first.
pub async fn jobs_of(state: &AppState, user: &UserRow) -> AppResult<Vec<Job>> {
    Ok(state.store.jobs_of(&user.id, 100).await?.iter().map(|j| j.view()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_follow_the_price_list() {
        let list = PriceList {
            name: "std".into(),
            mono_page_cents: 5,
            colour_page_cents: 20,
            duplex_page_discount_cents: 1,
        };
        let a4 = "iso_a4_210x297mm";
        assert_eq!(price(&list, 3, 1, false, false, a4), 15);
        assert_eq!(price(&list, 3, 2, true, false, a4), 120);
        assert_eq!(price(&list, 3, 1, false, true, a4), 12);
        assert_eq!(price(&list, 3, 1, false, false, "iso_a3_297x420mm"), 30, "A3 counts twice");
    }
}
