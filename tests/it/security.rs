//! Issue #10, the attacks that were made on purpose, each reproduced against a real
//! `vongdoi serve` (both backends where a database is involved):
//!
//! - the link-field bypass: a registrar linking their resident to a household, mother, father
//!   or guardian elsewhere, and links the operator imported across areas — walked through the
//!   API, the staff pages and the reports, field by field;
//! - answers that told whether an ID exists elsewhere;
//! - the access log lost at a personal-ID change;
//! - login CSRF (another site signing a browser in with its own key);
//! - one key starving the others through the list pages.

use crate::support as common;

use common::api::*;
use common::browser::{chromium, HEADLESS};
use common::{serve, TestDb};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::Path;

type Row = HashMap<String, String>;

const COLUMNS: [&str; 13] = [
    "personal_id",
    "full_name",
    "sex",
    "date_of_birth",
    "date_of_death",
    "commune_code",
    "household_id",
    "mother_id",
    "father_id",
    "guardian_id",
    "phone",
    "email",
    "language",
];

/// Imports rows as the operator does (`vongdoi import citizens`): the path that may link
/// people across areas (a child registered here whose mother lives elsewhere).
fn import_rows(db: &TestDb, dir: &Path, rows: &[Row]) {
    let path = dir.join("links.csv");
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(COLUMNS).unwrap();
    for r in rows {
        w.write_record(COLUMNS.iter().map(|c| r[*c].as_str()))
            .unwrap();
    }
    w.flush().unwrap();
    run(db, dir, &["import", "citizens", path.to_str().unwrap()]);
}

/// Every object in a JSON document that names a person (has a non-null `full_name`, `phone`
/// or `email`) must carry the personal ID of someone in `area`, and none of the outsiders'
/// names, phones or e-mails may appear anywhere in the document.
fn walk(doc: &Value, area: &HashSet<String>, secrets: &[String], what: &str) {
    let text = doc.to_string();
    for s in secrets {
        assert!(!text.contains(s.as_str()), "{what}: shows {s}");
    }
    fn visit(v: &Value, area: &HashSet<String>, what: &str, named: &mut usize) {
        match v {
            Value::Object(o) => {
                let names = [
                    "full_name",
                    "phone",
                    "email",
                    "guardian_name",
                    "guardian_phone",
                ]
                .iter()
                .any(|k| o.get(*k).is_some_and(|x| !x.is_null()));
                if names {
                    *named += 1;
                    let pin = o
                        .get("personal_id")
                        .and_then(Value::as_str)
                        .unwrap_or_else(|| panic!("{what}: a person without an ID: {v}"));
                    assert!(area.contains(pin), "{what}: {pin} is outside the area: {v}");
                }
                // `definitions` explains the columns in words; it names nobody.
                for (_, x) in o.iter().filter(|(k, _)| *k != "definitions") {
                    visit(x, area, what, named);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| visit(x, area, what, named)),
            _ => {}
        }
    }
    let mut named = 0;
    visit(doc, area, what, &mut named);
    assert!(named > 0, "{what}: the walk found the people it checks");
}

fn adult_in<'a>(all: &'a [Row], commune: &str, skip: &[&str]) -> &'a Row {
    all.iter()
        .find(|c| {
            c["commune_code"] == commune
                && c["date_of_birth"].as_str() < "1990-01-01"
                && c["date_of_death"].is_empty()
                && !c["phone"].is_empty()
                && !c["household_id"].is_empty()
                && all
                    .iter()
                    .filter(|m| m["household_id"] == c["household_id"])
                    .count()
                    >= 2
                && !skip.contains(&c["personal_id"].as_str())
        })
        .unwrap_or_else(|| panic!("an adult with a phone and a household of several in {commune}"))
}

async fn links_never_show_anyone_outside_the_callers_area(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let all = citizens(&db, dir);
    let home_pins: HashSet<String> = all
        .iter()
        .filter(|c| c["commune_code"] == HOME)
        .map(|c| c["personal_id"].clone())
        .collect();
    // The outsiders: an adult of another province with a phone and a household, and the
    // members of that household.
    let o = adult_in(&all, FAR, &[]).clone();
    let o2 = adult_in(&all, FAR, &[&o["personal_id"]]).clone();
    let far_household: Vec<&Row> = all
        .iter()
        .filter(|c| c["household_id"] == o["household_id"])
        .collect();
    assert!(far_household.len() >= 2, "{b}: a household of several");
    // What must never show: their phones and e-mails, and their names where no resident of
    // the area has the same one (common names are shared across the country).
    let home_names: HashSet<&str> = all
        .iter()
        .filter(|c| c["commune_code"] == HOME)
        .map(|c| c["full_name"].as_str())
        .collect();
    let mut secrets: Vec<String> = Vec::new();
    for p in far_household.iter().copied().chain([&o2]) {
        if !home_names.contains(p["full_name"].as_str()) {
            secrets.push(p["full_name"].clone());
        }
        for k in ["phone", "email"] {
            if !p[k].is_empty() {
                secrets.push(p[k].clone());
            }
        }
    }
    let h = adult_in(&all, HOME, &[]).clone();

    let registrar = key(
        &db,
        dir,
        "hotich",
        &["--role", "registrar", "--commune", HOME],
    );
    let health = key(&db, dir, "yte", &["--role", "health", "--commune", HOME]);
    let mut served = serve(&db, dir, &["--no-schedule"], &[]);
    let c = Client {
        http: reqwest::Client::new(),
        base: served.base.clone(),
    };
    let at = |pin: &str| format!("/api/citizens/{pin}");
    // The child: one on today's vaccination list, so the list's contact column is walked.
    let (_, _, body) = c
        .get(Some(&health), "/api/reports/vaccination?format=json")
        .await;
    let listed: Value = serde_json::from_str(&body).unwrap();
    let k_pin = listed["rows"][0]["personal_id"]
        .as_str()
        .expect("a child on the list");
    let k = all
        .iter()
        .find(|c| c["personal_id"] == k_pin)
        .unwrap()
        .clone();

    // 1. The registrar cannot write a link to anyone outside its area, and the answer for
    //    someone elsewhere is the answer for someone who does not exist.
    let nobody = format!("{}999997", &o["personal_id"][..6]);
    for field in ["mother_id", "father_id", "guardian_id"] {
        let mut said = Vec::new();
        for target in [&o["personal_id"], &nobody] {
            let p = problem(
                b,
                field,
                &c.send(
                    reqwest::Method::PATCH,
                    &registrar,
                    &at(&h["personal_id"]),
                    json!({ field: target }),
                    &[],
                )
                .await,
                400,
            );
            assert_eq!(p["errors"][0]["field"], field, "{b}: {p}");
            said.push(p["errors"][0]["reason"].clone());
        }
        assert_eq!(said[0], said[1], "{b}: {field}: the same words for both");
    }
    let p = problem(
        b,
        "household elsewhere",
        &c.send(
            reqwest::Method::PATCH,
            &registrar,
            &at(&h["personal_id"]),
            json!({"household_id": o["household_id"]}),
            &[],
        )
        .await,
        400,
    );
    assert_eq!(p["errors"][0]["field"], "household_id", "{b}: {p}");
    let newborn = format!("{}326999991", &k["personal_id"][..3]);
    problem(
        b,
        "new child with a mother elsewhere",
        &c.send(
            reqwest::Method::POST,
            &registrar,
            "/api/citizens",
            json!({"personal_id": newborn, "full_name": "Lê Văn Mới", "sex": "M",
                   "date_of_birth": "2026-10-01", "commune_code": HOME, "mother_id": o["personal_id"]}),
            &[],
        )
        .await,
        400,
    );
    // A link inside the area is still the registrar's to write.
    let (status, _, body) = c
        .send(
            reqwest::Method::PATCH,
            &registrar,
            &at(&k["personal_id"]),
            json!({"guardian_id": h["personal_id"]}),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{b}: {body}");

    // 2. Links that cross areas legitimately (the operator's import): a child here whose
    //    household, mother, father are elsewhere; a child elsewhere whose mother lives here.
    let mut k_linked = k.clone();
    k_linked.insert("household_id".into(), o["household_id"].clone());
    k_linked.insert("mother_id".into(), o["personal_id"].clone());
    k_linked.insert("father_id".into(), o2["personal_id"].clone());
    k_linked.insert("guardian_id".into(), o["personal_id"].clone());
    let far_child = all
        .iter()
        .find(|c| c["commune_code"] == FAR && c["date_of_birth"].as_str() > "2020-01-01")
        .unwrap();
    let mut child_link = far_child.clone();
    child_link.insert("mother_id".into(), h["personal_id"].clone());
    if !home_names.contains(far_child["full_name"].as_str()) {
        secrets.push(far_child["full_name"].clone());
    }
    import_rows(&db, dir, &[k_linked, child_link]);
    // …and a PATCH of another field keeps those links (they are not this key's doing).
    let (status, _, body) = c
        .send(
            reqwest::Method::PATCH,
            &registrar,
            &at(&k["personal_id"]),
            json!({"language": "vi"}),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{b}: an unrelated edit is not refused: {body}");

    // 3. Every response that names a person, walked field by field.
    for (who, key_) in [("registrar", &registrar), ("health", &health)] {
        let (status, _, body) = c.get(Some(key_), &at(&k["personal_id"])).await;
        assert_eq!(status, 200, "{b}: {body}");
        let doc: Value = serde_json::from_str(&body).unwrap();
        walk(
            &doc,
            &home_pins,
            &secrets,
            &format!("{b}: {who}: the child"),
        );
        assert_eq!(doc["household"].as_array().unwrap().len(), 0, "{b}: {doc}");
        assert!(
            doc["household_withheld"].as_u64().unwrap() >= 2,
            "{b}: {doc}"
        );
        let roles: Vec<(&str, bool)> = doc["guardians"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["role"].as_str().unwrap(),
                    g["withheld"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            roles,
            [("mother", true), ("father", true), ("guardian", true)],
            "{b}: {doc}"
        );
        let (status, _, body) = c.get(Some(key_), &at(&h["personal_id"])).await;
        assert_eq!(status, 200, "{b}: {body}");
        let doc: Value = serde_json::from_str(&body).unwrap();
        walk(
            &doc,
            &home_pins,
            &secrets,
            &format!("{b}: {who}: the mother"),
        );
    }
    for (kind, key_) in [("vaccination", &health), ("id-cards", &registrar)] {
        let (status, _, body) = c
            .get(Some(key_), &format!("/api/reports/{kind}?format=json"))
            .await;
        assert_eq!(status, 200, "{b}: {kind}: {body}");
        let doc: Value = serde_json::from_str(&body).unwrap();
        walk(&doc, &home_pins, &secrets, &format!("{b}: {kind} report"));
        let (_, _, csv_text) = c
            .get(Some(key_), &format!("/api/reports/{kind}?format=csv"))
            .await;
        for s in &secrets {
            assert!(!csv_text.contains(s.as_str()), "{b}: {kind} csv shows {s}");
        }
    }
    let (_, _, body) = c
        .get(Some(&health), "/api/reports/vaccination?format=json")
        .await;
    let doc: Value = serde_json::from_str(&body).unwrap();
    let k_rows: Vec<&Value> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["personal_id"] == k["personal_id"].as_str())
        .collect();
    assert!(!k_rows.is_empty(), "{b}: the linked child is still listed");
    assert!(
        k_rows.iter().all(|r| r["guardian_name"].is_null()),
        "{b}: with no contact from elsewhere: {k_rows:?}"
    );

    // 4. The staff citizen page, signed in as staff are.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let session = staff_session(&http, &c.base, &health).await;
    let page = http
        .get(format!("{}/staff/citizens/{}", c.base, k["personal_id"]))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&k["personal_id"]), "{b}: the page: {page}");
    for s in &secrets {
        assert!(!page.contains(s.as_str()), "{b}: the staff page shows {s}");
    }
    let list = http
        .get(format!("{}/staff/vaccination", c.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for s in &secrets {
        assert!(!list.contains(s.as_str()), "{b}: the list page shows {s}");
    }

    // 5. Nothing of the outsiders was read, so the audit trail holds no read of them.
    for p in far_household
        .iter()
        .map(|p| &p["personal_id"])
        .chain([&o2["personal_id"]])
    {
        assert!(audit_rows(&db, dir, p).is_empty(), "{b}: {p} was read");
    }
    let (ok, printed) = served.terminate();
    assert!(ok, "{b}: {printed}");
}
on_each_backend!(links_never_show_anyone_outside_the_callers_area);

async fn the_access_log_follows_a_personal_id_change(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let all = citizens(&db, dir);
    let old = child_in(&all, HOME);
    let registrar = key(
        &db,
        dir,
        "hotich",
        &["--role", "registrar", "--commune", HOME],
    );
    let mut served = serve(&db, dir, &["--no-schedule"], &[]);
    let c = Client {
        http: reqwest::Client::new(),
        base: served.base.clone(),
    };
    for _ in 0..3 {
        let (status, _, body) = c
            .get(Some(&registrar), &format!("/api/citizens/{old}"))
            .await;
        assert_eq!(status, 200, "{b}: {body}");
    }
    let new = format!(
        "{}{}",
        &old[..6],
        if &old[6..] == "999990" {
            "999991"
        } else {
            "999990"
        }
    );
    run(
        &db,
        dir,
        &[
            "citizen",
            "change-id",
            &old,
            &new,
            "--reason",
            "cấp lại / re-established",
        ],
    );
    let (status, _, body) = c
        .get(Some(&registrar), &format!("/api/citizens/{new}/access-log"))
        .await;
    assert_eq!(status, 200, "{b}: {body}");
    let log: Value = serde_json::from_str(&body).unwrap();
    let reads = log["reads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "read" && r["key_name"] == "hotich")
        .count();
    assert_eq!(reads, 3, "{b}: the reads made under the old ID: {log}");
    let cli: Vec<Value> = audit_rows(&db, dir, &new);
    assert!(
        cli.iter().filter(|r| r["action"] == "read").count() >= 3,
        "{b}: `vongdoi audit --citizen NEW` too: {cli:?}"
    );
    // The given-up ID registered again, to someone else: the two people's reads stay apart,
    // and the newcomer's record does not show the first person's change of ID.
    let first = all.iter().find(|r| r["personal_id"] == old).unwrap();
    let (status, _, body) = c
        .send(
            reqwest::Method::POST,
            &registrar,
            "/api/citizens",
            json!({"personal_id": old, "full_name": "Người Khác", "sex": first["sex"],
                   "date_of_birth": first["date_of_birth"], "commune_code": HOME}),
            &[],
        )
        .await;
    assert_eq!(status, 201, "{b}: {body}");
    let (_, _, body) = c
        .get(Some(&registrar), &format!("/api/citizens/{old}"))
        .await;
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert!(
        !body.contains(&new),
        "{b}: the newcomer's record names the first person's new ID: {doc}"
    );
    let reads_of = |log: &str| -> usize {
        let v: Value = serde_json::from_str(log).unwrap();
        v["reads"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "read")
            .count()
    };
    let (_, _, log) = c
        .get(Some(&registrar), &format!("/api/citizens/{old}/access-log"))
        .await;
    assert_eq!(
        reads_of(&log),
        1,
        "{b}: the newcomer's log holds their one read: {log}"
    );
    let (_, _, log) = c
        .get(Some(&registrar), &format!("/api/citizens/{new}/access-log"))
        .await;
    assert_eq!(
        reads_of(&log),
        3,
        "{b}: the first person's log is unchanged: {log}"
    );
    let (ok, printed) = served.terminate();
    assert!(ok, "{b}: {printed}");
}
on_each_backend!(the_access_log_follows_a_personal_id_change);

#[tokio::test]
async fn another_site_cannot_sign_a_browser_in() {
    let db = common::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let health = account(&db, dir, "yte", &["--role", "health", "--commune", HOME]);
    let mut served = serve(&db, dir, &["--no-schedule"], &[]);
    let base = served.base.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Posts the sign-in form with the account's password; true when a session cookie came back.
    let attempt =
        |cookie: Option<String>, token: Option<String>, headers: Vec<(&'static str, String)>| {
            let (http, base, key) = (http.clone(), base.clone(), health.clone());
            async move {
                let mut req = http.post(format!("{base}/staff/login"));
                if let Some(c) = cookie {
                    req = req.header("cookie", c);
                }
                for (h, v) in headers {
                    req = req.header(h, v);
                }
                let mut form = vec![
                    ("username", key.clone()),
                    ("password", password_of(&key)),
                    ("next", "/staff".to_string()),
                ];
                if let Some(t) = token {
                    form.push(("token", t));
                }
                let res = req.form(&form).send().await.unwrap();
                let signed_in = res
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .any(|v| v.to_str().unwrap().starts_with("vongdoi_session="));
                (res.status().as_u16(), signed_in)
            }
        };
    // Without the form's token (a form on another site has none): refused.
    assert_eq!(attempt(None, None, vec![]).await, (403, false));
    // With a token and its cookie, but posted from another site: refused.
    let (token, cookie) = login_token(&http, &base).await;
    for (h, v) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let got = attempt(
            Some(cookie.clone()),
            Some(token.clone()),
            vec![(h, v.to_string())],
        )
        .await;
        assert_eq!(got, (403, false), "{h}: {v}");
    }
    // A token from another browser (not this one's cookie): refused.
    let (other_token, _) = login_token(&http, &base).await;
    assert_eq!(
        attempt(Some(cookie.clone()), Some(other_token), vec![]).await,
        (403, false)
    );
    // The page's own form, from this site: signed in.
    let same_site = vec![
        ("origin", base.clone()),
        ("sec-fetch-site", "same-origin".to_string()),
    ];
    assert_eq!(
        attempt(Some(cookie), Some(token), same_site).await,
        (303, true)
    );

    // The attack as a browser meets it: a page elsewhere posts a key to our sign-in form.
    if let Some(chromium) = chromium() {
        let page = dir.join("evil.html");
        let password = password_of(&health);
        std::fs::write(
            &page,
            format!(
                "<!doctype html><form id=f method=post action=\"{base}/staff/login\"><input name=username value=\"{health}\"><input name=password value=\"{password}\"><input name=next value=\"/staff/vaccination\"></form>\
                 <script>document.getElementById('f').submit()</script>"
            ),
        )
        .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(chromium)
            .args(HEADLESS)
            .arg("--virtual-time-budget=10000")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--dump-dom")
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap();
        let dom = String::from_utf8_lossy(&out.stdout);
        assert!(
            dom.contains("name=\"password\"") && !dom.contains("id=\"vaccination\""),
            "the browser stays signed out: {dom}"
        );
    }
    let (ok, printed) = served.terminate();
    assert!(ok, "{printed}");
}

#[tokio::test]
async fn one_key_cannot_starve_the_others() {
    let db = common::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Large enough that the follow-up list of one commune runs over two pages of 50 children.
    let communes = format!("{HOME},{NEIGHBOUR},{FAR}");
    common::demo::fill(
        &db,
        &[
            "demo",
            "--population",
            "9000",
            "--seed",
            "7",
            "--communes",
            &communes,
            "--as-of",
            AS_OF,
        ],
    );
    let all = citizens(&db, dir);
    let child = child_in(&all, HOME);
    let greedy = key(&db, dir, "yte-1", &["--role", "health", "--commune", HOME]);
    let other = key(&db, dir, "yte-2", &["--role", "health", "--commune", HOME]);
    let mut served = serve(
        &db,
        dir,
        &["--no-schedule"],
        &[("VONGDOI_API_RATE", "1000"), ("VONGDOI_API_HEAVY", "1")],
    );
    let base = served.base.clone();
    let http = reqwest::Client::new();
    // Reports of one key at once: one runs, the rest are told to wait (429) at once. (A burst
    // is tried a few times: on a fast machine the first report may end before the rest arrive.)
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (http, url, k) = (
                http.clone(),
                format!("{base}/api/reports/vaccination?format=json"),
                greedy.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let res = http.get(url).bearer_auth(k).send().await.unwrap();
                (
                    res.status().as_u16(),
                    res.headers().get("retry-after").is_some(),
                )
            }));
        }
        // Meanwhile another key and the health check are served.
        let res = http
            .get(format!("{base}/api/citizens/{child}/forecast"))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let health = http.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        statuses.clear();
        for t in tasks {
            let (status, retry) = t.await.unwrap();
            if status == 429 {
                assert!(retry, "a 429 says when to retry");
            }
            statuses.push(status);
        }
        if statuses.contains(&429) {
            break;
        }
    }
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );

    // The list page is paged, and a page audits only the people it shows, in one batch.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let session = staff_session(&http, &base, &other).await;
    let mut seen = HashSet::new();
    for page in [1, 2] {
        let html = http
            .get(format!(
                "{base}/staff/vaccination?as_of={AS_OF}&list=follow_up&page={page}"
            ))
            .header("cookie", &session)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let rows = html.matches("<li class=\"child\"").count();
        assert!(rows > 0 && rows <= 50, "page {page}: {rows} children");
        assert!(
            html.contains(&format!("{page}/")),
            "page {page} of n is shown"
        );
        for c in &all {
            if html.contains(&format!("/staff/citizens/{}", c["personal_id"])) {
                seen.insert(c["personal_id"].clone());
            }
        }
    }
    let rows: Vec<Value> =
        serde_json::from_str(&run(&db, dir, &["audit", "--key", "yte-2", "--json"])).unwrap();
    let listed: HashSet<String> = rows
        .iter()
        .filter(|r| {
            r["action"] == "page:vaccination" && r["detail"].as_str().unwrap().starts_with("listed")
        })
        .map(|r| r["personal_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, seen, "the children audited are the children shown");
    let (ok, printed) = served.terminate();
    assert!(ok, "{printed}");
}

/// Every documented route, asked by a key of every role: refused (403) exactly when
/// `/openapi.json` does not list the role — so the document, the README's table (held equal to
/// the code by a unit test) and what the handlers enforce cannot disagree.
#[tokio::test]
async fn every_route_enforces_the_roles_it_documents() {
    let db = common::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let all = citizens(&db, dir);
    let pin = child_in(&all, HOME);
    let roles = ["admin", "registrar", "health", "education", "auditor"];
    let keys: HashMap<&str, String> = roles
        .iter()
        .map(|r| {
            let national: &[&str] = if matches!(*r, "admin" | "auditor") {
                &[]
            } else {
                &["--national"]
            };
            let mut args = vec!["--role", r];
            args.extend_from_slice(national);
            account(&db, dir, &format!("u-{r}"), &args);
            (*r, key(&db, dir, &format!("k-{r}"), &args))
        })
        .collect();
    let mut served = serve(
        &db,
        dir,
        &["--no-schedule"],
        &[("VONGDOI_API_RATE", "1000")],
    );
    let base = served.base.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let doc: Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut sessions = HashMap::new();
    for r in roles {
        sessions.insert(r, person_session(&http, &base, &format!("u-{r}")).await);
    }
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op
                .get("security")
                .is_some_and(|s| s.as_array().unwrap().is_empty())
            {
                continue; // public
            }
            let page = path.starts_with("/staff");
            if page && method != "get" {
                continue; // forms need the page's token; their role is the page's
            }
            let allowed = |v: &Value| -> Vec<String> {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_string())
                    .collect()
            };
            let cases: Vec<(String, Vec<String>)> = match op.get("x-roles-by-kind") {
                Some(by) => by
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(kind, r)| (path.replace("{kind}", kind), allowed(r)))
                    .collect(),
                None => vec![(path.clone(), allowed(&op["x-roles"]))],
            };
            for (url_path, allowed) in cases {
                let url = format!(
                    "{base}{}",
                    url_path
                        .replace("{pin}", &pin)
                        .replace("{id}", "nope")
                        .replace("{vaccine}", "BCG")
                        .replace("{date}", "2026-01-05")
                );
                let body = if url_path.ends_with("/immunizations") {
                    json!({"vaccine": "BCG", "date_given": "2026-01-05"})
                } else if url_path.ends_with("/id-cards") {
                    json!({"issued_on": "2026-01-05"})
                } else {
                    json!({})
                };
                for r in roles {
                    let req = match method.as_str() {
                        "get" => http.get(&url),
                        "post" => http.post(&url).json(&body),
                        "patch" => http.patch(&url).json(&body),
                        // Without a reason: 400 for the roles that may, 403 for the others.
                        "delete" => http.delete(&url),
                        // `PUT /api/school-places`: `{}` is no places file, 400 when allowed.
                        "put" => http.put(&url).json(&body),
                        m => panic!("method {m}"),
                    };
                    let req = if page {
                        req.header("cookie", &sessions[r])
                    } else {
                        req.bearer_auth(&keys[r])
                    };
                    let status = req.send().await.unwrap().status().as_u16();
                    let may = allowed.iter().any(|a| a == r);
                    assert!(status != 401, "{method} {url_path} as {r}: signed in");
                    assert_eq!(
                        status == 403,
                        !may,
                        "{method} {url_path} as {r}: documented {allowed:?}, answered {status}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 80, "{checked} route × role pairs checked");
    let (ok, printed) = served.terminate();
    assert!(ok, "{printed}");
}
