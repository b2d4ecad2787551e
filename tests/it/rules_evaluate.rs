//! docs/domain.md §3–5 walked rule by rule, on the shipped rules, through the public API only.
//! Every expected date is worked out by hand in the comment beside it.

use crate::support::rules as rules_common;

use std::collections::HashSet;

use rules_common::*;
use vongdoi::rules::{InvalidReason, RuleSet, Status, Subject};

// ---------------------------------------------------------------- grace period (step 1)

#[test]
fn a_dose_four_days_early_counts() {
    // Born 2025-01-01. dtp 1 earliest = birth + 6 weeks = 2025-02-12; 4 days early = 02-08.
    let f = forecast(
        &child("2025-01-01"),
        &[("PENTA", "2025-02-08")],
        "2025-03-15",
    );
    let dtp1 = item(&f, "vaccination/dtp/1");
    assert_eq!(dtp1.status, Status::Completed);
    assert_eq!(dtp1.completed_on, Some(d("2025-02-08")));
    // dtp 2 counts from the early dose: earliest = 02-08 + 4 weeks = 03-08;
    // due = max(birth + 3 months = 04-01, 02-08 + 1 month = 03-08) = 04-01;
    // overdue = 05-01; expires = birth + 5 years = 2030-01-01. On 03-15: eligible.
    assert_item(
        item(&f, "vaccination/dtp/2"),
        Status::Eligible,
        ["2025-03-08", "2025-04-01", "2025-05-01", "2030-01-01"],
    );
    assert!(f.invalid_doses.is_empty());
}

#[test]
fn a_dose_five_days_early_is_too_early() {
    // 2025-02-07 is 5 days before 02-12.
    let f = forecast(
        &child("2025-01-01"),
        &[("PENTA", "2025-02-07")],
        "2025-03-15",
    );
    assert_eq!(f.invalid_doses.len(), 1);
    let bad = &f.invalid_doses[0];
    assert_eq!((&*bad.series, bad.dose, &*bad.vaccine), ("dtp", 1, "PENTA"));
    assert_eq!(
        (bad.date_given, bad.reason),
        (d("2025-02-07"), InvalidReason::TooEarly)
    );
    // dtp 1 still open: earliest 02-12, due = birth + 2 months = 03-01, overdue 04-01.
    assert_item(
        item(&f, "vaccination/dtp/1"),
        Status::Due,
        ["2025-02-12", "2025-03-01", "2025-04-01", "2030-01-01"],
    );
    assert_eq!(item(&f, "vaccination/dtp/2").status, Status::Waiting);
}

#[test]
fn a_too_early_dose_followed_by_a_valid_one() {
    // opv 1: earliest 02-12, grace from 02-08. 02-01 is too early; 03-01 counts.
    let f = forecast(
        &child("2025-01-01"),
        &[("OPV", "2025-03-01"), ("OPV", "2025-02-01")], // out of order on purpose
        "2025-03-20",
    );
    assert_eq!(f.invalid_doses.len(), 1);
    assert_eq!(f.invalid_doses[0].date_given, d("2025-02-01"));
    assert_eq!(f.invalid_doses[0].reason, InvalidReason::TooEarly);
    assert_eq!(
        item(&f, "vaccination/opv/1").completed_on,
        Some(d("2025-03-01"))
    );
    // opv 2 from the valid dose only: earliest = 03-01 + 4 weeks = 03-29;
    // due = max(birth + 3 months = 04-01, 03-01 + 1 month = 04-01) = 04-01. Upcoming on 03-20.
    assert_item(
        item(&f, "vaccination/opv/2"),
        Status::Upcoming,
        ["2025-03-29", "2025-04-01", "2025-05-01", "2030-01-01"],
    );
}

#[test]
fn a_dose_on_the_maximum_age_is_too_late() {
    // hepb-birth: max age 7 days → expires 2025-01-08; a record that day is too late, the
    // day before counts.
    let late = forecast(
        &child("2025-01-01"),
        &[("HEPB", "2025-01-08")],
        "2025-02-01",
    );
    assert_eq!(late.invalid_doses[0].reason, InvalidReason::TooLate);
    assert_item(
        item(&late, "vaccination/hepb-birth/1"),
        Status::Expired,
        ["2025-01-01", "2025-01-01", "2025-01-02", "2025-01-08"],
    );
    let in_time = forecast(
        &child("2025-01-01"),
        &[("HEPB", "2025-01-07")],
        "2025-02-01",
    );
    assert!(in_time.invalid_doses.is_empty());
    assert_eq!(
        item(&in_time, "vaccination/hepb-birth/1").status,
        Status::Completed
    );
}

#[test]
fn a_vaccine_for_a_later_dose_is_the_wrong_vaccine() {
    // DTP counts only for dtp dose 4; given as the first dose it is reported, not counted.
    let f = forecast(&child("2025-01-01"), &[("DTP", "2025-03-01")], "2025-03-05");
    assert_eq!(f.invalid_doses.len(), 1);
    assert_eq!(f.invalid_doses[0].reason, InvalidReason::WrongVaccine);
    assert_eq!(item(&f, "vaccination/dtp/1").status, Status::Due);
}

#[test]
fn codes_of_no_applicable_series_are_ignored() {
    // ROTA for a child in Hà Nội born 2025 (no rotavirus series there yet), and a code the
    // catalogue does not know: neither is an invalid dose.
    let hanoi = Subject {
        province_code: "01",
        commune_code: "00004",
        ..child("2025-01-01")
    };
    let f = forecast(
        &hanoi,
        &[("ROTA", "2025-03-01"), ("XYZ", "2025-03-01")],
        "2025-04-01",
    );
    assert!(f.invalid_doses.is_empty());
    assert!(!has_item(&f, "vaccination/rota/1"));
}

// ------------------------------------------------------- combination vaccines (step 1)

#[test]
fn hexa_counts_for_dtp_and_ipv_at_once() {
    // Born 2025-01-01, HEXA on 03-01 (≥ 02-12 for both dtp 1 and ipv 1).
    let f = forecast(
        &child("2025-01-01"),
        &[("HEXA", "2025-03-01")],
        "2025-04-10",
    );
    assert_eq!(
        item(&f, "vaccination/dtp/1").completed_on,
        Some(d("2025-03-01"))
    );
    assert_eq!(
        item(&f, "vaccination/ipv/1").completed_on,
        Some(d("2025-03-01"))
    );
    assert!(f.invalid_doses.is_empty());
    // dtp 2: earliest 03-01 + 4 weeks = 03-29, due max(04-01, 04-01) = 04-01 → due on 04-10.
    assert_item(
        item(&f, "vaccination/dtp/2"),
        Status::Due,
        ["2025-03-29", "2025-04-01", "2025-05-01", "2030-01-01"],
    );
    // ipv 2: earliest 03-29, due = max(birth + 9 months = 10-01, 03-29) = 10-01 → eligible.
    assert_item(
        item(&f, "vaccination/ipv/2"),
        Status::Eligible,
        ["2025-03-29", "2025-10-01", "2025-11-01", "2030-01-01"],
    );
    // The same vaccine's record never shows up in opv (OPV only).
    assert_eq!(item(&f, "vaccination/opv/1").completed_on, None);
}

#[test]
fn one_record_valid_in_one_series_and_too_early_in_another() {
    // IPV on 02-15 completes ipv 1. HEXA on 03-01: dtp 1 (earliest 02-12) counts it, but
    // ipv 2's earliest is 02-15 + 4 weeks = 03-15, grace from 03-11: too early for ipv.
    let f = forecast(
        &child("2025-01-01"),
        &[("IPV", "2025-02-15"), ("HEXA", "2025-03-01")],
        "2025-03-20",
    );
    assert_eq!(
        item(&f, "vaccination/dtp/1").completed_on,
        Some(d("2025-03-01"))
    );
    assert_eq!(
        item(&f, "vaccination/ipv/1").completed_on,
        Some(d("2025-02-15"))
    );
    assert_eq!(item(&f, "vaccination/ipv/2").status, Status::Eligible);
    assert_eq!(f.invalid_doses.len(), 1);
    let bad = &f.invalid_doses[0];
    assert_eq!((&*bad.series, bad.dose, &*bad.vaccine), ("ipv", 2, "HEXA"));
    assert_eq!(bad.reason, InvalidReason::TooEarly);
}

#[test]
fn mr_counts_for_measles_dose_1_and_dose_2() {
    // Born 2024-01-01. measles 1 earliest = 9 months = 2024-10-01: MR that day counts.
    // measles 2 earliest = max(birth + 12 months = 2025-01-01, 10-01 + 4 weeks = 10-29)
    // = 2025-01-01; MR on 2025-07-01 counts.
    let f = forecast(
        &child("2024-01-01"),
        &[("MR", "2024-10-01"), ("MR", "2025-07-01")],
        "2025-08-01",
    );
    assert_eq!(
        item(&f, "vaccination/measles/1").completed_on,
        Some(d("2024-10-01"))
    );
    assert_eq!(
        item(&f, "vaccination/measles/2").completed_on,
        Some(d("2025-07-01"))
    );
    // measles 2 dates as of its completion: due = max(birth + 18 months = 2025-07-01, …).
    assert_item(
        item(&f, "vaccination/measles/2"),
        Status::Completed,
        ["2025-01-01", "2025-07-01", "2025-08-01", "2029-01-01"],
    );
    assert!(f.invalid_doses.is_empty());
}

#[test]
fn monovalent_measles_does_not_count_for_dose_2() {
    let f = forecast(
        &child("2024-01-01"),
        &[("MEASLES", "2024-10-01"), ("MEASLES", "2025-07-01")],
        "2025-08-01",
    );
    assert_eq!(item(&f, "vaccination/measles/1").status, Status::Completed);
    assert_eq!(f.invalid_doses[0].reason, InvalidReason::WrongVaccine);
    // Still open and overdue: due 2025-07-01, overdue 2025-08-01 = as of.
    assert_eq!(item(&f, "vaccination/measles/2").status, Status::Overdue);
}

#[test]
fn je_intervals_chain_from_the_previous_dose() {
    // Born 2024-01-01: je 1 at 12 months (2025-01-01), je 2 seven days later counts.
    // je 3: earliest = due = 2025-01-08 + 1 year = 2026-01-08; overdue + 1 month = 02-08.
    let f = forecast(
        &child("2024-01-01"),
        &[("JE", "2025-01-01"), ("JE", "2025-01-08")],
        "2025-06-01",
    );
    assert_eq!(
        item(&f, "vaccination/je/2").completed_on,
        Some(d("2025-01-08"))
    );
    assert_item(
        item(&f, "vaccination/je/3"),
        Status::Upcoming,
        ["2026-01-08", "2026-01-08", "2026-02-08", "2039-01-01"],
    );
}

// ------------------------------------------------------------------ expiry (step 3)

#[test]
fn a_series_whose_next_dose_has_expired() {
    // Rotavirus max age 6 months: born 2025-01-01 → expires 2025-07-01. Nothing given by
    // then: dose 1 expired, and dose 2 expired too (with no dates).
    let f = forecast(&child("2025-01-01"), &[], "2025-07-01");
    assert_item(
        item(&f, "vaccination/rota/1"),
        Status::Expired,
        ["2025-02-12", "2025-03-01", "2025-04-01", "2025-07-01"],
    );
    assert_item(
        item(&f, "vaccination/rota/2"),
        Status::Expired,
        ["-", "-", "-", "-"],
    );
    // The day before, it was overdue.
    let f = forecast(&child("2025-01-01"), &[], "2025-06-30");
    assert_eq!(item(&f, "vaccination/rota/1").status, Status::Overdue);
    assert_eq!(item(&f, "vaccination/rota/2").status, Status::Waiting);
}

#[test]
fn a_dose_that_can_no_longer_be_given_in_time_is_expired_early() {
    // rota 1 on 2025-06-20; rota 2 earliest = 06-20 + 4 weeks = 07-18 ≥ expires 07-01:
    // expired already on 06-25 ("earliest ≥ expires").
    let f = forecast(
        &child("2025-01-01"),
        &[("ROTA", "2025-06-20")],
        "2025-06-25",
    );
    assert_eq!(item(&f, "vaccination/rota/1").status, Status::Completed);
    assert_item(
        item(&f, "vaccination/rota/2"),
        Status::Expired,
        ["2025-07-18", "2025-07-20", "2025-08-20", "2025-07-01"],
    );
}

// ------------------------------------------------------------- as-of date and death

#[test]
fn records_after_the_as_of_date_are_ignored() {
    // BCG on 01-10 does not exist yet on 01-05: not counted, not reported.
    let f = forecast(&child("2025-01-01"), &[("BCG", "2025-01-10")], "2025-01-05");
    assert!(f.invalid_doses.is_empty());
    // bcg: earliest = due = birth; overdue = + 1 month = 02-01; expires + 1 year.
    assert_item(
        item(&f, "vaccination/bcg/1"),
        Status::Due,
        ["2025-01-01", "2025-01-01", "2025-02-01", "2026-01-01"],
    );
    let later = forecast(&child("2025-01-01"), &[("BCG", "2025-01-10")], "2025-01-10");
    assert_eq!(
        item(&later, "vaccination/bcg/1").completed_on,
        Some(d("2025-01-10"))
    );
}

#[test]
fn a_deceased_citizen_has_no_open_items() {
    let mut subject = child("2025-01-01");
    subject.date_of_death = Some(d("2025-03-01"));
    let doses = [("HEPB", "2025-01-01"), ("BCG", "2025-01-02")];
    let f = forecast(&subject, &doses, "2025-04-01");
    assert!(f.deceased);
    let mut got = keys(&f);
    got.sort();
    assert_eq!(got, ["vaccination/bcg/1", "vaccination/hepb-birth/1"]);
    assert!(f.items.iter().all(|i| i.status == Status::Completed));
    // Death on the as-of date counts; the day before, the child's items are open.
    assert!(forecast(&subject, &doses, "2025-03-01").deceased);
    let before = forecast(&subject, &doses, "2025-02-28");
    assert!(!before.deceased);
    assert!(before.items.iter().any(|i| i.status.is_open()));
}

// ------------------------------------------------------------------ rotavirus roll-out

#[test]
fn rotavirus_by_province_and_date_of_birth() {
    let at = |province: &'static str, commune: &'static str, dob: &str| {
        let s = Subject {
            province_code: province,
            commune_code: commune,
            ..child(dob)
        };
        has_item(&forecast(&s, &[], "2026-03-01"), "vaccination/rota/1")
    };
    // Cao Bằng (04): from births on 2024-11-01.
    assert!(!at("04", "01273", "2024-10-31"));
    assert!(at("04", "01273", "2024-11-01"));
    // Hà Nội (01) and TP Hồ Chí Minh (79): from births on 2026-01-01.
    assert!(!at("01", "00004", "2025-06-01"));
    assert!(!at("01", "00004", "2025-12-31"));
    assert!(at("01", "00004", "2026-01-01"));
    assert!(at("79", "26734", "2026-01-01"));
    assert!(!at("79", "26734", "2025-12-31"));
}

// ------------------------------------------------------------- identity card (§4)

fn cards(dob: &str, issued: &[&str], as_of: &str) -> vongdoi::rules::Forecast {
    let cards: Vec<_> = issued.iter().map(|c| d(c)).collect();
    RuleSet::embedded().evaluate(&child(dob), &[], &cards, d(as_of))
}

#[test]
fn id_card_milestone_dates() {
    // Born 2000-03-15. 14: earliest = birthday 12 = 2012-03-15, due 2014-03-15,
    // overdue + 30 days = 2014-04-14, expires = birthday 23 = 2023-03-15. 60: no expiry.
    let f = cards("2000-03-15", &[], "2013-01-01");
    assert_item(
        item(&f, "id-card/14"),
        Status::Eligible,
        ["2012-03-15", "2014-03-15", "2014-04-14", "2023-03-15"],
    );
    assert_item(
        item(&f, "id-card/25"),
        Status::Upcoming,
        ["2023-03-15", "2025-03-15", "2025-04-14", "2038-03-15"],
    );
    assert_item(
        item(&f, "id-card/40"),
        Status::Upcoming,
        ["2038-03-15", "2040-03-15", "2040-04-14", "2058-03-15"],
    );
    assert_item(
        item(&f, "id-card/60"),
        Status::Upcoming,
        ["2058-03-15", "2060-03-15", "2060-04-14", "-"],
    );
}

#[test]
fn a_card_at_39_completes_40_not_25() {
    let f = cards("2000-03-15", &["2039-06-01"], "2045-01-01");
    assert_eq!(item(&f, "id-card/40").completed_on, Some(d("2039-06-01")));
    // 25's window is [2023-03-15, 2038-03-15): the card is after it, so 25 expired unmet.
    assert_eq!(item(&f, "id-card/25").status, Status::Expired);
    assert_eq!(item(&f, "id-card/25").completed_on, None);
}

#[test]
fn window_edges_of_a_milestone() {
    // A card the day before the birthday at 12 does not satisfy 14; one on it does.
    let f = cards("2000-03-15", &["2012-03-14"], "2014-05-01");
    assert_eq!(item(&f, "id-card/14").status, Status::Overdue);
    let f = cards("2000-03-15", &["2012-03-15"], "2014-05-01");
    assert_eq!(item(&f, "id-card/14").completed_on, Some(d("2012-03-15")));
    // A card on the birthday at 23 belongs to 25 (14's window has closed).
    let f = cards("2000-03-15", &["2023-03-15"], "2026-01-01");
    assert_eq!(item(&f, "id-card/14").status, Status::Expired);
    assert_eq!(item(&f, "id-card/25").completed_on, Some(d("2023-03-15")));
}

#[test]
fn a_card_at_58_or_later_is_valid_for_life() {
    let f = cards("2000-03-15", &["2058-03-15"], "2099-12-31");
    let sixty = item(&f, "id-card/60");
    assert_eq!(sixty.status, Status::Completed);
    assert_eq!(sixty.expires, None);
    // A card at 57 is for 40 and leaves 60 open.
    let f = cards("2000-03-15", &["2057-12-01"], "2059-01-01");
    assert_eq!(item(&f, "id-card/40").completed_on, Some(d("2057-12-01")));
    assert_eq!(item(&f, "id-card/60").status, Status::Eligible);
}

#[test]
fn milestone_60_never_expires() {
    // No card at all, decades later: overdue for ever, never expired.
    let f = cards("2000-03-15", &[], "2150-01-01");
    assert_eq!(item(&f, "id-card/60").status, Status::Overdue);
    assert_eq!(item(&f, "id-card/40").status, Status::Expired);
}

#[test]
fn id_card_for_someone_born_on_29_february() {
    // Born 2008-02-29: birthday 12 = 2020-02-29 (a leap year); birthday 14 = 2022-02-29,
    // which does not exist → 2022-03-01; overdue = 03-01 + 30 days = 03-31.
    let f = cards("2008-02-29", &[], "2022-03-01");
    assert_item(
        item(&f, "id-card/14"),
        Status::Due,
        ["2020-02-29", "2022-03-01", "2022-03-31", "2031-03-01"],
    );
}

#[test]
fn cards_after_the_as_of_date_are_ignored() {
    let f = cards("2000-03-15", &["2014-03-01"], "2014-02-01");
    assert_eq!(item(&f, "id-card/14").status, Status::Eligible);
}

// -------------------------------------------------------------------- school (§5)

#[test]
fn school_notices_by_birth_year() {
    // Born 2020-07-15: kindergarten-5 in Y = 2025, grade 1 in Y = 2026.
    let f = forecast(&child("2020-07-15"), &[], "2025-06-15");
    assert_item(
        item(&f, "school/kindergarten-5"),
        Status::Due,
        ["2025-05-01", "2025-06-01", "2025-08-01", "2025-09-05"],
    );
    assert_item(
        item(&f, "school/grade-1"),
        Status::Upcoming,
        ["2026-05-01", "2026-06-01", "2026-08-01", "2026-09-05"],
    );
    // Born on 31 December 2019: the whole 2019 cohort starts grade 1 in 2025.
    let f = forecast(&child("2019-12-31"), &[], "2025-09-05");
    assert_eq!(item(&f, "school/grade-1").status, Status::Expired);
    let f = forecast(&child("2019-12-31"), &[], "2025-08-01");
    assert_eq!(item(&f, "school/grade-1").status, Status::Overdue);
    let f = forecast(&child("2019-12-31"), &[], "2025-05-01");
    assert_eq!(item(&f, "school/grade-1").status, Status::Eligible);
}

// --------------------------------------------------------------- the whole picture

#[test]
fn every_status_is_reachable_for_one_child() {
    // Born 2025-01-01 in Cao Bằng, as of 2025-03-20:
    // - hepb-birth never given, window closed 01-08         → expired
    // - bcg never given: overdue from 02-01                  → overdue
    // - opv 1 on 02-15                                       → completed
    // - opv 2: earliest 03-15, due 04-01                     → eligible
    // - dtp 1: due 03-01, overdue 04-01                      → due; dtp 2–4 waiting
    // - measles 1: earliest 10-01                            → upcoming
    let f = forecast(&child("2025-01-01"), &[("OPV", "2025-02-15")], "2025-03-20");
    let expect = [
        ("vaccination/hepb-birth/1", Status::Expired),
        ("vaccination/bcg/1", Status::Overdue),
        ("vaccination/opv/1", Status::Completed),
        ("vaccination/opv/2", Status::Eligible),
        ("vaccination/dtp/1", Status::Due),
        ("vaccination/dtp/2", Status::Waiting),
        ("vaccination/measles/1", Status::Upcoming),
    ];
    for (key, status) in expect {
        assert_eq!(item(&f, key).status, status, "{key}");
    }
    let seen: HashSet<Status> = f.items.iter().map(|i| i.status).collect();
    assert_eq!(seen.len(), 7, "{seen:?}");
}

#[test]
fn one_item_per_dose_milestone_and_school_level() {
    let f = forecast(&child("2025-01-01"), &[], "2025-03-20");
    let got = keys(&f);
    // hepb-birth 1, bcg 1, dtp 4, opv 3, ipv 2, measles 2, je 3, rota 2, td 1 = 19 doses,
    // 4 ID-card milestones, 2 school levels.
    assert_eq!(got.len(), 19 + 4 + 2, "{got:?}");
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len());
}

#[test]
fn notices_fire_relative_to_the_item_dates() {
    // dtp 1 for a child born 2025-01-01: due 03-01 → reminder 3 days before = 02-26;
    // overdue notice on 04-01.
    let f = forecast(&child("2025-01-01"), &[], "2025-02-01");
    let fired: Vec<(String, chrono::NaiveDate)> = item(&f, "vaccination/dtp/1")
        .notice_dates()
        .map(|(n, on)| (n.template.clone(), on))
        .collect();
    assert_eq!(
        fired,
        [
            ("vaccination-due-soon".to_string(), d("2025-02-26")),
            ("vaccination-overdue".to_string(), d("2025-04-01")),
        ]
    );
    // ID card at 14 for someone born 2000-03-15: 60 days before 2014-03-15 = 2014-01-14.
    let f = cards("2000-03-15", &[], "2013-01-01");
    let first = item(&f, "id-card/14").notice_dates().next().unwrap();
    assert_eq!(
        (first.0.template.as_str(), first.1),
        ("id-card-due-soon", d("2014-01-14"))
    );
    // Waiting items have no dates, so no notice dates either.
    let f = forecast(&child("2025-01-01"), &[], "2025-02-01");
    assert_eq!(item(&f, "vaccination/dtp/2").notice_dates().count(), 0);
}
