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
pub mod accounts;
pub mod dossier;
pub mod states;
pub use dossier::{Dossier, Guardian};
pub use states::{Channel, MessageStatus, RunStatus};
mod error;
mod rows;
pub use error::{Result, StoreError};
pub use rows::*;
mod postgres;
pub mod scan;
pub mod schedule;
mod shared;
mod sqlite;

use crate::registry::{AdminUnits, Citizen, CommuneCode, IdCardRecord, Immunization, PersonalId};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{HashMap, HashSet};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// The default database: a SQLite file in the working directory (docs/interface.md).
pub const DEFAULT_DATABASE_URL: &str = "sqlite://vongdoi.db";

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
        let stored = dispatch!(self, s => s.admin_units_fingerprint().await)?;
        if stored.as_deref() == Some(fingerprint.as_str()) {
            return Ok(());
        }
        dispatch!(self, s => s.seed_admin_units(&fingerprint).await)
    }

    /// Inserts new citizens and updates changed ones in one transaction, writing a history
    /// line for every changed field. Personal IDs in `batch` must be distinct.
    pub async fn upsert_citizens(
        &self,
        batch: &[Citizen],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<UpsertCounts> {
        debug_assert_eq!(
            batch
                .iter()
                .map(|c| c.personal_id)
                .collect::<HashSet<_>>()
                .len(),
            batch.len(),
            "upsert batches must not repeat a personal ID"
        );
        if batch.is_empty() {
            return Ok(UpsertCounts::default());
        }
        dispatch!(self, s => s.upsert_citizens(batch, source, now).await)
    }

    /// Which of these personal IDs are registered.
    pub async fn existing_ids(&self, pins: &[PersonalId]) -> Result<HashSet<PersonalId>> {
        Ok(self.lifespans(pins).await?.into_keys().collect())
    }

    /// Birth and death dates of those of these citizens who are registered.
    pub async fn lifespans(&self, pins: &[PersonalId]) -> Result<HashMap<PersonalId, Lifespan>> {
        if pins.is_empty() {
            return Ok(HashMap::new());
        }
        dispatch!(self, s => s.lifespans(pins).await)
    }

    /// Stores immunization records; a record already stored (same citizen, vaccine and date)
    /// is skipped. Returns how many were new.
    pub async fn insert_immunizations(
        &self,
        records: &[Immunization],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        if records.is_empty() {
            return Ok(0);
        }
        dispatch!(self, s => s.insert_immunizations(records, source, now).await)
    }

    /// Stores ID-card issuance records, skipping ones already stored. Returns how many were new.
    pub async fn insert_id_cards(
        &self,
        records: &[IdCardRecord],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        if records.is_empty() {
            return Ok(0);
        }
        dispatch!(self, s => s.insert_id_cards(records, source, now).await)
    }

    /// A page of citizens in (date of birth, personal ID) order after `after`: parents come
    /// before their children, so an export in this order re-imports with every link.
    pub async fn citizens_by_birth(
        &self,
        after: Option<BirthCursor>,
        limit: i64,
    ) -> Result<Vec<Citizen>> {
        dispatch!(self, s => s.citizens_by_birth(after, limit).await)
    }

    /// A page of citizens in personal-ID order after `after`, each with the records the rule
    /// engine evaluates: the scan the scheduler and the staff lists are built on. One query per
    /// page, returned as one text value (see [`parse_evaluation_page`]).
    pub async fn evaluation_page(
        &self,
        after: Option<PersonalId>,
        limit: i64,
    ) -> Result<Vec<CitizenRecords>> {
        let page = dispatch!(self, s => s.evaluation_page_text(after, limit).await?);
        parse_evaluation_page(page.as_deref().unwrap_or(""))
    }

    /// A page of the citizens in `range`, in (date of birth, personal ID) order after `after`,
    /// each with the records the rule engine evaluates — [`Store::evaluation_page`] narrowed to
    /// a commune and a birth range. One query per page, one text value.
    pub async fn evaluation_page_in(
        &self,
        range: &ScanRange,
        after: Option<BirthCursor>,
        limit: i64,
    ) -> Result<Vec<CitizenRecords>> {
        if range.born_from > range.born_until {
            return Ok(Vec::new());
        }
        let page = dispatch!(self, s => s.evaluation_page_in_text(range, after, limit).await?);
        parse_evaluation_page(page.as_deref().unwrap_or(""))
    }

    /// Living residents (no death on or before `as_of`, born on or before it) by commune and
    /// calendar year of birth, for birth years `from_year..=until_year`, in `communes` (None:
    /// every commune). One GROUP BY over the birth-date indexes.
    pub async fn living_by_commune_birth_year(
        &self,
        communes: Option<&[CommuneCode]>,
        from_year: i32,
        until_year: i32,
        as_of: NaiveDate,
    ) -> Result<Vec<BirthYearCount>> {
        let born_from = NaiveDate::from_ymd_opt(from_year, 1, 1)
            .ok_or_else(|| StoreError::Corrupt(format!("year {from_year}")))?;
        let born_until = NaiveDate::from_ymd_opt(until_year, 12, 31)
            .ok_or_else(|| StoreError::Corrupt(format!("year {until_year}")))?
            .min(as_of);
        if born_from > born_until || communes.is_some_and(|c| c.is_empty()) {
            return Ok(Vec::new());
        }
        dispatch!(self, s => s.living_by_commune_birth_year(communes, born_from, born_until, as_of).await)
    }

    /// A page of citizens in personal-ID order after `after` (the scheduler's scan order).
    pub async fn citizens_by_id(
        &self,
        after: Option<PersonalId>,
        limit: i64,
    ) -> Result<Vec<Citizen>> {
        dispatch!(self, s => s.citizens_by_id(after, limit).await)
    }

    pub async fn citizen(&self, pin: PersonalId) -> Result<Option<StoredCitizen>> {
        dispatch!(self, s => s.citizen(pin).await)
    }

    /// Everyone in a household, oldest first.
    pub async fn household(&self, household_id: &str) -> Result<Vec<Citizen>> {
        dispatch!(self, s => s.household(household_id).await)
    }

    /// A citizen's immunizations in date order.
    pub async fn immunizations_of(&self, pin: PersonalId) -> Result<Vec<Immunization>> {
        dispatch!(self, s => s.immunizations_of(pin).await)
    }

    /// A citizen's ID cards in date order.
    pub async fn id_cards_of(&self, pin: PersonalId) -> Result<Vec<IdCardRecord>> {
        dispatch!(self, s => s.id_cards_of(pin).await)
    }

    /// A citizen's change history, oldest first.
    pub async fn history_of(&self, pin: PersonalId) -> Result<Vec<HistoryEntry>> {
        dispatch!(self, s => s.history_of(pin).await)
    }

    /// Personal-ID changes that involve this ID, either side.
    pub async fn id_changes_of(&self, pin: PersonalId) -> Result<Vec<PersonalIdChange>> {
        dispatch!(self, s => s.id_changes_of(pin).await)
    }

    /// Re-establishes a personal ID (Law on Identification 2023 Art. 24): the citizen, their
    /// records and every link to them move to the new ID, and the change is recorded.
    pub async fn change_personal_id(
        &self,
        old: PersonalId,
        new: PersonalId,
        reason: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        dispatch!(self, s => s.change_personal_id(old, new, reason, source, now).await)
    }

    /// Sets a citizen's opt-out for one channel; returns false if no such citizen.
    pub async fn set_opt_out(
        &self,
        pin: PersonalId,
        channel: Channel,
        opt_out: bool,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        dispatch!(self, s => s.set_opt_out(pin, channel, opt_out, source, now).await)
    }

    pub async fn summary(&self) -> Result<RegistrySummary> {
        dispatch!(self, s => s.summary().await)
    }

    /// Registered citizens among `pins` (in no particular order), with opt-outs. Set-based:
    /// one query per few hundred IDs, for the few citizens a list or a page of notices names.
    pub async fn citizens_by_ids(&self, pins: &[PersonalId]) -> Result<Vec<StoredCitizen>> {
        if pins.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self, s => s.citizens_by_ids(pins).await)
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

    /// The ledger rows of the citizens with IDs in `first..=last`.
    pub async fn ledger_between(
        &self,
        first: PersonalId,
        last: PersonalId,
    ) -> Result<Vec<schedule::EventRow>> {
        dispatch!(self, s => s.ledger_between(first.as_str(), last.as_str()).await)
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
