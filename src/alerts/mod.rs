//! Outbreak alerts and catch-up campaigns (issue #15): warn the right families fast, and list
//! the children a campaign must reach.
//!
//! - [`Draft`] is what staff ask for: an area (provinces, communes), an age band on a date,
//!   and per-series dose conditions ("fewer than 2 valid measles doses"); [`Targeting`] is the
//!   same, checked against the rules.
//! - [`audience`] finds the children with the same rule engine as the reminders, groups them
//!   in households and renders one message per household, saving both with the alert.
//! - [`preview`] is what the approver reads before approving: counts, contacts, channels,
//!   SMS parts and cost, sample texts, and how long the send will take.
//! - [`reach`] is what happened: per commune, targeted, without contact, sent, delivered,
//!   failed, cancelled, and children with a dose recorded since.
//!
//! The two-person lifecycle (draft → pending approval → sending → completed, or cancelled) is
//! kept by `store::alerts`; who may take each step is decided by the API (`api::alerts`).

pub mod audience;
pub mod preview;
pub mod reach;
pub mod worklist;

use crate::reports::Area;
use crate::rules::duration::Duration;
use crate::rules::{Forecast, ItemKey, RuleSet, Status};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// An alert as staff draft it (`POST /api/alerts`, the staff page's form).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    pub name: String,
    /// An `[[alert]]` of the rule files (`measles-outbreak`).
    pub template: String,
    /// The day ages and doses are judged on (default today).
    pub as_of: Option<String>,
    #[serde(default)]
    pub provinces: Vec<String>,
    #[serde(default)]
    pub communes: Vec<String>,
    /// Included: a child of exactly this age is in.
    pub age_from: String,
    /// Excluded: a child of exactly this age is out.
    pub age_to: String,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// A dose recorded within this many days of approval counts as the alert's outcome
    /// (default 30).
    pub outcome_days: Option<i32>,
}

/// A dose condition on one series, checked by the rule engine. Every condition of an alert
/// must hold for a child to be targeted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub series: String,
    /// Fewer than this many valid doses of the series (1: no valid dose at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_doses_below: Option<u32>,
    /// A dose of the series is overdue on the alert's day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue: Option<bool>,
}

/// A problem with a draft: the field and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub reason: String,
}

fn problem(field: &str, reason: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// A draft checked against the rules: whom it targets, exactly.
#[derive(Debug, Clone)]
pub struct Targeting {
    pub name: String,
    pub template: String,
    pub as_of: NaiveDate,
    pub provinces: Vec<String>,
    pub communes: Vec<String>,
    pub area: Area,
    pub age_from: Duration,
    pub age_to: Duration,
    pub conditions: Vec<Condition>,
    pub outcome_days: i32,
}

impl Targeting {
    /// Checks every field of `d`; all problems at once.
    pub fn check(
        d: &Draft,
        rules: &RuleSet,
        today: NaiveDate,
    ) -> Result<Targeting, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let name = d.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            problems.push(problem(
                "name",
                "cần tên cảnh báo, tối đa 200 ký tự / a name of up to 200 characters is needed",
            ));
        }
        if rules.alert(&d.template).is_none() {
            let known: Vec<&str> = rules.alerts().iter().map(|a| a.template.as_str()).collect();
            problems.push(problem(
                "template",
                format!(
                    "không có mẫu cảnh báo '{}' / no alert template '{}'; the rules define: {}",
                    d.template,
                    d.template,
                    known.join(", ")
                ),
            ));
        }
        let as_of = match d.as_of.as_deref() {
            None => today,
            Some(s) => crate::registry::dates::parse_date(s).unwrap_or_else(|_| {
                problems.push(problem("as_of", "ngày YYYY-MM-DD / a date, YYYY-MM-DD"));
                today
            }),
        };
        let provinces: Vec<String> = d.provinces.iter().map(|p| p.trim().to_string()).collect();
        let communes: Vec<String> = d.communes.iter().map(|c| c.trim().to_string()).collect();
        if provinces.is_empty() && communes.is_empty() {
            problems.push(problem("communes", "chọn ít nhất một tỉnh hoặc xã: cảnh báo không gửi cả nước một lúc / name at least one province or commune: an alert is never sent to the whole country by default"));
        }
        let units = crate::registry::AdminUnits::get();
        for c in &communes {
            if units.commune(c).is_none() {
                problems.push(problem(
                    "communes",
                    format!("mã xã '{c}' không tồn tại / commune code '{c}' does not exist"),
                ));
            }
        }
        let area = Area::resolve(&provinces, &[])
            .map_err(|e| problems.push(problem("provinces", e.to_string())));
        let age = |field: &str, s: &str, problems: &mut Vec<FieldProblem>| {
            s.parse::<Duration>().map_err(|e| {
                problems.push(problem(
                    field,
                    format!("{e} (ví dụ / e.g. \"1 year\", \"9 months\")"),
                ));
            })
        };
        let age_from = age("age_from", &d.age_from, &mut problems);
        let age_to = age("age_to", &d.age_to, &mut problems);
        if let (Ok(from), Ok(to)) = (&age_from, &age_to) {
            if to.add_to(as_of) <= from.add_to(as_of) {
                problems.push(problem("age_to", "age_to phải lớn hơn age_from (age_to không tính) / age_to must be greater than age_from (age_to itself is excluded)"));
            }
        }
        if d.conditions.is_empty() {
            problems.push(problem("conditions", "cần ít nhất một điều kiện mũi tiêm, ví dụ {\"series\": \"measles\", \"valid_doses_below\": 2} / at least one dose condition is needed"));
        }
        let series = rules.series_ids();
        for (i, c) in d.conditions.iter().enumerate() {
            let field = format!("conditions[{i}]");
            if !series.contains(&c.series.as_str()) {
                problems.push(problem(
                    &field,
                    format!(
                        "không có loạt tiêm '{}' / no series '{}'; the rules define: {}",
                        c.series,
                        c.series,
                        series.join(", ")
                    ),
                ));
            }
            match (c.valid_doses_below, c.overdue) {
                (Some(0), _) => problems.push(problem(&field, "valid_doses_below phải từ 1 / valid_doses_below must be 1 or more")),
                (Some(_), None) | (None, Some(true)) => {}
                _ => problems.push(problem(&field, "một điều kiện có đúng một trong valid_doses_below (số) hoặc overdue: true / a condition has exactly one of valid_doses_below (a number) or overdue: true")),
            }
        }
        let outcome_days = d.outcome_days.unwrap_or(30);
        if !(1..=365).contains(&outcome_days) {
            problems.push(problem("outcome_days", "1–365"));
        }
        match (problems.is_empty(), area, age_from, age_to) {
            (true, Ok(province_area), Ok(age_from), Ok(age_to)) => {
                // The provinces' communes and the communes named, as one area.
                let mut all: Vec<String> = province_area
                    .communes()
                    .map(|c| c.iter().map(|c| c.as_str().to_string()).collect())
                    .unwrap_or_default();
                all.extend(communes.iter().cloned());
                let area = Area::resolve(&[], &all)
                    .map_err(|e| vec![problem("communes", e.to_string())])?;
                Ok(Targeting {
                    name,
                    template: d.template.clone(),
                    as_of,
                    provinces,
                    communes,
                    area,
                    age_from,
                    age_to,
                    conditions: d.conditions.clone(),
                    outcome_days,
                })
            }
            _ => Err(problems),
        }
    }

    /// Births that can be in the age band, a day wider at each end (the exact test is
    /// [`Targeting::in_age_band`]).
    pub fn birth_range(&self) -> (NaiveDate, NaiveDate) {
        let from = self
            .age_to
            .sub_from(self.as_of)
            .pred_opt()
            .unwrap_or(NaiveDate::MIN);
        let until = self
            .age_from
            .sub_from(self.as_of)
            .succ_opt()
            .unwrap_or(NaiveDate::MAX);
        (from, until)
    }

    /// At least `age_from` and less than `age_to` old on the alert's day.
    pub fn in_age_band(&self, birth: NaiveDate) -> bool {
        self.age_from.add_to(birth) <= self.as_of && self.age_to.add_to(birth) > self.as_of
    }

    /// The communes of the area.
    pub fn communes_covered(&self) -> Vec<String> {
        self.area
            .communes()
            .map(|c| c.iter().map(|c| c.as_str().to_string()).collect())
            .unwrap_or_default()
    }
}

/// Valid doses of `series` in a forecast: its completed doses.
pub fn valid_doses(f: &Forecast, series: &str) -> u32 {
    f.items
        .iter()
        .filter(|i| matches!(&i.info.key, ItemKey::Vaccination { series: s, .. } if &**s == series))
        .filter(|i| i.status == Status::Completed)
        .count() as u32
}

/// Does a forecast meet every condition? (The child's age and death are checked apart.)
pub fn meets(f: &Forecast, conditions: &[Condition]) -> bool {
    conditions
        .iter()
        .all(|c| match (c.valid_doses_below, c.overdue) {
            (Some(n), _) => valid_doses(f, &c.series) < n,
            (None, Some(true)) => f.items.iter().any(|i| {
                matches!(&i.info.key, ItemKey::Vaccination { series: s, .. } if **s == *c.series)
                    && i.status == Status::Overdue
            }),
            _ => false,
        })
}
