//! Local print monitoring: the administrator's policy and the workstations' own printers
//! (`queue@workstation`), recorded on their first job. Local jobs themselves are jobs
//! like any other (`insert_job`), of the hidden queue [`LOCAL_QUEUE`].

use sqlx::Row;

use super::{enum_parse, enum_str, new_id, Store};
use crate::error::{AppError, AppResult};
use ream_wire::{LocalMonitoring, LocalPrinter, PriceList};

/// The queue every local job belongs to; no listing shows it (see migration 0007).
pub const LOCAL_QUEUE: &str = "local";

/// A workstation's printer as pricing needs it.
#[derive(Debug, Clone)]
pub struct LocalPrinterRow {
    pub id: String,
    pub name: String,
    /// Its own price list, else the policy's; none at all: local jobs cannot be priced.
    pub price: Option<PriceList>,
}

const PRICE_COLUMNS: &str = "l.name, l.mono_page_cents, l.colour_page_cents, l.duplex_page_discount_cents";

fn price_in(r: &sqlx::any::AnyRow, from: usize) -> AppResult<Option<PriceList>> {
    let Some(name) = r.try_get::<Option<String>, _>(from)? else { return Ok(None) };
    Ok(Some(PriceList {
        name,
        mono_page_cents: r.try_get(from + 1)?,
        colour_page_cents: r.try_get(from + 2)?,
        duplex_page_discount_cents: r.try_get(from + 3)?,
    }))
}

async fn price_list_id(conn: &mut sqlx::AnyConnection, name: &str) -> AppResult<String> {
    Ok(sqlx::query("SELECT id FROM price_lists WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::not_found(format!("price list {name}")))?
        .try_get(0)?)
}

impl Store {
    pub async fn local_monitoring(&self) -> AppResult<LocalMonitoring> {
        let r = sqlx::query(
            "SELECT m.enabled, m.queues, m.offline, m.charge_by, l.name FROM local_monitoring m \
             LEFT JOIN price_lists l ON l.id = m.price_list_id WHERE m.id = 1",
        )
        .fetch_one(self.pool())
        .await?;
        let bad = |what: &str| AppError::Internal(anyhow::anyhow!("local monitoring with an unknown {what}"));
        Ok(LocalMonitoring {
            enabled: r.try_get::<i64, _>(0)? != 0,
            queues: serde_json::from_str(&r.try_get::<String, _>(1)?).map_err(|_| bad("queue list"))?,
            offline: enum_parse(&r.try_get::<String, _>(2)?).ok_or_else(|| bad("offline policy"))?,
            charge_by: enum_parse(&r.try_get::<String, _>(3)?).ok_or_else(|| bad("count"))?,
            price_list: r.try_get(4)?,
        })
    }

    pub async fn set_local_monitoring(&self, m: &LocalMonitoring) -> AppResult<()> {
        let mut tx = self.pool().begin().await?;
        let list = match &m.price_list {
            Some(name) => Some(price_list_id(&mut tx, name).await?),
            None => None,
        };
        sqlx::query(
            "UPDATE local_monitoring SET enabled = $1, queues = $2, offline = $3, charge_by = $4, price_list_id = $5 \
             WHERE id = 1",
        )
        .bind(m.enabled as i64)
        .bind(serde_json::to_string(&m.queues).map_err(anyhow::Error::from)?)
        .bind(enum_str(m.offline))
        .bind(enum_str(m.charge_by))
        .bind(list)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The workstation's printer for its CUPS queue, recorded now if this is its first
    /// job (as `queue@workstation`; the device is kept up to date).
    pub async fn local_printer(
        &self,
        workstation_id: &str,
        workstation_name: &str,
        cups_queue: &str,
        device_uri: &str,
    ) -> AppResult<LocalPrinterRow> {
        let sql = format!(
            "SELECT p.id, p.name, {PRICE_COLUMNS} FROM local_printers p \
             LEFT JOIN price_lists l ON l.id = COALESCE(p.price_list_id, \
             (SELECT price_list_id FROM local_monitoring WHERE id = 1)) \
             WHERE p.workstation_id = $1 AND p.cups_queue = $2"
        );
        let find = || sqlx::query(&sql).bind(workstation_id).bind(cups_queue);
        let row = match find().fetch_optional(self.pool()).await? {
            Some(r) => r,
            None => {
                // Two workstations may share a host name: the second one's printer says
                // which workstation it is.
                let mut name = format!("{cups_queue}@{workstation_name}");
                let taken = sqlx::query("SELECT 1 FROM local_printers WHERE name = $1")
                    .bind(&name)
                    .fetch_optional(self.pool())
                    .await?
                    .is_some();
                if taken {
                    name = format!(
                        "{cups_queue}@{workstation_name}-{}",
                        &workstation_id[..8.min(workstation_id.len())]
                    );
                }
                let inserted = sqlx::query(
                    "INSERT INTO local_printers (id, name, workstation_id, cups_queue, device_uri, first_job_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(new_id())
                .bind(&name)
                .bind(workstation_id)
                .bind(cups_queue)
                .bind(device_uri)
                .bind(self.now_ms())
                .execute(self.pool())
                .await;
                match inserted {
                    // Recorded by a concurrent first job.
                    Err(e) if super::is_unique_violation(&e) => {}
                    other => {
                        other?;
                        tracing::info!(printer = %name, device = %device_uri, "local printer recorded");
                    }
                }
                find().fetch_one(self.pool()).await?
            }
        };
        Ok(LocalPrinterRow { id: row.try_get(0)?, name: row.try_get(1)?, price: price_in(&row, 2)? })
    }

    /// Gives the local printer `name` (`queue@workstation`) its own price list, or back the policy's.
    pub async fn set_local_printer_price(&self, name: &str, price_list: Option<&str>) -> AppResult<()> {
        let mut tx = self.pool().begin().await?;
        let list = match price_list {
            Some(l) => Some(price_list_id(&mut tx, l).await?),
            None => None,
        };
        let done = sqlx::query("UPDATE local_printers SET price_list_id = $1 WHERE name = $2")
            .bind(list)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(AppError::not_found(format!("local printer {name}")));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn local_printers(&self) -> AppResult<Vec<LocalPrinter>> {
        let rows = sqlx::query(
            "SELECT p.name, p.workstation_id, p.cups_queue, p.device_uri, l.name, p.first_job_at_ms \
             FROM local_printers p LEFT JOIN price_lists l ON l.id = p.price_list_id ORDER BY p.name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LocalPrinter {
                    name: r.try_get(0)?,
                    workstation_id: r.try_get(1)?,
                    cups_queue: r.try_get(2)?,
                    device_uri: r.try_get(3)?,
                    price_list: r.try_get(4)?,
                    first_job_at_ms: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// The hidden queue of local jobs, as the rest of printing reads queues.
    pub async fn local_queue(&self) -> AppResult<super::QueueRow> {
        self.queue_row_by_id(LOCAL_QUEUE).await
    }

    pub async fn local_jobs(&self, limit: i64) -> AppResult<Vec<super::JobRow>> {
        Ok(sqlx::query_as::<_, super::JobRow>(&format!(
            "{} WHERE j.local_printer_id IS NOT NULL ORDER BY j.updated_at_ms DESC, j.id LIMIT $1",
            super::JOB_SELECT
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Sets the price of a job not yet charged (a local job charged by the printer's count).
    pub async fn reprice_job(&self, id: &str, price_cents: i64) -> AppResult<()> {
        sqlx::query("UPDATE jobs SET price_cents = $1 WHERE id = $2 AND state = 'printing'")
            .bind(price_cents)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
