//! Speed of one evaluation: every shipped rule for a child with a typical history.
//! `cargo bench --bench evaluate` prints µs per citizen; the target is < 20 µs.

use std::hint::black_box;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use vongdoi::registry::Sex;
use vongdoi::rules::{DoseRecord, RuleSet, Subject};

fn main() {
    let rules = RuleSet::embedded();
    let dob = NaiveDate::from_ymd_opt(2024, 12, 10).unwrap();
    let at = |days: i64| dob + Duration::days(days);
    // An 18-month-old in Cao Bằng (rotavirus applies), on schedule with one early dose, and
    // a HEXA bought privately: 17 records, every series touched.
    let history = [
        ("HEPB", 0),
        ("OPV", 30), // too early: opv 1 opens at 6 weeks (grace from day 38)
        ("BCG", 3),
        ("PENTA", 61),
        ("OPV", 61),
        ("ROTA", 61),
        ("HEXA", 92),
        ("OPV", 92),
        ("ROTA", 92),
        ("PENTA", 120),
        ("OPV", 120),
        ("IPV", 150),
        ("MR", 274),
        ("JE", 366),
        ("JE", 373),
        ("MR", 548),
        ("DTP", 548),
    ];
    let doses: Vec<DoseRecord> = history
        .iter()
        .map(|(v, day)| DoseRecord {
            vaccine: v,
            date_given: at(*day),
        })
        .collect();
    let subject = Subject {
        date_of_birth: dob,
        date_of_death: None,
        sex: Sex::Male,
        province_code: "04",
        commune_code: "01273",
    };
    let as_of = at(560);
    let cards: [NaiveDate; 0] = [];

    let sample = rules.evaluate(&subject, &doses, &cards, as_of);
    println!(
        "{} items, {} invalid doses per evaluation",
        sample.items.len(),
        sample.invalid_doses.len()
    );

    // Warm up, then take the best of several rounds (the machine is shared).
    let rounds = 7;
    let per_round = 20_000;
    let mut best = f64::MAX;
    for round in 0..=rounds {
        let start = Instant::now();
        for _ in 0..per_round {
            black_box(rules.evaluate(black_box(&subject), black_box(&doses), &cards, as_of));
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / per_round as f64;
        if round > 0 {
            best = best.min(us);
        }
    }
    println!("evaluate: {best:.2} µs per citizen (best of {rounds} rounds of {per_round})");
    let json_start = Instant::now();
    for _ in 0..2_000 {
        black_box(sample.to_json("001224012345", as_of));
    }
    println!(
        "to_json: {:.2} µs per citizen",
        json_start.elapsed().as_secs_f64() * 1e6 / 2_000.0
    );
    cdsi();
}

/// The CDSi engine with the CDC's supporting data (data/cdsi), for comparison: every one of
/// its 26 vaccine groups forecast for a 6-year-old with 9 records (every series of every
/// antigen is evaluated, CDSi's way). Not the Vietnamese target.
fn cdsi() {
    use vongdoi::rules::cdsi::{
        evaluate::Gender, evaluate::Given, evaluate::Patient, forecast, xml,
    };
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cdsi/supporting-data-4.64");
    let (schedule, _) = xml::read_dir(&dir).expect("the CDC's supporting data");
    let dob = NaiveDate::from_ymd_opt(2019, 11, 10).unwrap();
    let at = |days: i64| dob + Duration::days(days);
    let given: Vec<Given> = [
        ("CVX110", 61),
        ("CVX110", 122),
        ("CVX110", 183),
        ("CVX133", 61),
        ("CVX133", 122),
        ("CVX94", 366),
        ("CVX83", 366),
        ("CVX20", 456),
        ("CVX116", 61),
    ]
    .iter()
    .map(|(v, d)| Given {
        date: at(*d),
        vaccine: v.to_string(),
        mvx: None,
    })
    .collect();
    let patient = Patient {
        dob,
        gender: Gender::Female,
        observations: Vec::new(),
    };
    let as_of = at(6 * 365);
    let mut best = f64::MAX;
    for round in 0..=3 {
        let start = Instant::now();
        for _ in 0..500 {
            black_box(forecast::forecast(
                &schedule,
                black_box(&patient),
                black_box(&given),
                as_of,
            ));
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / 500.0;
        if round > 0 {
            best = best.min(us);
        }
    }
    println!("cdsi forecast (26 groups, 9 records): {best:.1} µs per citizen");
}
