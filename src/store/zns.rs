//! What the Zalo ZNS channel keeps in the database, so that every instance shares it: the
//! OA's tokens (one row; the single-use refresh token is rotated under a lease and stored by
//! compare-and-swap on the old one, so two instances never both spend it), the day's count of
//! ZNS handed to Zalo (`VONGDOI_ZNS_DAILY_QUOTA`), and the held messages (not attempted, for
//! want of quota or a token). Tokens never leave this module except to the ZNS transport.

use super::{Result, Store};
use chrono::{DateTime, NaiveDate, Utc};

/// The stored token row.
#[derive(Clone, sqlx::FromRow)]
pub struct ZnsTokens {
    pub access_token: Option<String>,
    pub refresh_token: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub refreshing_by: Option<String>,
    pub refreshing_until: Option<DateTime<Utc>>,
}

// Never printed: a `{:?}` of the row would put the tokens in a log line.
impl std::fmt::Debug for ZnsTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZnsTokens")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Seeds the token row from `VONGDOI_ZNS_REFRESH_TOKEN` when there is none, or when the
    /// operator gave a new one (its hash differs from the seed's): re-authorising the OA by
    /// hand replaces the stored chain; restarting with the same setting changes nothing.
    pub async fn zns_seed(&self, refresh: &str, seed_hash: &str, now: DateTime<Utc>) -> Result<()> {
        const SQL: &str = "INSERT INTO zns_tokens (id, access_token, refresh_token, expires_at, seed_hash, updated_at) \
             VALUES (1, NULL, $1, NULL, $2, $3) ON CONFLICT (id) DO UPDATE SET refresh_token = excluded.refresh_token, \
             access_token = NULL, expires_at = NULL, seed_hash = excluded.seed_hash, refreshing_by = NULL, \
             refreshing_until = NULL, updated_at = excluded.updated_at WHERE zns_tokens.seed_hash <> excluded.seed_hash";
        dispatch!(self, s => {
            sqlx::query(SQL)
            .bind(refresh)
            .bind(seed_hash)
            .bind(now)
            .execute(s.write_pool())
            .await?;
        });
        Ok(())
    }

    /// The token row (read from the writer: a rotation just made elsewhere must be seen).
    pub async fn zns_tokens(&self) -> Result<Option<ZnsTokens>> {
        const SQL: &str = "SELECT access_token, refresh_token, expires_at, refreshing_by, refreshing_until FROM zns_tokens WHERE id = 1";
        Ok(dispatch!(self, s => sqlx::query_as::<_, ZnsTokens>(SQL)
            .fetch_optional(s.write_pool())
            .await?))
    }

    /// Takes the lease to rotate `old` (true), unless another instance holds it or `old` was
    /// rotated already.
    pub async fn zns_begin_refresh(
        &self,
        old: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE zns_tokens SET refreshing_by = $1, refreshing_until = $2 WHERE id = 1 AND refresh_token = $3 \
             AND (refreshing_until IS NULL OR refreshing_until < $4 OR refreshing_by = $1)";
        let done = dispatch!(self, s => sqlx::query(SQL)
            .bind(owner)
            .bind(until)
            .bind(old)
            .bind(now)
            .execute(s.write_pool())
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Stores the rotated tokens if `old` is still the stored refresh token and this owner
    /// holds the lease (compare-and-swap); true when stored. Only then may the new access
    /// token be used: a crash after this loses nothing.
    #[allow(clippy::too_many_arguments)]
    pub async fn zns_store_tokens(
        &self,
        old: &str,
        owner: &str,
        access: &str,
        refresh: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE zns_tokens SET access_token = $1, refresh_token = $2, expires_at = $3, refreshing_by = NULL, \
             refreshing_until = NULL, updated_at = $4 WHERE id = 1 AND refresh_token = $5 AND refreshing_by = $6";
        let done = dispatch!(self, s => sqlx::query(SQL)
            .bind(access)
            .bind(refresh)
            .bind(expires_at)
            .bind(now)
            .bind(old)
            .bind(owner)
            .execute(s.write_pool())
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Gives the rotation lease back (the refresh failed).
    pub async fn zns_end_refresh(&self, owner: &str) -> Result<()> {
        const SQL: &str = "UPDATE zns_tokens SET refreshing_by = NULL, refreshing_until = NULL WHERE id = 1 AND refreshing_by = $1";
        dispatch!(self, s => {
            sqlx::query(SQL).bind(owner).execute(s.write_pool()).await?;
        });
        Ok(())
    }

    /// Counts one ZNS against `day`'s quota (a Vietnam day), atomically across instances;
    /// false when `limit` were already counted. A send that then fails still counts: the
    /// count errs on the side of Zalo's own quota.
    pub async fn zns_take_quota(&self, day: NaiveDate, limit: i64) -> Result<bool> {
        const SQL: &str =
            "INSERT INTO zns_quota (day, used) VALUES ($1, 1) ON CONFLICT (day) DO UPDATE \
             SET used = zns_quota.used + 1 WHERE zns_quota.used < $2 RETURNING used";
        if limit <= 0 {
            return Ok(false);
        }
        let used: Option<i64> = dispatch!(self, s => sqlx::query_scalar(SQL)
            .bind(day)
            .bind(limit)
            .fetch_optional(s.write_pool())
            .await?);
        Ok(used.is_some())
    }

    /// Gives back a count taken by [`Store::zns_take_quota`] for a send that never went.
    pub async fn zns_return_quota(&self, day: NaiveDate) -> Result<()> {
        const SQL: &str = "UPDATE zns_quota SET used = used - 1 WHERE day = $1 AND used > 0";
        dispatch!(self, s => {
            sqlx::query(SQL).bind(day).execute(s.write_pool()).await?;
        });
        Ok(())
    }

    /// Puts a claimed message back unattempted until `until`, saying why (a held ZNS: no
    /// quota or no token). Its attempt is not counted.
    pub async fn hold_message(
        &self,
        id: &str,
        owner: &str,
        until: DateTime<Utc>,
        why: &str,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE messages SET status = 'queued', attempts = attempts - 1, next_attempt_at = $1, last_error = $2, \
             lease_owner = NULL, lease_until = NULL WHERE id = $3 AND lease_owner = $4 AND status = 'sending'";
        let why = super::outbox::outside_text(why);
        let done = dispatch!(self, s => sqlx::query(SQL)
            .bind(until)
            .bind(&why)
            .bind(id)
            .bind(owner)
            .execute(s.write_pool())
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// When a message was queued (a held ZNS goes by SMS past its deadline from then).
    pub async fn message_created_at(&self, id: &str) -> Result<Option<DateTime<Utc>>> {
        const SQL: &str = "SELECT created_at FROM messages WHERE id = $1";
        Ok(dispatch!(self, s => sqlx::query_scalar(SQL)
            .bind(id)
            .fetch_optional(s.read_pool())
            .await?))
    }
}
