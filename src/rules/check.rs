//! The checks of `rules check` on each entry of a parsed rule file, and its compilation into
//! the engine's rules. Problems are worded for the provincial health officer who edits the
//! files: what is wrong, and what to write instead. Cross-file checks (the vaccine catalogue,
//! overlapping versions) are in `load`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;

use super::conditions::{Conditions, DateRange};
use super::forecast::{ItemInfo, ItemKey, NoticePolicy, NoticeRule};
use super::model::{
    CohortEntry, Defaults, DoseEntry, MilestoneEntry, NoticeEntry, RuleDate, SenderEntry,
    SeriesEntry, SexCondition, When,
};
use super::{CheckContext, CohortRule, DoseRule, Duration, MilestoneRule, RuleError, SeriesRule};
use crate::registry::FacilityKind;
use crate::registry::Sex;

mod notices;

/// Where an entry is, to point at it from another entry's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Place {
    pub file: PathBuf,
    pub line: usize,
}

impl Place {
    pub fn error(&self, problem: String) -> RuleError {
        RuleError {
            file: self.file.clone(),
            line: Some(self.line),
            problem,
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// What entries are checked against.
pub(super) struct Env<'a> {
    pub ctx: &'a CheckContext,
    pub catalogue: &'a HashMap<&'a str, &'a Arc<str>>,
    /// The codes of vaccines given by mouth.
    pub oral: &'a HashSet<&'a str>,
    pub templates: &'a BTreeMap<String, (Option<String>, Option<String>)>,
}

/// Checks the entries of one file, turning spans into `file:line`.
pub(super) struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
}

pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// toml's messages are written for programmers; the common ones get a hint for the editor.
pub(super) fn reword_toml_error(message: &str) -> String {
    let message = message.trim();
    if message.starts_with("unknown field") {
        format!("{message} (check the spelling; rules/README.md lists every field)")
    } else if message.starts_with("missing field") {
        format!("{message}: add it to this entry")
    } else {
        message.to_string()
    }
}

impl<'a> Checker<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        Checker { path, text }
    }

    pub fn path(&self) -> &Path {
        self.path
    }

    pub fn place(&self, span: Range<usize>) -> Place {
        Place {
            file: self.path.to_path_buf(),
            line: line_of(self.text, span.start),
        }
    }

    pub fn error(&self, errors: &mut Vec<RuleError>, span: Range<usize>, problem: String) {
        errors.push(RuleError {
            file: self.path.to_path_buf(),
            line: Some(line_of(self.text, span.start)),
            problem,
        });
    }

    fn id(&self, id: &Spanned<String>, errors: &mut Vec<RuleError>) -> bool {
        let ok = !id.get_ref().is_empty()
            && id
                .get_ref()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            self.error(
                errors,
                id.span(),
                format!(
                    "id \"{}\" must be lower-case letters, digits and '-', e.g. \"hepb-birth\"",
                    id.get_ref()
                ),
            );
        }
        ok
    }

    pub fn series(
        &self,
        entry: &SeriesEntry,
        defaults: &Defaults,
        env: &Env,
        errors: &mut Vec<RuleError>,
    ) -> Option<SeriesRule> {
        let before = errors.len();
        let id = entry.id.get_ref().as_str();
        self.id(&entry.id, errors);
        let when = self.when(&entry.when, entry.id.span(), env, errors);
        let start = self.start_window(entry, errors);
        let grace = match entry.grace.as_ref().or(defaults.grace.as_ref()) {
            Some(g) => *g.get_ref(),
            None => {
                self.error(errors, entry.id.span(), format!("series \"{id}\" has no grace period: add grace = \"4 days\" to it or to the file's [defaults]"));
                Duration::ZERO
            }
        };
        let notices = self.notices(
            entry.notices.as_ref().or(defaults.notices.as_ref()),
            env,
            errors,
        );
        let policy = self.policy(
            (entry.sender, &entry.notice_horizon, &entry.max_reminders),
            defaults,
            FacilityKind::Health,
            errors,
        );
        if entry.dose.is_empty() {
            self.error(errors, entry.id.span(), format!("series \"{id}\" has no doses: add at least one [[series.dose]] with number = 1"));
        }
        let single = entry.dose.len() == 1;
        let mut doses = Vec::new();
        for (i, dose) in entry.dose.iter().enumerate() {
            let expected = i as u32 + 1;
            let number = *dose.number.get_ref();
            let problem = if entry.dose[..i]
                .iter()
                .any(|d| *d.number.get_ref() == number)
            {
                Some(format!(
                    "series \"{id}\" has dose {number} twice: number the doses 1, 2, 3… in order"
                ))
            } else if number == expected {
                None
            } else if number > expected {
                Some(format!("series \"{id}\" dose {number} follows dose {}, which this series does not define: number the doses 1, 2, 3… in order", number - 1))
            } else {
                Some(format!("series \"{id}\" dose {number} is out of order: number the doses 1, 2, 3… in order"))
            };
            if let Some(problem) = problem {
                self.error(errors, dose.number.span(), problem);
            }
            if let Some(rule) = self.dose(
                id,
                expected,
                single,
                dose,
                &entry.name_vi,
                &entry.name_en,
                (&notices, policy),
                env,
                errors,
            ) {
                doses.push(rule);
            }
        }
        (errors.len() == before).then(|| SeriesRule {
            id: Arc::from(id),
            when,
            start,
            siblings: Vec::new(),
            grace,
            doses,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn dose(
        &self,
        series: &str,
        number: u32,
        single: bool,
        dose: &DoseEntry,
        name_vi: &str,
        name_en: &str,
        (notices, policy): (&[NoticeRule], NoticePolicy),
        env: &Env,
        errors: &mut Vec<RuleError>,
    ) -> Option<DoseRule> {
        let before = errors.len();
        let what = format!("series \"{series}\" dose {number}");
        let mut vaccines = Vec::new();
        if dose.counts.get_ref().is_empty() {
            self.error(errors, dose.counts.span(), format!("{what}: counts is empty; list the vaccine codes whose record counts for this dose, e.g. counts = [\"PENTA\", \"HEXA\"]"));
        }
        for code in dose.counts.get_ref() {
            match env.catalogue.get(code.get_ref().as_str()) {
                Some(known) => vaccines.push(Arc::clone(known)),
                None => {
                    let mut known: Vec<&str> = env.catalogue.keys().copied().collect();
                    known.sort_unstable();
                    self.error(errors, code.span(), format!(
                        "{what}: unknown vaccine code \"{}\"; use one of {} or add it to the vaccine catalogue ([[vaccine]] in vaccines.toml)",
                        code.get_ref(), known.join(", ")));
                }
            }
        }
        let value = |d: &Option<Spanned<Duration>>| d.as_ref().map(|d| *d.get_ref());
        if number == 1 {
            for (field, d) in [
                ("min_interval", &dose.min_interval),
                ("rec_interval", &dose.rec_interval),
            ] {
                if let Some(d) = d {
                    self.error(errors, d.span(), format!("{what}: {field} is counted from the previous dose, but dose 1 has none; remove it or use min_age/rec_age"));
                }
            }
        }
        // Compare ages on dates where calendar months differ most (month ends, 29 February).
        let later = |a: Duration, b: Duration| a.may_exceed(b);
        let max_age = *dose.max_age.get_ref();
        for (field, age) in [("min_age", &dose.min_age), ("rec_age", &dose.rec_age)] {
            if let Some(age) = age {
                if !later(max_age, *age.get_ref()) {
                    self.error(errors, dose.max_age.span(), format!(
                        "{what}: max_age ({max_age}) is not after {field} ({}); the dose could never be given in time. Check both values",
                        age.get_ref()));
                }
            }
        }
        if let (Some(min), Some(rec)) = (&dose.min_age, &dose.rec_age) {
            if later(*min.get_ref(), *rec.get_ref()) {
                self.error(errors, rec.span(), format!("{what}: rec_age ({}) is before min_age ({}); the recommended age cannot come before the minimum", rec.get_ref(), min.get_ref()));
            }
        }
        if let (Some(min), Some(rec)) = (&dose.min_interval, &dose.rec_interval) {
            if later(*min.get_ref(), *rec.get_ref()) {
                self.error(
                    errors,
                    rec.span(),
                    format!(
                        "{what}: rec_interval ({}) is shorter than min_interval ({})",
                        rec.get_ref(),
                        min.get_ref()
                    ),
                );
            }
        }
        let oral = !vaccines.is_empty() && vaccines.iter().all(|v| env.oral.contains(&**v));
        let (vi_suffix, en_suffix) = match (single, oral) {
            (true, _) => (String::new(), String::new()),
            // Drops are counted in "liều", injections in "mũi".
            (false, true) => (format!(" – liều {number}"), format!(" – dose {number}")),
            (false, false) => (format!(" – mũi {number}"), format!(" – dose {number}")),
        };
        (errors.len() == before).then(|| DoseRule {
            info: Arc::new(ItemInfo {
                key: ItemKey::Vaccination {
                    series: Arc::from(series),
                    dose: number,
                },
                name_vi: format!("{name_vi}{vi_suffix}"),
                name_en: format!("{name_en}{en_suffix}"),
                vaccines,
                notices: notices.to_vec(),
                policy,
                oral,
            }),
            min_age: value(&dose.min_age),
            rec_age: value(&dose.rec_age),
            min_interval: value(&dose.min_interval),
            rec_interval: value(&dose.rec_interval),
            overdue_after: *dose.overdue_after.get_ref(),
            max_age,
        })
    }

    pub fn milestone(
        &self,
        entry: &MilestoneEntry,
        defaults: &Defaults,
        env: &Env,
        errors: &mut Vec<RuleError>,
    ) -> Option<MilestoneRule> {
        let before = errors.len();
        let id = entry.id.get_ref();
        self.id(&entry.id, errors);
        let when = self.when(&entry.when, entry.id.span(), env, errors);
        let notices = self.notices(
            entry.notices.as_ref().or(defaults.notices.as_ref()),
            env,
            errors,
        );
        let policy = self.policy(
            (entry.sender, &entry.notice_horizon, &entry.max_reminders),
            defaults,
            FacilityKind::Police,
            errors,
        );
        let opens = *entry.opens_before.get_ref();
        if opens.weeks != 0 || opens.days != 0 {
            self.error(errors, entry.opens_before.span(), format!("milestone \"{id}\": opens_before must be whole years or months (e.g. \"2 years\"), because it is counted back from a birthday"));
        }
        let opens_months = u32::try_from(opens.total_months()).unwrap_or(u32::MAX);
        let ages = entry.ages.get_ref();
        if ages.is_empty() {
            self.error(errors, entry.ages.span(), format!("milestone \"{id}\": ages is empty; list the ages in years, e.g. ages = [14, 25, 40, 60]"));
        }
        let mut prev: Option<u32> = None;
        for &age in ages {
            let problem = match prev {
                Some(p) if age <= p => Some(format!("ages must go up ({age} comes after {p})")),
                Some(p) if opens_months >= (age - p).saturating_mul(12) => Some(format!(
                    "opens_before ({opens}) is as long as the time between ages {p} and {age}; the next window would open before this age is reached")),
                None if opens_months > age.saturating_mul(12) => Some(format!("opens_before ({opens}) is longer than the first age ({age} years)")),
                _ => None,
            };
            if let Some(problem) = problem {
                self.error(
                    errors,
                    entry.ages.span(),
                    format!("milestone \"{id}\": {problem}"),
                );
            }
            prev = Some(age);
        }
        let ages = ages
            .iter()
            .map(|&age| {
                let info = ItemInfo {
                    key: ItemKey::Milestone {
                        kind: Arc::from(id.as_str()),
                        age,
                    },
                    name_vi: format!("{} – {age} tuổi", entry.name_vi),
                    name_en: format!("{} – age {age}", entry.name_en),
                    vaccines: Vec::new(),
                    notices: notices.clone(),
                    policy,
                    oral: false,
                };
                (age, Arc::new(info))
            })
            .collect();
        (errors.len() == before).then(|| MilestoneRule {
            id: Arc::from(id.as_str()),
            when,
            ages,
            opens_before_months: opens_months,
            overdue_after: *entry.overdue_after.get_ref(),
        })
    }

    pub fn cohort(
        &self,
        entry: &CohortEntry,
        defaults: &Defaults,
        env: &Env,
        errors: &mut Vec<RuleError>,
    ) -> Option<CohortRule> {
        let before = errors.len();
        let id = entry.id.get_ref();
        self.id(&entry.id, errors);
        let when = self.when(&entry.when, entry.id.span(), env, errors);
        let notices = self.notices(
            entry.notices.as_ref().or(defaults.notices.as_ref()),
            env,
            errors,
        );
        let policy = self.policy(
            (entry.sender, &entry.notice_horizon, &entry.max_reminders),
            defaults,
            FacilityKind::School,
            errors,
        );
        let plus = *entry.birth_year_plus.get_ref();
        if !(0..=100).contains(&plus) {
            self.error(
                errors,
                entry.birth_year_plus.span(),
                format!("cohort \"{id}\": birth_year_plus = {plus} is not an age in years (0–100)"),
            );
        }
        let dates = [
            ("earliest", &entry.earliest),
            ("due", &entry.due),
            ("overdue", &entry.overdue),
            ("expires", &entry.expires),
        ];
        for pair in dates.windows(2) {
            let ((a_name, a), (b_name, b)) = (pair[0], pair[1]);
            if b.get_ref() < a.get_ref() {
                self.error(errors, b.span(), format!("cohort \"{id}\": {b_name} comes before {a_name}; the dates must be in the order earliest ≤ due ≤ overdue ≤ expires within the year"));
            }
        }
        (errors.len() == before).then(|| CohortRule {
            id: Arc::from(id.as_str()),
            info: Arc::new(ItemInfo {
                key: ItemKey::School {
                    level: Arc::from(id.as_str()),
                },
                name_vi: entry.name_vi.clone(),
                name_en: entry.name_en.clone(),
                vaccines: Vec::new(),
                notices,
                policy,
                oral: false,
            }),
            when,
            birth_year_plus: plus,
            earliest: *entry.earliest.get_ref(),
            due: *entry.due.get_ref(),
            overdue: *entry.overdue.get_ref(),
            expires: *entry.expires.get_ref(),
        })
    }

    fn when(
        &self,
        when: &When,
        at: Range<usize>,
        env: &Env,
        errors: &mut Vec<RuleError>,
    ) -> Conditions {
        let codes = |list: &Option<Vec<Spanned<String>>>,
                     known: &HashSet<String>,
                     what: &str,
                     errors: &mut Vec<RuleError>| {
            list.as_ref().map(|list| {
                let mut codes: Vec<String> = Vec::with_capacity(list.len());
                for code in list {
                    if !known.is_empty() && !known.contains(code.get_ref()) {
                        self.error(errors, code.span(), format!("unknown {what} code \"{}\"; use the 2025 codes of the administrative-unit list (Decision 19/2025/QĐ-TTg)", code.get_ref()));
                    }
                    codes.push(code.get_ref().clone());
                }
                codes.sort();
                codes.dedup();
                codes
            })
        };
        let provinces = codes(&when.provinces, &env.ctx.province_codes, "province", errors);
        // With no commune list configured, commune codes cannot be checked: only shape.
        let communes = codes(&when.communes, &env.ctx.commune_codes, "commune", errors);
        for list in [&when.provinces, &when.communes].into_iter().flatten() {
            if list.is_empty() {
                self.error(errors, at.clone(), "an empty provinces or communes list in `when` would apply to nobody; remove it to apply everywhere".into());
            }
        }
        let range = |from: &Option<Spanned<RuleDate>>,
                     until: &Option<Spanned<RuleDate>>,
                     names: (&str, &str),
                     errors: &mut Vec<RuleError>| {
            let r = DateRange {
                from: from.as_ref().map(|d| d.get_ref().0),
                until: until.as_ref().map(|d| d.get_ref().0),
            };
            if let (Some(f), Some(u), Some(span)) =
                (r.from, r.until, until.as_ref().map(|u| u.span()))
            {
                if u < f {
                    self.error(
                        errors,
                        span,
                        format!(
                            "{} ({u}) is before {} ({f}); nobody would match",
                            names.1, names.0
                        ),
                    );
                }
            }
            r
        };
        Conditions {
            provinces,
            communes,
            born: range(
                &when.born_from,
                &when.born_until,
                ("born_from", "born_until"),
                errors,
            ),
            active: range(&when.from, &when.until, ("from", "until"), errors),
            sex: when.sex.map(|s| match s {
                SexCondition::Male => Sex::Male,
                SexCondition::Female => Sex::Female,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers() {
        let text = "a\nb\nc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 4), 3);
        assert_eq!(line_of(text, 99), 3);
    }
}
