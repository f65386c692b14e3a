//! Shared accounts: cost centres and projects, each open to its members (users, and
//! the users of member groups).

use sqlx::Row;

use super::{enum_str, is_unique_violation, new_id, Store};
use crate::error::{AppError, AppResult};
use ream_wire::{AccountRef, ErrorCode, Member, MemberKind, SharedAccount, SharedAccountKind};

impl Store {
    pub async fn create_shared_account(
        &self,
        kind: SharedAccountKind,
        name: &str,
        description: &str,
    ) -> AppResult<String> {
        let id = new_id();
        let res = sqlx::query(
            "INSERT INTO shared_accounts (id, kind, name, description, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(enum_str(kind))
        .bind(name)
        .bind(description)
        .bind(self.now_ms())
        .execute(self.pool())
        .await;
        match res {
            Err(e) if is_unique_violation(&e) => {
                Err(AppError::new(ErrorCode::Conflict, format!("{name} exists already")))
            }
            Err(e) => Err(e.into()),
            Ok(_) => Ok(id),
        }
    }

    pub async fn shared_account_id(&self, kind: SharedAccountKind, name: &str) -> AppResult<String> {
        let row = sqlx::query("SELECT id FROM shared_accounts WHERE kind = $1 AND name = $2")
            .bind(enum_str(kind))
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| AppError::not_found(name))?;
        Ok(row.try_get::<String, _>(0)?)
    }

    /// Every shared account of the kind, with its members by name.
    pub async fn list_shared_accounts(&self, kind: SharedAccountKind) -> AppResult<Vec<SharedAccount>> {
        let accounts =
            sqlx::query("SELECT id, name, description FROM shared_accounts WHERE kind = $1 ORDER BY name")
                .bind(enum_str(kind))
                .fetch_all(self.pool())
                .await?;
        let members = sqlx::query(
            "SELECT m.account_id, m.member_kind, COALESCE(u.username, g.name) AS name \
             FROM shared_account_members m JOIN shared_accounts a ON a.id = m.account_id \
             LEFT JOIN users u ON m.member_kind = 'user' AND u.id = m.member_id \
             LEFT JOIN user_groups g ON m.member_kind = 'group' AND g.id = m.member_id \
             WHERE a.kind = $1 ORDER BY m.member_kind DESC, name",
        )
        .bind(enum_str(kind))
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(accounts.len());
        for a in accounts {
            let id: String = a.try_get("id")?;
            let mut list = Vec::new();
            for m in members.iter() {
                if m.try_get::<String, _>("account_id")? != id {
                    continue;
                }
                let Some(name) = m.try_get::<Option<String>, _>("name")? else { continue };
                let kind = match m.try_get::<String, _>("member_kind")?.as_str() {
                    "group" => MemberKind::Group,
                    _ => MemberKind::User,
                };
                list.push(Member { kind, name });
            }
            out.push(SharedAccount {
                id,
                kind,
                name: a.try_get("name")?,
                description: a.try_get("description")?,
                members: list,
            });
        }
        Ok(out)
    }

    pub async fn delete_shared_account(&self, kind: SharedAccountKind, name: &str) -> AppResult<()> {
        let id = self.shared_account_id(kind, name).await?;
        let mut tx = self.pool().begin().await?;
        self.touch_members(&mut tx, &id).await?;
        sqlx::query("DELETE FROM shared_accounts WHERE id = $1").bind(&id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds (`present`) or removes a member; the users concerned see their accounts change.
    pub async fn set_member(
        &self,
        kind: SharedAccountKind,
        account: &str,
        member: &Member,
        present: bool,
    ) -> AppResult<()> {
        let account_id = self.shared_account_id(kind, account).await?;
        let member_id = match member.kind {
            MemberKind::User => self.user(&member.name).await?.id,
            MemberKind::Group => self.group_id(&member.name).await?,
        };
        let mut tx = self.pool().begin().await?;
        self.touch_members(&mut tx, &account_id).await?;
        if present {
            sqlx::query(
                "INSERT INTO shared_account_members (account_id, member_kind, member_id) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&account_id)
            .bind(enum_str(member.kind))
            .bind(&member_id)
            .execute(&mut *tx)
            .await?;
        } else {
            let done = sqlx::query(
                "DELETE FROM shared_account_members WHERE account_id = $1 AND member_kind = $2 AND member_id = $3",
            )
            .bind(&account_id)
            .bind(enum_str(member.kind))
            .bind(&member_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(AppError::not_found(format!("{} as a member of {account}", member.name)));
            }
        }
        self.touch_members(&mut tx, &account_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Bumps every user the account is open to (called before and after a membership
    /// change, so both those who lose and those who gain it are told).
    async fn touch_members(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        account_id: &str,
    ) -> AppResult<()> {
        sqlx::query(
            "UPDATE users SET version = version + 1, updated_at_ms = $1 WHERE id IN ( \
               SELECT member_id FROM shared_account_members WHERE account_id = $2 AND member_kind = 'user' \
               UNION SELECT gm.user_id FROM group_members gm JOIN shared_account_members m \
                 ON m.member_kind = 'group' AND m.member_id = gm.group_id WHERE m.account_id = $2)",
        )
        .bind(self.now_ms())
        .bind(account_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The shared accounts of `kind` open to the user, directly or through a group.
    pub async fn shared_accounts_of(
        &self,
        user_id: &str,
        kind: SharedAccountKind,
    ) -> AppResult<Vec<AccountRef>> {
        let rows = sqlx::query(
            "SELECT a.id, a.name, a.description FROM shared_accounts a WHERE a.kind = $1 AND a.id IN ( \
               SELECT account_id FROM shared_account_members WHERE member_kind = 'user' AND member_id = $2 \
               UNION SELECT m.account_id FROM shared_account_members m JOIN group_members gm \
                 ON m.member_kind = 'group' AND m.member_id = gm.group_id WHERE gm.user_id = $2) \
             ORDER BY a.name",
        )
        .bind(enum_str(kind))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AccountRef {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    description: r.try_get("description")?,
                })
            })
            .collect()
    }
}
