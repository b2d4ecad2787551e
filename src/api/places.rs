//! `/api/school-places`: the school places a planner uploads (issue #12 item 8), which the
//! enrolment forecast sets against the children entering (`/api/reports/enrolment`, the staff
//! page, `vongdoi report enrolment`).
//!
//! `PUT` takes the file itself as the body: CSV (`text/csv`, UTF-8) or xlsx (its media type),
//! the format of [`crate::reports::places`]; the two are told apart by their first bytes, so
//! the `Content-Type` may also be `application/octet-stream`. The places of every commune the
//! file names (with at least one good row) replace what was stored for that commune; rows of
//! a commune outside the caller's area are refused at their line. Bad rows are reported at
//! their line and field and the good rows are stored: 200 with
//! `{"stored", "communes", "errors": [{"line", "field", "reason"}]}`; when no row could be
//! stored, 403 (every row outside the area) or 400, as problem details with the same `errors`.

use super::auth::Caller;
use super::permissions::Permission;
use super::problem::{ApiResult, Problem};
use super::reports::{query_pairs, ReportQuery};
use super::ApiState;
use crate::exchange::table::RowProblem;
use crate::registry::{AdminUnits, CommuneCode};
use crate::reports::places::{self, Upload};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The body limit of an upload: the largest places file and a multipart form's overhead.
pub const UPLOAD_LIMIT: usize = places::MAX_FILE_BYTES + 64 * 1024;

/// Why a commune is refused: outside the caller's area, said plainly.
pub fn outside_area(caller: &Caller, commune: &CommuneCode) -> Result<(), String> {
    refuse_outside(
        caller,
        commune,
        "không được tải lên số chỗ cho xã này",
        "you may not upload places for it",
    )
}

/// Ok for a commune in the caller's area, else the refusal, ending with what the caller may
/// not do there (`vi` / `en`): school places and facilities alike.
pub(super) fn refuse_outside(
    caller: &Caller,
    commune: &CommuneCode,
    vi: &str,
    en: &str,
) -> Result<(), String> {
    if caller.0.scope.contains_commune(commune.as_str()) {
        return Ok(());
    }
    let name = AdminUnits::get()
        .commune(commune.as_str())
        .map_or("", |c| c.name.as_str());
    Err(format!(
        "xã {name} ({c}) ngoài địa bàn của bạn ({area}): {vi} / commune {name} ({c}) is outside your area ({area}): {en}",
        c = commune.as_str(),
        area = caller.0.scope.describe()
    ))
}

/// Reads and stores an uploaded places file for `caller`. Err: the file as a whole could not
/// be read (400), or nothing could be stored (400, or 403 when every row was outside the
/// area), with the rows' problems.
pub async fn store_upload(
    api: &ApiState,
    caller: &Caller,
    bytes: &[u8],
) -> Result<Upload, (Problem, Vec<RowProblem>)> {
    caller
        .may(Permission::UploadPlaces)
        .map_err(|p| (p, Vec::new()))?;
    let parsed = places::parse(bytes).map_err(|e| (Problem::field("file", e), Vec::new()))?;
    let rows = parsed.rows.len();
    let up = places::upload(
        &api.app.store,
        parsed,
        |c| outside_area(caller, c),
        &caller.0.name,
        chrono::Utc::now(),
    )
    .await
    .map_err(|e| (Problem::from(e), Vec::new()))?;
    if let Some(p) = nothing_stored(caller, rows, up.stored, up.outside_area, &up.problems) {
        return Err((p, up.problems));
    }
    Ok(up)
}

/// When an upload stored nothing and had problems, why (school places and facilities alike):
/// 403 when every one of the file's `rows` good rows was refused for being outside the area
/// and nothing else was wrong, else 400. None when something was stored or nothing was wrong.
pub(super) fn nothing_stored(
    caller: &Caller,
    rows: usize,
    stored: u64,
    outside_area: usize,
    problems: &[RowProblem],
) -> Option<Problem> {
    if stored != 0 || problems.is_empty() {
        return None;
    }
    Some(
        if rows > 0 && outside_area == rows && problems.len() == rows {
            Problem::forbidden(format!(
                "mọi dòng đều thuộc xã ngoài địa bàn của bạn ({}) / every row is for a commune outside your area ({})",
                caller.0.scope.describe(),
                caller.0.scope.describe()
            ))
        } else {
            Problem::bad_request(
                "không dòng nào được lưu: xem errors (dòng, cột, lý do) / no row was stored: see errors (line, field, reason)",
            )
        },
    )
}

/// A problem whose `errors` are rows of a file: `{"line", "field", "reason"}` (school places
/// and facilities alike).
pub(super) fn rows_problem<T: serde::Serialize>(p: Problem, rows: Vec<T>) -> Response {
    if rows.is_empty() {
        return p.into_response();
    }
    let mut v = p.to_json();
    v["errors"] = serde_json::to_value(rows).expect("plain rows");
    let mut res = (p.status, axum::Json(v)).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

/// The file a `PUT` carries, or why it cannot be read (413 past `max` bytes).
pub(super) fn file_body(
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    max: usize,
) -> Result<Bytes, Problem> {
    match body {
        Ok(b) => Ok(b),
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "tệp vượt quá {} MiB / the file is over {} MiB",
                max >> 20,
                max >> 20
            ),
        )),
        Err(_) => Err(Problem::bad_request(
            "không đọc được nội dung / cannot read the request body",
        )),
    }
}

pub async fn put_places(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match file_body(body, places::MAX_FILE_BYTES) {
        Ok(b) => b,
        Err(p) => return p.into_response(),
    };
    match store_upload(&api, &caller, &body).await {
        Ok(up) => axum::Json(serde_json::json!({
            "stored": up.stored,
            "communes": up.communes,
            "errors": up.problems,
        }))
        .into_response(),
        Err((p, rows)) => rows_problem(p, rows),
    }
}

/// `GET /api/school-places?province=…&commune=…`: the stored places of the caller's area (or
/// the part asked for), one row per commune, school, level and year.
pub async fn get_places(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    caller.may(Permission::Enrolment)?;
    let pairs = query_pairs(raw.as_deref());
    let q = ReportQuery::parse(&pairs, &[])?;
    let area = q.area(&caller)?;
    let rows = api.app.store.school_places(area.communes()).await?;
    let units = AdminUnits::get();
    let places: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "commune_code": r.commune_code,
                "commune_name": units.commune(&r.commune_code).map(|c| c.name.as_str()),
                "school": r.school,
                "level": r.level,
                "school_year": r.school_year,
                "places": r.places,
                "uploaded_by": r.uploaded_by,
                "uploaded_at": r.uploaded_at,
            })
        })
        .collect();
    Ok(axum::Json(serde_json::json!({ "places": places })).into_response())
}
