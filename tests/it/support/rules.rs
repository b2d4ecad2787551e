#![allow(dead_code)] // each test file uses its own part of the helpers

use chrono::NaiveDate;
use vongdoi::registry::Sex;
use vongdoi::rules::{DoseRecord, Forecast, Item, RuleSet, Status, Subject};

pub fn d(text: &str) -> NaiveDate {
    text.parse()
        .unwrap_or_else(|_| panic!("bad test date {text}"))
}

/// A child in Cao Bằng (04): rotavirus applies when born on or after 2024-11-01.
pub fn child(dob: &str) -> Subject<'static> {
    Subject {
        date_of_birth: d(dob),
        date_of_death: None,
        sex: Sex::Female,
        province_code: "04",
        commune_code: "01273",
    }
}

pub fn records<'a>(list: &[(&'a str, &str)]) -> Vec<DoseRecord<'a>> {
    list.iter()
        .map(|(vaccine, date)| DoseRecord {
            vaccine,
            date_given: d(date),
        })
        .collect()
}

pub fn forecast(subject: &Subject, doses: &[(&str, &str)], as_of: &str) -> Forecast {
    RuleSet::embedded().evaluate(subject, &records(doses), &[], d(as_of))
}

/// The item with this stable key (`vaccination/dtp/2`, `id-card/14`, `school/grade-1`).
pub fn item<'f>(f: &'f Forecast, key: &str) -> &'f Item {
    f.items
        .iter()
        .find(|i| i.key().stable_key() == key)
        .unwrap_or_else(|| panic!("no item {key} in {:#?}", keys(f)))
}

pub fn has_item(f: &Forecast, key: &str) -> bool {
    f.items.iter().any(|i| i.key().stable_key() == key)
}

pub fn keys(f: &Forecast) -> Vec<String> {
    f.items.iter().map(|i| i.key().stable_key()).collect()
}

/// Asserts status and the four dates ("-" = null).
#[track_caller]
pub fn assert_item(i: &Item, status: Status, dates: [&str; 4]) {
    let opt = |s: &str| if s == "-" { None } else { Some(d(s)) };
    assert_eq!(i.status, status, "status of {}", i.key().stable_key());
    assert_eq!(
        [i.earliest, i.due, i.overdue, i.expires],
        dates.map(opt),
        "earliest, due, overdue, expires of {}",
        i.key().stable_key()
    );
}
