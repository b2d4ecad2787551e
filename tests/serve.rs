//! `vongdoi serve` as an operator runs it: a real process on real ports, stopped by SIGTERM.

mod common;

use common::{all_backends, serve, vongdoi};

#[tokio::test]
async fn health_metrics_and_a_clean_stop() {
    for db in all_backends().await {
        let b = db.backend;
        let dir = tempfile::tempdir().unwrap();
        let mut served = serve(&db, dir.path(), &["--no-schedule"], &[]);
        let http = reqwest::Client::new();
        let health = http.get(format!("{}/healthz", served.base)).send().await.unwrap();
        assert_eq!(health.status(), 200, "{b}");
        let body: serde_json::Value = health.json().await.unwrap();
        assert_eq!(body["status"], "ok", "{b}: {body}");
        assert_eq!(body["database"], b, "{b}: {body}");

        let metrics = http.get(format!("{}/metrics", served.metrics)).send().await.unwrap();
        assert_eq!(metrics.status(), 200, "{b}");
        let text = metrics.text().await.unwrap();
        for family in ["vongdoi_runs_total", "vongdoi_scheduler_lag_seconds", "vongdoi_outbox_messages"] {
            assert!(text.contains(&format!("# TYPE {family} ")), "{b}: {family} in {text}");
        }
        // Metrics are not on the public listener.
        let hidden = http.get(format!("{}/metrics", served.base)).send().await.unwrap();
        assert_eq!(hidden.status(), 404, "{b}");

        let (ok, printed) = served.terminate();
        assert!(ok, "{b}: SIGTERM ends serve with success: {printed}");
        assert!(printed.contains("stopped"), "{b}: {printed}");
        // And the database is left usable.
        assert!(vongdoi(&db, dir.path(), &["summary"]).0, "{b}");
    }
}
