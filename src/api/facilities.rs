//! `/api/facilities`: each commune's health station, police post and schools (issue #13 item
//! 1), which reminders name with address, phone, hours and next session.
//!
//! `GET` lists the caller's area (or the part asked for), with the next session on or after
//! `as_of`. `PUT` takes the CSV file itself as the body, the format of
//! [`crate::exchange::facilities`]: a health or police row replaces its commune's station or
//! post, a school row the commune's school of that name; rows outside the caller's area are
//! refused at their line, bad rows reported at their line and field, the good rows stored:
//! `{"stored", "changed", "communes", "errors": [{"line", "field", "reason"}]}`, the answer of
//! `PUT /api/school-places`. When nothing could be stored: 403 (every row outside the area) or
//! 400, as problem details with the same `errors`. Every write leaves a row in the audit trail
//! (action `facilities`, no person).

use super::auth::Caller;
use super::permissions::Permission;
use super::places::{file_body, nothing_stored, refuse_outside, rows_problem};
use super::problem::{ApiResult, Problem};
use super::reports::{query_pairs, ReportQuery};
use super::ApiState;
use crate::exchange::facilities::{self as file, RowProblem, Upload};
use crate::registry::{AdminUnits, CommuneCode};
use crate::store::facilities::FacilityRow;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use std::sync::Arc;

/// The body limit of an upload: the largest facilities file and a multipart form's overhead.
pub const UPLOAD_LIMIT: usize = file::MAX_UPLOAD_BYTES + 64 * 1024;

/// The audit trail's action for a change of facilities; its rows name no person.
pub const AUDIT_ACTION: &str = "facilities";

/// Why a commune is refused: outside the caller's area, said plainly.
pub fn outside_area(caller: &Caller, commune: &CommuneCode) -> Result<(), String> {
    refuse_outside(
        caller,
        commune,
        "không được sửa cơ sở của xã này",
        "you may not change its facilities",
    )
}

/// One audit row for a change of facilities by `caller` (what, in `detail`).
pub async fn audit(api: &ApiState, caller: &Caller, detail: String) -> ApiResult<()> {
    api.audit
        .person(caller, "", AUDIT_ACTION, Some(detail))
        .await
}

/// Reads and stores an uploaded facilities file for `caller`. Err: the file as a whole could
/// not be read (400), or nothing could be stored (400, or 403 when every row was outside the
/// area), with the rows' problems.
pub async fn store_upload(
    api: &ApiState,
    caller: &Caller,
    bytes: &[u8],
) -> Result<Upload, (Problem, Vec<RowProblem>)> {
    caller
        .may(Permission::ManageFacilities)
        .map_err(|p| (p, Vec::new()))?;
    let parsed = file::parse(bytes).map_err(|e| (Problem::field("file", e), Vec::new()))?;
    let rows = parsed.rows.len();
    let up = file::upload(
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
    let detail = format!(
        "upload: {} stored, {} changed, communes {}",
        up.stored,
        up.changed,
        up.communes.join(" ")
    );
    audit(api, caller, detail)
        .await
        .map_err(|p| (p, Vec::new()))?;
    Ok(up)
}

pub async fn put_facilities(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match file_body(body, file::MAX_UPLOAD_BYTES) {
        Ok(b) => b,
        Err(p) => return p.into_response(),
    };
    match store_upload(&api, &caller, &body).await {
        Ok(up) => axum::Json(serde_json::json!({
            "stored": up.stored,
            "changed": up.changed,
            "communes": up.communes,
            "errors": up.problems,
        }))
        .into_response(),
        Err((p, rows)) => rows_problem(p, rows),
    }
}

/// A facility as the API and the pages give it: the stored cells, the session days in words
/// and the next session on or after `as_of`.
pub fn to_json(r: &FacilityRow, as_of: NaiveDate) -> serde_json::Value {
    let f = &r.facility;
    let mut v = stored_json(r);
    v["commune_name"] = AdminUnits::get()
        .commune(&f.commune_code)
        .map(|c| c.name.as_str())
        .into();
    v["next_session"] = serde_json::json!(f.session_days.next_on_or_after(as_of));
    v
}

/// A stored facility's cells, its session days in words and its last change: what
/// [`to_json`] and `vongdoi facilities list --format json` give alike (each adds the commune's
/// name its own way).
pub fn stored_json(r: &FacilityRow) -> serde_json::Value {
    let f = &r.facility;
    serde_json::json!({
        "commune_code": f.commune_code,
        "kind": f.kind,
        "name": f.name,
        "address": f.address,
        "phone": f.phone,
        "hours": f.hours,
        "session_days": f.session_days.to_cell(),
        "session_days_text": f.session_days.describe(false),
        "updated_by": r.updated_by,
        "updated_at": r.updated_at,
    })
}

/// `GET /api/facilities?province=…&commune=…&as_of=…`: the facilities of the caller's area
/// (or the part asked for; outside it, 403), by commune, kind and name.
pub async fn get_facilities(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    caller.may(Permission::ReadFacilities)?;
    let pairs = query_pairs(raw.as_deref());
    let q = ReportQuery::parse(&pairs, &[])?;
    let area = q.area(&caller)?;
    let rows = api.app.store.facility_rows(area.communes()).await?;
    let list: Vec<serde_json::Value> = rows.iter().map(|r| to_json(r, q.as_of)).collect();
    Ok(axum::Json(serde_json::json!({ "as_of": q.as_of, "facilities": list })).into_response())
}
