//! Failed-attempt counting. A key is an identity (`user:…`) or a source (`src:…`); after
//! `max` failures within the window the key is locked until the window's end. Kept in
//! the database so every server instance sees the same counts.

use sqlx::Row;

use super::Store;
use crate::error::AppResult;

/// The failed attempts counted under one key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FailureRow {
    pub key: String,
    pub failures: i64,
    pub window_start_ms: i64,
    pub locked_until_ms: Option<i64>,
}

impl Store {
    /// When the key is locked now, the time the lock ends.
    pub async fn locked_until(&self, key: &str) -> AppResult<Option<i64>> {
        let now = self.now_ms();
        let row = sqlx::query("SELECT locked_until_ms FROM auth_failures WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        let until: Option<i64> = match row {
            Some(r) => r.try_get(0)?,
            None => None,
        };
        Ok(until.filter(|&t| t > now))
    }

    /// Takes one attempt under the key before its secret is checked: it counts as a
    /// failure from now on (given back by [`Store::give_back_attempt`] if it succeeds), so
    /// that however many attempts run at once, at most `max` are ever checked in a window.
    /// `Some(lock end)` when the key is locked, or this attempt would be one too many
    /// (which locks it); nothing is then counted.
    pub async fn take_attempt(&self, key: &str, max: i64, window_ms: i64) -> AppResult<Option<i64>> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        // Written first, in one statement: concurrent attempts serialise on the row (and
        // on SQLite on the write lock) and each sees its own count. A window that has
        // passed starts over.
        sqlx::query(
            "INSERT INTO auth_failures (key, failures, window_start_ms, locked_until_ms) VALUES ($1, 1, $2, NULL) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN auth_failures.window_start_ms + $3 <= $2 AND COALESCE(auth_failures.locked_until_ms, 0) <= $2 \
                 THEN 1 ELSE auth_failures.failures + 1 END, \
               locked_until_ms = CASE WHEN COALESCE(auth_failures.locked_until_ms, 0) <= $2 THEN NULL ELSE auth_failures.locked_until_ms END, \
               window_start_ms = CASE WHEN auth_failures.window_start_ms + $3 <= $2 AND COALESCE(auth_failures.locked_until_ms, 0) <= $2 \
                 THEN $2 ELSE auth_failures.window_start_ms END",
        )
        .bind(key)
        .bind(now)
        .bind(window_ms)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT failures, locked_until_ms FROM auth_failures WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
        let (failures, locked): (i64, Option<i64>) = (row.try_get(0)?, row.try_get(1)?);
        if let Some(until) = locked.filter(|&t| t > now) {
            // Locked: this attempt is not counted (the transaction is dropped).
            return Ok(Some(until));
        }
        if failures > max {
            let until = now + window_ms;
            sqlx::query(
                "UPDATE auth_failures SET failures = failures - 1, locked_until_ms = $1 WHERE key = $2",
            )
            .bind(until)
            .bind(key)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Some(until));
        }
        tx.commit().await?;
        Ok(None)
    }

    /// An attempt taken by [`Store::take_attempt`] succeeded: it no longer counts.
    pub async fn give_back_attempt(&self, key: &str) -> AppResult<()> {
        sqlx::query("UPDATE auth_failures SET failures = failures - 1 WHERE key = $1 AND failures > 0")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// An attempt taken by [`Store::take_attempt`] failed: when it was the last one the
    /// key had, the key is locked now; the lock's end.
    pub async fn lock_if_spent(&self, key: &str, max: i64, window_ms: i64) -> AppResult<Option<i64>> {
        let until = self.now_ms() + window_ms;
        let done = sqlx::query(
            "UPDATE auth_failures SET locked_until_ms = $1 WHERE key = $2 AND failures >= $3 \
             AND COALESCE(locked_until_ms, 0) < $4",
        )
        .bind(until)
        .bind(key)
        .bind(max)
        .bind(self.now_ms())
        .execute(self.pool())
        .await?;
        Ok((done.rows_affected() > 0).then_some(until))
    }

    pub async fn clear_failures(&self, key: &str) -> AppResult<()> {
        sqlx::query("DELETE FROM auth_failures WHERE key = $1").bind(key).execute(self.pool()).await?;
        Ok(())
    }

    /// Every key with failures counted, current or not.
    pub async fn failure_rows(&self) -> AppResult<Vec<FailureRow>> {
        Ok(sqlx::query_as::<_, FailureRow>(
            "SELECT key, failures, window_start_ms, locked_until_ms FROM auth_failures ORDER BY key",
        )
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn failure_row(&self, key: &str) -> AppResult<Option<FailureRow>> {
        Ok(sqlx::query_as::<_, FailureRow>(
            "SELECT key, failures, window_start_ms, locked_until_ms FROM auth_failures WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(self.pool())
        .await?)
    }
}
