//! Storage behind one contract, two backends: SQLite (the embedded default, one file) and
//! PostgreSQL (a province or the country, several instances). Selected once from the URL.
//!
//! `Store` is an enum rather than a trait object: the methods are async, the set of backends
//! is closed, and a match keeps every call site free of generic bounds (ARCHITECTURE.md).
//! Logic that does not depend on the backend — deciding what an upsert changes — lives here,
//! once; each backend only runs SQL.
//!
//! One file per kind of data — `registry`, `scan`, `runs`, `outbox`, `access`, `accounts`,
//! `schools`, `facilities` — holds its rows,
//! its SQL and its `Store` methods. Each query is written once, with placeholders `$1…` in order
//! of first use (which SQLite reads too), and run on the backend at hand by `dispatch!`, which
//! expands it once per backend type: the same text is type-checked against both. Where the two
//! dialects differ, a [`Dialect`] constant names the difference. `sqlite.rs` and `postgres.rs`
//! keep only the pools, the migrations and the work that differs in kind: an import's bulk
//! writes (multi-row VALUES against one UNNEST) and the scan's aggregation.

/// Runs `$e` on whichever backend `$self` is, binding that backend's store to `$s` (the one
/// dispatch of the store's methods; it is defined before the submodules so that they use it
/// too). `$e` is expanded once per backend, so a query written in it is checked against both.
macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

pub mod access;
pub mod accounts;
pub mod alerts;
mod bulk;
pub use bulk::BULK_MAX_STORED;
pub mod dossier;
pub mod facilities;
pub mod states;
pub use dossier::{Dossier, Guardian};
pub use states::{CallOutcome, Channel, MessageStatus, RunStatus};
mod error;
mod rows;
pub use error::{Result, StoreError};
pub use rows::*;
pub mod inbound;
pub mod outbox;
pub mod outcomes;
mod postgres;
mod registry;
pub mod runs;
pub mod scan;
pub mod schools;
pub mod shards;
pub mod zns;
pub use scan::{CitizenRecords, RecordedDose, ScanRange};
mod sqlite;
mod sqlite_bulk;

use crate::registry::{AdminUnits, PersonalId};
use chrono::{DateTime, Utc};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// The default database: a SQLite file in the working directory (docs/interface.md).
pub const DEFAULT_DATABASE_URL: &str = "sqlite://vongdoi.db";

/// Where the two backends' SQL differs, each difference named once; every other query is
/// written once for both. A store hands out its own with `dialect()`.
pub(crate) struct Dialect {
    /// Locks the rows a SELECT in a write transaction reads until it commits. SQLite has no
    /// row locks and needs none: its write transaction (BEGIN IMMEDIATE) holds the database.
    pub for_update: &'static str,
    /// Locks the rows a claim picks, passing over those another instance is claiming, so that
    /// two instances never lease the same message; SQLite has one writer at a time.
    pub skip_locked: &'static str,
    /// `date_of_birth`'s calendar year as a 32-bit integer.
    pub birth_year: &'static str,
    /// Values per statement of a list written with [`Dialect::in_list`] (and bound with the
    /// store's `bind_list`): SQLite takes a parameter per value, far below its variable limit
    /// at 500; PostgreSQL takes any number as one array.
    pub list_chunk: usize,
    /// Whether a list is one array parameter (PostgreSQL) or a parameter per value (SQLite).
    list_is_array: bool,
}

impl Dialect {
    pub(crate) const SQLITE: Dialect = Dialect {
        for_update: "",
        skip_locked: "",
        birth_year: "CAST(substr(date_of_birth, 1, 4) AS INTEGER)",
        list_chunk: 500,
        list_is_array: false,
    };

    pub(crate) const POSTGRES: Dialect = Dialect {
        for_update: "FOR UPDATE",
        skip_locked: "FOR UPDATE SKIP LOCKED",
        birth_year: "EXTRACT(YEAR FROM date_of_birth)::int4",
        list_chunk: usize::MAX,
        list_is_array: true,
    };

    /// "Is one of these `n` values", the values bound from parameter `$first` on:
    /// `IN ($first, …)` on SQLite, `= ANY($first)` on PostgreSQL.
    pub(crate) fn in_list(&self, first: usize, n: usize) -> String {
        if self.list_is_array {
            format!("= ANY(${first})")
        } else {
            let params: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
            format!("IN ({})", params.join(", "))
        }
    }
}

impl Store {
    /// The rows `sql` selects for these citizens, `sql` given the list's condition
    /// ([`Dialect::in_list`] from `$1`), read in chunks the backend takes: a scattered page of
    /// the registry, where a range would read everyone between its first and last.
    pub(crate) async fn rows_for_ids<T>(
        &self,
        pins: &[PersonalId],
        sql: impl Fn(&str) -> String,
    ) -> Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let pins: Vec<String> = pins.iter().map(|p| p.to_string()).collect();
        let mut rows = Vec::new();
        dispatch!(self, s => {
            let d = s.dialect();
            for chunk in pins.chunks(d.list_chunk) {
                let sql = sql(&d.in_list(1, chunk.len()));
                for row in s.bind_list(sqlx::query(&sql), chunk).fetch_all(s.read_pool()).await? {
                    rows.push(T::from_row(&row)?);
                }
            }
        });
        Ok(rows)
    }
}

pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the database the URL names.
    pub async fn connect(url: &str) -> Result<Store> {
        let store = Self::open(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens without migrating.
    pub async fn open(url: &str) -> Result<Store> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(SqliteStore::open(url).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(PgStore::open(url).await?))
        } else {
            Err(StoreError::UnknownScheme(url.to_string()))
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Brings the schema up to date and refreshes the embedded administrative units.
    pub async fn migrate(&self) -> Result<()> {
        dispatch!(self, s => s.migrate_schema().await)?;
        // A bulk load that was killed left the citizens' indexes dropped: build them now.
        self.restore_deferred_indexes().await?;
        // Every command migrates on start; re-seeding 3,321 communes each time is waste, so
        // the units are written only when this binary carries a version the database lacks.
        let fingerprint = AdminUnits::fingerprint();
        let stored = self.admin_units_fingerprint().await?;
        if stored.as_deref() == Some(fingerprint.as_str()) {
            return Ok(());
        }
        dispatch!(self, s => s.seed_admin_units(&fingerprint).await)
    }

    /// A cheap query: is the database there?
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, s => {
            sqlx::query("SELECT 1").execute(s.read_pool()).await?;
        });
        Ok(())
    }

    /// Closes the pools, flushing SQLite's WAL.
    pub async fn close(&self) {
        dispatch!(self, s => s.close().await)
    }
}
