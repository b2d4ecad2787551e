//! The HTTP API's contract as a client meets it, one named test per promise: a real
//! `vongdoi serve` on both backends, keys made with `vongdoi keys create`, a demo registry
//! (copied, see `support::demo`), and the audit read back with `vongdoi audit`. Covers the
//! "done when" of issue #6 and the error contract (RFC 9457 problem details).

use crate::support::api::*;
use crate::support::{serve, vongdoi, Served, TestDb};
use serde_json::{json, Value};
use std::collections::HashMap;

/// What every test here starts from: the demo, a key of each role, and `serve`.
struct Site {
    b: &'static str,
    db: TestDb,
    tmp: tempfile::TempDir,
    all: Vec<HashMap<String, String>>,
    /// A young child of the health key's commune, and one of the neighbouring commune.
    home_child: String,
    neighbour_child: String,
    admin: String,
    health: String,
    education: String,
    registrar: String,
    auditor: String,
    served: Served,
    c: Client,
}

impl Site {
    async fn open(db: TestDb) -> Site {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        demo(&db);
        let all = citizens(&db, dir);
        let (home_child, neighbour_child) = (child_in(&all, HOME), child_in(&all, NEIGHBOUR));
        let admin = key(&db, dir, "admin-1", &["--role", "admin"]);
        let health = key(
            &db,
            dir,
            "yte-ba-dinh",
            &["--role", "health", "--commune", HOME],
        );
        let education = key(
            &db,
            dir,
            "giaoduc-ha-noi",
            &["--role", "education", "--province", "01"],
        );
        let registrar = key(
            &db,
            dir,
            "hotich-ba-dinh",
            &["--role", "registrar", "--commune", HOME],
        );
        let auditor = key(&db, dir, "kiemtra", &["--role", "auditor"]);
        let served = serve(&db, dir, &["--no-schedule"], &[]);
        let c = Client {
            http: reqwest::Client::new(),
            base: served.base.clone(),
        };
        Site {
            b: db.backend,
            db,
            tmp,
            all,
            home_child,
            neighbour_child,
            admin,
            health,
            education,
            registrar,
            auditor,
            served,
            c,
        }
    }

    fn dir(&self) -> &std::path::Path {
        self.tmp.path()
    }

    /// A newborn of the home commune, as the registrar would post it.
    fn newborn(&self) -> Value {
        let base = self
            .all
            .iter()
            .find(|c| c["personal_id"] == self.home_child)
            .unwrap();
        let mut newborn = json!({
            "personal_id": format!("{}326999999", &self.home_child[..3]), "full_name": "Nguyễn Thị Thử", "sex": "F",
            "date_of_birth": "2026-10-01", "commune_code": HOME, "mother_id": base["mother_id"],
        });
        if newborn["mother_id"] == "" {
            newborn["mother_id"] = Value::Null;
        }
        newborn
    }

    /// Registers the newborn through the API and returns its personal ID.
    async fn register_newborn(&self) -> String {
        let created = self
            .c
            .send(
                reqwest::Method::POST,
                &self.registrar,
                "/api/citizens",
                self.newborn(),
                &[],
            )
            .await;
        assert_eq!(created.0, 201, "{}: {}", self.b, created.2);
        self.newborn()["personal_id"].as_str().unwrap().to_string()
    }

    /// Stops `serve` and checks that it stopped cleanly.
    fn stop(mut self) {
        let (ok, printed) = self.served.terminate();
        assert!(ok, "{}: {printed}", self.b);
    }
}

fn citizen(pin: &str) -> String {
    format!("/api/citizens/{pin}")
}

/// A key has one role and, below admin, an area; only its hash is stored.
async fn keys_are_bound_to_a_role_and_an_area_and_stored_as_hashes(db: TestDb) {
    let site = Site::open(db).await;
    let Site {
        b,
        db,
        admin,
        health,
        education,
        ..
    } = &site;
    let b = *b;
    let dir = site.dir();
    // A health key must name its area; an admin key may not be narrowed.
    assert!(
        !vongdoi(db, dir, &["keys", "create", "--role", "health"]).0,
        "{b}"
    );
    assert!(
        !vongdoi(
            db,
            dir,
            &["keys", "create", "--role", "admin", "--commune", HOME]
        )
        .0,
        "{b}"
    );
    assert!(
        !vongdoi(
            db,
            dir,
            &["keys", "create", "--name", "admin-1", "--role", "admin"]
        )
        .0,
        "{b}: names are unique"
    );

    let listed = run(db, dir, &["keys", "list"]);
    assert!(
        listed.contains("yte-ba-dinh") && listed.contains("health"),
        "{b}: {listed}"
    );
    // Only hashes are stored: the key appears in no listing and not in the SQLite files.
    for k in [admin, health, education] {
        assert!(!listed.contains(&k[3..]), "{b}: key material listed");
    }
    if b == "sqlite" {
        let file = db.url.trim_start_matches("sqlite://");
        for suffix in ["", "-wal"] {
            if let Ok(bytes) = std::fs::read(format!("{file}{suffix}")) {
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains(&health[3..]),
                    "{b}: the key itself is not stored"
                );
            }
        }
    }
    site.stop();
}
on_each_backend!(keys_are_bound_to_a_role_and_an_area_and_stored_as_hashes);

/// Without a key, with a wrong one or a revoked one: 401, saying how to authenticate.
async fn missing_wrong_and_revoked_keys_get_401(db: TestDb) {
    let site = Site::open(db).await;
    let Site {
        b,
        db,
        home_child,
        c,
        ..
    } = &site;
    let b = *b;
    let dir = site.dir();
    // Without a key, or with a wrong one: 401.
    let p = problem(b, "no key", &c.get(None, &citizen(home_child)).await, 401);
    assert!(p["detail"].as_str().unwrap().contains("Bearer"), "{b}: {p}");
    problem(
        b,
        "wrong key",
        &c.get(Some("vd_0000"), &citizen(home_child)).await,
        401,
    );
    let revoked = key(db, dir, "tam-thoi", &["--role", "admin"]);
    run(db, dir, &["keys", "revoke", "tam-thoi"]);
    problem(
        b,
        "revoked key",
        &c.get(Some(&revoked), &citizen(home_child)).await,
        401,
    );

    site.stop();
}
on_each_backend!(missing_wrong_and_revoked_keys_get_401);

/// A health key of one commune reads its children and their forecast (the CLI's), lists its
/// commune only, and gets 403 for another commune's child.
async fn a_health_key_reads_its_commune_and_nothing_beyond(db: TestDb) {
    let site = Site::open(db).await;
    let Site {
        b,
        db,
        home_child,
        neighbour_child,
        health,
        c,
        ..
    } = &site;
    let b = *b;
    let dir = site.dir();
    // A health key of one commune reads its children…
    let (status, headers, body) = c.get(Some(health), &citizen(home_child)).await;
    assert_eq!(status, 200, "{b}: {body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["citizen"]["personal_id"], home_child.as_str(), "{b}");
    assert_eq!(doc["citizen"]["commune_code"], HOME, "{b}");
    assert!(
        doc["immunizations"].is_array() && doc["history"].is_array(),
        "{b}: {doc}"
    );
    assert!(headers.get("etag").is_some(), "{b}: ETag");
    for h in [
        "x-content-type-options",
        "content-security-policy",
        "x-frame-options",
        "x-request-id",
        "referrer-policy",
    ] {
        assert!(headers.get(h).is_some(), "{b}: security header {h}");
    }
    assert_eq!(headers.get("cache-control").unwrap(), "no-store", "{b}");
    // …with the forecast the CLI gives…
    let (status, _, body) = c
        .get(
            Some(health),
            &format!("{}/forecast?as_of={AS_OF}", citizen(home_child)),
        )
        .await;
    assert_eq!(status, 200, "{b}: {body}");
    let api_forecast: Value = serde_json::from_str(&body).unwrap();
    let cli_forecast: Value = serde_json::from_str(&run(
        db,
        dir,
        &["forecast", home_child, "--as-of", AS_OF, "--format", "json"],
    ))
    .unwrap();
    assert_eq!(
        api_forecast, cli_forecast,
        "{b}: the API forecast is the CLI's"
    );
    assert!(!api_forecast["items"].as_array().unwrap().is_empty(), "{b}");
    // …and gets 403 for another commune's child (record, forecast, dose).
    problem(
        b,
        "other commune",
        &c.get(Some(health), &citizen(neighbour_child)).await,
        403,
    );
    problem(
        b,
        "other commune forecast",
        &c.get(
            Some(health),
            &format!("{}/forecast", citizen(neighbour_child)),
        )
        .await,
        403,
    );
    let dose = json!({"vaccine": "BCG", "date_given": AS_OF});
    problem(
        b,
        "other commune dose",
        &c.send(
            reqwest::Method::POST,
            health,
            &format!("{}/immunizations", citizen(neighbour_child)),
            dose.clone(),
            &[],
        )
        .await,
        403,
    );

    // The health key's vaccination list is its commune, never beyond.
    let (status, _, body) = c
        .get(
            Some(health),
            &format!("/api/reports/vaccination?as_of={AS_OF}"),
        )
        .await;
    assert_eq!(status, 200, "{b}: {body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    let rows = list["rows"].as_array().unwrap();
    assert!(!rows.is_empty(), "{b}: children are due in {HOME}");
    assert!(
        rows.iter().all(|r| r["commune_code"] == HOME),
        "{b}: clamped to the key's commune"
    );
    problem(
        b,
        "list outside area",
        &c.get(
            Some(health),
            &format!("/api/reports/vaccination?commune={NEIGHBOUR}"),
        )
        .await,
        403,
    );
    problem(
        b,
        "province outside area",
        &c.get(Some(health), "/api/reports/vaccination?province=01")
            .await,
        403,
    );
    let (status, headers, csv) = c
        .get(
            Some(health),
            &format!("/api/reports/vaccination?as_of={AS_OF}&format=csv"),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"),
        "{b}"
    );
    assert!(
        csv.starts_with('\u{feff}'),
        "{b}: CSV with BOM as the CLI writes it"
    );
    // …and xlsx, a download with a file name, read back as Excel would.
    let res = c
        .http
        .get(format!(
            "{}/api/reports/vaccination?as_of={AS_OF}&format=xlsx",
            c.base
        ))
        .bearer_auth(health)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200, "{b}");
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "{b}"
    );
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"vaccination-{AS_OF}.xlsx\"").as_str(),
        "{b}"
    );
    let xlsx = dir.join("api-vaccination.xlsx");
    std::fs::write(&xlsx, res.bytes().await.unwrap()).unwrap();
    let sheet = &crate::support::xlsx_sheets(&xlsx)[0];
    assert_eq!(sheet.rows[0][0]["v"], "Số định danh", "{b}");
    assert_eq!(sheet.rows.len() - 1, rows.len(), "{b}: the JSON's rows");
    assert!(
        sheet.rows[1..]
            .iter()
            .all(|r| r[0]["t"] == "s" && r[0]["v"].as_str().is_some_and(|p| p.len() == 12)),
        "{b}: personal IDs are 12-character text cells"
    );
    assert_eq!(sheet.rows[1][0]["v"], rows[0]["personal_id"], "{b}");

    site.stop();
}
on_each_backend!(a_health_key_reads_its_commune_and_nothing_beyond);

/// An education key gets enrolment and coverage counts for its province and 403 on any person.
async fn an_education_key_gets_counts_and_no_person(db: TestDb) {
    let site = Site::open(db).await;
    let Site {
        b,
        home_child,
        education,
        c,
        ..
    } = &site;
    let b = *b;
    // An education key gets enrolment forecasts and 403 on any person.
    let (status, _, body) = c
        .get(
            Some(education),
            &format!("/api/reports/enrolment?as_of={AS_OF}"),
        )
        .await;
    assert_eq!(status, 200, "{b}: {body}");
    let enrol: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(enrol["report"], "enrolment", "{b}");
    assert!(
        !enrol.to_string().contains(home_child),
        "{b}: counts, no persons"
    );
    problem(
        b,
        "education on a person",
        &c.get(Some(education), &citizen(home_child)).await,
        403,
    );
    problem(
        b,
        "education on a forecast",
        &c.get(
            Some(education),
            &format!("{}/forecast", citizen(home_child)),
        )
        .await,
        403,
    );
    problem(
        b,
        "education on a list",
        &c.get(Some(education), "/api/reports/vaccination").await,
        403,
    );
    problem(
        b,
        "education outside province",
        &c.get(
            Some(education),
            &format!("/api/reports/enrolment?commune={FAR}"),
        )
        .await,
        403,
    );
    problem(
        b,
        "education explains coverage",
        &c.get(Some(education), "/api/reports/coverage?explain=true")
            .await,
        403,
    );
    let (status, _, body) = c
        .get(
            Some(education),
            &format!("/api/reports/coverage?as_of={AS_OF}"),
        )
        .await;
    assert_eq!(status, 200, "{b}: coverage counts {body}");

    site.stop();
}
on_each_backend!(an_education_key_gets_counts_and_no_person);

/// Every read is in `vongdoi audit --citizen PIN` and the data subject's access log;
/// refused reads leave no row; IDs are masked unless one citizen is asked for.
async fn every_read_is_audited_and_refused_reads_are_not(db: TestDb) {
    let site = Site::open(db).await;
    let Site {
        b,
        db,
        home_child,
        neighbour_child,
        health,
        education,
        auditor,
        c,
        ..
    } = &site;
    let b = *b;
    let dir = site.dir();
    // The reads the audit must show: a health key's read, forecast and list; an education
    // key's refused read.
    for path in [
        citizen(home_child),
        format!("{}/forecast?as_of={AS_OF}", citizen(home_child)),
    ] {
        assert_eq!(c.get(Some(health), &path).await.0, 200, "{b}: {path}");
    }
    let (status, _, body) = c
        .get(
            Some(health),
            &format!("/api/reports/vaccination?as_of={AS_OF}"),
        )
        .await;
    assert_eq!(status, 200, "{b}: {body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    let listed_pin = list["rows"][0]["personal_id"].as_str().unwrap().to_string();
    assert_eq!(
        c.get(Some(education), &citizen(home_child)).await.0,
        403,
        "{b}"
    );
    // Every read above is in `vongdoi audit --citizen PIN`; refused reads are not.
    let rows = audit_rows(db, dir, home_child);
    let by_health: Vec<&str> = rows
        .iter()
        .filter(|r| r["key_name"] == "yte-ba-dinh")
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(
        by_health.contains(&"read") && by_health.contains(&"forecast"),
        "{b}: {rows:?}"
    );
    assert!(
        rows.iter().all(|r| r["key_name"] != "giaoduc-ha-noi"),
        "{b}: refused reads leave no row"
    );
    assert!(
        rows.iter()
            .all(|r| r["role"].is_string() && r["at"].is_string()),
        "{b}"
    );
    let listed_rows = audit_rows(db, dir, &listed_pin);
    assert!(
        listed_rows
            .iter()
            .any(|r| r["action"] == "report:vaccination" && r["key_name"] == "yte-ba-dinh"),
        "{b}: a listed child's row"
    );
    assert!(
        audit_rows(db, dir, neighbour_child).is_empty(),
        "{b}: the other commune's child was never read"
    );
    let table = run(db, dir, &["audit", "--citizen", home_child]);
    assert!(
        table.contains("yte-ba-dinh") && table.contains("forecast"),
        "{b}: {table}"
    );
    let by_key = run(
        db,
        dir,
        &["audit", "--key", "yte-ba-dinh", "--since", "2020-01-01"],
    );
    assert!(
        !by_key.contains(home_child),
        "{b}: IDs masked unless one citizen is asked for"
    );
    // The data subject's request: who read my data.
    let (status, _, body) = c
        .get(
            Some(auditor),
            &format!("{}/access-log", citizen(home_child)),
        )
        .await;
    assert_eq!(status, 200, "{b}: {body}");
    let log: Value = serde_json::from_str(&body).unwrap();
    assert!(
        log["reads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["key_name"] == "yte-ba-dinh" && r["action"] == "forecast"),
        "{b}: {log}"
    );
    problem(
        b,
        "health reads access log",
        &c.get(Some(health), &format!("{}/access-log", citizen(home_child)))
            .await,
        403,
    );

    site.stop();
}
on_each_backend!(every_read_is_audited_and_refused_reads_are_not);

/// 400 with field-level problems: a malformed ID, a bad date, an unknown commune.
async fn bad_input_gets_field_level_problems(db: TestDb) {
    let site = Site::open(db).await;
    let Site {
        b,
        home_child,
        admin,
        health,
        registrar,
        c,
        ..
    } = &site;
    let b = *b;
    // 400 with field-level problems.
    let p = problem(
        b,
        "malformed ID",
        &c.get(Some(health), "/api/citizens/12345").await,
        400,
    );
    assert_eq!(p["errors"][0]["field"], "personal_id", "{b}: {p}");
    let p = problem(
        b,
        "bad date",
        &c.get(
            Some(health),
            &format!("{}/forecast?as_of=2026-02-30", citizen(home_child)),
        )
        .await,
        400,
    );
    assert_eq!(p["errors"][0]["field"], "as_of", "{b}: {p}");
    let p = problem(
        b,
        "unknown commune",
        &c.get(Some(admin), "/api/reports/enrolment?commune=99999")
            .await,
        400,
    );
    assert_eq!(p["errors"][0]["field"], "commune", "{b}: {p}");
    let mut newborn = site.newborn();
    newborn["commune_code"] = json!("99999");
    let p = problem(
        b,
        "new citizen in unknown commune",
        &c.send(
            reqwest::Method::POST,
            registrar,
            "/api/citizens",
            newborn.clone(),
            &[],
        )
        .await,
        400,
    );
    assert!(
        p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "commune_code"),
        "{b}: {p}"
    );

    site.stop();
}
on_each_backend!(bad_input_gets_field_level_problems);

/// An ID registered nowhere and one registered in another commune get the same answer from
/// a key bound to an area; a national key is told 404; unknown routes and reports are 404.
async fn unknown_and_out_of_area_ids_get_the_same_answer(db: TestDb) {
    let site = Site::open(db).await;
    let Site {
        b,
        home_child,
        neighbour_child,
        admin,
        health,
        c,
        ..
    } = &site;
    let b = *b;
    // 404.
    // An ID registered nowhere and one registered in another commune get the same answer
    // from a key bound to an area, so answers never tell whether someone exists elsewhere;
    // a national key is told 404.
    let unknown = format!("{}999998", &home_child[..6]);
    let nowhere = problem(
        b,
        "unknown citizen",
        &c.get(Some(health), &citizen(&unknown)).await,
        403,
    );
    let elsewhere = problem(
        b,
        "citizen of another commune",
        &c.get(Some(health), &citizen(neighbour_child)).await,
        403,
    );
    let words = |p: &Value| {
        p["detail"]
            .as_str()
            .unwrap()
            .replace(&unknown[8..], "")
            .replace(&neighbour_child[8..], "")
    };
    assert_eq!(words(&nowhere), words(&elsewhere), "{b}: the same words");
    problem(
        b,
        "unknown citizen, national key",
        &c.get(Some(admin), &citizen(&unknown)).await,
        404,
    );
    problem(
        b,
        "unknown route",
        &c.get(Some(health), "/api/nothing-here").await,
        404,
    );
    problem(
        b,
        "unknown report",
        &c.get(Some(admin), "/api/reports/weather").await,
        404,
    );

    site.stop();
}
on_each_backend!(unknown_and_out_of_area_ids_get_the_same_answer);

/// Create (201, then 409), edit with history and a new ETag, 409 on a stale If-Match, 400
/// on bad fields, 403 for a role that may not edit or a commune outside the area.
async fn a_citizen_is_created_and_edited_with_history_and_conflicts_get_409(db: TestDb) {
    let site = Site::open(db).await;
    let Site {
        b,
        db,
        home_child,
        health,
        registrar,
        c,
        ..
    } = &site;
    let b = *b;
    let dir = site.dir();
    let newborn = site.newborn();
    let pin = newborn["personal_id"].as_str().unwrap().to_string();
    let created = c
        .send(
            reqwest::Method::POST,
            registrar,
            "/api/citizens",
            newborn.clone(),
            &[],
        )
        .await;
    if created.0 == 400 {
        // The serial's sex/century digit must agree with the record; derive it from the problem.
        panic!("{b}: test citizen rejected: {}", created.2);
    }
    assert_eq!(created.0, 201, "{b}: {}", created.2);
    problem(
        b,
        "create twice",
        &c.send(
            reqwest::Method::POST,
            registrar,
            "/api/citizens",
            newborn.clone(),
            &[],
        )
        .await,
        409,
    );
    problem(b, "registrar outside area", &c.send(reqwest::Method::POST, registrar, "/api/citizens", json!({"personal_id": format!("{}326999997", &home_child[..3]), "full_name": "Lê Văn Xa", "sex": "F", "date_of_birth": "2026-10-01", "commune_code": NEIGHBOUR}), &[]).await, 403);
    let etag0 = created.1["etag"].to_str().unwrap().to_string();
    let (status, headers, body) = c
        .send(
            reqwest::Method::PATCH,
            registrar,
            &citizen(&pin),
            json!({"full_name": "Nguyễn Thị Thu"}),
            &[("if-match", &etag0)],
        )
        .await;
    assert_eq!(status, 200, "{b}: {body}");
    let edited: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(edited["citizen"]["full_name"], "Nguyễn Thị Thu", "{b}");
    assert!(
        edited["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["field"] == "full_name" && h["new_value"] == "Nguyễn Thị Thu"),
        "{b}: {edited}"
    );
    assert_ne!(
        headers["etag"].to_str().unwrap(),
        etag0,
        "{b}: a new version"
    );
    problem(
        b,
        "stale If-Match",
        &c.send(
            reqwest::Method::PATCH,
            registrar,
            &citizen(&pin),
            json!({"full_name": "Nguyễn Thị Thơ"}),
            &[("if-match", &etag0)],
        )
        .await,
        409,
    );
    let p = problem(
        b,
        "bad patch",
        &c.send(
            reqwest::Method::PATCH,
            registrar,
            &citizen(&pin),
            json!({"date_of_birth": "2026-13-01", "colour": "x"}),
            &[],
        )
        .await,
        400,
    );
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"colour"), "{b}: {p}");
    problem(
        b,
        "health edits",
        &c.send(
            reqwest::Method::PATCH,
            health,
            &citizen(&pin),
            json!({"full_name": "X"}),
            &[],
        )
        .await,
        403,
    );
    let actions: Vec<String> = audit_rows(db, dir, &pin)
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect();
    for a in ["create", "update"] {
        assert!(
            actions.iter().any(|x| x == a),
            "{b}: {a} audited: {actions:?}"
        );
    }
    site.stop();
}
on_each_backend!(a_citizen_is_created_and_edited_with_history_and_conflicts_get_409);

/// A dose is recorded once (201, then 409), never before birth, never of an unknown vaccine.
async fn a_dose_is_recorded_once_and_only_after_birth(db: TestDb) {
    let site = Site::open(db).await;
    let Site {
        b, db, health, c, ..
    } = &site;
    let b = *b;
    let dir = site.dir();
    let pin = site.register_newborn().await;
    // A dose: recorded once (201), then 409; before birth 400.
    let ok = c
        .send(
            reqwest::Method::POST,
            health,
            &format!("{}/immunizations", citizen(&pin)),
            json!({"vaccine": "BCG", "date_given": "2026-10-02"}),
            &[],
        )
        .await;
    assert_eq!(ok.0, 201, "{b}: {}", ok.2);
    problem(
        b,
        "same dose twice",
        &c.send(
            reqwest::Method::POST,
            health,
            &format!("{}/immunizations", citizen(&pin)),
            json!({"vaccine": "BCG", "date_given": "2026-10-02"}),
            &[],
        )
        .await,
        409,
    );
    let p = problem(
        b,
        "dose before birth",
        &c.send(
            reqwest::Method::POST,
            health,
            &format!("{}/immunizations", citizen(&pin)),
            json!({"vaccine": "BCG", "date_given": "2026-09-01"}),
            &[],
        )
        .await,
        400,
    );
    assert_eq!(p["errors"][0]["field"], "date_given", "{b}: {p}");
    problem(
        b,
        "unknown vaccine",
        &c.send(
            reqwest::Method::POST,
            health,
            &format!("{}/immunizations", citizen(&pin)),
            json!({"vaccine": "NOPE", "date_given": "2026-10-03"}),
            &[],
        )
        .await,
        400,
    );
    let actions: Vec<String> = audit_rows(db, dir, &pin)
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect();
    assert!(
        actions.iter().any(|x| x == "immunization"),
        "{b}: {actions:?}"
    );
    site.stop();
}
on_each_backend!(a_dose_is_recorded_once_and_only_after_birth);

/// The registrar records identity cards and lists who is due in the commune; health may not.
async fn id_cards_are_for_the_registrar(db: TestDb) {
    let site = Site::open(db).await;
    let Site {
        b,
        home_child,
        health,
        registrar,
        c,
        ..
    } = &site;
    let b = *b;
    // ID cards: the registrar records them and lists who is due; health may not.
    let card = c
        .send(
            reqwest::Method::POST,
            registrar,
            &format!("{}/id-cards", citizen(home_child)),
            json!({"issued_on": AS_OF}),
            &[],
        )
        .await;
    assert_eq!(card.0, 201, "{b}: {}", card.2);
    problem(
        b,
        "health records a card",
        &c.send(
            reqwest::Method::POST,
            health,
            &format!("{}/id-cards", citizen(home_child)),
            json!({"issued_on": AS_OF}),
            &[],
        )
        .await,
        403,
    );
    let p = problem(
        b,
        "card in the future",
        &c.send(
            reqwest::Method::POST,
            registrar,
            &format!("{}/id-cards", citizen(home_child)),
            json!({"issued_on": "2099-01-01"}),
            &[],
        )
        .await,
        400,
    );
    assert_eq!(p["errors"][0]["field"], "issued_on", "{b}: {p}");
    let (status, _, body) = c
        .get(
            Some(registrar),
            &format!("/api/reports/id-cards?as_of={AS_OF}&due_within=365"),
        )
        .await;
    assert_eq!(status, 200, "{b}: {body}");
    let cards: Value = serde_json::from_str(&body).unwrap();
    assert!(
        cards["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["commune_code"] == HOME),
        "{b}: the registrar's commune only"
    );
    problem(
        b,
        "health lists ID cards",
        &c.get(Some(health), "/api/reports/id-cards").await,
        403,
    );
    site.stop();
}
on_each_backend!(id_cards_are_for_the_registrar);

/// 413 over the body limit, 415 without JSON.
async fn bodies_over_the_limit_or_not_json_are_refused(db: TestDb) {
    let site = Site::open(db).await;
    let Site {
        b,
        home_child,
        registrar,
        c,
        ..
    } = &site;
    let b = *b;
    // 413 over the body limit, 415 without JSON.
    let big = json!({"full_name": "x".repeat(100 * 1024)});
    // (On its own connection: the server closes a connection whose body it refused to read.)
    let once = Client {
        http: reqwest::Client::new(),
        base: c.base.clone(),
    };
    problem(
        b,
        "body over the limit",
        &once
            .send(
                reqwest::Method::PATCH,
                registrar,
                &citizen(home_child),
                big,
                &[],
            )
            .await,
        413,
    );
    let res = c
        .http
        .post(format!("{}/api/citizens", c.base))
        .bearer_auth(registrar)
        .body("personal_id=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415, "{b}");

    site.stop();
}
on_each_backend!(bodies_over_the_limit_or_not_json_are_refused);

/// The auditor sees the outbox (recipients masked), others do not; a run starts over the API
/// for today only and finishes in the background.
async fn the_outbox_is_the_auditors_and_runs_start_in_the_background(db: TestDb) {
    let site = Site::open(db).await;
    let Site {
        b,
        admin,
        health,
        auditor,
        c,
        ..
    } = &site;
    let b = *b;
    // Delivery: the auditor sees the outbox, others do not; runs start in the background.
    let (status, _, body) = c.get(Some(auditor), "/api/messages?status=dead").await;
    assert_eq!(status, 200, "{b}: {body}");
    assert!(
        serde_json::from_str::<Value>(&body).unwrap().is_array(),
        "{b}"
    );
    problem(
        b,
        "bad status",
        &c.get(Some(auditor), "/api/messages?status=lost").await,
        400,
    );
    problem(
        b,
        "health reads the outbox",
        &c.get(Some(health), "/api/messages").await,
        403,
    );
    problem(
        b,
        "retry unknown",
        &c.send(
            reqwest::Method::POST,
            auditor,
            "/api/messages/nope/retry",
            json!({}),
            &[],
        )
        .await,
        404,
    );
    problem(
        b,
        "auditor starts a run",
        &c.send(
            reqwest::Method::POST,
            auditor,
            "/api/runs",
            json!({"as_of": AS_OF}),
            &[],
        )
        .await,
        403,
    );
    problem(
        b,
        "run on a bad date",
        &c.send(
            reqwest::Method::POST,
            admin,
            "/api/runs",
            json!({"as_of": "21/13/2026"}),
            &[],
        )
        .await,
        400,
    );
    // A past day over the API would send that day's notices today (issue #10): refused,
    // whether last week or year 1; the operator runs other days on the command line.
    for past in [AS_OF, "0001-01-01"] {
        let p = problem(
            b,
            "a run for a past day",
            &c.send(
                reqwest::Method::POST,
                admin,
                "/api/runs",
                json!({ "as_of": past }),
                &[],
            )
            .await,
            400,
        );
        assert_eq!(p["errors"][0]["field"], "as_of", "{b}: {p}");
    }
    let today = (chrono::Utc::now() + chrono::Duration::hours(7))
        .date_naive()
        .to_string();
    let started = c
        .send(reqwest::Method::POST, admin, "/api/runs", json!({}), &[])
        .await;
    assert_eq!(started.0, 202, "{b}: {}", started.2);
    let mut finished = false;
    for _ in 0..240 {
        let (status, _, body) = c.get(Some(auditor), "/api/runs").await;
        assert_eq!(status, 200, "{b}: {body}");
        let runs: Value = serde_json::from_str(&body).unwrap();
        if runs
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["as_of"] == today.as_str() && r["status"] == "finished")
        {
            finished = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(finished, "{b}: the run started over the API finishes");
    let (_, _, body) = c
        .get(Some(auditor), &format!("/api/messages?day={today}&limit=5"))
        .await;
    let messages: Value = serde_json::from_str(&body).unwrap();
    for m in messages.as_array().unwrap() {
        let r = m["recipient"].as_str().unwrap();
        assert!(r.starts_with("********"), "{b}: recipients masked: {m}");
    }

    site.stop();
}
on_each_backend!(the_outbox_is_the_auditors_and_runs_start_in_the_background);
