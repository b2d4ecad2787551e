//! Storage for the edges (issue #6): API keys (SHA-256 hashes only), staff browser sessions,
//! and the audit trail of who read or changed whose data. The SQL is written once for both
//! backends (placeholders `$1…` in order of first use, which SQLite reads too).

use super::{Result, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A stored API key: who it is, what it may do, where. Never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub name: String,
    pub role: String,
    /// Comma-separated 2-digit province codes.
    pub provinces: String,
    /// Comma-separated 5-digit commune codes.
    pub communes: String,
    #[serde(skip)]
    pub key_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One read or change of one person's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditRow {
    pub at: DateTime<Utc>,
    pub key_name: String,
    pub role: String,
    pub personal_id: String,
    pub action: String,
    pub detail: Option<String>,
}

/// Which audit rows [`Store::audit_rows`] returns (newest first).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub personal_id: Option<String>,
    pub key_name: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// When an ID was a person's: after one instant, before another, or both.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
}

impl Window {
    fn and(self, other: Window) -> Window {
        Window {
            after: self.after.max(other.after),
            before: match (self.before, other.before) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }

    fn is_empty(&self) -> bool {
        matches!((self.after, self.before), (Some(a), Some(b)) if a >= b)
    }
}

const KEY_COLUMNS: &str = "name, role, provinces, communes, key_hash, created_at, revoked_at";

/// Audit rows per multi-row INSERT (7 columns, far below either backend's parameter limit).
const AUDIT_ROWS: usize = 500;

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Store {
    /// Stores a new key; a name already taken is [`StoreError::Conflict`].
    pub async fn insert_api_key(&self, k: &ApiKeyRow) -> Result<()> {
        const SQL: &str = "INSERT INTO api_keys (name, role, provinces, communes, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
        let done = dispatch!(self, s => sqlx::query(SQL)
            .bind(&k.name)
            .bind(&k.role)
            .bind(&k.provinces)
            .bind(&k.communes)
            .bind(&k.key_hash)
            .bind(k.created_at)
            .execute(s.write_pool())
            .await
            .map(|_| ()));
        done.map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!(
                    "khóa tên '{}' đã có / a key named '{}' exists already",
                    k.name, k.name
                ))
            } else {
                e.into()
            }
        })
    }

    /// The key with this SHA-256 hash (revoked or not: the caller decides).
    pub async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKeyRow>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1");
        Ok(dispatch!(self, s => sqlx::query_as::<_, ApiKeyRow>(&sql)
            .bind(hash)
            .fetch_optional(s.read_pool())
            .await?))
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRow>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY name");
        Ok(dispatch!(self, s => sqlx::query_as::<_, ApiKeyRow>(&sql)
            .fetch_all(s.read_pool())
            .await?))
    }

    /// Revokes a key and ends its browser sessions; false when no live key has that name.
    pub async fn revoke_api_key(&self, name: &str, now: DateTime<Utc>) -> Result<bool> {
        const REVOKE: &str =
            "UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL";
        const END_SESSIONS: &str = "DELETE FROM api_sessions WHERE key_name = $1";
        let revoked = dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let n = sqlx::query(REVOKE)
                .bind(now)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(END_SESSIONS).bind(name).execute(&mut *tx).await?;
            tx.commit().await?;
            n
        });
        Ok(revoked == 1)
    }

    /// Opens a browser session (and clears the expired ones).
    pub async fn insert_session(
        &self,
        id_hash: &str,
        key_name: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        const EXPIRED: &str = "DELETE FROM api_sessions WHERE expires_at < $1";
        const INSERT: &str = "INSERT INTO api_sessions (id_hash, key_name, created_at, expires_at) VALUES ($1, $2, $3, $4)";
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            sqlx::query(EXPIRED).bind(now).execute(&mut *tx).await?;
            sqlx::query(INSERT)
                .bind(id_hash)
                .bind(key_name)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The key of a live session (not expired; a revoked key's sessions are deleted).
    pub async fn session_key(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKeyRow>> {
        const SQL: &str = "SELECT k.name, k.role, k.provinces, k.communes, k.key_hash, k.created_at, k.revoked_at \
             FROM api_sessions s JOIN api_keys k ON k.name = s.key_name WHERE s.id_hash = $1 AND s.expires_at > $2";
        Ok(dispatch!(self, s => sqlx::query_as::<_, ApiKeyRow>(SQL)
            .bind(id_hash)
            .bind(now)
            .fetch_optional(s.read_pool())
            .await?))
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        const SQL: &str = "DELETE FROM api_sessions WHERE id_hash = $1";
        dispatch!(self, s => {
            sqlx::query(SQL).bind(id_hash).execute(s.write_pool()).await?;
        });
        Ok(())
    }

    /// Appends audit rows in one transaction.
    pub async fn insert_audit(&self, rows: &[AuditRow]) -> Result<()> {
        const SQL: &str = "INSERT INTO audit (at, key_name, role, personal_id, action, detail) ";
        if rows.is_empty() {
            return Ok(());
        }
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            for chunk in rows.chunks(AUDIT_ROWS) {
                let mut qb = sqlx::QueryBuilder::new(SQL);
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.at)
                        .push_bind(&r.key_name)
                        .push_bind(&r.role)
                        .push_bind(&r.personal_id)
                        .push_bind(&r.action)
                        .push_bind(&r.detail);
                });
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The audit rows of one filter as stored, newest first (no following of ID changes).
    async fn audit_rows_stored(&self, f: &AuditFilter) -> Result<Vec<AuditRow>> {
        const SQL: &str = "SELECT at, key_name, role, personal_id, action, detail FROM audit \
             WHERE ($1 IS NULL OR personal_id = $1) AND ($2 IS NULL OR key_name = $2) AND ($3 IS NULL OR at >= $3) \
             ORDER BY at DESC, id DESC LIMIT $4";
        Ok(dispatch!(self, s => sqlx::query_as::<_, AuditRow>(SQL)
            .bind(f.personal_id.as_deref())
            .bind(f.key_name.as_deref())
            .bind(f.since)
            .bind(f.limit)
            .fetch_all(s.read_pool())
            .await?))
    }

    /// The audit rows the filter selects, newest first. A person's rows follow them through
    /// personal-ID changes (`vongdoi citizen change-id`): the reads made under an earlier ID
    /// before it was changed, or under a later ID after, are theirs too (a data subject asking
    /// who read their data gets all of it) — and no more: an ID given up and later registered
    /// to someone else does not mix the two people's reads.
    pub async fn audit_rows(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>> {
        let Some(pin) = filter.personal_id.as_deref() else {
            return self.audit_rows_stored(filter).await;
        };
        let mut rows = Vec::new();
        for (id, window) in self.ids_of_person(pin).await? {
            let f = AuditFilter {
                personal_id: Some(id),
                since: match (filter.since, window.after) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                },
                ..filter.clone()
            };
            let found = self.audit_rows_stored(&f).await?;
            rows.extend(
                found
                    .into_iter()
                    .filter(|r| window.before.is_none_or(|b| r.at < b)),
            );
        }
        rows.sort_by_key(|r| std::cmp::Reverse(r.at));
        rows.truncate(usize::try_from(filter.limit).unwrap_or(0));
        Ok(rows)
    }

    /// Every personal ID this person has had, each with the time window in which it was theirs
    /// (relative to `pin`): an earlier ID until it was changed, a later one from then on.
    /// Bounded: a chain of re-established IDs is short.
    async fn ids_of_person(&self, pin: &str) -> Result<Vec<(String, Window)>> {
        // Someone registered under `pin` now holds it only since the last change away from it
        // (an ID given up and registered again); what came before was the previous holder's.
        let mut start = Window::default();
        let mut holder = false;
        if let Ok(parsed) = crate::registry::PersonalId::parse(pin) {
            if self.citizen(parsed).await?.is_some() {
                holder = true;
                start.after = self
                    .id_changes_of(parsed)
                    .await?
                    .iter()
                    .filter(|c| c.old_id == pin)
                    .map(|c| c.changed_at)
                    .max();
            }
        }
        let mut ids = vec![(pin.to_string(), start)];
        let mut i = 0;
        while i < ids.len() && ids.len() < 32 {
            let (id, window) = ids[i].clone();
            if let Ok(parsed) = crate::registry::PersonalId::parse(&id) {
                for c in self.id_changes_of(parsed).await? {
                    if holder && i == 0 && c.old_id == id {
                        continue; // the previous holder's change, not this person's
                    }
                    let (other, step) = if c.new_id == id {
                        // Backwards: the earlier ID was theirs until the change.
                        (
                            c.old_id,
                            Window {
                                after: None,
                                before: Some(c.changed_at),
                            },
                        )
                    } else {
                        // Forwards: the later ID is theirs from the change on.
                        (
                            c.new_id,
                            Window {
                                after: Some(c.changed_at),
                                before: None,
                            },
                        )
                    };
                    let w = window.and(step);
                    if !w.is_empty() && !ids.iter().any(|(known, _)| *known == other) {
                        ids.push((other, w));
                    }
                }
            }
            i += 1;
        }
        Ok(ids)
    }
}
