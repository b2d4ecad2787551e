//! The rule engine: rule files in, lifecycle items out.
//!
//! Pure: [`RuleSet::evaluate`] takes a citizen, their records and an as-of date and returns a
//! [`Forecast`]; it reads no clock, files or database. The rules themselves are TOML files in
//! `rules/` (embedded in the binary as [`RuleSet::embedded`], overridable with
//! [`RuleSet::load_dir`]), so a new circular is a new file, not a code change. docs/domain.md §3–5
//! is the specification; `rules/README.md` describes the file format.
//!
//! - [`duration`]: calendar arithmetic ("2 months" from 31 December).
//! - [`model`]: the TOML shape.
//! - `load`: reading rule folders and the embedded files, cross-file checks.
//! - `check`: `rules check` on each entry, compiling it into the engine's rules.
//! - `conditions`: who an entry applies to; overlap between versions.
//! - `start`: versions of a series chosen by the age at the first dose (catch-up schedules).
//! - `evaluate`: docs/domain.md §3 steps 0–3, §4 and §5.
//! - [`forecast`]: output types, JSON and the text table.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;

pub mod cdsi;
mod check;
mod conditions;
pub mod duration;
mod evaluate;
pub mod forecast;
pub mod keywords;
mod load;
pub mod model;
mod next_change;
mod start;
pub mod template_checks;
pub mod wording;
pub mod zns;

pub use duration::Duration;
pub use forecast::{
    Forecast, ForecastDocument, InvalidDose, InvalidReason, Item, ItemInfo, ItemKey, Lang,
    NoticeRule, Status,
};

use crate::registry::Sex;
use conditions::Conditions;
use model::MonthDay;

/// The citizen as the rules see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    pub date_of_birth: NaiveDate,
    pub date_of_death: Option<NaiveDate>,
    pub sex: Sex,
    /// 2-digit province code (2025 list), e.g. "01".
    pub province_code: &'a str,
    /// 5-digit commune code.
    pub commune_code: &'a str,
}

/// One immunization record. Dose numbers are not recorded: the engine derives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoseRecord<'a> {
    pub vaccine: &'a str,
    pub date_given: NaiveDate,
}

/// What `rules check` validates area codes against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckContext {
    pub province_codes: HashSet<String>,
    /// Empty = commune codes are not checked.
    pub commune_codes: HashSet<String>,
    /// The SMS parts one notice may take inside its sender's message, for typical values.
    pub sms_segment_limit: u32,
}

/// The 34 province codes in force since 2025-07-01 (Decision 19/2025/QĐ-TTg).
pub const PROVINCE_CODES_2025: [&str; 34] = [
    "01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33", "37", "38",
    "40", "42", "44", "46", "48", "51", "52", "56", "66", "68", "75", "79", "80", "82", "86", "91",
    "92", "96",
];

impl CheckContext {
    /// The 34 provinces of 2025 and no commune list (commune codes are then not checked).
    pub fn builtin() -> CheckContext {
        CheckContext {
            province_codes: PROVINCE_CODES_2025.iter().map(|c| c.to_string()).collect(),
            commune_codes: HashSet::new(),
            sms_segment_limit: 3,
        }
    }
}

/// One problem in a rule folder, worded for the person who edits it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RuleError {
    pub file: PathBuf,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    pub problem: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.problem),
            None => write!(f, "{}: {}", self.file.display(), self.problem),
        }
    }
}

/// A vaccine of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vaccine {
    pub code: Arc<str>,
    pub name_vi: String,
    pub name_en: String,
    /// Given by mouth (drops), not injected.
    pub oral: bool,
}

/// A checked, compiled set of rules. Cheap to share (`Arc<RuleSet>`); evaluation only reads.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// A hash of the rule files (templates aside): a run whose rules differ from the previous
    /// run's re-evaluates everyone, since any citizen's dates may have moved.
    fingerprint: String,
    vaccines: Vec<Vaccine>,
    series: Vec<SeriesRule>,
    milestones: Vec<MilestoneRule>,
    cohorts: Vec<CohortRule>,
    /// name → (Vietnamese text, English text)
    templates: BTreeMap<String, (String, String)>,
    /// The outbreak alerts' wordings (`[[alert]]`), in file order.
    alerts: Vec<AlertWording>,
    /// What families' SMS replies do (`[[keyword]]`).
    keywords: Vec<keywords::Keyword>,
    /// The ZNS templates (`[[zns]]`), in file order.
    zns: Vec<zns::ZnsTemplate>,
    /// A CDSi schedule, when the folder holds one: its vaccine groups are forecast the CDSi
    /// way beside (or instead of) the `[[series]]`.
    cdsi: Option<Arc<cdsi::model::Schedule>>,
}

/// An `[[alert]]` of the rule files: a template an outbreak alert may be sent with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertWording {
    pub template: String,
    pub name_vi: String,
    pub name_en: String,
    pub disease_vi: String,
    pub disease_en: String,
    /// The series whose doses answer the alert.
    pub series: String,
}

impl AlertWording {
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Vi => &self.name_vi,
            Lang::En => &self.name_en,
        }
    }

    pub fn disease(&self, lang: Lang) -> &str {
        match lang {
            Lang::Vi => &self.disease_vi,
            Lang::En => &self.disease_en,
        }
    }
}

#[derive(Debug, Clone)]
struct SeriesRule {
    id: Arc<str>,
    when: Conditions,
    /// The ages at the first dose this version is for (`start_from`, `start_before`).
    start: Option<start::StartWindow>,
    /// With a start window: the indices in [`RuleSet::series`] of every windowed version of
    /// this id, itself included (their first doses decide the start).
    siblings: Vec<usize>,
    grace: Duration,
    doses: Vec<DoseRule>,
}

#[derive(Debug, Clone)]
struct DoseRule {
    info: Arc<ItemInfo>,
    min_age: Option<Duration>,
    rec_age: Option<Duration>,
    min_interval: Option<Duration>,
    rec_interval: Option<Duration>,
    overdue_after: Duration,
    max_age: Duration,
}

#[derive(Debug, Clone)]
struct MilestoneRule {
    id: Arc<str>,
    when: Conditions,
    /// (age in years, item) ascending by age.
    ages: Vec<(u32, Arc<ItemInfo>)>,
    /// Whole months before each age from which a record satisfies it.
    opens_before_months: u32,
    overdue_after: Duration,
}

#[derive(Debug, Clone)]
struct CohortRule {
    id: Arc<str>,
    info: Arc<ItemInfo>,
    when: Conditions,
    birth_year_plus: i32,
    earliest: MonthDay,
    due: MonthDay,
    overdue: MonthDay,
    expires: MonthDay,
}

impl RuleSet {
    /// The rules shipped in `rules/`, compiled into the binary. Panics only if those files
    /// are broken, which a test rules out.
    pub fn embedded() -> RuleSet {
        match load::embedded(&CheckContext::builtin()) {
            Ok(rules) => rules,
            Err(errors) => {
                let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
                panic!("the shipped rule files are broken:\n{}", list.join("\n"))
            }
        }
    }

    /// Reads and checks every `*.toml` in `dir` and the templates in `dir/templates/`
    /// (`rules check`). Returns every problem found, not just the first.
    pub fn load_dir(dir: &Path, ctx: &CheckContext) -> Result<RuleSet, Vec<RuleError>> {
        load::load_dir(dir, ctx)
    }

    /// Checks and compiles rule files given as text: `files` are (path, TOML text),
    /// `templates` are (file name like `vaccination-due-soon.vi.txt`, text).
    pub fn from_texts(
        files: &[(PathBuf, &str)],
        templates: &[(&str, &str)],
        ctx: &CheckContext,
    ) -> Result<RuleSet, Vec<RuleError>> {
        load::build(files, templates, ctx)
    }

    /// A hash of the rule files, templates aside (see [`RuleSet::next_change`]).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Known vaccine codes, in catalogue order.
    pub fn vaccine_codes(&self) -> impl Iterator<Item = &str> + '_ {
        self.vaccines.iter().map(|v| &*v.code)
    }

    pub fn is_known_vaccine(&self, code: &str) -> bool {
        self.vaccines.iter().any(|v| &*v.code == code)
    }

    pub fn vaccine(&self, code: &str) -> Option<&Vaccine> {
        self.vaccines.iter().find(|v| &*v.code == code)
    }

    /// The catalogue, in its order.
    pub fn vaccines(&self) -> &[Vaccine] {
        &self.vaccines
    }

    /// Text of a notice template (not rendered).
    pub fn template(&self, name: &str, lang: Lang) -> Option<&str> {
        let (vi, en) = self.templates.get(name)?;
        Some(match lang {
            Lang::Vi => vi,
            Lang::En => en,
        })
    }

    /// The renderer of this rule set's templates (strict about variables).
    pub fn renderer(&self) -> wording::Renderer {
        wording::Renderer::new(
            (self.templates.iter()).map(|(n, (vi, en))| (n.as_str(), vi.as_str(), en.as_str())),
        )
        .with_zns(self.zns.iter())
    }

    /// The ZNS templates of the rules (`[[zns]]`).
    pub fn zns_templates(&self) -> &[zns::ZnsTemplate] {
        &self.zns
    }

    /// The fixed description of every item the rules can produce, in rule order.
    pub fn item_infos(&self) -> Vec<Arc<ItemInfo>> {
        (self.series.iter())
            .flat_map(|s| s.doses.iter().map(|d| Arc::clone(&d.info)))
            .chain((self.milestones.iter()).flat_map(|m| m.ages.iter().map(|(_, i)| Arc::clone(i))))
            .chain(self.cohorts.iter().map(|c| Arc::clone(&c.info)))
            .collect()
    }

    pub fn template_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.templates.keys().map(String::as_str)
    }

    /// The vaccination series ids, in rule order (each once, whatever its versions).
    /// The alert wordings staff may draft an alert with.
    pub fn alerts(&self) -> &[AlertWording] {
        &self.alerts
    }

    /// The keywords a family's SMS reply is matched against.
    pub fn keywords(&self) -> &[keywords::Keyword] {
        &self.keywords
    }

    pub fn alert(&self, template: &str) -> Option<&AlertWording> {
        self.alerts.iter().find(|a| a.template == template)
    }

    /// The vaccine codes that count for any dose of `series`.
    pub fn vaccines_of_series(&self, series: &str) -> Vec<Arc<str>> {
        let mut out: Vec<Arc<str>> = Vec::new();
        for s in self.series.iter().filter(|s| &*s.id == series) {
            for d in &s.doses {
                for v in &d.info.vaccines {
                    if !out.contains(v) {
                        out.push(Arc::clone(v));
                    }
                }
            }
        }
        out
    }

    pub fn series_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for s in &self.series {
            if !ids.contains(&&*s.id) {
                ids.push(&s.id);
            }
        }
        ids
    }

    /// A birth date before which nobody can have an open vaccination dose on `as_of`: every
    /// dose expires at its `max_age`. Staff lists read only citizens born after it, with a
    /// month to spare for the calendar rule (the engine still decides each item).
    pub fn vaccination_born_after(&self, as_of: NaiveDate) -> Option<NaiveDate> {
        self.series
            .iter()
            .flat_map(|s| s.doses.iter())
            .map(|d| Duration::months(1).sub_from(d.max_age.sub_from(as_of)))
            .min()
    }

    /// The ages of a milestone rule (`id-card`: 14, 25, 40, 60), over all its versions.
    pub fn milestone_ages(&self, kind: &str) -> Vec<u32> {
        let mut ages: Vec<u32> = self
            .milestones
            .iter()
            .filter(|m| &*m.id == kind)
            .flat_map(|m| m.ages.iter().map(|(age, _)| *age))
            .collect();
        ages.sort_unstable();
        ages.dedup();
        ages
    }

    /// Every lifecycle item of `subject` on `as_of` (docs/domain.md §3–5).
    ///
    /// Records and cards dated after `as_of` are ignored. A citizen who died on or before
    /// `as_of` has no open items: only completed ones are kept (and `deceased` is set), so
    /// nothing is ever scheduled for them, while their history still shows.
    pub fn evaluate(
        &self,
        subject: &Subject,
        doses: &[DoseRecord],
        id_cards: &[NaiveDate],
        as_of: NaiveDate,
    ) -> Forecast {
        evaluate::evaluate(self, subject, doses, id_cards, as_of)
    }
}
