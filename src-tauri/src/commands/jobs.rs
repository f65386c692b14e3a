//! Queues and the user's print jobs: the job dialog, release, deletion, and the jobs
//! the server cannot take now (fallback printing).

use ream_client::Engine;
use ream_wire::{FallbackAnswer, FallbackOffer, Job, JobAnswer, JobDialog, QueueInfo};
use tauri::State;

use crate::error::CommandResult;

#[tauri::command]
pub async fn queues(engine: State<'_, Engine>) -> CommandResult<Vec<QueueInfo>> {
    Ok(engine.queues().await?)
}

#[tauri::command]
pub async fn jobs(engine: State<'_, Engine>) -> CommandResult<Vec<Job>> {
    Ok(engine.jobs().await?)
}

#[tauri::command]
pub async fn job_dialog(engine: State<'_, Engine>, id: String) -> CommandResult<JobDialog> {
    Ok(engine.job_dialog(&id).await?)
}

#[tauri::command]
pub async fn answer_job(engine: State<'_, Engine>, id: String, answer: JobAnswer) -> CommandResult<Job> {
    Ok(engine.answer_job(&id, &answer).await?)
}

#[tauri::command]
pub async fn release_job(
    engine: State<'_, Engine>,
    id: String,
    printer: Option<String>,
) -> CommandResult<Job> {
    Ok(engine.release_job(&id, printer.as_deref()).await?)
}

#[tauri::command]
pub async fn delete_job(engine: State<'_, Engine>, id: String) -> CommandResult<Job> {
    Ok(engine.delete_job(&id).await?)
}

#[tauri::command]
pub async fn fallback_offers(engine: State<'_, Engine>) -> CommandResult<Vec<FallbackOffer>> {
    Ok(engine.fallback_offers().await?)
}

#[tauri::command]
pub async fn answer_fallback(
    engine: State<'_, Engine>,
    job: String,
    answer: FallbackAnswer,
) -> CommandResult<()> {
    Ok(engine.answer_fallback(&job, answer).await?)
}
