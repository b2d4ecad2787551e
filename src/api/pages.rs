//! Staff pages, rendered on the server: Vietnamese first with an English switch, readable on a
//! phone, printable, and no scripts (the CSP forbids them). A staff member signs in with their
//! API key once; the browser then holds only a random session id in an HttpOnly, SameSite=Strict
//! cookie (stored hashed, ended when the key is revoked). Forms carry a token derived from the
//! session, so another site cannot post them. Every person shown is recorded in the audit trail
//! exactly as over the API.

use super::auth::{within_rate, Caller};
use super::citizens::{self, citizen_in_area, ImmunizationInput};
use super::keys::{random_hex, sha256_hex, KeyInfo, Role};
use super::openapi::{Doc, Routes};
use super::permissions::Permission;
use super::problem::Problem;
use super::reports::{query_pairs, ReportQuery};
use super::ApiState;
use crate::registry::AdminUnits;
use crate::reports::output::esc;
use crate::rules::Lang;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;

pub const SESSION_COOKIE: &str = "vongdoi_session";
const LANG_COOKIE: &str = "vongdoi_lang";
/// The sign-in form's token (double submit): set with the form, sent back with it. Another
/// site can neither read it nor make the browser send it (SameSite=Strict).
const LOGIN_COOKIE: &str = "vongdoi_login";
/// A working day.
const SESSION_HOURS: i64 = 10;

pub const CSS: &str = r#"
*{box-sizing:border-box}
body{font-family:system-ui,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:0;color:#1a1a1a;background:#fafafa;line-height:1.45}
main{padding:12px;max-width:1100px;margin:0 auto}
nav{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center;padding:8px 12px;background:#0b5394;color:#fff}
nav a{color:#fff;text-decoration:none;font-weight:600}
nav .who{margin-left:auto;font-size:.9em;opacity:.9}
nav form{display:inline}
nav button{background:none;border:1px solid #fff;color:#fff;border-radius:4px;padding:2px 8px}
h1{font-size:1.35em;margin:.4em 0}
h2{font-size:1.1em;margin:1em 0 .4em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef2f7}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}
.overdue{color:#a00;font-weight:600}
.ok{background:#e6f4ea;border:1px solid #9c9;padding:6px 10px}
.err{background:#fdecea;border:1px solid #e99;padding:6px 10px}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end;margin:8px 0}
label{display:flex;flex-direction:column;font-size:.9em;gap:2px}
input,select,button{font-size:1em;padding:6px;min-height:36px}
button{cursor:pointer}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}
dl.facts dt{font-weight:600}
@media (max-width:640px){
 table.cards thead{display:none}
 table.cards tr{display:block;border:1px solid #ccc;margin:0 0 8px;background:#fff}
 table.cards td{display:block;border:none;border-bottom:1px solid #eee}
 table.cards td::before{content:attr(data-label) ": ";font-weight:600}
}
@media print{nav,form,.noprint{display:none!important} body{background:#fff;font-size:10.5pt} main{max-width:none;padding:0} @page{size:A4 landscape;margin:12mm 10mm}}
"#;

fn t(lang: Lang, vi: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `?lang=` (remembered in a cookie), else the cookie, else Vietnamese.
fn lang_of(headers: &HeaderMap, pairs: &[(String, String)]) -> (Lang, Option<Lang>) {
    let asked = pairs
        .iter()
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| match v.as_str() {
            "en" => Some(Lang::En),
            "vi" => Some(Lang::Vi),
            _ => None,
        });
    let lang = asked.unwrap_or(match cookie(headers, LANG_COOKIE) {
        Some("en") => Lang::En,
        _ => Lang::Vi,
    });
    (lang, asked)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A signed-in staff member (a live session of a live key).
pub struct Staff {
    pub key: KeyInfo,
    session: String,
}

impl Staff {
    pub fn caller(&self) -> Caller {
        Caller(self.key.clone())
    }

    /// The form token: bound to this session, unknown to other sites.
    pub fn csrf(&self) -> String {
        sha256_hex(&format!("csrf:{}", self.session))
    }

    fn check_csrf(&self, given: &str) -> Result<(), Problem> {
        if given == self.csrf() {
            Ok(())
        } else {
            Err(Problem::forbidden(
                "biểu mẫu hết hạn, tải lại trang / the form expired: reload the page",
            ))
        }
    }
}

impl FromRequestParts<Arc<ApiState>> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<ApiState>) -> Result<Staff, Response> {
        let login = || {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/staff");
            Redirect::to(&format!("/staff/login?next={}", urlencode(next))).into_response()
        };
        let Some(session) = cookie(&parts.headers, SESSION_COOKIE).filter(|s| s.len() == 64) else {
            return Err(login());
        };
        let row = api
            .app
            .store
            .session_key(&sha256_hex(session), Utc::now())
            .await
            .map_err(|e| Problem::from(e).into_response())?;
        let Some(key) = row.as_ref().and_then(KeyInfo::from_row) else {
            return Err(login());
        };
        within_rate(api, &key).map_err(IntoResponse::into_response)?;
        Ok(Staff {
            key,
            session: session.to_string(),
        })
    }
}

/// A whole page: navigation for the signed-in staff member, the language switch, the body.
fn layout(lang: Lang, title: &str, staff: Option<&Staff>, path: &str, body: &str) -> String {
    let mut nav = String::new();
    let _ = write!(nav, "<nav><strong>vòng đời</strong>");
    if let Some(s) = staff {
        let r = s.key.role;
        if Permission::VaccinationList.allows(r) {
            let _ = write!(
                nav,
                "<a href=\"/staff/vaccination\">{}</a>",
                t(lang, "Tiêm chủng", "Vaccination")
            );
        }
        if Permission::Enrolment.allows(r) {
            let _ = write!(
                nav,
                "<a href=\"/staff/enrolment\">{}</a>",
                t(lang, "Nhập học", "Enrolment")
            );
        }
        if Permission::Messages.allows(r) {
            let _ = write!(
                nav,
                "<a href=\"/staff/delivery\">{}</a>",
                t(lang, "Gửi tin", "Delivery")
            );
        }
    }
    let other = match lang {
        Lang::Vi => ("en", "English"),
        Lang::En => ("vi", "Tiếng Việt"),
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    let _ = write!(
        nav,
        "<a href=\"{}{sep}lang={}\" lang=\"{}\">{}</a>",
        esc(path),
        other.0,
        other.0,
        other.1
    );
    if let Some(s) = staff {
        let _ = write!(
            nav,
            "<span class=\"who\">{} ({})</span><form method=\"post\" action=\"/staff/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>{}</button></form>",
            esc(&s.key.name),
            match lang { Lang::Vi => s.key.role.label_vi(), Lang::En => s.key.role.as_str() },
            s.csrf(),
            t(lang, "Đăng xuất", "Sign out")
        );
    }
    nav.push_str("</nav>");
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} — vòng đời</title><style>{CSS}</style></head><body>{nav}<main><h1>{}</h1>{body}</main></body></html>",
        match lang { Lang::Vi => "vi", Lang::En => "en" },
        esc(title),
        esc(title)
    )
}

fn html(status: StatusCode, asked_lang: Option<Lang>, page: String) -> Response {
    let mut res = (status, axum::response::Html(page)).into_response();
    if let Some(l) = asked_lang {
        let v = format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            match l {
                Lang::Vi => "vi",
                Lang::En => "en",
            }
        );
        res.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_str(&v).expect("ascii"),
        );
    }
    res
}

fn error_page(lang: Lang, staff: Option<&Staff>, p: Problem) -> Response {
    let body = format!(
        "<p class=\"err\">{}</p>{}<p><a href=\"/staff\">{}</a></p>",
        esc(&p.detail),
        p.errors
            .iter()
            .map(|e| format!(
                "<p class=\"err\"><b>{}</b>: {}</p>",
                esc(&e.field),
                esc(&e.reason)
            ))
            .collect::<String>(),
        t(lang, "Về trang chính", "Back to the start")
    );
    let title = match p.status.as_u16() {
        400 => t(lang, "Dữ liệu không hợp lệ", "Invalid input"),
        403 => t(lang, "Không có quyền", "Not allowed"),
        404 => t(lang, "Không tìm thấy", "Not found"),
        409 => t(lang, "Xung đột", "Conflict"),
        429 => t(lang, "Quá nhiều yêu cầu", "Too many requests"),
        _ => t(lang, "Lỗi", "Error"),
    };
    html(p.status, None, layout(lang, title, staff, "/staff", &body))
}

#[derive(Deserialize)]
struct LoginForm {
    key: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    token: String,
}

/// Only our own pages are places to go after signing in (no open redirect).
fn safe_next(next: &str) -> String {
    if next.starts_with("/staff")
        && !next.contains("//")
        && !next.contains('\\')
        && !next.starts_with("/staff/login")
    {
        next.to_string()
    } else {
        "/staff".to_string()
    }
}

fn login_page(lang: Lang, next: &str, token: &str, problem: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(p) = problem {
        let _ = write!(body, "<p class=\"err\">{}</p>", esc(p));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/staff/login\" class=\"filters\"><label>{}<input type=\"password\" name=\"key\" autocomplete=\"off\" required></label>\
         <input type=\"hidden\" name=\"next\" value=\"{}\"><input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\">{}</button></form><p>{}</p>",
        t(lang, "Khóa API", "API key"),
        esc(next),
        esc(token),
        t(lang, "Đăng nhập", "Sign in"),
        t(lang, "Khóa do quản trị viên cấp (vongdoi keys create). Trình duyệt chỉ giữ mã phiên, không giữ khóa.",
          "Your key comes from the administrator (vongdoi keys create). The browser keeps only a session id, never the key.")
    );
    layout(
        lang,
        t(lang, "Đăng nhập cán bộ", "Staff sign-in"),
        None,
        &format!("/staff/login?next={}", urlencode(next)),
        &body,
    )
}

/// The sign-in page with a fresh form token (and its cookie).
fn login_response(
    status: StatusCode,
    lang: Lang,
    asked: Option<Lang>,
    next: &str,
    problem: Option<&str>,
) -> Response {
    let token = match random_hex() {
        Ok(t) => t,
        Err(e) => return error_page(lang, None, Problem::internal("login token", e)),
    };
    let mut res = html(status, asked, login_page(lang, next, &token, problem));
    let v = format!(
        "{LOGIN_COOKIE}={token}; Path=/staff/login; HttpOnly; SameSite=Strict; Max-Age=3600"
    );
    res.headers_mut()
        .append(header::SET_COOKIE, HeaderValue::from_str(&v).expect("hex"));
    res
}

/// Did the sign-in form come from our own page? A browser says where a form was posted from:
/// `Sec-Fetch-Site` (every current browser) decides; without it, an `Origin` must be this
/// site. (`Origin: null` is what Chromium sends for our own form, since our pages ask for no
/// referrer, so it proves nothing either way.) Clients that say neither still need the token.
fn same_origin(headers: &HeaderMap) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match get("origin") {
        None | Some("null") => true,
        Some(origin) => {
            let host = get("x-forwarded-host").or(get("host")).unwrap_or("");
            let origin_host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            !host.is_empty() && origin_host == Some(host)
        }
    }
}

async fn login_form(headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let next = pairs
        .iter()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| safe_next(v))
        .unwrap_or_else(|| "/staff".into());
    login_response(StatusCode::OK, lang, asked, &next, None)
}

async fn login(
    State(api): State<Arc<ApiState>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let (lang, _) = lang_of(&headers, &[]);
    let next = safe_next(&form.next);
    // Login CSRF: another site must not sign this browser in with a key of its choosing.
    let token_ok = cookie(&headers, LOGIN_COOKIE)
        .is_some_and(|c| c.len() == 64 && !form.token.is_empty() && c == form.token);
    let origin_ok = same_origin(&headers);
    if !origin_ok || !token_ok {
        tracing::info!(
            origin_ok,
            token_ok,
            origin = ?headers.get("origin"),
            site = ?headers.get("sec-fetch-site"),
            "sign-in refused: the form did not come from our sign-in page"
        );
        return login_response(
            StatusCode::FORBIDDEN,
            lang,
            None,
            &next,
            Some(t(
                lang,
                "Biểu mẫu đăng nhập đã hết hạn hoặc không phải từ trang này. Hãy nhập lại khóa.",
                "The sign-in form expired or did not come from this site. Enter your key again.",
            )),
        );
    }
    let key = match super::auth::key_of(&api, form.key.trim()).await {
        Ok(Some(k)) => k,
        Ok(None) => {
            return login_response(
                StatusCode::UNAUTHORIZED,
                lang,
                None,
                &next,
                Some(t(
                    lang,
                    "Khóa không đúng hoặc đã bị thu hồi.",
                    "The key is wrong or revoked.",
                )),
            )
        }
        Err(p) => return error_page(lang, None, p),
    };
    if let Err(p) = within_rate(&api, &key) {
        return error_page(lang, None, p);
    }
    let session = match random_hex() {
        Ok(s) => s,
        Err(e) => return error_page(lang, None, Problem::internal("session", e)),
    };
    let now = Utc::now();
    if let Err(e) = api
        .app
        .store
        .insert_session(
            &sha256_hex(&session),
            &key.name,
            now,
            now + chrono::Duration::hours(SESSION_HOURS),
        )
        .await
    {
        return error_page(lang, None, e.into());
    }
    tracing::info!(key = %key.name, "staff signed in");
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_HOURS * 3600,
        if secure { "; Secure" } else { "" }
    );
    // A page that moves on by itself, rather than a redirect: the sign-in may come from another
    // site's link, and a SameSite=Strict cookie is sent only once we navigate from our own page.
    let body = format!(
        "<p class=\"ok\">{}</p><p><a href=\"{}\">{}</a></p>",
        t(lang, "Đã đăng nhập.", "Signed in."),
        esc(&next),
        t(lang, "Tiếp tục", "Continue")
    );
    let page = layout(
        lang,
        t(lang, "Đăng nhập cán bộ", "Staff sign-in"),
        None,
        "/staff",
        &body,
    )
    .replacen(
        "<head>",
        &format!(
            "<head><meta http-equiv=\"refresh\" content=\"0;url={}\">",
            esc(&next)
        ),
        1,
    );
    let mut res = html(StatusCode::OK, None, page);
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("ascii"),
    );
    res
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(p) = staff.check_csrf(&form.csrf) {
        return error_page(Lang::Vi, Some(&staff), p);
    }
    if let Err(e) = api
        .app
        .store
        .delete_session(&sha256_hex(&staff.session))
        .await
    {
        return error_page(Lang::Vi, Some(&staff), e.into());
    }
    let mut res = Redirect::to("/staff/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("vongdoi_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}

async fn home(staff: Staff) -> Response {
    Redirect::to(match staff.key.role {
        Role::Admin | Role::Health => "/staff/vaccination",
        Role::Education | Role::Registrar => "/staff/enrolment",
        Role::Auditor => "/staff/delivery",
    })
    .into_response()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

fn commune_label(code: &str) -> String {
    match AdminUnits::get().commune(code) {
        Some(c) => format!("{} ({})", c.name, c.code),
        None => code.to_string(),
    }
}

/// Rows on one page of a staff list: what a nurse reads on a phone, and a bound on what one
/// request shows and audits.
pub const PAGE_ROWS: usize = 50;

/// "Trang 2/7" with links to the previous and next pages (nothing when there is one page).
fn pager(lang: Lang, path: &str, query: &[&str], page: usize, pages: usize) -> String {
    if pages <= 1 {
        return String::new();
    }
    let link = |p: usize, label: &str| {
        let mut q: Vec<String> = query.iter().map(|s| s.to_string()).collect();
        q.push(format!("page={p}"));
        format!("<a href=\"{path}?{}\">{label}</a>", esc(&q.join("&")))
    };
    let mut out = String::from("<p class=\"pager\">");
    if page > 1 {
        out.push_str(&link(page - 1, t(lang, "‹ Trang trước", "‹ Previous")));
        out.push(' ');
    }
    let _ = write!(out, "{} {page}/{pages}", t(lang, "Trang", "Page"));
    if page < pages {
        out.push(' ');
        out.push_str(&link(page + 1, t(lang, "Trang sau ›", "Next ›")));
    }
    out.push_str("</p>");
    out
}

/// The vaccination list of a commune: who is due or overdue, with the guardian to call.
async fn vaccination(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let caller = staff.caller();
    if let Err(p) = caller.may(Permission::VaccinationList) {
        return error_page(lang, Some(&staff), p);
    }
    let choices = staff.key.scope.commune_codes();
    let commune = param(&pairs, "commune")
        .map(str::to_string)
        .or_else(|| choices.as_ref().and_then(|c| c.first().cloned()));
    let status = param(&pairs, "status").unwrap_or("");
    let due_within = param(&pairs, "due_within").unwrap_or("");
    let as_of = param(&pairs, "as_of").unwrap_or("");
    let mut body = String::new();
    let _ = write!(
        body,
        "<form method=\"get\" class=\"filters\"><label>{}",
        t(lang, "Xã", "Commune")
    );
    match &choices {
        Some(codes) => {
            body.push_str("<select name=\"commune\">");
            for c in codes {
                let sel = if commune.as_deref() == Some(c.as_str()) {
                    " selected"
                } else {
                    ""
                };
                let _ = write!(
                    body,
                    "<option value=\"{c}\"{sel}>{}</option>",
                    esc(&commune_label(c))
                );
            }
            body.push_str("</select>");
        }
        None => {
            let _ = write!(body, "<input name=\"commune\" inputmode=\"numeric\" pattern=\"[0-9]{{5}}\" value=\"{}\" required>", esc(commune.as_deref().unwrap_or("")));
        }
    }
    let _ = write!(
        body,
        "</label><label>{}<select name=\"status\"><option value=\"\">{}</option><option value=\"due\"{}>{}</option><option value=\"overdue\"{}>{}</option></select></label>\
         <label>{}<input name=\"due_within\" type=\"number\" min=\"0\" max=\"365\" value=\"{}\"></label>\
         <label>{}<input name=\"as_of\" type=\"date\" value=\"{}\"></label><button type=\"submit\">{}</button></form>",
        t(lang, "Trạng thái", "Status"),
        t(lang, "Đến hạn và quá hạn", "Due and overdue"),
        if status == "due" { " selected" } else { "" },
        t(lang, "Đến hạn", "Due"),
        if status == "overdue" { " selected" } else { "" },
        t(lang, "Quá hạn", "Overdue"),
        t(lang, "Sắp đến hạn trong (ngày)", "Coming due within (days)"),
        esc(due_within),
        t(lang, "Ngày", "Date"),
        esc(as_of),
        t(lang, "Xem", "Show"),
    );
    let Some(commune) = commune else {
        return html(
            StatusCode::OK,
            asked,
            layout(
                lang,
                t(lang, "Danh sách tiêm chủng", "Vaccination list"),
                Some(&staff),
                "/staff/vaccination",
                &body,
            ),
        );
    };
    let mut q = vec![("commune".to_string(), commune.clone())];
    for k in ["status", "due_within", "as_of"] {
        if let Some(v) = param(&pairs, k) {
            q.push((k.to_string(), v.to_string()));
        }
    }
    let page: usize = param(&pairs, "page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let result = async {
        let rq = ReportQuery::parse(&q, &["status", "due_within"])?;
        let area = rq.area(&caller)?;
        let _slot = api.heavy.begin(&caller.0.name).await?;
        let r = crate::reports::vaccination::build(
            api.app.store.clone(),
            &api.app.rules,
            area,
            rq.as_of,
            rq.filter(),
            &caller.0.scope,
        )
        .await
        .map_err(|e| Problem::internal("vaccination page", format!("{e:#}")))?;
        Ok::<_, Problem>((r, rq))
    }
    .await;
    let (mut r, rq) = match result {
        Ok(x) => x,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    // A page shows PAGE_ROWS rows; only they are shown, so only they are audited (one batch).
    let total = r.rows.len();
    let pages = total.div_ceil(PAGE_ROWS).max(1);
    let page = page.min(pages);
    r.rows = r
        .rows
        .drain(..)
        .skip((page - 1) * PAGE_ROWS)
        .take(PAGE_ROWS)
        .collect();
    let shown: Vec<(String, Option<String>)> = r
        .people_shown()
        .into_iter()
        .map(|(p, how)| (p.to_string(), Some(format!("{how} {}", rq.as_of))))
        .collect();
    if let Err(p) = api
        .audit
        .persons(
            &caller,
            "page:vaccination",
            shown.iter().map(|(p, d)| (p.as_str(), d.clone())),
        )
        .await
    {
        return error_page(lang, Some(&staff), p);
    }
    let _ = write!(
        body,
        "<p>{} — {}: {} — <b>{}</b> {}</p>",
        esc(&commune_label(&commune)),
        t(lang, "ngày", "as of"),
        rq.as_of,
        total,
        t(lang, "mũi cần tiêm", "doses to give")
    );
    let here: Vec<&str> = raw
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("lang=") && !p.starts_with("page="))
        .collect();
    let pager = pager(lang, "/staff/vaccination", &here, page, pages);
    body.push_str(&pager);
    let heads = match lang {
        Lang::Vi => [
            "Họ tên",
            "Ngày sinh",
            "Mũi",
            "Trạng thái",
            "Hạn",
            "Quá hạn (ngày)",
            "Người giám hộ",
            "Điện thoại",
        ],
        Lang::En => [
            "Name",
            "Born",
            "Dose",
            "Status",
            "Due",
            "Days overdue",
            "Guardian",
            "Phone",
        ],
    };
    body.push_str("<div class=\"scroll\"><table class=\"cards\" id=\"vaccination\"><thead><tr>");
    for h in heads {
        let _ = write!(body, "<th>{h}</th>");
    }
    body.push_str("</tr></thead><tbody>");
    for row in &r.rows {
        let status = row.status.label(lang);
        let cls = if row.days_overdue > 0 {
            " class=\"overdue\""
        } else {
            ""
        };
        let _ = write!(
            body,
            "<tr><td data-label=\"{}\"><a href=\"/staff/citizens/{}\">{}</a></td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{} ({})</td>\
             <td data-label=\"{}\"{cls}>{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\" class=\"n\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td></tr>",
            heads[0], row.personal_id, esc(&row.full_name),
            heads[1], row.date_of_birth,
            heads[2], esc(match lang { Lang::Vi => &row.item_vi, Lang::En => &row.item_en }), esc(&row.vaccine),
            heads[3], esc(status),
            heads[4], row.due.map(|d| d.to_string()).unwrap_or_default(),
            heads[5], row.days_overdue.max(0),
            heads[6], esc(row.guardian_name.as_deref().unwrap_or("—")),
            heads[7], row.guardian_phone.as_deref().map(|p| format!("<a href=\"tel:{}\">{}</a>", esc(p), esc(p))).unwrap_or_else(|| "—".into()),
        );
    }
    body.push_str("</tbody></table></div>");
    body.push_str(&pager);
    let path = format!(
        "/staff/vaccination?{}",
        raw.as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.starts_with("lang="))
            .collect::<Vec<_>>()
            .join("&")
    );
    html(
        StatusCode::OK,
        asked,
        layout(
            lang,
            t(lang, "Danh sách tiêm chủng", "Vaccination list"),
            Some(&staff),
            &path,
            &body,
        ),
    )
}

/// One citizen: facts, guardians, forecast, records, and a form to record a dose.
async fn citizen_page(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    axum::extract::Path(pin): axum::extract::Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let caller = staff.caller();
    let result = async {
        let (pin, stored) = citizen_in_area(&api, &caller, &pin, Permission::ReadCitizen).await?;
        let as_of = crate::clock::today_in_vietnam();
        let forecast = citizens::forecast_of_stored(&api, pin, &stored, as_of).await?;
        // The guardians as the dossier shows them to this caller: the same area test as a
        // direct read, so a link to someone outside the area shows nothing of them.
        let dossier = api
            .app
            .store
            .dossier(stored.clone(), &caller.0.scope)
            .await?;
        let guardians: Vec<(&'static str, crate::registry::Citizen)> = dossier
            .guardians
            .into_iter()
            .filter_map(|g| match g.person {
                crate::store::dossier::Linked::Shown(p) => Some((g.role, p)),
                _ => None,
            })
            .collect();
        let immunizations = dossier.immunizations;
        let mut reads = vec![(pin.to_string(), Some("citizen page".to_string()))];
        reads.extend(guardians.iter().map(|(role, g)| {
            (
                g.personal_id.to_string(),
                Some(format!("{role} of {}", pin.masked())),
            )
        }));
        api.audit
            .persons(
                &caller,
                "page:citizen",
                reads.iter().map(|(p, d)| (p.as_str(), d.clone())),
            )
            .await?;
        Ok::<_, Problem>((pin, stored, forecast, immunizations, guardians, as_of))
    }
    .await;
    let (pin, stored, forecast, immunizations, guardians, as_of) = match result {
        Ok(x) => x,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let c = &stored.citizen;
    let mut body = String::new();
    if param(&pairs, "recorded").is_some() {
        let _ = write!(
            body,
            "<p class=\"ok\" id=\"recorded\">{}</p>",
            t(lang, "Đã ghi mũi tiêm.", "Dose recorded.")
        );
    }
    let _ = write!(
        body,
        "<dl class=\"facts\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>",
        t(lang, "Số định danh", "Personal ID"), pin,
        t(lang, "Ngày sinh", "Born"), c.date_of_birth,
        t(lang, "Giới tính", "Sex"), match lang { Lang::Vi => c.sex.label_vi().to_string(), Lang::En => c.sex.code().to_string() },
        t(lang, "Xã", "Commune"), esc(&commune_label(c.commune_code.as_str())),
    );
    if !guardians.is_empty() {
        let _ = write!(
            body,
            "<h2>{}</h2><ul>",
            t(lang, "Người liên hệ", "Contacts")
        );
        for (role, g) in &guardians {
            let label = match (role, lang) {
                (&"mother", Lang::Vi) => "Mẹ",
                (&"father", Lang::Vi) => "Cha",
                (_, Lang::Vi) => "Người giám hộ",
                (&"mother", Lang::En) => "Mother",
                (&"father", Lang::En) => "Father",
                _ => "Guardian",
            };
            let phone = g.phone.as_ref().map(|p| p.to_string());
            let _ = write!(
                body,
                "<li>{label}: {} {}</li>",
                esc(&g.full_name),
                phone
                    .map(|p| format!("<a href=\"tel:{}\">{}</a>", esc(&p), esc(&p)))
                    .unwrap_or_default()
            );
        }
        body.push_str("</ul>");
    }
    let doc = serde_json::to_value(forecast.document(pin.as_str(), as_of)).unwrap_or_default();
    let _ = write!(body, "<h2>{} ({as_of})</h2><div class=\"scroll\"><table class=\"cards\" id=\"forecast\"><thead><tr>", t(lang, "Dự báo", "Forecast"));
    let heads = match lang {
        Lang::Vi => [
            "Mục",
            "Trạng thái",
            "Từ ngày",
            "Hạn",
            "Quá hạn từ",
            "Đã xong",
        ],
        Lang::En => [
            "Item",
            "Status",
            "Earliest",
            "Due",
            "Overdue from",
            "Completed",
        ],
    };
    for h in heads {
        let _ = write!(body, "<th>{h}</th>");
    }
    body.push_str("</tr></thead><tbody>");
    let s = |v: &serde_json::Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.as_u64().map(|n| n.to_string()).unwrap_or_default())
    };
    for item in doc["items"].as_array().into_iter().flatten() {
        let what = match s(&item["kind"]).as_str() {
            "vaccination" => format!(
                "{} {} {}",
                t(lang, "Tiêm", "Vaccine"),
                s(&item["series"]),
                s(&item["dose"])
            ),
            "id-card" => format!(
                "{} {}",
                t(lang, "Căn cước tuổi", "ID card at"),
                s(&item["milestone"])
            ),
            "school" => format!("{} {}", t(lang, "Nhập học", "School"), s(&item["level"])),
            k => k.to_string(),
        };
        let status = s(&item["status"]);
        let cls = if status == "overdue" {
            " class=\"overdue\""
        } else {
            ""
        };
        use crate::rules::Status as St;
        let status = [
            St::Completed,
            St::Upcoming,
            St::Eligible,
            St::Due,
            St::Overdue,
            St::Expired,
            St::Waiting,
        ]
        .into_iter()
        .find(|x| x.as_str() == status)
        .map(|x| x.label(lang).to_string())
        .unwrap_or(status);
        let _ = write!(
            body,
            "<tr><td data-label=\"{}\">{}</td><td data-label=\"{}\"{cls}>{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td></tr>",
            heads[0], esc(&what), heads[1], esc(&status), heads[2], s(&item["earliest"]), heads[3], s(&item["due"]),
            heads[4], s(&item["overdue"]), heads[5], s(&item["completed_on"])
        );
    }
    body.push_str("</tbody></table></div>");
    let _ = write!(body, "<h2>{} ({})</h2><div class=\"scroll\"><table id=\"immunizations\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        t(lang, "Mũi đã tiêm", "Doses given"), immunizations.len(), t(lang, "Ngày", "Date"), t(lang, "Vắc xin", "Vaccine"), t(lang, "Nơi tiêm", "Place"));
    for r in &immunizations {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.date_given,
            esc(&r.vaccine),
            esc(r.place.as_deref().unwrap_or(""))
        );
    }
    body.push_str("</tbody></table></div>");
    if Permission::RecordDose.allows(staff.key.role) {
        let _ = write!(body, "<h2>{}</h2><form method=\"post\" action=\"/staff/citizens/{pin}/immunizations\" class=\"filters\" id=\"dose-form\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><label>{}<select name=\"vaccine\" required>",
            t(lang, "Ghi mũi tiêm", "Record a dose"), staff.csrf(), t(lang, "Vắc xin", "Vaccine"));
        let mut codes: Vec<&str> = api.app.rules.vaccine_codes().collect();
        codes.sort();
        for code in codes {
            let _ = write!(body, "<option>{}</option>", esc(code));
        }
        let _ = write!(body, "</select></label><label>{}<input type=\"date\" name=\"date_given\" value=\"{as_of}\" max=\"{as_of}\" required></label><label>{}<input name=\"place\" maxlength=\"100\"></label><button type=\"submit\">{}</button></form>",
            t(lang, "Ngày tiêm", "Date given"), t(lang, "Nơi tiêm", "Place"), t(lang, "Ghi", "Record"));
    }
    let title = format!("{} — {}", c.full_name, pin.masked());
    html(
        StatusCode::OK,
        asked,
        layout(
            lang,
            &title,
            Some(&staff),
            &format!("/staff/citizens/{pin}"),
            &body,
        ),
    )
}

#[derive(Deserialize)]
struct DoseForm {
    #[serde(default)]
    csrf: String,
    vaccine: String,
    date_given: String,
    #[serde(default)]
    place: String,
}

async fn record_dose(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    axum::extract::Path(pin): axum::extract::Path<String>,
    Form(form): Form<DoseForm>,
) -> Response {
    let (lang, _) = lang_of(&headers, &[]);
    let caller = staff.caller();
    let result = async {
        staff.check_csrf(&form.csrf)?;
        let (pin, stored) = citizen_in_area(&api, &caller, &pin, Permission::RecordDose).await?;
        let input = ImmunizationInput {
            vaccine: form.vaccine,
            date_given: form.date_given,
            place: Some(form.place),
        };
        citizens::record_dose(&api, &caller, pin, &stored, input).await?;
        Ok::<_, Problem>(pin)
    }
    .await;
    match result {
        Ok(pin) => Redirect::to(&format!("/staff/citizens/{pin}?recorded=1")).into_response(),
        Err(p) => error_page(lang, Some(&staff), p),
    }
}

/// The enrolment forecast of the key's area (or a part of it): a chart and a table per
/// commune, from the same report as `vongdoi report enrolment`.
async fn enrolment(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    use crate::reports::enrolment::LEVELS;
    use crate::reports::output::{bar_chart, Bars, FILLS};
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let caller = staff.caller();
    let result = async {
        caller.may(Permission::Enrolment)?;
        let q: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, v)| k != "lang" && !v.trim().is_empty())
            .cloned()
            .collect();
        let rq = ReportQuery::parse(&q, &["years"])?;
        let _slot = api.heavy.begin(&caller.0.name).await?;
        let r = crate::reports::enrolment::build(
            &api.app.store,
            rq.area(&caller)?,
            rq.as_of,
            rq.years,
            None,
        )
        .await
        .map_err(|e| Problem::internal("enrolment page", format!("{e:#}")))?;
        Ok::<_, Problem>(r)
    }
    .await;
    let r = match result {
        Ok(r) => r,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let mut body = String::new();
    let commune = param(&pairs, "commune").unwrap_or("");
    let _ = write!(body, "<form method=\"get\" class=\"filters\"><label>{}<select name=\"commune\"><option value=\"\">{}</option>",
        t(lang, "Xã", "Commune"), t(lang, "Cả địa bàn", "Whole area"));
    let mut communes: Vec<&str> = r.rows.iter().map(|r| r.commune_code.as_str()).collect();
    communes.dedup();
    for c in &communes {
        let _ = write!(
            body,
            "<option value=\"{c}\"{}>{}</option>",
            if *c == commune { " selected" } else { "" },
            esc(&commune_label(c))
        );
    }
    let _ = write!(body, "</select></label><label>{}<input type=\"number\" name=\"years\" min=\"1\" max=\"20\" value=\"{}\"></label><button type=\"submit\">{}</button></form>",
        t(lang, "Số năm học", "School years"), r.years, t(lang, "Xem", "Show"));
    let _ = write!(
        body,
        "<p>{}: {} — {}: {}–{}</p>",
        t(lang, "Ngày lập", "As of"),
        r.as_of,
        t(lang, "Năm học", "School years"),
        r.first_year,
        r.first_year + r.years.max(1) as i32
    );
    let years: Vec<i32> = (r.first_year..r.first_year + r.years.max(1) as i32).collect();
    let cats: Vec<String> = years.iter().map(|y| format!("{y}–{}", y + 1)).collect();
    let level_name = |l: &(&'static str, i32, &'static str, &'static str)| -> &'static str {
        match lang {
            Lang::Vi => l.2,
            Lang::En => l.3,
        }
    };
    for c in &communes {
        let rows: Vec<&crate::reports::enrolment::Row> =
            r.rows.iter().filter(|x| x.commune_code == *c).collect();
        let get = |y: i32, level: &str| {
            rows.iter()
                .find(|x| x.school_year == y && x.level == level)
                .map(|x| (x.children, x.projected))
                .unwrap_or((0, false))
        };
        let series: Vec<Bars> = LEVELS
            .iter()
            .enumerate()
            .map(|(i, l)| Bars {
                label: level_name(l).to_string(),
                fill: FILLS[i],
                values: years
                    .iter()
                    .map(|y| {
                        let (n, p) = get(*y, l.0);
                        (n as f64, p)
                    })
                    .collect(),
            })
            .collect();
        let _ = write!(body, "<section class=\"commune\" id=\"commune-{c}\"><h2>{}</h2><figure>{}</figure><div class=\"scroll\"><table><thead><tr><th>{}</th>",
            esc(&commune_label(c)),
            bar_chart(t(lang, "Số trẻ vào lớp theo năm học (gạch chéo: dự báo)", "Children entering by school year (hatched: projected)"), &cats, &series, None, ""),
            t(lang, "Năm học", "School year"));
        for l in LEVELS.iter() {
            let _ = write!(body, "<th class=\"n\">{}</th>", level_name(l));
        }
        body.push_str("</tr></thead><tbody>");
        for (y, cat) in years.iter().zip(&cats) {
            let _ = write!(body, "<tr><td>{cat}</td>");
            for l in LEVELS.iter() {
                let (n, p) = get(*y, l.0);
                let _ = write!(body, "<td class=\"n\">{n}{}</td>", if p { "*" } else { "" });
            }
            body.push_str("</tr>");
        }
        let _ = write!(
            body,
            "</tbody></table></div><p>* {}</p></section>",
            t(lang, "dự báo", "projected")
        );
    }
    if communes.is_empty() {
        let _ = write!(
            body,
            "<p>{}</p>",
            t(
                lang,
                "Không có dữ liệu cho khu vực này.",
                "No data for this area."
            )
        );
    }
    html(
        StatusCode::OK,
        asked,
        layout(
            lang,
            t(
                lang,
                "Dự báo nhập học theo xã",
                "Enrolment forecast by commune",
            ),
            Some(&staff),
            "/staff/enrolment",
            &body,
        ),
    )
}

/// What was sent, what failed, dead letters, with a retry button.
async fn delivery(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let caller = staff.caller();
    let result = async {
        caller.may(Permission::Messages)?;
        let q = super::messages::MessagesQuery {
            status: param(&pairs, "status").map(String::from),
            channel: param(&pairs, "channel").map(String::from),
            day: param(&pairs, "day").map(String::from),
            limit: Some(200),
        };
        let counts = api.app.store.outbox_counts().await?;
        let messages = api.app.store.list_messages(&q.filter()?).await?;
        Ok::<_, Problem>((counts, messages))
    }
    .await;
    let (counts, messages) = match result {
        Ok(x) => x,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let mut body = String::new();
    if let Some(id) = param(&pairs, "retried") {
        let _ = write!(
            body,
            "<p class=\"ok\" id=\"retried\">{} {}</p>",
            t(lang, "Đã xếp hàng gửi lại:", "Queued again:"),
            esc(id)
        );
    }
    let _ = write!(body, "<h2>{}</h2><table id=\"counts\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        t(lang, "Tổng hợp", "Summary"), t(lang, "Kênh", "Channel"), t(lang, "Trạng thái", "Status"), t(lang, "Số tin", "Messages"));
    for (channel, status, n) in &counts {
        let _ = write!(body, "<tr><td>{}</td><td><a href=\"/staff/delivery?status={}\">{}</a></td><td class=\"n\">{n}</td></tr>", esc(channel), esc(status), esc(status));
    }
    body.push_str("</tbody></table>");
    let status = param(&pairs, "status").unwrap_or("");
    let _ = write!(body, "<form method=\"get\" class=\"filters\"><label>{}<select name=\"status\"><option value=\"\">{}</option>", t(lang, "Trạng thái", "Status"), t(lang, "Tất cả", "All"));
    for s in crate::store::MessageStatus::ALL {
        let _ = write!(
            body,
            "<option{}>{s}</option>",
            if s.as_str() == status {
                " selected"
            } else {
                ""
            }
        );
    }
    let _ = write!(body, "</select></label><label>{}<input type=\"date\" name=\"day\" value=\"{}\"></label><button type=\"submit\">{}</button></form>",
        t(lang, "Ngày", "Day"), esc(param(&pairs, "day").unwrap_or("")), t(lang, "Xem", "Show"));
    let heads = match lang {
        Lang::Vi => [
            "Mã",
            "Ngày",
            "Kênh",
            "Trạng thái",
            "Người nhận",
            "Địa chỉ",
            "Lần",
            "Lỗi",
            "",
        ],
        Lang::En => [
            "Id",
            "Day",
            "Channel",
            "Status",
            "Recipient",
            "Address",
            "Attempts",
            "Error",
            "",
        ],
    };
    body.push_str("<div class=\"scroll\"><table class=\"cards\" id=\"messages\"><thead><tr>");
    for h in heads {
        let _ = write!(body, "<th>{h}</th>");
    }
    body.push_str("</tr></thead><tbody>");
    for m in &messages {
        let retry = if m.status.retryable() {
            format!(
                "<form method=\"post\" action=\"/staff/delivery/{}/retry\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                esc(&m.id), staff.csrf(), t(lang, "Gửi lại", "Retry")
            )
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr><td data-label=\"{}\"><code>{}</code></td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\" class=\"n\">{}</td><td data-label=\"{}\">{}</td><td>{retry}</td></tr>",
            heads[0], esc(&m.id), heads[1], m.day, heads[2], esc(m.channel.as_str()), heads[3], esc(m.status.as_str()),
            heads[4], esc(&crate::registry::personal_id::mask_raw(&m.recipient_id)), heads[5], esc(&super::messages::mask_address(&m.address)),
            heads[6], m.attempts, heads[7], esc(m.last_error.as_deref().unwrap_or("")),
        );
    }
    if messages.is_empty() {
        let _ = write!(
            body,
            "<tr><td colspan=\"9\">{}</td></tr>",
            t(lang, "Không có tin nhắn.", "No messages.")
        );
    }
    body.push_str("</tbody></table></div>");
    html(
        StatusCode::OK,
        asked,
        layout(
            lang,
            t(lang, "Gửi tin nhắn", "Delivery"),
            Some(&staff),
            "/staff/delivery",
            &body,
        ),
    )
}

async fn retry(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let caller = staff.caller();
    let result = async {
        staff.check_csrf(&form.csrf)?;
        caller.may(Permission::Messages)?;
        super::messages::retry_message(&api, &id).await
    }
    .await;
    match result {
        Ok(()) => {
            Redirect::to(&format!("/staff/delivery?retried={}", urlencode(&id))).into_response()
        }
        Err(p) => error_page(Lang::Vi, Some(&staff), p),
    }
}

impl Routes<Arc<ApiState>> {
    /// The staff pages, documented beside the API (HTML, signed in by session cookie).
    pub fn pages(self) -> Self {
        let html_ok = (200, "text/html", None);
        let moved = (303, "text/html", None);
        self.add(
            Doc { tag: "pages", public: true, ok: html_ok, errors: &[], query: &[("next", "string", "/staff/…")],
                  ..Doc::new("get", "/staff/login", "Trang đăng nhập bằng khóa API / Sign in with an API key") },
            login_form,
        )
        .add(
            Doc { tag: "pages", public: true, ok: html_ok, errors: &[401], body: Some("Login"),
                  ..Doc::new("post", "/staff/login", "Đăng nhập: đặt cookie phiên HttpOnly / Sign in: sets an HttpOnly session cookie") },
            login,
        )
        .add(
            Doc { tag: "pages", roles: Permission::SignedIn.roles(), ok: moved, errors: &[403], body: Some("RetryForm"),
                  ..Doc::new("post", "/staff/logout", "Đăng xuất / Sign out") },
            logout,
        )
        .add(Doc { tag: "pages", roles: Permission::SignedIn.roles(), ok: moved, errors: &[], ..Doc::new("get", "/staff", "Trang đầu theo vai trò / Start page for the role") }, home)
        .add(
            Doc { tag: "pages", roles: Permission::VaccinationList.roles(), ok: html_ok, errors: &[400, 403],
                  query: &[("commune", "string", ""), ("status", "string", "due | overdue"), ("due_within", "integer", ""), ("as_of", "string", ""), ("lang", "string", "vi | en")],
                  ..Doc::new("get", "/staff/vaccination", "Danh sách tiêm chủng của xã / A commune's vaccination list") },
            vaccination,
        )
        .add(
            Doc { tag: "pages", roles: Permission::ReadCitizen.roles(), ok: html_ok, errors: &[400, 403, 404], query: &[("lang", "string", "vi | en")],
                  ..Doc::new("get", "/staff/citizens/{pin}", "Trang công dân: dự báo, mũi đã tiêm, ghi mũi mới / Citizen page: forecast, doses, record a dose") },
            citizen_page,
        )
        .add(
            Doc { tag: "pages", roles: Permission::RecordDose.roles(), ok: moved, errors: &[400, 403, 404, 409], body: Some("DoseForm"),
                  ..Doc::new("post", "/staff/citizens/{pin}/immunizations", "Ghi mũi tiêm từ trang công dân / Record a dose from the citizen page") },
            record_dose,
        )
        .add(
            Doc { tag: "pages", roles: Permission::Enrolment.roles(), ok: html_ok, errors: &[400, 403],
                  query: &[("province", "array", ""), ("commune", "array", ""), ("years", "integer", ""), ("as_of", "string", ""), ("lang", "string", "vi | en")],
                  ..Doc::new("get", "/staff/enrolment", "Dự báo nhập học theo xã, có biểu đồ / Enrolment forecast by commune, with charts") },
            enrolment,
        )
        .add(
            Doc { tag: "pages", roles: Permission::Messages.roles(), ok: html_ok, errors: &[400, 403],
                  query: &[("status", "string", ""), ("day", "string", ""), ("lang", "string", "vi | en")],
                  ..Doc::new("get", "/staff/delivery", "Gửi tin: đã gửi, lỗi, hỏng, gửi lại / Delivery: sent, failed, dead letters, retry") },
            delivery,
        )
        .add(
            Doc { tag: "pages", roles: Permission::Messages.roles(), ok: moved, errors: &[403, 404, 409], body: Some("RetryForm"),
                  ..Doc::new("post", "/staff/delivery/{id}/retry", "Gửi lại một tin / Retry one message") },
            retry,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_our_pages() {
        assert_eq!(safe_next("/staff/citizens/001"), "/staff/citizens/001");
        assert_eq!(safe_next("https://evil.example/"), "/staff");
        assert_eq!(safe_next("//evil.example/staff"), "/staff");
        assert_eq!(safe_next("/staff//evil"), "/staff");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; vongdoi_session=abc; vongdoi_lang=en"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(lang_of(&h, &[]).0, Lang::En);
        assert_eq!(cookie(&h, "b"), None);
    }
}
