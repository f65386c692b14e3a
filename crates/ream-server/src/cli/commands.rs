//! `ream-server admin …`: one subcommand per domain, each a call to the rules in
//! `ream_server::admin` (or `auth` for lockouts), each answering with JSON of what it
//! did: the object created or changed, the object as it was before it was deleted, or
//! the list asked for (see `present` for how money and times read).

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use ream_server::auth::{self, LockKind, Lockout};
use ream_server::state::AppState;
use ream_server::store::LineOwner;
use ream_server::{admin, store};
use ream_wire::{
    AccountingMode, CreditChange, DetectionMethod, Member, MemberKind, NewEnrolmentCode, NewQuota,
    NewSharedAccount, NewUser, OfflineLine, OfflinePolicy, OfflineSettings, PriceList, Printer, Queue,
    QuotaMetric, QuotaPeriod, QuotaUpdate, ReleaseMode, SharedAccountKind, SpoolingMode, TransactionKind,
    UserUpdate,
};
use serde::Serialize;
use serde_json::Value;

use super::present::{parse_amount, parse_pages};

/// Who the credit log and the server's log name as the author of a change.
const ACTOR: &str = "cli";

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Users: accounts, secrets (password, PIN, cards), groups, lockouts.
    #[command(subcommand)]
    User(UserCmd),
    /// A user's credit: top-ups, corrections and the log of movements.
    #[command(subcommand)]
    Credit(CreditCmd),
    /// A user's quotas, of pages or of money, per period.
    #[command(subcommand)]
    Quota(QuotaCmd),
    /// Groups of users, which cost centres and projects can be opened to.
    #[command(subcommand)]
    Group(GroupCmd),
    /// Cost centres: shared accounts that pay for their members' printing.
    #[command(subcommand, name = "cost-centre")]
    CostCentre(SharedCmd),
    /// Projects: what their members' printing is booked to.
    #[command(subcommand)]
    Project(SharedCmd),
    /// Workstations: one-time enrolment codes, the enrolled ones, revocation.
    #[command(subcommand)]
    Workstation(WorkstationCmd),
    /// Price lists: what a page costs on the printers that use them.
    #[command(subcommand, name = "price-list")]
    PriceList(PriceListCmd),
    /// Printers, reached over IPP or IPPS.
    #[command(subcommand)]
    Printer(PrinterCmd),
    /// Queues: what users print to, and how their jobs are identified, paid and released.
    #[command(subcommand)]
    Queue(QueueCmd),
    /// Every user's print jobs.
    #[command(subcommand)]
    Job(JobCmd),
    /// Usernames and client addresses locked after too many failed attempts.
    #[command(subcommand)]
    Lockout(LockoutCmd),
    /// The journals of what workstations printed offline.
    #[command(subcommand)]
    Journal(JournalCmd),
    /// Local print monitoring: jobs on workstations' own CUPS printers counted and charged.
    #[command(subcommand)]
    Local(LocalCmd),
}

#[derive(Debug, Subcommand)]
pub enum LocalCmd {
    /// Show the monitoring policy.
    Show,
    /// Set the monitoring policy (what is not given is left as it is).
    Policy {
        /// Turn monitoring on (`true`) or off (`false`) on every workstation.
        #[arg(long)]
        enabled: Option<bool>,
        /// The CUPS queues monitored, by name, comma-separated; `all` (or empty): every
        /// local queue but Ream's own.
        #[arg(long)]
        queues: Option<String>,
        /// What a monitored queue's jobs do while the workstation cannot reach the server.
        #[arg(long, value_parser = ["print_and_report", "print_if_unrestricted", "refuse"])]
        offline: Option<String>,
        /// Which count charges a job: Ream's count of the document, or what CUPS or the
        /// printer reports once it completed.
        #[arg(long, value_parser = ["document", "printer"])]
        charge_by: Option<String>,
        /// The price list of local printers without their own; `none` for none.
        #[arg(long)]
        price_list: Option<String>,
    },
    /// Workstations' printers, recorded on their first job as `queue@workstation`.
    Printers,
    /// Give a local printer its own price list (`none`: the policy's).
    Price {
        /// `queue@workstation`, as `admin local printers` lists it.
        printer: String,
        /// A price list's name, or `none`.
        price_list: String,
    },
    /// Jobs of workstations' own printers, newest first, with both counts.
    Jobs {
        /// At most this many (1 to 10000).
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum JournalCmd {
    /// Journal entries the server refused (forged or edited, or naming a user or queue
    /// that is not there), newest first.
    Refusals {
        /// At most this many (1 to 10000).
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user. Secrets never go on the command line: the password and the PIN,
    /// if any, are read from standard input, one line each, in that order.
    Add {
        /// The login name: 1 to 64 letters, digits or . _ - @.
        username: String,
        /// The user's full name, as shown to them and in listings.
        #[arg(long)]
        name: String,
        /// The user's email address.
        #[arg(long)]
        email: Option<String>,
        /// Read the password (one line, 8 characters or more) from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Read a PIN (digits, as long as the server's `[login]` settings allow) from
        /// standard input, after the password when there is one.
        #[arg(long)]
        pin_stdin: bool,
        /// A group the user belongs to (repeat for several); it must exist, unless
        /// --create-groups.
        #[arg(long = "group")]
        groups: Vec<String>,
        /// Create the groups named that do not exist yet, instead of refusing them.
        #[arg(long)]
        create_groups: bool,
        /// Make the user an administrator (of the REST admin API).
        #[arg(long)]
        admin: bool,
    },
    /// List users, by username.
    List {
        /// Only the users whose username or full name contains this (any case).
        #[arg(default_value = "")]
        search: String,
    },
    /// Show one user.
    Show {
        /// The user's login name.
        username: String,
    },
    /// Change a user's fields; those not given stay as they are.
    Set {
        /// The user's login name.
        username: String,
        /// A new full name.
        #[arg(long)]
        name: Option<String>,
        /// A new email address; an empty one removes it.
        #[arg(long)]
        email: Option<String>,
        /// Whether the user is an administrator: true or false.
        #[arg(long)]
        admin: Option<bool>,
        /// Whether the user is disabled (cannot log in; their sessions end): true or false.
        #[arg(long)]
        disabled: Option<bool>,
        /// The user's groups, comma-separated, replacing those they had (empty for none);
        /// each must exist, unless --create-groups.
        #[arg(long, value_delimiter = ',')]
        groups: Option<Vec<String>>,
        /// Create the groups named that do not exist yet, instead of refusing them.
        #[arg(long)]
        create_groups: bool,
    },
    /// Delete a user; shows the user as they were.
    Delete {
        /// The user's login name.
        username: String,
    },
    /// Set the user's password, read from standard input (one line).
    Password {
        /// The user's login name.
        username: String,
    },
    /// Set a PIN, read from standard input (digits, as long as the server's `[login]`
    /// settings allow), or generate one with --generate (shown once, as `pin`).
    Pin {
        /// The user's login name.
        username: String,
        /// Draw a new PIN that no one else has, instead of reading one.
        #[arg(long)]
        generate: bool,
    },
    /// Register a card number for the user, read from standard input as the reader types
    /// it (4 to 64 letters or digits).
    CardAdd {
        /// The user's login name.
        username: String,
    },
    /// Remove one of the user's cards.
    CardRemove {
        /// The user's login name.
        username: String,
        /// The card's id, as `user show` lists it.
        card_id: String,
    },
    /// Lift the user's lockout after failed logins, and forget those failures.
    Unlock {
        /// The user's login name.
        username: String,
    },
    /// Set how much the user may print while their workstation cannot reach the server
    /// (their own line, over their groups').
    OfflineLine {
        /// The user's login name.
        username: String,
        /// Pages the user may print offline before their client stops offering it.
        #[arg(long)]
        pages: Option<i64>,
        /// Money the user may spend offline, e.g. `5` or `5.50`; neither: no limit.
        #[arg(long)]
        amount: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CreditCmd {
    /// Add credit, e.g. `5`, `5.5` or `5.50`.
    TopUp {
        /// The user's login name.
        username: String,
        /// The amount added, in the server's currency.
        amount: String,
        /// Why, for the user's log of movements.
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Correct credit by a signed amount, e.g. `-1.50`.
    Adjust {
        /// The user's login name.
        username: String,
        /// The amount added (or, with a leading `-`, taken off), in the server's currency.
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// Why, for the user's log of movements.
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// The user's credit movements, newest first.
    Log {
        /// The user's login name.
        username: String,
        /// At most this many movements (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum QuotaCmd {
    /// Give a user a quota.
    Add {
        /// The user's login name.
        username: String,
        /// What the quota is called, as the user sees it.
        #[arg(long)]
        name: String,
        /// day, week, month, year or unlimited (never starts over).
        #[arg(long, value_parser = period)]
        period: QuotaPeriod,
        /// What it counts: total_pages, colour_pages, mono_pages or money.
        #[arg(long, value_parser = metric)]
        metric: QuotaMetric,
        /// Pages (a whole number), or for money an amount such as 25, 25.5 or 25.50.
        #[arg(long)]
        limit: String,
    },
    /// The user's quotas, with what is used, held by waiting jobs and left.
    List {
        /// The user's login name.
        username: String,
    },
    /// Change a quota; what is not given stays as it is.
    Set {
        /// The quota's id, as `quota list` shows it.
        id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new limit, in the quota's unit as for `quota add`: pages, or an amount.
        #[arg(long)]
        limit: Option<String>,
        /// What was used in the current period (a correction), in the quota's unit.
        #[arg(long)]
        used: Option<String>,
    },
    /// Delete a quota; shows it as it was.
    Delete {
        /// The quota's id, as `quota list` shows it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// Create a group.
    Add {
        /// The group's name.
        name: String,
    },
    /// Every group with its members.
    List,
    /// Delete a group (its members stay, without it); shows it as it was.
    Delete {
        /// The group's name.
        name: String,
    },
    /// Set how much the group's members may print offline (the most generous of a user's
    /// groups applies to those without their own line).
    OfflineLine {
        /// The group's name.
        name: String,
        /// Pages the user may print offline before their client stops offering it.
        #[arg(long)]
        pages: Option<i64>,
        /// Money the user may spend offline, e.g. `5` or `5.50`; neither: no limit.
        #[arg(long)]
        amount: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SharedCmd {
    /// Create one.
    Add {
        /// Its name, as users see it.
        name: String,
        /// A description, as users see it.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Every one, with its members.
    List,
    /// Delete one; shows it as it was.
    Delete {
        /// Its name.
        name: String,
    },
    /// Open it to a user (--user) or a group (--group).
    MemberAdd {
        /// Its name.
        name: String,
        /// The user's login name.
        #[arg(long, conflicts_with = "group", required_unless_present = "group")]
        user: Option<String>,
        /// The group's name.
        #[arg(long)]
        group: Option<String>,
    },
    /// Close it to a user (--user) or a group (--group).
    MemberRemove {
        /// Its name.
        name: String,
        /// The user's login name.
        #[arg(long, conflicts_with = "group", required_unless_present = "group")]
        user: Option<String>,
        /// The group's name.
        #[arg(long)]
        group: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkstationCmd {
    /// Create a one-time enrolment code (shown once, as `code`).
    Code {
        /// How long the code stays usable, 60 to 2592000 seconds; the server's
        /// `enrolment_code_seconds` (24 h) otherwise.
        #[arg(long)]
        valid_seconds: Option<i64>,
    },
    /// The enrolled workstations, revoked ones included.
    List,
    /// Revoke a workstation: its sessions end and its proofs are refused.
    Revoke {
        /// The workstation's id, as `workstation list` shows it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PriceListCmd {
    /// Prices per A4/Letter page, e.g. `--mono 0.05 --colour 0.20`.
    Add {
        /// The price list's name.
        name: String,
        /// A mono page, as an amount such as 0.05.
        #[arg(long)]
        mono: String,
        /// A colour page, as an amount such as 0.20.
        #[arg(long)]
        colour: String,
        /// Taken off each page printed on both sides, as an amount.
        #[arg(long, default_value = "0")]
        duplex_discount: String,
    },
    /// Every price list.
    List,
    /// Delete a price list no printer uses; shows it as it was.
    Delete {
        /// The price list's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PrinterCmd {
    /// An IPP or IPPS printer, e.g. `--uri ipps://printer.example/ipp/print`. An IPPS
    /// printer is pinned to the certificate it presents now (or to `--fingerprint`).
    Add {
        /// The printer's name.
        name: String,
        /// ipp://host[:port]/path or ipps://host[:port]/path.
        #[arg(long)]
        uri: String,
        /// The price list its pages are charged by.
        #[arg(long)]
        price_list: String,
        /// The SHA-256 fingerprint of an IPPS printer's certificate (AA:BB:…).
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// Every printer.
    List,
    /// Delete a printer no queue uses; shows it as it was.
    Delete {
        /// The printer's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum QueueCmd {
    /// Create a queue over one or more printers.
    Add {
        /// The queue's name, as users see it.
        name: String,
        /// A printer of the queue (repeat for several).
        #[arg(long = "printer", required = true)]
        printers: Vec<String>,
        /// How the job's user is identified: session, user_list, pin_card or password.
        #[arg(long, default_value = "session", value_parser = wire_enum::<DetectionMethod>)]
        detection: DetectionMethod,
        /// What pays: credit, quota or cost_centre.
        #[arg(long, default_value = "credit", value_parser = wire_enum::<AccountingMode>)]
        accounting: AccountingMode,
        /// When a job prints: direct (at once), pull (held until its owner releases it) or
        /// private (as pull, and its document deleted once printed).
        #[arg(long, default_value = "direct", value_parser = wire_enum::<ReleaseMode>)]
        release: ReleaseMode,
        /// Where the document waits: server, or client (on the workstation).
        #[arg(long, default_value = "server", value_parser = wire_enum::<SpoolingMode>)]
        spooling: SpoolingMode,
        /// Ask users which project a job is for.
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
    /// Every queue.
    List,
    /// Set what the queue's jobs do while a workstation cannot reach the server.
    Offline {
        /// The queue's name.
        name: String,
        /// print_unaccounted (print on a fallback printer, never charged),
        /// print_if_unrestricted (print only for users nothing limits, charged when the
        /// server is back), hold (wait for the server) or discard (refuse).
        #[arg(long, value_parser = wire_enum::<OfflinePolicy>)]
        policy: OfflinePolicy,
        /// A printer jobs may fall back to (repeat for several, in the order offered).
        #[arg(long = "fallback")]
        fallback_printers: Vec<String>,
        /// Users may also pick a printer of their workstation or type one's address.
        #[arg(long)]
        pick: bool,
        /// Seconds the server must have been unreachable before the policy applies.
        #[arg(long, default_value_t = 30)]
        after: i64,
    },
    /// Delete a queue none of whose jobs may still print; shows it as it was. Its
    /// finished jobs keep its name.
    Delete {
        /// The queue's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobCmd {
    /// Every user's jobs, newest first, with the impressions charged, reported by the
    /// client that printed them and counted by the printer, and the server's check.
    List {
        /// Only the jobs whose printer disagreed with what was charged or reported.
        #[arg(long, conflicts_with = "offline")]
        mismatch: bool,
        /// Only the jobs printed offline and reported by their workstation's journal,
        /// marked unaccounted or overdrawn.
        #[arg(long)]
        offline: bool,
        /// At most this many jobs (1 to 10000).
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum LockoutCmd {
    /// The usernames and client addresses locked now, with when each lock ends.
    List,
    /// Lift the lock on a username (--user) or a client address (--source), and forget
    /// its failed attempts.
    Lift {
        /// A login name (one that need not exist: failed password logins count against
        /// the name typed).
        #[arg(long, conflicts_with = "source", required_unless_present = "source")]
        user: Option<String>,
        /// A client address, as `lockout list` shows it (e.g. 192.0.2.10).
        #[arg(long)]
        source: Option<String>,
    },
}

fn wire_enum<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    store::enum_parse(&s.replace('-', "_"))
        .ok_or_else(|| format!("{s:?} is not one of the documented values"))
}

fn period(s: &str) -> Result<QuotaPeriod, String> {
    store::enum_parse(s).ok_or_else(|| "one of day, week, month, year, unlimited".into())
}

fn metric(s: &str) -> Result<QuotaMetric, String> {
    store::enum_parse(&s.replace('-', "_"))
        .ok_or_else(|| "one of total_pages, colour_pages, mono_pages, money".into())
}

/// A quota's figure in its unit: an amount for money, whole pages otherwise.
fn quota_figure(metric: QuotaMetric, s: &str) -> anyhow::Result<i64> {
    match metric {
        QuotaMetric::Money => parse_amount(s),
        _ => parse_pages(s),
    }
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

/// The groups named for a user exist, unless the administrator asked for missing ones to
/// be created (which setting a user's groups then does).
async fn groups_ready(s: &AppState, groups: &[String], create: bool) -> anyhow::Result<()> {
    if create {
        return Ok(());
    }
    admin::require_groups(s, groups).await.map_err(|e| {
        anyhow::anyhow!("{e}: create it first (`ream-server admin group add NAME`) or pass --create-groups")
    })
}

/// A PIN drawn for a user: the user, and the PIN shown this once.
#[derive(Serialize)]
struct GeneratedPin {
    #[serde(flatten)]
    user: ream_wire::AdminUser,
    pin: String,
}

/// A lock lifted (or found absent): what there was.
#[derive(Serialize)]
struct Lifted {
    #[serde(flatten)]
    lockout: Lockout,
    was_locked: bool,
}

impl From<Lockout> for Lifted {
    fn from(lockout: Lockout) -> Lifted {
        Lifted { was_locked: lockout.locked_until_ms.is_some(), lockout }
    }
}

fn offline_line(pages: Option<i64>, amount: Option<String>) -> anyhow::Result<OfflineLine> {
    Ok(OfflineLine { pages, amount_cents: amount.as_deref().map(parse_amount).transpose()? })
}

fn json<T: Serialize>(value: T) -> anyhow::Result<Value> {
    Ok(serde_json::to_value(value)?)
}

/// Runs one admin command; the answer is what it did, as JSON (wire units).
pub async fn run(s: &AppState, command: AdminCommand) -> anyhow::Result<Value> {
    match command {
        AdminCommand::User(cmd) => user(s, cmd).await,
        AdminCommand::Credit(cmd) => match cmd {
            CreditCmd::TopUp { username, amount, comment } => {
                let change = CreditChange { amount_cents: parse_amount(&amount)?, comment };
                json(admin::change_credit(s, &username, TransactionKind::TopUp, &change, ACTOR).await?)
            }
            CreditCmd::Adjust { username, amount, comment } => {
                let change = CreditChange { amount_cents: parse_amount(&amount)?, comment };
                json(admin::change_credit(s, &username, TransactionKind::Adjustment, &change, ACTOR).await?)
            }
            CreditCmd::Log { username, limit } => json(admin::transactions(s, &username, limit).await?),
        },
        AdminCommand::Quota(cmd) => match cmd {
            QuotaCmd::Add { username, name, period, metric, limit } => {
                let limit = quota_figure(metric, &limit)?;
                json(admin::create_quota(s, &username, &NewQuota { name, period, metric, limit }).await?)
            }
            QuotaCmd::List { username } => json(admin::quotas(s, &username).await?),
            QuotaCmd::Set { id, name, limit, used } => {
                // Read in the quota's own unit, as `quota add` reads it.
                let metric = admin::quota(s, &id).await?.metric;
                let limit = limit.map(|l| quota_figure(metric, &l)).transpose()?;
                let used = used.map(|u| quota_figure(metric, &u)).transpose()?;
                json(admin::update_quota(s, &id, &QuotaUpdate { name, limit, used }).await?)
            }
            QuotaCmd::Delete { id } => json(admin::delete_quota(s, &id).await?),
        },
        AdminCommand::Group(cmd) => match cmd {
            GroupCmd::Add { name } => json(admin::create_group(s, &name).await?),
            GroupCmd::List => json(admin::list_groups(s).await?),
            GroupCmd::Delete { name } => json(admin::delete_group(s, &name).await?),
            GroupCmd::OfflineLine { name, pages, amount } => json(
                admin::set_offline_line(s, LineOwner::Group, &name, &offline_line(pages, amount)?).await?,
            ),
        },
        AdminCommand::CostCentre(cmd) => shared(s, SharedAccountKind::CostCentre, cmd).await,
        AdminCommand::Project(cmd) => shared(s, SharedAccountKind::Project, cmd).await,
        AdminCommand::Workstation(cmd) => match cmd {
            WorkstationCmd::Code { valid_seconds } => {
                json(admin::new_enrolment_code(s, &NewEnrolmentCode { valid_seconds }).await?)
            }
            WorkstationCmd::List => {
                json(s.store.list_workstations().await?.iter().map(|w| w.view()).collect::<Vec<_>>())
            }
            WorkstationCmd::Revoke { id } => json(admin::revoke_workstation(s, &id).await?),
        },
        AdminCommand::PriceList(cmd) => match cmd {
            PriceListCmd::Add { name, mono, colour, duplex_discount } => {
                let list = PriceList {
                    name,
                    mono_page_cents: parse_amount(&mono)?,
                    colour_page_cents: parse_amount(&colour)?,
                    duplex_page_discount_cents: parse_amount(&duplex_discount)?,
                };
                json(admin::create_price_list(s, &list).await?)
            }
            PriceListCmd::List => json(s.store.price_lists().await?),
            PriceListCmd::Delete { name } => json(admin::delete_price_list(s, &name).await?),
        },
        AdminCommand::Printer(cmd) => match cmd {
            PrinterCmd::Add { name, uri, price_list, fingerprint } => {
                json(admin::create_printer(s, &Printer { name, uri, price_list, fingerprint }).await?)
            }
            PrinterCmd::List => json(admin::printers(s).await?),
            PrinterCmd::Delete { name } => json(admin::delete_printer(s, &name).await?),
        },
        AdminCommand::Queue(cmd) => queue(s, cmd).await,
        AdminCommand::Job(JobCmd::List { offline: true, limit, .. }) => {
            json(admin::offline_jobs(s, limit).await?)
        }
        AdminCommand::Job(JobCmd::List { mismatch, limit, .. }) => {
            json(admin::jobs(s, mismatch, limit).await?)
        }
        AdminCommand::Journal(JournalCmd::Refusals { limit }) => {
            json(admin::journal_refusals(s, limit).await?)
        }
        AdminCommand::Local(cmd) => local(s, cmd).await,
        AdminCommand::Lockout(cmd) => match cmd {
            LockoutCmd::List => json(auth::lockouts(s).await?),
            LockoutCmd::Lift { user, source } => {
                let (kind, name) = match (user, source) {
                    (Some(name), _) => (LockKind::User, name),
                    (None, Some(address)) => (LockKind::Source, address),
                    (None, None) => unreachable!("clap requires one"),
                };
                json(Lifted::from(auth::unlock(s, kind, &name, ACTOR).await?))
            }
        },
    }
}

async fn user(s: &AppState, cmd: UserCmd) -> anyhow::Result<Value> {
    match cmd {
        UserCmd::Add {
            username,
            name,
            email,
            password_stdin,
            pin_stdin,
            groups,
            create_groups,
            admin: is_admin,
        } => {
            let password = if password_stdin { Some(read_secret_line("password")?) } else { None };
            let pin = if pin_stdin { Some(read_secret_line("PIN")?) } else { None };
            groups_ready(s, &groups, create_groups).await?;
            let u = NewUser { username, full_name: name, email, password, pin, groups, is_admin };
            json(admin::create_user(s, &u).await?)
        }
        UserCmd::List { search } => json(admin::list_users(s, &search).await?),
        UserCmd::Show { username } => json(admin::get_user(s, &username).await?),
        UserCmd::Set { username, name, email, admin: is_admin, disabled, groups, create_groups } => {
            // `--groups ""` is no group at all.
            let groups = groups.map(|g| g.into_iter().filter(|g| !g.is_empty()).collect::<Vec<_>>());
            admin::get_user(s, &username).await?;
            if let Some(groups) = &groups {
                groups_ready(s, groups, create_groups).await?;
            }
            let u = UserUpdate { full_name: name, email, groups, is_admin, disabled };
            json(admin::update_user(s, &username, &u).await?)
        }
        UserCmd::Delete { username } => json(admin::delete_user(s, &username).await?),
        UserCmd::Password { username } => {
            json(admin::set_password(s, &username, &read_secret_line("password")?).await?)
        }
        UserCmd::Pin { username, generate: false } => {
            json(admin::set_pin(s, &username, &read_secret_line("PIN")?).await?)
        }
        UserCmd::Pin { username, generate: true } => {
            let pin = admin::generate_pin(s, &username).await?;
            json(GeneratedPin { user: admin::get_user(s, &username).await?, pin })
        }
        UserCmd::CardAdd { username } => {
            json(admin::add_card(s, &username, &read_secret_line("card number")?).await?)
        }
        UserCmd::CardRemove { username, card_id } => json(admin::remove_card(s, &username, &card_id).await?),
        UserCmd::Unlock { username } => json(Lifted::from(admin::unlock_user(s, &username, ACTOR).await?)),
        UserCmd::OfflineLine { username, pages, amount } => {
            json(admin::set_offline_line(s, LineOwner::User, &username, &offline_line(pages, amount)?).await?)
        }
    }
}

async fn queue(s: &AppState, cmd: QueueCmd) -> anyhow::Result<Value> {
    match cmd {
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
                offline: OfflineSettings::default(),
            };
            json(admin::create_queue(s, &queue).await?)
        }
        QueueCmd::List => json(s.store.queues().await?.into_iter().map(|q| q.queue).collect::<Vec<_>>()),
        QueueCmd::Offline { name, policy, fallback_printers, pick, after } => {
            let offline = OfflineSettings { policy, fallback_printers, pick, after_seconds: after };
            json(admin::set_queue_offline(s, &name, &offline).await?)
        }
        QueueCmd::Delete { name } => json(admin::delete_queue(s, &name).await?),
    }
}

async fn shared(s: &AppState, kind: SharedAccountKind, cmd: SharedCmd) -> anyhow::Result<Value> {
    match cmd {
        SharedCmd::Add { name, description } => {
            json(admin::create_shared_account(s, kind, &NewSharedAccount { name, description }).await?)
        }
        SharedCmd::List => json(s.store.list_shared_accounts(kind).await?),
        SharedCmd::Delete { name } => json(admin::delete_shared_account(s, kind, &name).await?),
        SharedCmd::MemberAdd { name, user, group } => {
            json(admin::set_member(s, kind, &name, &member(user, group), true).await?)
        }
        SharedCmd::MemberRemove { name, user, group } => {
            json(admin::set_member(s, kind, &name, &member(user, group), false).await?)
        }
    }
}

async fn local(s: &AppState, cmd: LocalCmd) -> anyhow::Result<serde_json::Value> {
    let none_is_none = |v: String| if v == "none" { None } else { Some(v) };
    match cmd {
        LocalCmd::Show => json(s.store.local_monitoring().await?),
        LocalCmd::Policy { enabled, queues, offline, charge_by, price_list } => {
            let mut m = s.store.local_monitoring().await?;
            if let Some(e) = enabled {
                m.enabled = e;
            }
            if let Some(q) = queues {
                m.queues = q
                    .split(',')
                    .map(str::trim)
                    .filter(|q| !q.is_empty() && *q != "all")
                    .map(String::from)
                    .collect();
            }
            if let Some(o) = offline {
                m.offline = store::enum_parse(&o).expect("clap checked the value");
            }
            if let Some(c) = charge_by {
                m.charge_by = store::enum_parse(&c).expect("clap checked the value");
            }
            if let Some(p) = price_list {
                m.price_list = none_is_none(p);
            }
            json(admin::set_local_monitoring(s, &m).await?)
        }
        LocalCmd::Printers => json(s.store.local_printers().await?),
        LocalCmd::Price { printer, price_list } => {
            json(admin::set_local_printer_price(s, &printer, none_is_none(price_list).as_deref()).await?)
        }
        LocalCmd::Jobs { limit } => json(admin::local_jobs(s, limit).await?),
    }
}
