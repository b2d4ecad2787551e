//! The registry: citizens, households, immunizations, ID cards, change history, personal-ID
//! changes, opt-outs, the summary and the administrative units. Each query is written once for
//! both backends (placeholders `$1…` in order of first use, which SQLite reads too) and run on
//! whichever this is by `dispatch!`, so a fix lands on SQLite and PostgreSQL at once; where
//! the dialects differ, a [`Dialect`](super::Dialect) constant says how. The bulk writes of an
//! import differ in kind (multi-row VALUES on SQLite, one UNNEST on PostgreSQL) and stay in
//! `sqlite.rs` and `postgres.rs`.

use super::*;
use crate::registry::{Citizen, CommuneCode, IdCardRecord, Immunization, PersonalId};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::FromRow;
use std::collections::{HashMap, HashSet};

mod records;

/// What the store keeps beside a citizen's registry fields, after [`CITIZEN_SELECT`].
pub(crate) const STORED_COLUMNS: &str =
    "sms_opt_out, email_opt_out, created_at, updated_at, created_by";

pub(crate) const HISTORY_INSERT: &str = "INSERT INTO citizen_history (personal_id, changed_at, source, field, old_value, new_value) VALUES ($1, $2, $3, $4, $5, $6)";
const HISTORY_INSERT_WITH_REASON: &str = "INSERT INTO citizen_history (personal_id, changed_at, source, field, old_value, new_value, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// A dose as a history value: `VACCINE YYYY-MM-DD`, then the lot when there is one.
fn dose_text(r: &Immunization) -> String {
    match &r.lot {
        Some(lot) => format!("{} {} lot {lot}", r.vaccine, r.date_given),
        None => format!("{} {}", r.vaccine, r.date_given),
    }
}

impl Store {
    /// Which version of the embedded administrative units the database holds.
    pub(super) async fn admin_units_fingerprint(&self) -> Result<Option<String>> {
        const SQL: &str = "SELECT value FROM app_meta WHERE key = 'admin_units'";
        Ok(dispatch!(self, s => sqlx::query_scalar(SQL).fetch_optional(s.read_pool()).await?))
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
        match self {
            Store::Sqlite(s) if !pins.is_empty() => s.existing_ids(pins).await,
            _ => Ok(self.lifespans(pins).await?.into_keys().collect()),
        }
    }

    /// Birth and death dates of those of these citizens who are registered.
    pub async fn lifespans(&self, pins: &[PersonalId]) -> Result<HashMap<PersonalId, Lifespan>> {
        if pins.is_empty() {
            return Ok(HashMap::new());
        }
        let pins: Vec<String> = pins.iter().map(|p| p.to_string()).collect();
        let mut rows: Vec<(String, NaiveDate, Option<NaiveDate>)> = Vec::new();
        dispatch!(self, s => {
            let d = s.dialect();
            for chunk in pins.chunks(d.list_chunk) {
                let sql = format!(
                    "SELECT personal_id, date_of_birth, date_of_death FROM citizens WHERE personal_id {}",
                    d.in_list(1, chunk.len())
                );
                // Through the writer, so an import sees the batch it committed a moment ago.
                for row in s.bind_list(sqlx::query(&sql), chunk).fetch_all(s.write_pool()).await? {
                    rows.push(FromRow::from_row(&row)?);
                }
            }
        });
        rows.into_iter()
            .map(|(pin, birth, death)| {
                Ok((
                    PersonalId::parse(&pin).map_err(corrupt("personal_id"))?,
                    (birth, death),
                ))
            })
            .collect()
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
        let rows = match after {
            None => {
                let sql = format!(
                    "SELECT {CITIZEN_SELECT} FROM citizens ORDER BY date_of_birth, personal_id LIMIT $1"
                );
                dispatch!(self, s => sqlx::query_as::<_, CitizenDbRow>(&sql)
                    .bind(limit)
                    .fetch_all(s.read_pool())
                    .await?)
            }
            Some((dob, pin)) => {
                let sql = format!(
                    "SELECT {CITIZEN_SELECT} FROM citizens WHERE (date_of_birth, personal_id) > ($1, $2) \
                     ORDER BY date_of_birth, personal_id LIMIT $3"
                );
                dispatch!(self, s => sqlx::query_as::<_, CitizenDbRow>(&sql)
                    .bind(dob)
                    .bind(pin.as_str())
                    .bind(limit)
                    .fetch_all(s.read_pool())
                    .await?)
            }
        };
        rows.into_iter().map(Citizen::try_from).collect()
    }

    /// A page of citizens in personal-ID order after `after` (the scheduler's scan order).
    pub async fn citizens_by_id(
        &self,
        after: Option<PersonalId>,
        limit: i64,
    ) -> Result<Vec<Citizen>> {
        let after = after.map(|p| p.to_string()).unwrap_or_default();
        let sql = format!(
            "SELECT {CITIZEN_SELECT} FROM citizens WHERE personal_id > $1 ORDER BY personal_id LIMIT $2"
        );
        let rows = dispatch!(self, s => sqlx::query_as::<_, CitizenDbRow>(&sql)
            .bind(after)
            .bind(limit)
            .fetch_all(s.read_pool())
            .await?);
        rows.into_iter().map(Citizen::try_from).collect()
    }

    pub async fn citizen(&self, pin: PersonalId) -> Result<Option<StoredCitizen>> {
        let sql = format!(
            "SELECT {CITIZEN_SELECT}, {STORED_COLUMNS} FROM citizens WHERE personal_id = $1"
        );
        let row = dispatch!(self, s => sqlx::query_as::<_, StoredCitizenDbRow>(&sql)
            .bind(pin.as_str())
            .fetch_optional(s.read_pool())
            .await?);
        row.map(StoredCitizen::try_from).transpose()
    }

    /// Registered citizens among `pins` (in no particular order), with opt-outs. Set-based:
    /// one query per few hundred IDs, for the few citizens a list or a page of notices names.
    pub async fn citizens_by_ids(&self, pins: &[PersonalId]) -> Result<Vec<StoredCitizen>> {
        if pins.is_empty() {
            return Ok(Vec::new());
        }
        let pins: Vec<String> = pins.iter().map(|p| p.to_string()).collect();
        let mut rows: Vec<StoredCitizenDbRow> = Vec::with_capacity(pins.len());
        dispatch!(self, s => {
            let d = s.dialect();
            for chunk in pins.chunks(d.list_chunk) {
                let sql = format!(
                    "SELECT {CITIZEN_SELECT}, {STORED_COLUMNS} FROM citizens WHERE personal_id {}",
                    d.in_list(1, chunk.len())
                );
                for row in s.bind_list(sqlx::query(&sql), chunk).fetch_all(s.read_pool()).await? {
                    rows.push(FromRow::from_row(&row)?);
                }
            }
        });
        rows.into_iter().map(StoredCitizen::try_from).collect()
    }

    /// Everyone in a household, oldest first.
    pub async fn household(&self, household_id: &str) -> Result<Vec<Citizen>> {
        let sql = format!(
            "SELECT {CITIZEN_SELECT} FROM citizens WHERE household_id = $1 ORDER BY date_of_birth, personal_id"
        );
        let rows = dispatch!(self, s => sqlx::query_as::<_, CitizenDbRow>(&sql)
            .bind(household_id)
            .fetch_all(s.read_pool())
            .await?);
        rows.into_iter().map(Citizen::try_from).collect()
    }

    /// A citizen's immunizations in date order.
    pub async fn immunizations_of(&self, pin: PersonalId) -> Result<Vec<Immunization>> {
        const SQL: &str = "SELECT vaccine, date_given, place, lot FROM immunizations WHERE personal_id = $1 ORDER BY date_given, vaccine";
        type Row = (String, NaiveDate, Option<String>, Option<String>);
        let rows = dispatch!(self, s => sqlx::query_as::<_, Row>(SQL)
            .bind(pin.as_str())
            .fetch_all(s.read_pool())
            .await?);
        Ok(rows
            .into_iter()
            .map(|(vaccine, date_given, place, lot)| Immunization {
                personal_id: pin,
                vaccine,
                date_given,
                place,
                lot,
            })
            .collect())
    }

    /// Records doses given at one visit (the staff page, the API), all or none: each is a line
    /// of the citizen's history (`immunization`, new value `VACCINE DATE`), and the citizen's
    /// `updated_at` moves, so whatever watches for changed citizens sees them. Returns the
    /// records that were stored already (same vaccine and date); when there are any, nothing
    /// is written.
    pub async fn record_doses(
        &self,
        records: &[Immunization],
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Immunization>> {
        const EXISTS: &str = "SELECT 1 FROM immunizations WHERE personal_id = $1 AND vaccine = $2 AND date_given = $3";
        const INSERT: &str = "INSERT INTO immunizations (personal_id, vaccine, date_given, place, lot, recorded_at, source) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        const TOUCH: &str = "UPDATE citizens SET updated_at = $1 WHERE personal_id = $2";
        let mut present = Vec::new();
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            for r in records {
                let found: Option<i32> = sqlx::query_scalar(EXISTS)
                    .bind(r.personal_id.as_str())
                    .bind(&r.vaccine)
                    .bind(r.date_given)
                    .fetch_optional(&mut *tx)
                    .await?;
                if found.is_some() {
                    present.push(r.clone());
                }
            }
            if !present.is_empty() {
                return Ok(present);
            }
            for r in records {
                sqlx::query(INSERT)
                    .bind(r.personal_id.as_str())
                    .bind(&r.vaccine)
                    .bind(r.date_given)
                    .bind(r.place.as_deref())
                    .bind(r.lot.as_deref())
                    .bind(now)
                    .bind(source)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(HISTORY_INSERT)
                    .bind(r.personal_id.as_str())
                    .bind(now)
                    .bind(source)
                    .bind("immunization")
                    .bind(None::<String>)
                    .bind(dose_text(r))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(TOUCH)
                    .bind(now)
                    .bind(r.personal_id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(present)
    }

    /// Removes a wrongly recorded dose. The record goes (so forecasts, lists and runs no longer
    /// count it) and the removal stays: a history line `immunization` with the old value
    /// `VACCINE DATE` and the reason. Returns the removed record, or None when there was none.
    pub async fn remove_dose(
        &self,
        pin: PersonalId,
        vaccine: &str,
        date_given: NaiveDate,
        reason: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Immunization>> {
        let select = "SELECT place, lot FROM immunizations WHERE personal_id = $1 AND vaccine = $2 AND date_given = $3";
        const DELETE: &str =
            "DELETE FROM immunizations WHERE personal_id = $1 AND vaccine = $2 AND date_given = $3";
        const TOUCH: &str = "UPDATE citizens SET updated_at = $1 WHERE personal_id = $2";
        let removed = dispatch!(self, s => {
            let select = format!("{select} {}", s.dialect().for_update);
            let mut tx = s.write_tx().await?;
            let found: Option<(Option<String>, Option<String>)> = sqlx::query_as(&select)
                .bind(pin.as_str())
                .bind(vaccine)
                .bind(date_given)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((place, lot)) = found else {
                return Ok(None);
            };
            let record = Immunization {
                personal_id: pin,
                vaccine: vaccine.to_string(),
                date_given,
                place,
                lot,
            };
            sqlx::query(DELETE)
                .bind(pin.as_str())
                .bind(vaccine)
                .bind(date_given)
                .execute(&mut *tx)
                .await?;
            sqlx::query(HISTORY_INSERT_WITH_REASON)
                .bind(pin.as_str())
                .bind(now)
                .bind(source)
                .bind("immunization")
                .bind(dose_text(&record))
                .bind(None::<String>)
                .bind(reason)
                .execute(&mut *tx)
                .await?;
            sqlx::query(TOUCH)
                .bind(now)
                .bind(pin.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            record
        });
        Ok(Some(removed))
    }
}
