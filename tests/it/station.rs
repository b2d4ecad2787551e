//! Issue #12's "done when", in headless Chromium at phone width: a nurse's account made with
//! `vongdoi users create` signs in with its one-time password and changes it, sees only her
//! commune's children one card per child, records two doses for one child in one form, removes
//! a wrong one with a reason, watches the child leave and come back to the list, notes a call
//! outcome, and is refused another commune's child.

use crate::support::api::*;
use crate::support::browser::{chromium, Browser};
use crate::support::serve;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The card of one child on the list (its HTML).
fn card<'a>(page: &'a str, pin: &str) -> &'a str {
    page.split(&format!("id=\"child-{pin}\""))
        .nth(1)
        .and_then(|s| s.split("<li class=\"child\"").next())
        .unwrap_or("")
}

/// Waits until the browser's page contains `what` (a form posted, a redirect followed).
async fn wait_for(b: &Browser, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let page = b.source().await;
        if page.contains(what) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "waited for {what:?}; the page is: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_nurse_runs_her_session_on_a_phone() {
    let Some(chromium) = chromium() else { return };
    let db = crate::support::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let all = citizens(&db, dir);
    let commune_of: HashMap<String, String> = all
        .iter()
        .map(|c| (c["personal_id"].clone(), c["commune_code"].clone()))
        .collect();
    let otp = run(
        &db,
        dir,
        &[
            "users",
            "create",
            "lan.tyt",
            "--role",
            "health",
            "--commune",
            HOME,
            "--name",
            "Nguyễn Thị Lan",
        ],
    )
    .trim()
    .to_string();
    let served = serve(&db, dir, &["--no-schedule"], &[]);
    let base = served.base.clone();
    let b = Browser::start(&chromium, 390, 844).await;

    // The one-time password, then her own.
    b.goto(&format!("{base}/staff/login?next=/staff/vaccination"))
        .await;
    b.type_into("input[name=username]", "lan.tyt").await;
    b.type_into("input[name=password]", &otp).await;
    b.click("button[type=submit]").await;
    wait_for(&b, "name=\"again\"").await;
    let mine = "mật khẩu của Lan 2026";
    b.type_into("input[name=current]", &otp).await;
    b.type_into("input[name=new]", mine).await;
    b.type_into("input[name=again]", mine).await;
    b.click("form[action=\"/staff/password\"] button[type=submit]")
        .await;
    let list = wait_for(&b, "id=\"vaccination\"").await;
    assert!(list.contains("lan.tyt"), "signed in as herself");

    // Her commune's children, one card each.
    let ids = child_ids(&list);
    assert!(!ids.is_empty(), "children to call: {list}");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "one card per child");
    assert!(
        ids.iter().all(|p| commune_of[p] == HOME),
        "only her commune's children"
    );
    let png = b.screenshot().await;
    assert_eq!(
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        390,
        "phone width"
    );
    std::fs::write(dir.join("worklist-phone.png"), &png).unwrap();

    // Another commune's child is refused.
    let other = child_in(&all, NEIGHBOUR);
    b.goto(&format!("{base}/staff/citizens/{other}")).await;
    let page = wait_for(&b, "Không có quyền").await;
    assert!(
        !page.contains("id=\"dose-form\"") && !page.contains(&other),
        "refused: {page}"
    );
    // A child due two or more doses: both recorded in one form, then back on the list.
    b.goto(&format!("{base}/staff/vaccination")).await;
    let list = wait_for(&b, "id=\"vaccination\"").await;
    let pin = ids
        .iter()
        .find(|p| card(&list, p).matches("<li").count() >= 2)
        .expect("a child due two doses or more")
        .clone();
    b.click(&format!("#child-{pin} .who a")).await;
    let page = wait_for(&b, "id=\"dose-form\"").await;
    let ticked = page
        .split("id=\"doses-due\"")
        .nth(1)
        .unwrap()
        .split("</fieldset>")
        .next()
        .unwrap()
        .matches(" checked")
        .count();
    assert!(ticked >= 2, "the due doses come ticked: {ticked}");
    b.click("#dose-form button[type=submit]").await;
    let list = wait_for(&b, "id=\"vaccination\"").await;
    assert!(
        !child_ids(&list).contains(&pin),
        "with every due dose given, the child leaves the list"
    );
    let history = run(&db, dir, &["citizen", "show", &pin]);
    let today = (chrono::Utc::now() + chrono::Duration::hours(7))
        .date_naive()
        .to_string();
    assert!(
        history.matches(&today).count() >= 2,
        "two doses recorded today: {history}"
    );

    // One of them was wrong: removed with its reason, and the child is back on the list.
    b.goto(&format!(
        "{base}/staff/citizens/{pin}?return=/staff/vaccination"
    ))
    .await;
    wait_for(&b, "remove-form").await;
    // The removal form of one of today's doses (a closed <details> per recorded dose).
    let today_form =
        format!("details:has(> form.remove-form > input[name=date_given][value=\"{today}\"])");
    b.click(&format!("{today_form} summary")).await;

    b.type_into(&format!("{today_form} input[name=reason]"), "ghi nhầm trẻ")
        .await;
    // Enter in the field submits its form, as a nurse's keyboard does.
    b.type_into(&format!("{today_form} input[name=reason]"), "\u{E007}")
        .await;
    let list = wait_for(&b, "id=\"vaccination\"").await;
    assert!(
        child_ids(&list).contains(&pin),
        "the child re-enters the list"
    );
    let audit = audit_rows(&db, dir, &pin);
    assert!(
        audit
            .iter()
            .any(|r| r["action"] == "remove-dose" && r["key_name"] == "lan.tyt"),
        "the removal is audited under her name: {audit:?}"
    );

    // A call outcome from the card shows on the list.
    b.click(&format!("#child-{pin} details summary")).await;
    b.click(&format!("#child-{pin} option[value=unreachable]"))
        .await;
    b.click(&format!("#child-{pin} form button[type=submit]"))
        .await;
    let list = wait_for(&b, "Không liên lạc được").await;
    assert!(
        card(&list, &pin).contains("Không liên lạc được"),
        "on the child's card"
    );

    b.close().await;
    drop(served);
}
