//! `vongdoi serve` and issue #14's runs: two services on one database share a full pass and
//! send each message once; a run that fails because the database refuses it is tried again
//! until it finishes, and says so in `/healthz` and the metrics meanwhile.

use crate::support as common;

use common::{serve, Served, TestDb};
use std::path::Path;

fn vongdoi(db: &TestDb, dir: &Path, args: &[&str]) -> String {
    common::vongdoi_ok(db, dir, args, &[("VONGDOI_SMS_WINDOW", "00:00-24:00")])
}

/// The day a service started now owes (06:00 Vietnam time decides which).
fn owed_day() -> String {
    let now = chrono::Utc::now() + chrono::Duration::hours(7) - chrono::Duration::hours(6);
    now.date_naive().to_string()
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

async fn metrics_of(http: &reqwest::Client, served: &Served) -> String {
    let url = format!("{}/metrics", served.metrics);
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// Waits (up to two minutes) until the service's run of the day has finished; its metrics.
async fn finished(http: &reqwest::Client, served: &Served) -> String {
    for _ in 0..1_200 {
        let text = metrics_of(http, served).await;
        if metric(&text, "vongdoi_runs_total{result=\"finished\"}") == Some(1.0) {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no run finished within two minutes");
}

/// SMS lines without their ids (each database keys ids with its own secret), sorted; a
/// message written twice shows as a repeated line.
fn sms_lines(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(dir.join("outbox/sms.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("id");
            v.to_string()
        })
        .collect();
    v.sort();
    v
}

async fn two_services_share_a_full_pass_and_send_each_message_once(db: TestDb) {
    let b = db.backend;
    let reference = common::sqlite().await;
    let (dir, ref_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let demo = ["demo", "--population", "3000", "--seed", "7"];
    vongdoi(&db, dir.path(), &demo);
    vongdoi(&reference, ref_dir.path(), &demo);
    vongdoi(&reference, ref_dir.path(), &["run", "--as-of", &owed_day()]);
    // Twenty shards of 150 citizens: enough that both services get some.
    let envs = [
        ("VONGDOI_SMS_WINDOW", "00:00-24:00"),
        ("VONGDOI_SHARD_SIZE", "150"),
    ];
    let args = ["--schedule", "0 0 6 * * *"];
    let (mut one, mut two) = (
        serve(&db, dir.path(), &args, &envs),
        serve(&db, dir.path(), &args, &envs),
    );
    let http = reqwest::Client::new();
    let (m1, m2) = (finished(&http, &one).await, finished(&http, &two).await);
    let evaluated = |m: &str| metric(m, "vongdoi_citizens_evaluated_total").unwrap_or(0.0);
    let (e1, e2) = (evaluated(&m1), evaluated(&m2));
    assert_eq!(e1 + e2, 3000.0, "{b}: everyone evaluated once between them");
    assert!(
        e1 > 0.0 && e2 > 0.0,
        "{b}: both services scanned ({e1} + {e2})"
    );
    // Both finished the day; give the delivery workers a moment to drain, then stop.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(one.terminate().0 && two.terminate().0, "{b}");
    let (got, want) = (sms_lines(dir.path()), sms_lines(ref_dir.path()));
    assert!(!want.is_empty(), "{b}");
    assert_eq!(got, want, "{b}: the SMS of one undisturbed run, none twice");
}
on_each_backend!(two_services_share_a_full_pass_and_send_each_message_once);

/// Runs one statement on the test database (both backends read this SQL).
async fn execute(db: &TestDb, sql: &str) {
    if db.url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

async fn a_failed_run_is_retried_until_it_finishes(db: TestDb) {
    let b = db.backend;
    let reference = common::sqlite().await;
    let (dir, ref_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let demo = ["demo", "--population", "2000", "--seed", "8"];
    vongdoi(&db, dir.path(), &demo);
    vongdoi(&reference, ref_dir.path(), &demo);
    vongdoi(&reference, ref_dir.path(), &["run", "--as-of", &owed_day()]);
    // The database refuses every notice: the table is not where the service writes.
    execute(&db, "ALTER TABLE notices RENAME TO notices_away").await;
    let envs = [("VONGDOI_SMS_WINDOW", "00:00-24:00")];
    let mut served = serve(&db, dir.path(), &["--schedule", "0 0 6 * * *"], &envs);
    let http = reqwest::Client::new();
    let health = || async {
        let url = format!("{}/healthz", served.base);
        let res = http.get(url).send().await.unwrap();
        res.json::<serde_json::Value>().await.unwrap()
    };
    let mut retrying = serde_json::Value::Null;
    for _ in 0..300 {
        retrying = health().await["run_retrying"].clone();
        if !retrying.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(retrying["as_of"], owed_day().as_str(), "{b}: {retrying}");
    assert!(
        retrying["error"].as_str().unwrap().contains("notices"),
        "{b}: the error says what failed: {retrying}"
    );
    let m = metrics_of(&http, &served).await;
    assert_eq!(metric(&m, "vongdoi_run_retrying"), Some(1.0), "{b}");
    assert_eq!(
        metric(&m, "vongdoi_runs_total{result=\"finished\"}"),
        Some(0.0),
        "{b}"
    );
    // The operator mends the database; the next try finishes the day.
    execute(&db, "ALTER TABLE notices_away RENAME TO notices").await;
    let m = finished(&http, &served).await;
    assert_eq!(metric(&m, "vongdoi_run_retrying"), Some(0.0), "{b}");
    assert!(
        metric(&m, "vongdoi_runs_total{result=\"failed\"}").unwrap() >= 1.0,
        "{b}"
    );
    assert!(health().await["run_retrying"].is_null(), "{b}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(served.terminate().0, "{b}");
    let (got, want) = (sms_lines(dir.path()), sms_lines(ref_dir.path()));
    assert!(!want.is_empty(), "{b}");
    assert_eq!(got, want, "{b}: the day went out whole once it could");
}
on_each_backend!(a_failed_run_is_retried_until_it_finishes);
