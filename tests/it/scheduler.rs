//! `vongdoi run` end to end on both backends: a day's notices go out once, a week of runs
//! never repeats a message, a recorded dose silences its reminders, a killed run resumes
//! without losing or doubling anything, and two instances share a day.

use crate::support as common;

use common::{mail_digest, TestDb};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

const CITIZENS: &str = "personal_id,full_name,sex,date_of_birth,date_of_death,commune_code,household_id,mother_id,father_id,guardian_id,phone,email,language
001196000001,Trần Thị Lan,F,1996-04-02,,00004,HK1,,,,0912345678,,vi
001226000002,Nguyễn Văn An,M,2026-09-20,,00004,HK1,001196000001,,,,,vi
001326000003,Nguyễn Thị Bình,F,2026-09-20,,00004,HK1,001196000001,,,,,vi
001086000004,Lê Văn Cường,M,1986-12-01,,00004,HK2,,,,,cuong@example.vn,vi
";
// Birth doses given, so the twins' next items are dtp/opv/rota 1, due 2026-11-20 (3-day
// reminder on 11-17). Cường's card from 2021 (age 34) does not cover the renewal at 40
// (2026-12-01), whose 60-day reminder fell on 2026-10-02: caught up on the first run.
const DOSES: &str = "personal_id,vaccine,date_given,place
001226000002,HEPB,2026-09-20,
001226000002,BCG,2026-09-21,
001326000003,HEPB,2026-09-20,
001326000003,BCG,2026-09-21,
";
const CARDS: &str = "personal_id,issued_on\n001086000004,2021-03-01\n001196000001,2021-05-01\n";

fn vongdoi(db: &TestDb, dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vongdoi"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", &db.url)
        .env("VONGDOI_LOG", "warn")
        .env("VONGDOI_SMS_WINDOW", "00:00-24:00")
        .env("VONGDOI_SMS_MAX_SEGMENTS", "10")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every SMS line as (id, body); panics on a repeated id.
fn sms(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in fs::read_to_string(dir.join("outbox/sms.jsonl"))
        .unwrap_or_default()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        assert!(
            out.insert(id.clone(), v["body"].as_str().unwrap().to_string())
                .is_none(),
            "SMS {id} written twice"
        );
    }
    out
}

/// What went out, without the ids: message ids are keyed by each database's own secret, so
/// two databases name the same message differently; (to, body) of every SMS and (to, subject,
/// text) of every email, sorted, with repeats kept (and `sms` panics on a repeated id).
type SentContent = (Vec<(String, String)>, Vec<(String, String, String)>);

fn sent_content(dir: &Path) -> SentContent {
    let _ = sms(dir);
    let mut texts: Vec<(String, String)> = fs::read_to_string(dir.join("outbox/sms.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["to"].as_str().unwrap().into(),
                v["body"].as_str().unwrap().into(),
            )
        })
        .collect();
    texts.sort();
    let files: Vec<std::path::PathBuf> = emails(dir)
        .iter()
        .map(|n| dir.join("outbox/email").join(n))
        .collect();
    let mut mails: Vec<(String, String, String)> = if files.is_empty() {
        Vec::new()
    } else {
        mail_digest(&files.iter().map(|p| p.as_path()).collect::<Vec<_>>())
            .into_iter()
            .map(|m| (m.to, m.subject, m.text.unwrap_or_default()))
            .collect()
    };
    mails.sort();
    (texts, mails)
}

fn emails(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir.join("outbox/email"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".eml"))
                .collect()
        })
        .unwrap_or_default()
}

async fn a_day_goes_out_once_and_a_week_never_repeats(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("c.csv"), CITIZENS).unwrap();
    fs::write(d.join("i.csv"), DOSES).unwrap();
    fs::write(d.join("k.csv"), CARDS).unwrap();
    vongdoi(&db, d, &["import", "citizens", "c.csv"]);
    vongdoi(&db, d, &["import", "immunizations", "i.csv"]);
    vongdoi(&db, d, &["import", "id-cards", "k.csv"]);

    // A dry run writes nothing.
    let dry = vongdoi(&db, d, &["run", "--as-of", "2026-11-17", "--dry-run"]);
    assert!(
        dry.contains("vaccination-due-soon") && !dry.contains("001196000001"),
        "{b}: {dry}"
    );
    assert!(sms(d).is_empty() && emails(d).is_empty(), "{b}");

    vongdoi(&db, d, &["run", "--as-of", "2026-11-17"]);
    let first = sms(d);
    assert_eq!(
        first.len(),
        1,
        "{b}: the mother of twins gets one SMS: {first:?}"
    );
    let body = first.values().next().unwrap();
    assert!(
        body.contains("Nguyen Van An") && body.contains("Nguyen Thi Binh"),
        "{b}: both twins, unaccented: {body}"
    );
    assert!(
        body.is_ascii() && !body.contains("001226000002"),
        "{b}: {body}"
    );
    let mails = emails(d);
    assert_eq!(mails.len(), 1, "{b}: {mails:?}");
    let eml = d.join("outbox/email").join(mails.iter().next().unwrap());
    let mail = &mail_digest(&[&eml])[0];
    let text = mail.text.clone().unwrap_or_default();
    assert!(
        mail.to == "cuong@example.vn" && text.contains("Lê Văn Cường") && text.contains("căn cước"),
        "{b}: {mail:?}"
    );
    assert!(
        mail.html
            .as_deref()
            .is_some_and(|h| h.contains("Lê Văn Cường") && h.contains("lang=\"vi\"")),
        "{b}: an HTML part too: {mail:?}"
    );
    assert_eq!(
        mail.message_id,
        format!(
            "<{}@localhost>",
            mails.iter().next().unwrap().trim_end_matches(".eml")
        )
    );

    // The same day again: nothing new.
    let again = vongdoi(&db, d, &["run", "--as-of", "2026-11-17"]);
    assert!(again.contains("đã gửi/sent 0"), "{b}: {again}");
    assert_eq!(sms(d), first, "{b}");
    assert_eq!(emails(d), mails, "{b}");

    // A week of daily runs: no message repeats (sms() panics on a repeated id), no new
    // notice until the next one is due (the overdue date, 2026-12-20).
    for day in 18..=24 {
        vongdoi(&db, d, &["run", "--as-of", &format!("2026-11-{day}")]);
    }
    assert_eq!(sms(d), first, "{b}: nothing new that week");
    assert_eq!(emails(d), mails, "{b}");

    // Doses recorded (on the due date): on the overdue date the twins' reminders stay silent; a missed
    // day (12-20 .. 12-22 not run) is caught up on 12-23 for anything still open.
    fs::write(
        d.join("i2.csv"),
        "personal_id,vaccine,date_given,place\n001226000002,PENTA,2026-11-20,\n001226000002,OPV,2026-11-20,\n001226000002,ROTA,2026-11-20,\n",
    )
    .unwrap();
    let out = vongdoi(&db, d, &["import", "immunizations", "i2.csv"]);
    assert!(out.contains("thêm/inserted 3"), "{b}: {out}");
    vongdoi(&db, d, &["run", "--as-of", "2026-12-23"]);
    let later = sms(d);
    let new: Vec<&String> = later
        .iter()
        .filter(|(id, _)| !first.contains_key(*id))
        .map(|(_, body)| body)
        .collect();
    assert_eq!(new.len(), 1, "{b}: {new:?}");
    // Bình is overdue for her first doses; An, vaccinated, is told only of his second
    // doses (due 12-20; their 3-day reminder of 12-17 caught up on 12-23).
    let body = new[0];
    assert!(
        body.contains("be Nguyen Thi Binh da qua han tiem phong"),
        "{b}: {body}"
    );
    assert!(!body.contains("be Nguyen Van An da qua han"), "{b}: {body}");
    // The reminder caught up after the due date says what is true now, never "vào ngày" a
    // day already past; drops are "uống", "liều".
    assert!(
        body.contains("be Nguyen Van An da den han tiem phong Bach hau, ho ga, uon van - mui 2 tu ngay 20/12/2026")
            && body.contains("uong vac xin phong Bai liet - lieu 2")
            && !body.contains("vao ngay"),
        "{b}: {body}"
    );
    assert!(
        body.starts_with("Tram Y te phuong Ba Dinh nhac:") && !body.contains(" ,"),
        "{b}: one sender, its name first: {body}"
    );
}
on_each_backend!(a_day_goes_out_once_and_a_week_never_repeats);

/// Runs `vongdoi run` and kills it after `after_ms` (it may have finished by then).
fn run_and_kill(db: &TestDb, dir: &Path, as_of: &str, after_ms: u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vongdoi"))
        .args(["run", "--as-of", as_of])
        .current_dir(dir)
        .env("DATABASE_URL", &db.url)
        .env("VONGDOI_LOG", "error")
        .env("VONGDOI_SMS_WINDOW", "00:00-24:00")
        .env("VONGDOI_SMS_MAX_SEGMENTS", "10")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(after_ms));
    let _ = child.kill();
    let _ = child.wait();
}

async fn killed_runs_lose_nothing_and_repeat_nothing(db: TestDb) {
    let b = db.backend;
    let reference_db = common::sqlite().await;
    let (reference, killed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (db, dir) in [(&reference_db, reference.path()), (&db, killed.path())] {
        vongdoi(
            db,
            dir,
            &[
                "demo",
                "--population",
                "3000",
                "--seed",
                "5",
                "--as-of",
                "2026-11-21",
            ],
        );
    }
    // Several days in a row, each killed twice at moments that differ from day to day (in
    // the scan, in composing, in delivery, or after the end), then run again at once: the
    // killed process's leases are taken over without waiting them out (a run that found its
    // day held would exit with status 3, which `vongdoi` here refuses).
    let moments = [[120u64, 700], [350, 1_500], [900, 60], [200, 2_500]];
    for (day, kills) in ["2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"]
        .iter()
        .zip(moments)
    {
        vongdoi(&reference_db, reference.path(), &["run", "--as-of", day]);
        for ms in kills {
            run_and_kill(&db, killed.path(), day, ms);
        }
        let out = vongdoi(&db, killed.path(), &["run", "--as-of", day]);
        assert!(!out.contains("another instance"), "{b} {day}: {out}");
    }
    let (done, want) = (sent_content(killed.path()), sent_content(reference.path()));
    assert!(!want.0.is_empty() && !want.1.is_empty(), "{b}");
    assert_eq!(done, want, "{b}: the same messages as runs never killed");
    assert_eq!(
        emails(killed.path()).len(),
        want.1.len(),
        "{b}: one file per email"
    );
}
on_each_backend!(killed_runs_lose_nothing_and_repeat_nothing);

async fn two_instances_on_one_database_send_each_message_once(db: TestDb) {
    let b = db.backend;
    let reference_db = common::sqlite().await;
    let (reference, shared) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (db, dir) in [(&reference_db, reference.path()), (&db, shared.path())] {
        vongdoi(
            db,
            dir,
            &[
                "demo",
                "--population",
                "3000",
                "--seed",
                "9",
                "--as-of",
                "2026-11-21",
            ],
        );
    }
    vongdoi(
        &reference_db,
        reference.path(),
        &["run", "--as-of", "2026-11-21"],
    );
    // Shards of 150 citizens: twenty of them, so both instances get some.
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_vongdoi"))
            .args(["run", "--as-of", "2026-11-21", "--wait"])
            .current_dir(shared.path())
            .env("DATABASE_URL", &db.url)
            .env("VONGDOI_LOG", "error")
            .env("VONGDOI_SMS_WINDOW", "00:00-24:00")
            .env("VONGDOI_SMS_MAX_SEGMENTS", "10")
            .env("VONGDOI_SHARD_SIZE", "150")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (one, two) = (spawn(), spawn());
    let evaluated = |child: std::process::Child| {
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{b}: {text}");
        let n = text
            .split("): ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok());
        n.unwrap_or_else(|| panic!("{b}: no count of citizens in {text}"))
    };
    let (a, c) = (evaluated(one), evaluated(two));
    assert_eq!(
        a + c,
        3000,
        "{b}: everyone evaluated once between them ({a} + {c})"
    );
    assert!(
        a > 0 && c > 0,
        "{b}: both instances scanned shards ({a} + {c})"
    );
    let want = sent_content(reference.path());
    assert!(!want.0.is_empty() && !want.1.is_empty(), "{b}");
    assert_eq!(sent_content(shared.path()), want, "{b}");
}
on_each_backend!(two_instances_on_one_database_send_each_message_once);
