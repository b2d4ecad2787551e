//! The facilities page (issue #13 item 1): the health stations, police posts and schools of the
//! communes in the caller's area, per commune, as reminders name them — address, phone, hours,
//! session days in words and the next session. Public places, no person: nothing is audited on
//! reading.
//!
//! An admin edits one facility (`POST /staff/facilities`: a school renamed keeps its place in
//! one transaction), adds one (the same form, empty), removes one (`POST
//! /staff/facilities/delete`) or uploads a CSV file (`POST /staff/facilities/upload`, the format
//! of [`crate::exchange::facilities`]). Every form carries the session's token; every change is
//! checked against the caller's area and written to the audit trail.

use super::super::facilities::{audit, outside_area, store_upload};
use super::super::permissions::Permission;
use super::super::problem::Problem;
use super::super::reports::{query_pairs, ReportQuery};
use super::super::ApiState;
use super::enrolment::{problems, read_form, refusal};
use super::{commune_label, error_page, lang_of, param, t, Page, Staff};
use crate::exchange::facilities::MAX_UPLOAD_BYTES;
use crate::registry::facility::FacilityCells;
use crate::registry::{CommuneCode, Facility, FacilityKind};
use crate::rules::Lang;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The edit (and add) form: one facility's cells, `was` the school's name before the edit.
/// The delete form is its first three cells and the token (what it does not send is empty).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct FacilityForm {
    #[serde(default)]
    commune_code: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    hours: String,
    #[serde(default)]
    session_days: String,
    #[serde(default)]
    was: String,
    #[serde(default, skip_serializing)]
    csrf: String,
}

/// The most communes one page lists; the filter picks any other.
const COMMUNES_SHOWN: usize = 200;

fn kind_label(kind: FacilityKind, lang: Lang) -> &'static str {
    match kind {
        FacilityKind::Health => t(lang, "Trạm y tế", "Health station"),
        FacilityKind::Police => t(lang, "Công an", "Police post"),
        FacilityKind::School => t(lang, "Trường", "School"),
    }
}

/// What the page shows besides the list: a form sent back with its problems, or an upload's
/// outcome.
#[derive(Default)]
struct Outcome {
    form: Option<Value>,
    errors: Vec<Value>,
    upload: Option<Value>,
}

pub async fn facilities_page(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    render(
        &api,
        &staff,
        lang,
        asked,
        &pairs,
        Outcome::default(),
        StatusCode::OK,
    )
    .await
}

/// The page of the caller's area, or of the commune asked for (403 outside the area).
async fn render(
    api: &ApiState,
    staff: &Staff,
    lang: Lang,
    asked: Option<Lang>,
    pairs: &[(String, String)],
    outcome: Outcome,
    status: StatusCode,
) -> Response {
    let caller = staff.caller();
    let result = async {
        caller.may(Permission::ReadFacilities)?;
        let q: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, v)| k == "commune" && !v.trim().is_empty())
            .cloned()
            .collect();
        let area = ReportQuery::parse(&q, &[])?.area(&caller)?;
        let rows = api.app.store.facility_rows(area.communes()).await?;
        // The filter offers the communes of the caller's area that have facilities.
        let all = if q.is_empty() {
            rows.clone()
        } else {
            let whole = ReportQuery::parse(&[], &[])?.area(&caller)?;
            api.app.store.facility_rows(whole.communes()).await?
        };
        Ok::<_, Problem>((rows, all))
    }
    .await;
    let (rows, all) = match result {
        Ok(r) => r,
        Err(p) => return error_page(lang, Some(staff), p),
    };
    let today = crate::clock::today_in_vietnam();
    let mut sections: Vec<Value> = Vec::new();
    let mut codes: Vec<&str> = rows
        .iter()
        .map(|r| r.facility.commune_code.as_str())
        .collect();
    codes.dedup();
    // A province is a few hundred communes; the whole country's page would be megabytes.
    let more = codes.len().saturating_sub(COMMUNES_SHOWN);
    codes.truncate(COMMUNES_SHOWN);
    for code in &codes {
        let list: Vec<Value> = rows
            .iter()
            .filter(|r| r.facility.commune_code == *code)
            .map(|r| {
                let f = &r.facility;
                context! {
                    commune_code => f.commune_code, kind => f.kind.as_str(),
                    kind_label => kind_label(f.kind, lang), name => f.name,
                    address => f.address, phone => f.phone, hours => f.hours,
                    session_days => f.session_days.to_cell(),
                    sessions => f.session_days.describe(lang == Lang::En),
                    next_session => f.session_days.next_on_or_after(today).map(crate::clock::vn_date),
                    by => r.updated_by,
                    at => r.updated_at.with_timezone(&crate::clock::vietnam()).format("%d/%m/%Y %H:%M").to_string(),
                }
            })
            .collect();
        let has = |k: FacilityKind| {
            rows.iter()
                .any(|r| r.facility.commune_code == *code && r.facility.kind == k)
        };
        sections.push(context! {
            code => code, label => commune_label(code), facilities => list,
            no_health => !has(FacilityKind::Health), no_police => !has(FacilityKind::Police),
        });
    }
    let mut choices: Vec<&str> = all
        .iter()
        .map(|r| r.facility.commune_code.as_str())
        .collect();
    choices.dedup();
    let choices: Vec<Value> = choices
        .iter()
        .map(|c| context! { code => c, label => commune_label(c) })
        .collect();
    let kinds: Vec<Value> = FacilityKind::ALL
        .iter()
        .map(|k| context! { code => k.as_str(), label => kind_label(*k, lang) })
        .collect();
    let commune = param(pairs, "commune").unwrap_or("");
    Page {
        lang,
        title: t(
            lang,
            "Trạm y tế, công an, trường học",
            "Health stations, police posts, schools",
        ),
        staff: Some(staff),
        path: "/staff/facilities",
    }
    .respond(
        status,
        asked,
        "facilities",
        context! {
            sections => sections, more => more, communes => choices, commune => commune, kinds => kinds,
            may_edit => Permission::ManageFacilities.allows(staff.key.role),
            form => outcome.form.unwrap_or_else(|| context! { commune_code => commune }),
            errors => outcome.errors, upload => outcome.upload,
            max_mib => MAX_UPLOAD_BYTES >> 20,
        },
    )
}

/// The token, the role and the commune's place in the caller's area, for every change.
fn may_change(staff: &Staff, csrf: &str, commune: Option<&CommuneCode>) -> Result<(), Problem> {
    staff.check_csrf(csrf)?;
    let caller = staff.caller();
    caller.may(Permission::ManageFacilities)?;
    if let Some(c) = commune {
        outside_area(&caller, c).map_err(Problem::forbidden)?;
    }
    Ok(())
}

fn back_to(commune: &str) -> Response {
    Redirect::to(&format!(
        "/staff/facilities?commune={commune}#commune-{commune}"
    ))
    .into_response()
}

/// `POST /staff/facilities`: one facility added or edited; the page with the form and its
/// problems beside it when a cell is wrong.
pub async fn save(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    Form(form): Form<FacilityForm>,
) -> Response {
    let (lang, _) = lang_of(&headers, &[]);
    let commune = CommuneCode::parse(&form.commune_code).ok();
    if let Err(p) = may_change(&staff, &form.csrf, commune.as_ref()) {
        return error_page(lang, Some(&staff), p);
    }
    let cells = FacilityCells {
        commune_code: &form.commune_code,
        kind: &form.kind,
        name: &form.name,
        address: &form.address,
        phone: &form.phone,
        hours: &form.hours,
        session_days: &form.session_days,
    };
    let back = |errors: Vec<(String, String)>, status| {
        let errors = errors
            .into_iter()
            .map(|(field, reason)| context! { field => field, reason => reason })
            .collect();
        let pairs = vec![("commune".to_string(), form.commune_code.clone())];
        let outcome = Outcome {
            form: Some(Value::from_serialize(&form)),
            errors,
            upload: None,
        };
        (pairs, outcome, status)
    };
    let f: Facility = match Facility::from_cells(&cells) {
        Ok(f) => f,
        Err(errors) => {
            let errors = errors
                .into_iter()
                .map(|e| (e.field.to_string(), e.reason))
                .collect();
            let (pairs, outcome, status) = back(errors, StatusCode::BAD_REQUEST);
            return render(&api, &staff, lang, None, &pairs, outcome, status).await;
        }
    };
    let was = Some(form.was.trim()).filter(|w| !w.is_empty());
    let store = &api.app.store;
    let result = async {
        if f.kind == FacilityKind::School && was.is_some_and(|w| w != f.name) {
            let code = CommuneCode::parse(&f.commune_code).expect("checked");
            let taken = store
                .facilities(Some(std::slice::from_ref(&code)))
                .await?
                .iter()
                .any(|x| x.kind == FacilityKind::School && x.name == f.name);
            if taken {
                return Ok(Some(format!(
                    "xã đã có trường tên \"{n}\": đặt tên khác hoặc sửa trường đó / the commune has a school named \"{n}\" already: choose another name or edit that school",
                    n = f.name
                )));
            }
        }
        let by = &staff.key.name;
        if store.save_facility(&f, was, by, chrono::Utc::now()).await? {
            let detail = format!("save: {} {} {}", f.commune_code, f.kind, f.name);
            audit(&api, &staff.caller(), detail).await?;
            tracing::info!(by = %by, commune = %f.commune_code, kind = %f.kind, "facility saved");
        }
        Ok::<_, Problem>(None)
    }
    .await;
    match result {
        Ok(None) => back_to(&f.commune_code),
        Ok(Some(conflict)) => {
            let (pairs, outcome, status) =
                back(vec![("name".into(), conflict)], StatusCode::CONFLICT);
            render(&api, &staff, lang, None, &pairs, outcome, status).await
        }
        Err(p) => error_page(lang, Some(&staff), p),
    }
}

/// `POST /staff/facilities/delete`: one facility removed (404 when there is none).
pub async fn delete(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    Form(form): Form<FacilityForm>,
) -> Response {
    let (lang, _) = lang_of(&headers, &[]);
    let result = async {
        let commune = CommuneCode::parse(&form.commune_code)
            .map_err(|e| Problem::field("commune_code", e))?;
        may_change(&staff, &form.csrf, Some(&commune))?;
        let kind = FacilityKind::parse(&form.kind)
            .ok_or_else(|| Problem::field("kind", "health, police, school"))?;
        if !api
            .app
            .store
            .delete_facility(&commune, kind, &form.name)
            .await?
        {
            return Err(Problem::not_found(format!(
                "không có cơ sở này (có thể đã xóa) / no such facility (removed already?): {} {kind} {}",
                commune.as_str(),
                crate::registry::text::shown(&form.name)
            )));
        }
        let detail = format!("delete: {} {kind} {}", commune.as_str(), form.name);
        audit(&api, &staff.caller(), detail).await?;
        tracing::info!(by = %staff.key.name, commune = %commune, %kind, "facility removed");
        Ok(commune)
    }
    .await;
    match result {
        Ok(c) => back_to(c.as_str()),
        Err(p) => error_page(lang, Some(&staff), p),
    }
}

/// `POST /staff/facilities/upload`: a multipart form with `csrf` and a CSV `file`; the page
/// comes back with what was stored and the bad rows at their line and field.
pub async fn upload(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let (lang, _) = lang_of(&headers, &[]);
    if let Err(p) = staff.caller().may(Permission::ManageFacilities) {
        return error_page(lang, Some(&staff), p);
    }
    let choose = "chọn một tệp CSV / choose a CSV file";
    let (csrf, file) = match read_form(form, MAX_UPLOAD_BYTES, choose).await {
        Ok(x) => x,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    if let Err(p) = staff.check_csrf(&csrf) {
        return error_page(lang, Some(&staff), p);
    }
    let (status, upload) = match store_upload(&api, &staff.caller(), &file).await {
        Ok(up) => (
            StatusCode::OK,
            context! {
                stored => up.stored, changed => up.changed, errors => problems(&up.problems),
                communes => up.communes.iter().map(|c| commune_label(c)).collect::<Vec<_>>(),
            },
        ),
        Err((p, rows)) => (
            p.status,
            context! { stored => 0, failed => p.detail, errors => refusal(&p, &rows) },
        ),
    };
    let outcome = Outcome {
        upload: Some(upload),
        ..Outcome::default()
    };
    render(&api, &staff, lang, None, &[], outcome, status).await
}
