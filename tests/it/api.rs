//! The HTTP API as a client meets it: a real `vongdoi serve` on both backends, keys made with
//! `vongdoi keys create`, a demo registry, and the audit read back with `vongdoi audit`.
//! Covers the "done when" of issue #6 and the error contract (RFC 9457 problem details).

use crate::support as common;

use common::api::*;
use common::browser::{chromium, Browser};
use common::serve;
use serde_json::Value;
use std::collections::HashMap;

#[tokio::test]
async fn per_key_rate_limit() {
    let db = common::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let k = key(&db, dir, "nhanh", &["--role", "auditor"]);
    let other = key(&db, dir, "cham", &["--role", "auditor"]);
    let served = serve(
        &db,
        dir,
        &["--no-schedule"],
        &[("VONGDOI_API_RATE", "1"), ("VONGDOI_API_BURST", "3")],
    );
    let c = Client {
        http: reqwest::Client::new(),
        base: served.base.clone(),
    };
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(c.get(Some(&k), "/api/runs").await.0);
    }
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    let limited = c.get(Some(&k), "/api/runs").await;
    let p = problem("sqlite", "over the rate", &limited, 429);
    assert!(limited.1.get("retry-after").is_some(), "{p}");
    assert_eq!(
        c.get(Some(&other), "/api/runs").await.0,
        200,
        "another key has its own bucket"
    );
}

#[tokio::test]
async fn openapi_lists_and_serves_every_route() {
    let db = common::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let served = serve(&db, tmp.path(), &["--no-schedule"], &[]);
    let c = Client {
        http: reqwest::Client::new(),
        base: served.base.clone(),
    };
    let (status, _, body) = c.get(None, "/openapi.json").await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    // Structurally an OpenAPI 3.1 document.
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut operations = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (path, item) in paths {
        assert!(path.starts_with('/'), "{path}");
        for (method, op) in item.as_object().unwrap() {
            assert!(
                ["get", "post", "patch", "put", "delete"].contains(&method.as_str()),
                "{method}"
            );
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_string()),
                "unique operationId {path}"
            );
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{method} {path}");
            for (code, r) in responses {
                assert!(code.len() == 3 && code.parse::<u16>().is_ok(), "{code}");
                assert!(r["description"].is_string(), "{method} {path} {code}");
            }
            // Every path template parameter is declared, in the path.
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    op["parameters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true),
                    "{method} {path}: parameter {name}"
                );
            }
            operations.push((
                method.clone(),
                path.clone(),
                op.get("security")
                    .is_some_and(|s| s.as_array().unwrap().is_empty()),
            ));
        }
    }
    // Every $ref resolves.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "$ref" {
                        out.push(x.as_str().unwrap().to_string());
                    } else {
                        refs(x, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all_refs = Vec::new();
    refs(&doc, &mut all_refs);
    assert!(!all_refs.is_empty());
    for r in &all_refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(schemas.contains_key(name), "{r} resolves");
    }
    // What the issue asks for is there.
    for (m, p) in [
        ("get", "/api/citizens/{pin}"),
        ("post", "/api/citizens"),
        ("patch", "/api/citizens/{pin}"),
        ("post", "/api/citizens/{pin}/immunizations"),
        ("post", "/api/citizens/{pin}/id-cards"),
        ("get", "/api/citizens/{pin}/forecast"),
        ("get", "/api/reports/{kind}"),
        ("get", "/api/messages"),
        ("post", "/api/messages/{id}/retry"),
        ("post", "/api/runs"),
        ("get", "/api/runs"),
        ("get", "/healthz"),
        ("get", "/api/citizens/{pin}/access-log"),
        ("get", "/openapi.json"),
        ("get", "/docs"),
        ("get", "/staff/vaccination"),
        ("get", "/staff/citizens/{pin}"),
        ("get", "/staff/enrolment"),
        ("get", "/staff/delivery"),
    ] {
        assert!(
            operations.iter().any(|(om, op, _)| om == m && op == p),
            "{m} {p} documented"
        );
    }
    // And every documented route is served: without a key an API route answers 401 and a page
    // sends to the sign-in, never 404 or 405.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (m, p, public) in &operations {
        let url = format!(
            "{}{}",
            served.base,
            p.replace("{pin}", "001226012345")
                .replace("{kind}", "enrolment")
                .replace("{id}", "x")
        );
        let res = http
            .request(m.to_uppercase().parse().unwrap(), &url)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let s = res.status().as_u16();
        assert!(s != 404 && s != 405, "{m} {p}: served (got {s})");
        if !public {
            assert!(
                s == 401 || s == 303,
                "{m} {p}: needs a key or a session (got {s})"
            );
        }
    }
    let (status, _, page) = c.get(None, "/docs").await;
    assert_eq!(status, 200);
    assert!(page.contains("/api/citizens/{pin}/forecast") && page.contains("/openapi.json"));
}

/// Signs in through the real sign-in page as `username` in a fresh browser and returns the DOM
/// of `next` (or of the sign-in page, when refused).
async fn browse(chromium: &str, base: &str, username: &str, next: &str) -> String {
    let b = Browser::start(chromium, 1280, 900).await;
    let dom = b.sign_in_and_open(base, username, next).await;
    b.close().await;
    dom
}

#[tokio::test]
async fn staff_pages_in_a_real_browser() {
    let Some(chromium) = chromium() else { return };
    let db = common::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let all = citizens(&db, dir);
    let (home_child, neighbour_child) = (child_in(&all, HOME), child_in(&all, NEIGHBOUR));
    let health = account(
        &db,
        dir,
        "yte-ba-dinh",
        &["--role", "health", "--commune", HOME],
    );
    let education = account(
        &db,
        dir,
        "giaoduc",
        &["--role", "education", "--province", "01"],
    );
    let auditor = account(&db, dir, "kiemtra", &["--role", "auditor"]);
    let served = serve(&db, dir, &["--no-schedule"], &[]);
    let base = served.base.clone();

    // The vaccination list of the key's commune, Vietnamese first.
    let dom = browse(&chromium, &base, &health, "/staff/vaccination").await;
    assert!(
        dom.contains("Danh sách tiêm chủng") && dom.contains("id=\"vaccination\""),
        "vaccination page: {dom}"
    );
    assert!(dom.contains("lang=\"vi\""), "Vietnamese first");
    assert!(
        dom.contains(&format!(
            "href=\"/api/reports/vaccination?commune={HOME}&amp;by=child&amp;as_of="
        )) && dom.contains("&amp;format=xlsx&amp;lang=vi\""),
        "the list as an Excel download: {dom}"
    );
    let home_name = &all.iter().find(|c| c["personal_id"] == home_child).unwrap()["full_name"];
    let listed: Vec<&HashMap<String, String>> = all
        .iter()
        .filter(|c| dom.contains(&format!("/staff/citizens/{}", c["personal_id"])))
        .collect();
    assert!(!listed.is_empty(), "children listed");
    assert!(
        listed.iter().all(|c| c["commune_code"] == HOME),
        "only the key's commune"
    );
    // The English switch.
    let dom = browse(&chromium, &base, &health, "/staff/vaccination?lang=en").await;
    assert!(
        dom.contains("Vaccination list") && dom.contains("lang=\"en\""),
        "English page: {dom}"
    );

    // A citizen's page: forecast, records, the dose form.
    let dom = browse(
        &chromium,
        &base,
        &health,
        &format!("/staff/citizens/{home_child}"),
    )
    .await;
    assert!(
        dom.contains("id=\"forecast\"") && dom.contains("id=\"dose-form\""),
        "citizen page: {dom}"
    );
    assert!(dom.contains(home_name.as_str()), "the child's name");
    let dom = browse(
        &chromium,
        &base,
        &health,
        &format!("/staff/citizens/{neighbour_child}"),
    )
    .await;
    assert!(
        dom.contains("Không có quyền") && !dom.contains("id=\"forecast\""),
        "another commune's child is refused: {dom}"
    );

    // Enrolment forecast with charts per commune; the delivery page.
    let dom = browse(&chromium, &base, &education, "/staff/enrolment").await;
    assert!(
        dom.contains("<svg")
            && dom.contains("id=\"commune-00004\"")
            && dom.contains("id=\"commune-00008\"")
            && dom.contains("Phường Ba Đình")
            && dom.contains("href=\"/api/reports/enrolment?format=xlsx&amp;lang=vi\""),
        "enrolment page with charts and an Excel download: {dom}"
    );
    let dom = browse(
        &chromium,
        &base,
        &education,
        &format!("/staff/citizens/{home_child}"),
    )
    .await;
    assert!(
        !dom.contains("id=\"forecast\"") && dom.contains("Không có quyền"),
        "education sees no person"
    );
    let dom = browse(&chromium, &base, &auditor, "/staff/delivery").await;
    assert!(
        dom.contains("id=\"counts\"") && dom.contains("id=\"messages\""),
        "delivery page: {dom}"
    );

    // A wrong password (no such account) stays on the sign-in form.
    let dom = browse(&chromium, &base, "khong-co-ai", "/staff/vaccination").await;
    assert!(
        dom.contains("name=\"password\"") && !dom.contains("id=\"vaccination\""),
        "wrong password: {dom}"
    );

    // On a phone: the list reflows into cards (no table header row shown).
    let phone = Browser::start(&chromium, 390, 844).await;
    phone
        .sign_in_and_open(&base, &health, "/staff/vaccination")
        .await;
    let png = phone.screenshot().await;
    phone.close().await;
    std::fs::write(dir.join("phone.png"), &png).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(width, 390, "rendered at phone width");

    // Recording a dose through the page's form (session cookie + form token), then audited.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = sign_in_person(&http, &base, &health, &password_of(&health), false).await;
    assert_eq!(login.status(), 303);
    let set_cookie = session_set_cookie(&login);
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    assert!(
        !set_cookie.contains(&password_of(&health)),
        "the cookie is a session id, not the password"
    );
    let session = set_cookie.split(';').next().unwrap().to_string();
    let page = http
        .get(format!("{base}/staff/citizens/{home_child}"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("vaccine", "BCG"),
        ("date_given", AS_OF),
        ("place", "Trạm y tế"),
        // The demo child has had BCG: a second one needs the confirmation ticked.
        ("confirm", "1"),
    ];
    let forged = http
        .post(format!("{base}/staff/citizens/{home_child}/immunizations"))
        .header("cookie", &session)
        .form(&[
            ("csrf", "forged"),
            ("vaccine", "BCG"),
            ("date_given", AS_OF),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        403,
        "a form without the page's token is refused"
    );
    let posted = http
        .post(format!("{base}/staff/citizens/{home_child}/immunizations"))
        .header("cookie", &session)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 303, "{}", posted.text().await.unwrap());
    let after = http
        .get(format!("{base}/staff/citizens/{home_child}?recorded=1"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        after.contains("id=\"recorded\"") && after.contains("Trạm y tế"),
        "the dose shows"
    );
    let actions: Vec<String> = audit_rows(&db, dir, &home_child)
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect();
    for a in ["page:citizen", "immunization"] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
    let by_key: Vec<Value> =
        serde_json::from_str(&run(&db, dir, &["audit", "--key", "yte-ba-dinh", "--json"])).unwrap();
    assert!(
        by_key.iter().any(|r| r["action"] == "page:vaccination"),
        "the list page's children are audited"
    );
    assert!(
        audit_rows(&db, dir, &neighbour_child).is_empty(),
        "the refused page left no read"
    );
}

/// Logs name the route template and the request id, never a full personal ID (docs/domain.md §7),
/// even at debug and even for refused or malformed requests.
#[tokio::test]
async fn logs_carry_request_ids_and_no_personal_ids() {
    use std::io::BufRead;
    let db = common::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let all = citizens(&db, dir);
    let (home_child, neighbour_child) = (child_in(&all, HOME), child_in(&all, NEIGHBOUR));
    let health = key(&db, dir, "yte", &["--role", "health", "--commune", HOME]);
    let log = dir.join("serve.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vongdoi"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--no-schedule",
        ])
        .current_dir(dir)
        .env("DATABASE_URL", &db.url)
        .env(
            "VONGDOI_LOG",
            "debug,sqlx=warn,hyper=warn,h2=warn,reqwest=warn,rustls=warn",
        )
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("serve prints its address").unwrap();
        if let Some(a) = line.strip_prefix("http: ") {
            break format!("http://{a}");
        }
    };
    let c = Client {
        http: reqwest::Client::new(),
        base,
    };
    let unknown = format!("{}999998", &home_child[..6]);
    let mut ids = Vec::new();
    for (path, status) in [
        (format!("/api/citizens/{home_child}/forecast"), 200),
        (format!("/api/citizens/{home_child}"), 200),
        (format!("/api/citizens/{neighbour_child}"), 403),
        (format!("/api/citizens/{unknown}"), 403),
        (format!("/api/citizens/{}x", &home_child[..11]), 400),
    ] {
        let (got, headers, body) = c.get(Some(&health), &path).await;
        assert_eq!(got, status, "{path}: {body}");
        ids.push(headers["x-request-id"].to_str().unwrap().to_string());
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("/api/citizens/{pin}/forecast"),
        "the route template is logged: {text}"
    );
    for id in &ids {
        assert!(text.contains(id.as_str()), "request id {id} in the log");
    }
    for pin in [&home_child, &neighbour_child, &unknown] {
        assert!(
            !text.contains(pin.as_str()),
            "full ID {} in the log:\n{text}",
            &pin[8..]
        );
    }
    assert!(!text.contains(&health[3..]), "the key is not logged");
}
