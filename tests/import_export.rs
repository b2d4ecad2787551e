//! The import, export and demo commands end to end, through the binary, on both backends.

mod common;

use common::{all_backends, vongdoi};
use std::collections::BTreeSet;
use std::fs;

const HEADER: &str = "personal_id,full_name,sex,date_of_birth,date_of_death,commune_code,household_id,mother_id,father_id,guardian_id,phone,email,language";

/// (line, row, the field each problem names) — line 1 is the header.
const MIXED: [(&str, &[&str]); 17] = [
    (
        "001190000001,Trần Thị Lan,F,1990-04-02,,00004,HK1,,,,0912345678,lan@example.vn,vi",
        &[],
    ),
    (
        "001225000002,Nguyễn Văn An,nam,31/01/2025,,4,HK1,001190000001,,,,,",
        &[],
    ),
    (
        "00122500000,Lê Văn Mười Một,M,2025-03-01,,00004,,,,,,,",
        &["personal_id"],
    ),
    (
        "00122500000A,Lê Văn Chữ,M,2025-03-01,,00004,,,,,,,",
        &["personal_id"],
    ),
    (
        "003225000003,Lê Văn Tỉnh,M,2025-03-01,,00004,,,,,,,",
        &["personal_id"],
    ),
    (
        "001225000004,Lê Thị Giới,F,2025-03-01,,00004,,,,,,,",
        &["personal_id"],
    ),
    (
        "001224000005,Lê Văn Năm,M,2025-03-01,,00004,,,,,,,",
        &["personal_id"],
    ),
    (
        "001225000006,Lê Văn Ngày,M,30/02/2025,,00004,,,,,,,",
        &["date_of_birth"],
    ),
    (
        "001225000007,Lê Văn Xã,M,2025-03-01,,99999,,,,,,,",
        &["commune_code"],
    ),
    (
        "001225000008,Lê Văn Số,M,2025-03-01,,00004,,,,,0212345678,,",
        &["phone"],
    ),
    ("001225000009,Lê Văn X,X,2025-03-01,,00004,,,,,,,", &["sex"]),
    (
        "001299000010,Lê Văn Mai,M,2099-01-01,,00004,,,,,,,",
        &["date_of_birth"],
    ),
    (
        "001225000011,Lê Văn Mất,M,2025-03-01,2024-12-31,00004,,,,,,,",
        &["date_of_death"],
    ),
    // Kept, without the link to a guardian nobody registered.
    (
        "001325000012,Phạm Thị Hoa,nữ,2025-06-15,,00004,HK2,,,001190999999,,,en",
        &["guardian_id"],
    ),
    (
        "001225000013,Phạm Văn Thiếu,M,2025-06-15,,00004,HK2",
        &["row"],
    ),
    (
        "001325000014,\"Đỗ Thị Thu Hà\",F,2025-07-01,,00008,HK3,,,,,,",
        &[],
    ),
    (
        "001085000015,Đỗ Văn Lâm,M,1985-07-01,,00008,HK3,,,,+84 98 765 4321,LAM@Example.VN,vi",
        &[],
    ),
];

fn mixed_csv() -> String {
    // A UTF-8 byte-order mark, as Excel writes, must be accepted.
    let mut s = format!("\u{feff}{HEADER}\n");
    for (row, _) in MIXED {
        s.push_str(row);
        s.push('\n');
    }
    s
}

fn error_lines(path: &std::path::Path) -> Vec<(u64, String)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap(),
        vec!["line", "personal_id", "field", "reason"]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert!(!rec[3].is_empty(), "every problem says what is wrong");
            (rec[0].parse().unwrap(), rec[2].to_string())
        })
        .collect()
}

fn exported_ids(path: &std::path::Path) -> BTreeSet<String> {
    csv::Reader::from_path(path)
        .unwrap()
        .records()
        .map(|r| r.unwrap()[0].to_string())
        .collect()
}

#[tokio::test]
async fn bad_rows_are_reported_at_their_line_and_good_rows_land_once() {
    for db in all_backends().await {
        let b = db.backend;
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("in.csv"), mixed_csv()).unwrap();
        let (ok, out, err) = vongdoi(
            &db,
            dir.path(),
            &["import", "citizens", "in.csv", "--errors", "errors.csv"],
        );
        assert!(ok, "{b}: {err}");

        let want: Vec<(u64, String)> = MIXED
            .iter()
            .enumerate()
            .flat_map(|(i, (_, fields))| fields.iter().map(move |f| (i as u64 + 2, f.to_string())))
            .collect();
        assert_eq!(error_lines(&dir.path().join("errors.csv")), want, "{b}");
        let good: BTreeSet<String> = [
            "001190000001",
            "001225000002",
            "001325000012",
            "001325000014",
            "001085000015",
        ]
        .map(String::from)
        .into();
        assert!(out.contains("thêm/inserted 5 "), "{b}: {out}");
        assert!(out.contains("từ chối/rejected 12"), "{b}: {out}");

        let (ok, _, err) = vongdoi(&db, dir.path(), &["export", "citizens", "out.csv"]);
        assert!(ok, "{b}: {err}");
        assert_eq!(exported_ids(&dir.path().join("out.csv")), good, "{b}");
        let exported = fs::read_to_string(dir.path().join("out.csv")).unwrap();
        assert!(
            exported.contains("001225000002,Nguyễn Văn An,M,2025-01-31,,00004,HK1,001190000001,"),
            "{b}: {exported}"
        );
        assert!(
            exported.contains("+84987654321,LAM@example.vn,vi"),
            "{b}: stored normalised"
        );
        assert!(
            exported.contains("001325000012,Phạm Thị Hoa,F,2025-06-15,,00004,HK2,,,,,,en"),
            "{b}: link dropped, row kept"
        );

        // The same file again changes nothing and reports the same problems.
        let (ok, out, _) = vongdoi(
            &db,
            dir.path(),
            &["import", "citizens", "in.csv", "--errors", "errors2.csv"],
        );
        assert!(ok, "{b}");
        assert!(
            out.contains("thêm/inserted 0 · cập nhật/updated 0 · không đổi/unchanged 5"),
            "{b}: {out}"
        );
        assert_eq!(
            fs::read(dir.path().join("errors.csv")).unwrap(),
            fs::read(dir.path().join("errors2.csv")).unwrap(),
            "{b}"
        );
        let (_, show, _) = vongdoi(
            &db,
            dir.path(),
            &["citizen", "show", "001190000001", "--format", "json"],
        );
        let json: serde_json::Value = serde_json::from_str(&show).unwrap();
        assert_eq!(
            json["history"].as_array().unwrap().len(),
            0,
            "{b}: nothing changed, nothing recorded"
        );

        // A changed row updates the citizen and lands in its history.
        fs::write(
            dir.path().join("fix.csv"),
            format!(
                "{HEADER}\n001190000001,Trần Thị Lan,F,1990-04-02,,00004,HK1,,,,0987000111,,vi\n"
            ),
        )
        .unwrap();
        let (ok, out, _) = vongdoi(&db, dir.path(), &["import", "citizens", "fix.csv"]);
        assert!(ok && out.contains("cập nhật/updated 1"), "{b}: {out}");
        let (_, show, _) = vongdoi(
            &db,
            dir.path(),
            &["citizen", "show", "001190000001", "--format", "json"],
        );
        let json: serde_json::Value = serde_json::from_str(&show).unwrap();
        let history: Vec<(String, String)> = json["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["field"].as_str().unwrap().to_string(),
                    h["source"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            history,
            vec![
                ("phone".into(), "import:fix.csv".into()),
                ("email".into(), "import:fix.csv".into())
            ],
            "{b}"
        );
    }
}

#[tokio::test]
async fn a_file_without_the_needed_columns_stops_with_a_clear_error() {
    let db = common::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("in.csv"),
        "personal_id,name\n001190000001,Lan\n",
    )
    .unwrap();
    let (ok, _, err) = vongdoi(&db, dir.path(), &["import", "citizens", "in.csv"]);
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("in.csv") && err.contains("full_name") && err.contains("date_of_birth"),
        "{err}"
    );
}

#[tokio::test]
async fn records_must_fit_a_registered_life() {
    for db in all_backends().await {
        let b = db.backend;
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("c.csv"),
            format!("{HEADER}\n001225000002,Nguyễn Văn An,M,2025-01-31,,00004,,,,,,,\n001050000003,Lê Văn Cụ,M,1950-01-01,2024-06-30,00004,,,,,,,\n"),
        )
        .unwrap();
        assert!(
            vongdoi(&db, dir.path(), &["import", "citizens", "c.csv"]).0,
            "{b}"
        );
        let rows = [
            (
                "001225000002,HEPB,2025-01-31,Trạm Y tế phường Ba Đình",
                None,
            ),
            ("001225000002,penta,01/04/2025,", None),
            ("001225000002,HEPB,2025-01-31,", None), // the same dose again: stored once
            ("001225000002,XYZ,2025-04-01,", Some("vaccine")),
            ("001225000002,BCG,2025-01-30,", Some("date_given")),
            ("001225000002,BCG,2099-01-01,", Some("date_given")),
            ("001225000099,BCG,2025-02-01,", Some("personal_id")),
            ("001225000002,BCG,2025-02-31,", Some("date_given")),
        ];
        let csv_text = std::iter::once("personal_id,vaccine,date_given,place".to_string())
            .chain(rows.iter().map(|r| r.0.to_string()))
            .collect::<Vec<_>>()
            .join("\n");
        fs::write(dir.path().join("i.csv"), csv_text).unwrap();
        let (ok, out, err) = vongdoi(
            &db,
            dir.path(),
            &["import", "immunizations", "i.csv", "--errors", "e.csv"],
        );
        assert!(ok, "{b}: {err}");
        let want: Vec<(u64, String)> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.1.map(|f| (i as u64 + 2, f.to_string())))
            .collect();
        assert_eq!(error_lines(&dir.path().join("e.csv")), want, "{b}");
        assert!(
            out.contains(
                "thêm/inserted 2 · cập nhật/updated 0 · không đổi/unchanged 1 · từ chối/rejected 5"
            ),
            "{b}: {out}"
        );

        fs::write(dir.path().join("k.csv"), "personal_id,issued_on\n001050000003,2021-05-01\n001050000003,2024-07-01\n001225000002,2025-02-01\n").unwrap();
        let (ok, out, _) = vongdoi(
            &db,
            dir.path(),
            &["import", "id-cards", "k.csv", "--errors", "k-errors.csv"],
        );
        assert!(ok, "{b}");
        assert!(out.contains("thêm/inserted 2"), "{b}: {out}");
        assert_eq!(
            error_lines(&dir.path().join("k-errors.csv")),
            vec![(3, "issued_on".to_string())],
            "{b}: after death"
        );
    }
}

#[tokio::test]
async fn demo_of_20000_exports_20000_and_reimports_to_the_same_registry() {
    for db in all_backends().await {
        let b = db.backend;
        let dir = tempfile::tempdir().unwrap();
        let (ok, out, err) = vongdoi(
            &db,
            dir.path(),
            &[
                "demo",
                "--population",
                "20000",
                "--seed",
                "7",
                "--as-of",
                "2026-11-21",
            ],
        );
        assert!(ok, "{b}: {err}");
        assert!(out.contains("20000 công dân/citizens"), "{b}: {out}");
        assert!(
            vongdoi(&db, dir.path(), &["export", "citizens", "a.csv"]).0,
            "{b}"
        );
        let a = fs::read_to_string(dir.path().join("a.csv")).unwrap();
        assert_eq!(
            a.lines().count(),
            20_001,
            "{b}: header + exactly 20,000 rows"
        );

        // Into an empty database: every row and every link comes back.
        let empty = common::sqlite().await;
        let (ok, out, err) = vongdoi(
            &empty,
            dir.path(),
            &["import", "citizens", "a.csv", "--errors", "e.csv"],
        );
        assert!(ok, "{b}: {err}");
        assert!(
            out.contains("thêm/inserted 20000 ") && out.contains("từ chối/rejected 0"),
            "{b}: {out}"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("e.csv"))
                .unwrap()
                .lines()
                .count(),
            1,
            "{b}: no problems"
        );
        assert!(vongdoi(&empty, dir.path(), &["export", "citizens", "b.csv"]).0);
        assert_eq!(
            a,
            fs::read_to_string(dir.path().join("b.csv")).unwrap(),
            "{b}: export → import → export is the identity"
        );
    }
}

#[tokio::test]
async fn the_demo_is_deterministic_and_shaped_like_vietnam() {
    let (one, two) = (common::sqlite().await, common::sqlite().await);
    let dir = tempfile::tempdir().unwrap();
    for (db, file) in [(&one, "one.csv"), (&two, "two.csv")] {
        assert!(
            vongdoi(
                db,
                dir.path(),
                &[
                    "demo",
                    "--population",
                    "5000",
                    "--seed",
                    "42",
                    "--as-of",
                    "2026-11-21"
                ]
            )
            .0
        );
        assert!(vongdoi(db, dir.path(), &["export", "citizens", file]).0);
    }
    let one_csv = fs::read_to_string(dir.path().join("one.csv")).unwrap();
    assert_eq!(
        one_csv,
        fs::read_to_string(dir.path().join("two.csv")).unwrap()
    );

    let mut r = csv::Reader::from_reader(one_csv.as_bytes());
    let (mut n, mut under15, mut over60, mut boys, mut girls, mut with_mother, mut mothers_phone) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    let phones: std::collections::HashMap<String, bool> = rows
        .iter()
        .map(|x| (x[0].to_string(), !x[10].is_empty()))
        .collect();
    for row in &rows {
        n += 1.0;
        let age = 2026 - row[3][..4].parse::<i32>().unwrap();
        if age < 15 {
            under15 += 1.0;
            if &row[2] == "M" {
                boys += 1.0
            } else {
                girls += 1.0
            }
        }
        if age >= 60 {
            over60 += 1.0;
        }
        if !row[7].is_empty() {
            with_mother += 1.0;
            mothers_phone += phones[&row[7]] as u8 as f64;
        }
    }
    // Vietnam 2024: 0–14 ≈ 23 %, 60+ ≈ 13 %; sex ratio at birth ≈ 1.11.
    assert!(
        (0.18..0.30).contains(&(under15 / n)),
        "under 15: {}",
        under15 / n
    );
    assert!(
        (0.08..0.20).contains(&(over60 / n)),
        "60 and over: {}",
        over60 / n
    );
    assert!(
        (1.0..1.25).contains(&(boys / girls)),
        "boys per girl: {}",
        boys / girls
    );
    assert!(
        mothers_phone / with_mother > 0.8,
        "most mothers have a phone"
    );
}
