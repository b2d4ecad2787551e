//! Two-way messaging (issue #16), over HTTP against `vongdoi serve` and the SMS gateway
//! stand-in, on both backends. A day's reminders go out; then families text back through
//! `/webhooks/sms/inbound`, the generic shape and eSMS's MO callback: "Huỷ" stops SMS to
//! everyone registered with the number (one confirmation goes out), "đăng ký" restarts them,
//! "da tiem" puts a reported dose on the nurse's list, which she confirms (a dose) or rejects
//! (none), and "Hỏi lịch tiêm" lands in the commune's inbox linked to the reminder and the
//! child, where a nurse answers it through the outbox. The same provider id twice changes
//! nothing; a nurse of another commune sees none of it; no full number reaches the log.

use crate::support::api::{account, demo, person_session, AS_OF, FAR, HOME};
use crate::support::{self as common, serve_logged, vongdoi_ok, TestDb};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use vongdoi::store::Store;

const TOKEN: &str = "inbound-s3cret";
const MOTHER: &str = "001195987653";
const MOTHER_PHONE: &str = "0912000111";

/// The gateway's accepted (message id, number), in order.
fn accepted(log: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["outcome"] == "accepted")
        .map(|v| {
            (
                v["id"].as_str().unwrap().to_string(),
                v["to"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn post_inbound(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    from: &str,
    text: &str,
) -> (u16, Value) {
    let res = http
        .post(format!("{base}/webhooks/sms/inbound?token={TOKEN}"))
        .json(&json!({"id": id, "from": from, "text": text, "received_at": "2026-11-21T09:30:00+07:00"}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    session: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url).header("cookie", session).header(
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

/// Waits until the message with this id has reached the gateway (and returns how often).
async fn reaches_gateway(log: &Path, id: &str) -> usize {
    for _ in 0..300 {
        let n = accepted(log).iter().filter(|(m, _)| m == id).count();
        if n > 0 {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("message {id} never reached the gateway");
}

/// The SMS gateway stand-in and the settings that send through it, at any hour.
struct Sms {
    _gateway: common::Fixture,
    log: std::path::PathBuf,
    url: String,
}

impl Sms {
    fn start(dir: &Path) -> Sms {
        let log = dir.join("gateway.jsonl");
        let gateway = common::fixture("python3", "sms_gateway.py", &[&log, Path::new("ok")]);
        let url = format!("http://127.0.0.1:{}/send", gateway.port);
        Sms {
            _gateway: gateway,
            log,
            url,
        }
    }

    fn envs(&self) -> Vec<(&str, &str)> {
        vec![
            ("VONGDOI_SMS_WINDOW", "00:00-24:00"),
            ("VONGDOI_SMS_URL", self.url.as_str()),
            ("VONGDOI_SMS_SUCCESS", "status=queued"),
            ("VONGDOI_CHANNELS", "sms"),
        ]
    }
}

async fn families_text_back_and_staff_see_it(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let sms = Sms::start(dir);
    let (log, envs) = (&sms.log, sms.envs());
    let envs = envs.as_slice();
    // Twins of one mother, due for their first DTP on the same day: one message names both.
    let twins = dir.join("twins.csv");
    std::fs::write(
        &twins,
        format!(
            "personal_id,full_name,sex,date_of_birth,date_of_death,commune_code,household_id,mother_id,father_id,guardian_id,phone,email,language,village,address\n\
             {MOTHER},Lò Thị Hoa,F,1995-03-02,,{HOME},HH-TWINS,,,,{MOTHER_PHONE},,vi,,\n\
             001226987654,Lò Văn An,M,2026-09-24,,{HOME},HH-TWINS,{MOTHER},,,,,vi,,\n\
             001326987655,Lò Thị Bình,F,2026-09-24,,{HOME},HH-TWINS,{MOTHER},,,,,vi,,\n"
        ),
    )
    .unwrap();
    vongdoi_ok(
        &db,
        dir,
        &["import", "citizens", twins.to_str().unwrap()],
        &[],
    );
    // The day's reminders reach the gateway.
    vongdoi_ok(&db, dir, &["run", "--as-of", AS_OF], envs);
    let sent = accepted(log);
    assert!(sent.len() > 10, "{b}: reminders went out ({})", sent.len());

    // The number that texts stop and start: any that got a reminder.
    let store = Store::connect(&db.url).await.unwrap();
    let rules = vongdoi::rules::RuleSet::embedded();
    // Not the twins' mother: she has her own part below.
    let other = (sent.iter())
        .find(|(_, to)| to[3..] != MOTHER_PHONE[1..])
        .map(|(_, to)| to.clone())
        .expect("a reminder to someone");

    let server_log = dir.join("serve.log");
    let mut served = serve_logged(
        &db,
        dir,
        &[
            "--no-schedule",
            "--deliver-every",
            "0.3",
            "--webhook-token",
            TOKEN,
        ],
        &[envs, &[("VONGDOI_LOG", "debug")]].concat(),
        &server_log,
    );
    let http = crate::support::api::no_redirects();
    let base = served.base.clone();

    // 1. Without the token: refused, nothing stored.
    let res = http
        .post(format!("{base}/webhooks/sms/inbound"))
        .json(&json!({"id": "x", "from": other, "text": "HUY"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "{b}");

    // 2. "Huỷ" from the other number: every citizen with that number is opted out of SMS,
    // once, and one confirmation goes out.
    let local = format!("0{}", &other[3..]);
    let (s, r) = post_inbound(&http, &base, "mo-1", &local, "Huỷ").await;
    assert_eq!(s, 200, "{b}: {r}");
    assert_eq!(r["action"], "opt-out", "{b}: {r}");
    let (s, again) = post_inbound(&http, &base, "mo-1", &local, "Huỷ").await;
    assert_eq!(
        (s, &again["duplicate"]),
        (200, &json!(true)),
        "{b}: the same id twice is one message"
    );
    let family = store.citizens_with_phone(&other).await.unwrap();
    assert!(
        !family.is_empty() && family.iter().all(|p| p.sms_opt_out),
        "{b}: the family is opted out"
    );
    let stored = store
        .inbound(r["id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.replies.len(), 1, "{b}: one confirmation");
    assert_eq!(
        reaches_gateway(log, &stored.replies[0].message_id).await,
        1,
        "{b}"
    );
    // A day later, nothing routine goes to that number.
    let before = accepted(log).len();
    vongdoi_ok(&db, dir, &["run", "--as-of", "2026-11-28", "--full"], envs);
    let later: Vec<_> = accepted(log)[before..].to_vec();
    assert!(
        !later.is_empty(),
        "{b}: the later day sent reminders to others"
    );
    assert!(
        later.iter().all(|(_, to)| to != &other),
        "{b}: no SMS to the opted-out family"
    );

    // Then pick, from everything sent by now, a number that got one message only, about one
    // child's vaccination (for the reported dose and the question). It is chosen after the
    // later day on purpose: a reply answers the latest message to its number, and the later
    // day may have sent some numbers a second reminder.
    let sent = accepted(log);
    let once = |to: &String| sent.iter().filter(|(_, t)| t == to).count() == 1;
    let mut one: Option<(String, String, String, String)> = None; // (message, number, child, series)
    for (id, to) in &sent {
        let children = store.children_of_message(id).await.unwrap();
        let vaccination: Vec<_> = children
            .iter()
            .filter(|c| c.item.starts_with("vaccination/"))
            .collect();
        if to != &other && children.len() == 1 && vaccination.len() == 1 && once(to) {
            let series = vaccination[0].item.split('/').nth(1).unwrap().to_string();
            let child = vaccination[0].personal_id.clone();
            one = Some((id.clone(), to.clone(), child, series));
            break;
        }
    }
    let (answered, phone, child, series) = one.expect("a message about one child's vaccination");
    let child_commune = store
        .citizen(vongdoi::registry::PersonalId::parse(&child).unwrap())
        .await
        .unwrap()
        .unwrap()
        .citizen
        .commune_code
        .to_string();
    let nurse = account(
        &db,
        dir,
        "y.ta.xa",
        &["--role", "health", "--commune", &child_commune],
    );
    let elsewhere = if child_commune == FAR { HOME } else { FAR };
    let far_nurse = account(
        &db,
        dir,
        "y.ta.xa.xa",
        &["--role", "health", "--commune", elsewhere],
    );

    // 3. "đăng ký" restarts them, with its own confirmation.
    let (s, r) = post_inbound(&http, &base, "mo-2", &other, "đăng ký").await;
    assert_eq!((s, r["action"].as_str()), (200, Some("opt-in")), "{b}: {r}");
    let family = store.citizens_with_phone(&other).await.unwrap();
    assert!(
        family.iter().all(|p| !p.sms_opt_out),
        "{b}: the family is opted in again"
    );

    // 4. "da tiem" puts a reported dose on the nurse's list; it is not a dose until she
    // confirms it.
    let (s, r) = post_inbound(&http, &base, "mo-3", &phone, "da tiem").await;
    assert_eq!(
        (s, r["action"].as_str()),
        (200, Some("reported-dose")),
        "{b}: {r}"
    );
    let s_nurse = person_session(&http, &base, &nurse).await;
    let s_far = person_session(&http, &base, &far_nurse).await;
    let (s, list) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/reported-doses"),
        &s_nurse,
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}: {list}");
    let reports = list["reported_doses"].as_array().unwrap();
    assert_eq!(reports.len(), 1, "{b}: {list}");
    assert_eq!(reports[0]["personal_id"], child.as_str(), "{b}");
    assert_eq!(reports[0]["series"], series.as_str(), "{b}");
    let (_, far_list) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/reported-doses"),
        &s_far,
        None,
    )
    .await;
    assert_eq!(
        far_list["reported_doses"],
        json!([]),
        "{b}: another commune sees none"
    );
    let doses_before = dose_count(&store, &child).await;
    let vaccine = rules.vaccines_of_series(&series)[0].to_string();
    let rid = reports[0]["id"].as_i64().unwrap();
    let (s, p) = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/reported-doses/{rid}/confirm"),
        &s_far,
        Some(json!({"vaccine": vaccine, "date_given": "2026-11-20"})),
    )
    .await;
    assert_eq!(
        s, 404,
        "{b}: another commune's nurse cannot confirm it: {p}"
    );
    let (s, p) = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/reported-doses/{rid}/confirm"),
        &s_nurse,
        Some(json!({"vaccine": vaccine, "date_given": "2026-11-20"})),
    )
    .await;
    assert_eq!(
        (s, p["status"].as_str()),
        (200, Some("confirmed")),
        "{b}: {p}"
    );
    assert_eq!(
        dose_count(&store, &child).await,
        doses_before + 1,
        "{b}: confirmed is a dose"
    );
    let (s, _) = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/reported-doses/{rid}/reject"),
        &s_nurse,
        None,
    )
    .await;
    assert_eq!(s, 409, "{b}: decided once");
    // A second report, rejected: no dose.
    let (_, r) = post_inbound(&http, &base, "mo-4", &phone, "Đã tiêm rồi ạ").await;
    assert_eq!(r["action"], "reported-dose", "{b}: {r}");
    let (_, list) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/reported-doses"),
        &s_nurse,
        None,
    )
    .await;
    let rid2 = list["reported_doses"][0]["id"].as_i64().unwrap();
    let (s, p) = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/reported-doses/{rid2}/reject"),
        &s_nurse,
        None,
    )
    .await;
    assert_eq!(
        (s, p["status"].as_str()),
        (200, Some("rejected")),
        "{b}: {p}"
    );
    assert_eq!(
        dose_count(&store, &child).await,
        doses_before + 1,
        "{b}: rejected is none"
    );

    // 5. A question lands in the commune's inbox, linked to the reminder and the child.
    let (_, r) = post_inbound(&http, &base, "mo-5", &phone, "Hỏi lịch tiêm tháng sau ạ?").await;
    assert_eq!(r["action"], "for-staff", "{b}: {r}");
    let (s, inbox) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/inbox"),
        &s_nurse,
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}: {inbox}");
    let open = inbox["replies"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{b}: one reply waits: {inbox}");
    let q = &open[0];
    assert_eq!(
        q["answers"],
        answered.as_str(),
        "{b}: linked to the reminder"
    );
    assert_eq!(q["child"], child.as_str(), "{b}: and to the child");
    assert_eq!(q["commune"], child_commune.as_str(), "{b}");
    assert!(
        !q["from"].as_str().unwrap().contains(&phone[3..]),
        "{b}: the number is masked"
    );
    assert_eq!(inbox["figures"]["open"], 1, "{b}: {inbox}");
    let qid = q["id"].as_i64().unwrap();
    let (_, far_inbox) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/inbox"),
        &s_far,
        None,
    )
    .await;
    assert_eq!(
        far_inbox["replies"],
        json!([]),
        "{b}: another commune's inbox is its own"
    );
    let (s, _) = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/inbox/{qid}/reply"),
        &s_far,
        Some(json!({"text": "x"})),
    )
    .await;
    assert_eq!(s, 404, "{b}: nor can it answer");
    let (s, done) = call(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/inbox/{qid}/reply"),
        &s_nurse,
        Some(json!({"text": "Chào chị, buổi tiêm tới là thứ Tư ngày 9/12 tại trạm y tế."})),
    )
    .await;
    assert_eq!(
        (s, done["status"].as_str()),
        (200, Some("done")),
        "{b}: {done}"
    );
    let answer = done["replies"][0]["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        reaches_gateway(log, &answer).await,
        1,
        "{b}: the answer went through the outbox"
    );
    let (_, inbox) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/inbox?status=done"),
        &s_nurse,
        None,
    )
    .await;
    assert_eq!(inbox["figures"]["answered_30d"], 1, "{b}: {inbox}");
    let audit = crate::support::api::audit_rows(&db, dir, &child);
    assert!(
        audit.iter().any(|r| r["action"] == "inbox"),
        "{b}: reading the inbox is audited"
    );

    // 5b. The same from the staff page: the question is shown with its child, answered from
    // the form; a reported dose is confirmed from its form.
    let (_, r) = post_inbound(
        &http,
        &base,
        "mo-7",
        &phone,
        "Con bị sốt, có tiêm được không?",
    )
    .await;
    let qid2 = r["id"].as_i64().unwrap();
    let (_, r) = post_inbound(&http, &base, "mo-8", &phone, "DA TIEM").await;
    assert_eq!(r["action"], "reported-dose", "{b}: {r}");
    let (s, page) =
        crate::support::api::page_get(&http, &format!("{base}/staff/inbox"), &s_nurse).await;
    assert_eq!(s, 200, "{b}: {page}");
    assert!(
        page.contains("Con bị sốt, có tiêm được không?"),
        "{b}: the question is on the page"
    );
    assert!(
        page.contains(&format!("/staff/citizens/{child}")),
        "{b}: with its child"
    );
    assert!(
        page.contains("id=\"reported-doses\""),
        "{b}: and the reported dose"
    );
    let csrf = crate::support::api::csrf_of_session(&s_nurse);
    let (s, to, _) = crate::support::api::page_post(
        &http,
        &format!("{base}/staff/inbox/{qid2}/reply"),
        &s_nurse,
        &[
            ("csrf", csrf.as_str()),
            (
                "text",
                "Chị đưa cháu đến trạm để được khám trước khi tiêm nhé.",
            ),
        ],
    )
    .await;
    assert_eq!(
        (s, to.as_deref()),
        (303, Some("/staff/inbox?done=reply")),
        "{b}"
    );
    let answered_page = store.inbound(qid2).await.unwrap().unwrap();
    assert_eq!(
        answered_page.replies.len(),
        1,
        "{b}: answered from the page"
    );
    let (_, list) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/reported-doses"),
        &s_nurse,
        None,
    )
    .await;
    let rid3 = list["reported_doses"][0]["id"].as_i64().unwrap();
    let (s, _, _) = crate::support::api::page_post(
        &http,
        &format!("{base}/staff/reported-doses/{rid3}/confirm"),
        &s_nurse,
        &[
            ("csrf", csrf.as_str()),
            ("vaccine", vaccine.as_str()),
            ("date_given", "2026-11-21"),
        ],
    )
    .await;
    assert_eq!(s, 303, "{b}");
    assert_eq!(
        dose_count(&store, &child).await,
        doses_before + 2,
        "{b}: confirmed from the page"
    );
    let (s, far_page) =
        crate::support::api::page_get(&http, &format!("{base}/staff/inbox?status=all"), &s_far)
            .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        !far_page.contains("Con bị sốt"),
        "{b}: another commune's page shows none of it"
    );

    // 5c. The twins' mother reports a dose without saying which child: she is asked, and
    // "DA TIEM 2" names the second.
    // Her latest reminder names both twins. Under load its first send may have been retried
    // by `serve`: wait until the gateway has it, or the reply would answer an older one.
    let mut waited = 0;
    loop {
        let mut both = false;
        for (id, to) in accepted(log) {
            if to[3..] == MOTHER_PHONE[1..]
                && store.children_of_message(&id).await.unwrap().len() == 2
            {
                both = true;
            }
        }
        if both {
            break;
        }
        waited += 1;
        assert!(
            waited < 120,
            "{b}: the twins' reminder never reached the gateway"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let (_, r) = post_inbound(&http, &base, "mo-9", MOTHER_PHONE, "Đã tiêm").await;
    assert_eq!(r["action"], "ask-child", "{b}: {r}");
    let asked = store
        .inbound(r["id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    let question = &asked.replies[0].body;
    assert!(
        question.contains("1 = be An") && question.contains("2 = be Binh"),
        "{b}: {question}"
    );
    let (_, r) = post_inbound(&http, &base, "mo-10", MOTHER_PHONE, "DA TIEM 2").await;
    assert_eq!(r["action"], "reported-dose", "{b}: {r}");
    let (_, list) = call(
        &http,
        reqwest::Method::GET,
        format!("{base}/api/reported-doses?commune={HOME}"),
        &s_nurse_home(&http, &base, &db, dir).await,
        None,
    )
    .await;
    let pins: Vec<&str> = list["reported_doses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["personal_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        pins,
        ["001326987655"],
        "{b}: the second twin's dose waits: {list}"
    );

    // 6. eSMS's MO callback: signed with the webhook token here; answered in its XML.
    let res = http
        .get(format!("{base}/webhooks/sms/inbound?token={TOKEN}&sender=84{}&content=HOI&smsid=9001&receiverTime=20261121093000&cpid=1&serviceNumber=8041&keyword=HOI&sign=x", &phone[3..]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{b}");
    assert!(
        res.text().await.unwrap().contains("<ClientResponse>"),
        "{b}"
    );
    let res = http
        .get(format!(
            "{base}/webhooks/sms/inbound?token=wrong&sender=84{}&content=HOI&smsid=9002",
            &phone[3..]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "{b}");
    // A number nobody has: kept, nothing done.
    let (_, r) = post_inbound(&http, &base, "mo-6", "0399999999", "HUY").await;
    assert_eq!(r["action"], "unknown-number", "{b}: {r}");
    let (ok, out, err) = crate::support::vongdoi(&db, dir, &["inbox", "--format", "json"]);
    assert!(ok, "{b}: {err}");
    let cli: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cli["inbound"].as_array().unwrap().len(), 11, "{b}: {cli}");

    // No full number in the log, at debug level.
    served.terminate();
    let logged = std::fs::read_to_string(&server_log).unwrap();
    assert!(
        logged.contains("reply received"),
        "{b}: the log was captured"
    );
    for n in [&phone, &other] {
        assert!(!logged.contains(&n[3..]), "{b}: a full number in the log");
    }
}

/// A nurse of the twins' commune, signed in.
async fn s_nurse_home(http: &reqwest::Client, base: &str, db: &TestDb, dir: &Path) -> String {
    let nurse = account(
        db,
        dir,
        "y.ta.home",
        &["--role", "health", "--commune", HOME],
    );
    person_session(http, base, &nurse).await
}

async fn dose_count(store: &Store, pin: &str) -> usize {
    let pin = vongdoi::registry::PersonalId::parse(pin).unwrap();
    store.immunizations_of(pin).await.unwrap().len()
}

on_each_backend!(families_text_back_and_staff_see_it);

/// A gateway keeps posting what it was not answered: replies posted while the service is
/// killed (SIGKILL) and posted all again after it restarts are each stored once, and each
/// opt-out's confirmation reaches the gateway exactly once.
async fn a_kill_mid_stream_loses_and_doubles_no_reply(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let sms = Sms::start(dir);
    let (log, envs) = (&sms.log, sms.envs());
    let envs = envs.as_slice();
    vongdoi_ok(&db, dir, &["run", "--as-of", AS_OF], envs);
    let mut numbers: Vec<String> = accepted(log).into_iter().map(|(_, to)| to).collect();
    numbers.sort();
    numbers.dedup();
    let numbers: Vec<String> = numbers.into_iter().take(60).collect();
    assert!(numbers.len() >= 20, "{b}: numbers to reply from");
    let args = [
        "--no-schedule",
        "--deliver-every",
        "0.3",
        "--webhook-token",
        TOKEN,
    ];
    let http = crate::support::api::no_redirects();
    let replies: Vec<(String, String, &str)> = (0..numbers.len() * 2)
        .map(|i| {
            let text = if i % 2 == 0 {
                "HUY"
            } else {
                "Cho hỏi lịch tiêm"
            };
            (format!("k-{i}"), numbers[i / 2].clone(), text)
        })
        .collect();
    let mut first = serve_logged(&db, dir, &args, envs, &dir.join("first.log"));
    let base = first.base.clone();
    // A third of the replies, then the process dies mid-stream with posts in flight.
    let posted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let posting = {
        let (http, base, replies, posted) =
            (http.clone(), base.clone(), replies.clone(), posted.clone());
        tokio::spawn(async move {
            for (id, from, text) in replies {
                let _ = http
                    .post(format!("{base}/webhooks/sms/inbound?token={TOKEN}"))
                    .json(&json!({"id": id, "from": from, "text": text}))
                    .send()
                    .await;
                posted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    while posted.load(std::sync::atomic::Ordering::SeqCst) < replies.len() / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    posting.await.unwrap();
    let store = Store::connect(&db.url).await.unwrap();
    let everything = vongdoi::store::inbound::InboundFilter {
        communes: None,
        status: None,
        limit: 10_000,
    };
    let before = store.inbound_list(&everything).await.unwrap().len();
    assert!(
        before > 0 && before < replies.len(),
        "{b}: killed mid-stream ({before} stored)"
    );
    let second = serve_logged(&db, dir, &args, envs, &dir.join("second.log"));
    // The gateway posts everything again that it did not see answered: here, all of it.
    for (id, from, text) in &replies {
        let (s, r) = post_inbound(&http, &second.base, id, from, text).await;
        assert_eq!(s, 200, "{b}: {r}");
    }
    let all = store.inbound_list(&everything).await.unwrap();
    assert_eq!(all.len(), replies.len(), "{b}: every reply once");
    let mut confirmations = Vec::new();
    for r in &all {
        let expect = usize::from(r.action == vongdoi::store::inbound::InboundAction::OptOut);
        assert_eq!(r.replies.len(), expect, "{b}: {r:?}");
        confirmations.extend(r.replies.iter().map(|x| x.message_id.clone()));
    }
    assert!(!confirmations.is_empty(), "{b}");
    for id in &confirmations {
        reaches_gateway(log, id).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let at_gateway = accepted(log);
    for id in &confirmations {
        let n = at_gateway.iter().filter(|(m, _)| m == id).count();
        assert_eq!(n, 1, "{b}: confirmation {id} reached the phone once");
    }
    drop(second);
}

on_each_backend!(a_kill_mid_stream_loses_and_doubles_no_reply);
