//! Storage behind one contract, two backends: SQLite (the embedded default, one file) and
//! PostgreSQL (a province or the country, several instances). Selected once from the URL.
//!
//! `Store` is an enum rather than a trait object: the methods are async, the set of backends
//! is closed, and a match keeps every call site free of generic bounds (ARCHITECTURE.md).
//! Logic that does not depend on the backend — deciding what an upsert changes — lives here,
//! once; each backend only runs SQL.

pub mod access;
pub mod dossier;
pub mod states;
pub use dossier::{Dossier, Guardian};
pub use states::{Channel, MessageStatus, RunStatus};
mod postgres;
pub mod scan;
pub mod schedule;
mod shared;
mod sqlite;

use crate::registry::{
    AdminUnits, Citizen, CommuneCode, IdCardRecord, Immunization, Language, PersonalId, Sex,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// The default database: a SQLite file in the working directory (docs/interface.md).
pub const DEFAULT_DATABASE_URL: &str = "sqlite://vongdoi.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL '{0}' is not understood: use sqlite://FILE or postgres://USER@HOST/DB")]
    UnknownScheme(String),
    #[error("cannot open the database: {0}. Check DATABASE_URL / --database-url, that the server runs and the user may connect")]
    Connect(#[source] sqlx::Error),
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A statement ran past PostgreSQL's `statement_timeout`, or no connection was free in
    /// time: the database is overloaded or a lock is held; the work is safe to run again.
    #[error("cơ sở dữ liệu không trả lời kịp / the database did not answer in time: {0}")]
    Timeout(String),
    #[error("the database holds a value this version cannot read ({0}); was it edited by hand?")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Whether the database refused the data itself (a constraint, a value it cannot hold, a
    /// size limit) rather than failing to run: only then can writing fewer rows succeed.
    /// PostgreSQL SQLSTATE classes 22 (data exception: a NUL is 22021), 23 (integrity) and 54
    /// (program limit: an index row too large); SQLite TOOBIG, CONSTRAINT and MISMATCH.
    pub fn is_data_error(&self) -> bool {
        let StoreError::Database(sqlx::Error::Database(e)) = self else {
            return false;
        };
        let Some(code) = e.code() else { return false };
        if e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .is_some()
        {
            return ["22", "23", "54"]
                .iter()
                .any(|class| code.starts_with(class));
        }
        code.parse::<i32>()
            .is_ok_and(|c| matches!(c & 0xff, 18..=20))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        match &e {
            sqlx::Error::PoolTimedOut => StoreError::Timeout(
                "no database connection came free within 30 s (the pool's acquire timeout)".into(),
            ),
            // 57014 query_canceled: what `statement_timeout` raises.
            sqlx::Error::Database(d) if d.code().as_deref() == Some("57014") => {
                StoreError::Timeout(format!(
                    "{} (statement_timeout; raise VONGDOI_DB_STATEMENT_TIMEOUT_SECONDS if this \
                     statement is legitimately slow)",
                    d.message()
                ))
            }
            _ => StoreError::Database(e),
        }
    }
}

/// A citizen with what the store keeps beside the registry fields.
#[derive(Debug, Clone, Serialize)]
pub struct StoredCitizen {
    #[serde(flatten)]
    pub citizen: Citizen,
    pub sms_opt_out: bool,
    pub email_opt_out: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HistoryEntry {
    pub changed_at: DateTime<Utc>,
    pub source: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PersonalIdChange {
    pub old_id: String,
    pub new_id: String,
    pub changed_at: DateTime<Utc>,
    pub source: String,
    pub reason: String,
}

/// What an upsert of one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, o: Self) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
    }
}

/// Birth and death dates, all an importer needs to check a record could be true.
pub type Lifespan = (NaiveDate, Option<NaiveDate>);

/// Counts for the summary after a demo or an import.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RegistrySummary {
    pub citizens: i64,
    pub living: i64,
    pub households: i64,
    pub with_phone: i64,
    pub with_email: i64,
    pub immunizations: i64,
    pub id_cards: i64,
    /// (commune code, living residents), largest first.
    pub communes: Vec<(String, i64)>,
}

/// The rows one upsert batch must write, worked out from what the store already holds.
pub(crate) struct UpsertPlan<'a> {
    pub writes: Vec<&'a Citizen>,
    /// Citizens in `writes` that are new (the rest are changed).
    pub new: HashSet<PersonalId>,
    pub history: Vec<(PersonalId, &'static str, String, String)>,
    pub counts: UpsertCounts,
}

/// Decides, for a batch with distinct personal IDs, which citizens are new, which changed
/// (with one history line per changed field) and which are as stored.
pub(crate) fn plan_upsert<'a>(
    existing: &HashMap<PersonalId, Citizen>,
    batch: &'a [Citizen],
) -> UpsertPlan<'a> {
    let mut plan = UpsertPlan {
        writes: Vec::new(),
        new: HashSet::new(),
        history: Vec::new(),
        counts: UpsertCounts::default(),
    };
    for c in batch {
        match existing.get(&c.personal_id) {
            None => {
                plan.counts.inserted += 1;
                plan.new.insert(c.personal_id);
                plan.writes.push(c);
            }
            Some(before) => {
                let changes = c.changes_from(before);
                if changes.is_empty() {
                    plan.counts.unchanged += 1;
                } else {
                    plan.counts.updated += 1;
                    plan.writes.push(c);
                    plan.history.extend(
                        changes
                            .into_iter()
                            .map(|(f, o, n)| (c.personal_id, f, o, n)),
                    );
                }
            }
        }
    }
    plan
}

/// A citizen row as both backends return it, before the registry types re-check it.
#[derive(sqlx::FromRow)]
pub(crate) struct CitizenDbRow {
    pub personal_id: String,
    pub full_name: String,
    pub sex: String,
    pub date_of_birth: NaiveDate,
    pub date_of_death: Option<NaiveDate>,
    pub commune_code: String,
    pub household_id: Option<String>,
    pub mother_id: Option<String>,
    pub father_id: Option<String>,
    pub guardian_id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub language: String,
}

pub(crate) const CITIZEN_SELECT: &str = "personal_id, full_name, sex, date_of_birth, date_of_death, commune_code, household_id, mother_id, father_id, guardian_id, phone, email, language";

fn corrupt<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

impl TryFrom<CitizenDbRow> for Citizen {
    type Error = StoreError;
    fn try_from(r: CitizenDbRow) -> Result<Citizen> {
        let pin = |s: Option<String>, what: &str| -> Result<Option<PersonalId>> {
            s.map(|s| PersonalId::parse(&s).map_err(corrupt(what)))
                .transpose()
        };
        Ok(Citizen {
            personal_id: PersonalId::parse(&r.personal_id).map_err(corrupt("personal_id"))?,
            full_name: r.full_name,
            sex: Sex::parse(&r.sex).map_err(corrupt("sex"))?,
            date_of_birth: r.date_of_birth,
            date_of_death: r.date_of_death,
            commune_code: CommuneCode::parse(&r.commune_code).map_err(corrupt("commune_code"))?,
            household_id: r.household_id,
            mother_id: pin(r.mother_id, "mother_id")?,
            father_id: pin(r.father_id, "father_id")?,
            guardian_id: pin(r.guardian_id, "guardian_id")?,
            phone: r
                .phone
                .map(|p| crate::registry::Phone::parse(&p).map_err(corrupt("phone")))
                .transpose()?,
            email: r
                .email
                .map(|e| crate::registry::Email::parse(&e).map_err(corrupt("email")))
                .transpose()?,
            language: Language::parse(&r.language).map_err(corrupt("language"))?,
        })
    }
}

/// One dose as the rule engine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedDose {
    pub vaccine: String,
    pub date_given: NaiveDate,
}

/// What the rule engine needs of a citizen, with their records: the lean row of the registry
/// scan. Names and contacts are left out on purpose — the scan touches everyone, and only the
/// few with something due need them (fetch those with [`Store::citizen`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitizenRecords {
    pub personal_id: PersonalId,
    pub sex: Sex,
    pub date_of_birth: NaiveDate,
    pub date_of_death: Option<NaiveDate>,
    pub commune_code: CommuneCode,
    /// In date order.
    pub doses: Vec<RecordedDose>,
    /// In date order.
    pub id_cards: Vec<NaiveDate>,
}

/// How a page of the registry scan travels from the database: one text value for the whole
/// page, a line per citizen — `personal_id|sex|birth|death|commune|date vaccine,…|date,…` —
/// built by the database in personal-ID order. A row per citizen (or per dose) costs more in
/// the driver's per-value copying than the database spends finding the data; one value per
/// page makes reading the registry several times faster.
pub(crate) fn parse_evaluation_page(page: &str) -> Result<Vec<CitizenRecords>> {
    page.lines()
        .filter(|l| !l.is_empty())
        .map(parse_evaluation_line)
        .collect()
}

fn parse_evaluation_line(line: &str) -> Result<CitizenRecords> {
    let bad = || {
        StoreError::Corrupt(format!(
            "scan line for {}",
            crate::registry::personal_id::mask_raw(line.split('|').next().unwrap_or(""))
        ))
    };
    let mut f = line.split('|');
    let mut next = || f.next().ok_or_else(bad);
    let (pin, sex, birth, death, commune, doses_text, cards_text) = (
        next()?,
        next()?,
        next()?,
        next()?,
        next()?,
        next()?,
        next()?,
    );
    let mut doses = Vec::new();
    for entry in doses_text.split(',').filter(|e| !e.is_empty()) {
        let (date, vaccine) = entry.split_once(' ').ok_or_else(bad)?;
        doses.push(RecordedDose {
            vaccine: vaccine.to_string(),
            date_given: iso_date(date)?,
        });
    }
    doses.sort_by(|a, b| (a.date_given, &a.vaccine).cmp(&(b.date_given, &b.vaccine)));
    let mut id_cards = cards_text
        .split(',')
        .filter(|e| !e.is_empty())
        .map(iso_date)
        .collect::<Result<Vec<_>>>()?;
    id_cards.sort();
    Ok(CitizenRecords {
        personal_id: PersonalId::parse(pin).map_err(corrupt("personal_id"))?,
        sex: Sex::parse(sex).map_err(corrupt("sex"))?,
        date_of_birth: iso_date(birth)?,
        date_of_death: if death.is_empty() {
            None
        } else {
            Some(iso_date(death)?)
        },
        commune_code: CommuneCode::parse(commune).map_err(corrupt("commune_code"))?,
        doses,
        id_cards,
    })
}

/// `YYYY-MM-DD` without the generality of a format string: the scan parses millions.
fn iso_date(s: &str) -> Result<NaiveDate> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + (d - b'0') as u32)
        })
    };
    (b.len() == 10 && b[4] == b'-' && b[7] == b'-')
        .then(|| NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?))
        .flatten()
        .ok_or_else(|| StoreError::Corrupt(format!("date '{s}'")))
}

/// Where a keyset page of citizens in birth order starts (exclusive).
pub type BirthCursor = (NaiveDate, PersonalId);

/// Which citizens a filtered registry scan reads: one commune (or every commune) and a range
/// of birth dates, both ends included. Staff lists are about children or one commune: reading
/// only them through the `citizens_commune_birth` / `citizens_birth` indexes, instead of the
/// whole registry, is what keeps a commune's list under a second at any registry size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRange {
    pub commune: Option<CommuneCode>,
    pub born_from: NaiveDate,
    pub born_until: NaiveDate,
}

/// Living residents of one commune born in one calendar year (the enrolment report's unit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BirthYearCount {
    pub commune_code: String,
    pub birth_year: i32,
    pub living: i64,
}

pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
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
