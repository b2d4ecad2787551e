//! Evaluation: docs/domain.md §3 steps 0–3 for vaccination series (step 0, the version for a
//! child's start, is in `start`), §4 for age milestones (the identity card) and §5 for school
//! cohorts. Everything here is a pure function of its arguments.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};

use super::forecast::{Forecast, InvalidDose, InvalidReason, Item, ItemInfo, Status};
use super::{
    CohortRule, DoseRecord, DoseRule, Duration, MilestoneRule, RuleSet, SeriesRule, Subject,
};

/// The four dates of an open item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    pub earliest: NaiveDate,
    due: NaiveDate,
    overdue: NaiveDate,
    /// `None` = never expires.
    pub expires: Option<NaiveDate>,
}

impl Window {
    /// docs/domain.md §3 step 3.
    fn status(&self, as_of: NaiveDate) -> Status {
        if let Some(expires) = self.expires {
            // "earliest ≥ expires": the dose can no longer be given in time.
            if as_of >= expires || self.earliest >= expires {
                return Status::Expired;
            }
        }
        if as_of < self.earliest {
            Status::Upcoming
        } else if as_of < self.due {
            Status::Eligible
        } else if as_of < self.overdue {
            Status::Due
        } else {
            Status::Overdue
        }
    }

    fn item(&self, info: &Arc<ItemInfo>, status: Status, completed_on: Option<NaiveDate>) -> Item {
        Item {
            info: Arc::clone(info),
            status,
            earliest: Some(self.earliest),
            due: Some(self.due),
            overdue: Some(self.overdue),
            expires: self.expires,
            completed_on,
        }
    }
}

impl DoseRule {
    /// docs/domain.md §3 step 2, with `prev` the date of the previous valid dose of the series.
    pub(super) fn window(&self, dob: NaiveDate, prev: Option<NaiveDate>) -> Window {
        let from_prev = |d: Option<Duration>| Some(d?.add_to(prev?));
        let from_dob = |d: Option<Duration>| d.map(|d| d.add_to(dob));
        // A dose with neither a minimum age nor an interval can be given from birth.
        let earliest = from_dob(self.min_age)
            .max(from_prev(self.min_interval))
            .unwrap_or(dob);
        let due = from_dob(self.rec_age)
            .max(from_prev(self.rec_interval))
            .map_or(earliest, |d| d.max(earliest));
        Window {
            earliest,
            due,
            overdue: self.overdue_after.add_to(due),
            expires: Some(self.max_age.add_to(dob)),
        }
    }

    pub(super) fn counts(&self, vaccine: &str) -> bool {
        self.info.vaccines.iter().any(|c| &**c == vaccine)
    }
}

pub(super) fn evaluate(
    rules: &RuleSet,
    subject: &Subject,
    doses: &[DoseRecord],
    id_cards: &[NaiveDate],
    as_of: NaiveDate,
) -> Forecast {
    // Step 1: records after the as-of date do not exist yet; the rest in date order (a stable
    // sort keeps same-day records in the order given).
    let mut records: Vec<&DoseRecord> = doses.iter().filter(|r| r.date_given <= as_of).collect();
    records.sort_by_key(|r| r.date_given);

    let mut out = Forecast {
        deceased: subject.date_of_death.is_some_and(|d| d <= as_of),
        ..Forecast::default()
    };
    // `rules check` guarantees at most one version of each rule matches a citizen on a day,
    // and, among versions with start windows, at most one contains the child's start.
    for series in rules.series.iter().filter(|s| {
        s.when.matches(subject, as_of) && s.starts_here(rules, subject, &records, as_of)
    }) {
        evaluate_series(series, subject.date_of_birth, &records, as_of, &mut out);
    }
    for milestone in rules
        .milestones
        .iter()
        .filter(|m| m.when.matches(subject, as_of))
    {
        evaluate_milestones(
            milestone,
            subject.date_of_birth,
            id_cards,
            as_of,
            &mut out.items,
        );
    }
    for cohort in rules
        .cohorts
        .iter()
        .filter(|c| c.when.matches(subject, as_of))
    {
        out.items
            .push(evaluate_cohort(cohort, subject.date_of_birth, as_of));
    }
    if let Some(schedule) = &rules.cdsi {
        super::cdsi::items::add(schedule, subject, &records, as_of, &mut out);
    }
    if out.deceased {
        out.items.retain(|i| i.status == Status::Completed);
    }
    out
}

fn evaluate_series(
    series: &SeriesRule,
    dob: NaiveDate,
    records: &[&DoseRecord],
    as_of: NaiveDate,
    out: &mut Forecast,
) {
    let mut prev: Option<NaiveDate> = None;
    let mut next = 0; // index of the next dose to complete
    for record in records {
        // A vaccine that counts for no dose of this series is not this series' business.
        let Some(code) = series
            .doses
            .iter()
            .flat_map(|d| d.info.vaccines.iter())
            .find(|c| ***c == *record.vaccine)
        else {
            continue;
        };
        // Once complete, further doses (campaigns, boosters) are neither counted nor judged.
        let Some(dose) = series.doses.get(next) else {
            break;
        };
        let window = dose.window(dob, prev);
        let reason = if !dose.counts(record.vaccine) {
            Some(InvalidReason::WrongVaccine)
        } else if record.date_given < series.grace.sub_from(window.earliest) {
            Some(InvalidReason::TooEarly)
        } else if window.expires.is_some_and(|e| record.date_given >= e) {
            Some(InvalidReason::TooLate)
        } else {
            None
        };
        match reason {
            None => {
                out.items
                    .push(window.item(&dose.info, Status::Completed, Some(record.date_given)));
                prev = Some(record.date_given);
                next += 1;
            }
            Some(reason) => out.invalid_doses.push(InvalidDose {
                series: Arc::clone(&series.id),
                dose: dose_number(next),
                vaccine: Arc::clone(code),
                date_given: record.date_given,
                reason,
            }),
        }
    }
    let Some(open) = series.doses.get(next) else {
        return;
    };
    let window = open.window(dob, prev);
    let status = window.status(as_of);
    out.items.push(window.item(&open.info, status, None));
    // Later doses have no dates until the open one is given; if it can no longer be given,
    // neither can they.
    let later = if status == Status::Expired {
        Status::Expired
    } else {
        Status::Waiting
    };
    for dose in &series.doses[next + 1..] {
        out.items.push(Item {
            info: Arc::clone(&dose.info),
            status: later,
            earliest: None,
            due: None,
            overdue: None,
            expires: None,
            completed_on: None,
        });
    }
}

fn dose_number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// docs/domain.md §4: for age M, earliest = birthday at M − window, due = birthday at M,
/// overdue = due + overdue_after, expires = the next age's earliest (never for the last).
/// Completed by the first record issued in [earliest, expires).
fn evaluate_milestones(
    rule: &MilestoneRule,
    dob: NaiveDate,
    records: &[NaiveDate],
    as_of: NaiveDate,
    items: &mut Vec<Item>,
) {
    // Birthday at (age − window): done in months so that 29 February follows the same
    // calendar rule as every other age.
    let opens = |age: u32| {
        Duration::months((age * 12).saturating_sub(rule.opens_before_months)).add_to(dob)
    };
    for (i, (age, info)) in rule.ages.iter().enumerate() {
        let due = Duration::years(*age).add_to(dob);
        let window = Window {
            earliest: opens(*age),
            due,
            overdue: rule.overdue_after.add_to(due),
            expires: rule.ages.get(i + 1).map(|(next, _)| opens(*next)),
        };
        let completed_on = records
            .iter()
            .copied()
            .filter(|&c| c <= as_of && c >= window.earliest && window.expires.is_none_or(|e| c < e))
            .min();
        let status = match completed_on {
            Some(_) => Status::Completed,
            None => window.status(as_of),
        };
        items.push(window.item(info, status, completed_on));
    }
}

/// docs/domain.md §5: fixed days of the year Y = birth year + offset. No record completes a school
/// item (the registry holds no enrolments), so it runs its course to `expired`.
fn evaluate_cohort(rule: &CohortRule, dob: NaiveDate, as_of: NaiveDate) -> Item {
    let year = dob.year() + rule.birth_year_plus;
    let window = Window {
        earliest: rule.earliest.in_year(year),
        due: rule.due.in_year(year),
        overdue: rule.overdue.in_year(year),
        expires: Some(rule.expires.in_year(year)),
    };
    window.item(&rule.info, window.status(as_of), None)
}
