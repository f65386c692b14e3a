//! The tray icon: its tooltip and title tell who is identified and whether the server is
//! away; its menu opens the window, logs in or out, shows the jobs, or quits. Labels
//! follow the settings' language (else the OS locale) and the login state.

use ream_client::Engine;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{App, AppHandle, Manager, Wry};

use crate::i18n::{self, Lang};
use crate::window;

/// The tray and the menu items whose words change.
pub struct Tray {
    icon: TrayIcon<Wry>,
    open: MenuItem<Wry>,
    login: MenuItem<Wry>,
    jobs: MenuItem<Wry>,
    quit: MenuItem<Wry>,
}

pub fn create(app: &App) -> tauri::Result<()> {
    let labels = i18n::menu_labels(Lang::En, false);
    let open = MenuItem::with_id(app, "open", labels.open, true, None::<&str>)?;
    let login = MenuItem::with_id(app, "login", labels.login, true, None::<&str>)?;
    let jobs = MenuItem::with_id(app, "jobs", labels.jobs, true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", labels.quit, true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&open, &login, &jobs, &separator, &quit])?;
    let mut builder = TrayIconBuilder::with_id("ream").menu(&menu).on_menu_event(on_menu);
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let icon = builder.build(app)?;
    app.manage(Tray { icon, open, login, jobs, quit });
    refresh(app.handle());
    Ok(())
}

/// Brings the words in line with the status and the language.
pub fn refresh(app: &AppHandle) {
    let (Some(tray), Some(engine)) = (app.try_state::<Tray>(), app.try_state::<Engine>()) else { return };
    let (lang, status) = (Lang::of(&engine), engine.status());
    let labels = i18n::menu_labels(lang, status.user.is_some());
    let text = i18n::tray_status(lang, &status);
    let results = [
        tray.open.set_text(labels.open),
        tray.login.set_text(labels.login),
        tray.jobs.set_text(labels.jobs),
        tray.quit.set_text(labels.quit),
        tray.icon.set_tooltip(Some(&text)),
        tray.icon.set_title(Some(&text)),
    ];
    for e in results.into_iter().filter_map(Result::err) {
        tracing::warn!(error = %e, "cannot update the tray");
    }
}

fn on_menu(app: &AppHandle, event: MenuEvent) {
    match event.id().as_ref() {
        "open" => window::show(app),
        "jobs" => window::navigate(app, "jobs"),
        "login" => {
            let engine = app.state::<Engine>().inner().clone();
            if engine.status().user.is_some() {
                tauri::async_runtime::spawn(async move {
                    if let Err(e) = engine.logout().await {
                        tracing::warn!(error = %e, "logout from the tray failed");
                    }
                });
            } else {
                window::navigate(app, "login");
            }
        }
        "quit" => app.exit(0),
        _ => {}
    }
}
