//! What an evaluation produces: one [`Item`] per lifecycle event of a citizen, the doses that
//! did not count, their JSON form (docs/interface.md `vongdoi forecast --format json`) and a table for
//! people.
//!
//! Items share their rule's fixed description ([`ItemInfo`]: names, vaccine codes, notices)
//! through an `Arc`, so evaluating a citizen copies no strings: the scheduler evaluates
//! millions of citizens per run.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::duration::Duration;
pub use super::model::DateAnchor;
use crate::registry::FacilityKind;

/// Language of display names and tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Vi,
    En,
}

/// Where an item stands on the as-of date (docs/domain.md §3 step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Completed,
    /// Before the earliest date.
    Upcoming,
    /// From the earliest date, before the due date.
    Eligible,
    /// From the due date, before the overdue date.
    Due,
    /// From the overdue date, before it expires.
    Overdue,
    /// On or after the expiry date, or it can no longer be done in time.
    Expired,
    /// A later dose of a series whose next dose is still open: no dates yet.
    Waiting,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Completed => "completed",
            Status::Upcoming => "upcoming",
            Status::Eligible => "eligible",
            Status::Due => "due",
            Status::Overdue => "overdue",
            Status::Expired => "expired",
            Status::Waiting => "waiting",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.as_str(),
            Lang::Vi => match self {
                Status::Completed => "đã xong",
                Status::Upcoming => "sắp tới",
                Status::Eligible => "có thể làm",
                Status::Due => "đến hạn",
                Status::Overdue => "quá hạn",
                Status::Expired => "hết hạn",
                Status::Waiting => "chờ mũi trước",
            },
        }
    }

    /// Open items are the ones a reminder can still be about.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::Upcoming | Status::Eligible | Status::Due | Status::Overdue
        )
    }
}

/// Which lifecycle event an item is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemKey {
    /// kind `vaccination`
    Vaccination { series: Arc<str>, dose: u32 },
    /// An age milestone; `kind` is the rule's id (`id-card`), `age` in whole years.
    Milestone { kind: Arc<str>, age: u32 },
    /// kind `school`
    School { level: Arc<str> },
}

impl ItemKey {
    /// The `kind` field of the JSON form.
    pub fn kind(&self) -> &str {
        match self {
            ItemKey::Vaccination { .. } => "vaccination",
            ItemKey::Milestone { kind, .. } => kind,
            ItemKey::School { .. } => "school",
        }
    }

    /// A stable text key (`vaccination/dtp/2`, `id-card/14`, `school/grade-1`), handy as the
    /// "rule, occurrence" part of the scheduler's unique event keys.
    pub fn stable_key(&self) -> String {
        match self {
            ItemKey::Vaccination { series, dose } => format!("vaccination/{series}/{dose}"),
            ItemKey::Milestone { kind, age } => format!("{kind}/{age}"),
            ItemKey::School { level } => format!("school/{level}"),
        }
    }
}

/// When a notice for an item fires, relative to one of the item's dates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoticeRule {
    /// Template name: `rules/templates/<template>.vi.txt` and `.en.txt`.
    pub template: String,
    pub at: DateAnchor,
    pub before: Duration,
    pub after: Duration,
}

impl NoticeRule {
    /// The day this notice fires for `item`, or `None` when the anchor date is unknown
    /// (waiting items, an item that never expires).
    pub fn date_for(&self, item: &Item) -> Option<NaiveDate> {
        let anchor = match self.at {
            DateAnchor::Earliest => item.earliest,
            DateAnchor::Due => item.due,
            DateAnchor::Overdue => item.overdue,
            DateAnchor::Expires => item.expires,
        }?;
        Some(self.after.add_to(self.before.sub_from(anchor)))
    }
}

/// Who speaks about an item and when the family stops hearing about it (issue #13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticePolicy {
    /// The facility that signs the notices; notices of different senders never share a message.
    pub sender: FacilityKind,
    /// An item overdue by more than this is not messaged: staff follow it up.
    pub horizon: Duration,
    /// After this many reminders with no record, staff follow the item up instead.
    pub max_reminders: u32,
}

impl NoticePolicy {
    /// [default] 90 days: a reminder about a dose overdue for a season is not one a family
    /// acts on, and a 30-year-old deadline reads like a scam.
    pub const DEFAULT_HORIZON_DAYS: i64 = 90;
    /// [default] 3 reminders, then a person calls.
    pub const DEFAULT_MAX_REMINDERS: u32 = 3;

    /// Whether an item overdue since `overdue` is past the horizon on `as_of`.
    pub fn beyond_horizon(&self, overdue: Option<NaiveDate>, as_of: NaiveDate) -> bool {
        overdue.is_some_and(|o| self.horizon.add_to(o) < as_of)
    }
}

/// The fixed description of one item, shared by every citizen's forecast.
#[derive(Debug, PartialEq, Eq)]
pub struct ItemInfo {
    pub key: ItemKey,
    pub name_vi: String,
    pub name_en: String,
    /// Vaccine codes whose record counts for this dose (empty for other kinds).
    pub vaccines: Vec<Arc<str>>,
    pub notices: Vec<NoticeRule>,
    pub policy: NoticePolicy,
    /// Every vaccine that counts is given by mouth (drops): "uống", "liều", not "tiêm", "mũi".
    pub oral: bool,
}

impl ItemInfo {
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Vi => &self.name_vi,
            Lang::En => &self.name_en,
        }
    }
}

/// One lifecycle event of one citizen on the as-of date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub info: Arc<ItemInfo>,
    pub status: Status,
    pub earliest: Option<NaiveDate>,
    pub due: Option<NaiveDate>,
    pub overdue: Option<NaiveDate>,
    /// `None` for waiting items and for events that never expire (the ID card at 60).
    pub expires: Option<NaiveDate>,
    pub completed_on: Option<NaiveDate>,
}

impl Item {
    pub fn key(&self) -> &ItemKey {
        &self.info.key
    }

    /// Each notice of this item with the day it fires (skipping those without a date).
    pub fn notice_dates(&self) -> impl Iterator<Item = (&NoticeRule, NaiveDate)> + '_ {
        self.info
            .notices
            .iter()
            .filter_map(|n| Some((n, n.date_for(self)?)))
    }
}

/// Why a record did not count as a dose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum InvalidReason {
    /// Given more than the grace period before the dose's earliest date.
    #[serde(rename = "too early")]
    TooEarly,
    /// Given on or after the dose's maximum age.
    #[serde(rename = "too late")]
    TooLate,
    /// The vaccine counts for another dose of the series, not the next one (e.g. a DTP
    /// booster recorded before the third PENTA).
    #[serde(rename = "wrong vaccine for this dose")]
    WrongVaccine,
}

impl InvalidReason {
    /// What the CLI table and the staff page say.
    pub fn label(self, lang: Lang) -> &'static str {
        match (lang, self) {
            (Lang::En, r) => r.as_str(),
            (Lang::Vi, InvalidReason::TooEarly) => "tiêm quá sớm",
            (Lang::Vi, InvalidReason::TooLate) => "tiêm quá tuổi",
            (Lang::Vi, InvalidReason::WrongVaccine) => "sai loại vắc xin cho mũi này",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InvalidReason::TooEarly => "too early",
            InvalidReason::TooLate => "too late",
            InvalidReason::WrongVaccine => "wrong vaccine for this dose",
        }
    }
}

/// A record that did not count for a series. One record is judged once per series its
/// vaccine belongs to, so it can be valid in one and invalid in another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidDose {
    #[serde(serialize_with = "as_str")]
    pub series: Arc<str>,
    /// The dose the record was judged against.
    pub dose: u32,
    #[serde(serialize_with = "as_str")]
    pub vaccine: Arc<str>,
    pub date_given: NaiveDate,
    pub reason: InvalidReason,
}

/// A CDSi vaccine group's status: `not-complete`, `complete`, `aged-out`, `immune`,
/// `contraindicated` or `not-recommended`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeriesState {
    pub series: String,
    pub status: &'static str,
}

/// One record as a CDSi vaccine group judged it (`valid`, `not-valid`, `extraneous`,
/// `sub-standard`), with why it did not count, in English (the CDC's words) and Vietnamese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub series: String,
    pub vaccine: String,
    pub date_given: NaiveDate,
    pub status: &'static str,
    pub reason: Option<String>,
    pub reason_vi: Option<String>,
}

/// Every lifecycle item of one citizen on one date.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Forecast {
    /// In rule order: vaccination series (by dose), milestones (by age), school levels.
    pub items: Vec<Item>,
    pub invalid_doses: Vec<InvalidDose>,
    /// CDSi schedules only (docs/interface.md, "CDSi schedules"): each vaccine group's status.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub series_status: Vec<SeriesState>,
    /// CDSi schedules only: every record's verdict in each vaccine group it belongs to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evaluations: Vec<Evaluation>,
    /// The citizen died on or before the as-of date; `items` then holds completed ones only.
    #[serde(skip)]
    pub deceased: bool,
}

/// docs/interface.md's forecast document: `personal_id`, `as_of`, then the forecast.
#[derive(Debug, Serialize)]
pub struct ForecastDocument<'a> {
    pub personal_id: &'a str,
    pub as_of: NaiveDate,
    #[serde(flatten)]
    pub forecast: &'a Forecast,
}

impl Forecast {
    /// Why the record of `vaccine` on `date` did not count, for each series that did not
    /// count it ("dtp mũi 2: tiêm quá sớm"); empty when it counted everywhere.
    pub fn why_not_counted(&self, vaccine: &str, date: NaiveDate, lang: Lang) -> Vec<String> {
        let invalid = (self.invalid_doses.iter())
            .filter(|d| &*d.vaccine == vaccine && d.date_given == date)
            .map(|d| match lang {
                Lang::Vi => format!("{} mũi {}: {}", d.series, d.dose, d.reason.label(lang)),
                Lang::En => format!("{} dose {}: {}", d.series, d.dose, d.reason.label(lang)),
            });
        let cdsi = (self.evaluations.iter())
            .filter(|e| e.vaccine == vaccine && e.date_given == date && e.status != "valid")
            .map(|e| {
                let reason = match lang {
                    Lang::Vi => e.reason_vi.as_deref(),
                    Lang::En => e.reason.as_deref(),
                };
                format!("{}: {}", e.series, reason.unwrap_or(e.status))
            });
        invalid.chain(cdsi).collect()
    }

    pub fn document<'a>(&'a self, personal_id: &'a str, as_of: NaiveDate) -> ForecastDocument<'a> {
        ForecastDocument {
            personal_id,
            as_of,
            forecast: self,
        }
    }

    /// Pretty-printed JSON exactly as `vongdoi forecast PIN --as-of DATE --format json` prints.
    pub fn to_json(&self, personal_id: &str, as_of: NaiveDate) -> String {
        serde_json::to_string_pretty(&self.document(personal_id, as_of))
            .expect("a forecast holds only strings, numbers and dates")
    }

    /// A readable table, one line per item, then the invalid doses.
    pub fn to_table(&self, lang: Lang) -> String {
        let heads: [&str; 7] = match lang {
            Lang::Vi => [
                "Mục",
                "Trạng thái",
                "Sớm nhất",
                "Đến hạn",
                "Quá hạn",
                "Hết hạn",
                "Đã làm",
            ],
            Lang::En => [
                "Item", "Status", "Earliest", "Due", "Overdue", "Expires", "Done on",
            ],
        };
        let date = |d: Option<NaiveDate>| d.map_or_else(|| "–".to_string(), |d| d.to_string());
        let rows: Vec<[String; 7]> = self
            .items
            .iter()
            .map(|i| {
                [
                    i.info.name(lang).to_string(),
                    i.status.label(lang).to_string(),
                    date(i.earliest),
                    date(i.due),
                    date(i.overdue),
                    date(i.expires),
                    date(i.completed_on),
                ]
            })
            .collect();
        let mut out = String::new();
        if self.deceased {
            out.push_str(match lang {
                Lang::Vi => "Đã mất: chỉ liệt kê các mục đã hoàn thành.\n",
                Lang::En => "Deceased: completed items only.\n",
            });
        }
        write_table(&mut out, &heads, &rows);
        if !self.invalid_doses.is_empty() {
            out.push('\n');
            let heads: [&str; 4] = match lang {
                Lang::Vi => ["Mũi không hợp lệ", "Vắc xin", "Ngày tiêm", "Lý do"],
                Lang::En => ["Invalid dose", "Vaccine", "Given on", "Reason"],
            };
            let rows: Vec<[String; 4]> = self
                .invalid_doses
                .iter()
                .map(|d| {
                    let reason = d.reason.label(lang);
                    let dose = match lang {
                        Lang::Vi => format!("{} mũi {}", d.series, d.dose),
                        Lang::En => format!("{} dose {}", d.series, d.dose),
                    };
                    [
                        dose,
                        d.vaccine.to_string(),
                        d.date_given.to_string(),
                        reason.to_string(),
                    ]
                })
                .collect();
            write_table(&mut out, &heads, &rows);
        }
        // CDSi schedules: the records that did not count, and why.
        let not_counted: Vec<&Evaluation> = (self.evaluations.iter())
            .filter(|e| e.status != "valid")
            .collect();
        if !not_counted.is_empty() {
            out.push('\n');
            let heads: [&str; 4] = match lang {
                Lang::Vi => ["Mũi không tính", "Vắc xin", "Ngày tiêm", "Lý do"],
                Lang::En => ["Not counted", "Vaccine", "Given on", "Reason"],
            };
            let rows: Vec<[String; 4]> = (not_counted.iter())
                .map(|e| {
                    let reason = match lang {
                        Lang::Vi => e.reason_vi.clone(),
                        Lang::En => e.reason.clone(),
                    };
                    [
                        e.series.clone(),
                        e.vaccine.clone(),
                        e.date_given.to_string(),
                        reason.unwrap_or_else(|| e.status.to_string()),
                    ]
                })
                .collect();
            write_table(&mut out, &heads, &rows);
        }
        out
    }
}

/// Left-aligned columns; widths in characters (Vietnamese text is NFC, one char per letter).
fn write_table<const N: usize>(out: &mut String, heads: &[&str; N], rows: &[[String; N]]) {
    let mut widths = heads.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.zip(widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let _ = write!(text, "{cell:<w$}");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut heads.iter().copied());
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&mut rule.iter().map(String::as_str));
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
}

impl Serialize for Item {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("kind", self.info.key.kind())?;
        match &self.info.key {
            ItemKey::Vaccination { series, dose } => {
                map.serialize_entry("series", &**series)?;
                map.serialize_entry("dose", dose)?;
            }
            ItemKey::Milestone { age, .. } => map.serialize_entry("milestone", age)?,
            ItemKey::School { level } => map.serialize_entry("level", &**level)?,
        }
        map.serialize_entry("status", &self.status)?;
        map.serialize_entry("earliest", &self.earliest)?;
        map.serialize_entry("due", &self.due)?;
        map.serialize_entry("overdue", &self.overdue)?;
        map.serialize_entry("expires", &self.expires)?;
        map.serialize_entry("completed_on", &self.completed_on)?;
        map.serialize_entry("name_vi", &self.info.name_vi)?;
        map.serialize_entry("name_en", &self.info.name_en)?;
        if matches!(self.info.key, ItemKey::Vaccination { .. }) {
            let codes: Vec<&str> = self.info.vaccines.iter().map(|c| &**c).collect();
            map.serialize_entry("vaccines", &codes)?;
        }
        let notices: Vec<NoticeJson> = self
            .info
            .notices
            .iter()
            .map(|n| NoticeJson {
                template: &n.template,
                on: n.date_for(self),
            })
            .collect();
        map.serialize_entry("notices", &notices)?;
        map.end()
    }
}

// serde's `Arc` support needs its "rc" feature; this keeps the dependency list as agreed.
fn as_str<S: Serializer>(text: &Arc<str>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(text)
}

#[derive(Serialize)]
struct NoticeJson<'a> {
    template: &'a str,
    on: Option<NaiveDate>,
}
