//! Issue #14's proof of equivalence: two copies of one registry go through the same 60 days —
//! new births, doses, deaths, moves and a change of personal ID imported between days, and one
//! change of the rules half-way — one with `vongdoi run` (incremental: only the citizens whose
//! next check has come or whose records changed), the other with `vongdoi run --full`. Their
//! ledgers, notices and the messages sent must be identical, on both backends.

use crate::support as common;

use common::TestDb;
use rand::{Rng, SeedableRng};
use std::path::Path;

fn vongdoi(db: &TestDb, dir: &Path, rules: Option<&Path>, args: &[&str]) -> String {
    let rules = rules.map(|r| r.to_string_lossy().into_owned());
    let mut envs = vec![
        ("VONGDOI_SMS_WINDOW", "00:00-24:00"),
        ("VONGDOI_SMS_MAX_SEGMENTS", "10"),
    ];
    if let Some(r) = &rules {
        envs.push(("VONGDOI_RULES", r));
    }
    common::vongdoi_ok(db, dir, args, &envs)
}

/// Rows of a query that returns one text column, sorted: the same SQL on both backends.
async fn rows(db: &TestDb, sql: &str) -> Vec<String> {
    let mut v: Vec<String> = if db.url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        v
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        v
    };
    v.sort();
    v
}

/// What a run leaves behind that must not depend on how it was run. Message ids are left out
/// (each database keys them with its own secret), and so are the times rows were written.
async fn outcome(db: &TestDb) -> [Vec<String>; 3] {
    const LEDGER: &str = "SELECT personal_id || '|' || item || '|' || status || '|' || coalesce(CAST(earliest AS TEXT), '') || '|' || \
         coalesce(CAST(due AS TEXT), '') || '|' || coalesce(CAST(overdue AS TEXT), '') || '|' || coalesce(CAST(expires AS TEXT), '') || '|' || \
         coalesce(CAST(completed_on AS TEXT), '') || '|' || CAST(changed_on AS TEXT) FROM events";
    const NOTICES: &str = "SELECT personal_id || '|' || item || '|' || template || '|' || CAST(notice_date AS TEXT) || '|' || CAST(run_date AS TEXT) || '|' || \
         coalesce(recipient_id, '') || '|' || coalesce(channel, '') || '|' || coalesce(address, '') || '|' || line_sms || '|' || sender || '|' || \
         CASE WHEN message_id IS NULL THEN 'unsent' ELSE 'sent' END FROM notices";
    const MESSAGES: &str = "SELECT recipient_id || '|' || channel || '|' || CAST(day AS TEXT) || '|' || sender || '|' || status || '|' || body FROM messages";
    [
        rows(db, LEDGER).await,
        rows(db, NOTICES).await,
        rows(db, MESSAGES).await,
    ]
}

async fn another(db: &TestDb) -> TestDb {
    match db.backend {
        "sqlite" => common::sqlite().await,
        _ => common::postgres(&common::postgres_admin_url().unwrap()).await,
    }
}

/// The changes of one day, as CSV files both copies import.
struct Changes {
    citizens: String,
    doses: String,
}

fn header(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().next().unwrap().to_string()
}

async fn incremental_and_full_runs_agree_over_60_days(db: TestDb) {
    let b = db.backend;
    let full_db = another(&db).await;
    let (inc, full) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let start = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let demo = [
        "demo",
        "--population",
        "600",
        "--seed",
        "14",
        "--as-of",
        "2026-11-01",
    ];
    vongdoi(&db, inc.path(), None, &demo);
    vongdoi(&full_db, full.path(), None, &demo);
    // The registry as rows to edit: deaths and moves re-import a citizen's whole row.
    let export = inc.path().join("registry.csv");
    vongdoi(
        &db,
        inc.path(),
        None,
        &["export", "citizens", export.to_str().unwrap()],
    );
    let head = header(&export);
    let mut reader = csv::Reader::from_path(&export).unwrap();
    let columns: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let col = |name: &str| columns.iter().position(|c| c == name).unwrap();
    let (pin_at, dob_at, death_at, commune_at) = (
        col("personal_id"),
        col("date_of_birth"),
        col("date_of_death"),
        col("commune_code"),
    );
    let mut people: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let communes: Vec<String> = {
        let mut c: Vec<String> = people.iter().map(|p| p[commune_at].clone()).collect();
        c.sort();
        c.dedup();
        c
    };
    let phone_at = col("phone");
    // The changed rules: DTP's first dose recommended a week earlier and overdue sooner.
    let changed_rules = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"),
        changed_rules.path(),
    );
    let toml = changed_rules.path().join("vaccination.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let changed = text.replacen(
        "min_age = \"6 weeks\"   # WHO minimum\nrec_age = \"2 months\"\noverdue_after = \"1 month\"",
        "min_age = \"6 weeks\"   # WHO minimum\nrec_age = \"7 weeks\"\noverdue_after = \"3 weeks\"",
        1,
    );
    assert_ne!(
        changed, text,
        "the DTP dose the test changes is where it was"
    );
    std::fs::write(&toml, changed).unwrap();

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(60);
    let vaccines = ["PENTA", "OPV", "ROTA", "IPV", "MR", "BCG", "HEPB", "JE"];
    let mut born = 0u32;
    let mut incremental_evaluated = 0u64;
    for n in 0..60i64 {
        let day = start + chrono::Duration::days(n);
        let rules = (n >= 30).then_some(changed_rules.path());
        if n > 0 {
            // Births, some registered days late, with a parent's phone for some.
            let mut changes = Changes {
                citizens: format!("{head}\n"),
                doses: "personal_id,vaccine,date_given,place\n".into(),
            };
            for _ in 0..rng.gen_range(1..4) {
                born += 1;
                let dob = day - chrono::Duration::days(rng.gen_range(0..5));
                let mut row = vec![String::new(); columns.len()];
                row[pin_at] = format!("0012{}{:06}", dob.format("%y"), 900_000 + born);
                row[col("full_name")] = format!("Trẻ Mới Sinh {born}");
                row[col("sex")] = "M".into();
                row[dob_at] = dob.to_string();
                row[commune_at] = communes[rng.gen_range(0..communes.len())].clone();
                row[col("language")] = "vi".into();
                if rng.gen_bool(0.7) {
                    row[phone_at] = format!("09{:08}", 10_000_000 + born);
                }
                people.push(row.clone());
                changes.citizens += &csv_line(&row);
            }
            // A death every fifth day, a move every seventh.
            if n % 5 == 0 {
                let i = rng.gen_range(0..people.len());
                if people[i][death_at].is_empty() {
                    people[i][death_at] = (day - chrono::Duration::days(1)).to_string();
                    changes.citizens += &csv_line(&people[i]);
                }
            }
            if n % 7 == 0 {
                let i = rng.gen_range(0..people.len());
                people[i][commune_at] = communes[rng.gen_range(0..communes.len())].clone();
                changes.citizens += &csv_line(&people[i]);
            }
            // Doses for young children, recorded up to three weeks after they were given.
            let young: Vec<usize> = (0..people.len())
                .filter(|&i| {
                    people[i][dob_at].as_str() >= "2024-06-01" && people[i][death_at].is_empty()
                })
                .collect();
            for _ in 0..rng.gen_range(3..12) {
                let i = young[rng.gen_range(0..young.len())];
                let dob: chrono::NaiveDate = people[i][dob_at].parse().unwrap();
                let given = (day - chrono::Duration::days(rng.gen_range(0..21))).max(dob);
                let vaccine = vaccines[rng.gen_range(0..vaccines.len())];
                changes.doses += &format!("{},{vaccine},{given},\n", people[i][pin_at]);
            }
            for (db, dir) in [(&db, inc.path()), (&full_db, full.path())] {
                let (c, d) = (dir.join("c.csv"), dir.join("d.csv"));
                std::fs::write(&c, &changes.citizens).unwrap();
                std::fs::write(&d, &changes.doses).unwrap();
                vongdoi(db, dir, rules, &["import", "citizens", c.to_str().unwrap()]);
                vongdoi(
                    db,
                    dir,
                    rules,
                    &["import", "immunizations", d.to_str().unwrap()],
                );
            }
            // A personal ID re-established (Law on Identification, Art. 24) on day 20.
            if n == 20 {
                let i = (0..people.len())
                    .find(|&i| people[i][dob_at].as_str() >= "2026-01-01")
                    .unwrap();
                let old = people[i][pin_at].clone();
                let new = format!("{}{}", &old[..6], "777777");
                for (db, dir) in [(&db, inc.path()), (&full_db, full.path())] {
                    vongdoi(
                        db,
                        dir,
                        rules,
                        &["citizen", "change-id", &old, &new, "--reason", "cấp lại"],
                    );
                }
                people[i][pin_at] = new;
            }
        }
        let d = day.to_string();
        let out = vongdoi(&db, inc.path(), rules, &["run", "--as-of", &d]);
        incremental_evaluated += evaluated(&out);
        let full_out = vongdoi(
            &full_db,
            full.path(),
            rules,
            &["run", "--as-of", &d, "--full"],
        );
        assert!(full_out.contains("full pass"), "{b} {d}: {full_out}");
        if n == 1 {
            assert!(
                out.contains("incremental"),
                "{b} {d}: the second day is incremental: {out}"
            );
        }
        if n == 30 {
            assert!(
                out.contains("full pass"),
                "{b} {d}: changed rules give a full pass: {out}"
            );
        }
    }
    let (got, want) = (outcome(&db).await, outcome(&full_db).await);
    for (what, (g, w)) in ["ledger", "notices", "messages"]
        .iter()
        .zip(got.iter().zip(&want))
    {
        assert!(!w.is_empty(), "{b}: no {what} at all");
        let missing: Vec<&String> = w.iter().filter(|r| !g.contains(r)).take(3).collect();
        let extra: Vec<&String> = g.iter().filter(|r| !w.contains(r)).take(3).collect();
        assert!(
            g == w,
            "{b}: the {what} differ ({} vs {} rows); only in --full: {missing:?}; only incremental: {extra:?}",
            g.len(),
            w.len()
        );
    }
    // The point of it: far fewer evaluations than 60 full passes of the registry.
    let everyone = 60 * 600;
    assert!(
        incremental_evaluated < everyone / 3,
        "{b}: incremental runs evaluated {incremental_evaluated} citizens in 60 days"
    );
}
on_each_backend!(incremental_and_full_runs_agree_over_60_days);

/// The count of citizens in `vongdoi run`'s summary line.
fn evaluated(out: &str) -> u64 {
    out.split("): ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of citizens in {out}"))
}

fn csv_line(row: &[String]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(row).unwrap();
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
