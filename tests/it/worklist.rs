//! The nurse's worklist (issue #12): one entry per child with every due or overdue dose,
//! this week's calls apart from the follow-up list, filters and search, call outcomes, the
//! printed session list — on a real `serve` with a person's account.

use crate::support::api::*;
use crate::support::{serve, TestDb};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// The same items as the per-dose list, grouped: every dose once, every child once per list,
/// the lists split by age and time overdue, each list by due date.
async fn by_child_regroups_the_per_dose_list_exactly(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let base = [
        "report",
        "vaccination",
        "--commune",
        HOME,
        "--as-of",
        AS_OF,
        "--format",
        "json",
    ];
    let per_dose: Value = serde_json::from_str(&run(&db, dir, &base)).unwrap();
    let mut by_child_args = base.to_vec();
    by_child_args.extend(["--by", "child"]);
    let by_child: Value = serde_json::from_str(&run(&db, dir, &by_child_args)).unwrap();
    let doses: BTreeSet<(String, String, u64)> = per_dose["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["personal_id"].as_str().unwrap().into(),
                r["series"].as_str().unwrap().into(),
                r["dose"].as_u64().unwrap(),
            )
        })
        .collect();
    let children = by_child["children"].as_array().unwrap();
    let mut seen = BTreeSet::new();
    let mut entries = BTreeSet::new();
    let as_of = chrono::NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").unwrap();
    for c in children {
        let pin = c["personal_id"].as_str().unwrap().to_string();
        let list = c["list"].as_str().unwrap();
        assert!(
            entries.insert((pin.clone(), list.to_string())),
            "{b}: {pin} twice on {list}"
        );
        let born =
            chrono::NaiveDate::parse_from_str(c["date_of_birth"].as_str().unwrap(), "%Y-%m-%d")
                .unwrap();
        let young = born.checked_add_months(chrono::Months::new(72)).unwrap() > as_of;
        for d in c["doses"].as_array().unwrap() {
            let key = (
                pin.clone(),
                d["series"].as_str().unwrap().to_string(),
                d["dose"].as_u64().unwrap(),
            );
            assert!(seen.insert(key.clone()), "{b}: {key:?} twice");
            let routine = young && d["days_overdue"].as_i64().unwrap() <= 90; // FOLLOW_UP_AFTER_DAYS: the notice horizon
            assert_eq!(list == "routine", routine, "{b}: {key:?} on {list}");
        }
    }
    assert_eq!(seen, doses, "{b}: the same doses as the per-dose list");
    assert!(
        children
            .iter()
            .any(|c| c["doses"].as_array().unwrap().len() > 1),
        "{b}: some child has several doses in one entry"
    );
    assert!(children.iter().any(|c| c["list"] == "follow_up"), "{b}");
    for list in ["routine", "follow_up"] {
        let dues: Vec<&str> = children
            .iter()
            .filter(|c| c["list"] == list)
            .map(|c| c["first_due"].as_str().unwrap_or(""))
            .collect();
        let mut sorted = dues.clone();
        sorted.sort();
        assert_eq!(dues, sorted, "{b}: {list} by due date");
    }
    // The spreadsheet of the same list: IDs as 12-character text.
    let xlsx = dir.join("by-child.xlsx");
    let mut args = by_child_args.clone();
    let out = xlsx.display().to_string();
    args.truncate(args.len() - 4);
    args.extend(["--format", "xlsx", "--by", "child", "-o", &out]);
    run(&db, dir, &args);
    let sheet = &crate::support::xlsx_sheets(&xlsx)[0];
    assert_eq!(sheet.rows.len() - 1, children.len(), "{b}");
    assert!(
        sheet.rows[1..]
            .iter()
            .all(|r| r[0]["t"] == "s" && r[0]["v"].as_str().unwrap().len() == 12),
        "{b}"
    );
}
on_each_backend!(by_child_regroups_the_per_dose_list_exactly);

#[tokio::test]
async fn a_nurse_works_her_list_by_child() {
    let db = crate::support::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let all = citizens(&db, dir);
    let by_id: HashMap<&str, &HashMap<String, String>> =
        all.iter().map(|c| (c["personal_id"].as_str(), c)).collect();
    let nurse = account(
        &db,
        dir,
        "lan.tyt",
        &["--role", "health", "--commune", HOME],
    );
    let served = serve(&db, dir, &["--no-schedule"], &[]);
    let (http, base) = (no_redirects(), served.base.clone());
    let session = person_session(&http, &base, &nurse).await;
    let get = |path: String| {
        let (http, base, session) = (http.clone(), base.clone(), session.clone());
        async move {
            let res = http
                .get(format!("{base}{path}"))
                .header("cookie", session)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (status, page) = get(format!("/staff/vaccination?as_of={AS_OF}")).await;
    assert_eq!(status, 200);
    let routine = child_ids(&page);
    assert!(!routine.is_empty(), "children to call this week");
    let unique: BTreeSet<&String> = routine.iter().collect();
    assert_eq!(unique.len(), routine.len(), "one card per child");
    assert!(
        routine
            .iter()
            .all(|p| by_id[p.as_str()]["commune_code"] == HOME),
        "only her commune"
    );
    assert!(
        !page.contains("quá hạn 5"),
        "no five-thousand-day counts: {page}"
    );
    assert!(
        page.contains(" tháng") || page.contains(" ngày"),
        "overdue in months and days"
    );
    let (_, follow) = get(format!("/staff/vaccination?as_of={AS_OF}&list=follow_up")).await;
    let follow_ids = child_ids(&follow);
    assert!(!follow_ids.is_empty(), "a follow-up list");
    assert!(
        follow.contains("năm"),
        "long-overdue doses, in years, on the follow-up list"
    );

    // Search by name (without diacritics) and by the phone as people write it.
    let first = by_id[routine[0].as_str()];
    let surname =
        vongdoi::text::unaccent(first["full_name"].split(' ').next_back().unwrap()).to_lowercase();
    let (_, found) = get(format!("/staff/vaccination?as_of={AS_OF}&q={surname}")).await;
    assert!(
        child_ids(&found).contains(&routine[0]),
        "found by name {surname}"
    );
    let phone_digits = page
        .split(&format!("id=\"child-{}\"", routine[0]))
        .nth(1)
        .unwrap()
        .split("href=\"tel:+84")
        .nth(1)
        .map(|s| s[..9].to_string());
    if let Some(n) = phone_digits {
        let spoken = format!("0{} {} {}", &n[..3], &n[3..6], &n[6..]);
        assert!(page.contains(&spoken), "phones written 0912 345 678");
        let (_, found) = get(format!(
            "/staff/vaccination?as_of={AS_OF}&q={}",
            spoken.replace(' ', "+")
        ))
        .await;
        assert!(
            child_ids(&found).contains(&routine[0]),
            "found by phone {spoken}"
        );
    }
    let (_, babies) = get(format!("/staff/vaccination?as_of={AS_OF}&age=0-11m")).await;
    let as_of = chrono::NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").unwrap();
    for p in child_ids(&babies) {
        let born =
            chrono::NaiveDate::parse_from_str(&by_id[p.as_str()]["date_of_birth"], "%Y-%m-%d")
                .unwrap();
        assert!(
            born.checked_add_months(chrono::Months::new(12)).unwrap() > as_of,
            "{p} is under 1"
        );
    }

    // The menu brings her back to the list as she left it (filters, not the search words).
    let res = http
        .get(format!(
            "{base}/staff/vaccination?as_of={AS_OF}&age=0-11m&q=abc"
        ))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let kept = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("vongdoi_list="))
        .expect("the list's filters are remembered");
    assert!(
        kept.contains("age=0-11m") && !kept.contains("abc"),
        "{kept}"
    );
    let kept = kept.split(';').next().unwrap().to_string();
    let res = http
        .get(format!("{base}/staff/citizens/{}", routine[0]))
        .header("cookie", format!("{session}; {kept}"))
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "href=\"/staff/vaccination?as_of={AS_OF}&amp;age=0-11m\""
        )),
        "the menu link keeps the filters"
    );

    // A call outcome shows on the list; "vaccinated elsewhere" opens the dose form.
    let csrf = csrf_of(&page);
    let back = format!("/staff/vaccination?as_of={AS_OF}");
    let post = |pin: String, outcome: &'static str, appointment: &'static str| {
        let (http, base, session, csrf, back) = (
            http.clone(),
            base.clone(),
            session.clone(),
            csrf.clone(),
            back.clone(),
        );
        async move {
            http.post(format!("{base}/staff/vaccination/outcome"))
                .header("cookie", session)
                .form(&[
                    ("pin", pin.as_str()),
                    ("outcome", outcome),
                    ("appointment", appointment),
                    ("note", "mẹ hẹn chiều"),
                    ("csrf", csrf.as_str()),
                    ("back", back.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let res = post(routine[0].clone(), "appointment", "").await;
    assert_eq!(res.status(), 400, "an appointment needs its day");
    let res = post(routine[0].clone(), "appointment", "2026-11-25").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], back.as_str());
    let (_, page) = get(back.clone()).await;
    let card = page
        .split(&format!("id=\"child-{}\"", routine[0]))
        .nth(1)
        .unwrap()
        .split("</li>\n<li class=\"child\"")
        .next()
        .unwrap();
    assert!(
        card.contains("Đã gọi – hẹn ngày 25/11/2026")
            && card.contains("mẹ hẹn chiều")
            && card.contains("lan.tyt"),
        "outcome on the card: {card}"
    );
    let (_, child_page) = get(format!("/staff/citizens/{}", routine[0])).await;
    let calls = child_page.split("id=\"calls\"").nth(1).unwrap_or("");
    assert!(
        calls.contains("Đã gọi – hẹn ngày 25/11/2026"),
        "the call in the child's history: {child_page}"
    );
    let res = post(routine[1 % routine.len()].clone(), "elsewhere", "").await;
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        to.starts_with(&format!(
            "/staff/citizens/{}?place=elsewhere",
            routine[1 % routine.len()]
        )) && to.ends_with("#dose-form"),
        "{to}"
    );
    let other = child_in(&all, NEIGHBOUR);
    assert_eq!(
        post(other, "refused", "").await.status(),
        403,
        "another commune's child"
    );
    let audit = audit_rows(&db, dir, &routine[0]);
    assert!(
        audit
            .iter()
            .any(|r| r["action"] == "call-outcome" && r["key_name"] == "lan.tyt"),
        "{audit:?}"
    );

    // The printed session list: every child of the list, a column to sign.
    let (status, print) = get(format!("/staff/vaccination?as_of={AS_OF}&print=1")).await;
    assert_eq!(status, 200);
    assert!(
        print.contains("Đã tiêm / Ký") && print.contains("size: A4"),
        "A4 with a signing column"
    );
    let total: usize = page
        .split("<b id=\"total\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        print.matches("<td class=\"sign\">").count(),
        total,
        "one row per child of the list"
    );
    drop(served);
}
