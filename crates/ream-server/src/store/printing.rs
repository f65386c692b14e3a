//! Price lists, printers, queues and jobs.

use sqlx::Row;

use super::{bump_user, enum_parse, enum_str, is_unique_violation, new_id, Store};
use crate::error::{AppError, AppResult};
use ream_wire::{
    AccountingMode, DetectionMethod, ErrorCode, Job, JobState, OfflinePolicy, OfflineSettings, PaymentChoice,
    PaymentKind, PriceList, Queue, ReleaseMode, SpoolingMode,
};

/// The id of the queue (not deleted) named `name`.
async fn live_queue_id(tx: &mut sqlx::AnyConnection, name: &str) -> AppResult<String> {
    Ok(sqlx::query("SELECT id FROM queues WHERE name = $1 AND deleted_at_ms IS NULL")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::not_found(format!("queue {name}")))?
        .try_get(0)?)
}

/// Makes `printers` (by name, in this order) the queue's fallback printers.
async fn set_fallbacks(tx: &mut sqlx::AnyConnection, queue_id: &str, printers: &[String]) -> AppResult<()> {
    sqlx::query("DELETE FROM queue_fallback_printers WHERE queue_id = $1")
        .bind(queue_id)
        .execute(&mut *tx)
        .await?;
    for (position, printer) in printers.iter().enumerate() {
        let done = sqlx::query(
            "INSERT INTO queue_fallback_printers (queue_id, printer_id, position) SELECT $1, id, $2 FROM printers \
             WHERE name = $3",
        )
        .bind(queue_id)
        .bind(position as i64)
        .bind(printer)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e, &format!("fallback printer {printer}")))?;
        if done.rows_affected() == 0 {
            return Err(AppError::not_found(format!("printer {printer}")));
        }
    }
    Ok(())
}

fn conflict(e: sqlx::Error, what: &str) -> AppError {
    if is_unique_violation(&e) {
        AppError::new(ErrorCode::Conflict, format!("{what} exists already"))
    } else {
        e.into()
    }
}

#[derive(Debug, Clone)]
pub struct PrinterRow {
    pub id: String,
    pub name: String,
    pub uri: String,
    pub price: PriceList,
    /// The pinned certificate of an IPPS printer.
    pub fingerprint: Option<String>,
}

#[derive(Debug, Clone)]
pub struct QueueRow {
    pub id: String,
    pub queue: Queue,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub owner_id: Option<String>,
    pub queue_id: String,
    pub queue_name: String,
    pub name: String,
    pub state: String,
    pub reason: Option<String>,
    pub pages: i64,
    pub copies: i64,
    pub colour: i64,
    pub duplex: i64,
    pub media: String,
    pub price_cents: i64,
    pub spool_file: Option<String>,
    pub holder: Option<String>,
    pub printer_id: Option<String>,
    pub printer_name: Option<String>,
    pub printer_job_id: Option<i64>,
    pub printer_job_floor: Option<i64>,
    pub account_kind: Option<String>,
    pub account_id: Option<String>,
    pub account_name: Option<String>,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub script_answers: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub owner_name: Option<String>,
    pub impressions_reported: Option<i64>,
    pub impressions_at_printer: Option<i64>,
    pub print_check: Option<String>,
    pub offline_workstation: Option<String>,
    pub offline_unaccounted: i64,
    pub offline_printer: Option<String>,
    pub offline_overdrawn: i64,
    /// A job of a workstation's own printer (local print monitoring).
    pub local_printer_id: Option<String>,
}

impl JobRow {
    /// Printed offline and reported by its workstation's journal.
    pub fn offline(&self) -> bool {
        self.offline_workstation.is_some()
    }

    pub fn state(&self) -> JobState {
        enum_parse(&self.state).unwrap_or(JobState::Failed)
    }

    pub fn payment(&self) -> Option<PaymentChoice> {
        let kind = enum_parse::<PaymentKind>(self.account_kind.as_deref()?)?;
        Some(PaymentChoice { kind, name: self.account_name.clone() })
    }

    /// The job as administrators review it.
    pub fn admin_view(&self) -> ream_wire::AdminJob {
        ream_wire::AdminJob {
            id: self.id.clone(),
            owner: self.owner_name.clone(),
            name: self.name.clone(),
            queue: self.queue_name.clone(),
            state: self.state(),
            printer: self.printer_name.clone().or_else(|| self.offline_printer.clone()),
            impressions_charged: self.pages * self.copies,
            impressions_reported: self.impressions_reported,
            impressions_at_printer: self.impressions_at_printer,
            check: self.print_check.as_deref().and_then(enum_parse),
            price_cents: self.price_cents,
            updated_at_ms: self.updated_at_ms,
            offline: self.offline_workstation.as_ref().map(|w| ream_wire::OfflineMark {
                workstation_id: w.clone(),
                unaccounted: self.offline_unaccounted != 0,
                overdrawn: self.offline_overdrawn != 0,
            }),
            local: self.local(),
        }
    }

    pub fn local(&self) -> bool {
        self.local_printer_id.is_some()
    }

    pub fn view(&self) -> Job {
        Job {
            id: self.id.clone(),
            name: self.name.clone(),
            queue: self.queue_name.clone(),
            state: self.state(),
            reason: self.reason.clone(),
            pages: self.pages,
            copies: self.copies,
            colour: self.colour != 0,
            duplex: self.duplex != 0,
            media: self.media.clone(),
            price_cents: self.price_cents,
            printer: self.printer_name.clone().or_else(|| self.offline_printer.clone()),
            payment: self.payment(),
            project: self.project_name.clone(),
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
            offline: self.offline(),
            local: self.local(),
        }
    }
}

pub(crate) const JOB_SELECT: &str =
    "SELECT j.id, j.owner_id, j.queue_id, COALESCE(lp.name, q.deleted_name, q.name) AS queue_name, j.name, j.state, j.reason, \
     j.pages, j.copies, j.colour, j.duplex, j.media, j.price_cents, j.spool_file, j.holder, j.printer_id, \
     p.name AS printer_name, j.printer_job_id, j.printer_job_floor, j.account_kind, j.account_id, ca.name AS account_name, j.project_id, \
     pa.name AS project_name, j.script_answers, j.created_at_ms, j.updated_at_ms, u.username AS owner_name, \
     j.impressions_reported, j.impressions_at_printer, j.print_check, j.offline_workstation, \
     j.offline_unaccounted, j.offline_printer, j.offline_overdrawn, j.local_printer_id \
     FROM jobs j JOIN queues q ON q.id = j.queue_id LEFT JOIN printers p ON p.id = j.printer_id \
     LEFT JOIN local_printers lp ON lp.id = j.local_printer_id \
     LEFT JOIN users u ON u.id = j.owner_id \
     LEFT JOIN shared_accounts ca ON ca.id = j.account_id LEFT JOIN shared_accounts pa ON pa.id = j.project_id";

pub struct NewJob<'a> {
    pub owner_id: &'a str,
    pub queue_id: &'a str,
    pub name: &'a str,
    pub state: JobState,
    pub pages: i64,
    pub copies: i64,
    pub colour: bool,
    pub duplex: bool,
    pub media: &'a str,
    pub price_cents: i64,
    pub spool_file: Option<&'a str>,
    /// The client that keeps the document (client spooling).
    pub holder: Option<&'a str>,
    pub printer_id: Option<&'a str>,
    pub account_kind: Option<PaymentKind>,
    pub account_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    /// The id the client gave the job in its local spool.
    pub client_job_id: Option<&'a str>,
    /// The size of `spool_file`.
    pub spool_bytes: i64,
    /// The workstation's own printer it prints on (local print monitoring).
    pub local_printer_id: Option<&'a str>,
}

/// The job as it is inside a transaction that has just changed it.
pub(crate) async fn job_in(conn: &mut sqlx::AnyConnection, id: &str) -> AppResult<JobRow> {
    Ok(sqlx::query_as::<_, JobRow>(&format!("{JOB_SELECT} WHERE j.id = $1"))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?)
}

/// The states in which a job may still print, as SQL values.
fn live_states() -> String {
    [JobState::WaitingForUser, JobState::Held, JobState::Printing]
        .map(|s| format!("'{}'", enum_str(s)))
        .join(", ")
}

/// How many jobs have `column` = `id`, those that may still print only when `live`.
async fn jobs_with(tx: &mut sqlx::AnyConnection, column: &str, id: &str, live: bool) -> AppResult<i64> {
    let filter = if live { format!(" AND state IN ({})", live_states()) } else { String::new() };
    let sql = format!("SELECT COUNT(*) FROM jobs WHERE {column} = $1{filter}");
    Ok(sqlx::query(&sql).bind(id).fetch_one(tx).await?.try_get(0)?)
}

fn names(rows: Vec<sqlx::any::AnyRow>) -> AppResult<Vec<String>> {
    rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
}

impl Store {
    pub async fn create_price_list(&self, p: &PriceList) -> AppResult<()> {
        sqlx::query(
            "INSERT INTO price_lists (id, name, mono_page_cents, colour_page_cents, duplex_page_discount_cents, \
             created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new_id())
        .bind(&p.name)
        .bind(p.mono_page_cents)
        .bind(p.colour_page_cents)
        .bind(p.duplex_page_discount_cents)
        .bind(self.now_ms())
        .execute(self.pool())
        .await
        .map_err(|e| conflict(e, &format!("price list {}", p.name)))?;
        Ok(())
    }

    pub async fn price_lists(&self) -> AppResult<Vec<PriceList>> {
        let rows = sqlx::query(
            "SELECT name, mono_page_cents, colour_page_cents, duplex_page_discount_cents FROM price_lists ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PriceList {
                    name: r.try_get(0)?,
                    mono_page_cents: r.try_get(1)?,
                    colour_page_cents: r.try_get(2)?,
                    duplex_page_discount_cents: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Deletes a price list no printer uses; `CONFLICT` naming the printers otherwise.
    pub async fn delete_price_list(&self, name: &str) -> AppResult<()> {
        let mut tx = self.pool().begin().await?;
        let users = names(
            sqlx::query(
                "SELECT p.name FROM printers p JOIN price_lists l ON l.id = p.price_list_id \
                 WHERE l.name = $1 ORDER BY p.name",
            )
            .bind(name)
            .fetch_all(&mut *tx)
            .await?,
        )?;
        if !users.is_empty() {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!("price list {name} is used by printer {}: delete those first", users.join(", ")),
            ));
        }
        let done =
            sqlx::query("DELETE FROM price_lists WHERE name = $1").bind(name).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(AppError::not_found(format!("price list {name}")));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_printer(
        &self,
        name: &str,
        uri: &str,
        price_list: &str,
        fingerprint: Option<&str>,
    ) -> AppResult<()> {
        let row = sqlx::query("SELECT id FROM price_lists WHERE name = $1")
            .bind(price_list)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| AppError::not_found(format!("price list {price_list}")))?;
        let price_id: String = row.try_get(0)?;
        sqlx::query(
            "INSERT INTO printers (id, name, uri, price_list_id, created_at_ms, tls_fingerprint) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new_id())
        .bind(name)
        .bind(uri)
        .bind(price_id)
        .bind(self.now_ms())
        .bind(fingerprint.map(str::to_string))
        .execute(self.pool())
        .await
        .map_err(|e| conflict(e, &format!("printer {name}")))?;
        Ok(())
    }

    async fn printer_rows(&self, filter: &str, arg: Option<&str>) -> AppResult<Vec<PrinterRow>> {
        let sql = format!(
            "SELECT p.id, p.name, p.uri, l.name, l.mono_page_cents, l.colour_page_cents, l.duplex_page_discount_cents, \
             p.tls_fingerprint FROM printers p JOIN price_lists l ON l.id = p.price_list_id {filter} ORDER BY p.name"
        );
        let mut q = sqlx::query(&sql);
        if let Some(a) = arg {
            q = q.bind(a.to_string());
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(PrinterRow {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    uri: r.try_get(2)?,
                    price: PriceList {
                        name: r.try_get(3)?,
                        mono_page_cents: r.try_get(4)?,
                        colour_page_cents: r.try_get(5)?,
                        duplex_page_discount_cents: r.try_get(6)?,
                    },
                    fingerprint: r.try_get(7)?,
                })
            })
            .collect()
    }

    pub async fn printers(&self) -> AppResult<Vec<PrinterRow>> {
        self.printer_rows("", None).await
    }

    pub async fn printer(&self, id: &str) -> AppResult<PrinterRow> {
        self.printer_rows("WHERE p.id = $1", Some(id))
            .await?
            .pop()
            .ok_or_else(|| AppError::not_found("printer"))
    }

    /// The printers of a queue, by name.
    pub async fn queue_printers(&self, queue_id: &str) -> AppResult<Vec<PrinterRow>> {
        self.printer_rows(
            "WHERE p.id IN (SELECT printer_id FROM queue_printers WHERE queue_id = $1)",
            Some(queue_id),
        )
        .await
    }

    /// A queue's fallback printers, in the administrator's order.
    pub async fn fallback_printers(&self, queue_id: &str) -> AppResult<Vec<PrinterRow>> {
        let order = sqlx::query(
            "SELECT printer_id FROM queue_fallback_printers WHERE queue_id = $1 ORDER BY position",
        )
        .bind(queue_id)
        .fetch_all(self.pool())
        .await?;
        let mut rows = self
            .printer_rows(
                "WHERE p.id IN (SELECT printer_id FROM queue_fallback_printers WHERE queue_id = $1)",
                Some(queue_id),
            )
            .await?;
        let order: Vec<String> = order.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
        rows.sort_by_key(|p| order.iter().position(|id| *id == p.id));
        Ok(rows)
    }

    /// Sets what a queue's jobs do while a workstation cannot reach the server.
    pub async fn set_queue_offline(&self, name: &str, offline: &OfflineSettings) -> AppResult<()> {
        let mut tx = self.pool().begin().await?;
        let id = live_queue_id(&mut tx, name).await?;
        sqlx::query(
            "UPDATE queues SET offline_policy = $1, offline_pick = $2, offline_after_seconds = $3 WHERE id = $4",
        )
        .bind(offline.policy.as_str())
        .bind(offline.pick as i64)
        .bind(offline.after_seconds)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        set_fallbacks(&mut tx, &id, &offline.fallback_printers).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a printer no queue uses and no job that may still print is on;
    /// `CONFLICT` naming what still refers to it otherwise. Finished jobs printed on it
    /// keep their record, without the printer's name.
    pub async fn delete_printer(&self, name: &str) -> AppResult<()> {
        let mut tx = self.pool().begin().await?;
        let id: String = sqlx::query("SELECT id FROM printers WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| AppError::not_found(format!("printer {name}")))?
            .try_get(0)?;
        let queues = names(
            sqlx::query(
                "SELECT q.name FROM queues q WHERE q.id IN (SELECT queue_id FROM queue_printers WHERE printer_id = $1) \
                 OR q.id IN (SELECT queue_id FROM queue_fallback_printers WHERE printer_id = $1) ORDER BY q.name",
            )
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?,
        )?;
        if !queues.is_empty() {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!("printer {name} is used by queue {}: delete those first", queues.join(", ")),
            ));
        }
        let live = jobs_with(&mut tx, "printer_id", &id, true).await?;
        if live > 0 {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!("printer {name} has {live} job(s) on their way to it; wait until they end"),
            ));
        }
        sqlx::query("DELETE FROM printers WHERE id = $1").bind(&id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a queue none of whose jobs may still print (waiting for their user, held
    /// or printing); `CONFLICT` with their number otherwise. A queue with finished jobs
    /// stays for their history under another name (see migration 0005), without its
    /// printers; a queue no job named goes entirely.
    pub async fn delete_queue(&self, name: &str) -> AppResult<()> {
        let mut tx = self.pool().begin().await?;
        let id = live_queue_id(&mut tx, name).await?;
        let live = jobs_with(&mut tx, "queue_id", &id, true).await?;
        if live > 0 {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!(
                    "queue {name} has {live} job(s) that may still print (waiting for their user, held or \
                     printing): they must print, be deleted by their owners or expire first"
                ),
            ));
        }
        let jobs = jobs_with(&mut tx, "queue_id", &id, false).await?;
        if jobs == 0 {
            sqlx::query("DELETE FROM queues WHERE id = $1").bind(&id).execute(&mut *tx).await?;
        } else {
            sqlx::query("DELETE FROM queue_printers WHERE queue_id = $1").bind(&id).execute(&mut *tx).await?;
            sqlx::query("UPDATE queues SET deleted_at_ms = $1, deleted_name = name, name = id WHERE id = $2")
                .bind(self.now_ms())
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_queue(&self, q: &Queue) -> AppResult<()> {
        let id = new_id();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO queues (id, name, detection, accounting, project_accounting, spooling, release_mode, \
             confirm_cost, script, created_at_ms, held_hours, offline_policy, offline_pick, offline_after_seconds) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&id)
        .bind(&q.name)
        .bind(enum_str(q.detection))
        .bind(enum_str(q.accounting))
        .bind(q.project_accounting as i64)
        .bind(enum_str(q.spooling))
        .bind(enum_str(q.release))
        .bind(q.confirm_cost as i64)
        .bind(&q.script)
        .bind(self.now_ms())
        .bind(q.held_hours)
        .bind(q.offline.policy.as_str())
        .bind(q.offline.pick as i64)
        .bind(q.offline.after_seconds)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e, &format!("queue {}", q.name)))?;
        set_fallbacks(&mut tx, &id, &q.offline.fallback_printers).await?;
        for printer in &q.printers {
            let done = sqlx::query(
                "INSERT INTO queue_printers (queue_id, printer_id) SELECT $1, id FROM printers WHERE name = $2",
            )
            .bind(&id)
            .bind(printer)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(AppError::not_found(format!("printer {printer}")));
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn queues(&self) -> AppResult<Vec<QueueRow>> {
        self.queues_where("deleted_at_ms IS NULL ORDER BY name", None).await
    }

    /// The queue with id `id`, deleted or not (the hidden queue of local jobs, say).
    pub async fn queue_row_by_id(&self, id: &str) -> AppResult<QueueRow> {
        self.queues_where("id = $1", Some(id))
            .await?
            .pop()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("queue {id} is missing")))
    }

    async fn queues_where(&self, filter: &str, bind: Option<&str>) -> AppResult<Vec<QueueRow>> {
        let sql = format!(
            "SELECT id, name, detection, accounting, project_accounting, spooling, release_mode, confirm_cost, \
             script, held_hours, offline_policy, offline_pick, offline_after_seconds FROM queues WHERE {filter}"
        );
        let mut query = sqlx::query(&sql);
        if let Some(b) = bind {
            query = query.bind(b);
        }
        let rows = query.fetch_all(self.pool()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get(0)?;
            let printers = self.queue_printers(&id).await?.into_iter().map(|p| p.name).collect();
            let fallback_printers = self.fallback_printers(&id).await?.into_iter().map(|p| p.name).collect();
            let bad = |what: &str| AppError::Internal(anyhow::anyhow!("queue with an unknown {what}"));
            out.push(QueueRow {
                queue: Queue {
                    name: r.try_get(1)?,
                    detection: enum_parse::<DetectionMethod>(&r.try_get::<String, _>(2)?)
                        .ok_or_else(|| bad("detection"))?,
                    accounting: enum_parse::<AccountingMode>(&r.try_get::<String, _>(3)?)
                        .ok_or_else(|| bad("accounting"))?,
                    project_accounting: r.try_get::<i64, _>(4)? != 0,
                    spooling: enum_parse::<SpoolingMode>(&r.try_get::<String, _>(5)?)
                        .ok_or_else(|| bad("spooling"))?,
                    release: enum_parse::<ReleaseMode>(&r.try_get::<String, _>(6)?)
                        .ok_or_else(|| bad("release"))?,
                    confirm_cost: r.try_get::<i64, _>(7)? != 0,
                    script: r.try_get(8)?,
                    printers,
                    held_hours: r.try_get(9)?,
                    offline: OfflineSettings {
                        policy: enum_parse::<OfflinePolicy>(&r.try_get::<String, _>(10)?)
                            .ok_or_else(|| bad("offline policy"))?,
                        fallback_printers,
                        pick: r.try_get::<i64, _>(11)? != 0,
                        after_seconds: r.try_get(12)?,
                    },
                },
                id,
            });
        }
        Ok(out)
    }

    /// Records a new job and, when its paying account is known already, its
    /// reservation, in one transaction: a job the account cannot cover is not recorded
    /// (`CREDIT_INSUFFICIENT`, `QUOTA_EXCEEDED`). A repeated client job id is a
    /// `CONFLICT`: the job made the first time is `job_by_client_id`.
    pub async fn insert_job(&self, j: &NewJob<'_>) -> AppResult<JobRow> {
        let now = self.now_ms();
        let id = new_id();
        let mut tx = self.pool().begin().await?;
        bump_user(&mut *tx, j.owner_id, now).await?;
        sqlx::query(
            "INSERT INTO jobs (id, owner_id, queue_id, name, state, pages, copies, colour, duplex, media, price_cents, \
             spool_file, printer_id, account_kind, account_id, project_id, reason, created_at_ms, updated_at_ms, holder, \
             client_job_id, spool_bytes, local_printer_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, $19, $20, $21, $22)",
        )
        .bind(&id)
        .bind(j.owner_id)
        .bind(j.queue_id)
        .bind(j.name)
        .bind(enum_str(j.state))
        .bind(j.pages)
        .bind(j.copies)
        .bind(j.colour as i64)
        .bind(j.duplex as i64)
        .bind(j.media)
        .bind(j.price_cents)
        .bind(j.spool_file)
        .bind(j.printer_id)
        .bind(j.account_kind.map(enum_str))
        .bind(j.account_id)
        .bind(j.project_id)
        .bind(j.reason)
        .bind(now)
        .bind(j.holder)
        .bind(j.client_job_id)
        .bind(j.spool_bytes)
        .bind(j.local_printer_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e, "a job with this client job id"))?;
        let job = job_in(&mut tx, &id).await?;
        super::ledger::follow(&mut tx, &job, j.state, now).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// The owner's job that their client submitted under `client_job_id`.
    pub async fn job_by_client_id(&self, owner_id: &str, client_job_id: &str) -> AppResult<Option<JobRow>> {
        Ok(sqlx::query_as::<_, JobRow>(&format!(
            "{JOB_SELECT} WHERE j.owner_id = $1 AND j.client_job_id = $2"
        ))
        .bind(owner_id)
        .bind(client_job_id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn job(&self, id: &str) -> AppResult<JobRow> {
        sqlx::query_as::<_, JobRow>(&format!("{JOB_SELECT} WHERE j.id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| AppError::not_found("job"))
    }

    pub async fn jobs_of(&self, owner_id: &str, limit: i64) -> AppResult<Vec<JobRow>> {
        Ok(sqlx::query_as::<_, JobRow>(&format!(
            "{JOB_SELECT} WHERE j.owner_id = $1 ORDER BY j.created_at_ms DESC, j.id LIMIT $2"
        ))
        .bind(owner_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// The owner's jobs changed at or after `since_ms`.
    pub async fn jobs_changed_since(&self, owner_id: &str, since_ms: i64) -> AppResult<Vec<JobRow>> {
        Ok(sqlx::query_as::<_, JobRow>(&format!(
            "{JOB_SELECT} WHERE j.owner_id = $1 AND j.updated_at_ms >= $2 ORDER BY j.updated_at_ms, j.id"
        ))
        .bind(owner_id)
        .bind(since_ms)
        .fetch_all(self.pool())
        .await?)
    }

    /// The cost centres the user's jobs were charged to, most recent first.
    pub async fn recent_accounts(&self, owner_id: &str) -> AppResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT account_id, MAX(updated_at_ms) AS last FROM jobs WHERE owner_id = $1 AND account_id IS NOT NULL \
             GROUP BY account_id ORDER BY last DESC LIMIT 50",
        )
        .bind(owner_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
    }

    /// The owner's released jobs whose documents the client `holder` keeps.
    pub async fn jobs_to_print_at(&self, owner_id: &str, holder: &str) -> AppResult<Vec<JobRow>> {
        Ok(sqlx::query_as::<_, JobRow>(&format!(
            "{JOB_SELECT} WHERE j.owner_id = $1 AND j.holder = $2 AND j.state = $3 ORDER BY j.created_at_ms"
        ))
        .bind(owner_id)
        .bind(holder)
        .bind(enum_str(JobState::Printing))
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn jobs_in_state(&self, state: JobState) -> AppResult<Vec<JobRow>> {
        Ok(sqlx::query_as::<_, JobRow>(&format!("{JOB_SELECT} WHERE j.state = $1 ORDER BY j.created_at_ms"))
            .bind(enum_str(state))
            .fetch_all(self.pool())
            .await?)
    }

    /// Moves a job to `state` if it is in `from`; false when it was not (someone else
    /// moved it first). The owner's account version moves with it, and so do its funds
    /// (`ledger::follow`): a move to held or printing takes the job's reservation (and
    /// fails, changing nothing, when the account cannot cover it), the one move to
    /// printed charges it, any other end gives the reservation back.
    pub async fn move_job(
        &self,
        id: &str,
        from: &[JobState],
        state: JobState,
        reason: Option<&str>,
        printer_id: Option<&str>,
    ) -> AppResult<bool> {
        self.move_job_fenced(id, from, state, reason, printer_id, None).await
    }

    /// Moves a job out of `printing` for the deliverer holding its lease under `token`
    /// (see [`Store::claim_delivery`]): false, changing nothing, once another holds it.
    pub async fn move_delivered(
        &self,
        id: &str,
        token: &str,
        state: JobState,
        reason: Option<&str>,
    ) -> AppResult<bool> {
        self.move_job_fenced(id, &[JobState::Printing], state, reason, None, Some(token)).await
    }

    async fn move_job_fenced(
        &self,
        id: &str,
        from: &[JobState],
        state: JobState,
        reason: Option<&str>,
        printer_id: Option<&str>,
        fence: Option<&str>,
    ) -> AppResult<bool> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        let from_list = from.iter().map(|s| format!("'{}'", enum_str(*s))).collect::<Vec<_>>().join(", ");
        let fenced = if fence.is_some() { " AND delivery_token = $6" } else { "" };
        let sql = format!(
            // A move ends the job's delivery, if one was under way: moving into `printing`
            // starts one that no run holds yet.
            "UPDATE jobs SET state = $1, reason = COALESCE($2, reason), printer_id = COALESCE($3, printer_id), \
             updated_at_ms = $4, delivery_instance = NULL, delivery_token = NULL, lease_until_ms = NULL \
             WHERE id = $5 AND state IN ({from_list}){fenced}"
        );
        let mut query =
            sqlx::query(&sql).bind(enum_str(state)).bind(reason).bind(printer_id).bind(now).bind(id);
        if let Some(token) = fence {
            query = query.bind(token);
        }
        let done = query.execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let job = job_in(&mut tx, id).await?;
        if let Some(owner) = &job.owner_id {
            bump_user(&mut *tx, owner, now).await?;
        }
        super::ledger::follow(&mut tx, &job, state, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Forgets the job's document on the server (it was deleted).
    pub async fn clear_job_spool(&self, id: &str) -> AppResult<()> {
        sqlx::query("UPDATE jobs SET spool_file = NULL, spool_bytes = 0 WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// What the documents of the user's jobs take in the server's spool.
    pub async fn spooled_bytes_of(&self, owner_id: &str) -> AppResult<i64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(spool_bytes), 0) AS BIGINT) FROM jobs WHERE owner_id = $1 AND spool_file IS NOT NULL",
        )
        .bind(owner_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get(0)?)
    }

    pub async fn set_job_answers(&self, id: &str, answers: &str) -> AppResult<()> {
        sqlx::query("UPDATE jobs SET script_answers = $1 WHERE id = $2")
            .bind(answers)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_job_project(&self, id: &str, project_id: Option<&str>) -> AppResult<()> {
        sqlx::query("UPDATE jobs SET project_id = $1 WHERE id = $2")
            .bind(project_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records the user's choices from the job dialog.
    pub async fn set_job_choice(
        &self,
        id: &str,
        kind: PaymentKind,
        account_id: Option<&str>,
        project_id: Option<&str>,
    ) -> AppResult<()> {
        sqlx::query("UPDATE jobs SET account_kind = $1, account_id = $2, project_id = $3 WHERE id = $4")
            .bind(enum_str(kind))
            .bind(account_id)
            .bind(project_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records how the job is really printed (what the printer could do) and its price.
    /// With `fence`, only while the deliverer holding that token has the job (false
    /// otherwise); so for every setter below that takes one.
    pub async fn set_job_printing(
        &self,
        id: &str,
        colour: bool,
        duplex: bool,
        media: &str,
        price_cents: i64,
        fence: Option<&str>,
    ) -> AppResult<bool> {
        let sql = fenced(
            "UPDATE jobs SET colour = $1, duplex = $2, media = $3, price_cents = $4 WHERE id = $5",
            6,
            fence,
        );
        let query =
            sqlx::query(&sql).bind(colour as i64).bind(duplex as i64).bind(media).bind(price_cents).bind(id);
        run_fenced(self.pool(), query, fence).await
    }

    pub async fn clear_printer_job_id(&self, id: &str) -> AppResult<()> {
        sqlx::query("UPDATE jobs SET printer_job_id = NULL, printer_job_floor = NULL WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Notes the printer's newest job id before the job's document is sent there.
    pub async fn set_printer_job_floor(&self, id: &str, floor: i64, fence: Option<&str>) -> AppResult<bool> {
        let sql = fenced("UPDATE jobs SET printer_job_floor = $1 WHERE id = $2", 3, fence);
        let query = sqlx::query(&sql).bind(floor).bind(id);
        run_fenced(self.pool(), query, fence).await
    }

    /// Records what the printer (and the client that printed it) counted, and the check.
    pub async fn set_print_check(
        &self,
        id: &str,
        reported: Option<i64>,
        at_printer: Option<i64>,
        check: ream_wire::PrintCheck,
        fence: Option<&str>,
    ) -> AppResult<bool> {
        let sql = fenced(
            "UPDATE jobs SET impressions_reported = $1, impressions_at_printer = $2, print_check = $3 WHERE id = $4",
            5,
            fence,
        );
        let query = sqlx::query(&sql).bind(reported).bind(at_printer).bind(enum_str(check)).bind(id);
        run_fenced(self.pool(), query, fence).await
    }

    /// Jobs, newest change first; with `mismatch_only`, those whose printer disagreed.
    pub async fn admin_jobs(&self, mismatch_only: bool, limit: i64) -> AppResult<Vec<JobRow>> {
        let filter = if mismatch_only { "WHERE j.print_check = 'mismatch'" } else { "" };
        Ok(sqlx::query_as::<_, JobRow>(&format!(
            "{JOB_SELECT} {filter} ORDER BY j.updated_at_ms DESC, j.id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn set_printer_job_id(
        &self,
        id: &str,
        printer_job_id: i64,
        fence: Option<&str>,
    ) -> AppResult<bool> {
        let sql = fenced("UPDATE jobs SET printer_job_id = $1 WHERE id = $2", 3, fence);
        let query = sqlx::query(&sql).bind(printer_job_id).bind(id);
        run_fenced(self.pool(), query, fence).await
    }

    /// Takes the delivery of a job in `printing` that the server prints, for the run
    /// `token` of `instance`, until `until_ms`: when no run holds it, its lease has run
    /// out, or (`take_from`) a previous run of the instance so named held it. False when
    /// another run holds it, or the job is not (or no longer) the server's to print.
    pub async fn claim_delivery(
        &self,
        id: &str,
        instance: &str,
        token: &str,
        until_ms: i64,
        take_from: Option<&str>,
    ) -> AppResult<bool> {
        let also = if take_from.is_some() { " OR delivery_instance = $6" } else { "" };
        let sql = format!(
            "UPDATE jobs SET delivery_instance = $1, delivery_token = $2, lease_until_ms = $3 \
             WHERE id = $4 AND state = 'printing' AND holder IS NULL \
             AND (delivery_token IS NULL OR lease_until_ms < $5{also})"
        );
        let mut query =
            sqlx::query(&sql).bind(instance).bind(token).bind(until_ms).bind(id).bind(self.now_ms());
        if let Some(from) = take_from {
            query = query.bind(from);
        }
        Ok(query.execute(self.pool()).await?.rows_affected() == 1)
    }

    /// Extends the lease `token` holds on a job; false when it holds it no longer.
    pub async fn renew_delivery(&self, id: &str, token: &str, until_ms: i64) -> AppResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_until_ms = $1 WHERE id = $2 AND delivery_token = $3 AND state = 'printing'",
        )
        .bind(until_ms)
        .bind(id)
        .bind(token)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Jobs in `printing` the server prints whose delivery no run holds now (none took
    /// it yet, or its lease ran out), oldest first.
    pub async fn deliveries_to_take(&self) -> AppResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM jobs WHERE state = 'printing' AND holder IS NULL \
             AND (delivery_token IS NULL OR lease_until_ms < $1) ORDER BY created_at_ms",
        )
        .bind(self.now_ms())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
    }
}

/// `sql` (whose last placeholder is `$(n-1)`) with, given a fence, `AND delivery_token = $n`.
fn fenced(sql: &str, n: usize, fence: Option<&str>) -> String {
    match fence {
        Some(_) => format!("{sql} AND delivery_token = ${n}"),
        None => sql.to_string(),
    }
}

/// Runs a query made with [`fenced`], binding the fence; whether it changed the job
/// (always true without a fence).
async fn run_fenced<'q>(
    pool: &sqlx::AnyPool,
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    fence: Option<&'q str>,
) -> AppResult<bool> {
    let query = match fence {
        Some(token) => query.bind(token),
        None => query,
    };
    let done = query.execute(pool).await?;
    Ok(fence.is_none() || done.rows_affected() == 1)
}
