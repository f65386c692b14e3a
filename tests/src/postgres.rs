//! A throwaway PostgreSQL database per test. Shared by the system tests and, through
//! `#[path]`, the server crate's API tests (which cannot depend on this crate: it
//! depends on theirs).

/// A new, empty database on the PostgreSQL server named by `REAM_TEST_POSTGRES`
/// (`scripts/test` starts a throwaway cluster and sets it).
pub async fn postgres_database() -> String {
    let admin_url = std::env::var("REAM_TEST_POSTGRES").expect(
        "REAM_TEST_POSTGRES is not set: run scripts/test, which starts a PostgreSQL cluster, \
         or point it at one (postgres://user@host:port/postgres)",
    );
    let name = format!("ream_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .expect("connect to REAM_TEST_POSTGRES");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create database");
    let (base, _) = admin_url.rsplit_once('/').expect("URL with a database");
    format!("{base}/{name}")
}
