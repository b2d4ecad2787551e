//! Delivery through real parts: a real SMTP server (Debian's aiosmtpd) and an HTTP server
//! standing in for the SMS gateway that fails on purpose (`tests/fixtures/`). On both backends.

use crate::support as common;

use common::{all_backends, fixture, mail_digest, smtp_server, TestDb};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Command;

const DAY: &str = "2026-11-21";

fn run(db: &TestDb, dir: &Path, args: &[&str], envs: &[(&str, String)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vongdoi"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", &db.url)
        .env("VONGDOI_LOG", "error")
        .env("VONGDOI_SMS_WINDOW", "00:00-24:00")
        .env("VONGDOI_SMS_MAX_SEGMENTS", "10")
        // Retries at once, so a test sees the whole backoff ladder in one run.
        .env("VONGDOI_RETRY_BASE_SECONDS", "0")
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A 3,000-person demo (built once per backend and copied: `support::demo`).
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

fn eml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir.join("outbox/email"))
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// (id, to) of every line of the file outbox's sms.jsonl.
fn sms_lines(dir: &Path) -> BTreeMap<String, String> {
    fs::read_to_string(dir.join("outbox/sms.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["id"].as_str().unwrap().to_string(),
                v["to"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Emails without their Message-ID, sorted: (to, from, subject, text, html).
#[allow(clippy::type_complexity)]
fn without_ids(
    mails: &[common::Mail],
) -> Vec<(String, String, String, Option<String>, Option<String>)> {
    let mut v: Vec<_> = mails
        .iter()
        .map(|m| {
            (
                m.to.clone(),
                m.from.clone(),
                m.subject.clone(),
                m.text.clone(),
                m.html.clone(),
            )
        })
        .collect();
    v.sort();
    v
}

/// `vongdoi messages --format json` rows.
fn messages(db: &TestDb, dir: &Path, filter: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["messages", "--format", "json", "--limit", "100000"];
    args.extend_from_slice(filter);
    serde_json::from_str(&run(db, dir, &args, &[])).unwrap()
}

async fn a_real_smtp_server_receives_exactly_the_emails_of_the_file_outbox(db: TestDb) {
    let b = db.backend;
    let (files, served) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let reference = common::sqlite().await;
    demo(&reference);
    demo(&db);
    let maildir = served.path().join("maildir");
    let smtp = smtp_server(&maildir);
    // Email first wherever there is an address: more emails to compare.
    let prefer_email = ("VONGDOI_CHANNELS", "email,sms".to_string());
    run(
        &reference,
        files.path(),
        &["run", "--as-of", DAY],
        std::slice::from_ref(&prefer_email),
    );
    let smtp_url = (
        "VONGDOI_SMTP_URL",
        format!("smtp://127.0.0.1:{}", smtp.port),
    );
    run(
        &db,
        served.path(),
        &["run", "--as-of", DAY],
        &[prefer_email.clone(), smtp_url.clone()],
    );

    let expected = mail_digest(
        &eml_files(files.path())
            .iter()
            .map(|p| p.as_path())
            .collect::<Vec<_>>(),
    );
    let received = mail_digest(&[&maildir]);
    assert!(
        expected.len() >= 10,
        "{b}: a 3,000-person registry sends a dozen emails or more (reminders about items overdue past the horizon are held back): {}",
        expected.len()
    );
    // Message ids are keyed by each database's secret: the same emails, their ids aside.
    assert_eq!(
        without_ids(&received),
        without_ids(&expected),
        "{b}: SMTP got exactly the file outbox's emails"
    );
    assert!(
        eml_files(served.path()).is_empty(),
        "{b}: no .eml files once SMTP is configured"
    );
    assert!(
        received
            .iter()
            .all(|m| m.html.is_some() && m.text.is_some()),
        "{b}: plain text and HTML"
    );

    // The same day again sends nothing more.
    run(
        &db,
        served.path(),
        &["run", "--as-of", DAY],
        &[prefer_email, smtp_url],
    );
    assert_eq!(mail_digest(&[&maildir]).len(), expected.len(), "{b}");
    let sent = messages(
        &db,
        served.path(),
        &["--channel", "email", "--status", "sent"],
    );
    assert_eq!(sent.len(), expected.len(), "{b}");
}
on_each_backend!(a_real_smtp_server_receives_exactly_the_emails_of_the_file_outbox);

const CITIZENS: &str = "personal_id,full_name,sex,date_of_birth,date_of_death,commune_code,household_id,mother_id,father_id,guardian_id,phone,email,language
001086000004,Lê Văn Cường,M,1986-12-01,,00004,HK2,,,,0912000005,nobody@example.vn,vi
001086000005,Phạm Văn Dũng,M,1986-12-02,,00004,HK3,,,,,busy@example.vn,vi
001196000001,Trần Thị Lan,F,1996-04-02,,00004,HK1,,,,0912345671,lan@example.vn,vi
001226000002,Nguyễn Văn An,M,2026-09-20,,00004,HK1,001196000001,,,,,vi
001326000003,Nguyễn Thị Bình,F,2026-09-20,,00004,HK1,001196000001,,,,,vi
";
// Cường and Dũng: cards from 2021 (age 34), renewal at 40 in December 2026: a notice is due.
// The twins: birth doses given, next doses due 2026-11-20 — overdue on 11-25.
const CARDS: &str = "personal_id,issued_on\n001086000004,2021-03-01\n001086000005,2021-03-01\n001196000001,2021-05-01\n";
const DOSES: &str = "personal_id,vaccine,date_given,place
001226000002,HEPB,2026-09-20,
001226000002,BCG,2026-09-21,
001326000003,HEPB,2026-09-20,
001326000003,BCG,2026-09-21,
";

fn load_people(db: &TestDb, dir: &Path) {
    for (name, text, kind) in [
        ("c.csv", CITIZENS, "citizens"),
        ("i.csv", CARDS, "id-cards"),
        ("d.csv", DOSES, "immunizations"),
    ] {
        fs::write(dir.join(name), text).unwrap();
        run(db, dir, &["import", kind, name], &[]);
    }
}

async fn smtp_refusals_retry_or_fall_back_to_sms(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    load_people(&db, dir.path());
    let maildir = dir.path().join("maildir");
    let smtp = smtp_server(&maildir);
    let envs = [
        ("VONGDOI_CHANNELS", "email,sms".to_string()),
        (
            "VONGDOI_SMTP_URL",
            format!("smtp://127.0.0.1:{}", smtp.port),
        ),
    ];
    run(&db, dir.path(), &["run", "--as-of", DAY], &envs);
    let mails = mail_digest(&[&maildir]);
    let to: Vec<&str> = mails.iter().map(|m| m.to.as_str()).collect();
    // busy@ was refused twice with 451 (transient), then accepted: once, not three times.
    assert_eq!(
        to.iter().filter(|t| **t == "busy@example.vn").count(),
        1,
        "{b}: {to:?}"
    );
    assert!(!to.contains(&"nobody@example.vn"), "{b}");
    // nobody@ got 550 (permanent): a dead letter, and the notice went by SMS instead.
    let dead = messages(&db, dir.path(), &["--status", "dead"]);
    assert_eq!(dead.len(), 1, "{b}: {dead:?}");
    let error = dead[0]["last_error"].as_str().unwrap();
    assert!(
        error.contains("550") && error.contains("other channel"),
        "{b}: {error}"
    );
    assert_eq!(
        dead[0]["attempts"], 1,
        "{b}: permanent failures are not retried"
    );
    let sms = sms_lines(dir.path());
    assert_eq!(
        sms.values().filter(|to| *to == "+84912000005").count(),
        1,
        "{b}: fallback SMS {sms:?}"
    );
    let busy = messages(&db, dir.path(), &["--channel", "email", "--status", "sent"]);
    assert!(
        busy.iter().any(|m| m["attempts"] == 3),
        "{b}: two 451s then success: {busy:?}"
    );
}
on_each_backend!(smtp_refusals_retry_or_fall_back_to_sms);

async fn gateway_faults_are_retried_or_dead_and_every_sms_reaches_the_gateway_once(db: TestDb) {
    let b = db.backend;
    let (files, served) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let reference = common::sqlite().await;
    demo(&reference);
    demo(&db);
    run(&reference, files.path(), &["run", "--as-of", DAY], &[]);
    let log = served.path().join("gateway.jsonl");
    let gateway = fixture("python3", "sms_gateway.py", &[&log, Path::new("faults")]);
    let envs = [
        (
            "VONGDOI_SMS_URL",
            format!("http://127.0.0.1:{}/send", gateway.port),
        ),
        ("VONGDOI_SMS_SUCCESS", "status=queued".to_string()),
        ("VONGDOI_SMS_TIMEOUT_SECONDS", "1".to_string()),
    ];
    run(&db, served.path(), &["run", "--as-of", DAY], &envs);
    assert!(
        sms_lines(served.path()).is_empty(),
        "{b}: no sms.jsonl once a gateway is configured"
    );
    // Every SMS of this database reached the gateway at least once (ids are keyed by the
    // database's own secret), and they are those the file outbox of another database holds:
    // the same numbers, as often.
    let expected: BTreeMap<String, String> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                r["id"].as_str().unwrap().to_string(),
                r["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let ids: BTreeSet<String> = messages(&db, served.path(), &["--channel", "sms"])
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        expected.keys().cloned().collect::<BTreeSet<_>>(),
        "{b}"
    );
    let numbers = |m: &BTreeMap<String, String>| {
        let mut v: Vec<String> = m.values().cloned().collect();
        v.sort();
        v
    };
    assert_eq!(numbers(&expected), numbers(&sms_lines(files.path())), "{b}");

    let requests: Vec<serde_json::Value> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let with = |outcome: &str| -> Vec<(String, String)> {
        requests
            .iter()
            .filter(|r| r["outcome"] == outcome)
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_string(),
                    r["to"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let last = |digit: char| {
        expected
            .iter()
            .filter(move |(_, to)| to.ends_with(digit))
            .map(|(id, _)| id.clone())
    };
    let accepted: BTreeSet<String> = with("accepted").into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        accepted.len(),
        with("accepted").len(),
        "{b}: each id accepted once"
    );
    // Every SMS the file outbox holds reached the gateway, except the invalid numbers.
    let wanted: BTreeSet<String> = expected
        .iter()
        .filter(|(_, to)| !to.ends_with('1'))
        .map(|(id, _)| id.clone())
        .collect();
    assert!(wanted.len() > 100, "{b}: {}", wanted.len());
    assert_eq!(accepted, wanted, "{b}");
    // 500 twice then success; 429 once; 400 never retried.
    assert_eq!(with("500").len(), 2 * last('0').count(), "{b}");
    assert_eq!(with("429").len(), last('4').count(), "{b}");
    assert_eq!(
        with("400").len(),
        last('1').count(),
        "{b}: a permanent failure is tried once"
    );
    // A reply lost to the timeout: the retry carries the same id, the gateway drops it as a
    // duplicate; nothing else crossed the wire twice.
    let duplicates: BTreeSet<String> = with("duplicate").into_iter().map(|(id, _)| id).collect();
    let slow: BTreeSet<String> = last('2').collect();
    assert!(
        !slow.is_empty() && duplicates == slow,
        "{b}: duplicates {} vs lost replies {}",
        duplicates.len(),
        slow.len()
    );

    let dead = messages(
        &db,
        served.path(),
        &["--channel", "sms", "--status", "dead"],
    );
    let dead_ids: BTreeSet<String> = dead
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(dead_ids, last('1').collect::<BTreeSet<_>>(), "{b}");
    assert!(
        dead.iter()
            .all(|m| m["last_error"].as_str().unwrap().contains("400")),
        "{b}"
    );
    let sent = messages(
        &db,
        served.path(),
        &["--channel", "sms", "--status", "sent"],
    );
    assert_eq!(sent.len(), wanted.len(), "{b}");
    assert!(
        sent.iter().all(|m| m["provider_id"]
            .as_str()
            .is_some_and(|p| p.starts_with('P'))),
        "{b}: the gateway's id is kept"
    );

    // The same day again: not one more request.
    let before = requests.len();
    run(&db, served.path(), &["run", "--as-of", DAY], &envs);
    assert_eq!(
        fs::read_to_string(&log).unwrap().lines().count(),
        before,
        "{b}"
    );
}
on_each_backend!(gateway_faults_are_retried_or_dead_and_every_sms_reaches_the_gateway_once);

async fn an_invalid_number_falls_back_to_email(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    load_people(&db, dir.path());
    let log = dir.path().join("gateway.jsonl");
    let gateway = fixture("python3", "sms_gateway.py", &[&log, Path::new("faults")]);
    let envs = [
        (
            "VONGDOI_SMS_URL",
            format!("http://127.0.0.1:{}/send", gateway.port),
        ),
        ("VONGDOI_SMS_SUCCESS", "status=queued".to_string()),
    ];
    // On 11-25 the twins' doses are overdue: their mother's number (…1) is refused.
    run(&db, dir.path(), &["run", "--as-of", "2026-11-25"], &envs);
    let mails = mail_digest(
        &eml_files(dir.path())
            .iter()
            .map(|p| p.as_path())
            .collect::<Vec<_>>(),
    );
    let to_lan: Vec<_> = mails.iter().filter(|m| m.to == "lan@example.vn").collect();
    assert_eq!(to_lan.len(), 1, "{b}: {mails:?}");
    let text = to_lan[0].text.as_deref().unwrap();
    assert!(
        text.contains("Nguyễn Văn An") && text.contains("Nguyễn Thị Bình"),
        "{b}: both twins, with marks: {text}"
    );
    let dead = messages(&db, dir.path(), &["--status", "dead"]);
    assert_eq!(dead.len(), 1, "{b}: {dead:?}");
    assert_eq!(dead[0]["channel"], "sms", "{b}");
}
on_each_backend!(an_invalid_number_falls_back_to_email);

/// Runs `vongdoi ARGS` like `run`, but gives up (kills it) after `limit`; returns whether it
/// exited successfully within the limit, how long it took, stdout and stderr.
fn run_bounded(
    db: &TestDb,
    dir: &Path,
    args: &[&str],
    envs: &[(&str, String)],
    limit: std::time::Duration,
) -> (bool, std::time::Duration, String, String) {
    let started = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vongdoi"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", &db.url)
        .env("VONGDOI_LOG", "error")
        .env("VONGDOI_SMS_WINDOW", "00:00-24:00")
        .env("VONGDOI_SMS_MAX_SEGMENTS", "10")
        .env("VONGDOI_RETRY_BASE_SECONDS", "0")
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ok = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.success();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let elapsed = started.elapsed();
    let out = child.wait_with_output().unwrap();
    (
        ok && elapsed <= limit,
        elapsed,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An SMTP server that stops answering — before its greeting, after DATA, after 354 — costs
/// a run one SMTP timeout per message, not for ever: each email ends queued for a later retry
/// with the reason, none is left `sending` (issue #10).
#[tokio::test]
async fn a_hung_smtp_server_costs_one_timeout_per_email() {
    for mode in ["greeting", "data", "dot"] {
        for db in all_backends().await {
            let b = db.backend;
            let dir = tempfile::tempdir().unwrap();
            load_people(&db, dir.path());
            let log = dir.path().join("smtp.log");
            let smtp = fixture("python3", "hung_smtp.py", &[Path::new(mode), &log]);
            let envs = [
                ("VONGDOI_CHANNELS", "email,sms".to_string()),
                (
                    "VONGDOI_SMTP_URL",
                    format!("smtp://127.0.0.1:{}", smtp.port),
                ),
                ("VONGDOI_SMTP_TIMEOUT_SECONDS", "2".to_string()),
                ("VONGDOI_SMTP_CONNECTIONS", "2".to_string()),
                // A timed-out email waits for a later run (not retried within this one).
                ("VONGDOI_RETRY_BASE_SECONDS", "600".to_string()),
            ];
            let (ok, took, _, err) = run_bounded(
                &db,
                dir.path(),
                &["run", "--as-of", DAY],
                &envs,
                std::time::Duration::from_secs(30),
            );
            assert!(ok, "{b}/{mode}: run did not end in 30 s ({took:?}): {err}");
            let emails = messages(&db, dir.path(), &["--channel", "email"]);
            let n = emails.len();
            assert!(n >= 2, "{b}/{mode}: {emails:?}");
            // Two connections, 2 s each: ceil(n / 2) timeouts, plus the run itself.
            let bound = std::time::Duration::from_secs(2 * n.div_ceil(2) as u64 + 8);
            assert!(took < bound, "{b}/{mode}: {took:?} for {n} emails");
            eprintln!("{b}/{mode}: {n} emails, run took {took:.1?}");
            for m in &emails {
                assert_eq!(m["status"], "queued", "{b}/{mode}: {m}");
                assert_eq!(m["attempts"], 1, "{b}/{mode}: {m}");
                let error = m["last_error"].as_str().unwrap_or_default();
                assert!(
                    error.contains("no answer within 2 s"),
                    "{b}/{mode}: {error}"
                );
            }
            let seen = fs::read_to_string(&log).unwrap_or_default();
            let reached = match mode {
                "greeting" => "connect",
                "data" => "DATA",
                _ => "dot",
            };
            assert!(seen.contains(reached), "{b}/{mode}: the server saw {seen}");
        }
    }
}

/// The gateway's reply is bounded too: headers then silence mid-body ends at the SMS timeout,
/// and a 5 MB error body is neither waited for whole nor stored.
#[tokio::test]
async fn a_gateway_that_stalls_or_floods_its_reply_costs_one_timeout() {
    for mode in ["stall", "huge"] {
        for db in all_backends().await {
            let b = db.backend;
            let dir = tempfile::tempdir().unwrap();
            load_people(&db, dir.path());
            let log = dir.path().join("gateway.jsonl");
            let gateway = fixture("python3", "sms_gateway.py", &[&log, Path::new(mode)]);
            let envs = [
                (
                    "VONGDOI_SMS_URL",
                    format!("http://127.0.0.1:{}/send", gateway.port),
                ),
                ("VONGDOI_SMS_SUCCESS", "status=queued".to_string()),
                ("VONGDOI_SMS_TIMEOUT_SECONDS", "2".to_string()),
                ("VONGDOI_RETRY_BASE_SECONDS", "600".to_string()),
            ];
            let (ok, took, _, err) = run_bounded(
                &db,
                dir.path(),
                &["run", "--as-of", DAY],
                &envs,
                std::time::Duration::from_secs(30),
            );
            assert!(ok, "{b}/{mode}: {took:?}: {err}");
            assert!(
                took < std::time::Duration::from_secs(12),
                "{b}/{mode}: {took:?}"
            );
            let sms = messages(&db, dir.path(), &["--channel", "sms"]);
            assert!(!sms.is_empty(), "{b}/{mode}");
            for m in &sms {
                assert_eq!(m["status"], "queued", "{b}/{mode}: {m}");
                let error = m["last_error"].as_str().unwrap_or_default();
                assert!(error.chars().count() <= 501, "{b}/{mode}: {}", error.len());
            }
        }
    }
}

/// A gateway reply holding NUL bytes and terminal escapes, stored as the error or the
/// provider's id, does not abort the run on PostgreSQL (it stranded messages in `sending`):
/// what is stored is cleaned; every message ends sent or dead (issue #10).
async fn nul_bytes_from_the_gateway_are_stored_clean_on_both_backends(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    demo(&db);
    let log = dir.path().join("gateway.jsonl");
    let gateway = fixture("python3", "sms_gateway.py", &[&log, Path::new("nul")]);
    let envs = [
        (
            "VONGDOI_SMS_URL",
            format!("http://127.0.0.1:{}/send", gateway.port),
        ),
        ("VONGDOI_SMS_SUCCESS", "status=queued".to_string()),
    ];
    let (ok, took, out, err) = run_bounded(
        &db,
        dir.path(),
        &["run", "--as-of", DAY],
        &envs,
        std::time::Duration::from_secs(120),
    );
    assert!(ok, "{b}: the run failed ({took:?}): {err}\n{out}");
    let sms = messages(&db, dir.path(), &["--channel", "sms"]);
    assert!(sms.len() > 100, "{b}: {}", sms.len());
    let (mut sent, mut dead) = (0, 0);
    for m in &sms {
        let text = format!(
            "{}{}",
            m["last_error"].as_str().unwrap_or_default(),
            m["provider_id"].as_str().unwrap_or_default()
        );
        assert!(!text.chars().any(char::is_control), "{b}: {m}");
        match m["status"].as_str().unwrap() {
            "sent" => {
                sent += 1;
                let p = m["provider_id"].as_str().unwrap();
                assert!(p.starts_with("P ") && p.len() == 10, "{b}: {p:?}");
            }
            "dead" => {
                dead += 1;
                let e = m["last_error"].as_str().unwrap();
                assert!(e.contains("400") && e.contains("bad byte"), "{b}: {e}");
            }
            other => panic!("{b}: a message left {other}: {m}"),
        }
    }
    assert!(sent > 0 && dead > 0, "{b}: sent {sent}, dead {dead}");
}
on_each_backend!(nul_bytes_from_the_gateway_are_stored_clean_on_both_backends);

/// The generic preset no longer counts any 2xx as sent: without a success test it refuses to
/// start and says what to set; with one, an HTML page or a JSON "failed" is not a send.
async fn garbage_200_replies_are_not_sent(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    demo(&db);
    let log = dir.path().join("gateway.jsonl");
    let gateway = fixture("python3", "sms_gateway.py", &[&log, Path::new("html")]);
    let url = (
        "VONGDOI_SMS_URL",
        format!("http://127.0.0.1:{}/send", gateway.port),
    );
    let limit = std::time::Duration::from_secs(60);
    let (ok, _, _, err) = run_bounded(
        &db,
        dir.path(),
        &["run", "--as-of", DAY],
        std::slice::from_ref(&url),
        limit,
    );
    assert!(!ok && err.contains("VONGDOI_SMS_SUCCESS"), "{b}: {err}");
    assert!(
        fs::read_to_string(&log).unwrap_or_default().is_empty(),
        "{b}: refused before the first request"
    );
    let envs = [
        url,
        ("VONGDOI_SMS_SUCCESS", "status=queued".to_string()),
        ("VONGDOI_MAX_ATTEMPTS", "2".to_string()),
        ("VONGDOI_CHANNELS", "sms".to_string()),
    ];
    let (ok, _, _, err) = run_bounded(&db, dir.path(), &["run", "--as-of", DAY], &envs, limit);
    assert!(ok, "{b}: {err}");
    let sms = messages(&db, dir.path(), &["--channel", "sms"]);
    assert!(!sms.is_empty(), "{b}");
    let (mut html, mut refused) = (0, 0);
    for m in &sms {
        assert_eq!(m["status"], "dead", "{b}: {m}");
        let e = m["last_error"].as_str().unwrap();
        if e.contains("<html>") {
            // Not JSON: the gateway may or may not have it, so it was retried.
            assert_eq!(m["attempts"], 2, "{b}: {m}");
            html += 1;
        } else {
            assert!(e.contains("status = failed"), "{b}: {e}");
            assert_eq!(m["attempts"], 1, "{b}: a refusal is not retried: {m}");
            refused += 1;
        }
    }
    assert!(html + refused == sms.len() && html > 0, "{b}: {sms:?}");
}
on_each_backend!(garbage_200_replies_are_not_sent);

/// A tmpfs of `size` mounted on a fresh folder, unmounted when dropped; None (with the reason
/// printed) where mounting is not allowed — except under CI=true, where that is a failure.
struct TinyDisk {
    dir: tempfile::TempDir,
}

impl TinyDisk {
    fn mount(size: &str) -> Option<TinyDisk> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(TinyDisk { dir }),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true but a tmpfs cannot be mounted (the full-disk test needs root): {why}"
                );
                eprintln!("note: full-disk test skipped: cannot mount a tmpfs ({why})");
                None
            }
        }
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A disk that fills up mid-run (a real one: a 48 KiB tmpfs under the outbox) leaves whole
/// lines in sms.jsonl and no temporary email files; what the outbox holds is exactly what is
/// marked sent, and nothing is left `sending` (issue #10).
async fn a_full_disk_leaves_whole_lines_and_no_temporary_files(db: TestDb) {
    let b = db.backend;
    let Some(disk) = TinyDisk::mount("16k") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    demo(&db);
    let outbox = disk.dir.path().join("outbox");
    let envs = [
        ("VONGDOI_OUTBOX_DIR", outbox.display().to_string()),
        ("VONGDOI_MAX_ATTEMPTS", "3".to_string()),
    ];
    let (ok, took, _, err) = run_bounded(
        &db,
        dir.path(),
        &["run", "--as-of", DAY],
        &envs,
        std::time::Duration::from_secs(120),
    );
    assert!(ok, "{b}: {took:?}: {err}");
    let text = fs::read(outbox.join("sms.jsonl")).unwrap();
    let text = String::from_utf8(text).expect("UTF-8: no line cut inside a character");
    assert!(text.ends_with('\n'), "{b}: the last line is whole");
    let mut written = BTreeSet::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{b}: a torn line ({e}): {line:?}"));
        assert!(
            written.insert(v["id"].as_str().unwrap().to_string()),
            "{b}: {line}"
        );
    }
    let leftovers: Vec<String> = fs::read_dir(outbox.join("email"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".eml"))
        .collect();
    assert!(leftovers.is_empty(), "{b}: {leftovers:?}");
    let all = messages(&db, dir.path(), &[]);
    let sent = |channel: &str| -> BTreeSet<String> {
        all.iter()
            .filter(|m| m["channel"] == channel && m["status"] == "sent")
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        written,
        sent("sms"),
        "{b}: sms.jsonl holds what is marked sent"
    );
    let emails: BTreeSet<String> = eml_files(disk.dir.path())
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        emails,
        sent("email"),
        "{b}: the .eml files are what is marked sent"
    );
    let failed = all.iter().filter(|m| m["status"] != "sent").count();
    assert!(failed > 0, "{b}: the disk never filled up; make it smaller");
    assert!(
        all.iter().all(|m| m["status"] != "sending"),
        "{b}: nothing left leased"
    );
    eprintln!(
        "{b}: {} SMS and {} emails written, {failed} messages could not be",
        written.len(),
        emails.len()
    );
}
on_each_backend!(a_full_disk_leaves_whole_lines_and_no_temporary_files);

/// Message ids are an HMAC under a secret of each database: the same recipient, channel and
/// day get one id in one database (whichever instance composes it) and another in the next,
/// and nothing in them is the personal ID (issue #10: an unkeyed hash was reversed in 11 s).
#[tokio::test]
async fn message_ids_are_keyed_per_database_and_stable_within_one() {
    use vongdoi::delivery::{message_id, MessageKey};
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
    for (one, two) in all_backends().await.into_iter().zip(all_backends().await) {
        let b = one.backend;
        let (first, again) = (
            vongdoi::store::Store::connect(&one.url).await.unwrap(),
            vongdoi::store::Store::connect(&one.url).await.unwrap(),
        );
        let other = vongdoi::store::Store::connect(&two.url).await.unwrap();
        let (k1, k1b, k2) = (
            MessageKey::of(&first).await.unwrap(),
            MessageKey::of(&again).await.unwrap(),
            MessageKey::of(&other).await.unwrap(),
        );
        let pin = "001196000001";
        let id = message_id(&k1, pin, "sms", "health", day);
        assert_eq!(
            id,
            message_id(&k1b, pin, "sms", "health", day),
            "{b}: two instances on one database"
        );
        assert_ne!(
            id,
            message_id(&k2, pin, "sms", "health", day),
            "{b}: another database"
        );
        assert!(
            id.starts_with("20261121-sms-") && id.len() == 13 + 20,
            "{b}: {id}"
        );
        for s in [&first, &again, &other] {
            s.close().await;
        }

        // End to end: the ids of a real run differ between the databases, are the file
        // outbox's, and hold no personal ID of the registry.
        let ids = |db: &TestDb| {
            let dir = tempfile::tempdir().unwrap();
            load_people(db, dir.path());
            run(db, dir.path(), &["run", "--as-of", DAY], &[]);
            let listed: BTreeSet<String> = messages(db, dir.path(), &[])
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_string())
                .collect();
            let mut files: BTreeSet<String> = sms_lines(dir.path()).into_keys().collect();
            files.extend(
                eml_files(dir.path())
                    .iter()
                    .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned()),
            );
            assert_eq!(listed, files, "{b}");
            listed
        };
        let (a, z) = (ids(&one), ids(&two));
        assert!(!a.is_empty() && a.len() == z.len(), "{b}");
        assert!(a.is_disjoint(&z), "{b}: {a:?} {z:?}");
        for id in a.iter().chain(&z) {
            let hex = id.rsplit('-').next().unwrap();
            for line in CITIZENS.lines().skip(1) {
                let pin = &line[..12];
                assert!(!hex.contains(&pin[6..]), "{b}: {id} holds {pin}");
            }
        }
    }
}
