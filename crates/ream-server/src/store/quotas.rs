//! Quotas: a limit per period on pages or money. `used` belongs to the period that
//! started at `period_start_ms`; once a new period begins it reads as zero, without any
//! job having to reset it.

use super::{bump_user, enum_parse, enum_str, new_id, Store};
use crate::error::{AppError, AppResult};
use ream_wire::{NewQuota, QuotaMetric, QuotaPeriod, QuotaView};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QuotaRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub period: String,
    pub metric: String,
    pub limit_value: i64,
    pub used: i64,
    pub period_start_ms: Option<i64>,
    /// Held by jobs that may still print (see `ledger`).
    pub reserved: i64,
}

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 → (year, month 1–12, day 1–31), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The UTC period containing `now_ms`, as [start, end); `None` for an unlimited period.
pub fn period_bounds(period: QuotaPeriod, now_ms: i64) -> Option<(i64, i64)> {
    let day = now_ms.div_euclid(DAY_MS);
    let (y, m, _) = civil_from_days(day);
    let (start, end) = match period {
        QuotaPeriod::Day => (day, day + 1),
        QuotaPeriod::Week => {
            // 1970-01-01 was a Thursday: Monday-based weekday is (day + 3) mod 7.
            let monday = day - (day + 3).rem_euclid(7);
            (monday, monday + 7)
        }
        QuotaPeriod::Month => {
            let next = if m == 12 { days_from_civil(y + 1, 1, 1) } else { days_from_civil(y, m + 1, 1) };
            (days_from_civil(y, m, 1), next)
        }
        QuotaPeriod::Year => (days_from_civil(y, 1, 1), days_from_civil(y + 1, 1, 1)),
        QuotaPeriod::Unlimited => return None,
    };
    Some((start * DAY_MS, end * DAY_MS))
}

impl QuotaRow {
    pub fn view(&self, now_ms: i64) -> QuotaView {
        let period = enum_parse(&self.period).unwrap_or(QuotaPeriod::Unlimited);
        let bounds = period_bounds(period, now_ms);
        let used = match bounds {
            Some((start, _)) if self.period_start_ms != Some(start) => 0,
            _ => self.used,
        };
        QuotaView {
            id: self.id.clone(),
            name: self.name.clone(),
            period,
            metric: enum_parse(&self.metric).unwrap_or(QuotaMetric::TotalPages),
            limit: self.limit_value,
            used,
            reserved: self.reserved,
            remaining: (self.limit_value - used - self.reserved).max(0),
            period_start_ms: bounds.map(|b| b.0),
            period_end_ms: bounds.map(|b| b.1),
        }
    }
}

pub(crate) const QUOTA_COLUMNS: &str =
    "id, user_id, name, period, metric, limit_value, used, period_start_ms, reserved";

impl Store {
    pub async fn create_quota(&self, user_id: &str, q: &NewQuota) -> AppResult<QuotaRow> {
        if q.limit < 0 {
            return Err(AppError::invalid("a quota's limit cannot be negative"));
        }
        let now = self.now_ms();
        let id = new_id();
        let start = period_bounds(q.period, now).map(|b| b.0);
        let mut tx = self.pool().begin().await?;
        bump_user(&mut *tx, user_id, now).await?;
        sqlx::query(
            "INSERT INTO quotas (id, user_id, name, period, metric, limit_value, used, period_start_ms, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(&q.name)
        .bind(enum_str(q.period))
        .bind(enum_str(q.metric))
        .bind(q.limit)
        .bind(start)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.quota(&id).await
    }

    pub async fn quota(&self, id: &str) -> AppResult<QuotaRow> {
        sqlx::query_as::<_, QuotaRow>(&format!("SELECT {QUOTA_COLUMNS} FROM quotas WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| AppError::not_found("quota"))
    }

    pub async fn quotas_of(&self, user_id: &str) -> AppResult<Vec<QuotaRow>> {
        Ok(sqlx::query_as::<_, QuotaRow>(&format!(
            "SELECT {QUOTA_COLUMNS} FROM quotas WHERE user_id = $1 ORDER BY created_at_ms, id"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn update_quota(
        &self,
        id: &str,
        name: Option<&str>,
        limit: Option<i64>,
        used: Option<i64>,
    ) -> AppResult<QuotaRow> {
        if limit.is_some_and(|l| l < 0) || used.is_some_and(|u| u < 0) {
            return Err(AppError::invalid("a quota's limit and use cannot be negative"));
        }
        let q = self.quota(id).await?;
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        bump_user(&mut *tx, &q.user_id, now).await?;
        if let Some(name) = name {
            sqlx::query("UPDATE quotas SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(limit) = limit {
            sqlx::query("UPDATE quotas SET limit_value = $1 WHERE id = $2")
                .bind(limit)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(used) = used {
            let start = enum_parse(&q.period).and_then(|p| period_bounds(p, now)).map(|b| b.0);
            sqlx::query("UPDATE quotas SET used = $1, period_start_ms = $2 WHERE id = $3")
                .bind(used)
                .bind(start)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.quota(id).await
    }

    pub async fn delete_quota(&self, id: &str) -> AppResult<()> {
        let q = self.quota(id).await?;
        let mut tx = self.pool().begin().await?;
        bump_user(&mut *tx, &q.user_id, self.now_ms()).await?;
        sqlx::query("DELETE FROM quotas WHERE id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(y: i64, m: i64, d: i64) -> i64 {
        days_from_civil(y, m, d) * DAY_MS
    }

    #[test]
    fn calendar_round_trips() {
        for day in [-800_000, -1, 0, 1, 11_016, 19_723, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn periods_contain_now_and_follow_the_calendar() {
        let now = ms(2026, 11, 23) + 13 * 3_600_000; // Monday 23 Nov 2026, 13:00 UTC
        let check = |p, start, end| assert_eq!(period_bounds(p, now), Some((start, end)), "{p:?}");
        check(QuotaPeriod::Day, ms(2026, 11, 23), ms(2026, 11, 24));
        check(QuotaPeriod::Week, ms(2026, 11, 23), ms(2026, 11, 30));
        check(QuotaPeriod::Month, ms(2026, 11, 1), ms(2026, 12, 1));
        check(QuotaPeriod::Year, ms(2026, 1, 1), ms(2027, 1, 1));
        assert_eq!(period_bounds(QuotaPeriod::Unlimited, now), None);
        // December rolls into the next year; a Sunday belongs to the week before.
        assert_eq!(
            period_bounds(QuotaPeriod::Month, ms(2026, 12, 31)),
            Some((ms(2026, 12, 1), ms(2027, 1, 1)))
        );
        assert_eq!(period_bounds(QuotaPeriod::Week, ms(2026, 11, 29)).unwrap().0, ms(2026, 11, 23));
    }

    #[test]
    fn use_from_an_earlier_period_reads_as_zero() {
        let now = ms(2026, 11, 23);
        let row = QuotaRow {
            id: "q".into(),
            user_id: "u".into(),
            name: "Monthly".into(),
            period: "month".into(),
            metric: "total_pages".into(),
            limit_value: 500,
            used: 120,
            period_start_ms: Some(ms(2026, 11, 1)),
            reserved: 30,
        };
        assert_eq!(
            (row.view(now).used, row.view(now).remaining),
            (120, 350),
            "reservations are not available"
        );
        let next_month = ms(2026, 12, 2);
        assert_eq!((row.view(next_month).used, row.view(next_month).remaining), (0, 470));
    }
}
