//! What the API tests share: a demo registry of three communes, keys made with the CLI, the
//! registry as exported, a small HTTP client and the problem+json checks.

use super::{vongdoi, TestDb};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

pub const AS_OF: &str = "2026-11-21";
/// Two communes of Hà Nội and one of Hồ Chí Minh City.
pub const HOME: &str = "00004";
pub const NEIGHBOUR: &str = "00008";
pub const FAR: &str = "25747";

pub fn run(db: &TestDb, dir: &Path, args: &[&str]) -> String {
    let (ok, out, err) = vongdoi(db, dir, args);
    assert!(ok, "{}: vongdoi {args:?} failed: {err}", db.backend);
    out
}

/// The demo registry of the three communes (built once per backend, copied: `support::demo`).
pub fn demo(db: &TestDb) {
    let communes = format!("{HOME},{NEIGHBOUR},{FAR}");
    let args = [
        "demo",
        "--population",
        "3000",
        "--seed",
        "7",
        "--communes",
        &communes,
        "--as-of",
        AS_OF,
    ];
    super::demo::fill(db, &args);
}

/// Creates a key through the CLI and returns it (the one line on standard output).
pub fn key(db: &TestDb, dir: &Path, name: &str, args: &[&str]) -> String {
    let mut all = vec!["keys", "create", "--name", name];
    all.extend_from_slice(args);
    let out = run(db, dir, &all);
    let key = out.trim().to_string();
    assert!(
        key.starts_with("vd_") && key.len() == 67,
        "{}: printed key {key:?}",
        db.backend
    );
    key
}

/// The registry as exported: column → value per citizen.
pub fn citizens(db: &TestDb, dir: &Path) -> Vec<HashMap<String, String>> {
    let out = run(db, dir, &["export", "citizens", "-"]);
    let mut r = csv::Reader::from_reader(out.trim_start_matches('\u{feff}').as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .zip(rec.unwrap().iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// A living child under 2 (so vaccinations are due) in the commune.
pub fn child_in(all: &[HashMap<String, String>], commune: &str) -> String {
    all.iter()
        .find(|c| {
            c["commune_code"] == commune
                && c["date_of_birth"].as_str() > "2025-06-01"
                && c["date_of_death"].is_empty()
        })
        .unwrap_or_else(|| panic!("a young child in {commune}"))["personal_id"]
        .clone()
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub async fn get(
        &self,
        key: Option<&str>,
        path: &str,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let res = req.send().await.unwrap();
        (
            res.status().as_u16(),
            res.headers().clone(),
            res.text().await.unwrap(),
        )
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        key: &str,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        (
            res.status().as_u16(),
            res.headers().clone(),
            res.text().await.unwrap(),
        )
    }
}

/// Asserts a problem+json answer with this status; returns the parsed problem.
pub fn problem(
    b: &str,
    what: &str,
    got: &(u16, reqwest::header::HeaderMap, String),
    status: u16,
) -> Value {
    assert_eq!(got.0, status, "{b}: {what}: {}", got.2);
    assert_eq!(
        got.1.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{b}: {what}: content type"
    );
    let p: Value = serde_json::from_str(&got.2).unwrap();
    assert_eq!(p["status"], status, "{b}: {what}: {p}");
    assert!(
        p["title"].as_str().is_some_and(|t| t.contains(" / ")),
        "{b}: {what}: bilingual title {p}"
    );
    let text = p.to_string().to_lowercase();
    for leak in [
        "select ",
        "insert ",
        "sqlx",
        "panicked",
        "backtrace",
        "stack",
    ] {
        assert!(!text.contains(leak), "{b}: {what}: no internals in {p}");
    }
    p
}

pub fn audit_rows(db: &TestDb, dir: &Path, pin: &str) -> Vec<Value> {
    let out = run(db, dir, &["audit", "--citizen", pin, "--json"]);
    serde_json::from_str(&out).unwrap()
}

/// The sign-in form's token and the cookie that goes with it, as a browser gets them.
pub async fn login_token(http: &reqwest::Client, base: &str) -> (String, String) {
    let res = http
        .get(format!("{base}/staff/login"))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = res.text().await.unwrap();
    let token = page
        .split("name=\"token\" value=\"")
        .nth(1)
        .expect("the form carries a token")
        .split('"')
        .next()
        .unwrap()
        .to_string();
    (token, cookie)
}

/// Signs in through the sign-in page's form as a browser on this site does (the page's token,
/// its cookie); the answer, which sets the session cookie.
pub async fn sign_in(http: &reqwest::Client, base: &str, key: &str) -> reqwest::Response {
    let (token, cookie) = login_token(http, base).await;
    http.post(format!("{base}/staff/login"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&[("key", key), ("next", "/staff"), ("token", token.as_str())])
        .send()
        .await
        .unwrap()
}

/// The `Set-Cookie` header that carries the session.
pub fn session_set_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("vongdoi_session="))
        .expect("a session cookie")
}

/// A staff session as a browser gets one: `vongdoi_session=…`, for a `Cookie` header.
pub async fn staff_session(http: &reqwest::Client, base: &str, key: &str) -> String {
    let res = sign_in(http, base, key).await;
    assert_eq!(res.status(), 200);
    session_set_cookie(&res)
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// A client that shows redirects instead of following them (sign-in answers 303).
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs a person in through the sign-in form, as a browser on this site does.
pub async fn sign_in_person(
    http: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
    remember: bool,
) -> reqwest::Response {
    let (token, cookie) = login_token(http, base).await;
    let mut form = vec![
        ("username", username),
        ("password", password),
        ("next", "/staff/vaccination"),
        ("token", token.as_str()),
    ];
    if remember {
        form.push(("remember", "1"));
    }
    http.post(format!("{base}/staff/login"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// `vongdoi_session=…` from a response that set it, for a `Cookie` header.
pub fn session_of(res: &reqwest::Response) -> String {
    session_set_cookie(res)
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// The password the tests give an account (`account`).
pub fn password_of(username: &str) -> String {
    format!("mật khẩu của {username} 2026")
}

/// Creates a person's account with `vongdoi users create USERNAME ARGS --password-stdin`
/// (the password is [`password_of`]) and returns the username.
pub fn account(db: &TestDb, dir: &Path, username: &str, args: &[&str]) -> String {
    account_with(db, dir, username, args, &password_of(username));
    username.to_string()
}

/// The same with a password of the test's choosing (nothing is printed: no one-time password).
pub fn account_with(db: &TestDb, dir: &Path, username: &str, args: &[&str], password: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vongdoi"))
        .args(["users", "create", username])
        .args(args)
        .arg("--password-stdin")
        .current_dir(dir)
        .env("DATABASE_URL", &db.url)
        .env("VONGDOI_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}: users create {username}: {}",
        db.backend,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "no one-time password with --password-stdin"
    );
}

/// A person's staff session, `vongdoi_session=…`, for a `Cookie` header.
pub async fn person_session(http: &reqwest::Client, base: &str, username: &str) -> String {
    let res = sign_in_person(http, base, username, &password_of(username), false).await;
    assert_eq!(res.status(), 303, "{username} signs in");
    session_of(&res)
}

/// The `csrf` token of the first form on a staff page.
pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .expect("a form token on the page")
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// The personal IDs of the children on a worklist page, in order (`id="child-PIN"`).
pub fn child_ids(page: &str) -> Vec<String> {
    page.split("id=\"child-")
        .skip(1)
        .map(|s| s[..12].to_string())
        .collect()
}

/// A `multipart/form-data` body with the form's token and one file, as a browser sends it.
pub fn multipart(csrf: &str, filename: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----vongdoiTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A staff page fetched with a session cookie: the status and the page.
pub async fn page_get(http: &reqwest::Client, url: &str, session: &str) -> (u16, String) {
    let res = http
        .get(url)
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// A staff form posted with a session cookie: the status, the `Location` of a redirect and
/// the page.
pub async fn page_post<F: serde::Serialize + ?Sized>(
    http: &reqwest::Client,
    url: &str,
    session: &str,
    form: &F,
) -> (u16, Option<String>, String) {
    let res = http
        .post(url)
        .header("cookie", session)
        .form(form)
        .send()
        .await
        .unwrap();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (res.status().as_u16(), location, res.text().await.unwrap())
}

/// A file uploaded through a staff page's form (see [`multipart`]): the status and the page.
pub async fn page_upload(
    http: &reqwest::Client,
    url: &str,
    session: &str,
    csrf: &str,
    filename: &str,
    file: &[u8],
) -> (u16, String) {
    let (content_type, body) = multipart(csrf, filename, file);
    let res = http
        .post(url)
        .header("cookie", session)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The form token of a session (as the pages compute it: SHA-256 of `csrf:` and the session).
pub fn csrf_of_session(cookie: &str) -> String {
    use sha2::{Digest, Sha256};
    let session = cookie.trim_start_matches("vongdoi_session=");
    Sha256::digest(format!("csrf:{session}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
