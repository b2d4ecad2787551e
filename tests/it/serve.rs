//! `vongdoi serve` as an operator runs it: a real process on real ports, stopped by SIGTERM.

use crate::support as common;
use crate::support::TestDb;

use common::{serve, vongdoi};

async fn health_metrics_and_a_clean_stop(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    let mut served = serve(&db, dir.path(), &["--no-schedule"], &[]);
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/healthz", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "{b}");
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok", "{b}: {body}");
    assert_eq!(body["database"], b, "{b}: {body}");

    let metrics = http
        .get(format!("{}/metrics", served.metrics))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200, "{b}");
    let text = metrics.text().await.unwrap();
    for family in [
        "vongdoi_runs_total",
        "vongdoi_scheduler_lag_seconds",
        "vongdoi_outbox_messages",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{b}: {family} in {text}"
        );
    }
    // Metrics are not on the public listener.
    let hidden = http
        .get(format!("{}/metrics", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 404, "{b}");

    let (ok, printed) = served.terminate();
    assert!(ok, "{b}: SIGTERM ends serve with success: {printed}");
    assert!(printed.contains("stopped"), "{b}: {printed}");
    // And the database is left usable.
    assert!(vongdoi(&db, dir.path(), &["summary"]).0, "{b}");
}
on_each_backend!(health_metrics_and_a_clean_stop);

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

async fn wait_for_finished_run(http: &reqwest::Client, served: &common::Served) -> String {
    for _ in 0..600 {
        let text = http
            .get(format!("{}/metrics", served.metrics))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metric(&text, "vongdoi_runs_total{result=\"finished\"}") == Some(1.0) {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no run finished within a minute");
}

/// The scheduled run a service owes when it starts (06:00 today, Vietnam time, or yesterday's
/// before then) runs at once; the gateway's delivery reports mark messages delivered.
async fn the_owed_run_starts_at_once_and_delivery_reports_are_recorded(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    assert!(
        vongdoi(
            &db,
            dir.path(),
            &["demo", "--population", "3000", "--seed", "9"]
        )
        .0
    );
    let mut served = serve(
        &db,
        dir.path(),
        &["--schedule", "0 0 6 * * *", "--webhook-token", "s3cret"],
        &[("VONGDOI_SMS_WINDOW", "00:00-24:00")],
    );
    let http = reqwest::Client::new();
    let text = wait_for_finished_run(&http, &served).await;
    assert!(
        metric(&text, "vongdoi_citizens_evaluated_total") == Some(3000.0),
        "{b}: {text}"
    );
    assert_eq!(
        metric(&text, "vongdoi_scheduler_lag_seconds"),
        Some(0.0),
        "{b}: {text}"
    );
    let sent = metric(
        &text,
        "vongdoi_messages_total{channel=\"sms\",outcome=\"sent\"}",
    )
    .unwrap_or(0.0);
    let sms = std::fs::read_to_string(dir.path().join("outbox/sms.jsonl")).unwrap();
    assert!(
        sent > 0.0 && sent as usize == sms.lines().count(),
        "{b}: {sent} vs {}",
        sms.lines().count()
    );

    let id = serde_json::from_str::<serde_json::Value>(sms.lines().next().unwrap()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let report = |token: &str, body: serde_json::Value| {
        http.post(format!("{}/webhooks/sms?token={token}", served.base))
            .json(&body)
            .send()
    };
    let wrong = report("nope", serde_json::json!({"id": id, "status": "delivered"}))
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401, "{b}");
    let unknown = report(
        "s3cret",
        serde_json::json!({"id": "20991231-sms-0", "status": "delivered"}),
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), 404, "{b}");
    let bad = report("s3cret", serde_json::json!({"id": id, "status": "maybe"}))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400, "{b}");
    assert_eq!(
        bad.headers()["content-type"],
        "application/problem+json",
        "{b}"
    );
    // eSMS-style field names work too.
    let ok = report(
        "s3cret",
        serde_json::json!({"RequestId": id, "SendStatus": "5"}),
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 200, "{b}");
    let (_, out, _) = vongdoi(
        &db,
        dir.path(),
        &["messages", "--status", "delivered", "--format", "json"],
    );
    let delivered: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(delivered.len(), 1, "{b}: {out}");
    assert_eq!(delivered[0]["id"], id.as_str(), "{b}");

    let (ok, printed) = served.terminate();
    assert!(ok, "{b}: {printed}");
}
on_each_backend!(the_owed_run_starts_at_once_and_delivery_reports_are_recorded);

/// SIGTERM while a large run is sending through a slow gateway: in-flight sends finish, the
/// rest of the claimed batch and the run's lease are given back, and the next run sends what
/// was left — each message reaches the gateway exactly once.
async fn sigterm_mid_delivery_loses_nothing_and_sends_nothing_twice(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    assert!(
        vongdoi(
            &db,
            dir.path(),
            &["demo", "--population", "4000", "--seed", "3"]
        )
        .0
    );
    let log = dir.path().join("gateway.jsonl");
    let gateway = common::fixture(
        "python3",
        "sms_gateway.py",
        &[&log, std::path::Path::new("slow")],
    );
    let url = format!("http://127.0.0.1:{}/send", gateway.port);
    let envs = [
        ("VONGDOI_SMS_WINDOW", "00:00-24:00"),
        ("VONGDOI_SMS_URL", url.as_str()),
        ("VONGDOI_SMS_SUCCESS", "status=queued"),
        ("VONGDOI_SMS_CONCURRENCY", "4"),
    ];
    let mut served = serve(&db, dir.path(), &["--schedule", "0 0 6 * * *"], &envs);
    // Stop once some, not all, messages have gone out.
    let mut seen = 0;
    for _ in 0..600 {
        seen = std::fs::read_to_string(&log)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if seen >= 20 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen >= 20, "{b}: the run never started sending");
    let (ok, printed) = served.terminate();
    assert!(ok, "{b}: {printed}");
    let (_, out, _) = vongdoi(
        &db,
        dir.path(),
        &["messages", "--status", "sending", "--format", "json"],
    );
    assert_eq!(
        out.trim(),
        "[]",
        "{b}: no message left leased after SIGTERM"
    );
    let before = std::fs::read_to_string(&log).unwrap().lines().count();

    // The next pass (same day: a plain `run` for the service's date) sends the rest.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vongdoi"));
    cmd.args(["run"])
        .current_dir(dir.path())
        .env("DATABASE_URL", &db.url)
        .env("VONGDOI_LOG", "warn");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.env("VONGDOI_SMS_CONCURRENCY", "32");
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{b}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        requests.len() > before,
        "{b}: the rest was sent after the restart"
    );
    let ids: std::collections::BTreeSet<&str> =
        requests.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.len(),
        requests.len(),
        "{b}: no message crossed the wire twice"
    );
    let (_, out, _) = vongdoi(
        &db,
        dir.path(),
        &[
            "messages",
            "--status",
            "sent",
            "--channel",
            "sms",
            "--format",
            "json",
            "--limit",
            "100000",
        ],
    );
    let sent: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(sent.len(), requests.len(), "{b}");
}
on_each_backend!(sigterm_mid_delivery_loses_nothing_and_sends_nothing_twice);

/// SIGTERM during the scan: the scan stops after a committed page and gives the day's lease
/// back, so the next run (another instance, a restart) resumes at once instead of waiting for
/// the lease to run out — and the day ends with exactly the messages of an undisturbed run.
async fn sigterm_mid_scan_gives_the_day_back(db: TestDb) {
    let b = db.backend;
    let reference = common::sqlite().await;
    let (dir, ref_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let demo = ["demo", "--population", "20000", "--seed", "5"];
    assert!(vongdoi(&db, dir.path(), &demo).0 && vongdoi(&reference, ref_dir.path(), &demo).0);
    let envs = [("VONGDOI_SMS_WINDOW", "00:00-24:00")];
    let mut served = serve(&db, dir.path(), &["--schedule", "0 0 6 * * *"], &envs);
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let (ok, printed) = served.terminate();
    assert!(ok, "{b}: {printed}");

    // The day the service was running (06:00 Vietnam time decides which).
    let now = chrono::Utc::now() + chrono::Duration::hours(7) - chrono::Duration::hours(6);
    let day = now.date_naive().to_string();
    let run = |db: &common::TestDb, dir: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vongdoi"))
            .args(["run", "--as-of", &day])
            .current_dir(dir)
            .env("DATABASE_URL", &db.url)
            .env("VONGDOI_LOG", "warn")
            .env("VONGDOI_SMS_WINDOW", "00:00-24:00")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{b}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let resumed = run(&db, dir.path());
    assert!(
        !resumed.contains("another instance"),
        "{b}: the stopped service still holds the day: {resumed}"
    );
    run(&reference, ref_dir.path());
    // Without the ids: each database keys its message ids with its own secret. A message
    // sent twice would still show as a repeated line.
    let lines = |d: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_to_string(d.join("outbox/sms.jsonl"))
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
    };
    let (got, want) = (lines(dir.path()), lines(ref_dir.path()));
    assert!(!want.is_empty(), "{b}");
    assert_eq!(
        got, want,
        "{b}: the same SMS as an undisturbed run, none twice"
    );
}
on_each_backend!(sigterm_mid_scan_gives_the_day_back);

/// Without a token, the delivery-report webhook refuses everyone (an anonymous POST could mark
/// any message failed); the operator may opt in to unsigned reports explicitly (issue #10).
#[tokio::test]
async fn the_webhook_refuses_unsigned_reports_unless_the_operator_opts_in() {
    let db = common::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let report = serde_json::json!({"id": "20261121-sms-00000000000000000000", "status": "failed"});
    let mut served = serve(&db, dir.path(), &["--no-schedule"], &[]);
    let refused = http
        .post(format!("{}/webhooks/sms", served.base))
        .json(&report)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("VONGDOI_WEBHOOK_TOKEN")),
        "{body}"
    );
    assert!(served.terminate().0);

    let mut served = serve(
        &db,
        dir.path(),
        &["--no-schedule"],
        &[("VONGDOI_WEBHOOK_ALLOW_UNSIGNED", "1")],
    );
    let let_in = http
        .post(format!("{}/webhooks/sms", served.base))
        .json(&report)
        .send()
        .await
        .unwrap();
    assert_eq!(let_in.status(), 404, "past the check: no such message");
    assert!(served.terminate().0);
}

/// SIGTERM while emails hang on an SMTP server that never answers the end of the data, with an
/// SMTP timeout longer than any supervisor waits: `serve` is gone within 30 s anyway, and the
/// abandoned emails are queued again, not left `sending` (issue #10).
async fn sigterm_stops_serve_within_30_s_whatever_hangs(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    assert!(
        vongdoi(
            &db,
            dir.path(),
            &["demo", "--population", "3000", "--seed", "9"]
        )
        .0
    );
    let log = dir.path().join("smtp.log");
    let smtp = common::fixture(
        "python3",
        "hung_smtp.py",
        &[std::path::Path::new("dot"), &log],
    );
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let envs = [
        ("VONGDOI_SMS_WINDOW", "00:00-24:00"),
        ("VONGDOI_CHANNELS", "email,sms"),
        ("VONGDOI_SMTP_URL", url.as_str()),
        ("VONGDOI_SMTP_TIMEOUT_SECONDS", "300"),
    ];
    let mut served = serve(&db, dir.path(), &["--schedule", "0 0 6 * * *"], &envs);
    let mut hung = false;
    for _ in 0..600 {
        hung = std::fs::read_to_string(&log).is_ok_and(|s| s.contains("dot"));
        if hung {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(hung, "{b}: no email reached the hung server");
    let signalled = std::time::Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status();
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break Some(status);
        }
        if signalled.elapsed() > std::time::Duration::from_secs(40) {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let took = signalled.elapsed();
    let status = status.unwrap_or_else(|| panic!("{b}: still running 40 s after SIGTERM"));
    eprintln!("{b}: stopped {took:.1?} after SIGTERM");
    assert!(status.success(), "{b}: {status}");
    assert!(took < std::time::Duration::from_secs(30), "{b}: {took:?}");
    let (_, out, _) = vongdoi(
        &db,
        dir.path(),
        &["messages", "--status", "sending", "--format", "json"],
    );
    assert_eq!(out.trim(), "[]", "{b}: leases given back");
    let (_, out, _) = vongdoi(
        &db,
        dir.path(),
        &[
            "messages",
            "--channel",
            "email",
            "--format",
            "json",
            "--limit",
            "100000",
        ],
    );
    let emails: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert!(
        emails.iter().any(|m| m["status"] == "queued"),
        "{b}: the abandoned emails wait for the next pass: {out}"
    );
    assert!(emails.iter().all(|m| m["status"] != "sent"), "{b}: {out}");
    // Only the sends in flight (one per SMTP connection, 8) count as attempted; the rest
    // of the claimed batch was given back untried when the signal came.
    let tried = emails.iter().filter(|m| m["attempts"] != 0).count();
    assert!((1..=8).contains(&tried), "{b}: {tried} attempted: {out}");
}
on_each_backend!(sigterm_stops_serve_within_30_s_whatever_hangs);
