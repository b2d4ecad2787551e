//! A nurse's records on the citizen page (issue #12 items 5–7 and 10): the doses of one visit in
//! one submit, a confirmation before a dose the child does not need, a wrong dose removed with
//! its reason (page, API, CLI) and kept in the history and the audit trail, a guardian's phone
//! corrected and a family's messages stopped; village and address through import and export.
//! Each on a real `vongdoi serve`, on both backends, with a small registry imported for the
//! test so the child's schedule is known: born about four months before today.

use crate::support as common;

use chrono::{Datelike, Duration, NaiveDate};
use common::api::*;
use common::{serve, vongdoi, TestDb};
use serde_json::Value;
use std::path::Path;

/// A valid personal ID of someone born on `dob` (Hà Nội prefix 001) with `serial`.
fn pin_for(dob: NaiveDate, female: bool, serial: u32) -> String {
    let century = (dob.year() / 100 - 19) * 2 + female as i32;
    format!("001{century}{:02}{serial:06}", dob.year() % 100)
}

fn today() -> NaiveDate {
    // The service's own clock: Vietnam's day.
    (chrono::Utc::now() + Duration::hours(7)).date_naive()
}

struct Family {
    child: String,
    mother: String,
    neighbour_child: String,
    neighbour_mother: String,
}

/// Two families, one in HOME and one in NEIGHBOUR: a mother with a phone and a boy of about
/// four months with BCG and hepatitis B at birth and the two-month doses (PENTA, OPV).
fn registry(db: &TestDb, dir: &Path) -> Family {
    let born = today() - Duration::days(122);
    let mother_born = NaiveDate::from_ymd_opt(1995, 3, 14).unwrap();
    let f = Family {
        child: pin_for(born, false, 401),
        mother: pin_for(mother_born, true, 402),
        neighbour_child: pin_for(born, false, 403),
        neighbour_mother: pin_for(mother_born, true, 404),
    };
    let csv = format!(
        "personal_id,full_name,sex,date_of_birth,commune_code,household_id,mother_id,phone,village,address\n\
         {m},Trần Thị Lan,F,{mb},{HOME},HK1,,0912000111,Tổ dân phố 3,\"Số 12, ngõ 4\"\n\
         {c},Nguyễn Văn An,M,{b},{HOME},HK1,{m},,Tổ dân phố 3,\"Số 12, ngõ 4\"\n\
         {nm},Lê Thị Hoa,F,{mb},{NEIGHBOUR},HK2,,0912000222,Tổ dân phố 1,\n\
         {nc},Lê Văn Bình,M,{b},{NEIGHBOUR},HK2,{nm},,Tổ dân phố 1,\n",
        m = f.mother,
        c = f.child,
        nm = f.neighbour_mother,
        nc = f.neighbour_child,
        mb = mother_born,
        b = born,
    );
    std::fs::write(dir.join("people.csv"), csv).unwrap();
    run(db, dir, &["import", "citizens", "people.csv"]);
    let two_months = born + Duration::days(61);
    let mut doses = String::from("personal_id,vaccine,date_given,place\n");
    for pin in [&f.child, &f.neighbour_child] {
        for (v, d) in [
            ("HEPB", born),
            ("BCG", born),
            ("PENTA", two_months),
            ("OPV", two_months),
        ] {
            doses.push_str(&format!("{pin},{v},{d},Trạm Y tế\n"));
        }
    }
    std::fs::write(dir.join("doses.csv"), doses).unwrap();
    run(db, dir, &["import", "immunizations", "doses.csv"]);
    f
}

fn show(db: &TestDb, dir: &Path, pin: &str) -> Value {
    serde_json::from_str(&run(db, dir, &["citizen", "show", pin, "--format", "json"])).unwrap()
}

fn doses_of(doc: &Value) -> Vec<(String, String, Option<String>)> {
    doc["immunizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["vaccine"].as_str().unwrap().to_string(),
                r["date_given"].as_str().unwrap().to_string(),
                r["lot"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn actions(db: &TestDb, dir: &Path, pin: &str) -> Vec<String> {
    audit_rows(db, dir, pin)
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect()
}

struct Nurse {
    http: reqwest::Client,
    base: String,
    session: String,
    csrf: String,
}

impl Nurse {
    async fn get(&self, path: &str) -> (u16, String) {
        page_get(&self.http, &format!("{}{path}", self.base), &self.session).await
    }

    /// Posts a form; the status, the `Location` and the page.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(form);
        let url = format!("{}{path}", self.base);
        let (status, location, page) = page_post(&self.http, &url, &self.session, &all).await;
        (status, location.unwrap_or_default(), page)
    }

    async fn delete(&self, path: &str) -> (u16, String) {
        let res = self
            .http
            .delete(format!("{}{path}", self.base))
            .header("cookie", &self.session)
            .header("x-csrf-token", &self.csrf)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }
}

async fn nurse(base: &str, username: &str) -> Nurse {
    let http = no_redirects();
    let session = person_session(&http, base, username).await;
    let mut n = Nurse {
        http,
        base: base.to_string(),
        session,
        csrf: String::new(),
    };
    let (status, page) = n.get("/staff").await;
    assert!(status == 200 || status == 303, "{status}");
    let (_, page) = if page.contains("name=\"csrf\"") {
        (status, page)
    } else {
        n.get("/staff/vaccination").await
    };
    n.csrf = csrf_of(&page);
    n
}

/// The forecast's item for a vaccination dose.
fn item<'a>(forecast: &'a Value, series: &str, dose: u64) -> &'a Value {
    forecast["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["series"] == series && i["dose"] == dose)
        .unwrap_or_else(|| panic!("{series} {dose} in {forecast}"))
}

async fn record_remove_and_refuse(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let f = registry(&db, dir);
    let health = account(
        &db,
        dir,
        "yta-ba-dinh",
        &["--role", "health", "--commune", HOME],
    );
    let served = serve(&db, dir, &["--no-schedule"], &[]);
    let n = nurse(&served.base, &health).await;
    let today = today().to_string();
    let page_path = format!("/staff/citizens/{}", f.child);

    // The page: Vietnamese names, no internal ids, the full ID in the title, Nam, dd/mm/yyyy,
    // what is due first and the rest folded; the visit form with the due doses ticked.
    let (status, page) = n.get(&page_path).await;
    assert_eq!(status, 200, "{b}: {page}");
    assert!(
        page.contains(&format!(
            "<title>Nguyễn Văn An — {} — vòng đời</title>",
            f.child
        )),
        "{b}: the title shows the ID the facts show: {page}"
    );
    for internal in ["Tiêm dtp", "hepb-birth", "dtp 2", "Tiêm opv"] {
        assert!(!page.contains(internal), "{b}: no internal id {internal:?}");
    }
    assert!(
        page.contains("Bạch hầu, ho gà, uốn ván – mũi 2")
            && page.contains("Bại liệt uống – liều 2"),
        "{b}: dose names from the rules, drops in liều: {page}"
    );
    assert!(page.contains("<dd>Nam</dd>"), "{b}: sex as Nam");
    let born = (chrono::NaiveDate::parse_from_str(&today, "%Y-%m-%d").unwrap()
        - Duration::days(122))
    .format("%d/%m/%Y")
    .to_string();
    assert!(
        page.contains(&format!("<dd>{born}</dd>")),
        "{b}: dd/mm/yyyy"
    );
    assert!(
        page.contains("<details id=\"forecast-rest\">"),
        "{b}: the rest folded"
    );
    assert!(
        page.contains("name=\"vaccine\" value=\"PENTA\" checked")
            && page.contains("name=\"vaccine\" value=\"OPV\" checked"),
        "{b}: the doses due are pre-selected: {page}"
    );
    assert!(
        page.contains("value=\"Trạm Y tế Phường Ba Đình\""),
        "{b}: the station is the default place"
    );
    assert!(page.contains("Tổ dân phố 3") && page.contains("Số 12, ngõ 4"));

    // Two doses in one submit, with a lot number, then back to the list the nurse came from.
    let back = format!("/staff/vaccination?commune={HOME}&page=1");
    let (status, location, body) = n
        .post(
            &format!("{page_path}/immunizations"),
            &[
                ("vaccine", "PENTA"),
                ("vaccine", "OPV"),
                ("lot_PENTA", "PT-2611"),
                ("date_given", &today),
                ("place", "Trạm Y tế Phường Ba Đình"),
                ("return", &back),
            ],
        )
        .await;
    assert_eq!(status, 303, "{b}: {body}");
    assert_eq!(location, back, "{b}: back where the nurse came from");
    let doc = show(&db, dir, &f.child);
    let doses = doses_of(&doc);
    assert!(
        doses.contains(&("PENTA".into(), today.clone(), Some("PT-2611".into())))
            && doses.contains(&("OPV".into(), today.clone(), None)),
        "{b}: both doses, the lot kept: {doses:?}"
    );
    let recorded: Vec<&Value> = doc["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["field"] == "immunization" && h["old_value"].is_null())
        .collect();
    assert_eq!(recorded.len(), 2, "{b}: both in the history: {doc}");
    // A return address off our pages is not followed.
    let (status, location, _) = n
        .post(
            &format!("{page_path}/immunizations"),
            &[
                ("vaccine", "IPV"),
                ("date_given", &today),
                ("return", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!((status, location.as_str()), (303, "/staff"), "{b}");

    // An error keeps the form filled and says what is wrong beside the field.
    let (status, _, page) = n
        .post(
            &format!("{page_path}/immunizations"),
            &[
                ("vaccine", "ROTA"),
                ("date_given", "2099-01-01"),
                ("lot", "R-77"),
            ],
        )
        .await;
    assert_eq!(status, 400, "{b}");
    assert!(
        page.contains("id=\"error-date\"")
            && page.contains("value=\"R-77\"")
            && page.contains("id=\"dose-form\""),
        "{b}: the form comes back filled, the problem beside the date: {page}"
    );

    // A second BCG: not without the confirmation.
    let before = doses_of(&show(&db, dir, &f.child)).len();
    let (status, _, page) = n
        .post(
            &format!("{page_path}/immunizations"),
            &[("other", "BCG"), ("date_given", &today)],
        )
        .await;
    assert_eq!(status, 409, "{b}: {page}");
    assert!(
        page.contains("id=\"confirm\"")
            && page.contains("đã tiêm đủ")
            && page.contains("name=\"confirm\""),
        "{b}: the confirmation step: {page}"
    );
    assert_eq!(
        doses_of(&show(&db, dir, &f.child)).len(),
        before,
        "{b}: nothing recorded yet"
    );
    let (status, _, body) = n
        .post(
            &format!("{page_path}/immunizations"),
            &[("other", "BCG"), ("date_given", &today), ("confirm", "1")],
        )
        .await;
    assert_eq!(status, 303, "{b}: confirmed: {body}");
    assert!(doses_of(&show(&db, dir, &f.child)).contains(&("BCG".into(), today.clone(), None)));

    // Removing it on the page: not without a reason, then with one.
    let remove = format!("{page_path}/immunizations/remove");
    let (status, _, page) = n
        .post(
            &remove,
            &[("vaccine", "BCG"), ("date_given", &today), ("reason", " ")],
        )
        .await;
    assert_eq!(status, 400, "{b}");
    assert!(page.contains("cần ghi lý do"), "{b}: {page}");
    let (status, location, _) = n
        .post(
            &remove,
            &[
                ("vaccine", "BCG"),
                ("date_given", &today),
                ("reason", "ghi nhầm: trẻ đã tiêm BCG lúc sinh"),
            ],
        )
        .await;
    assert_eq!(
        (status, location),
        (303, format!("{page_path}?removed=1")),
        "{b}"
    );
    let doc = show(&db, dir, &f.child);
    assert!(
        !doses_of(&doc).iter().any(|d| d.0 == "BCG" && d.1 == today),
        "{b}: the second BCG is gone"
    );
    let removal = doc["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["field"] == "immunization" && h["new_value"].is_null())
        .unwrap_or_else(|| panic!("{b}: the removal in the history: {doc}"));
    assert_eq!(removal["old_value"], format!("BCG {today}"));
    assert_eq!(removal["reason"], "ghi nhầm: trẻ đã tiêm BCG lúc sinh");
    let (_, page) = n.get(&page_path).await;
    assert!(
        page.contains("id=\"history\"") && page.contains("ghi nhầm: trẻ đã tiêm BCG lúc sinh"),
        "{b}: the page shows the history"
    );

    // Removing over the API (the staff session with its X-CSRF-Token): OPV no longer counts.
    let forecast_path = format!("/api/citizens/{}/forecast", f.child);
    let (_, forecast) = n.get(&forecast_path).await;
    let forecast: Value = serde_json::from_str(&forecast).unwrap();
    assert_eq!(
        item(&forecast, "opv", 2)["completed_on"],
        today.as_str(),
        "{b}"
    );
    let api_path = format!("/api/citizens/{}/immunizations/OPV/{today}", f.child);
    let (status, body) = n.delete(&api_path).await;
    assert_eq!(status, 400, "{b}: a reason is required: {body}");
    let (status, body) = n
        .delete(&format!("{api_path}?reason=nh%E1%BA%A7m%20ng%C3%A0y"))
        .await;
    assert_eq!(status, 200, "{b}: {body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["removed"]["vaccine"], "OPV");
    let (_, forecast) = n.get(&forecast_path).await;
    let forecast: Value = serde_json::from_str(&forecast).unwrap();
    let opv2 = item(&forecast, "opv", 2);
    assert!(
        opv2["status"] != "completed" && opv2["completed_on"].is_null(),
        "{b}: the removed dose no longer counts: {opv2}"
    );
    let (status, _) = n.delete(&format!("{api_path}?reason=again")).await;
    assert_eq!(status, 404, "{b}: removed once");

    // Removing on the command line.
    run(
        &db,
        dir,
        &[
            "citizen",
            "remove-dose",
            &f.child,
            "penta",
            &today,
            "--reason",
            "lô vắc xin ghi sai trẻ",
        ],
    );
    let doc = show(&db, dir, &f.child);
    assert!(
        !doses_of(&doc)
            .iter()
            .any(|d| d.0 == "PENTA" && d.1 == today),
        "{b}: {doc}"
    );
    let reasons: Vec<&str> = doc["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        [
            "ghi nhầm: trẻ đã tiêm BCG lúc sinh",
            "nhầm ngày",
            "lô vắc xin ghi sai trẻ"
        ],
        "{b}"
    );
    let (ok, _, err) = vongdoi(
        &db,
        dir,
        &[
            "citizen",
            "remove-dose",
            &f.child,
            "PENTA",
            &today,
            "--reason",
            "x",
        ],
    );
    assert!(!ok && err.contains("no PENTA dose"), "{b}: {err}");
    let audited = actions(&db, dir, &f.child);
    assert_eq!(
        audited.iter().filter(|a| *a == "remove-dose").count(),
        3,
        "{b}: page, API and CLI removals audited: {audited:?}"
    );
    assert!(audited.iter().filter(|a| *a == "immunization").count() >= 3);

    // Another commune's child: refused on the page, its forms and the API; nothing read.
    let other = format!("/staff/citizens/{}", f.neighbour_child);
    assert_eq!(n.get(&other).await.0, 403, "{b}");
    let (status, _, _) = n
        .post(
            &format!("{other}/immunizations"),
            &[("vaccine", "PENTA"), ("date_given", &today)],
        )
        .await;
    assert_eq!(status, 403, "{b}");
    let (status, _, _) = n
        .post(
            &format!("{other}/immunizations/remove"),
            &[
                ("vaccine", "PENTA"),
                ("date_given", &today),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(status, 403, "{b}");
    let two_months = self::today() - Duration::days(61);
    let (status, _) = n
        .delete(&format!(
            "/api/citizens/{}/immunizations/PENTA/{two_months}?reason=x",
            f.neighbour_child
        ))
        .await;
    assert_eq!(status, 403, "{b}");
    assert_eq!(
        doses_of(&show(&db, dir, &f.neighbour_child)).len(),
        4,
        "{b}: the neighbour's records untouched"
    );
    assert!(
        audit_rows(&db, dir, &f.neighbour_child).is_empty(),
        "{b}: the refusals read nothing"
    );
}

on_each_backend!(record_remove_and_refuse);

async fn phones_and_opt_outs_from_the_page(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let f = registry(&db, dir);
    let health = account(
        &db,
        dir,
        "yta-ba-dinh",
        &["--role", "health", "--commune", HOME],
    );
    let served = serve(&db, dir, &["--no-schedule"], &[]);
    let n = nurse(&served.base, &health).await;
    let page_path = format!("/staff/citizens/{}", f.child);
    let contacts = format!("{page_path}/contacts");

    let (_, page) = n.get(&page_path).await;
    assert!(
        page.contains("href=\"tel:+84912000111\">0912 000 111</a>"),
        "{b}: the phone as Vietnamese write it: {page}"
    );

    // A wrong number is refused beside the field, with what was typed.
    let (status, _, page) = n
        .post(&contacts, &[("guardian", &f.mother), ("phone", "0212 345")])
        .await;
    assert_eq!(status, 400, "{b}");
    assert!(
        page.contains("value=\"0212 345\"") && page.contains("phải có 10 chữ số"),
        "{b}: {page}"
    );
    // The right one is stored (E.164), in the history and the audit trail.
    let (status, location, _) = n
        .post(
            &contacts,
            &[("guardian", &f.mother), ("phone", "0987 654 321")],
        )
        .await;
    assert_eq!(
        (status, location),
        (303, format!("{page_path}?saved=phone")),
        "{b}"
    );
    let mother = show(&db, dir, &f.mother);
    assert_eq!(mother["citizen"]["phone"], "+84987654321", "{b}");
    assert!(
        mother["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["field"] == "phone" && h["new_value"] == "+84987654321"),
        "{b}: {mother}"
    );
    assert!(actions(&db, dir, &f.mother).contains(&"contact".to_string()));
    // Only a guardian of this child, inside the area.
    let (status, _, _) = n
        .post(
            &contacts,
            &[("guardian", &f.neighbour_mother), ("phone", "0987 000 000")],
        )
        .await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(
        show(&db, dir, &f.neighbour_mother)["citizen"]["phone"],
        "+84912000222",
        "{b}"
    );

    // SMS stopped for the family (the child and the mother), then restarted.
    let (status, _, _) = n
        .post(&contacts, &[("channel", "sms"), ("stop", "1")])
        .await;
    assert_eq!(status, 303, "{b}");
    for pin in [&f.child, &f.mother] {
        let doc = show(&db, dir, pin);
        assert_eq!(doc["citizen"]["sms_opt_out"], true, "{b}: {pin}");
        assert_eq!(doc["citizen"]["email_opt_out"], false, "{b}: {pin}");
        assert!(actions(&db, dir, pin).contains(&"opt-out".to_string()));
    }
    let (_, page) = n.get(&page_path).await;
    assert!(page.contains("đã ngừng"), "{b}: the page says so");
    let (status, _, _) = n
        .post(&contacts, &[("channel", "sms"), ("stop", "0")])
        .await;
    assert_eq!(status, 303, "{b}");
    assert_eq!(show(&db, dir, &f.mother)["citizen"]["sms_opt_out"], false);

    // Not for another commune's family.
    let (status, _, _) = n
        .post(
            &format!("/staff/citizens/{}/contacts", f.neighbour_child),
            &[("channel", "sms"), ("stop", "1")],
        )
        .await;
    assert_eq!(status, 403, "{b}");
    assert_eq!(
        show(&db, dir, &f.neighbour_mother)["citizen"]["sms_opt_out"],
        false
    );
}

on_each_backend!(phones_and_opt_outs_from_the_page);

/// Village and address: imported, shown, in the API's JSON, editable by PATCH, exported at the
/// end of the row, and export → import is exact.
async fn village_and_address_round_trip(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let f = registry(&db, dir);
    let doc = show(&db, dir, &f.child);
    assert_eq!(doc["citizen"]["village"], "Tổ dân phố 3", "{b}");
    assert_eq!(doc["citizen"]["address"], "Số 12, ngõ 4", "{b}");
    let (ok, _, err) = vongdoi(&db, dir, &["export", "citizens", "a.csv"]);
    assert!(ok, "{err}");
    let a = std::fs::read_to_string(dir.join("a.csv")).unwrap();
    assert!(
        a.lines()
            .next()
            .unwrap()
            .ends_with(",phone,email,language,village,address"),
        "{b}: the new columns at the end: {a}"
    );
    assert!(a.contains("Tổ dân phố 3,\"Số 12, ngõ 4\""), "{b}: {a}");

    // The registrar edits the village over the API; history keeps the old one.
    let registrar = key(
        &db,
        dir,
        "hotich",
        &["--role", "registrar", "--commune", HOME],
    );
    let served = serve(&db, dir, &["--no-schedule"], &[]);
    let c = Client {
        http: reqwest::Client::new(),
        base: served.base.clone(),
    };
    let got = c
        .send(
            reqwest::Method::PATCH,
            &registrar,
            &format!("/api/citizens/{}", f.child),
            serde_json::json!({"village": "Tổ dân phố 5", "address": null}),
            &[],
        )
        .await;
    assert_eq!(got.0, 200, "{b}: {}", got.2);
    let (status, _, body) = c
        .get(Some(&registrar), &format!("/api/citizens/{}", f.child))
        .await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["citizen"]["village"], "Tổ dân phố 5", "{b}: {doc}");
    assert!(doc["citizen"]["address"].is_null(), "{b}");
    assert!(
        doc["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["field"] == "village" && h["old_value"] == "Tổ dân phố 3"),
        "{b}: {doc}"
    );
    // A control character in a village is refused at its field.
    let bad = c
        .send(
            reqwest::Method::PATCH,
            &registrar,
            &format!("/api/citizens/{}", f.child),
            serde_json::json!({"village": "Thôn\u{202e}1"}),
            &[],
        )
        .await;
    let p = problem(b, "village with a bidi override", &bad, 400);
    assert_eq!(p["errors"][0]["field"], "village", "{b}: {p}");

    // Export → import into an empty registry → export: the same file.
    assert!(vongdoi(&db, dir, &["export", "citizens", "b.csv"]).0);
    let empty = common::sqlite().await;
    let (ok, out, err) = vongdoi(&empty, dir, &["import", "citizens", "b.csv"]);
    assert!(ok, "{out}{err}");
    assert!(vongdoi(&empty, dir, &["export", "citizens", "c.csv"]).0);
    let (b_csv, c_csv) = (
        std::fs::read_to_string(dir.join("b.csv")).unwrap(),
        std::fs::read_to_string(dir.join("c.csv")).unwrap(),
    );
    assert!(b_csv.contains("Tổ dân phố 5"), "{b}");
    assert_eq!(b_csv, c_csv, "{b}: export → import is exact");
}

on_each_backend!(village_and_address_round_trip);

/// The demo gives households villages, so lists can filter by them, and the vaccination
/// report's rows carry the village.
#[tokio::test]
async fn the_demo_has_villages_and_the_worklist_carries_them() {
    let db = common::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let all = citizens(&db, dir);
    assert!(
        all.iter()
            .all(|c| c["village"].starts_with("Tổ dân phố ") || c["village"].starts_with("Thôn ")),
        "every demo citizen has a village"
    );
    let villages: std::collections::BTreeSet<&str> =
        all.iter().map(|c| c["village"].as_str()).collect();
    assert!(villages.len() >= 10, "{villages:?}");
    let out = run(
        &db,
        dir,
        &[
            "report",
            "vaccination",
            "--commune",
            HOME,
            "--as-of",
            AS_OF,
            "--format",
            "json",
        ],
    );
    assert!(
        out.contains("\"village\": \"Tổ dân phố "),
        "report rows carry the village: {}",
        &out[..out.len().min(2000)]
    );
}
