//! Citizens into an empty (or nearly empty) registry at the speed of the database (issue #14):
//! the citizens' secondary indexes are dropped before the load and built once after it — one
//! sort each instead of a million scattered index inserts — and new citizens go in by the
//! backend's fastest path (SQLite: one prepared statement through the C API, `sqlite_bulk`;
//! PostgreSQL: `COPY`). A batch that names a citizen registered already goes through
//! [`Store::upsert_citizens`] as in any import, so counts and history are what they always are.
//!
//! The indexes are not written down a second time here: they are read from the database's own
//! catalogue, as the migrations made them (`sqlite_master.sql`, `pg_get_indexdef`), and kept in
//! `app_meta` under [`DEFERRED_KEY`] until they are built again. So they cannot drift from the
//! migrations, and if the process dies mid-load the next command to open the database builds
//! them ([`Store::migrate`] calls [`Store::restore_deferred_indexes`]).

use super::*;
use crate::registry::Citizen;
use sqlx::error::ErrorKind;

/// A registry holding at most this many citizens is loaded in bulk: rebuilding its indexes
/// afterwards costs less than keeping them up to date during the load.
pub const BULK_MAX_STORED: i64 = 10_000;

/// `app_meta` key of the indexes dropped for a load: a JSON list of `[name, CREATE INDEX …]`.
const DEFERRED_KEY: &str = "deferred_citizen_indexes";

type IndexDefs = Vec<(String, String)>;

/// The citizens' indexes a load may drop: not unique (the personal ID's index stays, it is
/// how a registered citizen is recognised), not a constraint's, with their DDL.
const SQLITE_INDEXES: &str = "SELECT name, sql FROM sqlite_master WHERE type = 'index' \
    AND tbl_name = 'citizens' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%' ORDER BY name";
const PG_INDEXES: &str = "SELECT i.relname::text, pg_get_indexdef(i.oid) FROM pg_index x \
    JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = 'citizens'::regclass \
    AND NOT x.indisunique ORDER BY i.relname";

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn decode_defs(value: Option<String>) -> Result<IndexDefs> {
    match value {
        None => Ok(Vec::new()),
        Some(v) => serde_json::from_str(&v)
            .map_err(|e| StoreError::Corrupt(format!("app_meta {DEFERRED_KEY}: {e}"))),
    }
}

impl Store {
    /// Begins a bulk load of citizens when the registry holds at most [`BULK_MAX_STORED`]:
    /// drops the citizens' secondary indexes, recording them first. Returns whether it did;
    /// after `true`, store batches with [`Store::load_citizens`] and end with
    /// [`Store::restore_deferred_indexes`], whatever happened in between.
    pub async fn begin_citizen_load(&self) -> Result<bool> {
        const COUNT: &str = "SELECT count(*) FROM (SELECT 1 FROM citizens LIMIT $1) AS c";
        const CLAIM: &str =
            "INSERT INTO app_meta (key, value) VALUES ($1, '[]') ON CONFLICT (key) DO NOTHING";
        const SAVE: &str = "UPDATE app_meta SET value = $1 WHERE key = $2";
        let pg = matches!(self, Store::Postgres(_));
        dispatch!(self, s => {
            let d = s.dialect();
            let mut tx = s.write_tx().await?;
            let stored: i64 = sqlx::query_scalar(COUNT)
                .bind(BULK_MAX_STORED + 1)
                .fetch_one(&mut *tx)
                .await?;
            if stored > BULK_MAX_STORED {
                return Ok(false);
            }
            // The row, locked, serialises two loads starting at once (on SQLite the write
            // transaction already does): the second finds the indexes gone and keeps the list.
            sqlx::query(CLAIM).bind(DEFERRED_KEY).execute(&mut *tx).await?;
            let recorded: Option<String> = sqlx::query_scalar(&format!(
                "SELECT value FROM app_meta WHERE key = $1 {}",
                d.for_update
            ))
            .bind(DEFERRED_KEY)
            .fetch_optional(&mut *tx)
            .await?;
            let mut defs = decode_defs(recorded)?;
            let sql = if pg { PG_INDEXES } else { SQLITE_INDEXES };
            let present: IndexDefs = sqlx::query_as(sql).fetch_all(&mut *tx).await?;
            for (name, ddl) in &present {
                if !defs.iter().any(|(n, _)| n == name) {
                    defs.push((name.clone(), ddl.clone()));
                }
            }
            let json = serde_json::to_string(&defs).expect("strings serialise");
            sqlx::query(SAVE).bind(json).bind(DEFERRED_KEY).execute(&mut *tx).await?;
            for (name, _) in &present {
                sqlx::query(&format!("DROP INDEX {}", quoted(name)))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Builds again the indexes a bulk load dropped (those still missing) and forgets them.
    /// A no-op when none are recorded, so every start may call it: a load that was killed
    /// leaves its list behind, and the registry gets its indexes back at the next command.
    pub async fn restore_deferred_indexes(&self) -> Result<()> {
        const FORGET: &str = "DELETE FROM app_meta WHERE key = $1";
        let pg = matches!(self, Store::Postgres(_));
        dispatch!(self, s => {
            let d = s.dialect();
            let mut tx = s.write_tx().await?;
            let recorded: Option<String> = sqlx::query_scalar(&format!(
                "SELECT value FROM app_meta WHERE key = $1 {}",
                d.for_update
            ))
            .bind(DEFERRED_KEY)
            .fetch_optional(&mut *tx)
            .await?;
            if recorded.is_none() {
                return Ok(());
            }
            let defs = decode_defs(recorded)?;
            if pg {
                // An index of the whole registry takes a while: no statement deadline for it
                // (as for migrations), and room to sort in memory; both end with the transaction.
                sqlx::query("SET LOCAL statement_timeout = 0").execute(&mut *tx).await?;
                sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
                    .execute(&mut *tx)
                    .await?;
            }
            let exists = if pg {
                "SELECT count(*) FROM pg_class WHERE relname = $1 AND relkind = 'i' \
                 AND relnamespace = current_schema()::regnamespace"
            } else {
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = $1"
            };
            for (name, ddl) in &defs {
                let n: i64 = sqlx::query_scalar(exists).bind(name).fetch_one(&mut *tx).await?;
                if n == 0 {
                    tracing::info!(index = %name, "building an index the bulk load deferred");
                    sqlx::query(ddl).execute(&mut *tx).await?;
                }
            }
            sqlx::query(FORGET).bind(DEFERRED_KEY).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Stores one batch of a bulk load (personal IDs distinct, as for
    /// [`Store::upsert_citizens`]): new citizens by the fast path; if one of them is
    /// registered after all (an earlier batch or another import stored it), the whole batch
    /// is upserted instead, with its history.
    pub async fn load_citizens(
        &self,
        batch: &[Citizen],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<UpsertCounts> {
        if batch.is_empty() {
            return Ok(UpsertCounts::default());
        }
        let mut rows: Vec<&Citizen> = batch.iter().collect();
        // In key order each insert lands beside the previous one in the personal-ID index.
        rows.sort_unstable_by_key(|c| c.personal_id);
        let inserted = match self {
            Store::Sqlite(s) => {
                let mut tx = s.write_tx().await?;
                let done = sqlite_bulk::insert_new(&mut tx, &rows, source, now).await?;
                if done.is_some() {
                    tx.commit().await?;
                } else {
                    tx.rollback().await?;
                }
                done
            }
            Store::Postgres(s) => match s.copy_new_citizens(&rows, source, now).await {
                Ok(n) => Some(n),
                Err(StoreError::Database(sqlx::Error::Database(e)))
                    if e.kind() == ErrorKind::UniqueViolation =>
                {
                    None
                }
                Err(e) => return Err(e),
            },
        };
        match inserted {
            Some(n) => Ok(UpsertCounts {
                inserted: n,
                ..UpsertCounts::default()
            }),
            None => {
                tracing::debug!("a bulk batch names registered citizens; upserting it");
                self.upsert_citizens(batch, source, now).await
            }
        }
    }
}
