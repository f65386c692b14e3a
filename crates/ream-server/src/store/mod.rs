//! The store: every read and write of the server's state, over sqlx's `Any` driver so
//! that one implementation serves SQLite (embedded default) and PostgreSQL (scale).
//!
//! Invariants: SQL here is portable (see the migration's header); placeholders are
//! `$1…`, which both backends accept; money is integer cents and times Unix ms. Every
//! change a connected client must see bumps the user's `version`/`updated_at_ms` in the
//! same transaction, which is what the push channel follows (see `crate::push`).

mod credit;
mod ledger;
mod local;
mod lockout;
mod offline;
mod printing;
mod quotas;
mod sessions;
mod shared;
mod users;
mod workstations;

pub use local::*;
pub use lockout::FailureRow;
pub use offline::*;
pub use printing::*;
pub use quotas::*;
pub use sessions::*;
pub use users::*;
pub use workstations::*;

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

use crate::clock::SharedClock;
use crate::error::{AppError, AppResult};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    clock: SharedClock,
    url: std::sync::Arc<str>,
}

/// The PostgreSQL channel on which a bump of a user's `version` is announced, as
/// `"<user id> <version>"` (see [`Store::open`]'s trigger and `crate::push`).
pub const ACCOUNT_CHANNEL: &str = "ream_account";

/// SQLite keeps a write-ahead log: a commit is one write and one fsync of the log
/// (synchronous stays FULL, so a commit that was answered survives a power cut), where
/// the rollback journal took three or more; readers go on while one writes. The mode
/// stays with the database file, for every connection and for `ream-server admin`.
async fn write_ahead_log(pool: &AnyPool) -> anyhow::Result<()> {
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode = WAL")
        .fetch_one(pool)
        .await
        .map_err(|e| anyhow::anyhow!("cannot set the database's journal mode: {e}"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // A file system without shared memory (a network share) keeps the rollback journal.
        tracing::warn!(mode, "SQLite keeps its rollback journal here: every commit is slower");
    }
    Ok(())
}

impl Store {
    /// Connects and brings the schema up to date.
    pub async fn open(url: &str, clock: SharedClock) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            anyhow::bail!("unsupported database URL (use sqlite://… or postgres://…)");
        };
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        if backend == Backend::Sqlite {
            write_ahead_log(&pool).await?;
        }
        MIGRATOR.run(&pool).await.map_err(|e| anyhow::anyhow!("cannot migrate the database: {e}"))?;
        if backend == Backend::Postgres {
            announce_account_changes(&pool).await.map_err(|e| anyhow::anyhow!("cannot set up push: {e}"))?;
        }
        Ok(Store { pool, backend, clock, url: url.into() })
    }

    /// A PostgreSQL listener on [`ACCOUNT_CHANNEL`], on a connection of its own.
    pub async fn account_listener(&self) -> anyhow::Result<sqlx::postgres::PgListener> {
        anyhow::ensure!(self.backend == Backend::Postgres, "only PostgreSQL announces changes");
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener.listen(ACCOUNT_CHANNEL).await?;
        Ok(listener)
    }

    /// The current versions of these users (those that exist).
    pub async fn versions_of(&self, user_ids: &[String]) -> AppResult<Vec<(String, i64)>> {
        let mut out = Vec::with_capacity(user_ids.len());
        for chunk in user_ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("SELECT id, version FROM users WHERE id IN ({})", marks.join(", "));
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&self.pool).await? {
                out.push((row.try_get(0)?, row.try_get(1)?));
            }
        }
        Ok(out)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers, within two seconds.
    pub async fn ping(&self) -> anyhow::Result<()> {
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(std::time::Duration::from_secs(2), query).await {
            Ok(done) => done.map(drop).map_err(Into::into),
            Err(_) => anyhow::bail!("the database did not answer in 2 s"),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// On PostgreSQL every bump of a user's `version`, whoever makes it (any instance, or
/// `ream-server admin`), is announced on [`ACCOUNT_CHANNEL`] by a trigger: the
/// notification goes out when the transaction that bumped it commits, never before, and
/// not at all if it rolls back. Not a migration, as migrations are portable SQL; made
/// idempotently at each start, under a lock, as several instances may start at once.
async fn announce_account_changes(pool: &AnyPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Any fixed number: the instances only need to agree on it.
    sqlx::query("SELECT pg_advisory_xact_lock(7265616)").execute(&mut *tx).await?;
    sqlx::query(&format!(
        "CREATE OR REPLACE FUNCTION ream_announce_account() RETURNS trigger AS $$ \
         BEGIN PERFORM pg_notify('{ACCOUNT_CHANNEL}', NEW.id || ' ' || NEW.version); RETURN NULL; END \
         $$ LANGUAGE plpgsql"
    ))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "CREATE OR REPLACE TRIGGER ream_announce_account AFTER UPDATE OF version ON users \
         FOR EACH ROW WHEN (NEW.version <> OLD.version) EXECUTE FUNCTION ream_announce_account()",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Marks a user's account as changed so that the push channel delivers it.
pub(crate) async fn bump_user<'e, E>(exec: E, user_id: &str, now: i64) -> AppResult<i64>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "UPDATE users SET version = version + 1, updated_at_ms = $1 WHERE id = $2 RETURNING version",
    )
    .bind(now)
    .bind(user_id)
    .fetch_optional(exec)
    .await?;
    match row {
        Some(row) => Ok(row.try_get::<i64, _>(0)?),
        None => Err(AppError::not_found("user")),
    }
}

/// The snake_case name serde gives a unit enum variant: the one spelling used in the
/// database, on the wire and on the command line.
pub fn enum_str<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

pub fn enum_parse<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
