//! Tauri's code generation, with every app command declared so that the capability in
//! `capabilities/` must grant each one by name (`allow-<command>`): a command the
//! webview was not given is refused.

/// Every command of `commands/`, as registered in `main.rs`.
const COMMANDS: &[&str] = &[
    "status",
    "login_policy",
    "remember_options",
    "directory",
    "login",
    "logout",
    "new_pin",
    "refresh_account",
    "queues",
    "jobs",
    "job_dialog",
    "answer_job",
    "release_job",
    "delete_job",
    "fallback_offers",
    "answer_fallback",
    "about",
    "desktop_settings",
    "set_language",
    "set_server",
];

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri-build failed");
}
