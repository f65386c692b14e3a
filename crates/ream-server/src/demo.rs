//! The demo site: a few users with every kind of secret, credit, a quota, cost centres
//! and projects. Documented in the README; tests log in with these accounts.

use ream_wire::{
    CreditChange, Member, MemberKind, NewQuota, NewSharedAccount, NewUser, QuotaMetric, QuotaPeriod,
    SharedAccountKind, TransactionKind,
};

use crate::admin;
use crate::state::AppState;

pub struct DemoUser {
    pub username: &'static str,
    pub full_name: &'static str,
    pub password: &'static str,
    pub pin: Option<&'static str>,
    pub card: Option<&'static str>,
    pub credit_cents: i64,
    pub groups: &'static [&'static str],
    pub is_admin: bool,
}

pub const USERS: &[DemoUser] = &[
    DemoUser {
        username: "admin",
        full_name: "Ream Administrator",
        password: "admin-demo",
        pin: None,
        card: None,
        credit_cents: 0,
        groups: &[],
        is_admin: true,
    },
    DemoUser {
        username: "alice",
        full_name: "Alice Martin",
        password: "alice-demo",
        pin: Some("1234"),
        card: Some("04A1B2C3"),
        credit_cents: 2_000,
        groups: &["Staff", "Marketing"],
        is_admin: false,
    },
    DemoUser {
        username: "bob",
        full_name: "Bob Durand",
        password: "bob-demo",
        pin: Some("5678"),
        card: Some("04D4E5F6"),
        credit_cents: 50,
        groups: &["Staff"],
        is_admin: false,
    },
    DemoUser {
        username: "carol",
        full_name: "Carole Petit",
        password: "carol-demo",
        pin: Some("246810"),
        card: Some("04C0FFEE"),
        credit_cents: 500,
        groups: &["Staff", "Sales"],
        is_admin: false,
    },
];

/// Creates the demo data unless it is there already (safe to call on every start).
pub async fn seed(state: &AppState) -> anyhow::Result<bool> {
    if state.store.find_user("admin").await?.is_some() {
        return Ok(false);
    }
    for u in USERS {
        admin::create_user(
            state,
            &NewUser {
                username: u.username.into(),
                full_name: u.full_name.into(),
                email: Some(format!("{}@example.org", u.username)),
                password: Some(u.password.into()),
                pin: u.pin.map(Into::into),
                groups: u.groups.iter().map(|g| g.to_string()).collect(),
                is_admin: u.is_admin,
            },
        )
        .await?;
        if let Some(card) = u.card {
            admin::add_card(state, u.username, card).await?;
        }
        if u.credit_cents > 0 {
            let change = CreditChange { amount_cents: u.credit_cents, comment: "demo credit".into() };
            admin::change_credit(state, u.username, TransactionKind::TopUp, &change, "demo").await?;
        }
    }
    admin::create_quota(
        state,
        "alice",
        &NewQuota {
            name: "Monthly pages".into(),
            period: QuotaPeriod::Month,
            metric: QuotaMetric::TotalPages,
            limit: 500,
        },
    )
    .await?;
    let accounts = [
        (SharedAccountKind::CostCentre, "Marketing", "Marketing department"),
        (SharedAccountKind::CostCentre, "Sales", "Sales department"),
        (SharedAccountKind::Project, "Brochure 2026", "The 2026 product brochure"),
        (SharedAccountKind::Project, "Website", "The public website"),
    ];
    for (kind, name, description) in accounts {
        admin::create_shared_account(
            state,
            kind,
            &NewSharedAccount { name: name.into(), description: description.into() },
        )
        .await?;
    }
    let user = |name: &str| Member { kind: MemberKind::User, name: name.into() };
    let group = |name: &str| Member { kind: MemberKind::Group, name: name.into() };
    for (kind, account, member) in [
        (SharedAccountKind::CostCentre, "Marketing", user("alice")),
        (SharedAccountKind::CostCentre, "Sales", group("Sales")),
        (SharedAccountKind::Project, "Brochure 2026", user("alice")),
        (SharedAccountKind::Project, "Website", user("alice")),
        (SharedAccountKind::Project, "Website", user("carol")),
    ] {
        admin::set_member(state, kind, account, &member, true).await?;
    }
    Ok(true)
}

/// Demo printers and queues, for printers the demo was given (`--printer NAME=URI`): a
/// price list, and over the first printer the queues `Direct` (credit, prints at once),
/// `Secure` (held until released) and `Projects` (cost centre or credit, project,
/// confirmation). Safe to call on every start: what exists is left alone.
pub async fn seed_printing(state: &AppState, printers: &[(String, String)]) -> anyhow::Result<()> {
    use ream_wire::{AccountingMode, DetectionMethod, PriceList, Printer, Queue, ReleaseMode, SpoolingMode};
    let Some((first, _)) = printers.first() else { return Ok(()) };
    if state.store.price_lists().await?.iter().all(|p| p.name != "Standard") {
        let list = PriceList {
            name: "Standard".into(),
            mono_page_cents: 5,
            colour_page_cents: 20,
            duplex_page_discount_cents: 1,
        };
        admin::create_price_list(state, &list).await?;
    }
    let known = admin::printers(state).await?;
    for (name, uri) in printers {
        if known.iter().all(|p| &p.name != name) {
            let printer = Printer {
                name: name.clone(),
                uri: uri.clone(),
                price_list: "Standard".into(),
                fingerprint: None,
            };
            admin::create_printer(state, &printer).await?;
        }
    }
    let queues: Vec<String> = state.store.queues().await?.into_iter().map(|q| q.queue.name).collect();
    let queue = |name: &str, accounting, release, projects: bool| Queue {
        name: name.into(),
        detection: DetectionMethod::Session,
        accounting,
        project_accounting: projects,
        spooling: SpoolingMode::Server,
        release,
        confirm_cost: projects,
        script: None,
        printers: vec![first.clone()],
        held_hours: None,
        offline: Default::default(),
    };
    for q in [
        queue("Direct", AccountingMode::Credit, ReleaseMode::Direct, false),
        queue("Secure", AccountingMode::Credit, ReleaseMode::Pull, false),
        queue("Projects", AccountingMode::CostCentre, ReleaseMode::Direct, true),
    ] {
        if !queues.contains(&q.name) {
            admin::create_queue(state, &q).await?;
        }
    }
    Ok(())
}
