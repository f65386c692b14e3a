//! `ream-desktop`: Ream's workstation client with a window, a tray icon and desktop
//! notifications. A thin Tauri 2 shell over the `ream-client` engine: commands are one
//! engine call each, engine events go to the webview and become notifications, and no
//! business rule lives here (see ARCHITECTURE.md).

mod commands;
mod error;
mod events;
mod i18n;
mod notify;
mod startup;
mod tray;
mod window;

use commands::{account, jobs, session, settings};

fn main() {
    startup::before_gtk();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REAM_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let options = startup::Options::parse(std::env::args().skip(1));
    let _claim = match startup::claim_client() {
        startup::Launch::First(claim) => claim,
        startup::Launch::Shown => {
            eprintln!("Ream is already running for this user: its window is open.");
            return;
        }
        startup::Launch::Refused(why) => {
            eprintln!("Ream is already running for this user ({why}).");
            std::process::exit(1);
        }
    };
    tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .manage(startup::engine())
        .invoke_handler(tauri::generate_handler![
            session::status,
            session::login_policy,
            session::remember_options,
            session::directory,
            session::login,
            session::logout,
            account::refresh_account,
            account::new_pin,
            jobs::queues,
            jobs::jobs,
            jobs::job_dialog,
            jobs::answer_job,
            jobs::release_job,
            jobs::delete_job,
            jobs::fallback_offers,
            jobs::answer_fallback,
            settings::about,
            settings::desktop_settings,
            settings::set_language,
            settings::set_server,
        ])
        .on_window_event(window::on_window_event)
        .setup(move |app| startup::setup(app, options))
        .build(tauri::generate_context!())
        .expect("the Ream desktop app failed to start")
        .run(window::on_run_event);
}
