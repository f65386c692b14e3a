//! Sessions. A session holds the hash of its current access token and of its current
//! refresh token; a refresh replaces both. Presenting a replaced refresh token again
//! ends the session: one of the two holders is not its owner.

use super::{bump_user, Store};
use crate::error::AppResult;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub method: String,
    pub workstation_id: Option<String>,
    pub remember: Option<String>,
    pub access_expires_at_ms: i64,
    pub refresh_expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    pub revoked_reason: Option<String>,
    pub refresh_hash: String,
    pub rotated_at_ms: Option<i64>,
}

const SESSION_COLUMNS: &str = "id, user_id, method, workstation_id, remember, access_expires_at_ms, \
                               refresh_expires_at_ms, revoked_at_ms, revoked_reason, refresh_hash, rotated_at_ms";

pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub method: &'a str,
    pub workstation_id: Option<&'a str>,
    pub remember: Option<&'a str>,
    pub access_hash: &'a str,
    pub access_expires_at_ms: i64,
    pub refresh_hash: &'a str,
    pub refresh_expires_at_ms: Option<i64>,
}

impl Store {
    pub async fn insert_session(&self, s: &NewSession<'_>) -> AppResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, method, workstation_id, remember, created_at_ms, access_hash, \
             access_expires_at_ms, refresh_hash, refresh_expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(s.id)
        .bind(s.user_id)
        .bind(s.method)
        .bind(s.workstation_id)
        .bind(s.remember)
        .bind(self.now_ms())
        .bind(s.access_hash)
        .bind(s.access_expires_at_ms)
        .bind(s.refresh_hash)
        .bind(s.refresh_expires_at_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn session(&self, id: &str) -> AppResult<Option<SessionRow>> {
        Ok(sqlx::query_as::<_, SessionRow>(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn session_by_access(&self, access_hash: &str) -> AppResult<Option<SessionRow>> {
        Ok(sqlx::query_as::<_, SessionRow>(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE access_hash = $1"
        ))
        .bind(access_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn session_by_refresh(&self, refresh_hash: &str) -> AppResult<Option<SessionRow>> {
        Ok(sqlx::query_as::<_, SessionRow>(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE refresh_hash = $1"
        ))
        .bind(refresh_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn session_by_previous_refresh(&self, refresh_hash: &str) -> AppResult<Option<SessionRow>> {
        Ok(sqlx::query_as::<_, SessionRow>(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE previous_refresh_hash = $1"
        ))
        .bind(refresh_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Replaces the session's tokens if `current_refresh_hash` is still its current one;
    /// `false` when another refresh won the race. `previous_refresh_hash` is the token
    /// presented: the one replaced, or for a retried refresh the one replaced before.
    #[allow(clippy::too_many_arguments)]
    pub async fn rotate_session(
        &self,
        id: &str,
        current_refresh_hash: &str,
        previous_refresh_hash: &str,
        access_hash: &str,
        access_expires_at_ms: i64,
        refresh_hash: &str,
        refresh_expires_at_ms: Option<i64>,
    ) -> AppResult<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET access_hash = $1, access_expires_at_ms = $2, refresh_hash = $3, \
             refresh_expires_at_ms = $4, previous_refresh_hash = $5, rotated_at_ms = $6 \
             WHERE id = $7 AND refresh_hash = $8 AND revoked_at_ms IS NULL",
        )
        .bind(access_hash)
        .bind(access_expires_at_ms)
        .bind(refresh_hash)
        .bind(refresh_expires_at_ms)
        .bind(previous_refresh_hash)
        .bind(self.now_ms())
        .bind(id)
        .bind(current_refresh_hash)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends the session; its user's push channel hears of it.
    pub async fn revoke_session(&self, id: &str, reason: &str) -> AppResult<()> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        let user: Option<(String,)> =
            sqlx::query_as("SELECT user_id FROM sessions WHERE id = $1 AND revoked_at_ms IS NULL")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((user_id,)) = user {
            sqlx::query("UPDATE sessions SET revoked_at_ms = $1, revoked_reason = $2 WHERE id = $3")
                .bind(now)
                .bind(reason)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            bump_user(&mut *tx, &user_id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session of the user but `keep` (the one that changed a secret; `""`
    /// keeps none).
    pub async fn revoke_other_sessions(&self, user_id: &str, keep: &str, reason: &str) -> AppResult<()> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE sessions SET revoked_at_ms = $1, revoked_reason = $2 \
             WHERE user_id = $3 AND id <> $4 AND revoked_at_ms IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(user_id)
        .bind(keep)
        .execute(&mut *tx)
        .await?;
        bump_user(&mut *tx, user_id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session of the user.
    pub async fn revoke_user_sessions(&self, user_id: &str, reason: &str) -> AppResult<()> {
        // No session has an empty id.
        self.revoke_other_sessions(user_id, "", reason).await
    }
}
