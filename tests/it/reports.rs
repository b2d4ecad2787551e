//! `vongdoi report …` through the binary on both backends, cross-checked against the other
//! commands: the lists against `vongdoi forecast` (one source of truth), enrolment and coverage
//! denominators against a direct count of `vongdoi export citizens -`.

use crate::support as common;

use chrono::{Datelike, NaiveDate};
use common::{all_backends, vongdoi, TestDb};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

const AS_OF: &str = "2026-11-21";

fn as_of() -> NaiveDate {
    NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").unwrap()
}

/// A 3,000-person demo (built once per backend and copied: `support::demo`).
fn demo(db: &TestDb) {
    let args = [
        "demo",
        "--population",
        "3000",
        "--seed",
        "3",
        "--as-of",
        AS_OF,
    ];
    common::demo::fill(db, &args);
}

/// Runs a command that must succeed; returns standard output.
fn run(db: &TestDb, dir: &Path, args: &[&str]) -> String {
    let (ok, out, err) = vongdoi(db, dir, args);
    assert!(ok, "{}: vongdoi {args:?} failed: {err}", db.backend);
    out
}

/// CSV text (BOM required) as rows of column → value.
fn csv_rows(text: &str) -> Vec<HashMap<String, String>> {
    let body = text
        .strip_prefix('\u{feff}')
        .expect("report CSV starts with a UTF-8 BOM");
    let mut r = csv::Reader::from_reader(body.as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The registry as `export citizens -` writes it.
fn export(db: &TestDb, dir: &Path) -> Vec<HashMap<String, String>> {
    let out = run(db, dir, &["export", "citizens", "-"]);
    let mut r = csv::Reader::from_reader(out.trim_start_matches('\u{feff}').as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// docs/domain.md §3's calendar rule: 29 February plus whole years is 1 March in a common year.
fn birthday(dob: NaiveDate, years: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(dob.year() + years, dob.month(), dob.day())
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(dob.year() + years, 3, 1).unwrap())
}

/// A list row reduced to what `forecast` also says: (personal ID, item, status, due, overdue).
type Key = (String, String, String, String, String);

/// The due/overdue items `forecast` gives a citizen, as list keys.
fn forecast_items(db: &TestDb, dir: &Path, pin: &str) -> BTreeSet<Key> {
    let out = run(
        db,
        dir,
        &["forecast", pin, "--as-of", AS_OF, "--format", "json"],
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "due" || i["status"] == "overdue")
        .filter_map(|i| {
            let item = match i["kind"].as_str().unwrap() {
                "vaccination" => format!("vaccination/{}/{}", i["series"].as_str()?, i["dose"]),
                "id-card" => format!("id-card/{}", i["milestone"]),
                _ => return None,
            };
            Some((
                pin.to_string(),
                item,
                i["status"].as_str()?.to_string(),
                i["due"].as_str()?.to_string(),
                i["overdue"].as_str()?.to_string(),
            ))
        })
        .collect()
}

#[tokio::test]
async fn lists_hold_exactly_the_due_and_overdue_items_forecast_gives() {
    let mut outputs = Vec::new();
    for db in all_backends().await {
        let b = db.backend;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        demo(&db);
        let vax_csv = run(
            &db,
            d,
            &["report", "vaccination", "--as-of", AS_OF, "--format", "csv"],
        );
        let ids_csv = run(
            &db,
            d,
            &["report", "id-cards", "--as-of", AS_OF, "--format", "csv"],
        );
        let vax = csv_rows(&vax_csv);
        let ids = csv_rows(&ids_csv);
        assert!(
            vax.len() > 20,
            "{b}: a 3,000-person registry has children due ({})",
            vax.len()
        );
        assert!(
            ids.len() > 5,
            "{b}: and people due for a card ({})",
            ids.len()
        );

        let mut listed: BTreeMap<String, BTreeSet<Key>> = BTreeMap::new();
        for r in &vax {
            listed.entry(r["personal_id"].clone()).or_default().insert((
                r["personal_id"].clone(),
                format!("vaccination/{}/{}", r["series"], r["dose"]),
                r["status"].clone(),
                r["due"].clone(),
                r["overdue"].clone(),
            ));
        }
        for r in &ids {
            listed.entry(r["personal_id"].clone()).or_default().insert((
                r["personal_id"].clone(),
                format!("id-card/{}", r["milestone"]),
                r["status"].clone(),
                r["due"].clone(),
                r["overdue"].clone(),
            ));
        }
        // Every citizen in a list, and every 50th of the others.
        let registry = export(&db, d);
        let mut check: BTreeSet<String> = listed.keys().cloned().collect();
        check.extend(
            registry
                .iter()
                .map(|c| c["personal_id"].clone())
                .filter(|p| !listed.contains_key(p))
                .step_by(50),
        );
        for pin in &check {
            let expected = forecast_items(&db, d, pin);
            let got = listed.get(pin).cloned().unwrap_or_default();
            assert_eq!(got, expected, "{b}: citizen ending {}", &pin[8..]);
        }

        // Most overdue first.
        let overdue: Vec<&str> = vax.iter().map(|r| r["overdue"].as_str()).collect();
        assert!(
            overdue.windows(2).all(|w| w[0] <= w[1]),
            "{b}: sorted by overdue date"
        );
        // The guardian is the first of mother, father, guardian with a phone.
        let by_pin: HashMap<&str, &HashMap<String, String>> = registry
            .iter()
            .map(|c| (c["personal_id"].as_str(), c))
            .collect();
        for r in &vax {
            let c = by_pin[r["personal_id"].as_str()];
            let linked: Vec<&HashMap<String, String>> = ["mother_id", "father_id", "guardian_id"]
                .iter()
                .filter_map(|f| by_pin.get(c[*f].as_str()).copied())
                .collect();
            let want = linked
                .iter()
                .find(|g| !g["phone"].is_empty())
                .or(linked.first());
            assert_eq!(
                r["guardian_name"],
                want.map(|g| g["full_name"].clone()).unwrap_or_default(),
                "{b}: guardian of ending {}",
                &r["personal_id"][8..]
            );
        }

        // A commune's list is the whole list's rows for that commune.
        let commune = vax[0]["commune_code"].clone();
        let one = csv_rows(&run(
            &db,
            d,
            &[
                "report",
                "vaccination",
                "--as-of",
                AS_OF,
                "--commune",
                &commune,
            ],
        ));
        let whole: Vec<&HashMap<String, String>> = vax
            .iter()
            .filter(|r| r["commune_code"] == commune)
            .collect();
        assert_eq!(one.iter().collect::<Vec<_>>(), whole, "{b}: --commune");
        let province = csv_rows(&run(
            &db,
            d,
            &[
                "report",
                "vaccination",
                "--as-of",
                AS_OF,
                "--province",
                "01",
            ],
        ));
        assert_eq!(province, vax, "{b}: the demo lives in province 01");

        // --status and --due-within.
        let overdue_only = csv_rows(&run(
            &db,
            d,
            &[
                "report",
                "vaccination",
                "--as-of",
                AS_OF,
                "--status",
                "overdue",
            ],
        ));
        assert!(!overdue_only.is_empty() && overdue_only.iter().all(|r| r["status"] == "overdue"));
        assert_eq!(
            overdue_only.len(),
            vax.iter().filter(|r| r["status"] == "overdue").count(),
            "{b}"
        );
        let week = csv_rows(&run(
            &db,
            d,
            &[
                "report",
                "vaccination",
                "--as-of",
                AS_OF,
                "--due-within",
                "30",
            ],
        ));
        let soon: Vec<_> = week
            .iter()
            .filter(|r| r["status"] == "upcoming" || r["status"] == "eligible")
            .collect();
        assert!(!soon.is_empty(), "{b}: some doses come due within 30 days");
        for r in &soon {
            let due = date(&r["due"]);
            assert!(
                due > as_of() && due <= as_of() + chrono::Days::new(30),
                "{b}: {r:?}"
            );
        }
        assert_eq!(week.len(), vax.len() + soon.len(), "{b}");

        // html: Vietnamese headings and a chart.
        let html = run(
            &db,
            d,
            &[
                "report",
                "vaccination",
                "--as-of",
                AS_OF,
                "--format",
                "html",
            ],
        );
        assert!(
            html.contains("Danh sách trẻ đến hạn, quá hạn tiêm chủng") && html.contains("<svg")
        );
        let html = run(
            &db,
            d,
            &[
                "report", "id-cards", "--as-of", AS_OF, "--format", "html", "--lang", "en",
            ],
        );
        assert!(html.contains("Danh sách công dân đến hạn cấp, đổi thẻ căn cước / Citizens due"));
        assert!(html.contains("<svg"));
        let json: serde_json::Value = serde_json::from_str(&run(
            &db,
            d,
            &["report", "id-cards", "--as-of", AS_OF, "--format", "json"],
        ))
        .unwrap();
        assert_eq!(json["rows"].as_array().unwrap().len(), ids.len(), "{b}");
        outputs.push((b, vax_csv, ids_csv));
    }
    // The same seed gives the same registry on both backends, so the same lists.
    if let [(_, v1, i1), (_, v2, i2)] = outputs.as_slice() {
        assert_eq!(
            v1, v2,
            "vaccination lists differ between SQLite and PostgreSQL"
        );
        assert_eq!(i1, i2, "ID-card lists differ between SQLite and PostgreSQL");
    }
}

async fn enrolment_counts_equal_a_direct_count_of_the_registry(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    demo(&db);
    // Living residents on the report date by (commune, birth year), counted from the export.
    let mut direct: HashMap<(String, i32), i64> = HashMap::new();
    for c in export(&db, d) {
        let dob = date(&c["date_of_birth"]);
        let alive = c["date_of_death"].is_empty() || date(&c["date_of_death"]) > as_of();
        if alive && dob <= as_of() {
            *direct
                .entry((c["commune_code"].clone(), dob.year()))
                .or_default() += 1;
        }
    }
    let commune = direct.keys().next().unwrap().0.clone();
    std::fs::write(
        d.join("places.csv"),
        format!("\u{feff}commune_code,level,capacity,school_year\n{commune},grade-1,40,\n{commune},grade-1,7,2028\n{commune},grade-10,1000,\n"),
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&run(
        &db,
        d,
        &[
            "report",
            "enrolment",
            "--as-of",
            AS_OF,
            "--format",
            "json",
            "--capacity",
            "places.csv",
        ],
    ))
    .unwrap();
    assert_eq!(
        json["first_school_year"], 2027,
        "{b}: 2026's year opened in September"
    );
    let rows = json["rows"].as_array().unwrap();
    let communes: BTreeSet<&str> = rows
        .iter()
        .map(|r| r["commune_code"].as_str().unwrap())
        .collect();
    assert_eq!(
        rows.len(),
        communes.len() * 6 * 4,
        "{b}: 6 years × 4 levels per commune"
    );
    let (mut known, mut projected) = (0, 0);
    for r in rows {
        let c = r["commune_code"].as_str().unwrap().to_string();
        let year = r["school_year"].as_i64().unwrap() as i32;
        let by = r["birth_year"].as_i64().unwrap() as i32;
        let offset = match r["level"].as_str().unwrap() {
            "kindergarten-5" => 5,
            "grade-1" => 6,
            "grade-6" => 11,
            "grade-10" => 15,
            other => panic!("level {other}"),
        };
        assert_eq!(by, year - offset, "{b}");
        let children = r["children"].as_i64().unwrap();
        if by < 2026 {
            known += 1;
            assert_eq!(r["projected"], false, "{b}");
            assert_eq!(
                children,
                direct.get(&(c.clone(), by)).copied().unwrap_or(0),
                "{b}: {c} born {by}"
            );
        } else {
            projected += 1;
            assert_eq!(
                r["projected"], true,
                "{b}: born {by} is not complete on {AS_OF}"
            );
            let avg: i64 = (2023..=2025)
                .map(|y| direct.get(&(c.clone(), y)).copied().unwrap_or(0))
                .sum();
            assert_eq!(
                children,
                (avg as f64 / 3.0).round() as i64,
                "{b}: projection of {c}"
            );
        }
        let capacity = match (c == commune, r["level"].as_str().unwrap(), year) {
            (true, "grade-1", 2028) => Some(7),
            (true, "grade-1", _) => Some(40),
            (true, "grade-10", _) => Some(1000),
            _ => None,
        };
        assert_eq!(r["capacity"].as_i64(), capacity, "{b}");
        assert_eq!(r["gap"].as_i64(), capacity.map(|cap| cap - children), "{b}");
    }
    assert!(known > 0 && projected > 0, "{b}");
    // What was counted is in the json: the GROUP BY's rows.
    for c in json["counted"].as_array().unwrap() {
        let key = (
            c["commune_code"].as_str().unwrap().to_string(),
            c["birth_year"].as_i64().unwrap() as i32,
        );
        assert_eq!(c["living"].as_i64().unwrap(), direct[&key], "{b}");
    }

    let csv = run(
        &db,
        d,
        &[
            "report",
            "enrolment",
            "--as-of",
            AS_OF,
            "--commune",
            &commune,
            "--years",
            "2",
        ],
    );
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 2 * 4, "{b}");
    for col in [
        "province_code",
        "commune_code",
        "school_year",
        "level",
        "children",
        "projected",
        "capacity",
        "gap",
    ] {
        assert!(rows[0].contains_key(col), "{b}: column {col}");
    }
    let html = run(
        &db,
        d,
        &[
            "report",
            "enrolment",
            "--as-of",
            AS_OF,
            "--format",
            "html",
            "--capacity",
            "places.csv",
        ],
    );
    assert!(
        html.contains("Dự báo số trẻ vào lớp") && html.contains("<svg"),
        "{b}"
    );
    assert!(
        html.contains("Xã thiếu chỗ nhiều nhất") && html.contains("Xã thừa chỗ nhiều nhất"),
        "{b}"
    );

    std::fs::write(
        d.join("bad.csv"),
        "commune_code,level,capacity\n99999,grade-1,10\n",
    )
    .unwrap();
    let (ok, _, err) = vongdoi(&db, d, &["report", "enrolment", "--capacity", "bad.csv"]);
    assert!(!ok && err.contains("bad.csv:2: commune_code"), "{b}: {err}");
}
on_each_backend!(enrolment_counts_equal_a_direct_count_of_the_registry);

async fn coverage_counts_children_and_valid_doses_by_the_birthday(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    demo(&db);
    let registry = export(&db, d);
    let json: serde_json::Value = serde_json::from_str(&run(
        &db,
        d,
        &[
            "report",
            "coverage",
            "--as-of",
            AS_OF,
            "--format",
            "json",
            "--explain",
        ],
    ))
    .unwrap();
    assert_eq!(
        json["cohorts"],
        serde_json::json!(["2023", "2024", "2025"]),
        "{b}"
    );
    assert!(json["definitions"].as_array().unwrap().len() >= 5, "{b}");
    // Denominators from the export: born in the cohort, one year old by the report date,
    // alive on the first birthday.
    let mut children: HashMap<(String, String), Vec<&HashMap<String, String>>> = HashMap::new();
    for c in &registry {
        let dob = date(&c["date_of_birth"]);
        let first = birthday(dob, 1);
        let alive = c["date_of_death"].is_empty() || date(&c["date_of_death"]) >= first;
        if (2023..=2025).contains(&dob.year()) && first <= as_of() && alive {
            children
                .entry((c["commune_code"].clone(), dob.year().to_string()))
                .or_default()
                .push(c);
        }
    }
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        children.len(),
        "{b}: one row per commune and cohort with children"
    );
    for r in rows {
        let key = (
            r["commune_code"].as_str().unwrap().to_string(),
            r["cohort"].as_str().unwrap().to_string(),
        );
        assert_eq!(
            r["children"].as_u64().unwrap() as usize,
            children[&key].len(),
            "{b}: {key:?}"
        );
        assert_eq!(
            r["counted"].as_array().unwrap().len(),
            children[&key].len(),
            "{b}"
        );
    }
    // Numerators from forecast, for the 2024 cohort of one commune.
    let row = rows
        .iter()
        .find(|r| r["cohort"] == "2024")
        .expect("a 2024 cohort");
    let key = (
        row["commune_code"].as_str().unwrap().to_string(),
        "2024".to_string(),
    );
    let doses = [
        ("bcg", "bcg", 1),
        ("hepb_birth", "hepb-birth", 1),
        ("dtp1", "dtp", 1),
        ("dtp3", "dtp", 3),
        ("opv3", "opv", 3),
        ("ipv1", "ipv", 1),
        ("mcv1", "measles", 1),
    ];
    let mut received: HashMap<&str, u64> = HashMap::new();
    let (mut full, mut mcv2, mut aged2) = (0u64, 0u64, 0u64);
    for c in &children[&key] {
        let pin = c["personal_id"].as_str();
        let dob = date(&c["date_of_birth"]);
        let out = run(
            &db,
            d,
            &["forecast", pin, "--as-of", AS_OF, "--format", "json"],
        );
        let f: serde_json::Value = serde_json::from_str(&out).unwrap();
        let done_before = |series: &str, dose: i64, by: NaiveDate| {
            f["items"].as_array().unwrap().iter().any(|i| {
                i["series"] == series
                    && i["dose"] == dose
                    && i["status"] == "completed"
                    && i["completed_on"].as_str().is_some_and(|d| date(d) < by)
            })
        };
        let mut all = true;
        for (col, series, dose) in doses {
            if done_before(series, dose, birthday(dob, 1)) {
                *received.entry(col).or_default() += 1;
            } else {
                all = false;
            }
        }
        full += all as u64;
        let second = birthday(dob, 2);
        let alive2 = c["date_of_death"].is_empty() || date(&c["date_of_death"]) >= second;
        if second <= as_of() && alive2 {
            aged2 += 1;
            mcv2 += done_before("measles", 2, second) as u64;
        }
    }
    for (col, ..) in doses {
        assert_eq!(
            row["received"][col].as_u64().unwrap(),
            received.get(col).copied().unwrap_or(0),
            "{b}: {col}"
        );
    }
    assert_eq!(row["fully_immunized"].as_u64().unwrap(), full, "{b}");
    assert_eq!(row["children_2y"].as_u64().unwrap(), aged2, "{b}");
    assert_eq!(row["mcv2"].as_u64().unwrap(), mcv2, "{b}");
    let (d1, d3) = (
        row["received"]["dtp1"].as_u64().unwrap(),
        row["received"]["dtp3"].as_u64().unwrap(),
    );
    if d1 > 0 {
        let want = ((d1 - d3) as f64 * 1000.0 / d1 as f64).round() / 10.0;
        assert_eq!(row["dtp_dropout_percent"].as_f64().unwrap(), want, "{b}");
    }

    let csv = run(
        &db,
        d,
        &[
            "report",
            "coverage",
            "--as-of",
            AS_OF,
            "--cohort",
            "month",
            "--cohorts",
            "6",
        ],
    );
    let rows = csv_rows(&csv);
    assert!(!rows.is_empty(), "{b}");
    assert!(
        rows.iter()
            .all(|r| r["cohort"].as_str() >= "2025-06" && r["cohort"].as_str() <= "2025-11"),
        "{b}"
    );
    let html = run(
        &db,
        d,
        &["report", "coverage", "--as-of", AS_OF, "--format", "html"],
    );
    assert!(
        html.contains("Báo cáo tỷ lệ tiêm chủng")
            && html.contains("<svg")
            && html.contains("Tiêm đủ"),
        "{b}"
    );
}
on_each_backend!(coverage_counts_children_and_valid_doses_by_the_birthday);

/// Whether a spreadsheet would read this cell as a formula (or shift it with a tab or CR).
fn starts_a_formula(cell: &str) -> bool {
    let plain_number = cell.parse::<f64>().is_ok() && !cell.starts_with('+');
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !plain_number
}

/// Issue 10, CSV injection: a name that is a formula (and a phone, which Excel would turn into a
/// number) reaches the vaccination list, the ID-card list and the export as text behind a `'`;
/// numbers stay numbers; export → import gives back the name exactly.
#[tokio::test]
async fn formula_names_are_neutralised_in_reports_and_export_and_come_back_exactly() {
    const NAME: &str = "=HYPERLINK(\"http://x\",\"y\")";
    for db in all_backends().await {
        let b = db.backend;
        let dir = tempfile::tempdir().unwrap();
        let mut w = csv::Writer::from_path(dir.path().join("c.csv")).unwrap();
        w.write_record([
            "personal_id",
            "full_name",
            "sex",
            "date_of_birth",
            "commune_code",
            "household_id",
            "mother_id",
            "phone",
        ])
        .unwrap();
        w.write_record([
            "001196000001",
            "Trần Thị Lan",
            "F",
            "1996-04-02",
            "00004",
            "HK1",
            "",
            "0912345678",
        ])
        .unwrap();
        // Due for first doses on the report date; and a boy of 14 who needs his first card.
        w.write_record([
            "001226000002",
            NAME,
            "M",
            "2026-09-20",
            "00004",
            "HK1",
            "001196000001",
            "",
        ])
        .unwrap();
        w.write_record([
            "001212000003",
            NAME,
            "M",
            "2012-01-10",
            "00004",
            "HK1",
            "001196000001",
            "",
        ])
        .unwrap();
        w.flush().unwrap();
        drop(w);
        let out = run(&db, dir.path(), &["import", "citizens", "c.csv"]);
        assert!(out.contains("thêm/inserted 3 "), "{b}: {out}");

        let neutral = format!("'{NAME}");
        for (report, pin) in [
            ("vaccination", "001226000002"),
            ("id-cards", "001212000003"),
        ] {
            let text = run(
                &db,
                dir.path(),
                &["report", report, "--as-of", AS_OF, "--format", "csv"],
            );
            let rows = csv_rows(&text);
            let row = rows
                .iter()
                .find(|r| r["personal_id"] == pin)
                .unwrap_or_else(|| panic!("{b}: {pin} in the {report} list: {text}"));
            assert_eq!(row["full_name"], neutral, "{b}: {report}");
            for r in &rows {
                for (column, cell) in r {
                    assert!(!starts_a_formula(cell), "{b}: {report} {column} = {cell:?}");
                }
                assert!(
                    r["days_overdue"].parse::<i64>().is_ok(),
                    "{b}: numbers stay numbers"
                );
            }
            if report == "vaccination" {
                assert_eq!(row["guardian_phone"], "'+84912345678", "{b}");
            }
        }

        let exported = export(&db, dir.path());
        for r in &exported {
            for (column, cell) in r {
                assert!(!starts_a_formula(cell), "{b}: export {column} = {cell:?}");
            }
        }
        let child = exported
            .iter()
            .find(|r| r["personal_id"] == "001226000002")
            .unwrap();
        assert_eq!(child["full_name"], neutral, "{b}");
        let mother = exported
            .iter()
            .find(|r| r["personal_id"] == "001196000001")
            .unwrap();
        assert_eq!(mother["phone"], "'+84912345678", "{b}");

        // Into an empty database and out again: the same bytes, the same name.
        run(&db, dir.path(), &["export", "citizens", "a.csv"]);
        let empty = common::sqlite().await;
        let out = run(&empty, dir.path(), &["import", "citizens", "a.csv"]);
        assert!(
            out.contains("thêm/inserted 3 ") && out.contains("từ chối/rejected 0"),
            "{b}: {out}"
        );
        run(&empty, dir.path(), &["export", "citizens", "b.csv"]);
        assert_eq!(
            std::fs::read(dir.path().join("a.csv")).unwrap(),
            std::fs::read(dir.path().join("b.csv")).unwrap(),
            "{b}: export → import → export is the identity"
        );
        let show = run(
            &empty,
            dir.path(),
            &["citizen", "show", "001226000002", "--format", "json"],
        );
        let json: serde_json::Value = serde_json::from_str(&show).unwrap();
        assert_eq!(
            json["citizen"]["full_name"], NAME,
            "{b}: the name exactly, no quote"
        );
        assert_eq!(json["citizen"]["phone"], serde_json::Value::Null, "{b}");
        let show = run(
            &empty,
            dir.path(),
            &["citizen", "show", "001196000001", "--format", "json"],
        );
        let json: serde_json::Value = serde_json::from_str(&show).unwrap();
        assert_eq!(json["citizen"]["phone"], "+84912345678", "{b}");
    }
}

/// The cell's text, for a text cell.
fn text_cell(c: &serde_json::Value) -> Option<&str> {
    (c["t"] == "s").then(|| c["v"].as_str()).flatten()
}

/// The column under a header (panics when no header is `name`).
fn column<'a>(rows: &'a [Vec<serde_json::Value>], name: &str) -> Vec<&'a serde_json::Value> {
    let at = rows[0]
        .iter()
        .position(|h| h["v"] == name)
        .unwrap_or_else(|| panic!("no column {name:?} in {:?}", rows[0]));
    rows[1..].iter().map(|r| &r[at]).collect()
}

/// (report, extra arguments, first headers, columns holding personal IDs)
type XlsxCase = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

/// Every report as xlsx, read back with openpyxl as Excel would: Vietnamese headers (the CSV's
/// are English column names), commune names beside codes, every personal ID a 12-character
/// text cell (a number would lose the leading zeros of `001…`), phones and codes text, counts
/// numbers, dates dates; the same rows as the CSV.
async fn every_report_downloads_as_xlsx_with_ids_as_text_and_vietnamese_headers(db: TestDb) {
    let units = vongdoi::registry::AdminUnits::get();
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    demo(&db);
    let reports: [XlsxCase; 4] = [
        (
            "vaccination",
            &[],
            &[
                "Số định danh",
                "Họ tên",
                "Ngày sinh",
                "Giới",
                "Mã xã",
                "Tên xã",
            ],
            &["Số định danh"],
        ),
        (
            "id-cards",
            &["--due-within", "400"],
            &[
                "Số định danh",
                "Họ tên",
                "Ngày sinh",
                "Giới",
                "Mã xã",
                "Tên xã",
            ],
            &["Số định danh"],
        ),
        (
            "enrolment",
            &[],
            &["Mã tỉnh", "Tên tỉnh", "Mã xã", "Tên xã", "Năm học"],
            &[],
        ),
        (
            "coverage",
            &[],
            &[
                "Mã tỉnh",
                "Tên tỉnh",
                "Mã xã",
                "Tên xã",
                "Nhóm sinh",
                "Số trẻ",
            ],
            &[],
        ),
    ];
    for (kind, extra, first, id_columns) in reports {
        let file = d.join(format!("{kind}.xlsx"));
        let mut args = vec!["report", kind, "--as-of", AS_OF, "--format", "xlsx", "-o"];
        args.push(file.to_str().unwrap());
        args.extend_from_slice(extra);
        run(&db, d, &args);
        let mut csv_args = vec!["report", kind, "--as-of", AS_OF, "--format", "csv"];
        csv_args.extend_from_slice(extra);
        let csv = csv_rows(&run(&db, d, &csv_args));
        let sheets = common::xlsx_sheets(&file);
        assert_eq!(sheets.len(), 1, "{b} {kind}");
        let rows = &sheets[0].rows;
        assert!(!rows.is_empty(), "{b} {kind}: a header row");

        // Vietnamese headers, text, none of them the CSV's English column names.
        let header: Vec<&str> = rows[0]
            .iter()
            .map(|h| text_cell(h).expect("headers are text"))
            .collect();
        assert_eq!(&header[..first.len()], first, "{b} {kind}: {header:?}");
        assert!(
            header
                .iter()
                .all(|h| !h.chars().all(|c| c.is_ascii_lowercase() || c == '_')),
            "{b} {kind}: no snake_case column names: {header:?}"
        );
        assert!(
            header.iter().any(|h| !h.is_ascii()),
            "{b} {kind}: Vietnamese, with its diacritics: {header:?}"
        );

        // The CSV's rows, in its order.
        assert_eq!(
            rows.len() - 1,
            csv.len(),
            "{b} {kind}: as many rows as the CSV"
        );
        assert!(!csv.is_empty(), "{b} {kind}: the demo fills this report");

        // Every personal ID: a 12-character text cell, the CSV's ID.
        for name in id_columns {
            let ids = column(rows, name);
            for (cell, want) in ids.iter().zip(&csv) {
                let id =
                    text_cell(cell).unwrap_or_else(|| panic!("{b} {kind}: ID {cell} is not text"));
                assert!(
                    id.len() == 12 && id.chars().all(|c| c.is_ascii_digit()),
                    "{b} {kind}: {id:?}"
                );
                assert_eq!(id, want["personal_id"], "{b} {kind}");
            }
        }
        // Commune codes as 5-character text, the commune's name beside.
        for (code, name) in column(rows, "Mã xã").iter().zip(column(rows, "Tên xã")) {
            let code = text_cell(code).unwrap_or_else(|| panic!("{b} {kind}: {code}"));
            assert_eq!(code.len(), 5, "{b} {kind}: {code:?}");
            assert_eq!(
                text_cell(name),
                Some(units.commune(code).unwrap().name.as_str()),
                "{b} {kind}"
            );
        }
        match kind {
            "vaccination" => {
                for c in column(rows, "Điện thoại") {
                    assert!(
                        c["v"].is_null()
                            || text_cell(c)
                                .is_some_and(|p| p.starts_with('0') || p.starts_with('+')),
                        "{b}: phones are text: {c}"
                    );
                }
                assert!(column(rows, "Mũi").iter().all(|c| c["t"] == "n"), "{b}");
                assert!(
                    column(rows, "Ngày sinh").iter().all(|c| c["t"] == "d"),
                    "{b}"
                );
                let born: Vec<&str> = column(rows, "Ngày sinh")
                    .iter()
                    .map(|c| c["v"].as_str().unwrap())
                    .collect();
                let want: Vec<&str> = csv.iter().map(|r| r["date_of_birth"].as_str()).collect();
                assert_eq!(born, want, "{b}: the same dates");
            }
            "id-cards" => {
                assert!(
                    column(rows, "Mốc tuổi").iter().all(|c| c["t"] == "n"),
                    "{b}"
                );
            }
            "coverage" => {
                assert!(column(rows, "Số trẻ").iter().all(|c| c["t"] == "n"), "{b}");
            }
            _ => {
                assert!(column(rows, "Số trẻ").iter().all(|c| c["t"] == "n"), "{b}");
                assert!(
                    column(rows, "Mã tỉnh")
                        .iter()
                        .all(|c| text_cell(c).is_some()),
                    "{b}"
                );
            }
        }
    }

    // `--lang en`: Vietnamese first, then English.
    let file = d.join("en.xlsx");
    run(
        &db,
        d,
        &[
            "report",
            "vaccination",
            "--as-of",
            AS_OF,
            "--format",
            "xlsx",
            "--lang",
            "en",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    let rows = &common::xlsx_sheets(&file)[0].rows;
    assert_eq!(
        rows[0][0]["v"], "Số định danh / Personal ID",
        "{b}: Vietnamese first"
    );
}
on_each_backend!(every_report_downloads_as_xlsx_with_ids_as_text_and_vietnamese_headers);
