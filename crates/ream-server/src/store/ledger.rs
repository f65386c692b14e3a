//! The ledger: what a job holds against the account that pays for it (a reservation)
//! and what it is charged, always written in the transaction that moves the job, so that
//! funds and job states never disagree.
//!
//! The rules, enforced here and nowhere else:
//! - a job whose paying account is known and that may still print (waiting, held,
//!   printing) holds a reservation: its price on the user's credit, or what it counts
//!   on each of the user's quotas it falls under;
//! - a reservation is taken only if what is available (balance, or limit less use, less
//!   every other reservation) covers it; the check and the taking are one conditional
//!   `UPDATE`, so concurrent jobs serialise on the account's row and none slips past;
//! - a job moved to `printed` is charged in that same transaction, and only the one move
//!   from `printing` that succeeds charges it: exactly once, however often a delivery is
//!   resumed or an outcome reported;
//! - a job that ends any other way (deleted, rejected, failed, expired) gives its reservation
//!   back in the transaction that ends it;
//! - a job printed offline (reported by its workstation's journal) had printed before the
//!   server heard of it: it holds nothing, and is charged what it printed, below zero if
//!   need be, which marks it overdrawn for administrators.

use sqlx::AnyConnection;
use sqlx::Row;

use super::{enum_parse, enum_str, new_id, period_bounds, JobRow, QuotaRow, QUOTA_COLUMNS};
use crate::error::{AppError, AppResult};
use ream_print::pricing::{printed_pages, quota_amount};
use ream_wire::{
    CreditTransaction, ErrorCode, JobState, PaymentKind, QuotaPeriod, Shortfall, TransactionKind,
};

const CREDIT: &str = "credit";
const QUOTA: &str = "quota";

/// What moving a job into `state` does to its funds.
pub(crate) async fn follow(
    conn: &mut AnyConnection,
    job: &JobRow,
    state: JobState,
    now: i64,
) -> AppResult<()> {
    match state {
        JobState::WaitingForUser | JobState::Held | JobState::Printing => reserve(conn, job, now).await,
        JobState::Printed => {
            release(conn, &job.id).await?;
            charge(conn, job, now).await
        }
        JobState::Failed | JobState::Rejected | JobState::Deleted | JobState::Expired => {
            release(conn, &job.id).await
        }
    }
}

/// Amounts as people read them in messages: 0.35 for 35 cents.
fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

/// Takes the job's reservation unless it holds one already or nothing is known to pay
/// for it yet; refuses (and changes nothing) when available funds do not cover it.
async fn reserve(conn: &mut AnyConnection, job: &JobRow, now: i64) -> AppResult<()> {
    let (Some(owner), Some(kind)) = (&job.owner_id, job.payment().map(|p| p.kind)) else {
        return Ok(());
    };
    if job.offline() {
        return Ok(());
    }
    let held = sqlx::query("SELECT 1 FROM reservations WHERE job_id = $1")
        .bind(&job.id)
        .fetch_optional(&mut *conn)
        .await?;
    if held.is_some() {
        return Ok(());
    }
    match kind {
        PaymentKind::Credit => reserve_credit(conn, &job.id, owner, job.price_cents).await,
        PaymentKind::Quota => reserve_quotas(conn, job, owner, now).await,
        // A cost centre has no balance to run out of.
        PaymentKind::CostCentre => Ok(()),
    }
}

async fn reserve_credit(conn: &mut AnyConnection, job_id: &str, user_id: &str, amount: i64) -> AppResult<()> {
    if amount <= 0 {
        return Ok(());
    }
    let taken = sqlx::query(
        "UPDATE users SET reserved_cents = reserved_cents + $1 WHERE id = $2 AND credit_cents - reserved_cents >= $1",
    )
    .bind(amount)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    if taken.rows_affected() == 0 {
        let row = sqlx::query("SELECT credit_cents, reserved_cents FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut *conn)
            .await?;
        let (credit, reserved): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        let available = credit - reserved;
        let held = if reserved > 0 {
            format!(" ({} of the credit is held by your other jobs)", decimal(reserved))
        } else {
            String::new()
        };
        return Err(AppError::short(
            ErrorCode::CreditInsufficient,
            format!("the job costs {} and {} is available{held}", decimal(amount), decimal(available)),
            Shortfall { needed: amount, available, reserved, quota: None },
        ));
    }
    record(conn, job_id, CREDIT, user_id, amount).await
}

/// The start of a quota's current period; none for a quota without periods.
fn period_start(q: &QuotaRow, now: i64) -> Option<i64> {
    enum_parse::<QuotaPeriod>(&q.period).and_then(|p| period_bounds(p, now)).map(|b| b.0)
}

/// The start of a quota's current period, or -1 for a quota without periods (its use
/// always counts), as the conditional updates below compare it.
fn period_key(q: &QuotaRow, now: i64) -> i64 {
    period_start(q, now).unwrap_or(-1)
}

async fn reserve_quotas(conn: &mut AnyConnection, job: &JobRow, user_id: &str, now: i64) -> AppResult<()> {
    let quotas = quotas_in(conn, user_id).await?;
    let printed = printed_pages(job.pages, job.copies, &job.media);
    let mut covered = false;
    for q in &quotas {
        let view = q.view(now);
        let amount = quota_amount(view.metric, printed, job.colour != 0, job.price_cents);
        if amount <= 0 {
            continue;
        }
        covered = true;
        let taken = sqlx::query(
            "UPDATE quotas SET reserved = reserved + $1 WHERE id = $2 AND limit_value \
             - (CASE WHEN $3 < 0 OR period_start_ms = $3 THEN used ELSE 0 END) - reserved >= $1",
        )
        .bind(amount)
        .bind(&q.id)
        .bind(period_key(q, now))
        .execute(&mut *conn)
        .await?;
        if taken.rows_affected() == 0 {
            let now_row =
                sqlx::query_as::<_, QuotaRow>(&format!("SELECT {QUOTA_COLUMNS} FROM quotas WHERE id = $1"))
                    .bind(&q.id)
                    .fetch_one(&mut *conn)
                    .await?
                    .view(now);
            return Err(AppError::short(
                ErrorCode::QuotaExceeded,
                format!(
                    "the job needs {amount} of quota {:?}, which has {} left ({} held by your other jobs)",
                    q.name, now_row.remaining, now_row.reserved
                ),
                Shortfall {
                    needed: amount,
                    available: now_row.remaining,
                    reserved: now_row.reserved,
                    quota: Some(q.name.clone()),
                },
            ));
        }
        record(conn, &job.id, QUOTA, &q.id, amount).await?;
    }
    if !covered {
        return Err(AppError::new(ErrorCode::QuotaExceeded, "no quota of yours covers this job"));
    }
    Ok(())
}

/// The user's quotas, as the transaction sees them.
async fn quotas_in(conn: &mut AnyConnection, user_id: &str) -> AppResult<Vec<QuotaRow>> {
    Ok(sqlx::query_as::<_, QuotaRow>(&format!(
        "SELECT {QUOTA_COLUMNS} FROM quotas WHERE user_id = $1 ORDER BY created_at_ms, id"
    ))
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?)
}

async fn record(
    conn: &mut AnyConnection,
    job_id: &str,
    kind: &str,
    target: &str,
    amount: i64,
) -> AppResult<()> {
    sqlx::query("INSERT INTO reservations (job_id, kind, target_id, amount) VALUES ($1, $2, $3, $4)")
        .bind(job_id)
        .bind(kind)
        .bind(target)
        .bind(amount)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Gives back whatever the job holds.
async fn release(conn: &mut AnyConnection, job_id: &str) -> AppResult<()> {
    let rows = sqlx::query("SELECT kind, target_id, amount FROM reservations WHERE job_id = $1")
        .bind(job_id)
        .fetch_all(&mut *conn)
        .await?;
    for row in rows {
        let (kind, target, amount): (String, String, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let sql = if kind == CREDIT {
            "UPDATE users SET reserved_cents = reserved_cents - $1 WHERE id = $2"
        } else {
            "UPDATE quotas SET reserved = reserved - $1 WHERE id = $2"
        };
        sqlx::query(sql).bind(amount).bind(&target).execute(&mut *conn).await?;
    }
    sqlx::query("DELETE FROM reservations WHERE job_id = $1").bind(job_id).execute(&mut *conn).await?;
    Ok(())
}

/// Charges what was printed to the account chosen for the job. Printed is printed: the
/// charge stands even where the account went below zero meanwhile.
async fn charge(conn: &mut AnyConnection, job: &JobRow, now: i64) -> AppResult<()> {
    let Some(owner) = &job.owner_id else { return Ok(()) };
    match job.payment().map(|p| p.kind) {
        Some(PaymentKind::Credit) => {
            let offline = if job.offline() { ", printed offline" } else { "" };
            let comment = format!("print job {} ({} pages{offline})", job.name, job.pages * job.copies);
            let charged = move_credit(
                conn,
                owner,
                TransactionKind::Charge,
                -job.price_cents,
                &comment,
                "system",
                true,
                now,
            )
            .await?;
            if job.offline() && charged.balance_after_cents < 0 {
                sqlx::query("UPDATE jobs SET offline_overdrawn = 1 WHERE id = $1")
                    .bind(&job.id)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Some(PaymentKind::Quota) => {
            let quotas = quotas_in(conn, owner).await?;
            let printed = printed_pages(job.pages, job.copies, &job.media);
            for q in &quotas {
                let amount = quota_amount(q.view(now).metric, printed, job.colour != 0, job.price_cents);
                if amount > 0 {
                    add_quota_use(conn, q, amount, now).await?;
                }
            }
        }
        // The job records the cost centre, the project and the price: that is the charge.
        Some(PaymentKind::CostCentre) | None => {}
    }
    Ok(())
}

/// Adds a printed job's use to a quota; the first use in a new period starts from zero.
async fn add_quota_use(conn: &mut AnyConnection, q: &QuotaRow, amount: i64, now: i64) -> AppResult<()> {
    let start = period_start(q, now);
    sqlx::query(
        "UPDATE quotas SET used = CASE WHEN period_start_ms = $1 OR ($1 IS NULL AND period_start_ms IS NULL) \
         THEN used + $2 ELSE $2 END, period_start_ms = $1 WHERE id = $3",
    )
    .bind(start)
    .bind(amount)
    .bind(&q.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The largest single movement of credit, in cents.
pub const MAX_MOVEMENT_CENTS: i64 = 100_000_000_000;

/// How far a balance may go either way, in cents: far from where sums overflow.
pub const MAX_BALANCE_CENTS: i64 = 1_000_000_000_000_000;

/// Moves a balance by `amount_cents` and logs it, in the caller's transaction. With
/// `may_go_negative` false, a movement that would leave the balance below zero is
/// refused (`CONFLICT`) and nothing changes.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn move_credit(
    conn: &mut AnyConnection,
    user_id: &str,
    kind: TransactionKind,
    amount_cents: i64,
    comment: &str,
    actor: &str,
    may_go_negative: bool,
    now: i64,
) -> AppResult<CreditTransaction> {
    // Movements are bounded so that no sum overflows (the balance stays within
    // MAX_BALANCE_CENTS): an absurd amount is refused, not a database error.
    if amount_cents.unsigned_abs() > MAX_MOVEMENT_CENTS as u64 {
        return Err(AppError::invalid("an amount of credit is at most 1,000,000,000.00 at a time"));
    }
    // The balance moves first, in one statement: concurrent movements serialise on the
    // row and none is lost.
    let row = sqlx::query(
        "UPDATE users SET credit_cents = credit_cents + $1, version = version + 1, updated_at_ms = $2 \
         WHERE id = $3 AND ($4 = 1 OR credit_cents + $1 >= 0) AND credit_cents + $1 BETWEEN $5 AND $6 \
         RETURNING credit_cents, version",
    )
    .bind(amount_cents)
    .bind(now)
    .bind(user_id)
    .bind(may_go_negative as i64)
    .bind(-MAX_BALANCE_CENTS)
    .bind(MAX_BALANCE_CENTS)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        let exists =
            sqlx::query("SELECT 1 FROM users WHERE id = $1").bind(user_id).fetch_optional(&mut *conn).await?;
        return Err(match exists {
            None => AppError::not_found("user"),
            Some(_) if amount_cents > 0 => {
                AppError::new(ErrorCode::Conflict, "the balance would pass 10,000,000,000,000.00")
            }
            Some(_) => AppError::new(ErrorCode::Conflict, "the balance would fall below zero"),
        });
    };
    let t = CreditTransaction {
        id: new_id(),
        kind,
        amount_cents,
        balance_after_cents: row.try_get(0)?,
        comment: comment.to_owned(),
        actor: actor.to_owned(),
        created_at_ms: now,
    };
    let seq: i64 = row.try_get(1)?;
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
    .execute(&mut *conn)
    .await?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_read_as_decimals() {
        assert_eq!(super::decimal(35), "0.35");
        assert_eq!(super::decimal(1_250), "12.50");
        assert_eq!(super::decimal(-125), "-1.25");
    }
}
