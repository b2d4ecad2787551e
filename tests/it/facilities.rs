//! Facilities (issue #13 item 1) as a commune's staff and the province's administrator meet
//! them, over both backends: the demo fills each commune's health station, police post and
//! schools; `vongdoi facilities import` replaces a station, keeps schools apart by name and
//! reports a bad row at its line and field; `list --format csv` imports unchanged into another
//! database; `rules check` warns of communes without a station; `GET`/`PUT /api/facilities`
//! keep to the caller's area; `/staff/facilities` shows a nurse her own commune only and lets
//! only an admin change anything.

use crate::support::api::*;
use crate::support::{serve, vongdoi, TestDb};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

const HEADER: &str = "commune_code,kind,name,address,phone,hours,session_days";

fn list(db: &TestDb, dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["facilities", "list", "--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&run(db, dir, &all)).unwrap()
}

fn of_kind<'a>(list: &'a [Value], commune: &str, kind: &str) -> Vec<&'a Value> {
    list.iter()
        .filter(|f| f["commune_code"] == commune && f["kind"] == kind)
        .collect()
}

/// Another empty database on the same backend as `db`.
async fn fresh_like(db: &TestDb) -> TestDb {
    match db.backend {
        "sqlite" => crate::support::sqlite().await,
        _ => crate::support::postgres(&crate::support::postgres_admin_url().unwrap()).await,
    }
}

async fn the_demo_fills_facilities_and_an_import_upserts_them(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    demo(&db);

    // The demo: a station, a post and two schools in each of its three communes.
    let all = list(&db, d, &[]);
    assert_eq!(all.len(), 12, "{b}: {all:?}");
    for c in [HOME, NEIGHBOUR, FAR] {
        assert_eq!(of_kind(&all, c, "health").len(), 1, "{b}: {c}");
        assert_eq!(of_kind(&all, c, "police").len(), 1, "{b}: {c}");
        assert_eq!(of_kind(&all, c, "school").len(), 2, "{b}: {c}");
    }
    let station = of_kind(&all, HOME, "health")[0].clone();
    assert_eq!(station["name"], "Trạm Y tế phường Ba Đình", "{b}");
    assert_eq!(
        of_kind(&all, HOME, "police")[0]["name"],
        "Công an phường Ba Đình",
        "{b}"
    );
    let phone = station["phone"].as_str().unwrap();
    assert!(
        phone.starts_with("024 3") && phone.len() == 13,
        "{b}: a Hà Nội landline: {phone}"
    );
    assert!(
        of_kind(&all, FAR, "health")[0]["phone"]
            .as_str()
            .unwrap()
            .starts_with("028 3"),
        "{b}: Hồ Chí Minh City's area code"
    );
    assert!(!station["session_days"].as_str().unwrap().is_empty(), "{b}");
    let schools: Vec<&str> = of_kind(&all, HOME, "school")
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        schools,
        ["Trường Mầm non Ba Đình", "Trường Tiểu học Ba Đình"],
        "{b}"
    );

    // An import in Vietnamese headers: a new health station replaces the demo's whatever its
    // name, a new school joins the two, a row with a letter in its phone is refused at its
    // line under the file's own header, and a second row for one post keeps the later.
    std::fs::write(
        d.join("co-so.csv"),
        format!(
            "\u{feff}Mã xã,Loại,Tên,Địa chỉ,Điện thoại,Giờ làm việc,Ngày tiêm\n\
             {HOME},y tế,Trạm Y tế Ba Đình (cơ sở 2),Số 2 Đội Cấn,024 3823 1234,\"7h30–11h30, 13h30–17h00\",ngày 5 và 20 hằng tháng\n\
             {HOME},school,Trường THCS Nguyễn Trãi,Số 8 Nguyễn Trãi,024 3733 0000,,\n\
             {NEIGHBOUR},police,Công an phường Ngọc Hà,,024 38x2 0000,,\n\
             {FAR},police,,Số 1,028 3000 0001,,\n\
             {FAR},công an,,Số 9,028 3000 0009,,\n"
        ),
    )
    .unwrap();
    let (ok, out, err) = vongdoi(
        &db,
        d,
        &["facilities", "import", "co-so.csv", "--by", "so-yt"],
    );
    assert!(ok, "{b}: {err}");
    assert!(
        out.contains("3 facilities stored (3 new or changed) for 2 communes, 2 problems"),
        "{b}: {out}"
    );
    assert!(
        err.contains("co-so.csv:4: Điện thoại: '024 38x2 0000' có ký tự 'x'"),
        "{b}: the bad row at its line and field: {err}"
    );
    assert!(
        err.contains("co-so.csv:5: Mã xã: dòng 6"),
        "{b}: the earlier of two rows of one post: {err}"
    );
    let all = list(&db, d, &["--commune", HOME, "--commune", FAR]);
    let health = of_kind(&all, HOME, "health");
    assert_eq!(health.len(), 1, "{b}: one station per commune: {all:?}");
    assert_eq!(health[0]["name"], "Trạm Y tế Ba Đình (cơ sở 2)", "{b}");
    assert_eq!(health[0]["session_days"], "5 20", "{b}");
    assert_eq!(
        health[0]["session_days_text"], "ngày 5 và 20 hằng tháng",
        "{b}"
    );
    assert_eq!(health[0]["updated_by"], "so-yt", "{b}");
    assert_eq!(
        of_kind(&all, HOME, "school").len(),
        3,
        "{b}: schools by name"
    );
    let post = of_kind(&all, FAR, "police");
    assert_eq!(
        (
            post.len(),
            post[0]["name"].as_str(),
            post[0]["address"].as_str()
        ),
        (1, Some("Công an phường Thủ Dầu Một"), Some("Số 9")),
        "{b}: an unnamed post gets its commune's name; the later row is kept"
    );
    assert_eq!(
        list(&db, d, &["--commune", NEIGHBOUR]).len(),
        4,
        "{b}: the refused row changed nothing"
    );

    // list → import, unchanged, into another database with the same registry but no
    // facilities of its own beyond Ba Đình's.
    let other = fresh_like(&db).await;
    run(&db, d, &["export", "citizens", "citizens.csv"]);
    run(&other, d, &["import", "citizens", "citizens.csv"]);
    let csv = run(
        &db,
        d,
        &["facilities", "list", "--format", "csv", "--commune", HOME],
    );
    assert!(
        csv.starts_with(&format!("\u{feff}{HEADER},commune_name\n")),
        "{b}: {csv}"
    );
    std::fs::write(d.join("list.csv"), &csv).unwrap();
    let out = run(&other, d, &["facilities", "import", "list.csv"]);
    assert!(out.contains("5 facilities stored"), "{b}: {out}");
    assert_eq!(
        run(&other, d, &["facilities", "list", "--format", "csv"]),
        csv,
        "{b}: list → import → list is the identity"
    );
    let again = run(&other, d, &["facilities", "import", "list.csv"]);
    assert!(
        again.contains("5 facilities stored (0 new or changed)"),
        "{b}: the same file again changes nothing: {again}"
    );

    // `rules check` with that database: Ngọc Hà and Thủ Dầu Một have citizens and no station.
    let citizens = citizens(&other, d);
    let living = |c: &str| {
        citizens
            .iter()
            .filter(|x| x["commune_code"] == c && x["date_of_death"].is_empty())
            .count()
    };
    let (ok, out, err) = vongdoi(&other, d, &["rules", "check"]);
    assert!(ok, "{b}: warnings keep the exit status: {err}");
    assert!(out.contains("rules are valid"), "{b}: {out}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("cảnh báo")).collect();
    assert_eq!(warnings.len(), 2, "{b}: {err}");
    let expected = format!(
        "cảnh báo / warning: xã {NEIGHBOUR} Phường Ngọc Hà: {} công dân, chưa có trạm y tế, công an xã (vongdoi facilities import) / no health station, no police post",
        grouped(living(NEIGHBOUR))
    );
    assert!(
        warnings.contains(&expected.as_str()),
        "{b}: {expected}\n{err}"
    );
    assert!(
        !err.contains(&format!("xã {HOME} ")),
        "{b}: Ba Đình has both"
    );
}
on_each_backend!(the_demo_fills_facilities_and_an_import_upserts_them);

fn grouped(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// Without a database configured or there, `rules check` checks the rules only and creates no
/// database file.
#[test]
fn rules_check_needs_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vongdoi"))
        .args(["rules", "check"])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env("VONGDOI_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).is_empty(),
        "no warning"
    );
    assert!(!dir.path().join("vongdoi.db").exists(), "no database made");
}

async fn facilities_over_the_api(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    demo(&db);
    let admin = key(&db, d, "so-y-te", &["--role", "admin"]);
    let nurse = key(
        &db,
        d,
        "tram-ba-dinh",
        &["--role", "health", "--commune", HOME],
    );
    let served = serve(&db, d, &["--no-schedule"], &[]);
    let c = Client {
        http: reqwest::Client::new(),
        base: served.base.clone(),
    };

    let (status, _, body) = c
        .get(Some(&nurse), "/api/facilities?as_of=2026-12-16")
        .await;
    assert_eq!(status, 200, "{b}: {body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    let list = body["facilities"].as_array().unwrap();
    assert_eq!(list.len(), 4, "{b}: only her commune's: {body}");
    assert!(list.iter().all(|f| f["commune_code"] == HOME), "{b}");
    let station = &of_kind(list, HOME, "health")[0];
    let next = station["next_session"].as_str().unwrap();
    assert!(
        ("2026-12-16".."2027-01-16").contains(&next),
        "{b}: the next session on or after as_of: {station}"
    );
    problem(
        b,
        "another commune",
        &c.get(Some(&nurse), &format!("/api/facilities?commune={FAR}"))
            .await,
        403,
    );

    let put = |key: String, body: String| {
        let (http, base) = (c.http.clone(), c.base.clone());
        async move {
            let res = http
                .put(format!("{base}/api/facilities"))
                .bearer_auth(key)
                .header("content-type", "text/csv")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (
                status,
                serde_json::from_str::<Value>(&res.text().await.unwrap()).unwrap(),
            )
        }
    };
    let csv = format!(
        "{HEADER}\n{HOME},health,Trạm Y tế mới,Số 1 Kim Mã,+84 24 3823 9999,,T4\n{HOME},health,X,,gọi 113,,\n"
    );
    let (status, body) = put(nurse.clone(), csv.clone()).await;
    assert_eq!(
        status, 403,
        "{b}: a nurse may not change facilities: {body}"
    );
    let (status, body) = put(admin.clone(), csv).await;
    assert_eq!(status, 200, "{b}: {body}");
    assert_eq!(body["stored"], 1, "{b}: {body}");
    assert_eq!(body["communes"], serde_json::json!([HOME]), "{b}");
    assert_eq!(body["errors"][0]["line"], 3, "{b}: {body}");
    assert_eq!(body["errors"][0]["field"], "phone", "{b}: {body}");
    let (status, body) = put(admin.clone(), "a;b\n1;2\n".into()).await;
    assert_eq!(status, 400, "{b}: no usable header: {body}");

    let (_, _, body) = c
        .get(Some(&admin), &format!("/api/facilities?commune={HOME}"))
        .await;
    let body: Value = serde_json::from_str(&body).unwrap();
    let list = body["facilities"].as_array().unwrap();
    let health = of_kind(list, HOME, "health");
    assert_eq!(health.len(), 1, "{b}: the station replaced: {body}");
    assert_eq!(
        (health[0]["name"].as_str(), health[0]["phone"].as_str()),
        (Some("Trạm Y tế mới"), Some("+84 24 3823 9999")),
        "{b}"
    );
    assert_eq!(health[0]["session_days_text"], "thứ Tư hằng tuần", "{b}");
    drop(served);

    // The change is in the audit trail under the admin's key.
    let rows: Vec<Value> =
        serde_json::from_str(&run(&db, d, &["audit", "--key", "so-y-te", "--json"])).unwrap();
    assert!(
        rows.iter().any(|r| r["action"] == "facilities"
            && r["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("1 stored, 1 changed, communes {HOME}"))),
        "{b}: {rows:?}"
    );
}
on_each_backend!(facilities_over_the_api);

async fn the_page_keeps_to_the_area_and_only_an_admin_changes_it(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    demo(&db);
    account(&db, d, "quan-tri", &["--role", "admin"]);
    account(
        &db,
        d,
        "y-te-ba-dinh",
        &["--role", "health", "--commune", HOME],
    );
    account(&db, d, "y-te-xa", &["--role", "health", "--commune", FAR]);
    let served = serve(&db, d, &["--no-schedule"], &[]);
    let base = &served.base;
    let http = no_redirects();
    let get = |session: String, path: String| {
        let http = http.clone();
        async move { page_get(&http, &format!("{base}{path}"), &session).await }
    };
    let post = |session: String, path: &'static str, form: Vec<(&'static str, String)>| {
        let http = http.clone();
        async move { page_post(&http, &format!("{base}{path}"), &session, &form).await }
    };

    // A nurse of Ba Đình sees her commune's places, and no other's; she cannot change them.
    let nurse = person_session(&http, base, "y-te-ba-dinh").await;
    let (status, page) = get(nurse.clone(), "/staff/facilities".into()).await;
    assert_eq!(status, 200, "{b}: {page}");
    assert!(
        page.contains("href=\"/staff/facilities\""),
        "{b}: in the menu"
    );
    assert!(
        page.contains("Trạm Y tế phường Ba Đình")
            && page.contains("Công an phường Ba Đình")
            && page.contains("Trường Tiểu học Ba Đình"),
        "{b}: {page}"
    );
    assert!(
        page.contains("hằng tháng") || page.contains("hằng tuần"),
        "{b}: sessions in words"
    );
    assert!(
        !page.contains("Thủ Dầu Một") && !page.contains("Ngọc Hà"),
        "{b}: other communes"
    );
    assert!(
        !page.contains("id=\"facility-form\""),
        "{b}: no form for a nurse"
    );
    let (status, _) = get(nurse.clone(), format!("/staff/facilities?commune={FAR}")).await;
    assert_eq!(status, 403, "{b}: another commune asked for");
    let edit = |csrf: String, phone: &str| {
        vec![
            ("csrf", csrf),
            ("commune_code", HOME.to_string()),
            ("kind", "health".to_string()),
            ("name", "Trạm Y tế phường Ba Đình".to_string()),
            ("address", "Số 2 Đội Cấn".to_string()),
            ("phone", phone.to_string()),
            ("hours", "7h30–17h00".to_string()),
            ("session_days", "15".to_string()),
            ("was", "Trạm Y tế phường Ba Đình".to_string()),
        ]
    };
    let (status, _, _) = post(
        nurse.clone(),
        "/staff/facilities",
        edit(csrf_of(&page), "024 0000 0000"),
    )
    .await;
    assert_eq!(status, 403, "{b}: a nurse may not edit");
    let (status, _) = get(nurse.clone(), "/staff/facilities".into()).await;
    assert_eq!(status, 200, "{b}");

    let far = person_session(&http, base, "y-te-xa").await;
    let (_, page) = get(far, "/staff/facilities".into()).await;
    assert!(
        page.contains("Trạm Y tế phường Thủ Dầu Một") && !page.contains("Ba Đình"),
        "{b}: the other nurse sees her own commune only"
    );

    // The admin edits Ba Đình's station.
    let admin = person_session(&http, base, "quan-tri").await;
    let (_, page) = get(admin.clone(), format!("/staff/facilities?commune={HOME}")).await;
    assert!(
        page.contains("id=\"facility-form\""),
        "{b}: the admin's form"
    );
    let csrf = csrf_of(&page);
    let (status, _, page) = post(
        admin.clone(),
        "/staff/facilities",
        edit(csrf.clone(), "024 38A3 1234"),
    )
    .await;
    assert_eq!(status, 400, "{b}: a letter in the phone");
    assert!(
        page.contains("id=\"form-errors\"") && page.contains("<strong>phone</strong>"),
        "{b}: the problem beside the form: {page}"
    );
    assert!(
        page.contains("value=\"Số 2 Đội Cấn\""),
        "{b}: the form kept"
    );
    let (status, location, _) = post(
        admin.clone(),
        "/staff/facilities",
        edit(csrf.clone(), "024 3823 1234"),
    )
    .await;
    assert_eq!(status, 303, "{b}");
    assert!(
        location
            .unwrap()
            .starts_with("/staff/facilities?commune=00004"),
        "{b}"
    );
    let (status, _, _) = post(
        admin.clone(),
        "/staff/facilities",
        edit("sai".into(), "024 3823 1234"),
    )
    .await;
    assert_eq!(status, 403, "{b}: the form's token is checked");

    // A school renamed keeps its place; the kindergarten is removed.
    let (status, _, _) = post(
        admin.clone(),
        "/staff/facilities",
        vec![
            ("csrf", csrf.clone()),
            ("commune_code", HOME.into()),
            ("kind", "school".into()),
            ("name", "Trường Tiểu học Ba Đình A".into()),
            ("was", "Trường Tiểu học Ba Đình".into()),
        ],
    )
    .await;
    assert_eq!(status, 303, "{b}");
    let (status, _, _) = post(
        admin.clone(),
        "/staff/facilities/delete",
        vec![
            ("csrf", csrf.clone()),
            ("commune_code", HOME.into()),
            ("kind", "school".into()),
            ("name", "Trường Mầm non Ba Đình".into()),
        ],
    )
    .await;
    assert_eq!(status, 303, "{b}");
    let all = list(&db, d, &["--commune", HOME]);
    let health = of_kind(&all, HOME, "health");
    assert_eq!(
        (
            health[0]["phone"].as_str(),
            health[0]["updated_by"].as_str()
        ),
        (Some("024 3823 1234"), Some("quan-tri")),
        "{b}"
    );
    let schools: Vec<&str> = of_kind(&all, HOME, "school")
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        schools,
        ["Trường Tiểu học Ba Đình A"],
        "{b}: renamed, and one removed"
    );

    // An upload: the good row stored, the bad one reported at its line.
    let file =
        format!("{HEADER}\n{HOME},school,Trường Mầm non Hoa Sen,Số 5,,,\n{HOME},chợ,Chợ,,,,\n");
    let url = format!("{base}/staff/facilities/upload");
    let (status, page) =
        page_upload(&http, &url, &admin, &csrf, "co-so.csv", file.as_bytes()).await;
    assert_eq!(status, 200, "{b}");
    assert!(page.contains("Đã lưu 1 cơ sở"), "{b}: {page}");
    let errors = &page[page.find("id=\"upload-errors\"").expect("the bad row")..];
    assert!(
        errors.contains("<td class=\"n\">3</td><td>kind</td>"),
        "{b}: {errors}"
    );
    let (_, page) = get(nurse, "/staff/facilities".into()).await;
    assert!(
        page.contains("Trường Mầm non Hoa Sen") && page.contains("024 3823 1234"),
        "{b}: the nurse sees the admin's changes"
    );

    // Each change is in the audit trail.
    drop(served);
    let rows: Vec<Value> =
        serde_json::from_str(&run(&db, d, &["audit", "--key", "quan-tri", "--json"])).unwrap();
    let details: HashMap<&str, usize> = rows
        .iter()
        .filter(|r| r["action"] == "facilities")
        .map(|r| r["detail"].as_str().unwrap().split(':').next().unwrap())
        .fold(HashMap::new(), |mut m, k| {
            *m.entry(k).or_default() += 1;
            m
        });
    assert_eq!(
        (
            details.get("save"),
            details.get("delete"),
            details.get("upload")
        ),
        (Some(&2), Some(&1), Some(&1)),
        "{b}: {rows:?}"
    );
}
on_each_backend!(the_page_keeps_to_the_area_and_only_an_admin_changes_it);
