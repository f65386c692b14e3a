//! Enrolled workstations, their one-time enrolment codes, and the nonces of the proofs
//! they have signed (each proof is accepted once).

use sqlx::Row;

use super::{is_unique_violation, new_id, Store};
use crate::error::{AppError, AppResult};
use ream_wire::{ErrorCode, Workstation};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkstationRow {
    pub id: String,
    pub name: String,
    pub public_key: String,
    pub enrolled_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
}

impl WorkstationRow {
    pub fn view(&self) -> Workstation {
        Workstation {
            id: self.id.clone(),
            name: self.name.clone(),
            enrolled_at_ms: self.enrolled_at_ms,
            revoked_at_ms: self.revoked_at_ms,
            last_seen_ms: self.last_seen_ms,
        }
    }
}

const WS_COLUMNS: &str = "id, name, public_key, enrolled_at_ms, revoked_at_ms, last_seen_ms";

impl Store {
    pub async fn create_enrolment_code(&self, code_hash: &str, expires_at_ms: i64) -> AppResult<()> {
        sqlx::query(
            "INSERT INTO enrolment_codes (code_hash, created_at_ms, expires_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(code_hash)
        .bind(self.now_ms())
        .bind(expires_at_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Spends the code and registers the workstation, in one transaction: a code enrols
    /// exactly one workstation even when two try at once.
    pub async fn enrol_workstation(
        &self,
        code_hash: &str,
        name: &str,
        public_key: &str,
    ) -> AppResult<WorkstationRow> {
        let now = self.now_ms();
        let id = new_id();
        let mut tx = self.pool().begin().await?;
        let spent = sqlx::query(
            "UPDATE enrolment_codes SET used_at_ms = $1, workstation_id = $2 \
             WHERE code_hash = $3 AND used_at_ms IS NULL AND expires_at_ms > $1",
        )
        .bind(now)
        .bind(&id)
        .bind(code_hash)
        .execute(&mut *tx)
        .await?;
        if spent.rows_affected() != 1 {
            return Err(AppError::new(
                ErrorCode::EnrolmentCodeInvalid,
                "this enrolment code is unknown, used or expired",
            ));
        }
        let res = sqlx::query(
            "INSERT INTO workstations (id, name, public_key, enrolled_at_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(name)
        .bind(public_key)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match res {
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::new(ErrorCode::Conflict, "this key is enrolled already"))
            }
            other => other?,
        };
        tx.commit().await?;
        self.workstation(&id).await?.ok_or_else(|| AppError::not_found("workstation"))
    }

    pub async fn workstation(&self, id: &str) -> AppResult<Option<WorkstationRow>> {
        Ok(sqlx::query_as::<_, WorkstationRow>(&format!(
            "SELECT {WS_COLUMNS} FROM workstations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn list_workstations(&self) -> AppResult<Vec<WorkstationRow>> {
        Ok(sqlx::query_as::<_, WorkstationRow>(&format!(
            "SELECT {WS_COLUMNS} FROM workstations ORDER BY enrolled_at_ms, id"
        ))
        .fetch_all(self.pool())
        .await?)
    }

    /// Revokes the workstation and ends every session it opened.
    pub async fn revoke_workstation(&self, id: &str) -> AppResult<()> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        let done =
            sqlx::query("UPDATE workstations SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(AppError::not_found("active workstation"));
        }
        sqlx::query(
            "UPDATE users SET version = version + 1, updated_at_ms = $1 WHERE id IN \
             (SELECT user_id FROM sessions WHERE workstation_id = $2 AND revoked_at_ms IS NULL)",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE sessions SET revoked_at_ms = $1, revoked_reason = 'workstation revoked' \
             WHERE workstation_id = $2 AND revoked_at_ms IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn touch_workstation(&self, id: &str) -> AppResult<()> {
        sqlx::query("UPDATE workstations SET last_seen_ms = $1 WHERE id = $2")
            .bind(self.now_ms())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records a proof's nonce; `false` when it was seen before (a replay). Nonces are
    /// kept until their proof could no longer be accepted anyway.
    pub async fn use_nonce(&self, workstation_id: &str, nonce: &str, keep_until_ms: i64) -> AppResult<bool> {
        let now = self.now_ms();
        sqlx::query("DELETE FROM used_nonces WHERE expires_at_ms < $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        let res =
            sqlx::query("INSERT INTO used_nonces (workstation_id, nonce, expires_at_ms) VALUES ($1, $2, $3)")
                .bind(workstation_id)
                .bind(nonce)
                .bind(keep_until_ms)
                .execute(self.pool())
                .await;
        match res {
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
            Ok(_) => Ok(true),
        }
    }

    pub async fn count_active_workstations(&self) -> AppResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM workstations WHERE revoked_at_ms IS NULL")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }
}
