//! Issue #13's done-when, on both backends: a first run over a demo registry messages nothing
//! overdue past the horizon (the dry run shows none and counts them as held back), every
//! message has one sender, every vaccination SMS names its health station and carries the
//! station's phone as `facilities list` gives it; the operator's go-live date and a rule's
//! `max_reminders` hold notices back; an email's unsubscribe link works on `serve`.

use crate::support::{self as common, TestDb};
use chrono::{Duration, NaiveDate};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

const DAY: &str = "2026-12-01";

fn day() -> NaiveDate {
    DAY.parse().unwrap()
}

fn demo(db: &TestDb) {
    let args = [
        "demo",
        "--population",
        "3000",
        "--seed",
        "9",
        "--as-of",
        DAY,
    ];
    common::demo::fill(db, &args);
}

/// `vongdoi ARGS` in `dir` with `envs`; its standard output (it must succeed).
fn run(db: &TestDb, dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vongdoi"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", &db.url)
        .env("VONGDOI_LOG", "warn")
        // SMS go out whatever the hour the test runs at.
        .env("VONGDOI_SMS_WINDOW", "00:00-24:00")
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "vongdoi {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every message, as `vongdoi messages --format json` lists them.
fn messages(db: &TestDb, dir: &Path) -> Vec<Value> {
    let all = run(
        db,
        dir,
        &["messages", "--format", "json", "--limit", "100000"],
        &[],
    );
    serde_json::from_str(&all).unwrap()
}

fn lines(json_lines: &str) -> Vec<Value> {
    json_lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn date(v: &Value) -> Option<NaiveDate> {
    v.as_str().map(|s| s.parse().unwrap())
}

/// Strips Vietnamese marks the way an unaccented SMS does.
fn plain(s: &str) -> String {
    vongdoi::text::unaccent(s).replace('–', "-")
}

async fn the_first_run_is_fresh_signed_and_names_the_station(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    demo(&db);
    let planned = lines(&run(
        &db,
        dir.path(),
        &["run", "--as-of", DAY, "--dry-run", "--format", "json"],
        &[],
    ));
    assert!(planned.len() > 50, "{b}: {} planned notices", planned.len());
    let horizon = day() - Duration::days(90);
    for p in &planned {
        assert!(
            date(&p["overdue"]).is_none_or(|o| o >= horizon),
            "{b}: a notice about an item overdue past the 90-day horizon: {p}"
        );
        assert!(
            ["health", "police", "school"].contains(&p["sender"].as_str().unwrap()),
            "{p}"
        );
        assert!(
            !p["personal_id"].as_str().unwrap().starts_with('0'),
            "masked: {p}"
        );
    }
    assert!(planned
        .iter()
        .any(|p| p["kind"] == "vaccination" && p["dose"].is_u64()));
    // The summary says how many were held back for staff instead.
    let summary = run(&db, dir.path(), &["run", "--as-of", DAY, "--dry-run"], &[]);
    let held: u64 = summary
        .split("; ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{b}: no held-back count in: {summary}"));
    assert!(held > 0, "{b}: {summary}");
    assert!(
        summary.contains("health") && summary.contains("vaccination-due-soon"),
        "{summary}"
    );

    run(&db, dir.path(), &["run", "--as-of", DAY], &[]);
    let facilities: Vec<Value> = serde_json::from_str(&run(
        &db,
        dir.path(),
        &["facilities", "list", "--format", "json"],
        &[],
    ))
    .unwrap();
    let stations: Vec<(String, String)> = facilities
        .iter()
        .filter(|f| f["kind"] == "health")
        .map(|f| {
            (
                plain(f["name"].as_str().unwrap()),
                f["phone"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(!stations.is_empty(), "{b}: the demo fills its stations");
    let messages = messages(&db, dir.path());
    let sender: HashMap<String, String> = messages
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_string(),
                m["sender"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let sms = std::fs::read_to_string(dir.path().join("outbox/sms.jsonl")).unwrap();
    let (mut health, mut senders) = (0, BTreeSet::new());
    for line in sms.lines() {
        let m: Value = serde_json::from_str(line).unwrap();
        let body = m["body"].as_str().unwrap();
        let from = &sender[m["id"].as_str().unwrap()];
        senders.insert(from.clone());
        let signatures = ["Tram Y te", "Cong an", "UBND", "Truong"];
        assert_eq!(
            signatures.iter().filter(|s| body.contains(*s)).count(),
            1,
            "{b}: one sender per message: {body}"
        );
        if from == "health" {
            health += 1;
            let (name, phone) = stations
                .iter()
                .find(|(name, _)| body.starts_with(name.as_str()))
                .unwrap_or_else(|| panic!("{b}: no station named first: {body}"));
            assert!(
                body.contains(phone.as_str()),
                "{b}: {name}'s phone {phone}: {body}"
            );
            assert!(
                !body.contains("vao ngay") || !body.contains("da den han"),
                "{body}"
            );
        }
    }
    assert!(health > 20, "{b}: {health} vaccination SMS");
    assert!(senders.contains("police"), "{b}: {senders:?}");
}
on_each_backend!(the_first_run_is_fresh_signed_and_names_the_station);

async fn go_live_holds_back_what_was_overdue_before_it(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    demo(&db);
    let dry = ["run", "--as-of", DAY, "--dry-run", "--format", "json"];
    let before_go_live = |planned: &[Value]| {
        planned
            .iter()
            .filter(|p| date(&p["overdue"]).is_some_and(|o| o < day()))
            .count()
    };
    let without = lines(&run(&db, dir.path(), &dry, &[]));
    assert!(
        before_go_live(&without) > 0,
        "{b}: the demo has recently overdue items"
    );
    let with = lines(&run(&db, dir.path(), &dry, &[("VONGDOI_GO_LIVE", DAY)]));
    assert_eq!(before_go_live(&with), 0, "{b}");
    assert!(!with.is_empty() && with.len() < without.len(), "{b}");
}
on_each_backend!(go_live_holds_back_what_was_overdue_before_it);

/// The shipped rules, with `max_reminders = 1` for every vaccination.
fn one_reminder_rules(dir: &Path) -> std::path::PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(rules.join("templates")).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for sub in ["", "templates"] {
        for e in std::fs::read_dir(shipped.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, rules.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    let v = rules.join("vaccination.toml");
    let text = std::fs::read_to_string(&v).unwrap();
    std::fs::write(
        &v,
        text.replacen("[defaults]\n", "[defaults]\nmax_reminders = 1\n", 1),
    )
    .unwrap();
    rules
}

async fn after_enough_reminders_the_item_goes_to_staff(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    demo(&db);
    // A masked ID is not unique among 3,000 people: the item and its due date make it so.
    let key = |p: &Value| {
        format!(
            "{}/{}/{}/{}",
            p["personal_id"], p["series"], p["dose"], p["due"]
        )
    };
    let first = lines(&run(
        &db,
        dir.path(),
        &["run", "--as-of", DAY, "--dry-run", "--format", "json"],
        &[],
    ));
    let reminded: BTreeSet<String> = first
        .iter()
        .filter(|p| p["template"] == "vaccination-due-soon" && p["recipient"].is_string())
        .map(key)
        .collect();
    assert!(!reminded.is_empty(), "{b}");
    run(&db, dir.path(), &["run", "--as-of", DAY], &[]);
    // Forty days on those items are overdue: the shipped rules remind again, one reminder
    // per item does not.
    let later = (day() + Duration::days(40)).to_string();
    let overdue_again = |planned: &[Value]| {
        planned
            .iter()
            .filter(|p| p["template"] == "vaccination-overdue" && reminded.contains(&key(p)))
            .count()
    };
    let dry = [
        "run",
        "--as-of",
        later.as_str(),
        "--dry-run",
        "--format",
        "json",
    ];
    let shipped = lines(&run(&db, dir.path(), &dry, &[]));
    assert!(
        overdue_again(&shipped) > 0,
        "{b}: the shipped rules send the overdue notice"
    );
    let rules = one_reminder_rules(dir.path());
    let mut limited_args = vec!["--rules", rules.to_str().unwrap()];
    limited_args.extend(dry);
    let limited = lines(&run(&db, dir.path(), &limited_args, &[]));
    assert_eq!(
        overdue_again(&limited),
        0,
        "{b}: one reminder, then staff follow up"
    );
}
on_each_backend!(after_enough_reminders_the_item_goes_to_staff);

async fn an_email_is_signed_and_its_unsubscribe_link_stops_the_emails(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    demo(&db);
    let mut served = common::serve(&db, dir.path(), &["--no-schedule"], &[]);
    let envs = [
        ("VONGDOI_CHANNELS", "email,sms"),
        ("VONGDOI_MAIL_FROM", "nhac-lich@ngocha.gov.vn"),
        ("VONGDOI_PUBLIC_URL", served.base.as_str()),
    ];
    run(&db, dir.path(), &["run", "--as-of", DAY], &envs);
    let mut emails: Vec<_> = std::fs::read_dir(dir.path().join("outbox/email"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    emails.sort();
    assert!(emails.len() > 10, "{b}: {} emails", emails.len());
    let raw = std::fs::read_to_string(&emails[0]).unwrap();
    let mail = &common::mail_digest(&[emails[0].as_path()])[0];
    assert!(
        mail.from.ends_with("<nhac-lich@ngocha.gov.vn>")
            && ["Trạm Y tế", "Công an", "UBND", "Trường"]
                .iter()
                .any(|s| mail.from.contains(s)),
        "{b}: From names the facility: {}",
        mail.from
    );
    // Every email greets and signs in its recipient's language.
    let all = common::mail_digest(&emails.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    for m in &all {
        let text = m.text.clone().unwrap();
        let english = m.html.as_deref().is_some_and(|h| h.contains("lang=\"en\""));
        let (hello, bye) = if english {
            ("Dear ", "Kind regards,")
        } else {
            ("Kính gửi ", "Trân trọng,")
        };
        assert!(
            text.starts_with(hello) && text.contains(bye),
            "{b}: greeting and signature: {text}"
        );
    }
    assert!(all.iter().any(|m| m
        .text
        .as_deref()
        .is_some_and(|t| t.starts_with("Kính gửi "))));
    assert!(
        mail.message_id.ends_with("@ngocha.gov.vn>"),
        "{}",
        mail.message_id
    );
    let link = raw
        .lines()
        .find_map(|l| l.strip_prefix("List-Unsubscribe: <"))
        .and_then(|l| l.strip_suffix('>'))
        .unwrap_or_else(|| panic!("{b}: no List-Unsubscribe: {raw}"))
        .to_string();
    assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(
        link.starts_with(&format!("{}/unsubscribe/", served.base)),
        "{link}"
    );
    let id = link.rsplit('/').next().unwrap().to_string();
    let messages = messages(&db, dir.path());
    assert!(
        messages.iter().any(|m| m["id"] == id.as_str()),
        "{b}: the link names the message"
    );

    let http = reqwest::Client::new();
    // Looking does not unsubscribe (mail scanners follow links).
    let page = http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("<form method=\"post\">") && !page.contains("@ngocha"),
        "{page}"
    );
    let done = http
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("Đã ngừng gửi email"));
    let bogus = http
        .post(format!(
            "{}/unsubscribe/20261201-email-00000000000000000000",
            served.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), 410, "{b}: not one of our links");
    served.terminate();
    // The recipient of that email is opted out of email, and only they are.
    let recipient = db_recipient(&db, &id).await;
    let shown: Value = serde_json::from_str(&run(
        &db,
        dir.path(),
        &["citizen", "show", &recipient, "--format", "json"],
        &[],
    ))
    .unwrap();
    assert_eq!(shown["citizen"]["email_opt_out"], true, "{b}");
    assert_eq!(shown["citizen"]["sms_opt_out"], false, "{b}: SMS go on");
    assert!(
        shown["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["field"] == "email_opt_out" && h["source"] == "unsubscribe-link"),
        "{b}: the change is in the citizen's history"
    );
}
on_each_backend!(an_email_is_signed_and_its_unsubscribe_link_stops_the_emails);

/// The recipient of message `id` (the delivery list shows it masked; the store has it).
async fn db_recipient(db: &TestDb, id: &str) -> String {
    let store = vongdoi::store::Store::connect(&db.url).await.unwrap();
    store.message(id).await.unwrap().unwrap().recipient_id
}
