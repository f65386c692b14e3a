//! The identified user's account.

use ream_client::Engine;
use ream_wire::AccountView;
use tauri::State;

use crate::error::CommandResult;

#[tauri::command]
pub async fn refresh_account(engine: State<'_, Engine>) -> CommandResult<AccountView> {
    Ok(engine.refresh_account().await?)
}

/// A new PIN, shown once.
#[tauri::command]
pub async fn new_pin(engine: State<'_, Engine>) -> CommandResult<String> {
    Ok(engine.new_pin().await?)
}
