//! `vongdoi forecast` and `vongdoi rules check` through the binary: the registry's records,
//! read from either backend, evaluated by the one rule engine.

use crate::support as common;
use crate::support::TestDb;

use common::vongdoi;
use std::fs;

const CITIZENS: &str = "personal_id,full_name,sex,date_of_birth,date_of_death,commune_code,household_id,mother_id,father_id,guardian_id,phone,email,language
001196000001,Trần Thị Lan,F,1996-04-02,,00004,HK1,,,,0912345678,,vi
001226000002,Nguyễn Văn An,M,2026-01-10,,00004,HK1,001196000001,,,,,vi
";

// HEXA on 03-07 counts for dtp 1 and ipv 1 at once. dtp 2 may come from 03-07 + 4 weeks =
// 04-04, or 4 days earlier with the grace period (03-31): PENTA on 03-30 is one day short of
// that, too early. PENTA on 04-20 is dtp 2.
const DOSES: &str = "personal_id,vaccine,date_given,place
001226000002,HEPB,2026-01-10,Trạm Y tế phường Ba Đình
001226000002,HEXA,2026-03-07,
001226000002,PENTA,2026-03-30,
001226000002,PENTA,2026-04-20,
001226000002,BCG,2026-06-01,
";

fn item<'a>(json: &'a serde_json::Value, series: &str, dose: u64) -> &'a serde_json::Value {
    json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["series"] == series && i["dose"] == dose)
        .unwrap_or_else(|| panic!("no item {series} {dose}"))
}

async fn forecast_reads_the_registry_and_applies_the_rules(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("c.csv"), CITIZENS).unwrap();
    fs::write(dir.path().join("i.csv"), DOSES).unwrap();
    assert!(
        vongdoi(&db, dir.path(), &["import", "citizens", "c.csv"]).0,
        "{b}"
    );
    let (ok, out, err) = vongdoi(&db, dir.path(), &["import", "immunizations", "i.csv"]);
    assert!(ok && out.contains("thêm/inserted 5"), "{b}: {out} {err}");

    let (ok, out, err) = vongdoi(
        &db,
        dir.path(),
        &[
            "forecast",
            "001226000002",
            "--as-of",
            "2026-05-01",
            "--format",
            "json",
        ],
    );
    assert!(ok, "{b}: {err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["personal_id"], "001226000002");
    assert_eq!(json["as_of"], "2026-05-01");
    assert_eq!(item(&json, "dtp", 1)["completed_on"], "2026-03-07", "{b}");
    assert_eq!(
        item(&json, "ipv", 1)["completed_on"],
        "2026-03-07",
        "{b}: HEXA counts for ipv too"
    );
    assert_eq!(item(&json, "dtp", 2)["completed_on"], "2026-04-20", "{b}");
    // dtp 3: earliest = 04-20 + 4 weeks = 05-18; due = max(birth + 4 months = 05-10,
    // 04-20 + 1 month = 05-20, 05-18) = 05-20; overdue = 06-20; expires = birth + 5 years.
    let d3 = item(&json, "dtp", 3);
    assert_eq!(
        (
            d3["status"].as_str(),
            d3["earliest"].as_str(),
            d3["due"].as_str(),
            d3["overdue"].as_str(),
            d3["expires"].as_str()
        ),
        (
            Some("upcoming"),
            Some("2026-05-18"),
            Some("2026-05-20"),
            Some("2026-06-20"),
            Some("2031-01-10")
        ),
        "{b}"
    );
    assert_eq!(item(&json, "dtp", 4)["status"], "waiting", "{b}");
    // BCG given after the as-of date is ignored: on 2026-05-01 BCG is overdue
    // (due at birth, overdue after 1 month).
    assert_eq!(item(&json, "bcg", 1)["status"], "overdue", "{b}");
    let invalid = json["invalid_doses"].as_array().unwrap();
    assert_eq!(invalid.len(), 1, "{b}: {invalid:?}");
    assert_eq!(
        (
            invalid[0]["series"].as_str(),
            invalid[0]["vaccine"].as_str(),
            invalid[0]["date_given"].as_str(),
            invalid[0]["reason"].as_str()
        ),
        (
            Some("dtp"),
            Some("PENTA"),
            Some("2026-03-30"),
            Some("too early")
        ),
        "{b}"
    );

    // The readable table says the same, in Vietnamese by default.
    let (ok, table, _) = vongdoi(
        &db,
        dir.path(),
        &["forecast", "001226000002", "--as-of", "2026-05-01"],
    );
    assert!(
        ok && table.contains("2026-05-20") && table.contains("quá hạn"),
        "{b}: {table}"
    );

    let (ok, _, err) = vongdoi(&db, dir.path(), &["forecast", "001226000099"]);
    assert!(
        !ok && err.contains("0099") && !err.contains("001226000099"),
        "{b}: masked in the error: {err}"
    );
}
on_each_backend!(forecast_reads_the_registry_and_applies_the_rules);

#[test]
fn broken_rules_stop_every_command_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    fs::create_dir_all(rules.join("templates")).unwrap();
    for entry in fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/rules")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            fs::copy(&path, rules.join(path.file_name().unwrap())).unwrap();
        }
    }
    for entry in fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/templates")).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(
            &path,
            rules.join("templates").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vongdoi"))
            .args(args)
            .current_dir(dir.path())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("t.db").display()),
            )
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert!(
        run(&["rules", "check", "rules"]).0,
        "a copy of the shipped rules is valid"
    );

    // A vaccine code nobody defined, on a known line.
    let text = fs::read_to_string(rules.join("vaccination.toml")).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("counts = [\"OPV\"]"))
        .unwrap()
        + 1;
    fs::write(
        rules.join("vaccination.toml"),
        text.replacen("counts = [\"OPV\"]", "counts = [\"OPV9\"]", 1),
    )
    .unwrap();
    let (ok, err) = run(&["rules", "check", "rules"]);
    assert!(!ok);
    assert!(
        err.contains(&format!("vaccination.toml:{line}:")) && err.contains("OPV9"),
        "{err}"
    );
    let (ok, err) = run(&["--rules", "rules", "summary"]);
    assert!(
        !ok && err.contains("vaccination.toml"),
        "other commands refuse bad rules too: {err}"
    );
}
