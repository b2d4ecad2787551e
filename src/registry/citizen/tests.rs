//! Tests of the citizen types: codes, rows as the CSV gives them, and the checks.

use super::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
}

fn good() -> CitizenRow {
    CitizenRow {
        personal_id: "001226012345".into(),
        full_name: "  Nguyễn  Văn An ".into(),
        sex: "nam".into(),
        date_of_birth: "15/03/2026".into(),
        commune_code: "4".into(),
        mother_id: "001190000001".into(),
        phone: "0912 345 678".into(),
        ..Default::default()
    }
}

#[test]
fn a_good_row_is_normalised() {
    let c = good().validate(today()).unwrap();
    assert_eq!(c.full_name, "Nguyễn Văn An");
    assert_eq!(c.commune_code.as_str(), "00004");
    assert_eq!(c.commune_code.province_code(), "01");
    assert_eq!(c.phone.unwrap().e164(), "+84912345678");
    assert_eq!(c.language, Language::Vi);
}

fn fields_of(row: CitizenRow) -> Vec<&'static str> {
    row.validate(today())
        .unwrap_err()
        .into_iter()
        .map(|e| e.field)
        .collect()
}

#[test]
fn each_problem_names_its_field() {
    let cases: Vec<(CitizenRow, Vec<&str>)> = vec![
        (
            CitizenRow {
                personal_id: "00122601234".into(),
                ..good()
            },
            vec!["personal_id"],
        ),
        (
            CitizenRow {
                sex: "X".into(),
                ..good()
            },
            vec!["sex"],
        ),
        (
            CitizenRow {
                sex: "F".into(),
                ..good()
            },
            vec!["personal_id"],
        ),
        (
            CitizenRow {
                date_of_birth: "2025-03-15".into(),
                ..good()
            },
            vec!["personal_id"],
        ),
        (
            CitizenRow {
                date_of_birth: "30/02/2026".into(),
                ..good()
            },
            vec!["date_of_birth"],
        ),
        (
            CitizenRow {
                date_of_birth: "2026-12-01".into(),
                ..good()
            },
            vec!["date_of_birth"],
        ),
        (
            CitizenRow {
                date_of_death: "2026-01-01".into(),
                ..good()
            },
            vec!["date_of_death"],
        ),
        (
            CitizenRow {
                commune_code: "99999".into(),
                ..good()
            },
            vec!["commune_code"],
        ),
        (
            CitizenRow {
                phone: "0212345678".into(),
                ..good()
            },
            vec!["phone"],
        ),
        (
            CitizenRow {
                email: "nope".into(),
                ..good()
            },
            vec!["email"],
        ),
        (
            CitizenRow {
                mother_id: "001226012345".into(),
                ..good()
            },
            vec!["mother_id"],
        ),
        (
            CitizenRow {
                language: "fr".into(),
                ..good()
            },
            vec!["language"],
        ),
        (
            CitizenRow {
                full_name: " ".into(),
                ..good()
            },
            vec!["full_name"],
        ),
        (
            CitizenRow {
                full_name: "Nguyễn\u{202e}nA".into(),
                ..good()
            },
            vec!["full_name"],
        ),
        (
            CitizenRow {
                full_name: "\u{200b}\u{200b}".into(),
                ..good()
            },
            vec!["full_name"],
        ),
        (
            CitizenRow {
                full_name: "An ".repeat(100),
                ..good()
            },
            vec!["full_name"],
        ),
        (
            CitizenRow {
                household_id: "HK\u{0}1".into(),
                ..good()
            },
            vec!["household_id"],
        ),
        (
            CitizenRow {
                household_id: "H".repeat(33),
                ..good()
            },
            vec!["household_id"],
        ),
    ];
    for (row, want) in cases {
        assert_eq!(fields_of(row.clone()), want, "{row:?}");
    }
}

#[test]
fn changes_name_the_fields_that_moved() {
    let a = good().validate(today()).unwrap();
    let mut b = a.clone();
    b.phone = None;
    b.full_name = "Nguyễn Văn Bình".into();
    let changes = b.changes_from(&a);
    let fields: Vec<_> = changes.iter().map(|c| c.0).collect();
    assert_eq!(fields, vec!["full_name", "phone"]);
    assert!(a.changes_from(&a).is_empty());
}
