//! Credit: a balance per user and the log of every movement, written together.

use sqlx::Row;

use super::{enum_parse, Store};
use crate::error::AppResult;
use ream_wire::{CreditTransaction, TransactionKind};

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
        let t = super::ledger::move_credit(
            &mut tx,
            user_id,
            kind,
            amount_cents,
            comment,
            actor,
            may_go_negative,
            now,
        )
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
