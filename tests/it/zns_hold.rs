//! A ZNS held for quota waits (not attempted, not counted, not sent by SMS) until
//! `VONGDOI_ZNS_HOLD_MINUTES` have passed since it was queued. On both backends.

use crate::support::{fixture, TestDb};
use crate::zns::{free_port, lines, load_families, messages, run_day, zns_env, SEED_REFRESH};
use std::path::Path;

async fn a_zns_out_of_quota_waits_for_its_deadline(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // 4: the stand-in answers "out of quota"; 0: sent.
    load_families(&db, dir, &[4, 0]);
    let (zns_log, sms_log) = (dir.join("zns.jsonl"), dir.join("sms.jsonl"));
    let hook = format!("http://127.0.0.1:{}/webhooks/zalo", free_port());
    let zns = fixture(
        "python3",
        "zns_server.py",
        &[&zns_log, Path::new(&hook), Path::new(SEED_REFRESH)],
    );
    let sms = fixture("python3", "sms_gateway.py", &[&sms_log, Path::new("ok")]);
    let env = zns_env(zns.port, sms.port, &[("VONGDOI_ZNS_HOLD_MINUTES", "120")]);
    run_day(&db, dir, &env);
    let all = messages(&db, dir);
    let held: Vec<_> = all.iter().filter(|m| m["status"] == "queued").collect();
    assert_eq!(held.len(), 1, "{b}: {all:#?}");
    assert_eq!(held[0]["channel"], "zns", "{b}");
    assert_eq!(held[0]["attempts"], 0, "{b}: a hold is not an attempt");
    let error = held[0]["last_error"].as_str().unwrap();
    assert!(error.contains("quota"), "{b}: {error}");
    assert!(
        lines(&sms_log).is_empty(),
        "{b}: no SMS before the deadline"
    );
    assert_eq!(
        all.iter().filter(|m| m["status"] == "sent").count(),
        1,
        "{b}: {all:#?}"
    );
    // Run again at once: still before its deadline, still held, still no SMS.
    run_day(&db, dir, &env);
    assert!(lines(&sms_log).is_empty(), "{b}");
}
on_each_backend!(a_zns_out_of_quota_waits_for_its_deadline);
