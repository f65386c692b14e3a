//! `ream`: the headless Ream client. The same engine as the desktop app, with the
//! terminal for prompts and output (`--json` for scripts).

mod output;
mod prompt;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use ream_client::secrets::Keyring;
use ream_client::{ClientError, Engine, LoginInput, Settings, Started};
use ream_wire::{ClientEvent, FallbackAnswer, JobAnswer, LoginMethod, PaymentChoice, PaymentKind};

#[derive(Debug, Parser)]
#[command(name = "ream", version, about = "Ream print-management client (headless)")]
struct Args {
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Set the server. An unknown certificate is shown by its fingerprint to confirm.
    Connect {
        #[arg(long)]
        server: String,
        /// Trust the CA certificates in this PEM file instead of the system's.
        #[arg(long)]
        ca_file: Option<std::path::PathBuf>,
        /// Accept the certificate shown without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Enrol this workstation with a one-time code from an administrator, asked for (or
    /// read from standard input): never on the command line, where other users see it.
    Enroll {
        #[arg(long)]
        server: Option<String>,
        /// The workstation's name (its host name by default).
        #[arg(long)]
        name: Option<String>,
    },
    /// The server's login methods and remember-me durations.
    Policy,
    /// The user directory (enrolled workstations only).
    Users {
        #[arg(default_value = "")]
        search: String,
    },
    /// Log in. Secrets are asked for on the terminal (or read from standard input).
    Login {
        #[command(flatten)]
        how: LoginArgs,
    },
    Logout,
    /// Who is logged in, the server and its connection, and the account in short.
    Status,
    /// The whole account: credit, quotas, cost centres, projects, recent transactions.
    Account,
    /// Follow live changes (push) until interrupted; logs in first if needed.
    Watch {
        #[command(flatten)]
        how: LoginArgs,
    },
    /// Generate a new PIN (shown once).
    Pin,
    /// Run the client: the local IPP printer that CUPS prints to, live account changes,
    /// and login prompts when a job needs one. Until interrupted.
    Run {
        /// The local IPP printer's port (the settings' `ipp_port` by default).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Your print jobs: list them, release a held one, delete one.
    Jobs {
        #[command(subcommand)]
        action: Option<JobsCmd>,
    },
    /// The CUPS queue `Ream` that prints to this client.
    Cups {
        #[command(subcommand)]
        action: CupsCmd,
    },
}

/// How to log in, where a command may have to.
#[derive(Debug, clap::Args)]
struct LoginArgs {
    /// user_list, pin, card, card_pin, password or sso; asked when absent.
    #[arg(long, value_parser = method)]
    method: Option<LoginMethod>,
    /// Stay logged in for one of the server's remember-me durations (e.g. 8h, always).
    #[arg(long)]
    remember: Option<String>,
    /// For password and user-list logins.
    #[arg(long)]
    username: Option<String>,
}

#[derive(Debug, Subcommand)]
enum JobsCmd {
    Release {
        id: String,
        #[arg(long)]
        printer: Option<String>,
    },
    Delete {
        id: String,
    },
    /// While the server cannot be reached: the jobs the running client offers to print
    /// on a fallback printer (no ID), or an answer for one.
    Fallback {
        /// The job's id, as the offer names it.
        id: Option<String>,
        /// Print it on this printer: one the offer names, or (where it allows) a host or
        /// an ipp:// address.
        #[arg(long, requires = "id", conflicts_with_all = ["try_again", "cancel"])]
        printer: Option<String>,
        /// Try the server again now.
        #[arg(long, requires = "id", conflicts_with = "cancel")]
        try_again: bool,
        /// Drop the job.
        #[arg(long, requires = "id")]
        cancel: bool,
    },
    /// What a waiting job asks: the accounts that may pay, projects, confirmation.
    Dialog {
        id: String,
    },
    /// Answer a waiting job: accept it (paying as told) or cancel it.
    Answer {
        id: String,
        /// credit, quota, or cost_centre:NAME.
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        project: Option<String>,
        /// Cancel the job instead.
        #[arg(long)]
        cancel: bool,
        /// Answer every other waiting job of mine the same way.
        #[arg(long)]
        all: bool,
        /// An answer to a script question, `ID=VALUE` (repeat for several).
        #[arg(long = "answer", value_parser = question_answer)]
        answers: Vec<(String, String)>,
    },
}

#[derive(Debug, Subcommand)]
enum CupsCmd {
    /// Create (or update) driverless CUPS queues printing to this client: one per server
    /// queue (PREFIX-QUEUE, whose jobs go to that queue) and PREFIX for the server's
    /// default queue, when it has one.
    Install {
        /// The local printer's port (the settings' `ipp_port` by default).
        #[arg(long)]
        port: Option<u16>,
        /// The beginning of the queues' names.
        #[arg(long, default_value = "Ream")]
        prefix: String,
        /// Only one queue, of this name, for the server's default queue.
        #[arg(long, conflicts_with = "prefix")]
        name: Option<String>,
        /// For everyone on this computer (root; a terminal server, a lab): each job goes
        /// to its sender's own Ream client and account, and waits for that client while
        /// its sender has none running. Each user's client then listens on a port of its
        /// own (`ipp_port = 0` in /etc/ream/client.toml).
        #[arg(long, conflicts_with = "port")]
        shared: bool,
    },
    /// Remove every CUPS queue that prints to this client.
    Uninstall {
        #[arg(long)]
        port: Option<u16>,
        /// Remove the queues shared by everyone on this computer instead (root).
        #[arg(long, conflicts_with = "port")]
        shared: bool,
    },
    /// Local print monitoring (root): wrap the computer's own CUPS queues in Ream's
    /// backend as the server's policy says, so that their jobs print only once Ream has
    /// counted and charged them. Run again after the policy or the printers change.
    Monitor {
        /// Put every monitored queue's device back and remove Ream's backend.
        #[arg(long)]
        undo: bool,
        /// This client's local printer's port, whose queues are never monitored.
        #[arg(long)]
        port: Option<u16>,
    },
    /// Ream's CUPS backend, as `cupsd` runs it for a monitored queue's job.
    #[command(hide = true)]
    Backend {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn method(s: &str) -> Result<LoginMethod, String> {
    LoginMethod::parse(&s.replace('-', "_"))
        .ok_or_else(|| "one of user_list, pin, card, card_pin, password, sso".to_string())
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REAM_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error [{}]: {e}", e.code());
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), ClientError> {
    if let Cmd::Cups { action: CupsCmd::Backend { args } } = &args.command {
        // Run by cupsd as root, with no user's settings: the queue's own setup says all.
        std::process::exit(ream_client::monitor::backend::run(args).await);
    }
    let engine = Engine::new(Settings::load()?, Arc::new(Keyring), true);
    let out = output::Output { json: args.json };
    match args.command {
        Cmd::Connect { server, ca_file, yes } => {
            let connected = engine
                .connect(&server, ca_file, async |fingerprint| {
                    yes || prompt::confirm_certificate(&server, &fingerprint)
                })
                .await?;
            out.connected(&engine.status(), &connected);
        }
        Cmd::Enroll { server, name } => {
            if let Some(server) = server {
                engine.connect(&server, None, async |fp| prompt::confirm_certificate(&server, &fp)).await?;
            }
            let code = prompt::secret("Enrolment code: ")?;
            let name = name.unwrap_or_else(hostname);
            let id = engine.enrol(&code, &name).await?;
            out.enrolled(&id, &name);
        }
        Cmd::Policy => out.policy(&engine.policy().await?, &engine.remember_options().await?),
        Cmd::Users { search } => out.directory(&engine.directory(&search).await?),
        Cmd::Login { how } => {
            login(&engine, how.method, how.remember.as_deref(), how.username).await?;
            if engine.shares_login() && !out.json {
                eprintln!("The running Ream client (ream run or the desktop app) now uses this login.");
            } else if engine.status().remember.is_none() && !out.json {
                eprintln!("This login is not remembered: it ends when this command does. Use --remember to keep it.");
            }
            out.status(&engine.status());
        }
        Cmd::Logout => {
            engine.logout().await?;
            out.message("Logged out.");
        }
        Cmd::Status | Cmd::Account => {
            let detailed = matches!(args.command, Cmd::Account);
            let started = engine.start().await?;
            let mut transactions = None;
            if engine.status().user.is_some() {
                match engine.refresh_account().await {
                    Ok(_) if detailed => transactions = Some(engine.transactions(10).await?),
                    Ok(_) => {}
                    Err(ClientError::Unreachable(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            if started == Started::Expired && !out.json {
                eprintln!("The remembered login has ended.");
            }
            out.account(&engine.status(), transactions.as_ref(), detailed);
        }
        Cmd::Watch { how } => {
            let started = engine.start().await?;
            if engine.status().user.is_none() {
                if started == Started::Expired && !out.json {
                    eprintln!("The remembered login has ended.");
                }
                login(&engine, how.method, how.remember.as_deref(), how.username).await?;
            }
            watch(&engine, engine.subscribe(), &out, true, false).await?;
        }
        Cmd::Pin => {
            engine.start().await?;
            let pin = engine.new_pin().await?;
            out.pin(&pin);
        }
        Cmd::Run { port } => {
            // One client per user, as the desktop app: two would fight over the spool
            // and spend the same remembered refresh token.
            let _claim =
                match ream_client::instance::claim() {
                    Ok(Some(claim)) => Some(claim),
                    Ok(None) => return Err(ClientError::Config(
                        "another Ream client (ream run or the desktop app) is already running for this user"
                            .into(),
                    )),
                    Err(e) => {
                        eprintln!("warning: cannot make sure this is the only Ream client: {e}");
                        None
                    }
                };
            let port = port.unwrap_or(engine.settings().ipp_port);
            let mut services = ream_client::services::serve(&engine, port).await?;
            if !out.json {
                eprintln!(
                    "Printing to ipp://127.0.0.1:{}{} (ream cups install makes a CUPS queue for it)",
                    services.port,
                    ream_client::ipp_endpoint::PATH
                );
            }
            let events = engine.subscribe();
            let started = engine.start().await;
            if let Err(e) = &started {
                eprintln!("error [{}]: {e}", e.code());
            }
            services.after_start(&engine);
            ream_client::services::resume(&engine);
            watch(&engine, events, &out, false, true).await?;
            drop(services);
        }
        // Offers live in the running client, which answers offline too.
        Cmd::Jobs { action: Some(JobsCmd::Fallback { id, printer, try_again, cancel }) } => match id {
            None => out.offers(&engine.fallback_offers().await?),
            Some(id) => {
                let answer = match (printer, try_again, cancel) {
                    (Some(printer), _, _) => FallbackAnswer::Print { printer },
                    (None, true, _) => FallbackAnswer::TryAgain,
                    (None, false, true) => FallbackAnswer::Cancel,
                    (None, false, false) => {
                        return Err(ClientError::Config(
                            "answer with --printer, --try-again or --cancel".into(),
                        ))
                    }
                };
                engine.answer_fallback(&id, answer).await?;
                out.done("Answered.");
            }
        },
        Cmd::Jobs { action } => {
            engine.start().await?;
            match action {
                None => out.jobs(&engine.jobs().await?),
                Some(JobsCmd::Release { id, printer }) => {
                    out.job(&engine.release_job(&id, printer.as_deref()).await?)
                }
                Some(JobsCmd::Delete { id }) => out.job(&engine.delete_job(&id).await?),
                Some(JobsCmd::Dialog { id }) => out.dialog(&engine.job_dialog(&id).await?),
                Some(JobsCmd::Answer { id, account, project, cancel, all, answers }) => {
                    let payment = account.as_deref().map(payment_choice).transpose()?;
                    let answers = answers.into_iter().collect();
                    let answer =
                        JobAnswer { payment, project, accept: !cancel, apply_to_all_waiting: all, answers };
                    out.job(&engine.answer_job(&id, &answer).await?)
                }
                Some(JobsCmd::Fallback { .. }) => unreachable!("answered above"),
            }
        }
        Cmd::Cups { action: CupsCmd::Install { port, prefix, name, shared } } => {
            let wanted = match name {
                Some(name) => vec![(name, None)],
                None => {
                    // PREFIX for the default queue, when the server has one.
                    let queues = engine.queues().await?;
                    let default = queues.iter().any(|q| q.default).then(|| (prefix.clone(), None));
                    let each = queues
                        .into_iter()
                        .map(|q| (ream_client::cups::queue_name(&prefix, Some(&q.name)), Some(q.name)));
                    default.into_iter().chain(each).collect::<Vec<(String, Option<String>)>>()
                }
            };
            let made = if shared {
                let ream =
                    std::env::current_exe().map_err(|e| ClientError::Config(format!("where am I? {e}")))?;
                let shared = ream_client::monitor::setup::share_all(&engine, &ream, wanted).await?;
                shared.into_iter().map(|(cups, queue, uri)| output::CupsQueue { cups, queue, uri }).collect()
            } else {
                let port = port.unwrap_or(engine.settings().ipp_port);
                if port == 0 {
                    return Err(ClientError::Config(
                        "this computer's clients listen on ports of their own (ipp_port = 0): \
                         install the queues for everyone with --shared"
                            .into(),
                    ));
                }
                let mut made = Vec::new();
                for (cups, queue) in wanted {
                    let uri = ream_client::ipp_endpoint::printer_uri(port, queue.as_deref());
                    let description = match &queue {
                        Some(q) => format!("Ream: {q}"),
                        None => "Ream (the default queue)".to_string(),
                    };
                    ream_client::cups::install(&cups, &uri, &description)?;
                    made.push(output::CupsQueue { cups, queue, uri });
                }
                made
            };
            out.cups_installed(&made);
        }
        Cmd::Cups { action: CupsCmd::Uninstall { shared: true, .. } } => {
            out.cups_removed(&ream_client::monitor::setup::unshare(&Default::default())?);
        }
        Cmd::Cups { action: CupsCmd::Uninstall { port, shared: false } } => {
            let port = port.unwrap_or(engine.settings().ipp_port);
            out.cups_removed(&ream_client::cups::uninstall(port)?);
        }
        Cmd::Cups { action: CupsCmd::Monitor { undo: true, .. } } => {
            out.monitored(&ream_client::monitor::setup::undo(&Default::default())?, true);
        }
        Cmd::Cups { action: CupsCmd::Monitor { undo: false, port } } => {
            let port = port.unwrap_or(engine.settings().ipp_port);
            let ream =
                std::env::current_exe().map_err(|e| ClientError::Config(format!("where am I? {e}")))?;
            let queues = engine.set_up_monitoring(&ream, port).await?;
            out.monitored(&queues, false);
        }
        Cmd::Cups { action: CupsCmd::Backend { .. } } => unreachable!("run above"),
    }
    Ok(())
}

async fn login(
    engine: &Engine,
    method: Option<LoginMethod>,
    remember: Option<&str>,
    username: Option<String>,
) -> Result<(), ClientError> {
    let policy = engine.policy().await?;
    if let Some(remember) = remember {
        engine.check_remember(remember).await?;
    }
    let method = match method {
        Some(m) => m,
        None => prompt::choose_method(&policy.methods)?,
    };
    let remember = match remember {
        Some(r) => Some(r.to_string()),
        None => prompt::choose_remember(&engine.remember_options().await?)?,
    };
    let input = match method {
        LoginMethod::Pin => LoginInput::Pin { pin: prompt::secret("PIN: ")? },
        LoginMethod::Card => LoginInput::Card { card: prompt::secret("Card number: ")? },
        LoginMethod::CardPin => {
            LoginInput::CardPin { card: prompt::secret("Card number: ")?, pin: prompt::secret("PIN: ")? }
        }
        LoginMethod::Password => {
            let username = match username {
                Some(u) => u,
                None => prompt::line("Username: ")?,
            };
            LoginInput::Password { username, password: prompt::secret("Password: ")? }
        }
        LoginMethod::UserList => {
            let username = match username {
                Some(u) => u,
                None => prompt::pick_user(&engine.directory("").await?)?,
            };
            LoginInput::UserList { username }
        }
        LoginMethod::Sso => LoginInput::Sso,
    };
    engine.login(input, remember.as_deref()).await?;
    Ok(())
}

/// Prints every change until interrupted (Ctrl-C) or, with `until_logout`, logged out.
/// With `prompt_logins`, a job waiting for a login is answered from the terminal, by the
/// methods its queue asks for.
async fn watch(
    engine: &Engine,
    mut events: tokio::sync::broadcast::Receiver<ClientEvent>,
    out: &output::Output,
    until_logout: bool,
    prompt_logins: bool,
) -> Result<(), ClientError> {
    let runner = engine.clone();
    let run = tokio::spawn(async move { runner.run().await });
    out.event(&ClientEvent::Status { status: Box::new(engine.status()) });
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    out.event(&event);
                    if until_logout && matches!(event, ClientEvent::LoggedOut { .. }) {
                        break;
                    }
                    if let ClientEvent::LoginRequired { methods, job: Some(_), .. } = &event {
                        if prompt_logins && engine.status().user.is_none() {
                            let (engine, methods) = (engine.clone(), methods.clone());
                            tokio::spawn(async move { login_for_job(&engine, methods).await });
                        }
                    }
                    if let ClientEvent::FallbackOffered { offer } = &event {
                        if prompt_logins {
                            let (engine, offer) = (engine.clone(), offer.clone());
                            tokio::spawn(async move {
                                let answer = tokio::task::spawn_blocking(move || {
                                    let answer = prompt::fallback_answer(&offer);
                                    answer.map(|a| (offer.job.clone(), a))
                                });
                                if let Ok(Some((job, answer))) = answer.await {
                                    if let Err(e) = engine.answer_fallback(&job, answer).await {
                                        eprintln!("error [{}]: {e}", e.code());
                                    }
                                }
                            });
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    run.abort();
    Ok(())
}

/// Asks at the terminal for a login by one of `methods` (any, when empty); three tries.
async fn login_for_job(engine: &Engine, methods: Vec<LoginMethod>) {
    let methods = if methods.is_empty() {
        match engine.policy().await {
            Ok(p) => p.methods,
            Err(_) => return,
        }
    } else {
        methods
    };
    for _ in 0..3 {
        let method = match prompt::choose_method(&methods) {
            Ok(m) => m,
            Err(_) => return,
        };
        match login(engine, Some(method), None, None).await {
            Ok(()) => return,
            Err(e) => eprintln!("error [{}]: {e}", e.code()),
        }
    }
}

fn question_answer(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| "an answer is ID=VALUE".into())
}

/// `credit`, `quota` or `cost_centre:NAME`.
fn payment_choice(s: &str) -> Result<PaymentChoice, ClientError> {
    let (kind, name) = s.split_once(':').map_or((s, None), |(k, n)| (k, Some(n.to_string())));
    let kind = match kind.replace('-', "_").as_str() {
        "credit" => PaymentKind::Credit,
        "quota" => PaymentKind::Quota,
        "cost_centre" => PaymentKind::CostCentre,
        other => {
            return Err(ClientError::Config(format!("{other:?} is not credit, quota or cost_centre:NAME")))
        }
    };
    Ok(PaymentChoice { kind, name })
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "workstation".into())
}
