//! The command line: `serve`, `demo` and `admin …`. Admin commands open the database
//! directly (no running server needed) and call the same `ream_server::admin` functions
//! as the REST API; connected clients still hear of the changes (see `push`).

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ream_server::config::Config;
use ream_server::server::{open_system_state, serve, Started};
use ream_server::state::AppState;
use ream_server::{admin, demo};
use ream_wire::{AccountingMode, DetectionMethod, PriceList, Printer, Queue, ReleaseMode, SpoolingMode};
use ream_wire::{
    CreditChange, Member, MemberKind, NewEnrolmentCode, NewQuota, NewSharedAccount, NewUser, QuotaMetric,
    QuotaPeriod, QuotaUpdate, SharedAccountKind, TransactionKind, UserUpdate,
};
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(name = "ream-server", version, about = "Ream print-management server")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API with the given configuration file.
    Serve {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Serve a demo site (SQLite, demo users) and print its URL and accounts.
    Demo {
        /// Address to listen on (loopback by default).
        #[arg(long, default_value = "127.0.0.1:8631")]
        listen: SocketAddr,
        /// Where the demo database lives; kept between runs.
        #[arg(long, default_value = "ream-demo-data")]
        data_dir: PathBuf,
        /// A printer for the demo queues, `NAME=ipp://host:port/path` (repeat for several).
        #[arg(long = "printer", value_parser = named_uri)]
        printers: Vec<(String, String)>,
    },
    /// Administer users, credit, quotas, groups, cost centres, projects, workstations.
    Admin {
        /// The server's configuration file (for its database); defaults apply without one.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Use the demo site's data directory instead of a configuration file.
        #[arg(long, conflicts_with = "config")]
        data_dir: Option<PathBuf>,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    #[command(subcommand)]
    User(UserCmd),
    #[command(subcommand)]
    Credit(CreditCmd),
    #[command(subcommand)]
    Quota(QuotaCmd),
    #[command(subcommand)]
    Group(GroupCmd),
    #[command(subcommand, name = "cost-centre")]
    CostCentre(SharedCmd),
    #[command(subcommand)]
    Project(SharedCmd),
    #[command(subcommand)]
    Workstation(WorkstationCmd),
    #[command(subcommand, name = "price-list")]
    PriceList(PriceListCmd),
    #[command(subcommand)]
    Printer(PrinterCmd),
    #[command(subcommand)]
    Queue(QueueCmd),
    #[command(subcommand)]
    Job(JobCmd),
}

#[derive(Debug, Subcommand)]
enum JobCmd {
    /// Every user's jobs, newest first, with the impressions charged, reported by the
    /// client that printed them and counted by the printer, and the server's check.
    List {
        /// Only the jobs whose printer disagreed with what was charged or reported.
        #[arg(long)]
        mismatch: bool,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
enum PriceListCmd {
    /// Prices per A4/Letter page, e.g. `--mono 0.05 --colour 0.20`.
    Add {
        name: String,
        #[arg(long)]
        mono: String,
        #[arg(long)]
        colour: String,
        /// Taken off each page printed on both sides.
        #[arg(long, default_value = "0")]
        duplex_discount: String,
    },
    List,
}

#[derive(Debug, Subcommand)]
enum PrinterCmd {
    /// An IPP or IPPS printer, e.g. `--uri ipps://printer.example/ipp/print`. An IPPS
    /// printer is pinned to the certificate it presents now (or to `--fingerprint`).
    Add {
        name: String,
        #[arg(long)]
        uri: String,
        #[arg(long)]
        price_list: String,
        /// The SHA-256 fingerprint of an IPPS printer's certificate (AA:BB:…).
        #[arg(long)]
        fingerprint: Option<String>,
    },
    List,
}

#[derive(Debug, Subcommand)]
enum QueueCmd {
    Add {
        name: String,
        /// A printer of the queue (repeat for several).
        #[arg(long = "printer", required = true)]
        printers: Vec<String>,
        /// session, user_list, pin_card or password
        #[arg(long, default_value = "session", value_parser = wire_enum::<DetectionMethod>)]
        detection: DetectionMethod,
        /// credit, quota or cost_centre
        #[arg(long, default_value = "credit", value_parser = wire_enum::<AccountingMode>)]
        accounting: AccountingMode,
        /// direct, pull or private
        #[arg(long, default_value = "direct", value_parser = wire_enum::<ReleaseMode>)]
        release: ReleaseMode,
        /// server or client
        #[arg(long, default_value = "server", value_parser = wire_enum::<SpoolingMode>)]
        spooling: SpoolingMode,
        #[arg(long)]
        project_accounting: bool,
        /// Ask users to confirm pages and price before a job is accepted.
        #[arg(long)]
        confirm_cost: bool,
        /// A Rhai script file run for each job.
        #[arg(long)]
        script: Option<PathBuf>,
        /// Hours a job may wait (held, or for its dialog) before it expires; the server's
        /// `held_hours` otherwise.
        #[arg(long)]
        held_hours: Option<i64>,
    },
    List,
}

fn named_uri(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(n, u)| (n.to_string(), u.to_string())).ok_or_else(|| "NAME=URI".to_string())
}

fn wire_enum<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    ream_server::store::enum_parse(&s.replace('-', "_"))
        .ok_or_else(|| format!("{s:?} is not one of the documented values"))
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Create a user. The password, if any, is read from standard input.
    Add {
        username: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        pin: Option<String>,
        #[arg(long = "group")]
        groups: Vec<String>,
        #[arg(long)]
        admin: bool,
    },
    List {
        #[arg(default_value = "")]
        search: String,
    },
    Show {
        username: String,
    },
    /// Change a user's fields; those not given stay as they are.
    Set {
        username: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        admin: Option<bool>,
        #[arg(long)]
        disabled: Option<bool>,
        /// Comma-separated; replaces the user's groups.
        #[arg(long, value_delimiter = ',')]
        groups: Option<Vec<String>>,
    },
    Delete {
        username: String,
    },
    /// Set the password, read from standard input.
    Password {
        username: String,
    },
    /// Set a PIN, or generate one with --generate (printed once).
    Pin {
        username: String,
        pin: Option<String>,
        #[arg(long, conflicts_with = "pin")]
        generate: bool,
    },
    /// Register a card number for the user.
    CardAdd {
        username: String,
        card: String,
    },
    CardRemove {
        username: String,
        card_id: String,
    },
}

#[derive(Debug, Subcommand)]
enum CreditCmd {
    /// Add credit, e.g. `5.00`.
    TopUp {
        username: String,
        amount: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Correct credit by a signed amount, e.g. `-1.50`.
    Adjust {
        username: String,
        #[arg(allow_hyphen_values = true)]
        amount: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// The user's transactions, newest first.
    Log {
        username: String,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
enum QuotaCmd {
    Add {
        username: String,
        #[arg(long)]
        name: String,
        /// day, week, month, year or unlimited
        #[arg(long, value_parser = period)]
        period: QuotaPeriod,
        /// total_pages, colour_pages, mono_pages or money
        #[arg(long, value_parser = metric)]
        metric: QuotaMetric,
        /// Pages, or for money an amount such as `25.00`.
        #[arg(long)]
        limit: String,
    },
    List {
        username: String,
    },
    Set {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        limit: Option<i64>,
        #[arg(long)]
        used: Option<i64>,
    },
    Delete {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum GroupCmd {
    Add { name: String },
    List,
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
enum SharedCmd {
    Add {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    List,
    Delete {
        name: String,
    },
    /// Open it to a user (--user) or a group (--group).
    MemberAdd {
        name: String,
        #[arg(long, conflicts_with = "group", required_unless_present = "group")]
        user: Option<String>,
        #[arg(long)]
        group: Option<String>,
    },
    MemberRemove {
        name: String,
        #[arg(long, conflicts_with = "group", required_unless_present = "group")]
        user: Option<String>,
        #[arg(long)]
        group: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum WorkstationCmd {
    /// Create a one-time enrolment code (printed once).
    Code {
        #[arg(long)]
        valid_seconds: Option<i64>,
    },
    List,
    Revoke {
        id: String,
    },
}

fn period(s: &str) -> Result<QuotaPeriod, String> {
    ream_server::store::enum_parse(s).ok_or_else(|| "one of day, week, month, year, unlimited".into())
}

fn metric(s: &str) -> Result<QuotaMetric, String> {
    ream_server::store::enum_parse(&s.replace('-', "_"))
        .ok_or_else(|| "one of total_pages, colour_pages, mono_pages, money".into())
}

/// `12.5` → 1250 cents; at most two decimals; a leading `-` for adjustments.
pub fn parse_amount(s: &str) -> anyhow::Result<i64> {
    let bad = || anyhow::anyhow!("{s:?} is not an amount like 5, 5.5 or -1.25");
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    let cents = whole.checked_mul(100).and_then(|w| w.checked_add(frac)).ok_or_else(bad)?;
    Ok(if neg { -cents } else { cents })
}

fn print<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn read_secret_line(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading the {what} from standard input"))?;
    let line = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(!line.is_empty(), "no {what} on standard input");
    Ok(line)
}

fn member(user: Option<String>, group: Option<String>) -> Member {
    match (user, group) {
        (Some(name), _) => Member { kind: MemberKind::User, name },
        (None, Some(name)) => Member { kind: MemberKind::Group, name },
        (None, None) => unreachable!("clap requires one"),
    }
}

/// The start-up lines; "listening on" comes last, so whoever waits for it has the rest.
fn print_started(s: &Started) {
    if let Some(fp) = &s.fingerprint {
        if s.generated_certificate {
            println!("Generated a self-signed certificate.");
        }
        println!("Certificate SHA-256 fingerprint: {fp}");
    }
    println!("Ream server listening on {}", s.url);
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Serve { config } => {
            let state = open_system_state(Config::load(&config)?).await?;
            serve(state, print_started).await
        }
        Command::Demo { listen, data_dir, printers } => {
            let data_dir_shown = data_dir.clone();
            let default_queue = (!printers.is_empty()).then(|| "Direct".to_string());
            let config = Config {
                listen,
                data_dir,
                server_name: "Ream demo".into(),
                default_queue,
                ..Config::default()
            };
            let state = open_system_state(config).await?;
            let seeded = demo::seed(&state).await?;
            demo::seed_printing(&state, &printers).await?;
            let code = admin::new_enrolment_code(&state, &NewEnrolmentCode::default()).await?;
            serve(state, |s| {
                println!(
                    "{} demo data in {}",
                    if seeded { "Created" } else { "Using" },
                    data_dir_shown.display()
                );
                println!("Demo accounts (username / password / PIN / card):");
                for u in demo::USERS {
                    println!(
                        "  {:<6} {:<19} {:<11} {:<7} {:<9} {}",
                        u.username,
                        u.full_name,
                        u.password,
                        u.pin.unwrap_or("-"),
                        u.card.unwrap_or("-"),
                        if u.is_admin { "(administrator)" } else { "" }
                    );
                }
                println!("Workstation enrolment code (one use, 24 h): {}", code.code);
                for (name, uri) in &printers {
                    println!(
                        "Printer {name} at {uri}; queues Direct, Secure (held) and Projects print to it"
                    );
                }
                print_started(s);
            })
            .await
        }
        Command::Admin { config, data_dir, command } => {
            let config = match (config, data_dir) {
                (Some(path), _) => Config::load(&path)?,
                (None, Some(dir)) => Config { data_dir: dir, ..Config::default() },
                (None, None) => Config::default(),
            };
            let state = open_system_state(config).await?;
            let result = run_admin(&state, command).await;
            state.store.close().await;
            result
        }
    }
}

async fn run_admin(s: &AppState, command: AdminCommand) -> anyhow::Result<()> {
    const ACTOR: &str = "cli";
    match command {
        AdminCommand::User(cmd) => match cmd {
            UserCmd::Add { username, name, email, password_stdin, pin, groups, admin: is_admin } => {
                let password = if password_stdin { Some(read_secret_line("password")?) } else { None };
                let u = NewUser { username, full_name: name, email, password, pin, groups, is_admin };
                print(&admin::create_user(s, &u).await?)
            }
            UserCmd::List { search } => print(&admin::list_users(s, &search).await?),
            UserCmd::Show { username } => print(&admin::get_user(s, &username).await?),
            UserCmd::Set { username, name, email, admin: is_admin, disabled, groups } => {
                let u = UserUpdate { full_name: name, email, groups, is_admin, disabled };
                print(&admin::update_user(s, &username, &u).await?)
            }
            UserCmd::Delete { username } => Ok(admin::delete_user(s, &username).await.map(drop)?),
            UserCmd::Password { username } => {
                Ok(admin::set_password(s, &username, &read_secret_line("password")?).await.map(drop)?)
            }
            UserCmd::Pin { username, pin, generate } => match (pin, generate) {
                (Some(pin), false) => Ok(admin::set_pin(s, &username, &pin).await.map(drop)?),
                (None, true) => {
                    println!("{}", admin::generate_pin(s, &username).await?);
                    Ok(())
                }
                _ => anyhow::bail!("give a PIN or --generate"),
            },
            UserCmd::CardAdd { username, card } => print(&admin::add_card(s, &username, &card).await?),
            UserCmd::CardRemove { username, card_id } => {
                Ok(admin::remove_card(s, &username, &card_id).await.map(drop)?)
            }
        },
        AdminCommand::Credit(cmd) => match cmd {
            CreditCmd::TopUp { username, amount, comment } => {
                let change = CreditChange { amount_cents: parse_amount(&amount)?, comment };
                print(&admin::change_credit(s, &username, TransactionKind::TopUp, &change, ACTOR).await?)
            }
            CreditCmd::Adjust { username, amount, comment } => {
                let change = CreditChange { amount_cents: parse_amount(&amount)?, comment };
                print(&admin::change_credit(s, &username, TransactionKind::Adjustment, &change, ACTOR).await?)
            }
            CreditCmd::Log { username, limit } => print(&admin::transactions(s, &username, limit).await?),
        },
        AdminCommand::Quota(cmd) => match cmd {
            QuotaCmd::Add { username, name, period, metric, limit } => {
                let limit = match metric {
                    QuotaMetric::Money => parse_amount(&limit)?,
                    _ => limit.parse().with_context(|| format!("{limit:?} is not a number of pages"))?,
                };
                print(&admin::create_quota(s, &username, &NewQuota { name, period, metric, limit }).await?)
            }
            QuotaCmd::List { username } => print(&admin::quotas(s, &username).await?),
            QuotaCmd::Set { id, name, limit, used } => {
                print(&admin::update_quota(s, &id, &QuotaUpdate { name, limit, used }).await?)
            }
            QuotaCmd::Delete { id } => Ok(s.store.delete_quota(&id).await?),
        },
        AdminCommand::Group(cmd) => match cmd {
            GroupCmd::Add { name } => Ok(admin::create_group(s, &name).await.map(drop)?),
            GroupCmd::List => print(&admin::list_groups(s).await?),
            GroupCmd::Delete { name } => Ok(s.store.delete_group(&name).await?),
        },
        AdminCommand::CostCentre(cmd) => run_shared(s, SharedAccountKind::CostCentre, cmd).await,
        AdminCommand::Project(cmd) => run_shared(s, SharedAccountKind::Project, cmd).await,
        AdminCommand::Workstation(cmd) => match cmd {
            WorkstationCmd::Code { valid_seconds } => {
                print(&admin::new_enrolment_code(s, &NewEnrolmentCode { valid_seconds }).await?)
            }
            WorkstationCmd::List => {
                print(&s.store.list_workstations().await?.iter().map(|w| w.view()).collect::<Vec<_>>())
            }
            WorkstationCmd::Revoke { id } => Ok(admin::revoke_workstation(s, &id).await.map(drop)?),
        },
        AdminCommand::PriceList(cmd) => match cmd {
            PriceListCmd::Add { name, mono, colour, duplex_discount } => {
                let list = PriceList {
                    name,
                    mono_page_cents: parse_amount(&mono)?,
                    colour_page_cents: parse_amount(&colour)?,
                    duplex_page_discount_cents: parse_amount(&duplex_discount)?,
                };
                Ok(admin::create_price_list(s, &list).await.map(drop)?)
            }
            PriceListCmd::List => print(&s.store.price_lists().await?),
        },
        AdminCommand::Printer(cmd) => match cmd {
            PrinterCmd::Add { name, uri, price_list, fingerprint } => {
                Ok(admin::create_printer(s, &Printer { name, uri, price_list, fingerprint })
                    .await
                    .map(drop)?)
            }
            PrinterCmd::List => print(&admin::printers(s).await?),
        },
        AdminCommand::Job(cmd) => match cmd {
            JobCmd::List { mismatch, limit } => print(&admin::jobs(s, mismatch, limit).await?),
        },
        AdminCommand::Queue(cmd) => match cmd {
            QueueCmd::Add {
                name,
                printers,
                detection,
                accounting,
                release,
                spooling,
                project_accounting,
                confirm_cost,
                script,
                held_hours,
            } => {
                let script = script
                    .map(|p| std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display())))
                    .transpose()?;
                let queue = Queue {
                    name,
                    detection,
                    accounting,
                    project_accounting,
                    spooling,
                    release,
                    confirm_cost,
                    script,
                    printers,
                    held_hours,
                };
                Ok(admin::create_queue(s, &queue).await.map(drop)?)
            }
            QueueCmd::List => {
                print(&s.store.queues().await?.into_iter().map(|q| q.queue).collect::<Vec<_>>())
            }
        },
    }
}

async fn run_shared(s: &AppState, kind: SharedAccountKind, cmd: SharedCmd) -> anyhow::Result<()> {
    match cmd {
        SharedCmd::Add { name, description } => {
            print(&admin::create_shared_account(s, kind, &NewSharedAccount { name, description }).await?)
        }
        SharedCmd::List => print(&s.store.list_shared_accounts(kind).await?),
        SharedCmd::Delete { name } => Ok(s.store.delete_shared_account(kind, &name).await?),
        SharedCmd::MemberAdd { name, user, group } => {
            print(&admin::set_member(s, kind, &name, &member(user, group), true).await?)
        }
        SharedCmd::MemberRemove { name, user, group } => {
            print(&admin::set_member(s, kind, &name, &member(user, group), false).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn amounts_parse_to_cents() {
        for (text, cents) in
            [("5", 500), ("5.5", 550), ("5.05", 505), ("-1.25", -125), ("+2", 200), ("0.01", 1)]
        {
            assert_eq!(parse_amount(text).unwrap(), cents, "{text}");
        }
        for bad in ["", "1.234", "abc", "1,5", "-", ".5", "1e3", "99999999999999999999"] {
            assert!(parse_amount(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
