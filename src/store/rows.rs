//! The registry's rows as the store hands them out and takes them in: a citizen with what is
//! kept beside it, history, counts, the upsert plan decided once for both backends, and the row
//! decoding shared by the backends.

use super::{Result, StoreError};
use crate::registry::{Citizen, CommuneCode, Language, PersonalId, Sex};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

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
    /// Why, when the change says (a dose removed as wrong).
    pub reason: Option<String>,
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
    pub village: Option<String>,
    pub address: Option<String>,
}

/// A citizen row with what the store keeps beside it (`CITIZEN_SELECT`, then the opt-outs,
/// timestamps and source).
#[derive(sqlx::FromRow)]
pub(crate) struct StoredCitizenDbRow {
    #[sqlx(flatten)]
    pub citizen: CitizenDbRow,
    pub sms_opt_out: bool,
    pub email_opt_out: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by: String,
}

impl TryFrom<StoredCitizenDbRow> for StoredCitizen {
    type Error = StoreError;
    fn try_from(r: StoredCitizenDbRow) -> Result<StoredCitizen> {
        Ok(StoredCitizen {
            citizen: Citizen::try_from(r.citizen)?,
            sms_opt_out: r.sms_opt_out,
            email_opt_out: r.email_opt_out,
            created_at: r.created_at,
            updated_at: r.updated_at,
            created_by: r.created_by,
        })
    }
}

pub(crate) const CITIZEN_SELECT: &str = "personal_id, full_name, sex, date_of_birth, date_of_death, commune_code, household_id, mother_id, father_id, guardian_id, phone, email, language, village, address";

pub(crate) fn corrupt<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> StoreError + '_ {
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
            village: r.village,
            address: r.address,
        })
    }
}

/// Where a keyset page of citizens in birth order starts (exclusive).
pub type BirthCursor = (NaiveDate, PersonalId);

/// Living residents of one commune born in one calendar year (the enrolment report's unit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BirthYearCount {
    pub commune_code: String,
    pub birth_year: i32,
    pub living: i64,
}
