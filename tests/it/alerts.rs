//! Outbreak alerts with two people (issue #15), over HTTP against `vongdoi serve`, the SMS
//! gateway stand-in and a real SMTP server, on both backends: one account drafts a measles
//! alert for children aged 1–10 in two communes with fewer than two valid measles doses; its
//! preview equals what `vongdoi forecast --format json` gives child by child; the drafter
//! cannot approve it, an account of another province can neither see nor approve it, a second
//! account approves; one message per household goes out; a second alert cancelled mid-send
//! stops, and its message list says exactly who was and was not sent.

use crate::support::api::{account, demo, person_session, AS_OF, FAR, HOME, NEIGHBOUR};
use crate::support::{self as common, serve, vongdoi, TestDb};
use chrono::{Months, NaiveDate};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

struct Http {
    http: reqwest::Client,
    base: String,
}

impl Http {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        session: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", session)
            .header(
                "x-csrf-token",
                crate::support::api::csrf_of_session(session),
            );
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str, session: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, session, None).await
    }

    async fn post(&self, path: &str, session: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, session, Some(body))
            .await
    }
}

/// What the rule engine says child by child: the living children of `communes`, at least 1
/// and under 10 on AS_OF, with fewer than 2 valid (completed) measles doses, per commune.
fn expected_audience(db: &TestDb, dir: &Path, communes: &[&str]) -> BTreeMap<String, BTreeSet> {
    let as_of: NaiveDate = AS_OF.parse().unwrap();
    let mut out: BTreeMap<String, BTreeSet> = BTreeMap::new();
    for c in crate::support::api::citizens(db, dir) {
        if !communes.contains(&c["commune_code"].as_str()) {
            continue;
        }
        let born: NaiveDate = c["date_of_birth"].parse().unwrap();
        let dead = !c["date_of_death"].is_empty() && c["date_of_death"].as_str() <= AS_OF;
        let one = born.checked_add_months(Months::new(12)).unwrap();
        let ten = born.checked_add_months(Months::new(120)).unwrap();
        if dead || one > as_of || ten <= as_of {
            continue;
        }
        let pin = &c["personal_id"];
        let (ok, json, err) = vongdoi(
            db,
            dir,
            &["forecast", pin, "--as-of", AS_OF, "--format", "json"],
        );
        assert!(ok, "{err}");
        let f: Value = serde_json::from_str(&json).unwrap();
        let valid = f["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| {
                i["kind"] == "vaccination" && i["series"] == "measles" && i["status"] == "completed"
            })
            .count();
        if valid < 2 {
            out.entry(c["commune_code"].clone())
                .or_default()
                .insert(pin.clone());
        }
    }
    out
}

type BTreeSet = std::collections::BTreeSet<String>;

/// The gateway's accepted message ids.
fn accepted(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["outcome"] == "accepted")
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

async fn wait_for_status(h: &Http, id: i64, session: &str, want: &str) -> Value {
    for _ in 0..600 {
        let (s, a) = h.get(&format!("/api/alerts/{id}"), session).await;
        assert_eq!(s, 200, "{a}");
        if a["status"] == want {
            return a;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("alert {id} never became {want}");
}

fn draft(name: &str, communes: &[&str], age_to: &str) -> Value {
    json!({
        "name": name, "template": "measles-outbreak", "as_of": AS_OF,
        "communes": communes, "age_from": "1 year", "age_to": age_to,
        "conditions": [{"series": "measles", "valid_doses_below": 2}]
    })
}

async fn two_people_alert_a_households_and_a_cancel_stops_the_rest(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let drafter = account(
        &db,
        dir,
        "soan.canhbao",
        &["--role", "health", "--province", "01"],
    );
    let approver = account(
        &db,
        dir,
        "duyet.canhbao",
        &["--role", "health", "--province", "01"],
    );
    let one_commune = account(
        &db,
        dir,
        "tram.xa",
        &["--role", "health", "--commune", HOME],
    );
    let far = account(
        &db,
        dir,
        "hcm.yte",
        &["--role", "health", "--province", "79"],
    );
    let log = dir.join("gateway.jsonl");
    let gateway = common::fixture("python3", "sms_gateway.py", &[&log, Path::new("ok")]);
    let maildir = dir.join("maildir");
    let smtp = common::smtp_server(&maildir);
    let sms_url = format!("http://127.0.0.1:{}/send", gateway.port);
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let envs = [
        ("VONGDOI_SMS_WINDOW", "00:00-24:00"),
        ("VONGDOI_SMS_URL", sms_url.as_str()),
        ("VONGDOI_SMS_SUCCESS", "status=queued"),
        ("VONGDOI_SMTP_URL", smtp_url.as_str()),
        // Email first where there is an address: both channels carry the alert.
        ("VONGDOI_CHANNELS", "email,sms"),
        // Slow enough that the second alert is cancelled mid-send.
        ("VONGDOI_SMS_RATE", "25"),
    ];
    let served = serve(
        &db,
        dir,
        &[
            "--no-schedule",
            "--deliver-every",
            "0.3",
            "--webhook-token",
            "alert-token",
        ],
        &envs,
    );
    let h = Http {
        http: crate::support::api::no_redirects(),
        base: served.base.clone(),
    };
    let s_drafter = person_session(&h.http, &h.base, &drafter).await;
    let s_approver = person_session(&h.http, &h.base, &approver).await;
    let s_commune = person_session(&h.http, &h.base, &one_commune).await;
    let s_far = person_session(&h.http, &h.base, &far).await;

    // A commune's nurse cannot draft for a commune outside her area.
    let (s, p) = h
        .post(
            "/api/alerts",
            &s_commune,
            draft("x", &[HOME, NEIGHBOUR], "10 years"),
        )
        .await;
    assert_eq!(s, 403, "{b}: {p}");
    // A draft with mistakes names every field.
    let (s, p) = h
        .post("/api/alerts", &s_drafter, json!({"name": "", "template": "nope", "communes": ["99999"], "age_from": "1 year", "age_to": "1 year", "conditions": [{"series": "measles"}]}))
        .await;
    assert_eq!(s, 400, "{b}: {p}");
    let fields: HashSet<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["name", "template", "communes", "age_to", "conditions[0]"] {
        assert!(fields.contains(f), "{b}: {f} in {p}");
    }

    // 1. The draft and its preview, against the engine child by child.
    let (s, created) = h
        .post(
            "/api/alerts",
            &s_drafter,
            draft("Dịch sởi tháng 11", &[HOME, NEIGHBOUR], "10 years"),
        )
        .await;
    assert_eq!(s, 201, "{b}: {created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["status"], "draft");
    let (s, preview) = h
        .get(&format!("/api/alerts/{id}/preview"), &s_drafter)
        .await;
    assert_eq!(s, 200, "{b}: {preview}");
    let expected = expected_audience(&db, dir, &[HOME, NEIGHBOUR]);
    let total: usize = expected.values().map(|s| s.len()).sum();
    assert!(total > 20, "{b}: the demo has children to target ({total})");
    assert_eq!(preview["total"], total as u64, "{b}: {preview}");
    for (commune, pins) in &expected {
        assert_eq!(
            preview["by_commune"][commune],
            pins.len() as u64,
            "{b}: {commune}"
        );
    }
    assert!(preview["by_commune"].get(FAR).is_none(), "{b}");
    let without = preview["without_contact"].as_u64().unwrap();
    let messages = preview["messages"].as_u64().unwrap();
    let households = preview["households"].as_u64().unwrap();
    assert!(
        messages > 0 && messages <= households && households <= total as u64,
        "{b}: {preview}"
    );
    let samples = preview["samples"].as_array().unwrap();
    assert!(
        samples
            .iter()
            .any(|m| m["body"].as_str().unwrap().contains("soi")),
        "{b}: {preview}"
    );
    // The worklist lists exactly the expected children, each household's under one message.
    let (s, list) = h
        .get(&format!("/api/alerts/{id}/worklist"), &s_drafter)
        .await;
    assert_eq!(s, 200, "{b}: {list}");
    let listed: BTreeSet = list["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["personal_id"].as_str().unwrap().to_string())
        .collect();
    let all: BTreeSet = expected.values().flatten().cloned().collect();
    assert_eq!(listed, all, "{b}");

    // 2. Nobody approves their own alert; another province neither sees nor approves it.
    let (s, p) = h
        .post(&format!("/api/alerts/{id}/approve"), &s_drafter, json!({}))
        .await;
    assert_eq!(s, 403, "{b}: {p}");
    assert!(
        p["detail"].as_str().unwrap().contains("own alert"),
        "{b}: {p}"
    );
    for path in [
        format!("/api/alerts/{id}"),
        format!("/api/alerts/{id}/preview"),
        format!("/api/alerts/{id}/worklist"),
    ] {
        assert_eq!(h.get(&path, &s_far).await.0, 404, "{b}: {path}");
    }
    assert_eq!(
        h.post(&format!("/api/alerts/{id}/approve"), &s_far, json!({}))
            .await
            .0,
        404,
        "{b}"
    );
    let (_, listing) = h.get("/api/alerts", &s_far).await;
    assert!(
        listing["alerts"].as_array().unwrap().is_empty(),
        "{b}: {listing}"
    );
    // A commune's nurse sees it but cannot approve for the other commune.
    assert_eq!(
        h.get(&format!("/api/alerts/{id}"), &s_commune).await.0,
        200,
        "{b}"
    );
    let (s, p) = h
        .post(&format!("/api/alerts/{id}/approve"), &s_commune, json!({}))
        .await;
    assert_eq!(s, 403, "{b}: {p}");
    assert_eq!(
        h.post(&format!("/api/alerts/{id}/submit"), &s_drafter, json!({}))
            .await
            .0,
        200,
        "{b}"
    );

    // 3. The second person approves: every message goes, once per household.
    let (s, p) = h
        .post(&format!("/api/alerts/{id}/approve"), &s_approver, json!({}))
        .await;
    assert_eq!(s, 200, "{b}: {p}");
    assert_eq!(p["queued"], messages, "{b}: {p}");
    let done = wait_for_status(&h, id, &s_drafter, "completed").await;
    let steps: Vec<&str> = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "draft",
            "approve-refused",
            "approve-refused",
            "submit",
            "approve",
            "complete"
        ],
        "{b}"
    );
    assert_eq!(done["steps"][4]["who"], approver.as_str());
    let (_, sent) = h
        .get(&format!("/api/alerts/{id}/messages"), &s_drafter)
        .await;
    let sent = sent["messages"].as_array().unwrap().clone();
    assert_eq!(sent.len() as u64, messages, "{b}");
    assert!(sent.iter().all(|m| m["status"] == "sent"), "{b}: {sent:?}");
    let sms_ids: Vec<String> = sent
        .iter()
        .filter(|m| m["channel"] == "sms")
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    let email_ids: HashSet<String> = sent
        .iter()
        .filter(|m| m["channel"] == "email")
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !sms_ids.is_empty() && !email_ids.is_empty(),
        "{b}: both channels carry it"
    );
    let at_gateway = accepted(&log);
    let mut once = at_gateway.clone();
    once.sort();
    once.dedup();
    assert_eq!(once.len(), at_gateway.len(), "{b}: no SMS twice");
    assert_eq!(
        once.iter().cloned().collect::<HashSet<_>>(),
        sms_ids.iter().cloned().collect::<HashSet<_>>(),
        "{b}"
    );
    let mails = common::mail_digest(&[&maildir]);
    let mailed: HashSet<String> = email_ids
        .iter()
        .filter(|id| mails.iter().any(|m| m.message_id.contains(id.as_str())))
        .cloned()
        .collect();
    assert_eq!(
        mailed, email_ids,
        "{b}: every email reached the SMTP server"
    );
    assert_eq!(mails.len(), email_ids.len(), "{b}: and no other");
    assert!(
        mails
            .iter()
            .all(|m| m.subject.contains("sởi") || m.subject.contains("easles")),
        "{b}"
    );
    // One message per household: recipients are distinct, and a household's children share
    // their message.
    let recipients: HashSet<&str> = sent
        .iter()
        .map(|m| m["recipient_id"].as_str().unwrap())
        .collect();
    assert_eq!(recipients.len(), sent.len(), "{b}");
    let mut by_household: HashMap<String, HashSet<String>> = HashMap::new();
    let mut guardians: HashMap<String, HashSet<String>> = HashMap::new();
    for c in list["children"].as_array().unwrap() {
        let Some(g) = c["guardian_id"].as_str() else {
            continue;
        };
        guardians
            .entry(g.to_string())
            .or_default()
            .insert(c["personal_id"].as_str().unwrap().to_string());
    }
    let worked = h
        .get(&format!("/api/alerts/{id}/worklist"), &s_drafter)
        .await
        .1;
    for c in worked["children"].as_array().unwrap() {
        if c["guardian_id"].is_string() {
            assert_eq!(c["message_status"], "sent", "{b}: {c}");
        }
    }
    for m in &sent {
        by_household
            .entry(m["recipient_id"].as_str().unwrap().to_string())
            .or_default()
            .insert(m["id"].as_str().unwrap().to_string());
    }
    assert!(by_household.values().all(|ids| ids.len() == 1), "{b}");
    assert!(
        guardians.values().any(|kids| kids.len() > 1),
        "{b}: some household has two children, named in one message"
    );
    let (_, reach) = h.get(&format!("/api/alerts/{id}/reach"), &s_drafter).await;
    assert_eq!(reach["total"]["targeted"], total as u64, "{b}: {reach}");
    assert_eq!(
        reach["total"]["sent"].as_u64().unwrap() + without,
        total as u64,
        "{b}: {reach}"
    );
    assert_eq!(reach["total"]["dosed"], 0, "{b}");
    assert_eq!(reach["total"]["replied"], 0, "{b}");
    // A family answers the alert's SMS (issue #16): the reply is tied to its household's
    // children, and the reach counts them as replied.
    let (answered, to) = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["outcome"] == "accepted")
        .map(|v| {
            (
                v["id"].as_str().unwrap().to_string(),
                v["to"].as_str().unwrap().to_string(),
            )
        })
        .unwrap();
    let res = h
        .http
        .post(format!("{}/webhooks/sms/inbound?token=alert-token", h.base))
        .json(&json!({"id": "alert-reply-1", "from": to, "text": "Chiều nay cháu đi tiêm được không?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{b}");
    let household = sent
        .iter()
        .find(|m| m["id"] == answered.as_str())
        .map(|m| m["children"].as_u64().unwrap())
        .unwrap();
    let (_, reach) = h.get(&format!("/api/alerts/{id}/reach"), &s_drafter).await;
    assert_eq!(reach["total"]["replied"], household, "{b}: {reach}");
    // Reach as xlsx, for the district.
    let res = h
        .http
        .get(format!("{}/api/alerts/{id}/reach?format=xlsx", h.base))
        .header("cookie", &s_drafter)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("spreadsheetml"));
    // The worklist read is in the audit trail, per child.
    let child = all.iter().next().unwrap();
    let audit = crate::support::api::audit_rows(&db, dir, child);
    assert!(
        audit.iter().any(|r| r["action"]
            .as_str()
            .unwrap()
            .starts_with(&format!("alert:{id}:"))),
        "{b}: {audit:?}"
    );

    // 4. A second alert, cancelled mid-send: what went and what did not, message by message.
    let (s, second) = h
        .post(
            "/api/alerts",
            &s_drafter,
            draft("Dịch sởi, đợt 2", &[HOME, NEIGHBOUR], "10 years"),
        )
        .await;
    assert_eq!(s, 201, "{b}: {second}");
    let id2 = second["id"].as_i64().unwrap();
    let before = accepted(&log).len();
    let (s, _) = h
        .post(
            &format!("/api/alerts/{id2}/approve"),
            &s_approver,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    for _ in 0..200 {
        if accepted(&log).len() >= before + 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (s, cancelled) = h
        .post(
            &format!("/api/alerts/{id2}/cancel"),
            &s_approver,
            json!({"reason": "nhầm đợt / wrong round"}),
        )
        .await;
    assert_eq!(s, 200, "{b}: {cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    let stopped = cancelled["stopped"].as_u64().unwrap() + cancelled["in_flight"].as_u64().unwrap();
    assert!(stopped > 0, "{b}: {cancelled}");
    // Whatever was in flight settles within a second or two; then nothing more goes.
    let mut statuses = Vec::new();
    for _ in 0..100 {
        let (_, m) = h
            .get(&format!("/api/alerts/{id2}/messages"), &s_drafter)
            .await;
        statuses = m["messages"].as_array().unwrap().clone();
        if statuses
            .iter()
            .all(|m| m["status"] != "sending" && m["status"] != "queued")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let went: HashSet<String> = accepted(&log).into_iter().skip(before).collect();
    let said_sent: HashSet<String> = statuses
        .iter()
        .filter(|m| m["sent"] == true && m["channel"] == "sms")
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    let said_not: HashSet<String> = statuses
        .iter()
        .filter(|m| m["status"] == "cancelled")
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        went, said_sent,
        "{b}: the report says exactly which SMS went"
    );
    assert!(
        !said_not.is_empty() && said_not.is_disjoint(&went),
        "{b}: cancelled ones never reached the gateway"
    );
    assert!(
        statuses
            .iter()
            .all(|m| m["status"] == "sent" || m["status"] == "cancelled"),
        "{b}: {statuses:?}"
    );
    let (_, reach2) = h.get(&format!("/api/alerts/{id2}/reach"), &s_drafter).await;
    assert!(
        reach2["total"]["cancelled"].as_u64().unwrap() > 0,
        "{b}: {reach2}"
    );
    let (s, _) = h
        .post(
            &format!("/api/alerts/{id2}/approve"),
            &s_approver,
            json!({}),
        )
        .await;
    assert_eq!(s, 409, "{b}: a cancelled alert is not approved again");

    // 5. The metrics count alerts by status; the CLI shows them.
    let metrics = reqwest::get(format!("{}/metrics", served.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("vongdoi_alerts{status=\"completed\"} 1"),
        "{b}: {metrics}"
    );
    assert!(
        metrics.contains("vongdoi_alerts{status=\"cancelled\"} 1"),
        "{b}"
    );
    let (ok, shown, err) = vongdoi(
        &db,
        dir,
        &["alerts", "show", &id.to_string(), "--format", "json"],
    );
    assert!(ok, "{b}: {err}");
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["preview"]["total"], total as u64, "{b}");
    assert_eq!(shown["alert"]["approved_by"], approver.as_str(), "{b}");
    drop(served);
}

on_each_backend!(two_people_alert_a_households_and_a_cancel_stops_the_rest);

/// The staff pages: the drafter drafts from the form and reads the preview; the page offers
/// her no approval (and says why); the second person's page offers it, and approving from it
/// starts the sending.
async fn the_pages_draft_preview_and_approve(db: TestDb) {
    use crate::support::api::{csrf_of, page_get, page_post};
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let drafter = account(&db, dir, "soan", &["--role", "health", "--province", "01"]);
    let approver = account(&db, dir, "duyet", &["--role", "health", "--province", "01"]);
    let served = serve(
        &db,
        dir,
        &["--no-schedule"],
        &[("VONGDOI_SMS_WINDOW", "00:00-24:00")],
    );
    let http = crate::support::api::no_redirects();
    let base = &served.base;
    let s1 = person_session(&http, base, &drafter).await;
    let s2 = person_session(&http, base, &approver).await;
    let (s, page) = page_get(&http, &format!("{base}/staff/alerts"), &s1).await;
    assert_eq!(s, 200, "{b}: {page}");
    assert!(
        page.contains("href=\"/staff/alerts\""),
        "{b}: the menu has the alerts"
    );
    let csrf = csrf_of(&page);
    let communes = format!("{HOME}, {NEIGHBOUR}");
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Dịch sởi phường"),
        ("template", "measles-outbreak"),
        ("communes", communes.as_str()),
        ("provinces", ""),
        ("age_from", "1 year"),
        ("age_to", "10 years"),
        ("series", "measles"),
        ("valid_doses_below", "2"),
        ("as_of", AS_OF),
        ("outcome_days", "30"),
    ];
    let (s, location, body) = page_post(&http, &format!("{base}/staff/alerts"), &s1, &form).await;
    assert_eq!(s, 303, "{b}: {body}");
    let location = location.unwrap();
    let (s, page) = page_get(&http, &format!("{base}{location}"), &s1).await;
    assert_eq!(s, 200, "{b}: {page}");
    let expected: usize = expected_audience(&db, dir, &[HOME, NEIGHBOUR])
        .values()
        .map(|s| s.len())
        .sum();
    assert!(
        page.contains(&format!("<strong>{expected}</strong>")),
        "{b}: the preview counts {expected}: {page}"
    );
    assert!(
        !page.contains("id=\"approve\""),
        "{b}: no approve button for the drafter"
    );
    assert!(
        page.contains("id=\"refused\"") && page.contains("tự duyệt"),
        "{b}: and says why"
    );
    let (_, page2) = page_get(&http, &format!("{base}{location}"), &s2).await;
    assert!(
        page2.contains("id=\"approve\""),
        "{b}: the second person may approve"
    );
    let (s, to, _) = page_post(
        &http,
        &format!("{base}{location}/approve"),
        &s2,
        &[("csrf", csrf_of(&page2).as_str())],
    )
    .await;
    assert_eq!(s, 303, "{b}");
    let (_, after) = page_get(&http, &format!("{base}{}", to.unwrap()), &s2).await;
    assert!(
        after.contains("id=\"done\"")
            && (after.contains("đang gửi") || after.contains("đã gửi xong")),
        "{b}: {after}"
    );
    assert!(after.contains("duyệt và gửi"), "{b}: the step is listed");
}

on_each_backend!(the_pages_draft_preview_and_approve);

/// Killed mid-send (SIGKILL), the service started again finishes the alert: every SMS reached
/// the gateway, none twice (the stand-in logs a second request for an id as "duplicate").
async fn a_kill_mid_send_loses_and_doubles_nothing(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let drafter = account(&db, dir, "soan", &["--role", "health", "--province", "01"]);
    let approver = account(&db, dir, "duyet", &["--role", "health", "--province", "01"]);
    let log = dir.join("gateway.jsonl");
    let gateway = common::fixture("python3", "sms_gateway.py", &[&log, Path::new("slow")]);
    let sms_url = format!("http://127.0.0.1:{}/send", gateway.port);
    let envs = [
        ("VONGDOI_SMS_WINDOW", "00:00-24:00"),
        ("VONGDOI_SMS_URL", sms_url.as_str()),
        ("VONGDOI_SMS_SUCCESS", "status=queued"),
        ("VONGDOI_CHANNELS", "sms"),
        ("VONGDOI_SMS_CONCURRENCY", "2"),
    ];
    let args = ["--no-schedule", "--deliver-every", "0.3"];
    let mut served = serve(&db, dir, &args, &envs);
    let h = Http {
        http: crate::support::api::no_redirects(),
        base: served.base.clone(),
    };
    let s1 = person_session(&h.http, &h.base, &drafter).await;
    let s2 = person_session(&h.http, &h.base, &approver).await;
    let (s, created) = h
        .post(
            "/api/alerts",
            &s1,
            draft("Sởi", &[HOME, NEIGHBOUR], "15 years"),
        )
        .await;
    assert_eq!(s, 201, "{b}: {created}");
    let id = created["id"].as_i64().unwrap();
    let (s, approved) = h
        .post(&format!("/api/alerts/{id}/approve"), &s2, json!({}))
        .await;
    assert_eq!(s, 200, "{b}: {approved}");
    let queued = approved["queued"].as_u64().unwrap() as usize;
    assert!(queued > 20, "{b}: {queued}");
    for _ in 0..400 {
        if accepted(&log).len() >= 8 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let at_kill = accepted(&log).len();
    assert!(
        at_kill < queued,
        "{b}: killed mid-send ({at_kill} of {queued})"
    );
    let served = serve(&db, dir, &args, &envs);
    let h = Http {
        http: crate::support::api::no_redirects(),
        base: served.base.clone(),
    };
    let s1 = person_session(&h.http, &h.base, &drafter).await;
    wait_for_status(&h, id, &s1, "completed").await;
    let got = accepted(&log);
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "{b}: no SMS accepted twice");
    assert_eq!(got.len(), queued, "{b}: every SMS reached the gateway");
    // Only what was in flight at the kill crossed the wire again (the gateway's id
    // de-duplication answers it as already received).
    let again = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"duplicate\""))
        .count();
    assert!(again <= 4, "{b}: {again} sent again");
    let (_, m) = h.get(&format!("/api/alerts/{id}/messages"), &s1).await;
    assert!(
        m["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "sent"),
        "{b}: {m}"
    );
}

on_each_backend!(a_kill_mid_send_loses_and_doubles_nothing);
