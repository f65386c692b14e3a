//! The job dialog: which accounts may pay for a job in its queue, which projects it may
//! go to, whether its price needs confirming, and the queue script's questions; then
//! the owner's answers, checked and applied, after which the job is held or printed
//! (taking its reservation on the way, see `store::ledger`) or cancelled.

use std::collections::BTreeMap;

use ream_wire::{
    AccountRef, AccountingMode, ErrorCode, Job, JobAnswer, JobDialog, JobState, PaymentKind, PaymentOption,
    ReleaseMode, SharedAccountKind,
};

use super::{deliver, drop_spool, owned, queue_of};
use crate::error::{AppError, AppResult};
use crate::script;
use crate::state::AppState;
use crate::store::{JobRow, QueueRow, UserRow};
use ream_print::pricing::price;

/// What the user must (or need not) decide about a job in `queue`.
pub(super) struct Choices {
    pub payment_options: Vec<(PaymentOption, Option<String>)>,
    pub projects: Vec<AccountRef>,
    pub project_accounting: bool,
    pub confirm: bool,
}

impl Choices {
    fn choose_payment(&self) -> bool {
        self.payment_options.len() > 1
    }
    fn choose_project(&self) -> bool {
        self.project_accounting && self.projects.len() > 1
    }
    pub fn ask(&self) -> bool {
        self.choose_payment() || self.choose_project() || self.confirm
    }
}

/// The accounts that may pay for a job in this queue: the queue's kind, and beside cost
/// centres the user's own credit (for private prints). Each with the cost centre's id.
pub(super) async fn choices(state: &AppState, user: &UserRow, queue: &QueueRow) -> AppResult<Choices> {
    let currency = &state.config.currency;
    // What a new job may spend: the balance less what the user's other jobs hold.
    let available = user.credit_cents - user.reserved_cents;
    let credit = || PaymentOption {
        kind: PaymentKind::Credit,
        name: None,
        detail: format!(
            "{}{}.{:02} {currency}",
            if available < 0 { "-" } else { "" },
            available.abs() / 100,
            available.abs() % 100
        ),
        credit_cents: Some(available),
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
        state.store.set_job_printing(&job.id, colour, duplex, &job.media, price, None).await?;
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

/// decide things at once. `Some` when the job is settled (rejected).
pub(super) async fn run_first_pass(
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
pub(super) async fn settle(
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
        if !answer.answers.is_empty() {
            // Answers are to the questions the job asks now, within their choices.
            let facts = facts_of(state, user, job, &queue).await?;
            if let Ok(asked) = run_script(script, facts, answers_of(job)).await {
                for (id, value) in &answer.answers {
                    let question =
                        asked.questions.iter().find(|q| &q.id == id).ok_or_else(|| {
                            AppError::invalid(format!("this job asks no question {id:?} now"))
                        })?;
                    script::check_answer(question, value).map_err(AppError::invalid)?;
                }
            }
        }
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
    state.store.set_job_choice(job_id, option.kind, account_id.as_deref(), project_id.as_deref()).await?;
    // Moving on takes the job's reservation: an account that cannot cover it is refused
    // here (`CREDIT_INSUFFICIENT`, `QUOTA_EXCEEDED`) and the job keeps waiting.
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
