//! Offline operation: users' and groups' offline credit lines, and the journals
//! workstations replay. Each journal entry is taken once (by its id), in the one
//! transaction that also makes or ends the job it tells of, so an entry repeated, or
//! replayed by two requests at once, never makes a second job or a second charge.

use sqlx::Row;

use super::printing::{job_in, JOB_SELECT};
use super::{bump_user, enum_str, is_unique_violation, new_id, Store};
use crate::error::{AppError, AppResult};
use ream_wire::{JobState, JournalEntry, JournalRefusal, JournalStatus, OfflineLine, PaymentKind};

/// Whose offline credit line is set.
#[derive(Debug, Clone, Copy)]
pub enum LineOwner {
    User,
    Group,
}

/// A job printed offline, as the server records it.
pub struct OfflineJobRow<'a> {
    pub owner_id: &'a str,
    pub queue_id: &'a str,
    pub name: &'a str,
    pub pages: i64,
    pub copies: i64,
    pub colour: bool,
    pub duplex: bool,
    pub media: &'a str,
    pub price_cents: i64,
    /// A printer the server knows (a fallback printer), else its name in `printer_name`.
    pub printer_id: Option<&'a str>,
    pub printer_name: &'a str,
    pub account_kind: Option<PaymentKind>,
    pub account_id: Option<&'a str>,
    pub unaccounted: bool,
    pub client_job_id: &'a str,
    /// A job of a monitored local queue (local print monitoring).
    pub local_printer_id: Option<&'a str>,
}

/// What a journal entry does once taken.
pub enum JournalEffect<'a> {
    /// Records the job (in `printing`, holding nothing: it printed already).
    Job(OfflineJobRow<'a>),
    /// Takes the job `job_id` the server has already (a local job granted online whose
    /// grant the workstation never heard) as the one the journal tells of, so that the
    /// journal's outcome ends it.
    Adopt { job_id: &'a str },
    /// Ends the workstation's job `client_job_id` of `owner_id`: printed (charged, below
    /// zero if need be) or failed.
    Outcome {
        owner_id: &'a str,
        client_job_id: &'a str,
        printed: bool,
        reason: Option<&'a str>,
        printer_job_id: Option<i64>,
        impressions: Option<i64>,
    },
}

impl Store {
    /// Sets a user's (or a group's) offline credit line; the accounts it shows in are
    /// bumped, so that their clients hear of it.
    pub async fn set_offline_line(&self, owner: LineOwner, name: &str, line: &OfflineLine) -> AppResult<()> {
        let (sql, members) = match owner {
            LineOwner::User => (
                "UPDATE users SET offline_pages = $1, offline_cents = $2 WHERE username = $3",
                "SELECT id FROM users WHERE username = $1",
            ),
            LineOwner::Group => (
                "UPDATE user_groups SET offline_pages = $1, offline_cents = $2 WHERE name = $3",
                "SELECT m.user_id FROM group_members m JOIN user_groups g ON g.id = m.group_id WHERE g.name = $1",
            ),
        };
        let mut tx = self.pool().begin().await?;
        let done =
            sqlx::query(sql).bind(line.pages).bind(line.amount_cents).bind(name).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            let what = match owner {
                LineOwner::User => "user",
                LineOwner::Group => "group",
            };
            return Err(AppError::not_found(format!("{what} {name}")));
        }
        let now = self.now_ms();
        for row in sqlx::query(members).bind(name).fetch_all(&mut *tx).await? {
            let id: String = row.try_get(0)?;
            bump_user(&mut *tx, &id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The user's offline credit line: their own where one is set, else the most
    /// generous of their groups' (a group without a limit on pages or money gives none),
    /// else none at all.
    pub async fn offline_line_of(&self, user_id: &str) -> AppResult<OfflineLine> {
        let own = sqlx::query("SELECT offline_pages, offline_cents FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(self.pool())
            .await?;
        let own = OfflineLine { pages: own.try_get(0)?, amount_cents: own.try_get(1)? };
        if own.pages.is_some() || own.amount_cents.is_some() {
            return Ok(own);
        }
        let groups = sqlx::query(
            "SELECT g.offline_pages, g.offline_cents FROM user_groups g JOIN group_members m ON m.group_id = g.id \
             WHERE m.user_id = $1 AND (g.offline_pages IS NOT NULL OR g.offline_cents IS NOT NULL)",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        let mut lines = Vec::with_capacity(groups.len());
        for r in &groups {
            lines.push((r.try_get::<Option<i64>, _>(0)?, r.try_get::<Option<i64>, _>(1)?));
        }
        if lines.is_empty() {
            return Ok(OfflineLine::default());
        }
        let most = |values: Vec<Option<i64>>| -> Option<i64> {
            if values.iter().any(Option::is_none) {
                None
            } else {
                values.into_iter().flatten().max()
            }
        };
        Ok(OfflineLine {
            pages: most(lines.iter().map(|l| l.0).collect()),
            amount_cents: most(lines.iter().map(|l| l.1).collect()),
        })
    }

    /// Whether the workstation's entry was taken already.
    pub async fn journal_entry_known(&self, entry_id: &str) -> AppResult<bool> {
        Ok(sqlx::query("SELECT 1 FROM journal_entries WHERE id = $1")
            .bind(entry_id)
            .fetch_optional(self.pool())
            .await?
            .is_some())
    }

    /// Takes one journal entry: notes it (once: a second take of the same id is a
    /// `Duplicate`, changing nothing), moves the workstation's chain head, and applies
    /// its effect, all in one transaction. `chained` says whether it followed the head.
    pub async fn take_journal_entry(
        &self,
        workstation_id: &str,
        entry: &JournalEntry,
        hash: &str,
        effect: JournalEffect<'_>,
    ) -> AppResult<JournalStatus> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        // Written first: on SQLite the transaction takes the write lock now, not on a
        // later write after reads, which two concurrent takers could not both upgrade.
        let noted = sqlx::query(
            "INSERT INTO journal_entries (id, workstation_id, seq, chained, received_at_ms) VALUES ($1, $2, $3, 0, $4)",
        )
        .bind(&entry.id)
        .bind(workstation_id)
        .bind(entry.seq)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match noted {
            Err(e) if is_unique_violation(&e) => return Ok(JournalStatus::Duplicate),
            other => other?,
        };
        let head = sqlx::query("SELECT seq, hash FROM journal_heads WHERE workstation_id = $1")
            .bind(workstation_id)
            .fetch_optional(&mut *tx)
            .await?;
        let (head_seq, head_hash) = match &head {
            Some(r) => (r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?),
            None => (0, String::new()),
        };
        let chained = entry.seq == head_seq + 1 && entry.prev == head_hash;
        if !chained {
            tracing::warn!(workstation = %workstation_id, seq = entry.seq, head = head_seq,
                "a journal entry does not follow the one before: entries are missing or were edited");
        }
        if entry.seq > head_seq {
            let moved = if head.is_some() {
                sqlx::query("UPDATE journal_heads SET seq = $1, hash = $2 WHERE workstation_id = $3")
            } else {
                sqlx::query("INSERT INTO journal_heads (seq, hash, workstation_id) VALUES ($1, $2, $3)")
            };
            moved.bind(entry.seq).bind(hash).bind(workstation_id).execute(&mut *tx).await?;
        }
        let job_id = match effect {
            JournalEffect::Job(j) => {
                let id = new_id();
                bump_user(&mut *tx, j.owner_id, now).await?;
                let inserted = sqlx::query(
                    "INSERT INTO jobs (id, owner_id, queue_id, name, state, pages, copies, colour, duplex, media, \
                     price_cents, printer_id, account_kind, account_id, created_at_ms, updated_at_ms, client_job_id, \
                     offline_workstation, offline_unaccounted, offline_printer, local_printer_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, $17, $18, $19, $20)",
                )
                .bind(&id)
                .bind(j.owner_id)
                .bind(j.queue_id)
                .bind(j.name)
                .bind(enum_str(JobState::Printing))
                .bind(j.pages)
                .bind(j.copies)
                .bind(j.colour as i64)
                .bind(j.duplex as i64)
                .bind(j.media)
                .bind(j.price_cents)
                .bind(j.printer_id)
                .bind(j.account_kind.map(enum_str))
                .bind(j.account_id)
                .bind(entry.at_ms)
                .bind(j.client_job_id)
                .bind(workstation_id)
                .bind(j.unaccounted as i64)
                .bind(j.printer_name)
                .bind(j.local_printer_id)
                .execute(&mut *tx)
                .await;
                match inserted {
                    // The server has a job under this id already: the document reached
                    // it before the workstation lost it, or the entry is forged.
                    Err(e) if is_unique_violation(&e) => {
                        return Err(AppError::new(
                            ream_wire::ErrorCode::Conflict,
                            "the server has a job under this id already",
                        ))
                    }
                    other => other?,
                };
                let job = job_in(&mut tx, &id).await?;
                super::ledger::follow(&mut tx, &job, JobState::Printing, now).await?;
                Some(id)
            }
            JournalEffect::Adopt { job_id } => {
                let adopted = sqlx::query(
                    "UPDATE jobs SET offline_workstation = $1 WHERE id = $2 AND offline_workstation IS NULL",
                )
                .bind(workstation_id)
                .bind(job_id)
                .execute(&mut *tx)
                .await?;
                if adopted.rows_affected() == 0 {
                    return Err(AppError::new(
                        ream_wire::ErrorCode::Conflict,
                        "the job was reported already",
                    ));
                }
                Some(job_id.to_string())
            }
            JournalEffect::Outcome {
                owner_id,
                client_job_id,
                printed,
                reason,
                printer_job_id,
                impressions,
            } => {
                let job = sqlx::query_as::<_, super::JobRow>(&format!(
                    "{JOB_SELECT} WHERE j.owner_id = $1 AND j.client_job_id = $2 AND j.offline_workstation = $3"
                ))
                .bind(owner_id)
                .bind(client_job_id)
                .bind(workstation_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| AppError::not_found("the offline job this outcome is about"))?;
                let to = if printed { JobState::Printed } else { JobState::Failed };
                let moved = sqlx::query(
                    "UPDATE jobs SET state = $1, reason = $2, printer_job_id = $3, impressions_reported = $4, \
                     print_check = $5, updated_at_ms = $6 WHERE id = $7 AND state = $8",
                )
                .bind(enum_str(to))
                .bind(reason)
                .bind(printer_job_id)
                .bind(impressions)
                .bind(enum_str(ream_wire::PrintCheck::Unverified))
                .bind(now)
                .bind(&job.id)
                .bind(enum_str(JobState::Printing))
                .execute(&mut *tx)
                .await?;
                if moved.rows_affected() == 0 {
                    return Err(AppError::new(
                        ream_wire::ErrorCode::Conflict,
                        "the offline job has ended already",
                    ));
                }
                bump_user(&mut *tx, owner_id, now).await?;
                let job = job_in(&mut tx, &job.id).await?;
                super::ledger::follow(&mut tx, &job, to, now).await?;
                Some(job.id)
            }
        };
        sqlx::query("UPDATE journal_entries SET job_id = $1, chained = $2 WHERE id = $3")
            .bind(job_id)
            .bind(chained as i64)
            .bind(&entry.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(JournalStatus::Accepted)
    }

    /// The owner of the job a workstation reported under `client_job_id`.
    pub async fn offline_job_owner(
        &self,
        workstation_id: &str,
        client_job_id: &str,
    ) -> AppResult<Option<String>> {
        let row =
            sqlx::query("SELECT owner_id FROM jobs WHERE offline_workstation = $1 AND client_job_id = $2")
                .bind(workstation_id)
                .bind(client_job_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => None,
        })
    }

    /// Writes down an entry the server refused, for administrators.
    pub async fn refuse_journal_entry(
        &self,
        workstation_id: &str,
        entry: &JournalEntry,
        reason: &str,
    ) -> AppResult<()> {
        let raw = serde_json::to_string(entry).map_err(|e| AppError::Internal(e.into()))?;
        sqlx::query(
            "INSERT INTO journal_refusals (id, workstation_id, entry_id, seq, reason, entry, at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new_id())
        .bind(workstation_id)
        .bind(&entry.id)
        .bind(entry.seq)
        .bind(reason)
        .bind(raw)
        .bind(self.now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn journal_refusals(&self, limit: i64) -> AppResult<Vec<JournalRefusal>> {
        let rows = sqlx::query(
            "SELECT workstation_id, entry_id, seq, reason, at_ms FROM journal_refusals ORDER BY at_ms DESC, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JournalRefusal {
                    workstation_id: r.try_get(0)?,
                    entry_id: r.try_get(1)?,
                    seq: r.try_get(2)?,
                    reason: r.try_get(3)?,
                    at_ms: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Jobs printed offline, newest first.
    pub async fn offline_jobs(&self, limit: i64) -> AppResult<Vec<super::JobRow>> {
        Ok(sqlx::query_as::<_, super::JobRow>(&format!(
            "{JOB_SELECT} WHERE j.offline_workstation IS NOT NULL ORDER BY j.updated_at_ms DESC, j.id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}
