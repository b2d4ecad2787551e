//! A new circular as a new rule file, with the conditions the shipped files do not use:
//! sex, a calendar entry into force, a commune list, and a schedule change by version.

use crate::support::rules as rules_common;

use std::path::PathBuf;

use rules_common::*;
use vongdoi::registry::Sex;
use vongdoi::rules::{CheckContext, RuleSet, Status, Subject};

const VACCINES: &str = include_str!("../../rules/vaccines.toml");
const TEMPLATES: [(&str, &str); 4] = [
    ("hpv.vi.txt", "Nhắc tiêm HPV cho {{ child_name }}"),
    ("hpv.en.txt", "HPV reminder for {{ child_name }}"),
    ("sms-health.vi.txt", "{{ place_name }}: {{ notices }}"),
    ("sms-health.en.txt", "{{ place_name }}: {{ notices }}"),
];

// A made-up HPV rule: girls only, in force from 2026-07-01 (the as-of date), one dose at 10.
// Version 2 (from 2027-01-01) moves it to age 9 in two communes only.
const HPV: &str = r#"
[[vaccine]]
code = "HPV"
name_vi = "HPV"
name_en = "HPV"

[defaults]
grace = "4 days"
notices = [{ template = "hpv", at = "due", before = "1 week" }]

[[series]]
id = "hpv"
name_vi = "HPV"
name_en = "HPV"
when = { sex = "female", from = 2026-07-01, until = 2026-12-31 }

[[series.dose]]
number = 1
counts = ["HPV"]
min_age = "9 years"
rec_age = "10 years"
overdue_after = "3 months"
max_age = "15 years"

[[series]]
id = "hpv"
name_vi = "HPV"
name_en = "HPV"
when = { sex = "female", from = 2027-01-01, communes = ["00004", "00008"] }

[[series.dose]]
number = 1
counts = ["HPV"]
min_age = "9 years"
rec_age = "9 years"
overdue_after = "3 months"
max_age = "15 years"
"#;

fn rules() -> RuleSet {
    let files = [
        (PathBuf::from("vaccines.toml"), VACCINES),
        (PathBuf::from("hpv.toml"), HPV),
    ];
    RuleSet::from_texts(&files, &TEMPLATES, &CheckContext::builtin()).unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

fn girl(commune: &'static str) -> Subject<'static> {
    Subject {
        sex: Sex::Female,
        province_code: "01",
        commune_code: commune,
        ..child("2016-05-20")
    }
}

fn hpv(subject: &Subject, as_of: &str) -> Option<(Status, Option<chrono::NaiveDate>)> {
    let f = rules().evaluate(subject, &[], &[], d(as_of));
    f.items
        .iter()
        .find(|i| i.key().stable_key() == "vaccination/hpv/1")
        .map(|i| (i.status, i.due))
}

#[test]
fn sex_condition() {
    let boy = Subject {
        sex: Sex::Male,
        ..girl("00004")
    };
    assert_eq!(hpv(&boy, "2026-08-01"), None);
    // Born 2016-05-20: due at 10 = 2026-05-20, overdue + 3 months = 08-20.
    assert_eq!(
        hpv(&girl("00004"), "2026-08-01"),
        Some((Status::Due, Some(d("2026-05-20"))))
    );
}

#[test]
fn calendar_range_and_versions() {
    // Before the entry into force: no item.
    assert_eq!(hpv(&girl("00004"), "2026-06-30"), None);
    // Version 2 from 2027-01-01, in its communes only: due at 9 = 2025-05-20.
    assert_eq!(
        hpv(&girl("00004"), "2027-01-01"),
        Some((Status::Overdue, Some(d("2025-05-20"))))
    );
    assert_eq!(hpv(&girl("00010"), "2027-01-01"), None);
    // The notice fires a week before the due date.
    let f = rules().evaluate(&girl("00004"), &[], &[], d("2026-08-01"));
    let item = f
        .items
        .iter()
        .find(|i| i.key().stable_key() == "vaccination/hpv/1")
        .unwrap();
    assert_eq!(
        item.notice_dates().next().map(|(_, on)| on),
        Some(d("2026-05-13"))
    );
}

#[test]
fn the_new_vaccine_joins_the_catalogue() {
    let rules = rules();
    assert!(rules.is_known_vaccine("HPV"));
    assert!(rules.is_known_vaccine("MR"));
}

#[test]
fn versions_sharing_a_day_are_refused() {
    let overlapping = HPV.replace("from = 2027-01-01", "from = 2026-12-31");
    let files = [
        (PathBuf::from("vaccines.toml"), VACCINES),
        (PathBuf::from("hpv.toml"), overlapping.as_str()),
    ];
    let errors = RuleSet::from_texts(&files, &TEMPLATES, &CheckContext::builtin()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    // Reported at the second version's id, naming the first one's.
    let ids: Vec<usize> = (overlapping.lines().enumerate())
        .filter(|(_, l)| *l == "id = \"hpv\"")
        .map(|(i, _)| i + 1)
        .collect();
    let shown = errors[0].to_string();
    assert!(
        shown.starts_with(&format!(
            "hpv.toml:{}: this version of series \"hpv\"",
            ids[1]
        )),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("the version at hpv.toml:{};", ids[0])),
        "{shown}"
    );
}
