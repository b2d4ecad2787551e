//! A CDSi schedule as vongdoi's rules hold it: the CDC supporting data's concepts, one for
//! one, so the engine can follow the CDSi logic steps and `rules from-cdsi` can write any
//! supporting data release without loss. rules/README.md ("CDSi schedules") documents each
//! field with an example.
//!
//! Vaccines are `CVX<n>` codes (CVX 20 is `CVX20`); ages and intervals are [`Span`]s, written
//! as CDSi writes them ("6 weeks - 4 days").

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::span::Span;

/// Everything the engine needs: every antigen's series and the schedule-wide data.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    #[serde(default)]
    pub antigen: Vec<Antigen>,
    /// CVX → the antigens it carries (with the ages the association holds for).
    #[serde(default)]
    pub cvx: Vec<VaccineAntigens>,
    #[serde(default)]
    pub live_virus_conflict: Vec<LiveVirusConflict>,
    #[serde(default)]
    pub vaccine_group: Vec<VaccineGroup>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaccineAntigens {
    pub code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub antigens: Vec<Association>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Association {
    pub antigen: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begin_age: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_age: Option<Span>,
}

/// A live vaccine given too soon after another (`previous`) does not count.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveVirusConflict {
    pub previous: String,
    pub current: String,
    pub begin: Span,
    /// The end when the previous dose was itself valid… CDSi's "minimum conflict end": used
    /// when the previous dose was given within its grace period.
    pub min_end: Span,
    pub end: Span,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaccineGroup {
    /// The CDSi name, e.g. "DTaP/Tdap/Td"; `id` is what the forecast calls it ("dtap").
    pub name: String,
    pub id: String,
    pub antigens: Vec<String>,
    /// The forecast needs every antigen of the group (a combination vaccine is given).
    #[serde(default)]
    pub administer_full_group: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Antigen {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub immunity_birth_before: Vec<ImmunityBirthDate>,
    /// Observation codes that mean the person is immune (e.g. a lab-confirmed disease).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub immunity_codes: Vec<String>,
    /// Observation codes that contraindicate every vaccine of this antigen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contraindication_codes: Vec<String>,
    #[serde(default)]
    pub series: Vec<Series>,
}

/// Born before `date` (and not in an excluded group) counts as immune.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImmunityBirthDate {
    pub date: NaiveDate,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusion_codes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeriesType {
    Standard,
    Risk,
    EvaluationOnly,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Series {
    pub name: String,
    pub vaccine_group: String,
    #[serde(rename = "type")]
    pub kind: SeriesType,
    #[serde(default)]
    pub default_series: bool,
    #[serde(default)]
    pub product_path: bool,
    /// Series of one group are alternatives; CDSi picks the best of each group.
    pub group: u32,
    /// Groups that protect the same way: one complete makes the others unnecessary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equivalent_groups: Vec<u32>,
    /// "A" is the highest.
    pub priority: String,
    pub preference: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age_to_start: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_to_start: Option<Span>,
    /// "Female" / "Male" / "Unknown"; empty: anyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_gender: Vec<String>,
    /// A risk series applies only to people with one of these observations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indications: Vec<Indication>,
    pub dose: Vec<SeriesDose>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indication {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begin_age: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_age: Option<Span>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesDose {
    pub number: u32,
    /// Several when the ages changed on a date (`effective` / `cessation`).
    #[serde(default)]
    pub age: Vec<Ages>,
    /// Preferable intervals: all must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interval: Vec<Interval>,
    /// Allowable intervals: enough when a preferable one fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowable_interval: Vec<Interval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferable: Vec<VaccineUse>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowable: Vec<VaccineUse>,
    /// Vaccines that must never be given for this dose.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inadvertent: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<ConditionalSkip>,
    /// The dose repeats (a booster every 10 years) instead of completing the series.
    #[serde(default)]
    pub recurring: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub season: Option<Season>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_gender: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ages {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abs_min: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_rec: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_rec: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cessation: Option<NaiveDate>,
}

/// Where an interval is counted from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum From {
    /// The dose given just before, valid or not.
    Previous,
    /// The date target dose `n` of this series was satisfied.
    TargetDose(u32),
    /// The most recent dose of one of these vaccines.
    MostRecent(Vec<String>),
    /// The date of an observation (e.g. a stem-cell transplant).
    Observation(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    pub from: From,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abs_min: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_rec: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_rec: Option<Span>,
    /// CDSi's interval priority flag ("override"): this interval wins over later ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cessation: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaccineUse {
    pub vaccine: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begin_age: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_age: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mvx: Option<String>,
    /// The vaccine the forecast names for this dose.
    #[serde(default)]
    pub forecast: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipContext {
    Evaluation,
    Forecast,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Logic {
    And,
    Or,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionalSkip {
    pub context: SkipContext,
    /// How the sets combine (one set: irrelevant).
    pub logic: Logic,
    pub set: Vec<SkipSet>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipSet {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub logic: Logic,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cessation: Option<NaiveDate>,
    pub condition: Vec<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionKind {
    Age,
    Interval,
    VaccineCountByAge,
    VaccineCountByDate,
    VaccineCountByDateAndAge,
    CompletedSeries,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DoseType {
    Total,
    Valid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CountLogic {
    Greater,
    Equal,
    Less,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub kind: ConditionKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begin_age: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_age: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose_type: Option<DoseType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_logic: Option<CountLogic>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vaccines: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series_groups: Vec<u32>,
}

/// A seasonal dose (influenza) is recommended only between these dates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Season {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
}

/// A CDSi observation code as the schedule holds it: three digits ("55" and "055" are one),
/// anything else as written.
pub fn observation_code(code: &str) -> String {
    let code = code.trim();
    match code.parse::<u32>() {
        Ok(n) if code.chars().all(|c| c.is_ascii_digit()) => format!("{n:03}"),
        _ => code.to_string(),
    }
}
