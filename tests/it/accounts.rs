//! Personal staff accounts (issue #12) as a nurse and an administrator meet them, on a real
//! `vongdoi serve` over both backends: a one-time password changed at the first sign-in, the
//! area of the account, sessions on `/api` with the CSRF header, the audit naming the person,
//! locks after wrong passwords, disabling, resetting and "sign out everywhere".

use crate::support::api::*;
use crate::support::{serve, vongdoi, TestDb};
use serde_json::{json, Value};
use std::path::Path;

/// `vongdoi users create …` printing a one-time password; returns it.
fn create_one_time(db: &TestDb, dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["users", "create"];
    all.extend_from_slice(args);
    let printed = run(db, dir, &all);
    let otp = printed.trim().to_string();
    assert_eq!(otp.len(), 14, "{}: one-time password {otp:?}", db.backend);
    otp
}

async fn get(http: &reqwest::Client, url: &str, cookie: &str) -> reqwest::Response {
    http.get(url).header("cookie", cookie).send().await.unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

async fn a_nurse_signs_in_with_a_one_time_password_and_is_named_in_the_audit(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let all = citizens(&db, dir);
    let (home_child, neighbour_child) = (child_in(&all, HOME), child_in(&all, NEIGHBOUR));
    let otp = create_one_time(
        &db,
        dir,
        &[
            "lan.tyt",
            "--role",
            "health",
            "--commune",
            HOME,
            "--name",
            "Nguyễn Thị Lan",
        ],
    );
    let listed = run(&db, dir, &["users", "list", "--format", "json"]);
    assert!(
        !listed.contains("argon2") && !listed.contains(&otp),
        "{b}: no password listed"
    );
    let users: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(users[0]["username"], "lan.tyt", "{b}");
    assert_eq!(users[0]["must_change"], true, "{b}");
    // Usernames and key names are one namespace.
    assert!(
        !vongdoi(
            &db,
            dir,
            &["keys", "create", "--name", "lan.tyt", "--role", "admin"]
        )
        .0,
        "{b}"
    );
    assert!(
        !vongdoi(&db, dir, &["users", "create", "lan.tyt", "--role", "admin"]).0,
        "{b}"
    );

    let served = serve(&db, dir, &["--no-schedule"], &[]);
    let (http, base) = (no_redirects(), served.base.clone());

    // The one-time password signs in, for 12 hours, straight to the password page…
    let res = sign_in_person(&http, &base, "lan.tyt", &otp, false).await;
    assert_eq!(res.status(), 303, "{b}");
    assert!(
        location(&res).starts_with("/staff/password"),
        "{b}: {}",
        location(&res)
    );
    assert!(
        session_set_cookie(&res).contains("Max-Age=43200"),
        "{b}: 12 h"
    );
    let first = session_of(&res);
    // …and nothing else is open until it is changed.
    let res = get(&http, &format!("{base}/staff/vaccination"), &first).await;
    assert_eq!(res.status(), 303, "{b}");
    assert_eq!(location(&res), "/staff/password", "{b}");
    let res = get(&http, &format!("{base}/api/citizens/{home_child}"), &first).await;
    assert_eq!(
        res.status(),
        403,
        "{b}: the API waits for the new password too"
    );

    let page = get(&http, &format!("{base}/staff/password"), &first)
        .await
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
    let change = |current: &str, new: &str, again: &str| {
        let form = [
            ("current", current),
            ("new", new),
            ("again", again),
            ("csrf", csrf.as_str()),
            ("next", "/staff/vaccination"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        http.post(format!("{base}/staff/password"))
            .header("cookie", &first)
            .form(&form)
            .send()
    };
    assert_eq!(
        change(
            "wrong-otp-xx",
            "mật khẩu của Lan 2026",
            "mật khẩu của Lan 2026"
        )
        .await
        .unwrap()
        .status(),
        400,
        "{b}: the current password is checked"
    );
    assert_eq!(
        change(&otp, "ngắn", "ngắn").await.unwrap().status(),
        400,
        "{b}: too short"
    );
    assert_eq!(
        change(&otp, "mật khẩu của Lan 2026", "mật khẩu khác 2026")
            .await
            .unwrap()
            .status(),
        400,
        "{b}: the two differ"
    );
    let res = change(&otp, "mật khẩu của Lan 2026", "mật khẩu của Lan 2026")
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{b}");
    assert_eq!(location(&res), "/staff/vaccination", "{b}");
    let session = session_of(&res);
    assert_eq!(
        get(&http, &format!("{base}/staff/vaccination"), &first)
            .await
            .status(),
        303,
        "{b}: the session of the one-time password ended"
    );
    let res = get(&http, &format!("{base}/staff/vaccination"), &session).await;
    assert_eq!(res.status(), 200, "{b}");
    assert!(
        res.text().await.unwrap().contains("lan.tyt"),
        "{b}: the page names who is signed in"
    );
    assert_eq!(
        sign_in_person(&http, &base, "lan.tyt", &otp, false)
            .await
            .status(),
        401,
        "{b}: the one-time password is spent"
    );

    // The account's area, over the API with the session: one authorization path.
    let res = get(
        &http,
        &format!("{base}/api/citizens/{home_child}"),
        &session,
    )
    .await;
    assert_eq!(res.status(), 200, "{b}");
    let res = get(
        &http,
        &format!("{base}/api/citizens/{neighbour_child}"),
        &session,
    )
    .await;
    assert_eq!(res.status(), 403, "{b}: another commune's child");
    let me: Value = get(&http, &format!("{base}/api/session"), &session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "lan.tyt", "{b}: {me}");
    assert_eq!(me["name"], "Nguyễn Thị Lan", "{b}");
    assert_eq!(me["areas"]["communes"], json!([HOME]), "{b}");
    let token = me["csrf_token"].as_str().unwrap().to_string();
    let dose = json!({"vaccine": "BCG", "date_given": AS_OF});
    let post = |token: Option<&str>| {
        let mut req = http
            .post(format!("{base}/api/citizens/{home_child}/immunizations"))
            .header("cookie", &session)
            .json(&dose);
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        req.send()
    };
    assert_eq!(
        post(None).await.unwrap().status(),
        403,
        "{b}: unsafe without X-CSRF-Token"
    );
    assert_eq!(
        post(Some("0000")).await.unwrap().status(),
        403,
        "{b}: a wrong token"
    );
    let res = post(Some(&token)).await.unwrap();
    assert!(
        matches!(res.status().as_u16(), 201 | 409),
        "{b}: {}",
        res.status()
    );

    // The audit names the person.
    let rows = audit_rows(&db, dir, &home_child);
    assert!(
        rows.iter()
            .any(|r| r["key_name"] == "lan.tyt" && r["action"] == "read"),
        "{b}: {rows:?}"
    );
    let table = run(&db, dir, &["audit", "--citizen", &home_child]);
    assert!(table.contains("lan.tyt"), "{b}: {table}");
    drop(served);
}
on_each_backend!(a_nurse_signs_in_with_a_one_time_password_and_is_named_in_the_audit);

async fn locks_disabling_resets_and_signing_out_everywhere(db: TestDb) {
    let b = db.backend;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    let all = citizens(&db, dir);
    let home_child = child_in(&all, HOME);
    let password = "một mật khẩu dài 2026";
    account_with(
        &db,
        dir,
        "hoa.tyt",
        &["--role", "health", "--commune", HOME],
        password,
    );
    account_with(
        &db,
        dir,
        "binh.tyt",
        &["--role", "health", "--commune", NEIGHBOUR],
        password,
    );
    let served = serve(&db, dir, &["--no-schedule"], &[]);
    let (http, base) = (no_redirects(), served.base.clone());
    let session_url = format!("{base}/api/session");

    // "Keep me signed in on this phone": 30 days, and straight to the page asked for.
    let res = sign_in_person(&http, &base, "hoa.tyt", password, true).await;
    assert_eq!(res.status(), 303, "{b}");
    assert_eq!(location(&res), "/staff/vaccination", "{b}");
    assert!(
        session_set_cookie(&res).contains("Max-Age=2592000"),
        "{b}: 30 days"
    );
    let phone = session_of(&res);
    let laptop = session_of(&sign_in_person(&http, &base, "hoa.tyt", password, false).await);

    // A second health account cannot read the first one's commune.
    let binh = session_of(&sign_in_person(&http, &base, "binh.tyt", password, false).await);
    assert_eq!(
        get(&http, &format!("{base}/api/citizens/{home_child}"), &binh)
            .await
            .status(),
        403,
        "{b}"
    );
    assert_eq!(
        get(&http, &format!("{base}/staff/citizens/{home_child}"), &binh)
            .await
            .status(),
        403,
        "{b}"
    );

    // Disabling ends the sessions at once; enabling does not bring them back.
    run(&db, dir, &["users", "disable", "hoa.tyt"]);
    assert_eq!(
        get(&http, &session_url, &phone).await.status(),
        401,
        "{b}: disabled, at once"
    );
    assert_eq!(
        sign_in_person(&http, &base, "hoa.tyt", password, false)
            .await
            .status(),
        401,
        "{b}"
    );
    run(&db, dir, &["users", "enable", "hoa.tyt"]);
    assert_eq!(get(&http, &session_url, &laptop).await.status(), 401, "{b}");

    // Five wrong passwords lock the account; then even the right one waits.
    for i in 1..=5 {
        let res = sign_in_person(&http, &base, "hoa.tyt", "sai mật khẩu", false).await;
        let want = if i < 5 { 401 } else { 429 };
        assert_eq!(res.status(), want, "{b}: wrong password {i}");
    }
    let res = sign_in_person(&http, &base, "hoa.tyt", password, false).await;
    assert_eq!(res.status(), 429, "{b}: locked");
    assert!(
        res.text().await.unwrap().contains("tạm khóa"),
        "{b}: says so in Vietnamese"
    );
    let listed = run(&db, dir, &["users", "list"]);
    assert!(listed.contains("tạm khóa / locked"), "{b}: {listed}");

    // A reset issues a one-time password, clears the lock and ends sessions.
    let otp = run(&db, dir, &["users", "reset-password", "hoa.tyt"])
        .trim()
        .to_string();
    assert_eq!(
        sign_in_person(&http, &base, "hoa.tyt", password, false)
            .await
            .status(),
        401,
        "{b}: old password gone"
    );
    let res = sign_in_person(&http, &base, "hoa.tyt", &otp, false).await;
    assert_eq!(res.status(), 303, "{b}");
    assert!(location(&res).starts_with("/staff/password"), "{b}");

    // "Sign out everywhere" ends every session of the person, and nobody else's.
    let a = session_of(&sign_in_person(&http, &base, "binh.tyt", password, false).await);
    let page = get(&http, &format!("{base}/staff/password"), &a)
        .await
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
    let res = http
        .post(format!("{base}/staff/logout-everywhere"))
        .header("cookie", &a)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{b}");
    for s in [&a, &binh] {
        assert_eq!(
            get(&http, &session_url, s).await.status(),
            401,
            "{b}: every session of binh.tyt"
        );
    }
    drop(served);
}
on_each_backend!(locks_disabling_resets_and_signing_out_everywhere);

/// The administrator's page: create an account (the one-time password shown once), disable it.
#[tokio::test]
async fn an_administrator_manages_accounts_on_the_page() {
    let db = crate::support::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    demo(&db);
    account_with(
        &db,
        dir,
        "quantri",
        &["--role", "admin"],
        "quản trị viên 2026",
    );
    account_with(
        &db,
        dir,
        "y.te",
        &["--role", "health", "--commune", HOME],
        "một mật khẩu dài 2026",
    );
    let served = serve(&db, dir, &["--no-schedule"], &[]);
    let (http, base) = (no_redirects(), served.base.clone());
    let admin =
        session_of(&sign_in_person(&http, &base, "quantri", "quản trị viên 2026", false).await);
    let nurse =
        session_of(&sign_in_person(&http, &base, "y.te", "một mật khẩu dài 2026", false).await);
    assert_eq!(
        get(&http, &format!("{base}/staff/users"), &nurse)
            .await
            .status(),
        403,
        "admins only"
    );
    let page = get(&http, &format!("{base}/staff/users"), &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("y.te"), "the list shows accounts");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let res = http
        .post(format!("{base}/staff/users"))
        .header("cookie", &admin)
        .form(&[
            ("username", "mai.tyt"),
            ("full_name", "Trần Thị Mai"),
            ("role", "health"),
            ("communes", HOME),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let shown = res.text().await.unwrap();
    let otp = shown
        .split("<code>")
        .nth(1)
        .unwrap()
        .split("</code>")
        .next()
        .unwrap()
        .to_string();
    let res = sign_in_person(&http, &base, "mai.tyt", &otp, false).await;
    assert_eq!(res.status(), 303, "the one-time password shown works");
    let res = http
        .post(format!("{base}/staff/users/y.te/disable"))
        .header("cookie", &admin)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        get(&http, &format!("{base}/api/session"), &nurse)
            .await
            .status(),
        401,
        "disabled from the page"
    );
    drop(served);
}

/// `serve --tls-cert --tls-key`: the station's phones reach the service over HTTPS, and the
/// session cookie is `Secure`; plain HTTP on that port gets nowhere; a wrong key stops the
/// start with the file named.
#[tokio::test]
async fn https_on_our_own_listener_and_secure_cookies() {
    let db = crate::support::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args([
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args([
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let nurse = account(&db, dir, "an.tyt", &["--role", "health", "--commune", HOME]);
    let (ok, _, err) = vongdoi(
        &db,
        dir,
        &[
            "serve",
            "--no-schedule",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "cert.pem",
        ],
    );
    assert!(
        !ok && err.contains("--tls-key"),
        "a wrong key is refused, naming the option: {err}"
    );

    let served = serve(
        &db,
        dir,
        &[
            "--no-schedule",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ],
        &[],
    );
    let base = served.base.replace("http://", "https://");
    let cert =
        reqwest::Certificate::from_pem(&std::fs::read(dir.join("cert.pem")).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(cert)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = sign_in_person(&http, &base, &nurse, &password_of(&nurse), false).await;
    assert_eq!(res.status(), 303);
    let cookie = session_set_cookie(&res);
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let plain = no_redirects()
        .get(format!("{}/healthz", served.base))
        .send()
        .await;
    assert!(
        plain.is_err() || !plain.unwrap().status().is_success(),
        "no plain HTTP on the HTTPS port"
    );
    drop(served);
}
