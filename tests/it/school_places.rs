//! School places (issue #12 item 8) as a planner in the province office meets them, on a real
//! `vongdoi serve` over both backends: places for two schools of one commune uploaded on the
//! enrolment page (CSV and xlsx) add up and are set against the intake; the same over
//! `PUT /api/school-places`; a commune outside the planner's area refused with a clear message;
//! a bad row reported at its line and field while the good rows land; the CLI uses what is
//! stored.

use crate::support::api::*;
use crate::support::{serve, vongdoi, TestDb};
use serde_json::Value;
use std::path::Path;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Writes an xlsx with openpyxl (as Excel would save it): each cell a JSON string or number.
fn write_xlsx(path: &Path, rows: &[Vec<Value>]) -> Vec<u8> {
    use std::io::Write;
    let script = "import json,sys,openpyxl\nwb=openpyxl.Workbook()\nws=wb.active\nfor r in json.load(sys.stdin): ws.append(r)\nwb.save(sys.argv[1])\n";
    let mut child = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 with openpyxl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(rows).unwrap().as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "openpyxl wrote the file");
    std::fs::read(path).unwrap()
}

/// The cells of the table row with this id (`places-COMMUNE-LEVEL-YEAR`).
fn row_cells(page: &str, id: &str) -> Vec<String> {
    let start = page
        .find(&format!("<tr id=\"{id}\">"))
        .unwrap_or_else(|| panic!("row {id} on the page"));
    let row = &page[start..start + page[start..].find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|c| {
            let c = &c[c.find('>').unwrap() + 1..];
            c[..c.find("</td>").unwrap()].to_string()
        })
        .collect()
}

/// The enrolment report's row of one commune, level and school year, as JSON.
fn report_row(report: &Value, commune: &str, level: &str, year: i64) -> Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["commune_code"] == commune && r["level"] == level && r["school_year"] == year)
        .unwrap_or_else(|| panic!("{commune} {level} {year} in the report"))
        .clone()
}

async fn upload(
    http: &reqwest::Client,
    base: &str,
    session: &str,
    csrf: &str,
    name: &str,
    file: &[u8],
) -> (u16, String) {
    let url = format!("{base}/staff/enrolment/places");
    page_upload(http, &url, session, csrf, name, file).await
}

async fn a_planner_uploads_places_on_the_page_and_sees_their_sum(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    demo(&db);
    account(
        &db,
        d,
        "phong-gd",
        &["--role", "education", "--province", "01"],
    );
    account(
        &db,
        d,
        "yte-badinh",
        &["--role", "health", "--commune", HOME],
    );
    let served = serve(&db, d, &["--no-schedule"], &[]);
    let base = &served.base;
    let http = no_redirects();
    let session = person_session(&http, base, "phong-gd").await;
    let get = |path: String| {
        let (http, session) = (http.clone(), session.clone());
        async move { page_get(&http, &format!("{base}{path}"), &session).await }
    };
    let (status, page) = get("/staff/enrolment".into()).await;
    assert_eq!(status, 200, "{b}: {page}");
    assert!(
        page.contains("Năm học 2027–2028 đến 2032–2033"),
        "{b}: school years written out"
    );
    assert!(page.contains("id=\"places-form\""), "{b}: the upload form");
    let csrf = csrf_of(&page);

    // Two primary schools of Ba Đình (150 and 20 places), a bad row, and a commune of Hồ Chí
    // Minh City, outside the planner's province. Vietnamese headers, as typed in Excel.
    let csv = format!(
        "\u{feff}Mã xã,Tên trường,Cấp học,Số chỗ,Năm học\n{HOME},Tiểu học Ba Đình,Lớp 1,150,\n{HOME},Tiểu học Kim Mã,Lớp 1,20,\n{HOME},Tiểu học Kim Mã,Lớp 1,hai mươi,2027–2028\n{FAR},Tiểu học Xa,Lớp 1,30,\n"
    );
    let (status, page) = upload(&http, base, &session, &csrf, "cho.csv", csv.as_bytes()).await;
    assert_eq!(status, 200, "{b}: {page}");
    assert!(
        page.contains("Đã lưu 2 dòng số chỗ học cho Phường Ba Đình (00004)"),
        "{b}: what was stored: {page}"
    );
    let errors = &page[page.find("id=\"upload-errors\"").expect("the bad rows")..];
    assert!(
        errors.contains(
            "<td class=\"n\">4</td><td>Số chỗ</td><td>&#39;hai mươi&#39; không phải số chỗ"
        ),
        "{b}: the bad row at its line and field: {errors}"
    );
    assert!(
        errors.contains("<td class=\"n\">5</td><td>Mã xã</td><td>xã")
            && errors.contains("(25747) ngoài địa bàn của bạn"),
        "{b}: the commune outside the area, said plainly: {errors}"
    );

    // The page shows the sum against the intake, as the report computes it.
    let (_, page) = get("/staff/enrolment".into()).await;
    let (_, json) = get(format!("/api/reports/enrolment?commune={HOME}")).await;
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["places"], "stored", "{b}");
    let r = report_row(&report, HOME, "grade-1", 2027);
    let children = r["children"].as_i64().unwrap();
    assert_eq!(
        r["capacity"], 170,
        "{b}: 150 + 20 places, not the last row's 20"
    );
    assert_eq!(r["gap"].as_i64(), Some(170 - children), "{b}");
    let cells = row_cells(&page, &format!("places-{HOME}-grade-1-2027"));
    assert_eq!(cells[0], "2027–2028", "{b}");
    assert_eq!(cells[2], children.to_string(), "{b}: the intake");
    assert_eq!(cells[3], "170", "{b}: the two schools' places added up");
    let gap = 170 - children;
    let shown_gap = if gap > 0 {
        format!("+{gap}")
    } else {
        gap.to_string()
    };
    assert_eq!(cells[4], shown_gap, "{b}: the gap");
    assert!(
        page.contains("<title>Số chỗ học 2027–2028: 170</title>")
            && page.contains("<polyline points="),
        "{b}: the places drawn as a line over the bars"
    );
    assert!(
        !page.contains(&format!("places-{FAR}-")),
        "{b}: nothing stored outside the area"
    );

    // Two lower-secondary schools of Ngọc Hà in an xlsx (one code without its zeros, as Excel
    // turns it into a number); Ba Đình, which the file does not name, keeps its places.
    let xlsx = write_xlsx(
        &d.join("cho.xlsx"),
        &[
            vec![
                "Mã xã".into(),
                "Trường".into(),
                "Cấp học".into(),
                "Số chỗ".into(),
            ],
            vec![
                NEIGHBOUR.into(),
                "THCS Ngọc Hà".into(),
                "Lớp 6".into(),
                80.into(),
            ],
            vec![8.into(), "THCS Đội Cấn".into(), "Lớp 6".into(), 45.into()],
        ],
    );
    let (status, page) = upload(&http, base, &session, &csrf, "cho.xlsx", &xlsx).await;
    assert_eq!(status, 200, "{b}: {page}");
    assert!(page.contains("Đã lưu 2 dòng"), "{b}");
    assert!(!page.contains("id=\"upload-errors\""), "{b}: no bad row");
    let (_, page) = get("/staff/enrolment".into()).await;
    assert_eq!(
        row_cells(&page, &format!("places-{NEIGHBOUR}-grade-6-2030"))[3],
        "125",
        "{b}: 80 + 45 from the xlsx"
    );
    assert_eq!(
        row_cells(&page, &format!("places-{HOME}-grade-1-2027"))[3],
        "170",
        "{b}: a commune the file does not name keeps its places"
    );

    // Only a commune outside the area: refused, and the page says why.
    let (status, page) = upload(
        &http,
        base,
        &session,
        &csrf,
        "xa.csv",
        format!("commune_code,level,capacity\n{FAR},grade-1,30\n").as_bytes(),
    )
    .await;
    assert_eq!(status, 403, "{b}");
    assert!(
        page.contains("mọi dòng đều thuộc xã ngoài địa bàn của bạn")
            && page.contains("outside your area"),
        "{b}: {page}"
    );
    // A form without the page's token is refused; so is a health worker.
    let (status, _) = upload(&http, base, &session, "sai", "x.csv", csv.as_bytes()).await;
    assert_eq!(status, 403, "{b}: the token is checked");
    let nurse = person_session(&http, base, "yte-badinh").await;
    let (_, nurse_page) = {
        let res = http
            .get(format!("{base}/staff/enrolment"))
            .header("cookie", &nurse)
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    };
    assert!(
        !nurse_page.contains("id=\"places-form\""),
        "{b}: no upload form for health staff"
    );
    let (status, page) = upload(
        &http,
        base,
        &nurse,
        &csrf_of_session(&nurse),
        "x.csv",
        csv.as_bytes(),
    )
    .await;
    assert_eq!(status, 403, "{b}: health staff may not upload: {page}");
}
on_each_backend!(a_planner_uploads_places_on_the_page_and_sees_their_sum);

async fn places_over_the_api_and_on_the_command_line(db: TestDb) {
    let b = db.backend;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    demo(&db);
    let planner = key(
        &db,
        d,
        "ke-hoach",
        &["--role", "education", "--province", "01"],
    );
    let health = key(&db, d, "yte", &["--role", "health", "--province", "01"]);
    let served = serve(&db, d, &["--no-schedule"], &[]);
    let http = reqwest::Client::new();
    let put = |key: String, content_type: &'static str, body: Vec<u8>| {
        let (http, base) = (http.clone(), served.base.clone());
        async move {
            let res = http
                .put(format!("{base}/api/school-places"))
                .bearer_auth(key)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let ct = res
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let body: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
            (status, ct, body)
        }
    };
    let c = Client {
        http: http.clone(),
        base: served.base.clone(),
    };

    // The existing capacity format, two unnamed schools of one commune, and a bad row.
    let csv = format!(
        "commune_code,level,capacity,school_year\n{HOME},grade-1,150,\n{HOME},grade-1,-5,\n{HOME},grade-1,20,\n{NEIGHBOUR},kindergarten-5,60,2027-2028\n"
    );
    let (status, _, body) = put(planner.clone(), "text/csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{b}: {body}");
    assert_eq!(
        body["stored"], 2,
        "{b}: 150 + 20 are one stored row: {body}"
    );
    assert_eq!(
        body["communes"],
        serde_json::json!([HOME, NEIGHBOUR]),
        "{b}"
    );
    assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{b}: {body}");
    assert_eq!(body["errors"][0]["line"], 3, "{b}");
    assert_eq!(body["errors"][0]["field"], "capacity", "{b}");

    let (status, _, report) = c
        .get(
            Some(&planner),
            &format!("/api/reports/enrolment?commune={HOME}&commune={NEIGHBOUR}"),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    let report: Value = serde_json::from_str(&report).unwrap();
    for year in 2027..=2032 {
        assert_eq!(
            report_row(&report, HOME, "grade-1", year)["capacity"],
            170,
            "{b}: every year"
        );
        let kg = report_row(&report, NEIGHBOUR, "kindergarten-5", year);
        assert_eq!(kg["capacity"].as_i64(), (year == 2027).then_some(60), "{b}");
    }

    // xlsx replaces Ba Đình's places (two named schools, 2028 only for one of them).
    let xlsx = write_xlsx(
        &d.join("cho.xlsx"),
        &[
            vec![
                "commune_code".into(),
                "school".into(),
                "level".into(),
                "capacity".into(),
                "school_year".into(),
            ],
            vec![
                HOME.into(),
                "A".into(),
                "grade-1".into(),
                100.into(),
                "".into(),
            ],
            vec![
                HOME.into(),
                "B".into(),
                "grade-1".into(),
                30.into(),
                "".into(),
            ],
            vec![
                HOME.into(),
                "B".into(),
                "grade-1".into(),
                50.into(),
                2028.into(),
            ],
        ],
    );
    let (status, _, body) = put(planner.clone(), XLSX, xlsx).await;
    assert_eq!(status, 200, "{b}: {body}");
    assert_eq!(body["stored"], 3, "{b}");
    let (_, _, list) = c
        .get(
            Some(&planner),
            &format!("/api/school-places?commune={HOME}"),
        )
        .await;
    let list: Value = serde_json::from_str(&list).unwrap();
    let places = list["places"].as_array().unwrap();
    assert_eq!(
        places.len(),
        3,
        "{b}: the file replaced the commune's places: {list}"
    );
    assert!(
        places
            .iter()
            .all(|p| p["uploaded_by"] == "ke-hoach" && p["commune_name"] == "Phường Ba Đình"),
        "{b}: {list}"
    );
    let (_, _, report) = c
        .get(
            Some(&planner),
            &format!("/api/reports/enrolment?commune={HOME}"),
        )
        .await;
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(
        report_row(&report, HOME, "grade-1", 2027)["capacity"],
        130,
        "{b}"
    );
    assert_eq!(
        report_row(&report, HOME, "grade-1", 2028)["capacity"],
        150,
        "{b}: B's 2028 row replaces its every-year row"
    );

    // Outside the area: 403 with the row; other roles may not upload; bad files are 400.
    let (status, ct, body) = put(
        planner.clone(),
        "text/csv",
        format!("commune_code,level,capacity\n{FAR},grade-1,30\n").into_bytes(),
    )
    .await;
    assert_eq!(
        (status, ct.as_str()),
        (403, "application/problem+json"),
        "{b}: {body}"
    );
    assert_eq!(body["errors"][0]["line"], 2, "{b}");
    assert!(
        body["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("outside your area"),
        "{b}: {body}"
    );
    let (status, _, _) = put(
        health,
        "text/csv",
        b"commune_code,level,capacity\n".to_vec(),
    )
    .await;
    assert_eq!(
        status, 403,
        "{b}: health keys read enrolment but do not upload places"
    );
    let (status, _, body) = put(planner.clone(), "text/csv", b"a;b\n1;2\n".to_vec()).await;
    assert_eq!(status, 400, "{b}: {body}");
    assert!(
        body["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("commune_code"),
        "{b}"
    );
    drop(served);

    // The command line: the trial's file (two schools, 150 + 20) now adds up, with --capacity
    // and through the stored places alike.
    std::fs::write(
        d.join("cap.csv"),
        "commune_code,level,capacity\n4,grade-1,150\n4,grade-1,20\n",
    )
    .unwrap();
    let json = |args: &[&str]| -> Value {
        let mut all = vec![
            "report",
            "enrolment",
            "--commune",
            HOME,
            "--format",
            "json",
            "--as-of",
            AS_OF,
        ];
        all.extend_from_slice(args);
        serde_json::from_str(&run(&db, d, &all)).unwrap()
    };
    let with_file = json(&["--capacity", "cap.csv"]);
    assert_eq!(with_file["places"], "file", "{b}");
    assert_eq!(
        report_row(&with_file, HOME, "grade-1", 2027)["capacity"],
        170,
        "{b}"
    );
    let stored = json(&[]);
    assert_eq!(stored["places"], "stored", "{b}");
    assert_eq!(
        report_row(&stored, HOME, "grade-1", 2027)["capacity"],
        130,
        "{b}"
    );
    let out = run(
        &db,
        d,
        &["school-places", "import", "cap.csv", "--by", "so-gd"],
    );
    assert!(out.contains("1 rows stored for 1 communes"), "{b}: {out}");
    let list: Value = serde_json::from_str(&run(
        &db,
        d,
        &[
            "school-places",
            "list",
            "--commune",
            HOME,
            "--format",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{b}: {list}");
    assert_eq!(
        (list[0]["places"].as_i64(), list[0]["uploaded_by"].as_str()),
        (Some(170), Some("so-gd")),
        "{b}"
    );
    assert_eq!(
        report_row(&json(&[]), HOME, "grade-1", 2027)["capacity"],
        170,
        "{b}"
    );
    // The CSV download names the commune beside its code, in a new last column.
    let csv = run(
        &db,
        d,
        &[
            "report",
            "enrolment",
            "--commune",
            HOME,
            "--as-of",
            AS_OF,
            "--years",
            "1",
        ],
    );
    let header = csv.trim_start_matches('\u{feff}').lines().next().unwrap();
    assert_eq!(
        header,
        "province_code,commune_code,school_year,level,birth_year,children,projected,capacity,gap,commune_name",
        "{b}"
    );
    assert!(
        csv.lines().nth(1).unwrap().ends_with(",Phường Ba Đình"),
        "{b}: {csv}"
    );
    std::fs::write(
        d.join("bad.csv"),
        "commune_code,level,capacity\n00004,Lớp 2,1\n",
    )
    .unwrap();
    let (ok, _, err) = vongdoi(&db, d, &["school-places", "import", "bad.csv"]);
    assert!(!ok && err.contains("bad.csv:2: level:"), "{b}: {err}");
}
on_each_backend!(places_over_the_api_and_on_the_command_line);
