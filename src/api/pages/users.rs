//! The administrator's page of people's accounts: create one (a one-time password shown once),
//! disable or enable it (disabling ends its sessions at once), reset its password.

use super::super::accounts::{self, NewAccount};
use super::super::keys::{Role, Scope};
use super::super::permissions::Permission;
use super::super::problem::Problem;
use super::super::ApiState;
use super::{error_page, lang_of, t, CsrfForm, Page, Staff};
use crate::rules::Lang;
use crate::store::accounts::UserRow;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use minijinja::{context, Value};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    communes: String,
    #[serde(default)]
    provinces: String,
    #[serde(default)]
    national: Option<String>,
    #[serde(default)]
    csrf: String,
}

fn area(u: &UserRow, lang: Lang) -> String {
    let scope = Scope {
        provinces: Scope::split(&u.provinces),
        communes: Scope::split(&u.communes),
    };
    if scope.everywhere() {
        return t(lang, "toàn quốc", "whole country").to_string();
    }
    let mut parts: Vec<String> = scope
        .communes
        .iter()
        .map(|c| super::commune_label(c))
        .collect();
    let units = crate::registry::AdminUnits::get();
    parts.extend(scope.provinces.iter().map(|p| match units.province(p) {
        Some(unit) => format!("{} ({p})", unit.name),
        None => p.clone(),
    }));
    parts.join(", ")
}

async fn page(
    api: &ApiState,
    staff: &Staff,
    lang: Lang,
    asked: Option<Lang>,
    status: StatusCode,
    issued: Option<(&str, &str)>,
    problem: Option<String>,
) -> Response {
    let users = match api.app.store.users().await {
        Ok(u) => u,
        Err(e) => return error_page(lang, Some(staff), e.into()),
    };
    let now = Utc::now();
    let rows: Vec<Value> = users
        .iter()
        .map(|u| {
            let status = if u.disabled_at.is_some() {
                t(lang, "đã khóa", "disabled")
            } else if u.locked_until.is_some_and(|l| l > now) {
                t(lang, "tạm khóa (sai mật khẩu)", "locked (wrong passwords)")
            } else if u.must_change {
                t(lang, "chờ đổi mật khẩu", "must change password")
            } else {
                t(lang, "hoạt động", "active")
            };
            let role = Role::parse(&u.role).map_or(u.role.clone(), |r| match lang {
                Lang::Vi => r.label_vi().to_string(),
                Lang::En => r.as_str().to_string(),
            });
            context! {
                username => u.username, full_name => u.full_name, role => role,
                area => area(u, lang), status => status, disabled => u.disabled_at.is_some(),
            }
        })
        .collect();
    let roles: Vec<Value> = Role::ALL
        .iter()
        .map(|r| context! { code => r.as_str(), label => match lang { Lang::Vi => r.label_vi(), Lang::En => r.as_str() } })
        .collect();
    Page {
        lang,
        title: t(lang, "Tài khoản cán bộ", "Staff accounts"),
        staff: Some(staff),
        path: "/staff/users",
    }
    .respond(
        status,
        asked,
        "users",
        context! {
            users => rows, roles => roles, csrf => staff.csrf(), problem => problem,
            issued => issued.map(|(u, p)| context! { username => u, password => p }),
        },
    )
}

pub async fn users_page(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = super::super::reports::query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    if let Err(p) = staff.caller().may(Permission::ManageUsers) {
        return error_page(lang, Some(&staff), p);
    }
    page(&api, &staff, lang, asked, StatusCode::OK, None, None).await
}

fn codes(list: &str) -> Vec<String> {
    list.split([',', ' ', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

pub async fn create_user(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    Form(form): Form<NewUserForm>,
) -> Response {
    let (lang, _) = lang_of(&headers, &[]);
    if let Err(p) = staff
        .check_csrf(&form.csrf)
        .and_then(|_| staff.caller().may(Permission::ManageUsers))
    {
        return error_page(lang, Some(&staff), p);
    }
    let Some(role) = Role::parse(form.role.trim()) else {
        let p = t(lang, "Vai trò không hợp lệ.", "Unknown role.").to_string();
        return page(
            &api,
            &staff,
            lang,
            None,
            StatusCode::BAD_REQUEST,
            None,
            Some(p),
        )
        .await;
    };
    let (provinces, communes) = (codes(&form.provinces), codes(&form.communes));
    let new = NewAccount {
        username: &form.username,
        full_name: &form.full_name,
        role,
        provinces: &provinces,
        communes: &communes,
        national: form.national.is_some(),
        password: None,
    };
    match accounts::create_user(&api.app.store, new).await {
        Ok((row, Some(otp))) => {
            tracing::info!(by = %staff.key.name, user = %row.username, "account created");
            page(
                &api,
                &staff,
                lang,
                None,
                StatusCode::CREATED,
                Some((&row.username, &otp)),
                None,
            )
            .await
        }
        Ok((row, None)) => Redirect::to(&format!("/staff/users#{}", row.username)).into_response(),
        Err(e) => {
            page(
                &api,
                &staff,
                lang,
                None,
                StatusCode::BAD_REQUEST,
                None,
                Some(e.to_string()),
            )
            .await
        }
    }
}

/// `disable`, `enable` or `reset` one account.
pub async fn act_on_user(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    Path((username, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (lang, _) = lang_of(&headers, &[]);
    if let Err(p) = staff
        .check_csrf(&form.csrf)
        .and_then(|_| staff.caller().may(Permission::ManageUsers))
    {
        return error_page(lang, Some(&staff), p);
    }
    let store = &api.app.store;
    let missing = || {
        Problem::not_found(format!(
            "không có tài khoản '{username}' (hoặc đã ở trạng thái đó) / no account '{username}' (or it is so already)"
        ))
    };
    let done = match action.as_str() {
        "disable" if username == staff.key.name => {
            let p = t(
                lang,
                "Không thể tự khóa tài khoản của mình.",
                "You cannot disable your own account.",
            );
            return page(
                &api,
                &staff,
                lang,
                None,
                StatusCode::BAD_REQUEST,
                None,
                Some(p.into()),
            )
            .await;
        }
        "disable" => store
            .disable_user(&username, Utc::now())
            .await
            .map(|ok| ok.then_some(None)),
        "enable" => store
            .enable_user(&username)
            .await
            .map(|ok| ok.then_some(None)),
        "reset" => match accounts::reset_password(store, &username).await {
            Ok(p) => Ok(p.map(Some)),
            Err(e) => return error_page(lang, Some(&staff), Problem::internal("reset", e)),
        },
        _ => return error_page(lang, Some(&staff), Problem::not_found("no such action")),
    };
    match done {
        Ok(None) => error_page(lang, Some(&staff), missing()),
        Ok(Some(otp)) => {
            tracing::info!(by = %staff.key.name, user = %username, action, "account changed");
            match otp {
                Some(otp) => {
                    page(
                        &api,
                        &staff,
                        lang,
                        None,
                        StatusCode::OK,
                        Some((&username, &otp)),
                        None,
                    )
                    .await
                }
                None => Redirect::to("/staff/users").into_response(),
            }
        }
        Err(e) => error_page(lang, Some(&staff), e.into()),
    }
}
