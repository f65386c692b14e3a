//! The push channel's engine. Each connected client watches its user; the hub learns
//! which users changed (their `version` grew) and wakes their watchers.
//!
//! The hub learns it from the database, never in process, so that a change made by
//! `ream-server admin` (another process) or by another server instance reaches the
//! client just the same:
//! - on PostgreSQL, from `LISTEN`: a trigger announces every bump of a version when its
//!   transaction commits (`store::ACCOUNT_CHANNEL`). Notifications sent while the
//!   listening connection was down are lost, so after each (re)connection, and every
//!   `cluster.push_catch_up_seconds` besides, the versions of the watched users are read
//!   again: nothing is missed for longer than that, and no clock is compared;
//! - on SQLite (one instance), by polling what changed lately.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::Row;
use tokio::sync::watch;

use crate::store::{Backend, Store};

/// How often SQLite is asked what changed.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How far back each SQLite poll looks: wider than any write transaction lasts, so a
/// change committed late with an early timestamp is still seen. One instance and its
/// `admin` commands share a clock.
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

    fn watched(&self) -> Vec<String> {
        let mut users = self.users.lock().expect("hub lock");
        users.retain(|_, tx| tx.receiver_count() > 0);
        users.keys().cloned().collect()
    }

    fn is_idle(&self) -> bool {
        self.users.lock().expect("hub lock").is_empty()
    }

    /// Runs forever: follows the database's changes and wakes the watchers.
    pub async fn run(self: Arc<Self>, store: Store, catch_up: Duration) {
        match store.backend() {
            Backend::Postgres => self.listen(store, catch_up).await,
            Backend::Sqlite => self.poll(store).await,
        }
    }

    async fn listen(self: Arc<Self>, store: Store, catch_up: Duration) {
        // The periodic catch-up runs beside the listener, which is never interrupted
        // mid-read (its receive is not documented as safe to cancel).
        let (hub, polled) = (self.clone(), store.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + catch_up, catch_up);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                hub.catch_up(&polled).await;
            }
        });
        loop {
            let mut listener = match store.account_listener().await {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for account changes; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            // Listening now: whatever changed before is read once.
            self.catch_up(&store).await;
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => match parse(n.payload()) {
                        Some(change) => self.notify(&[change]),
                        None => tracing::warn!(payload = n.payload(), "an account change announced oddly"),
                    },
                    // The connection went: listen again on a new one, then catch up.
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "listening for account changes failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        break;
                    }
                }
            }
        }
    }

    /// Reads the watched users' versions: what a lost notification did not say.
    async fn catch_up(&self, store: &Store) {
        let watched = self.watched();
        if watched.is_empty() {
            return;
        }
        match store.versions_of(&watched).await {
            Ok(versions) => self.notify(&versions),
            Err(e) => tracing::warn!(error = %e, "cannot read the watched accounts' versions"),
        }
    }

    async fn poll(self: Arc<Self>, store: Store) {
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

/// `"<user id> <version>"`, as the trigger announces it.
fn parse(payload: &str) -> Option<(String, i64)> {
    let (id, version) = payload.rsplit_once(' ')?;
    Some((id.to_owned(), version.parse().ok()?))
}

async fn changed_users(store: &Store) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let since = store.now_ms() - LOOKBACK_MS;
    let rows = sqlx::query("SELECT id, version FROM users WHERE updated_at_ms >= $1")
        .bind(since)
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_are_read_as_the_trigger_writes_them() {
        assert_eq!(parse("5b1c-9 42"), Some(("5b1c-9".into(), 42)));
        assert_eq!(parse("42"), None);
        assert_eq!(parse("u x"), None);
    }

    #[test]
    fn only_a_newer_version_wakes_a_watcher() {
        let hub = Hub::default();
        let mut rx = hub.watch("u", 3);
        hub.notify(&[("u".into(), 3)]);
        assert!(!rx.has_changed().unwrap());
        hub.notify(&[("u".into(), 5), ("other".into(), 9)]);
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), 5);
        hub.notify(&[("u".into(), 4)]);
        assert!(!rx.has_changed().unwrap());
        drop(rx);
        assert!(hub.watched().is_empty());
    }
}
