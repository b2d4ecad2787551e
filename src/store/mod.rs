//! Storage behind one contract, two backends: SQLite (the embedded default, one file) and
//! PostgreSQL (a province or the country, several instances). Selected once from the URL.
//!
//! `Store` is an enum rather than a trait object: the methods are async, the set of backends
//! is closed, and a match keeps every call site free of generic bounds (ARCHITECTURE.md).
//! Logic that does not depend on the backend — deciding what an upsert changes — lives here,
//! once; each backend only runs SQL.

/// Runs `$e` on whichever backend `$self` is (the one dispatch of the store's methods; it is
/// defined before the submodules so that they use it too).
macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

pub mod access;
pub mod dossier;
pub mod states;
pub use dossier::{Dossier, Guardian};
pub use states::{Channel, MessageStatus, RunStatus};
mod error;
mod rows;
pub use error::{Result, StoreError};
pub use rows::*;
mod postgres;
mod registry;
pub mod scan;
pub use scan::{CitizenRecords, RecordedDose, ScanRange};
pub mod schedule;
mod sqlite;

use crate::registry::{AdminUnits, PersonalId};
use chrono::{DateTime, NaiveDate, Utc};

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
        // Every command migrates on start; re-seeding 3,321 communes each time is waste, so
        // the units are written only when this binary carries a version the database lacks.
        let fingerprint = AdminUnits::fingerprint();
        let stored = self.admin_units_fingerprint().await?;
        if stored.as_deref() == Some(fingerprint.as_str()) {
            return Ok(());
        }
        dispatch!(self, s => s.seed_admin_units(&fingerprint).await)
    }

    /// Takes (or resumes) the scan of a run date for `owner` until `lease_until`.
    pub async fn claim_run(
        &self,
        as_of: NaiveDate,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<schedule::RunClaim> {
        dispatch!(self, s => s.claim_run(as_of, owner, lease_until, now).await)
    }

    /// Commits one scanned page: changed ledger rows, new notices (duplicates skipped) and the
    /// checkpoint, atomically and only under the run's lease. Returns the new notices.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_page(
        &self,
        as_of: NaiveDate,
        owner: &str,
        lease_until: DateTime<Utc>,
        checkpoint: PersonalId,
        evaluated: i64,
        events: &[schedule::EventRow],
        notices: &[schedule::NoticeRow],
        now: DateTime<Utc>,
    ) -> Result<u64> {
        dispatch!(self, s => s.commit_page(as_of, owner, lease_until, checkpoint.as_str(), evaluated, events, notices, now).await)
    }

    pub async fn finish_run(
        &self,
        as_of: NaiveDate,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        dispatch!(self, s => s.finish_run(as_of, owner, now).await)
    }

    /// A page of notices waiting for a message, for recipients after `after` (recipient order).
    pub async fn unmessaged_notices(
        &self,
        day: NaiveDate,
        after: &str,
        limit: i64,
    ) -> Result<Vec<schedule::NoticeRow>> {
        dispatch!(self, s => s.unmessaged_notices(day, after, limit).await)
    }

    /// Queues messages with their notices in one transaction; returns how many were new.
    pub async fn queue_messages(
        &self,
        batch: &[(schedule::OutboxMessage, Vec<&schedule::NoticeRow>)],
        now: DateTime<Utc>,
    ) -> Result<u64> {
        dispatch!(self, s => s.queue_messages(batch, now).await)
    }

    pub async fn claim_messages(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<schedule::OutboxMessage>> {
        dispatch!(self, s => s.claim_messages(owner, lease_until, now, limit).await)
    }

    pub async fn mark_sent(
        &self,
        id: &str,
        owner: &str,
        provider_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let provider_id = provider_id.map(schedule::outside_text);
        dispatch!(self, s => s.mark_sent(id, owner, provider_id.as_deref(), now).await)
    }

    /// Marks many leased messages sent in one transaction.
    pub async fn mark_sent_many(
        &self,
        ids: &[String],
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        dispatch!(self, s => s.mark_sent_many(ids, owner, now).await)
    }

    pub async fn mark_failed(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let error = schedule::outside_text(error);
        dispatch!(self, s => s.mark_failed(id, owner, &error, retry_at).await)
    }

    /// The first `limit` messages of a day, by channel and id.
    pub async fn messages_of_day(
        &self,
        day: NaiveDate,
        limit: i64,
    ) -> Result<Vec<schedule::OutboxMessage>> {
        dispatch!(self, s => s.messages_of_day(day, limit).await)
    }

    /// (channel, status, count) over the whole outbox.
    pub async fn outbox_counts(&self) -> Result<Vec<(String, String, i64)>> {
        dispatch!(self, s => s.outbox_counts().await)
    }

    pub async fn release_run(&self, as_of: NaiveDate, owner: &str) -> Result<()> {
        dispatch!(self, s => s.release_run(as_of, owner).await)
    }

    pub async fn release_message(&self, id: &str, owner: &str) -> Result<bool> {
        dispatch!(self, s => s.release_message(id, owner).await)
    }

    /// Gives back every lease `owner` holds — runs and messages — when its work was abandoned
    /// (`serve` stopping past its deadline). The messages were attempted: they are queued again
    /// with that attempt counted, like a send that timed out. Returns the messages released.
    pub async fn release_all(&self, owner: &str, now: DateTime<Utc>) -> Result<u64> {
        dispatch!(self, s => s.release_all(owner, now).await)
    }

    /// The installation's secret (32 random bytes, hex) for message ids: made once, by
    /// whichever instance asks first, and read by all the others from the database, so every
    /// instance composes the same id for the same message.
    pub async fn message_id_secret(&self) -> Result<String> {
        let fresh = crate::secret::random_hex()
            .map_err(|e| StoreError::Corrupt(format!("cannot read random bytes: {e}")))?;
        dispatch!(self, s => s.message_id_secret(&fresh).await)
    }

    /// A gateway's delivery report, by our message id or the provider's id.
    pub async fn record_delivery_report(
        &self,
        key: &str,
        delivered: bool,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        // A key with control characters matches no message (and PostgreSQL refuses NUL).
        if key.chars().any(char::is_control) {
            return Ok(false);
        }
        let error = error.map(schedule::outside_text);
        dispatch!(self, s => s.record_delivery_report(key, delivered, error.as_deref(), now).await)
    }

    pub async fn notices_of_message(&self, id: &str) -> Result<Vec<schedule::NoticeRow>> {
        dispatch!(self, s => s.notices_of_message(id).await)
    }

    pub async fn queue_fallback(
        &self,
        failed: &str,
        m: &schedule::OutboxMessage,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        dispatch!(self, s => s.queue_fallback(failed, m, now).await)
    }

    pub async fn list_messages(
        &self,
        filter: &schedule::MessageFilter,
    ) -> Result<Vec<schedule::OutboxMessage>> {
        dispatch!(self, s => s.list_messages(filter).await)
    }

    pub async fn message(&self, id: &str) -> Result<Option<schedule::OutboxMessage>> {
        dispatch!(self, s => s.message(id).await)
    }

    /// Queues a failed or dead message again now; false when it is neither.
    pub async fn retry_message(&self, id: &str, now: DateTime<Utc>) -> Result<bool> {
        dispatch!(self, s => s.retry_message(id, now).await)
    }

    /// A cheap query: is the database there?
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, s => s.ping().await)
    }

    /// Closes the pools, flushing SQLite's WAL.
    pub async fn close(&self) {
        dispatch!(self, s => s.close().await)
    }
}
