//! Credit: a balance per user and the log of every movement, written together.

use sqlx::Row;

use super::{enum_parse, enum_str, new_id, Store};
use crate::error::{AppError, AppResult};
use ream_wire::{CreditTransaction, ErrorCode, TransactionKind};

impl Store {
    /// Moves the balance by `amount_cents` and logs it, atomically. With
    /// `may_go_negative` false, a movement that would leave the balance below zero is
    /// refused (`CONFLICT`) and nothing changes.
    pub async fn change_credit(
        &self,
        user_id: &str,
        kind: TransactionKind,
        amount_cents: i64,
        comment: &str,
        actor: &str,
        may_go_negative: bool,
    ) -> AppResult<CreditTransaction> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        // The balance moves first, in one statement: concurrent movements serialise on
        // the row and none is lost.
        let row = sqlx::query(
            "UPDATE users SET credit_cents = credit_cents + $1, version = version + 1, updated_at_ms = $2 \
             WHERE id = $3 AND ($4 = 1 OR credit_cents + $1 >= 0) RETURNING credit_cents, version",
        )
        .bind(amount_cents)
        .bind(now)
        .bind(user_id)
        .bind(may_go_negative as i64)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            // Either no such user or not enough credit; tell which.
            self.user_by_id(user_id).await?;
            return Err(AppError::new(ErrorCode::Conflict, "the balance would fall below zero"));
        };
        let balance: i64 = row.try_get(0)?;
        let seq: i64 = row.try_get(1)?;
        let t = CreditTransaction {
            id: new_id(),
            kind,
            amount_cents,
            balance_after_cents: balance,
            comment: comment.to_owned(),
            actor: actor.to_owned(),
            created_at_ms: now,
        };
        sqlx::query(
            "INSERT INTO credit_transactions (id, user_id, seq, kind, amount_cents, balance_after_cents, \
             comment, actor, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&t.id)
        .bind(user_id)
        .bind(seq)
        .bind(enum_str(kind))
        .bind(t.amount_cents)
        .bind(t.balance_after_cents)
        .bind(&t.comment)
        .bind(&t.actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(t)
    }

    /// The user's newest transactions first.
    pub async fn transactions(&self, user_id: &str, limit: i64) -> AppResult<Vec<CreditTransaction>> {
        let rows = sqlx::query(
            "SELECT id, kind, amount_cents, balance_after_cents, comment, actor, created_at_ms \
             FROM credit_transactions WHERE user_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CreditTransaction {
                    id: r.try_get("id")?,
                    kind: enum_parse(&r.try_get::<String, _>("kind")?).unwrap_or(TransactionKind::Adjustment),
                    amount_cents: r.try_get("amount_cents")?,
                    balance_after_cents: r.try_get("balance_after_cents")?,
                    comment: r.try_get("comment")?,
                    actor: r.try_get("actor")?,
                    created_at_ms: r.try_get("created_at_ms")?,
                })
            })
            .collect()
    }
}
