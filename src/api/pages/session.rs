//! Signing in with a key, signing out, and the start page of each role. The sign-in form
//! carries a token (double submit with a cookie) and must come from this site: otherwise
//! another site could sign a browser in with a key of its own choosing (login CSRF).

use super::super::keys::{random_hex, sha256_hex, Role};
use super::super::problem::Problem;
use super::super::{auth::within_rate, ApiState};
use super::{cookie, error_page, lang_of, t, CsrfForm, Page, Staff, SESSION_COOKIE};
use crate::rules::Lang;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;
use std::sync::Arc;

/// The sign-in form's token (double submit): set with the form, sent back with it. Another
/// site can neither read it nor make the browser send it (SameSite=Strict).
const LOGIN_COOKIE: &str = "vongdoi_login";
/// A key's session on the pages: a working day.
const SESSION_HOURS: i64 = 10;

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// "Keep me signed in on this phone" (30 days instead of 12 hours).
    #[serde(default)]
    remember: Option<String>,
    /// A machine key, for scripts that sign in to the pages (the form asks for a username).
    #[serde(default)]
    key: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    token: String,
}

/// Only our own pages are places to go after signing in (no open redirect).
pub fn safe_next(next: &str) -> String {
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
    let path = format!("/staff/login?next={}", super::urlencode(next));
    let mut res = Page {
        lang,
        title: t(lang, "Đăng nhập cán bộ", "Staff sign-in"),
        staff: None,
        path: &path,
    }
    .respond(
        status,
        asked,
        "login",
        context! { next => next, token => token, problem => problem },
    );
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

pub async fn login_form(headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let pairs = super::super::reports::query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let next = pairs
        .iter()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| safe_next(v))
        .unwrap_or_else(|| "/staff".into());
    login_response(StatusCode::OK, lang, asked, &next, None)
}

pub async fn login(
    State(api): State<Arc<ApiState>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Form(form): Form<LoginForm>,
) -> Response {
    let (lang, _) = lang_of(&headers, &[]);
    let next = safe_next(&form.next);
    // Login CSRF: another site must not sign this browser in to an account of its choosing.
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
                "Biểu mẫu đăng nhập đã hết hạn hoặc không phải từ trang này. Hãy đăng nhập lại.",
                "The sign-in form expired or did not come from this site. Sign in again.",
            )),
        );
    }
    if form.key.trim().is_empty() {
        let addr = extensions
            .get::<axum::extract::ConnectInfo<super::super::Peer>>()
            .map(|c| c.0 .0.ip());
        return person_login(&api, &headers, lang, &next, &form, addr).await;
    }
    let key = match super::super::auth::key_of(&api, form.key.trim()).await {
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
    let cookie = session_cookie(&headers, &session, SESSION_HOURS * 3600);
    // A page that moves on by itself, rather than a redirect: the sign-in may come from another
    // site's link, and a SameSite=Strict cookie is sent only once we navigate from our own page.
    let mut res = Page {
        lang,
        title: t(lang, "Đăng nhập cán bộ", "Staff sign-in"),
        staff: None,
        path: "/staff",
    }
    .respond(
        StatusCode::OK,
        None,
        "signed_in",
        context! { next => next, refresh_to => next },
    );
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("ascii"),
    );
    res
}

pub async fn logout(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(p) = staff.check_csrf(&form.csrf) {
        return error_page(Lang::Vi, Some(&staff), p);
    }
    // The session is a person's or a key's: ending it in both tables is one answer for both.
    let hash = sha256_hex(&staff.session);
    let store = &api.app.store;
    if let Err(e) = store.delete_user_session(&hash).await {
        return error_page(Lang::Vi, Some(&staff), e.into());
    }
    if let Err(e) = store.delete_session(&hash).await {
        return error_page(Lang::Vi, Some(&staff), e.into());
    }
    signed_out()
}

/// Back to the sign-in page, with the browser's session cookie cleared.
pub fn signed_out() -> Response {
    let mut res = Redirect::to("/staff/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("vongdoi_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}

pub async fn home(staff: Staff) -> Response {
    Redirect::to(match staff.key.role {
        Role::Admin | Role::Health => "/staff/vaccination",
        Role::Education | Role::Registrar => "/staff/enrolment",
        Role::Auditor => "/staff/delivery",
    })
    .into_response()
}

/// Behind HTTPS (our own TLS listener or a proxy that says so), the cookie is `Secure`.
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
        || headers.contains_key(super::super::TLS_MARKER)
}

/// The session cookie: HttpOnly, SameSite=Strict, Secure whenever the connection is HTTPS.
pub fn session_cookie(headers: &HeaderMap, session: &str, seconds: i64) -> String {
    format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={seconds}{}",
        if is_https(headers) { "; Secure" } else { "" }
    )
}

/// A person signs in with a username and a password (303 to the page asked for, or to the
/// password page after a one-time password).
async fn person_login(
    api: &ApiState,
    headers: &HeaderMap,
    lang: Lang,
    next: &str,
    form: &LoginForm,
    addr: Option<std::net::IpAddr>,
) -> Response {
    use super::super::accounts::{self, SignIn};
    if form.username.trim().is_empty() || form.password.is_empty() {
        return login_response(
            StatusCode::UNAUTHORIZED,
            lang,
            None,
            next,
            Some(t(
                lang,
                "Hãy nhập tên đăng nhập và mật khẩu.",
                "Enter your username and password.",
            )),
        );
    }
    let user = match accounts::sign_in(api, &form.username, &form.password, addr).await {
        Ok(SignIn::Ok(user)) => user,
        Ok(SignIn::Wrong) => {
            return login_response(
                StatusCode::UNAUTHORIZED,
                lang,
                None,
                next,
                Some(t(
                    lang,
                    "Tên đăng nhập hoặc mật khẩu không đúng.",
                    "Wrong username or password.",
                )),
            )
        }
        Ok(SignIn::Locked { until }) => {
            let local = until + chrono::Duration::hours(7);
            let text = match lang {
                Lang::Vi => format!(
                    "Nhập sai quá nhiều lần. Tài khoản tạm khóa đến {} (giờ Việt Nam); hoặc nhờ quản trị viên đặt lại mật khẩu.",
                    local.format("%H:%M")
                ),
                Lang::En => format!(
                    "Too many wrong passwords. The account is locked until {} (Vietnam time), or ask the administrator to reset the password.",
                    local.format("%H:%M")
                ),
            };
            return login_response(StatusCode::TOO_MANY_REQUESTS, lang, None, next, Some(&text));
        }
        Err(p) => return error_page(lang, None, p),
    };
    let (session, lifetime) =
        match accounts::start_session(api, &user, form.remember.is_some()).await {
            Ok(s) => s,
            Err(p) => return error_page(lang, None, p),
        };
    let to = if user.must_change {
        format!("/staff/password?next={}", super::urlencode(next))
    } else {
        next.to_string()
    };
    let mut res = Redirect::to(&to).into_response();
    let cookie = session_cookie(headers, &session, lifetime.num_seconds());
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("ascii"),
    );
    res
}
