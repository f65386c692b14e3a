//! Who is identified: status, login policy, directory, login and logout.

use ream_client::{Engine, LoginInput};
use ream_wire::{ClientStatus, DirectoryEntry, LoginPolicy, RememberOption, UserSummary};
use tauri::State;

use crate::error::CommandResult;

#[tauri::command]
pub fn status(engine: State<'_, Engine>) -> ClientStatus {
    engine.status()
}

/// The methods this workstation can use (user list and SSO once it is enrolled).
#[tauri::command]
pub async fn login_policy(engine: State<'_, Engine>) -> CommandResult<LoginPolicy> {
    Ok(engine.usable_policy().await?)
}

#[tauri::command]
pub async fn remember_options(engine: State<'_, Engine>) -> CommandResult<Vec<RememberOption>> {
    Ok(engine.remember_options().await?)
}

#[tauri::command]
pub async fn directory(engine: State<'_, Engine>, search: String) -> CommandResult<Vec<DirectoryEntry>> {
    Ok(engine.directory(&search).await?)
}

#[tauri::command]
pub async fn login(
    engine: State<'_, Engine>,
    input: LoginInput,
    remember: Option<String>,
) -> CommandResult<UserSummary> {
    Ok(engine.login(input, remember.as_deref()).await?)
}

#[tauri::command]
pub async fn logout(engine: State<'_, Engine>) -> CommandResult<()> {
    Ok(engine.logout().await?)
}
