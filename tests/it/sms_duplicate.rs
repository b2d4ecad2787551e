//! The SMS gateway's "already received this id" answer (issue #16 point 6): eSMS answers
//! CodeResult 124 to a RequestId it already has, and that is a success. Against the stand-in
//! `sms_gateway.py` in its eSMS mode, on both backends.

use crate::support::{fixture, TestDb};
use crate::zns::{lines, load_families, messages, run_day};
use std::path::Path;

/// eSMS answers CodeResult 124 to a RequestId it already has: after a lost reply, the retry's
/// 124 is a success, not a dead letter, and the SMS went once.
async fn an_esms_duplicate_answer_is_a_success(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let phones = load_families(&db, dir, &[2, 9]);
    let log = dir.join("sms.jsonl");
    let sms = fixture("python3", "sms_gateway.py", &[&log, Path::new("esms")]);
    let env: Vec<(String, String)> = [
        ("VONGDOI_CHANNELS", "sms".to_string()),
        ("VONGDOI_SMS_PRESET", "esms".into()),
        ("VONGDOI_SMS_URL", format!("http://127.0.0.1:{}/", sms.port)),
        ("VONGDOI_SMS_TIMEOUT_SECONDS", "1".into()),
        ("VONGDOI_SMS_WINDOW", "00:00-24:00".into()),
        ("VONGDOI_SMS_MAX_SEGMENTS", "10".into()),
        ("VONGDOI_RETRY_BASE_SECONDS", "0".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    run_day(&db, dir, &env);
    let sms_lines = lines(&log);
    let outcomes = |phone: &str| -> Vec<String> {
        let local = format!("0{}", &phone[2..]);
        (sms_lines.iter())
            .filter(|l| l["to"] == local.as_str())
            .map(|l| l["outcome"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        outcomes(&phones[0]),
        ["accepted", "duplicate"],
        "{b}: lost reply, then 124"
    );
    assert_eq!(outcomes(&phones[1]), ["accepted"], "{b}");
    let all = messages(&db, dir);
    assert_eq!(all.len(), 2, "{b}: {all:#?}");
    assert!(all.iter().all(|m| m["status"] == "sent"), "{b}: {all:#?}");
    assert!(all.iter().any(|m| m["attempts"] == 2), "{b}: {all:#?}");
}
on_each_backend!(an_esms_duplicate_answer_is_a_success);
