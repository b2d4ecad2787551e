//! A person's own account on the pages: changing the password (required after a one-time
//! password) and "sign out everywhere". A key signed in on the pages has no password here.

use super::super::accounts::{self, weak_password};
use super::super::ApiState;
use super::session::{safe_next, session_cookie};
use super::{error_page, lang_of, t, CsrfForm, Page, Staff};
use crate::rules::Lang;
use crate::secret::verify_password;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    again: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

fn must_change(staff: &Staff) -> bool {
    matches!(
        staff.key.principal,
        super::super::keys::Principal::Person {
            must_change: true,
            ..
        }
    )
}

fn form_page(
    lang: Lang,
    asked: Option<Lang>,
    staff: &Staff,
    status: StatusCode,
    next: &str,
    problem: Option<&str>,
    done: bool,
) -> Response {
    Page {
        lang,
        title: t(lang, "Mật khẩu", "Password"),
        staff: Some(staff),
        path: "/staff/password",
    }
    .respond(
        status,
        asked,
        "password",
        context! {
            must_change => must_change(staff), problem => problem, done => done,
            username => staff.key.name, csrf => staff.csrf(), next => next,
        },
    )
}

pub async fn password_form(staff: Staff, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let pairs = super::super::reports::query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    if staff.person().is_none() {
        return not_a_person(lang, &staff);
    }
    let next = super::param(&pairs, "next")
        .map(safe_next)
        .unwrap_or_default();
    let done = super::param(&pairs, "done").is_some();
    form_page(lang, asked, &staff, StatusCode::OK, &next, None, done)
}

fn not_a_person(lang: Lang, staff: &Staff) -> Response {
    error_page(
        lang,
        Some(staff),
        super::super::problem::Problem::forbidden(
            "khóa máy không có mật khẩu; hãy dùng tài khoản cá nhân / a machine key has no password: use a personal account",
        ),
    )
}

pub async fn change_password(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    let (lang, _) = lang_of(&headers, &[]);
    if let Err(p) = staff.check_csrf(&form.csrf) {
        return error_page(lang, Some(&staff), p);
    }
    if staff.person().is_none() {
        return not_a_person(lang, &staff);
    }
    let next = safe_next(&form.next);
    let again =
        |status, words: &str| form_page(lang, None, &staff, status, &next, Some(words), false);
    let user = match api.app.store.user(&staff.key.name).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return error_page(
                lang,
                Some(&staff),
                super::super::problem::Problem::unauthorized(),
            )
        }
        Err(e) => return error_page(lang, Some(&staff), e.into()),
    };
    let (current, stored) = (form.current.clone(), user.password_hash.clone());
    let good = tokio::task::spawn_blocking(move || verify_password(&current, &stored))
        .await
        .unwrap_or(false);
    if !good {
        return again(
            StatusCode::BAD_REQUEST,
            t(
                lang,
                "Mật khẩu hiện tại không đúng.",
                "The current password is wrong.",
            ),
        );
    }
    if form.new != form.again {
        return again(
            StatusCode::BAD_REQUEST,
            t(
                lang,
                "Hai lần nhập mật khẩu mới không giống nhau.",
                "The two new passwords differ.",
            ),
        );
    }
    if let Some(problem) = weak_password(&form.new, &user.username) {
        return again(StatusCode::BAD_REQUEST, problem);
    }
    if form.new == form.current {
        return again(
            StatusCode::BAD_REQUEST,
            t(
                lang,
                "Mật khẩu mới phải khác mật khẩu cũ.",
                "The new password must differ from the old one.",
            ),
        );
    }
    let hash = match accounts::hash(&form.new).await {
        Ok(h) => h,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    // A new password ends every session, this one too; a fresh one takes its place.
    if let Err(e) = api
        .app
        .store
        .set_password(&user.username, &hash, false)
        .await
    {
        return error_page(lang, Some(&staff), e.into());
    }
    tracing::info!(user = %user.username, "password changed");
    let user = match api.app.store.user(&user.username).await {
        Ok(Some(u)) => u,
        Ok(None) => return Redirect::to("/staff/login").into_response(),
        Err(e) => return error_page(lang, Some(&staff), e.into()),
    };
    let (session, lifetime) = match accounts::start_session(&api, &user, false).await {
        Ok(s) => s,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let to = if next == "/staff" && !must_change(&staff) {
        "/staff/password?done=1".to_string()
    } else {
        next
    };
    let mut res = Redirect::to(&to).into_response();
    let cookie = session_cookie(&headers, &session, lifetime.num_seconds());
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("ascii"),
    );
    res
}

/// Ends every session of the signed-in person (a lost phone, a shared computer).
pub async fn logout_everywhere(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(p) = staff.check_csrf(&form.csrf) {
        return error_page(Lang::Vi, Some(&staff), p);
    }
    if staff.person().is_none() {
        return not_a_person(Lang::Vi, &staff);
    }
    match api.app.store.delete_user_sessions(&staff.key.name).await {
        Ok(n) => tracing::info!(user = %staff.key.name, sessions = n, "signed out everywhere"),
        Err(e) => return error_page(Lang::Vi, Some(&staff), e.into()),
    }
    super::session::signed_out()
}
