//! Zalo ZNS with SMS behind it (issue #16), through real processes: `vongdoi run` sends, a
//! `vongdoi serve` takes Zalo's delivery events, and Python stand-ins play Zalo
//! (`tests/fixtures/zns_server.py`: send, OAuth with single-use refresh tokens, events) and the
//! SMS gateway (`sms_gateway.py`). On both backends.

use crate::support as common;

use common::{fixture, TestDb};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const DAY: &str = "2026-11-21";
pub(crate) const SEED_REFRESH: &str = "REFRESH0-seed-5f2c9a71";
const SECRET_KEY: &str = "zns-app-secret-9d41e0";
const WEBHOOK_TOKEN: &str = "hook-token-77aa";
const OA_SECRET: &str = "oa-secret-31c0";

/// Mothers with one baby each (birth doses given 2026-09-20: the 2-month doses are due on the
/// day), phones `0912 00 iii d` whose last digit `d` tells the ZNS stand-in how to answer.
pub(crate) fn load_families(db: &TestDb, dir: &Path, digits: &[u32]) -> Vec<String> {
    let mut citizens = String::from("personal_id,full_name,sex,date_of_birth,date_of_death,commune_code,household_id,mother_id,father_id,guardian_id,phone,email,language\n");
    let mut cards = String::from("personal_id,issued_on\n");
    let mut doses = String::from("personal_id,vaccine,date_given,place\n");
    let mut phones = Vec::new();
    for (i, d) in digits.iter().enumerate() {
        let mother = format!("001196{:06}", i + 1);
        let baby = format!("001226{:06}", i + 1);
        let phone = format!("091200{:03}{d}", i + 1);
        citizens.push_str(&format!(
            "{mother},Trần Thị Mẹ,F,1996-04-02,,00004,H{i},,,,{phone},,vi\n"
        ));
        citizens.push_str(&format!(
            "{baby},Nguyễn Văn Con,M,2026-09-20,,00004,H{i},{mother},,,,,vi\n"
        ));
        cards.push_str(&format!("{mother},2021-05-01\n"));
        doses.push_str(&format!(
            "{baby},HEPB,2026-09-20,\n{baby},BCG,2026-09-21,\n"
        ));
        phones.push(format!("84{}", &phone[1..]));
    }
    for (name, text, kind) in [
        ("c.csv", citizens, "citizens"),
        ("i.csv", cards, "id-cards"),
        ("d.csv", doses, "immunizations"),
    ] {
        fs::write(dir.join(name), text).unwrap();
        common::vongdoi_ok(db, dir, &["import", kind, name], &[]);
    }
    phones
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The environment of a ZNS-first deployment against the stand-ins.
pub(crate) fn zns_env(
    zns_port: u16,
    sms_port: u16,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("VONGDOI_CHANNELS", "zns,sms,email".to_string()),
        ("VONGDOI_ZNS_URL", format!("http://127.0.0.1:{zns_port}")),
        (
            "VONGDOI_ZNS_OAUTH_URL",
            format!("http://127.0.0.1:{zns_port}/v4/oa/access_token"),
        ),
        ("VONGDOI_ZNS_APP_ID", "app".into()),
        ("VONGDOI_ZNS_SECRET_KEY", SECRET_KEY.into()),
        ("VONGDOI_ZNS_REFRESH_TOKEN", SEED_REFRESH.into()),
        ("VONGDOI_ZNS_TIMEOUT_SECONDS", "1".into()),
        ("VONGDOI_ZNS_HOLD_MINUTES", "0".into()),
        (
            "VONGDOI_SMS_URL",
            format!("http://127.0.0.1:{sms_port}/send"),
        ),
        ("VONGDOI_SMS_SUCCESS", "status=queued".into()),
        ("VONGDOI_SMS_WINDOW", "00:00-24:00".into()),
        ("VONGDOI_SMS_MAX_SEGMENTS", "10".into()),
        ("VONGDOI_RETRY_BASE_SECONDS", "0".into()),
        ("VONGDOI_LOG", "debug".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

fn vongdoi(db: &TestDb, dir: &Path, args: &[&str], env: &[(String, String)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vongdoi"));
    c.args(args)
        .current_dir(dir)
        .env("DATABASE_URL", &db.url)
        .envs(env.iter().map(|(k, v)| (k, v)));
    c
}

/// `vongdoi run --as-of DAY`, which must succeed: what it printed (stdout and stderr).
pub(crate) fn run_day(db: &TestDb, dir: &Path, env: &[(String, String)]) -> String {
    let out = vongdoi(db, dir, &["run", "--as-of", DAY], env)
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{}: run: {printed}", db.backend);
    printed
}

/// `vongdoi serve` on `port` (the ZNS stand-in was told where to post its events), its output
/// to `log`; waits until it listens.
fn serve_on(db: &TestDb, dir: &Path, port: u16, env: &[(String, String)], log: &Path) -> Child {
    let out = fs::File::create(log).unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut child = vongdoi(
        db,
        dir,
        &[
            "serve",
            "--listen",
            &listen,
            "--metrics-listen",
            "127.0.0.1:0",
            "--no-schedule",
            "--deliver-every",
            "3600",
            "--webhook-token",
            WEBHOOK_TOKEN,
        ],
        env,
    )
    .stdout(out.try_clone().unwrap())
    .stderr(out)
    .spawn()
    .unwrap();
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("serve did not listen: {}", fs::read_to_string(log).unwrap());
}

pub(crate) fn lines(path: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(crate) fn messages(db: &TestDb, dir: &Path) -> Vec<serde_json::Value> {
    let out = common::vongdoi_ok(
        db,
        dir,
        &["messages", "--format", "json", "--limit", "100000"],
        &[],
    );
    serde_json::from_str(&out).unwrap()
}

/// Accepted sends of the ZNS stand-in: tracking id → phone (each at most once, checked).
pub(crate) fn zns_accepted(log: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for l in lines(log)
        .iter()
        .filter(|l| l["kind"] == "send" && l["outcome"] == "accepted")
    {
        let id = l["tracking_id"].as_str().unwrap().to_string();
        let again = out.insert(id.clone(), l["phone"].as_str().unwrap().to_string());
        assert!(again.is_none(), "{id} accepted twice");
    }
    out
}

/// No token, secret or full phone number in what vongdoi printed.
fn assert_nothing_secret(b: &str, printed: &str, zns_log: &Path, phones: &[String]) {
    let mut secrets = vec![SEED_REFRESH.to_string(), SECRET_KEY.to_string()];
    for l in lines(zns_log).iter().filter(|l| l["kind"] == "refresh") {
        for k in ["access", "refresh"] {
            if let Some(t) = l[k].as_str() {
                secrets.push(t.to_string());
            }
        }
    }
    assert!(secrets.len() > 2, "{b}: tokens were issued");
    for s in &secrets {
        assert!(!printed.contains(s.as_str()), "{b}: a token in the logs");
    }
    for p in phones {
        let local = format!("0{}", &p[2..]);
        assert!(
            !printed.contains(p.as_str()) && !printed.contains(&local),
            "{b}: a full phone number in the logs ({p})"
        );
    }
}

/// ZNS first: numbers Zalo cannot reach (−118, −114, −108) and one out of quota get their
/// message by SMS instead, exactly once; the others get ZNS with the message id as
/// tracking_id, marked delivered by Zalo's event; a template error is a dead letter without
/// SMS; the access token expires mid-run and is refreshed, nothing lost or doubled; no token
/// or full number in any log line (debug level).
async fn zns_first_with_sms_behind(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Last digits: 0/8/9 success, 1 −118, 2 −114, 3 −108, 4 out of quota, 5 a lost reply,
    // 6 −100 once, 7 −109 (our template).
    let digits = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 8, 9, 0, 8];
    let phones = load_families(&db, dir, &digits);
    let (zns_log, sms_log, serve_log) = (
        dir.join("zns.jsonl"),
        dir.join("sms.jsonl"),
        dir.join("serve.log"),
    );
    let port = free_port();
    let hook = format!("http://127.0.0.1:{port}/webhooks/zalo?token={WEBHOOK_TOKEN}");
    let zns = fixture(
        "python3",
        "zns_server.py",
        &[
            &zns_log,
            Path::new(&hook),
            Path::new(SEED_REFRESH),
            Path::new("4"),
        ],
    );
    let sms = fixture("python3", "sms_gateway.py", &[&sms_log, Path::new("ok")]);
    let env = zns_env(zns.port, sms.port, &[("VONGDOI_ZNS_OA_SECRET", OA_SECRET)]);
    let mut served = serve_on(&db, dir, port, &env, &serve_log);
    let printed = run_day(&db, dir, &env);

    let accepted = zns_accepted(&zns_log);
    let sms_lines = lines(&sms_log);
    let sms_to = |phone: &str| {
        (sms_lines.iter())
            .filter(|l| l["to"] == format!("+{phone}").as_str() && l["outcome"] == "accepted")
            .count()
    };
    for (phone, d) in phones.iter().zip(digits) {
        let by_zns = accepted.values().filter(|p| *p == phone).count();
        match d {
            1..=4 => {
                assert_eq!(
                    (by_zns, sms_to(phone)),
                    (0, 1),
                    "{b}: digit {d}: by SMS, once"
                )
            }
            7 => assert_eq!(
                (by_zns, sms_to(phone)),
                (0, 0),
                "{b}: template error: no SMS"
            ),
            _ => assert_eq!(
                (by_zns, sms_to(phone)),
                (1, 0),
                "{b}: digit {d}: by ZNS, once"
            ),
        }
    }
    assert_eq!(sms_lines.len(), 4, "{b}: no SMS twice: {sms_lines:?}");
    // The token expired after 4 sends: refreshed (each refresh token used once), never refused.
    let refreshes: Vec<_> = lines(&zns_log)
        .into_iter()
        .filter(|l| l["kind"] == "refresh")
        .collect();
    assert!(refreshes.len() >= 3, "{b}: {refreshes:?}");
    assert!(
        refreshes.iter().all(|r| r["outcome"] == "ok"),
        "{b}: {refreshes:?}"
    );

    // Zalo's events mark the ZNS delivered.
    let mut zns_messages = Vec::new();
    for _ in 0..200 {
        zns_messages = messages(&db, dir)
            .into_iter()
            .filter(|m| m["channel"] == "zns")
            .collect();
        if zns_messages
            .iter()
            .filter(|m| m["status"] == "delivered")
            .count()
            == accepted.len()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let delivered: BTreeSet<String> = (zns_messages.iter())
        .filter(|m| m["status"] == "delivered")
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        delivered,
        accepted.keys().cloned().collect::<BTreeSet<_>>(),
        "{b}: the tracking ids are the message ids, and each was delivered: {zns_messages:#?}"
    );
    let dead: Vec<_> = zns_messages
        .iter()
        .filter(|m| m["status"] == "dead")
        .collect();
    assert_eq!(dead.len(), 5, "{b}: {dead:#?}");
    let fell_back = (dead.iter())
        .filter(|m| m["last_error"].as_str().unwrap().contains("other channel"))
        .count();
    assert_eq!(fell_back, 4, "{b}: {dead:#?}");
    assert!(
        dead.iter()
            .any(|m| m["last_error"].as_str().unwrap().contains("-109")),
        "{b}: {dead:#?}"
    );
    webhook_is_authenticated(b, port, &zns_messages).await;
    served.kill().unwrap();
    served.wait().unwrap();
    let all = format!("{printed}{}", fs::read_to_string(&serve_log).unwrap());
    assert!(
        all.contains("channel configuration refused"),
        "{b}: the operator is told about -109"
    );
    assert_nothing_secret(b, &all, &zns_log, &phones);
}
on_each_backend!(zns_first_with_sms_behind);

/// `/webhooks/zalo` takes the token or Zalo's signature, ignores other events, and says 404
/// for a msg_id it does not know.
async fn webhook_is_authenticated(b: &str, port: u16, zns_messages: &[serde_json::Value]) {
    use sha2::{Digest, Sha256};
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/webhooks/zalo");
    let post = |query: &str, body: String, signature: Option<String>| {
        let mut r = http.post(format!("{url}{query}")).body(body);
        if let Some(s) = signature {
            r = r.header("X-ZEvent-Signature", s);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    let token = &format!("?token={WEBHOOK_TOKEN}");
    let seen = r#"{"event_name": "user_seen_message", "message": {"msg_id": "x"}}"#;
    assert_eq!(post("", seen.into(), None).await, 401, "{b}: no token");
    assert_eq!(post("?token=wrong", seen.into(), None).await, 401, "{b}");
    assert_eq!(post(token, seen.into(), None).await, 200, "{b}: ignored");
    let received = |msg_id: &str| {
        format!(
            r#"{{"event_name": "user_received_message", "timestamp": "1764640000000", "message": {{"msg_id": "{msg_id}"}}}}"#
        )
    };
    assert_eq!(post(token, received("Znope"), None).await, 404, "{b}");
    let msg_id = (zns_messages.iter())
        .find_map(|m| m["provider_id"].as_str())
        .unwrap();
    let body = received(msg_id);
    let mac: String = Sha256::digest(format!("app{body}1764640000000{OA_SECRET}").as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    assert_eq!(
        post("", body.clone(), Some(format!("mac={mac}"))).await,
        200,
        "{b}: signed"
    );
    let forged = format!("mac={}", "0".repeat(64));
    assert_eq!(
        post("", body, Some(forged)).await,
        401,
        "{b}: forged signature"
    );
}

/// `VONGDOI_ZNS_DAILY_QUOTA`: past it, ZNS are held, and past `VONGDOI_ZNS_HOLD_MINUTES`
/// (0 here) they go by SMS; the count is the database's.
async fn past_the_daily_quota_zns_go_by_sms(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let phones = load_families(&db, dir, &[0, 8, 9, 0, 8]);
    let (zns_log, sms_log) = (dir.join("zns.jsonl"), dir.join("sms.jsonl"));
    let hook = format!("http://127.0.0.1:{}/webhooks/zalo", free_port());
    let zns = fixture(
        "python3",
        "zns_server.py",
        &[&zns_log, Path::new(&hook), Path::new(SEED_REFRESH)],
    );
    let sms = fixture("python3", "sms_gateway.py", &[&sms_log, Path::new("ok")]);
    let env = zns_env(zns.port, sms.port, &[("VONGDOI_ZNS_DAILY_QUOTA", "2")]);
    run_day(&db, dir, &env);
    let by_zns: BTreeSet<String> = zns_accepted(&zns_log).into_values().collect();
    let by_sms: BTreeSet<String> = (lines(&sms_log).iter())
        .map(|l| {
            l["to"]
                .as_str()
                .unwrap()
                .trim_start_matches('+')
                .to_string()
        })
        .collect();
    assert_eq!(
        (by_zns.len(), by_sms.len()),
        (2, 3),
        "{b}: {by_zns:?} {by_sms:?}"
    );
    assert!(by_zns.is_disjoint(&by_sms), "{b}");
    let all: BTreeSet<String> = by_zns.union(&by_sms).cloned().collect();
    assert_eq!(all, phones.into_iter().collect(), "{b}: everyone once");
}
on_each_backend!(past_the_daily_quota_zns_go_by_sms);

/// ZNS carries only notices with a `[[zns]]` template, to people who have not said stop to
/// texts: an adult's identity-card notice (no ZNS template) goes by SMS, an SMS opt-out stops
/// ZNS too, and a baby's doses of the day are one ZNS with the shipped template's parameters.
async fn what_zns_does_not_carry_goes_by_sms(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let phones = load_families(&db, dir, &[0, 8]);
    // Born December 1986, card of 2021: the renewal at 40 is due this month.
    fs::write(
        dir.join("adult.csv"),
        "personal_id,full_name,sex,date_of_birth,date_of_death,commune_code,household_id,mother_id,father_id,guardian_id,phone,email,language
         001086000777,Lê Văn Cường,M,1986-12-01,,00004,HA,,,,0912777770,,vi
",
    )
    .unwrap();
    fs::write(
        dir.join("card.csv"),
        "personal_id,issued_on
001086000777,2021-03-01
",
    )
    .unwrap();
    common::vongdoi_ok(&db, dir, &["import", "citizens", "adult.csv"], &[]);
    common::vongdoi_ok(&db, dir, &["import", "id-cards", "card.csv"], &[]);
    common::vongdoi_ok(
        &db,
        dir,
        &["citizen", "opt-out", "001196000002", "--channel", "sms"],
        &[],
    );
    let (zns_log, sms_log) = (dir.join("zns.jsonl"), dir.join("sms.jsonl"));
    let hook = format!("http://127.0.0.1:{}/webhooks/zalo", free_port());
    let zns = fixture(
        "python3",
        "zns_server.py",
        &[&zns_log, Path::new(&hook), Path::new(SEED_REFRESH)],
    );
    let sms = fixture("python3", "sms_gateway.py", &[&sms_log, Path::new("ok")]);
    run_day(&db, dir, &zns_env(zns.port, sms.port, &[]));
    let sends: Vec<_> = lines(&zns_log)
        .into_iter()
        .filter(|l| l["kind"] == "send")
        .collect();
    assert_eq!(
        sends.len(),
        1,
        "{b}: only the first mother by ZNS: {sends:#?}"
    );
    assert_eq!(sends[0]["phone"], phones[0].as_str(), "{b}");
    assert_eq!(
        sends[0]["template_id"], "PLACEHOLDER-vaccination-due-soon",
        "{b}"
    );
    let data = &sends[0]["template_data"];
    assert_eq!(data["name"], "Nguyễn Văn Con", "{b}: {data}");
    let vaccines = data["vaccine"].as_str().unwrap();
    assert!(
        vaccines.contains(", "),
        "{b}: the day's doses in one ZNS: {data}"
    );
    let sms_to: Vec<String> = (lines(&sms_log).iter())
        .map(|l| l["to"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sms_to,
        ["+84912777770"],
        "{b}: the identity card by SMS, the opted-out mother nothing"
    );
}
on_each_backend!(what_zns_does_not_carry_goes_by_sms);

/// `vongdoi run` killed (SIGKILL) mid-send and run again: every ZNS accepted once, none lost.
async fn a_kill_mid_send_loses_and_doubles_no_zns(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let digits: Vec<u32> = (0..40).map(|i| [0, 8, 9][i % 3]).collect();
    let phones = load_families(&db, dir, &digits);
    let (zns_log, sms_log) = (dir.join("zns.jsonl"), dir.join("sms.jsonl"));
    let hook = format!("http://127.0.0.1:{}/webhooks/zalo", free_port());
    let zns = fixture(
        "python3",
        "zns_server.py",
        &[
            &zns_log,
            Path::new(&hook),
            Path::new(SEED_REFRESH),
            Path::new("1000000"),
            Path::new("slow"),
        ],
    );
    let sms = fixture("python3", "sms_gateway.py", &[&sms_log, Path::new("ok")]);
    let env = zns_env(zns.port, sms.port, &[("VONGDOI_ZNS_CONCURRENCY", "2")]);
    let mut first = vongdoi(&db, dir, &["run", "--as-of", DAY], &env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..1000 {
        if zns_accepted(&zns_log).len() >= 8 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let at_kill = zns_accepted(&zns_log).len();
    assert!(
        (8..phones.len()).contains(&at_kill),
        "{b}: killed mid-send ({at_kill})"
    );
    let printed = run_day(&db, dir, &env);
    let accepted = zns_accepted(&zns_log);
    let got: BTreeSet<&String> = accepted.values().collect();
    assert_eq!(
        got,
        phones.iter().collect::<BTreeSet<_>>(),
        "{b}: every family once"
    );
    let ids: BTreeSet<String> = messages(&db, dir)
        .into_iter()
        .filter(|m| m["channel"] == "zns" && m["status"] == "sent")
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, accepted.keys().cloned().collect(), "{b}");
    assert!(lines(&sms_log).is_empty(), "{b}: no SMS");
    let again = lines(&zns_log)
        .iter()
        .filter(|l| l["outcome"] == "duplicate")
        .count();
    assert!(
        again <= 2,
        "{b}: only what was in flight went again ({again})"
    );
    assert_nothing_secret(b, &printed, &zns_log, &phones);
}
on_each_backend!(a_kill_mid_send_loses_and_doubles_no_zns);
