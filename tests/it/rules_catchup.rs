//! Issue #17: versions of a series chosen by the age at the first dose. The shipped `dtp` has
//! the infant schedule and WHO's catch-up for a child who starts at 12 months or later (WHO
//! Table 3, interrupted or delayed immunization: 3 doses, ≥ 4 weeks then ≥ 6 months apart).
//! Every expected date is worked out by hand in the comment beside it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::json;

use crate::rules_check::{assert_one, copy, edit, errors};
use crate::support::rules::*;
use crate::support::{vongdoi, TestDb};
use vongdoi::rules::{CheckContext, DoseRecord, Forecast, InvalidReason, RuleSet, Status};

fn dtp_keys(f: &Forecast) -> Vec<String> {
    keys(f)
        .into_iter()
        .filter(|k| k.starts_with("vaccination/dtp/"))
        .collect()
}

#[test]
fn a_late_starter_gets_the_who_catch_up_plan() {
    // Born 2025-01-01, first PENTA at 14 months (2026-03-01): the catch-up version.
    let f = forecast(
        &child("2025-01-01"),
        &[("PENTA", "2026-03-01")],
        "2026-03-15",
    );
    assert_eq!(
        dtp_keys(&f),
        [
            "vaccination/dtp/1",
            "vaccination/dtp/2",
            "vaccination/dtp/3"
        ],
        "three doses, no infant dose 4"
    );
    assert_eq!(
        item(&f, "vaccination/dtp/1").completed_on,
        Some(d("2026-03-01"))
    );
    // dose 2: earliest = 03-01 + 4 weeks = 03-29; due = 03-01 + 1 month = 04-01;
    // overdue 05-01; expires = birth + 7 years = 2032-01-01.
    assert_item(
        item(&f, "vaccination/dtp/2"),
        Status::Upcoming,
        ["2026-03-29", "2026-04-01", "2026-05-01", "2032-01-01"],
    );
    assert_eq!(item(&f, "vaccination/dtp/3").status, Status::Waiting);

    // dose 2 on 04-01; dose 3: earliest = due = 04-01 + 6 months = 10-01 (the infant schedule
    // would say 04-29), overdue 11-01.
    let f = forecast(
        &child("2025-01-01"),
        &[("PENTA", "2026-03-01"), ("PENTA", "2026-04-01")],
        "2026-04-15",
    );
    assert_item(
        item(&f, "vaccination/dtp/3"),
        Status::Upcoming,
        ["2026-10-01", "2026-10-01", "2026-11-01", "2032-01-01"],
    );

    // A third PENTA 5 months after the second is too early (grace from 09-27); the one on
    // 10-01 completes the series, and nothing more is asked.
    let f = forecast(
        &child("2025-01-01"),
        &[
            ("PENTA", "2026-03-01"),
            ("PENTA", "2026-04-01"),
            ("PENTA", "2026-09-01"),
            ("DTP", "2026-10-01"),
        ],
        "2027-06-01",
    );
    assert_eq!(f.invalid_doses.len(), 1, "{:?}", f.invalid_doses);
    assert_eq!(
        (
            &*f.invalid_doses[0].series,
            f.invalid_doses[0].dose,
            f.invalid_doses[0].reason
        ),
        ("dtp", 3, InvalidReason::TooEarly)
    );
    assert_eq!(dtp_keys(&f).len(), 3);
    assert!(dtp_keys(&f)
        .iter()
        .all(|k| item(&f, k).status == Status::Completed));
    assert_eq!(
        item(&f, "vaccination/dtp/3").completed_on,
        Some(d("2026-10-01"))
    );
}

#[test]
fn an_infant_starting_on_time_keeps_the_infant_schedule() {
    // PENTA at 2, 3 and 4 months: dose 4 as today: earliest = max(birth + 12 months =
    // 2026-01-01, 05-01 + 6 months = 11-01) = 2026-01-01; due = 18 months = 2026-07-01.
    let f = forecast(
        &child("2025-01-01"),
        &[
            ("PENTA", "2025-03-01"),
            ("PENTA", "2025-04-01"),
            ("PENTA", "2025-05-01"),
        ],
        "2025-06-01",
    );
    assert_eq!(dtp_keys(&f).len(), 4);
    assert_item(
        item(&f, "vaccination/dtp/4"),
        Status::Upcoming,
        ["2026-01-01", "2026-07-01", "2026-08-01", "2032-01-01"],
    );
}

#[test]
fn an_interrupted_infant_series_is_resumed_not_restarted() {
    // One PENTA at 2 months, then nothing until 14 months: the series started in infancy, so
    // it is resumed on the infant schedule. dose 2 counts from dose 1 (earliest 2025-03-29).
    let f = forecast(
        &child("2025-01-01"),
        &[("PENTA", "2025-03-01"), ("PENTA", "2026-03-01")],
        "2026-03-10",
    );
    assert_eq!(dtp_keys(&f).len(), 4);
    assert_eq!(
        item(&f, "vaccination/dtp/2").completed_on,
        Some(d("2026-03-01"))
    );
    // dose 3: earliest = 03-01 + 4 weeks = 03-29; due = max(birth + 4 months, 03-01 +
    // 1 month = 04-01) = 04-01.
    assert_item(
        item(&f, "vaccination/dtp/3"),
        Status::Upcoming,
        ["2026-03-29", "2026-04-01", "2026-05-01", "2030-01-01"],
    );
}

#[test]
fn an_unstarted_child_moves_to_the_catch_up_on_the_first_birthday() {
    // No dtp dose: the age on the as-of date decides. The day before the first birthday the
    // infant schedule (4 doses, dose 1 expires at 5 years), on it the catch-up (3 doses, at 7).
    let subject = child("2025-01-01");
    let rules = RuleSet::embedded();
    let before = rules.evaluate(&subject, &[], &[], d("2025-12-31"));
    assert_eq!(dtp_keys(&before).len(), 4);
    assert_item(
        item(&before, "vaccination/dtp/1"),
        Status::Overdue,
        ["2025-02-12", "2025-03-01", "2025-04-01", "2030-01-01"],
    );
    let after = rules.evaluate(&subject, &[], &[], d("2026-01-01"));
    assert_eq!(dtp_keys(&after).len(), 3);
    assert_item(
        item(&after, "vaccination/dtp/1"),
        Status::Overdue,
        ["2025-02-12", "2025-03-01", "2025-04-01", "2032-01-01"],
    );
    // The scheduler is told to look again on the birthday.
    let next = rules.next_change(&subject, &[], &[], d("2025-12-20"), &before);
    assert!(next.is_some_and(|n| n <= d("2026-01-01")), "{next:?}");
}

const TWO_WINDOWS: &str = r#"
[defaults]
grace = "4 days"
notices = []

[[vaccine]]
code = "PENTA"
name_vi = "5 trong 1"
name_en = "Pentavalent"

[[series]]
id = "dtp"
name_vi = "Bạch hầu, ho gà, uốn ván"
name_en = "Diphtheria, tetanus, pertussis"
start_before = "12 months"

[[series.dose]]
number = 1
counts = ["PENTA"]
min_age = "6 weeks"
rec_age = "2 months"
overdue_after = "1 month"
max_age = "5 years"

[[series]]
id = "dtp"
name_vi = "Bạch hầu, ho gà, uốn ván"
name_en = "Diphtheria, tetanus, pertussis"
start_from = "12 months"

[[series.dose]]
number = 1
counts = ["PENTA"]
min_age = "6 weeks"
rec_age = "2 months"
overdue_after = "1 month"
max_age = "7 years"
"#;

#[test]
fn the_next_change_of_an_unstarted_child_is_the_window_edge() {
    // One series in two versions, no notices: for an unstarted child born 2025-01-01 the only
    // day anything changes before dose 1 expires (2030-01-01) is the first birthday, when the
    // second version takes over (its dose 1 expires at 7 years).
    let templates = shipped_templates();
    // The senders' SMS only: the other templates belong to entries this file does not have.
    let templates: Vec<(&str, &str)> = (templates.iter())
        .filter(|(n, _)| n.starts_with("sms-"))
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let rules = RuleSet::from_texts(
        &[(PathBuf::from("rules/dtp.toml"), TWO_WINDOWS)],
        &templates,
        &CheckContext::builtin(),
    )
    .unwrap();
    let subject = child("2025-01-01");
    let f = rules.evaluate(&subject, &[], &[], d("2025-06-01"));
    assert_eq!(item(&f, "vaccination/dtp/1").expires, Some(d("2030-01-01")));
    let next = rules.next_change(&subject, &[], &[], d("2025-06-01"), &f);
    assert_eq!(next, Some(d("2026-01-01")));
    let f = rules.evaluate(&subject, &[], &[], d("2026-01-01"));
    assert_eq!(item(&f, "vaccination/dtp/1").expires, Some(d("2032-01-01")));
    // Once started, the start is fixed: the birthday is still a day to look, nothing more.
    let doses = [DoseRecord {
        vaccine: "PENTA",
        date_given: d("2025-03-01"),
    }];
    let f = rules.evaluate(&subject, &doses, &[], d("2026-06-01"));
    assert_eq!(
        item(&f, "vaccination/dtp/1").completed_on,
        Some(d("2025-03-01"))
    );
    assert_eq!(item(&f, "vaccination/dtp/1").expires, Some(d("2030-01-01")));
}

fn shipped_templates() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/templates");
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            (name, fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// The shipped rules as they were before issue #17 (no start window, no catch-up version),
/// and as they are: built once for the property below.
fn old_and_new() -> &'static (RuleSet, RuleSet) {
    static RULES: OnceLock<(RuleSet, RuleSet)> = OnceLock::new();
    RULES.get_or_init(|| (rules_without_catch_up(), RuleSet::embedded()))
}

fn rules_without_catch_up() -> RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let mut text = fs::read_to_string(&path).unwrap();
            if path.ends_with("vaccination.toml") {
                let start = text.find("# Catch-up for a child").unwrap();
                let end = start + text[start..].find("[[series]]\nid = \"opv\"").unwrap();
                text.replace_range(start..end, "");
                let window = text.find("start_before = \"12 months\"").unwrap();
                let eol = window + text[window..].find('\n').unwrap();
                text.replace_range(window..=eol, "");
                assert!(
                    !text.lines().any(|l| l.starts_with("start_")),
                    "the old schedule has no window"
                );
            }
            files.push((path, text));
        }
    }
    let templates = shipped_templates();
    let files: Vec<(PathBuf, &str)> = files.iter().map(|(p, t)| (p.clone(), t.as_str())).collect();
    let templates: Vec<(&str, &str)> = templates
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    RuleSet::from_texts(&files, &templates, &CheckContext::builtin()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Whoever started dtp before their first birthday (or is younger and has not started)
    /// gets exactly the forecast the rules without catch-up gave; every other series is the
    /// same for everyone.
    #[test]
    fn infant_starters_get_exactly_the_old_plan(
        dob_day in 0i64..2500,
        history in prop::collection::vec((0usize..6, 0i64..1500), 0..8),
        as_of_day in 0i64..1800,
    ) {
        let (old, new) = old_and_new();
        let codes = ["PENTA", "HEXA", "DTP", "OPV", "IPV", "MR"];
        let dob = d("2019-01-01") + chrono::Days::new(dob_day as u64);
        let at = |day: i64| dob + chrono::Days::new(day as u64);
        let doses: Vec<DoseRecord> = history
            .iter()
            .map(|&(c, day)| DoseRecord { vaccine: codes[c], date_given: at(day) })
            .collect();
        let subject = vongdoi::rules::Subject { date_of_birth: dob, ..child("2025-01-01") };
        let as_of = at(as_of_day);
        let before = old.evaluate(&subject, &doses, &[], as_of);
        let after = new.evaluate(&subject, &doses, &[], as_of);
        let first_birthday = vongdoi::rules::Duration::years(1).add_to(dob);
        let started = before.items.iter().find(|i| i.key().stable_key() == "vaccination/dtp/1")
            .and_then(|i| i.completed_on);
        let infant = match started {
            Some(on) => on < first_birthday,
            None => as_of < first_birthday,
        };
        if infant {
            prop_assert_eq!(&before, &after);
        }
        let others = |f: &Forecast| {
            let items: Vec<_> = f.items.iter()
                .filter(|i| !i.key().stable_key().starts_with("vaccination/dtp/"))
                .cloned()
                .collect();
            let invalid: Vec<_> = f.invalid_doses.iter().filter(|i| &*i.series != "dtp").cloned().collect();
            (items, invalid)
        };
        prop_assert_eq!(others(&before), others(&after));
    }
}

// ------------------------------------------------------------------ rules check
#[test]
fn overlapping_start_windows_are_refused() {
    // The catch-up dtp (start_from = "12 months") made to start at 11 months: a child whose
    // first dose came at 11 months would have both schedules. Reported at the later version's
    // id, naming the first.
    let dir = copy("start-overlap");
    let text = fs::read_to_string(dir.join("vaccination.toml")).unwrap();
    let line_of = |needle: &str, nth: usize| {
        text[..text.match_indices(needle).nth(nth).unwrap().0]
            .matches('\n')
            .count()
            + 1
    };
    let (infant, catch_up) = (line_of("id = \"dtp\"", 0), line_of("id = \"dtp\"", 1));
    edit(
        &dir,
        "vaccination.toml",
        "start_from = \"12 months\"",
        "start_from = \"11 months\"",
        0,
    );
    let first = format!("vaccination.toml:{infant}");
    assert_one(
        &errors(&dir),
        &dir,
        "vaccination.toml",
        catch_up,
        &["series \"dtp\"", "start windows overlap", &first],
    );

    // The infant version without its window covers every start: it overlaps too.
    let dir = copy("start-open");
    edit(
        &dir,
        "vaccination.toml",
        "start_before = \"12 months\"",
        "# no window",
        0,
    );
    assert_one(
        &errors(&dir),
        &dir,
        "vaccination.toml",
        catch_up,
        &["start windows overlap"],
    );

    // An empty window, and a misspelt key.
    let dir = copy("start-empty");
    let line = edit(
        &dir,
        "vaccination.toml",
        "start_from = \"12 months\"",
        "start_from = \"12 months\"\nstart_before = \"1 year\"",
        0,
    ) + 1;
    assert_one(
        &errors(&dir),
        &dir,
        "vaccination.toml",
        line,
        &["start_before (1 year) is not after start_from (12 months)"],
    );
    let dir = copy("start-typo");
    let line = edit(
        &dir,
        "vaccination.toml",
        "start_from = \"12 months\"",
        "start_age = \"12 months\"",
        0,
    );
    assert_one(
        &errors(&dir),
        &dir,
        "vaccination.toml",
        line,
        &["unknown field", "start_age"],
    );
}

// ------------------------------------------------------------ through the binary

const CITIZENS: &str = "personal_id,full_name,sex,date_of_birth,date_of_death,commune_code,household_id,mother_id,father_id,guardian_id,phone,email,language
001196000001,Trần Thị Lan,F,1996-04-02,,00004,HK1,,,,0912345678,,vi
001225000003,Nguyễn Văn Bình,M,2025-01-10,,00004,HK1,001196000001,,,,,vi
001226000004,Nguyễn Văn Cường,M,2026-01-10,,00004,HK1,001196000001,,,,,vi
";

// Bình starts at 14 months (PENTA 2026-03-10, 04-10); Cường at 2 months (2026-03-10).
const DOSES: &str = "personal_id,vaccine,date_given,place
001225000003,PENTA,2026-03-10,
001225000003,PENTA,2026-04-10,
001226000004,PENTA,2026-03-10,
";

fn dtp_items(json: &serde_json::Value) -> Vec<&serde_json::Value> {
    json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["series"] == "dtp")
        .collect()
}

async fn forecast_cli_gives_a_late_starter_the_catch_up_plan(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("c.csv"), CITIZENS).unwrap();
    fs::write(dir.path().join("i.csv"), DOSES).unwrap();
    let (ok, out, err) = vongdoi(&db, dir.path(), &["import", "citizens", "c.csv"]);
    assert!(ok, "{b}: {out} {err}");
    let (ok, out, err) = vongdoi(&db, dir.path(), &["import", "immunizations", "i.csv"]);
    assert!(ok && out.contains("thêm/inserted 3"), "{b}: {out} {err}");
    let json = |pin: &str| -> serde_json::Value {
        let args = ["forecast", pin, "--as-of", "2026-05-01", "--format", "json"];
        let (ok, out, err) = vongdoi(&db, dir.path(), &args);
        assert!(ok, "{b}: {err}");
        serde_json::from_str(&out).unwrap()
    };

    let late = json("001225000003");
    let dtp = dtp_items(&late);
    assert_eq!(dtp.len(), 3, "{b}: no infant dose 4: {dtp:#?}");
    assert_eq!(dtp[0]["completed_on"], "2026-03-10", "{b}");
    assert_eq!(dtp[1]["completed_on"], "2026-04-10", "{b}");
    // dose 3: earliest = due = 04-10 + 6 months = 10-10; overdue 11-10; expires = birth +
    // 7 years = 2032-01-10.
    let d3 = dtp[2];
    assert_eq!(
        json!([
            d3["dose"],
            d3["status"],
            d3["earliest"],
            d3["due"],
            d3["overdue"],
            d3["expires"]
        ]),
        json!([
            3,
            "upcoming",
            "2026-10-10",
            "2026-10-10",
            "2026-11-10",
            "2032-01-10"
        ]),
        "{b}"
    );

    // The infant keeps today's schedule: dose 2 earliest 03-10 + 4 weeks = 04-07, due =
    // max(birth + 3 months, 03-10 + 1 month) = 04-10; doses 3 and 4 waiting.
    let infant = json("001226000004");
    let dtp = dtp_items(&infant);
    assert_eq!(dtp.len(), 4, "{b}");
    assert_eq!(
        json!([dtp[1]["status"], dtp[1]["earliest"], dtp[1]["due"]]),
        json!(["due", "2026-04-07", "2026-04-10"]),
        "{b}"
    );
    assert_eq!(dtp[3]["status"], "waiting", "{b}");
}
on_each_backend!(forecast_cli_gives_a_late_starter_the_catch_up_plan);
