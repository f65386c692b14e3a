//! The command line: `serve`, `demo` and `admin …`. Admin commands open the database
//! directly (no running server needed) and call the same `ream_server::admin` functions
//! as the REST API; connected clients still hear of the changes (see `push`). Each
//! prints JSON of what it did (`present`), and none makes a site where there was none.

mod commands;
mod present;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use ream_server::config::Config;
use ream_server::server::{open_system_state, serve, Started};
use ream_server::{admin, demo};
use ream_wire::NewEnrolmentCode;

#[derive(Debug, Parser)]
#[command(name = "ream-server", version, about = "Ream print-management server")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API with the given configuration file; its data folder is created on
    /// the first start.
    Serve {
        /// The configuration file (TOML, see the README); relative paths in it are
        /// relative to it.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Serve a demo site (SQLite, demo users) and print its URL and accounts.
    Demo {
        /// Address to listen on (loopback by default).
        #[arg(long, default_value = "127.0.0.1:8631")]
        listen: SocketAddr,
        /// Where the demo database lives; created on the first start, kept between runs.
        #[arg(long, default_value = "ream-demo-data")]
        data_dir: PathBuf,
        /// A printer for the demo queues, `NAME=ipp://host:port/path` (repeat for several).
        #[arg(long = "printer", value_parser = named_uri)]
        printers: Vec<(String, String)>,
    },
    /// Administer users, credit, quotas, groups, cost centres, projects, workstations,
    /// price lists, printers, queues, jobs and lockouts. Each command prints JSON of what
    /// it did; money reads as amounts ("20.50"), times as ISO 8601 in UTC.
    Admin {
        /// The server's configuration file (for its database and data folder); without it
        /// or --data-dir, ./ream-data with the default configuration.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The data folder of a site with the default configuration (the demo's
        /// ream-demo-data, say) instead of a configuration file.
        #[arg(long, conflicts_with = "config")]
        data_dir: Option<PathBuf>,
        /// Make the data folder, an empty site, when it does not exist (otherwise that
        /// is refused, being most likely a mistyped path).
        #[arg(long)]
        create: bool,
        #[command(subcommand)]
        command: commands::AdminCommand,
    },
}

fn named_uri(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(n, u)| (n.to_string(), u.to_string())).ok_or_else(|| "NAME=URI".to_string())
}

/// Refuses to administer a data folder that does not exist: opening it would make an
/// empty site there, and a mistyped path would then look like a site with no one in it.
fn site_exists(config: &Config, create: bool) -> anyhow::Result<()> {
    let dir = &config.data_dir;
    if create || dir.is_dir() {
        return Ok(());
    }
    anyhow::bail!(
        "the data folder {} does not exist, so there is no Ream site there (is the path mistyped?). \
         A site is made by starting its server once (`ream-server serve --config FILE`, or \
         `ream-server demo --data-dir DIR`), or by an admin command given --create",
        dir.display()
    )
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
                // The demo shows every login method, the user list too.
                login: ream_server::config::LoginConfig {
                    methods: ream_wire::LoginMethod::ALL.to_vec(),
                    ..Default::default()
                },
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
        Command::Admin { config, data_dir, create, command } => {
            let config = match (config, data_dir) {
                (Some(path), _) => Config::load(&path)?,
                (None, Some(dir)) => Config { data_dir: dir, ..Config::default() },
                (None, None) => Config::default(),
            };
            site_exists(&config, create)?;
            let state = open_system_state(config).await?;
            let result = commands::run(&state, command).await;
            state.store.close().await;
            present::print(&result?)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Args;

    /// Every command and argument says what it is in `--help`.
    #[test]
    fn every_command_and_argument_is_described() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                let sub_path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(sub_path.clone());
                }
                walk(sub, &sub_path, missing);
            }
        }
        let cmd = Args::command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&cmd, "ream-server", &mut missing);
        assert!(missing.is_empty(), "without a description: {missing:#?}");
    }
}
