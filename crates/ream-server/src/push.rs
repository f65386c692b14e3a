//! The push channel's engine. Each connected client watches its user; a poller reads
//! which users changed (their `version` grew) and wakes their watchers.
//!
//! Polling the database, rather than signalling in process, is deliberate: a change made
//! by `ream-server admin` (another process) or by another server instance on the same
//! PostgreSQL database reaches the client just the same.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sqlx::Row;
use tokio::sync::watch;

use crate::store::Store;

/// How often the database is asked what changed.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How far back each poll looks: wider than any write transaction lasts, so a change
/// committed late with an early timestamp is still seen.
const LOOKBACK_MS: i64 = 10_000;

#[derive(Default)]
pub struct Hub {
    users: Mutex<HashMap<String, watch::Sender<i64>>>,
}

impl Hub {
    /// A receiver that changes whenever the user's account version grows.
    pub fn watch(&self, user_id: &str, version: i64) -> watch::Receiver<i64> {
        let mut users = self.users.lock().expect("hub lock");
        users.entry(user_id.to_owned()).or_insert_with(|| watch::channel(version).0).subscribe()
    }

    fn notify(&self, changes: &[(String, i64)]) {
        let mut users = self.users.lock().expect("hub lock");
        users.retain(|_, tx| tx.receiver_count() > 0);
        for (user_id, version) in changes {
            if let Some(tx) = users.get(user_id) {
                tx.send_if_modified(|v| {
                    let newer = *version > *v;
                    if newer {
                        *v = *version;
                    }
                    newer
                });
            }
        }
    }

    fn is_idle(&self) -> bool {
        self.users.lock().expect("hub lock").is_empty()
    }

    /// Runs forever: polls for changed users and wakes their watchers.
    pub async fn run_poller(self: std::sync::Arc<Self>, store: Store) {
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if self.is_idle() {
                continue;
            }
            match changed_users(&store).await {
                Ok(changes) => self.notify(&changes),
                Err(e) => tracing::warn!(error = %e, "push poll failed"),
            }
        }
    }
}

async fn changed_users(store: &Store) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let since = store.now_ms() - LOOKBACK_MS;
    let rows = sqlx::query("SELECT id, version FROM users WHERE updated_at_ms >= $1")
        .bind(since)
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}
