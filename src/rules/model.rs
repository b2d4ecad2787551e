//! The TOML shape of rule files, exactly as an operator writes it.
//!
//! Every `*.toml` file in a rules folder has the same shape ([`RuleFile`]): any file may hold
//! vaccines, vaccination series, age milestones and school cohorts, so a new circular can
//! arrive as one new file. Unknown keys are errors (`deny_unknown_fields`): a typo must not
//! silently turn a rule off. Values that errors point at are `Spanned`, so `rules check` can
//! name the line.

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use super::duration::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Defaults for the entries of this file only (not for other files).
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub vaccine: Vec<VaccineEntry>,
    #[serde(default)]
    pub series: Vec<SeriesEntry>,
    #[serde(default)]
    pub milestone: Vec<MilestoneEntry>,
    #[serde(default)]
    pub cohort: Vec<CohortEntry>,
    /// Outbreak alerts' wording (issue #15): the templates an alert may be sent with.
    #[serde(default)]
    pub alert: Vec<AlertEntry>,
    /// What a family's SMS reply does (issue #16): opt-out, opt-in, a reported dose.
    #[serde(default)]
    pub keyword: Vec<KeywordEntry>,
    /// Zalo ZNS templates (`rules/zns.toml`): which notice templates may go by ZNS, under
    /// which template id the OA had approved, with which parameters.
    #[serde(default)]
    pub zns: Vec<ZnsEntry>,
    /// A CDSi schedule (issue #17; `vongdoi rules from-cdsi` writes these): antigens and
    /// their series, the vaccines that carry each antigen, live-virus conflicts and vaccine
    /// groups. rules/README.md, "CDSi schedules".
    #[serde(default)]
    pub antigen: Vec<super::cdsi::model::Antigen>,
    #[serde(default)]
    pub cvx: Vec<super::cdsi::model::VaccineAntigens>,
    #[serde(default)]
    pub live_virus_conflict: Vec<super::cdsi::model::LiveVirusConflict>,
    #[serde(default)]
    pub vaccine_group: Vec<super::cdsi::model::VaccineGroup>,
}

/// A keyword families may text back, its synonyms, and the confirmation they get. Words are
/// matched folded (case, diacritics, đ→d, spaces), so "HUỶ", "huy" and "H U Y" are one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordEntry {
    /// `opt-out`, `opt-in` or `reported-dose`.
    pub action: Spanned<String>,
    pub words: Spanned<Vec<String>>,
    /// The one confirmation sent back, in each language.
    pub reply_vi: Spanned<String>,
    pub reply_en: Spanned<String>,
    /// `reported-dose` only: the question sent when the family has several children and the
    /// reply does not say which; `{choices}` is replaced by "1 = bé An, 2 = bé Bình".
    #[serde(default)]
    pub ask_vi: Option<Spanned<String>>,
    #[serde(default)]
    pub ask_en: Option<Spanned<String>>,
}

/// A notice template's ZNS counterpart: Zalo sends only templates approved for the OA, with
/// named parameters, so the id and how each parameter is filled are configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZnsEntry {
    /// A notice template of the rules (`vaccination-due-soon`, …).
    pub template: Spanned<String>,
    /// The OA's approved ZNS template id.
    pub template_id: Spanned<String>,
    /// ZNS parameter name → a minijinja expression over the notice's variables.
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, Spanned<String>>,
}

/// An outbreak alert's wording: the template (in `templates/`, vi and en) and the disease it
/// is about, which staff pick when they draft an alert. Who is targeted is the alert's own
/// business (area, ages, dose conditions), not the rule file's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertEntry {
    /// `templates/<template>.vi.txt` and `.en.txt`; also the name an alert names it by.
    pub template: Spanned<String>,
    pub name_vi: String,
    pub name_en: String,
    /// The disease as a sentence says it ("sởi", "measles").
    pub disease_vi: String,
    pub disease_en: String,
    /// The series whose doses answer the alert: a dose of it recorded after the alert counts
    /// as its outcome.
    pub series: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// How many days early a dose may be given and still count (CDSi's grace period).
    pub grace: Option<Spanned<Duration>>,
    pub notices: Option<Vec<NoticeEntry>>,
    /// `health`, `police` or `school`: the facility that speaks, and the message it goes in.
    pub sender: Option<SenderEntry>,
    /// An item overdue by more than this is not messaged to the family: staff follow it up.
    pub notice_horizon: Option<Spanned<Duration>>,
    /// After this many reminders about one item with no record, staff follow it up instead.
    pub max_reminders: Option<Spanned<u32>>,
}

/// Who signs an entry's notices (issue #13): the facility that speaks, and so the message a
/// notice goes in.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderEntry {
    Health,
    Police,
    School,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaccineEntry {
    pub code: Spanned<String>,
    pub name_vi: String,
    pub name_en: String,
    /// Given by mouth (drops: bOPV, rotavirus), not injected: staff pages say "uống" and
    /// "liều" for it, not "tiêm" and "mũi".
    #[serde(default)]
    pub oral: bool,
}

/// One version of a vaccination series. A schedule change is a new entry with the same `id`
/// and a `when` that says whom (born when, where) or which dates it applies to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesEntry {
    pub id: Spanned<String>,
    pub name_vi: String,
    pub name_en: String,
    /// Where the numbers come from (circular and article); shown in `rules check` messages.
    pub source: Option<String>,
    #[serde(default)]
    pub when: When,
    /// The start window (issue #17): this version is for children whose first dose of the
    /// series came at this age or later (with no dose yet: who are this old on the as-of
    /// date). A late starter's catch-up schedule is a version with its own doses.
    pub start_from: Option<Spanned<Duration>>,
    /// …and before this age.
    pub start_before: Option<Spanned<Duration>>,
    pub grace: Option<Spanned<Duration>>,
    pub notices: Option<Vec<NoticeEntry>>,
    /// `health`, `police` or `school`: the facility that speaks, and the message it goes in.
    pub sender: Option<SenderEntry>,
    /// An item overdue by more than this is not messaged to the family: staff follow it up.
    pub notice_horizon: Option<Spanned<Duration>>,
    /// After this many reminders about one item with no record, staff follow it up instead.
    pub max_reminders: Option<Spanned<u32>>,
    #[serde(default)]
    pub dose: Vec<DoseEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoseEntry {
    pub number: Spanned<u32>,
    pub counts: Spanned<Vec<Spanned<String>>>,
    pub min_age: Option<Spanned<Duration>>,
    pub rec_age: Option<Spanned<Duration>>,
    pub min_interval: Option<Spanned<Duration>>,
    pub rec_interval: Option<Spanned<Duration>>,
    pub overdue_after: Spanned<Duration>,
    pub max_age: Spanned<Duration>,
}

/// Events at whole-year ages, each satisfied by a record issued in a window around it
/// (the identity card, Law on Identification Art. 21).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MilestoneEntry {
    /// Also the item's `kind` in a forecast (`id-card`).
    pub id: Spanned<String>,
    pub name_vi: String,
    pub name_en: String,
    pub source: Option<String>,
    #[serde(default)]
    pub when: When,
    /// Ages in whole years, ascending.
    pub ages: Spanned<Vec<u32>>,
    /// How long before each age a record already satisfies it (years and months only).
    pub opens_before: Spanned<Duration>,
    pub overdue_after: Spanned<Duration>,
    pub notices: Option<Vec<NoticeEntry>>,
    /// `health`, `police` or `school`: the facility that speaks, and the message it goes in.
    pub sender: Option<SenderEntry>,
    /// An item overdue by more than this is not messaged to the family: staff follow it up.
    pub notice_horizon: Option<Spanned<Duration>>,
    /// After this many reminders about one item with no record, staff follow it up instead.
    pub max_reminders: Option<Spanned<u32>>,
}

/// Events fixed in the calendar for a birth cohort: school year Y = birth year + offset.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CohortEntry {
    /// Also the item's `level` in a forecast (`grade-1`).
    pub id: Spanned<String>,
    pub name_vi: String,
    pub name_en: String,
    pub source: Option<String>,
    #[serde(default)]
    pub when: When,
    pub birth_year_plus: Spanned<i32>,
    pub earliest: Spanned<MonthDay>,
    pub due: Spanned<MonthDay>,
    pub overdue: Spanned<MonthDay>,
    pub expires: Spanned<MonthDay>,
    pub notices: Option<Vec<NoticeEntry>>,
    /// `health`, `police` or `school`: the facility that speaks, and the message it goes in.
    pub sender: Option<SenderEntry>,
    /// An item overdue by more than this is not messaged to the family: staff follow it up.
    pub notice_horizon: Option<Spanned<Duration>>,
    /// After this many reminders about one item with no record, staff follow it up instead.
    pub max_reminders: Option<Spanned<u32>>,
}

/// Who and when an entry applies to. Every condition given must hold; absent = no limit.
/// Date ranges include both ends.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    pub provinces: Option<Vec<Spanned<String>>>,
    pub communes: Option<Vec<Spanned<String>>>,
    pub born_from: Option<Spanned<RuleDate>>,
    pub born_until: Option<Spanned<RuleDate>>,
    /// Calendar range for the as-of date (a circular's entry into force).
    pub from: Option<Spanned<RuleDate>>,
    pub until: Option<Spanned<RuleDate>>,
    pub sex: Option<SexCondition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SexCondition {
    Male,
    Female,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeEntry {
    pub template: Spanned<String>,
    pub at: DateAnchor,
    pub before: Option<Spanned<Duration>>,
    pub after: Option<Spanned<Duration>>,
}

/// Which of an item's dates a notice is timed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DateAnchor {
    Earliest,
    Due,
    Overdue,
    Expires,
}

/// A date written either as a TOML date (`2024-11-01`) or a string (`"2024-11-01"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleDate(pub NaiveDate);

impl<'de> Deserialize<'de> for RuleDate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = match toml::Value::deserialize(deserializer)? {
            toml::Value::String(s) => s,
            toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => dt.to_string(),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "expected a date like 2024-11-01, found {other}"
                )))
            }
        };
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map(RuleDate)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "\"{text}\" is not a date; write it as YYYY-MM-DD, e.g. 2024-11-01"
                ))
            })
    }
}

/// A day of the year written `"MM-DD"` (school dates recur every year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MonthDay {
    pub month: u32,
    pub day: u32,
}

impl<'de> Deserialize<'de> for MonthDay {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bad = || {
            serde::de::Error::custom(format!(
                "\"{text}\" is not a day of the year; write it as \"MM-DD\", e.g. \"09-05\""
            ))
        };
        let (m, d) = text.split_once('-').ok_or_else(bad)?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        let day: u32 = d.parse().map_err(|_| bad())?;
        // 2000 is a leap year, so 02-29 is accepted (and rolls to 03-01 in other years).
        NaiveDate::from_ymd_opt(2000, month, day).ok_or_else(bad)?;
        Ok(MonthDay { month, day })
    }
}

impl MonthDay {
    /// This day in `year`; 29 February in a common year is 1 March (the calendar rule of
    /// [`Duration`]).
    pub fn in_year(&self, year: i32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, self.month, self.day)
            .or_else(|| NaiveDate::from_ymd_opt(year, self.month + 1, 1))
            .unwrap_or(NaiveDate::MAX)
    }
}
