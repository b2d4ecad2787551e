//! Personal staff accounts and their browser sessions (issue #12). Each query is written once
//! and run on whichever backend the store is, through `dispatch!` at the call site.
//!
//! Failed sign-ins are counted here, in the database, so that a lock holds across restarts
//! and across several `serve` instances; the per-address count lives in memory in the API.

use super::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A stored account: who, what they may do, where. The password only as its Argon2id hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct UserRow {
    pub username: String,
    pub full_name: String,
    pub role: String,
    /// Comma-separated 2-digit province codes (as `api_keys`).
    pub provinces: String,
    /// Comma-separated 5-digit commune codes.
    pub communes: String,
    #[serde(skip)]
    pub password_hash: String,
    /// The password is a one-time password: it must be changed before anything else.
    pub must_change: bool,
    /// Wrong passwords in a row since the last good one.
    pub failed_count: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

const USER_COLUMNS: &str = "username, full_name, role, provinces, communes, password_hash, \
     must_change, failed_count, locked_until, created_at, disabled_at";

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Store {
    /// Stores a new account; a username already taken is [`StoreError::Conflict`].
    pub async fn insert_user(&self, u: &UserRow) -> Result<()> {
        const SQL: &str =
            "INSERT INTO staff_users (username, full_name, role, provinces, communes, \
             password_hash, must_change, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        let done = dispatch!(self, s => sqlx::query(SQL)
            .bind(&u.username)
            .bind(&u.full_name)
            .bind(&u.role)
            .bind(&u.provinces)
            .bind(&u.communes)
            .bind(&u.password_hash)
            .bind(u.must_change)
            .bind(u.created_at)
            .execute(s.write_pool())
            .await
            .map(|r| r.rows_affected()));
        match done {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                "tài khoản '{}' đã có / an account named '{}' exists already",
                u.username, u.username
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn user(&self, username: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM staff_users WHERE username = $1");
        Ok(dispatch!(self, s => sqlx::query_as::<_, UserRow>(&sql)
            .bind(username)
            .fetch_optional(s.read_pool())
            .await?))
    }

    pub async fn users(&self) -> Result<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM staff_users ORDER BY username");
        Ok(dispatch!(self, s => sqlx::query_as::<_, UserRow>(&sql)
            .fetch_all(s.read_pool())
            .await?))
    }

    /// Sets a new password hash (one-time or the person's own), clears the failure count and
    /// the lock, and ends every session of the account. False when there is no such account.
    pub async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        must_change: bool,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE staff_users SET password_hash = $1, must_change = $2, \
             failed_count = 0, locked_until = NULL WHERE username = $3";
        const END: &str = "DELETE FROM staff_sessions WHERE username = $1";
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let n = sqlx::query(SQL)
                .bind(password_hash)
                .bind(must_change)
                .bind(username)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(END).bind(username).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(n == 1)
        })
    }

    /// Disables an account and ends its sessions at once; false when no enabled account has
    /// that name.
    pub async fn disable_user(&self, username: &str, now: DateTime<Utc>) -> Result<bool> {
        const SQL: &str =
            "UPDATE staff_users SET disabled_at = $1 WHERE username = $2 AND disabled_at IS NULL";
        const END: &str = "DELETE FROM staff_sessions WHERE username = $1";
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let n = sqlx::query(SQL)
                .bind(now)
                .bind(username)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(END).bind(username).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(n == 1)
        })
    }

    /// Enables a disabled account again (its password is unchanged; no session comes back).
    pub async fn enable_user(&self, username: &str) -> Result<bool> {
        const SQL: &str = "UPDATE staff_users SET disabled_at = NULL, failed_count = 0, \
             locked_until = NULL WHERE username = $1 AND disabled_at IS NOT NULL";
        Ok(dispatch!(self, s => sqlx::query(SQL)
            .bind(username)
            .execute(s.write_pool())
            .await?
            .rows_affected())
            == 1)
    }

    /// Counts a wrong password; from the `lock_after`-th in a row the account is locked until
    /// `lock_until`. Returns the count.
    pub async fn record_failed_sign_in(
        &self,
        username: &str,
        lock_after: i32,
        lock_until: DateTime<Utc>,
    ) -> Result<i32> {
        const SQL: &str = "UPDATE staff_users SET failed_count = failed_count + 1, \
             locked_until = CASE WHEN failed_count + 1 >= $1 THEN $2 ELSE locked_until END \
             WHERE username = $3 RETURNING failed_count";
        Ok(dispatch!(self, s => sqlx::query_scalar::<_, i32>(SQL)
            .bind(lock_after)
            .bind(lock_until)
            .bind(username)
            .fetch_optional(s.write_pool())
            .await?)
        .unwrap_or(0))
    }

    /// A good password: the count of failures starts again.
    pub async fn clear_failed_sign_ins(&self, username: &str) -> Result<()> {
        const SQL: &str = "UPDATE staff_users SET failed_count = 0, locked_until = NULL \
             WHERE username = $1 AND failed_count > 0";
        dispatch!(self, s => sqlx::query(SQL).bind(username).execute(s.write_pool()).await?.rows_affected());
        Ok(())
    }

    pub async fn insert_user_session(
        &self,
        id_hash: &str,
        username: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO staff_sessions (id_hash, username, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)";
        dispatch!(self, s => sqlx::query(SQL)
            .bind(id_hash)
            .bind(username)
            .bind(now)
            .bind(expires_at)
            .execute(s.write_pool())
            .await?
            .rows_affected());
        Ok(())
    }

    /// The account of a live session: not expired, the account not disabled.
    pub async fn session_user(&self, id_hash: &str, now: DateTime<Utc>) -> Result<Option<UserRow>> {
        let sql = format!(
            "SELECT {} FROM staff_sessions s JOIN staff_users u ON u.username = s.username \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
            USER_COLUMNS
                .split(", ")
                .map(|c| format!("u.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(dispatch!(self, s => sqlx::query_as::<_, UserRow>(&sql)
            .bind(id_hash)
            .bind(now)
            .fetch_optional(s.read_pool())
            .await?))
    }

    pub async fn delete_user_session(&self, id_hash: &str) -> Result<()> {
        const SQL: &str = "DELETE FROM staff_sessions WHERE id_hash = $1";
        dispatch!(self, s => sqlx::query(SQL).bind(id_hash).execute(s.write_pool()).await?.rows_affected());
        Ok(())
    }

    /// "Sign out everywhere": every session of the account ends. Returns how many.
    pub async fn delete_user_sessions(&self, username: &str) -> Result<u64> {
        const SQL: &str = "DELETE FROM staff_sessions WHERE username = $1";
        Ok(dispatch!(self, s => sqlx::query(SQL)
            .bind(username)
            .execute(s.write_pool())
            .await?
            .rows_affected()))
    }
}
