//! Users, their groups, and the secrets that identify them.

use sqlx::Row;

use super::{bump_user, is_unique_violation, new_id, Store};
use crate::error::{AppError, AppResult};
use ream_wire::ErrorCode;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    pub is_admin: i64,
    pub disabled: i64,
    pub password_hash: Option<String>,
    pub pin_hash: Option<String>,
    pub credit_cents: i64,
    /// Of the credit, what jobs that may still print hold (see `ledger`).
    pub reserved_cents: i64,
    pub version: i64,
}

impl UserRow {
    pub fn is_admin(&self) -> bool {
        self.is_admin != 0
    }
    pub fn is_disabled(&self) -> bool {
        self.disabled != 0
    }
}

const USER_COLUMNS: &str = "id, username, full_name, email, is_admin, disabled, password_hash, \
                            pin_hash, credit_cents, reserved_cents, version";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CardRow {
    pub id: String,
    pub user_id: String,
    pub hash: String,
    pub hint: String,
    pub created_at_ms: i64,
}

/// A new user as the store receives it: secrets already hashed.
#[derive(Debug, Clone, Default)]
pub struct UserInsert {
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub password_hash: Option<String>,
}

impl Store {
    pub async fn insert_user(&self, u: &UserInsert) -> AppResult<UserRow> {
        let now = self.now_ms();
        let id = new_id();
        let res = sqlx::query(
            "INSERT INTO users (id, username, full_name, email, is_admin, password_hash, \
             updated_at_ms, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(&u.username)
        .bind(&u.full_name)
        .bind(&u.email)
        .bind(u.is_admin as i64)
        .bind(&u.password_hash)
        .bind(now)
        .execute(self.pool())
        .await;
        match res {
            Err(e) if is_unique_violation(&e) => {
                Err(AppError::new(ErrorCode::Conflict, format!("user {} exists already", u.username)))
            }
            Err(e) => Err(e.into()),
            Ok(_) => self.user_by_id(&id).await,
        }
    }

    pub async fn user_by_id(&self, id: &str) -> AppResult<UserRow> {
        sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| AppError::not_found("user"))
    }

    pub async fn find_user(&self, username: &str) -> AppResult<Option<UserRow>> {
        Ok(sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn user(&self, username: &str) -> AppResult<UserRow> {
        self.find_user(username).await?.ok_or_else(|| AppError::not_found(format!("user {username}")))
    }

    /// Users whose username or full name contains `search` (any case), by username.
    pub async fn list_users(&self, search: &str, limit: i64) -> AppResult<Vec<UserRow>> {
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        Ok(sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users \
             WHERE LOWER(username) LIKE $1 ESCAPE '\\' OR LOWER(full_name) LIKE $1 ESCAPE '\\' \
             ORDER BY username LIMIT $2"
        ))
        .bind(pattern)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn update_user_fields(
        &self,
        user_id: &str,
        full_name: Option<&str>,
        email: Option<Option<&str>>,
        is_admin: Option<bool>,
        disabled: Option<bool>,
    ) -> AppResult<()> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        bump_user(&mut *tx, user_id, now).await?;
        if let Some(name) = full_name {
            sqlx::query("UPDATE users SET full_name = $1 WHERE id = $2")
                .bind(name)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(email) = email {
            sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
                .bind(email)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(admin) = is_admin {
            sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2")
                .bind(admin as i64)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(disabled) = disabled {
            sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
                .bind(disabled as i64)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_user(&self, user_id: &str) -> AppResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM shared_account_members WHERE member_kind = 'user' AND member_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(AppError::not_found("user"));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_password_hash(&self, user_id: &str, hash: Option<&str>) -> AppResult<()> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        bump_user(&mut *tx, user_id, now).await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets (or with `None`, clears) the user's PIN. A PIN identifies its owner on its
    /// own, so two users can never share one: `SECRET_TAKEN`.
    pub async fn set_pin(&self, user_id: &str, pin: Option<(&str, &str)>) -> AppResult<()> {
        let now = self.now_ms();
        let (lookup, hash) = match pin {
            Some((lookup, hash)) => (Some(lookup), Some(hash)),
            None => (None, None),
        };
        let mut tx = self.pool().begin().await?;
        bump_user(&mut *tx, user_id, now).await?;
        let res = sqlx::query("UPDATE users SET pin_lookup = $1, pin_hash = $2 WHERE id = $3")
            .bind(lookup)
            .bind(hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await;
        match res {
            Err(e) if is_unique_violation(&e) => {
                Err(AppError::new(ErrorCode::SecretTaken, "this PIN belongs to another user"))
            }
            Err(e) => Err(e.into()),
            Ok(_) => {
                tx.commit().await?;
                Ok(())
            }
        }
    }

    pub async fn user_by_pin_lookup(&self, lookup: &str) -> AppResult<Option<UserRow>> {
        Ok(sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE pin_lookup = $1"))
            .bind(lookup)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn add_card(&self, user_id: &str, lookup: &str, hash: &str, hint: &str) -> AppResult<CardRow> {
        let now = self.now_ms();
        let id = new_id();
        let mut tx = self.pool().begin().await?;
        bump_user(&mut *tx, user_id, now).await?;
        let res = sqlx::query(
            "INSERT INTO cards (id, user_id, lookup, hash, hint, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(lookup)
        .bind(hash)
        .bind(hint)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match res {
            Err(e) if is_unique_violation(&e) => {
                Err(AppError::new(ErrorCode::SecretTaken, "this card is registered already"))
            }
            Err(e) => Err(e.into()),
            Ok(_) => {
                tx.commit().await?;
                Ok(CardRow {
                    id,
                    user_id: user_id.into(),
                    hash: hash.into(),
                    hint: hint.into(),
                    created_at_ms: now,
                })
            }
        }
    }

    pub async fn remove_card(&self, user_id: &str, card_id: &str) -> AppResult<()> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        bump_user(&mut *tx, user_id, now).await?;
        let done = sqlx::query("DELETE FROM cards WHERE id = $1 AND user_id = $2")
            .bind(card_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(AppError::not_found("card"));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn cards_of(&self, user_id: &str) -> AppResult<Vec<CardRow>> {
        Ok(sqlx::query_as::<_, CardRow>(
            "SELECT id, user_id, hash, hint, created_at_ms FROM cards WHERE user_id = $1 ORDER BY created_at_ms, id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn card_by_lookup(&self, lookup: &str) -> AppResult<Option<CardRow>> {
        Ok(sqlx::query_as::<_, CardRow>(
            "SELECT id, user_id, hash, hint, created_at_ms FROM cards WHERE lookup = $1",
        )
        .bind(lookup)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn groups_of(&self, user_id: &str) -> AppResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT g.name FROM user_groups g JOIN group_members m ON m.group_id = g.id \
             WHERE m.user_id = $1 ORDER BY g.name",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
    }

    /// Replaces the user's groups, creating groups that do not exist yet.
    pub async fn set_groups(&self, user_id: &str, groups: &[String]) -> AppResult<()> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        bump_user(&mut *tx, user_id, now).await?;
        sqlx::query("DELETE FROM group_members WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        for name in groups {
            sqlx::query(
                "INSERT INTO user_groups (id, name, created_at_ms) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(new_id())
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO group_members (group_id, user_id) SELECT id, $1 FROM user_groups WHERE name = $2 \
                 ON CONFLICT DO NOTHING",
            )
            .bind(user_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_group(&self, name: &str) -> AppResult<()> {
        let res = sqlx::query("INSERT INTO user_groups (id, name, created_at_ms) VALUES ($1, $2, $3)")
            .bind(new_id())
            .bind(name)
            .bind(self.now_ms())
            .execute(self.pool())
            .await;
        match res {
            Err(e) if is_unique_violation(&e) => {
                Err(AppError::new(ErrorCode::Conflict, format!("group {name} exists already")))
            }
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    pub async fn group_id(&self, name: &str) -> AppResult<String> {
        let row = sqlx::query("SELECT id FROM user_groups WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| AppError::not_found(format!("group {name}")))?;
        Ok(row.try_get::<String, _>(0)?)
    }

    /// Every group with its members' usernames.
    pub async fn list_groups(&self) -> AppResult<Vec<(String, Vec<String>)>> {
        let rows = sqlx::query(
            "SELECT g.name, u.username FROM user_groups g \
             LEFT JOIN group_members m ON m.group_id = g.id LEFT JOIN users u ON u.id = m.user_id \
             ORDER BY g.name, u.username",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in rows {
            let group: String = r.try_get(0)?;
            let member: Option<String> = r.try_get(1)?;
            if out.last().is_none_or(|(g, _)| *g != group) {
                out.push((group, Vec::new()));
            }
            if let Some(m) = member {
                out.last_mut().expect("pushed above").1.push(m);
            }
        }
        Ok(out)
    }

    pub async fn delete_group(&self, name: &str) -> AppResult<()> {
        let id = self.group_id(name).await?;
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        // Members lose the group and whatever it opened to them: their accounts change.
        sqlx::query(
            "UPDATE users SET version = version + 1, updated_at_ms = $1 \
             WHERE id IN (SELECT user_id FROM group_members WHERE group_id = $2)",
        )
        .bind(now)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM shared_account_members WHERE member_kind = 'group' AND member_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM user_groups WHERE id = $1").bind(&id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
