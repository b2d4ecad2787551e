//! The commune's inbox (issue #16): what families texted back, with the message it answers
//! and the child; answering from the page (through the outbox, the same window and limits),
//! marking done, how fast the commune answers. And the doses families reported ("ĐÃ TIÊM"),
//! which a nurse confirms (then they are recorded as any dose) or rejects.
//!
//! Only the area's own staff see a commune's replies: a reply outside the caller's area is
//! 404, as if it did not exist. Every reply shown is audited for the people it names.

use super::auth::Caller;
use super::citizens::doses::{check_doses, record_doses, ImmunizationInput};
use super::citizens::parse_date_field;
use super::messages::mask_address;
use super::permissions::Permission;
use super::problem::{ApiPath, ApiQuery, ApiResult, Problem};
use super::ApiState;
use crate::registry::PersonalId;
use crate::rules::Lang;
use crate::store::inbound::{
    InboundFilter, InboundRow, InboxFigures, InboxStatus, ReportStatus, ReportedDoseRow,
};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    pub commune: Option<String>,
    /// open (default), done, handled, all
    pub status: Option<String>,
    pub limit: Option<i64>,
}

/// The communes a caller's list covers: the one asked for (which must be in the area), else
/// the whole area (None: everywhere).
pub fn communes_for(caller: &Caller, commune: Option<&str>) -> ApiResult<Option<Vec<String>>> {
    match commune.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) if caller.0.scope.contains_commune(c) => Ok(Some(vec![c.to_string()])),
        Some(c) => Err(Problem::forbidden(format!(
            "xã {c} ngoài địa bàn của tài khoản ({}) / commune {c} is outside this account's area",
            caller.0.scope.describe()
        ))),
        None => Ok(caller.0.scope.commune_codes()),
    }
}

pub fn parse_status(s: Option<&str>) -> ApiResult<Option<InboxStatus>> {
    match s {
        None | Some("") | Some("open") => Ok(Some(InboxStatus::Open)),
        Some("all") => Ok(None),
        Some(other) => InboxStatus::parse(other)
            .map(Some)
            .ok_or_else(|| Problem::field("status", "open, done, handled hoặc/or all")),
    }
}

/// The replies a caller may read, with the commune's figures; audited.
pub async fn inbox_of(
    api: &ApiState,
    caller: &Caller,
    q: &InboxQuery,
) -> ApiResult<(Vec<InboundRow>, InboxFigures)> {
    caller.may(Permission::Inbox)?;
    let communes = communes_for(caller, q.commune.as_deref())?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::field("limit", "1–1000"));
    }
    let filter = InboundFilter {
        communes: communes.clone(),
        status: parse_status(q.status.as_deref())?,
        limit,
    };
    let mut rows = api.app.store.inbound_list(&filter).await?;
    hide_outside(api, caller, &mut rows).await?;
    let figures = (api.app.store)
        .inbox_figures(communes.as_deref(), Utc::now())
        .await?;
    audit_rows(api, caller, &rows).await?;
    Ok((rows, figures))
}

/// A reply names the family member the number belongs to and the child: whoever of them lives
/// outside the caller's area is left out (a shared phone, a child who moved), as every path
/// that shows a person checks.
async fn hide_outside(api: &ApiState, caller: &Caller, rows: &mut [InboundRow]) -> ApiResult<()> {
    if caller.0.scope.everywhere() {
        return Ok(());
    }
    let mut pins: Vec<PersonalId> = (rows.iter())
        .flat_map(|r| r.citizen_id.iter().chain(r.child_id.iter()))
        .filter_map(|p| PersonalId::parse(p).ok())
        .collect();
    pins.sort();
    pins.dedup();
    let people = api.app.store.citizens_by_ids(&pins).await?;
    let inside = |pin: &Option<String>| -> bool {
        (people.iter()).any(|p| {
            Some(p.citizen.personal_id.as_str()) == pin.as_deref()
                && caller
                    .0
                    .scope
                    .contains_commune(p.citizen.commune_code.as_str())
        })
    };
    for r in rows.iter_mut() {
        if !inside(&r.citizen_id) {
            r.citizen_id = None;
        }
        if !inside(&r.child_id) {
            r.child_id = None;
        }
    }
    Ok(())
}

async fn audit_rows(api: &ApiState, caller: &Caller, rows: &[InboundRow]) -> ApiResult<()> {
    let people: Vec<(String, Option<String>)> = rows
        .iter()
        .flat_map(|r| {
            (r.citizen_id.iter().chain(r.child_id.iter()))
                .map(move |p| (p.clone(), Some(format!("inbox:{}", r.id))))
        })
        .collect();
    api.audit
        .persons(
            caller,
            "inbox",
            people.iter().map(|(p, d)| (p.as_str(), d.clone())),
        )
        .await
}

pub fn inbound_json(r: &InboundRow, lang: Lang) -> Value {
    json!({
        "id": r.id, "from": mask_address(&r.from_number), "text": r.body, "received_at": r.received_at,
        "action": r.action, "action_label": r.action.label(lang), "keyword": r.keyword,
        "citizen": r.citizen_id, "child": r.child_id, "answers": r.answers,
        "commune": r.commune_code, "status": r.status, "done_at": r.done_at, "done_by": r.done_by,
        "replies": r.replies,
    })
}

pub async fn list(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> ApiResult<Response> {
    caller.may(Permission::Inbox)?;
    let (rows, figures) = inbox_of(&api, &caller, &q).await?;
    let lang = Lang::Vi;
    Ok(Json(json!({
        "figures": figures,
        "replies": rows.iter().map(|r| inbound_json(r, lang)).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// A reply of the caller's area (404 otherwise, as if it did not exist), the people outside
/// the area left out.
pub async fn visible(api: &ApiState, caller: &Caller, id: i64) -> ApiResult<InboundRow> {
    let row = match api.app.store.inbound(id).await? {
        Some(r)
            if caller.0.scope.contains_commune(&r.commune_code) && !r.commune_code.is_empty() =>
        {
            r
        }
        Some(r) if r.commune_code.is_empty() && caller.0.scope.everywhere() => r,
        _ => {
            return Err(Problem::not_found(
                "không có tin nhắn đến này / no such reply",
            ))
        }
    };
    let mut rows = [row];
    hide_outside(api, caller, &mut rows).await?;
    let [row] = rows;
    Ok(row)
}

/// A JSON body, read after the permission check (a role that may not gets 403, not 400).
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| Problem::bad_request(format!("JSON không hợp lệ / invalid JSON: {e}")))
}

fn reply_id(raw: &str) -> ApiResult<i64> {
    raw.parse()
        .map_err(|_| Problem::not_found("không có tin nhắn đến này / no such reply"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyInput {
    pub text: String,
}

/// The longest answer staff may write: three SMS parts unaccented.
const REPLY_MAX: usize = 450;

/// Queues a staff member's answer to a reply and marks it done.
pub async fn answer(api: &ApiState, caller: &Caller, id: i64, text: &str) -> ApiResult<InboundRow> {
    caller.may(Permission::Inbox)?;
    let r = visible(api, caller, id).await?;
    let text = crate::inbound::clean_text(text);
    if text.is_empty() {
        return Err(Problem::field(
            "text",
            "cần nội dung trả lời / write the answer",
        ));
    }
    if text.chars().count() > REPLY_MAX {
        return Err(Problem::field(
            "text",
            format!("tối đa {REPLY_MAX} ký tự (3 tin SMS) / at most {REPLY_MAX} characters (3 SMS parts)"),
        ));
    }
    let now = Utc::now();
    let key = (crate::delivery::MessageKey::of(&api.app.store).await)
        .map_err(|e| Problem::internal("message key", e))?;
    let recipient = r.citizen_id.clone().unwrap_or_default();
    let lang = match r.answers.as_deref() {
        Some(m) => api
            .app
            .store
            .message(m)
            .await?
            .map(|m| crate::schedule::lang_of(&m.language)),
        None => None,
    }
    .unwrap_or(Lang::Vi);
    // Keyed on the reply and the words: a double-click or a resubmitted form is one SMS, a
    // second, different answer is a second message.
    let answers = format!("staff:{id}:{}", crate::api::keys::sha256_hex(&text));
    let m = crate::inbound::reply_message(
        &key,
        &api.app.delivery,
        (&recipient, &r.from_number),
        lang,
        &text,
        &answers,
        now,
    );
    api.app
        .store
        .answer_inbound(id, &m, &caller.0.name, now)
        .await?;
    api.app.deliver_now.notify_one();
    tracing::info!(inbound = id, message = %m.id, "reply answered by staff");
    visible(api, caller, id).await
}

pub async fn reply(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    caller.may(Permission::Inbox)?;
    let input: ReplyInput = json_body(&body)?;
    let r = answer(&api, &caller, reply_id(&id)?, &input.text).await?;
    Ok(Json(inbound_json(&r, Lang::Vi)).into_response())
}

/// Marks a reply done without answering (or open again).
pub async fn set_done(
    api: &ApiState,
    caller: &Caller,
    id: i64,
    done: bool,
) -> ApiResult<InboundRow> {
    caller.may(Permission::Inbox)?;
    visible(api, caller, id).await?;
    api.app
        .store
        .set_inbound_done(id, done, &caller.0.name, Utc::now())
        .await?;
    visible(api, caller, id).await
}

pub async fn done(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.may(Permission::Inbox)?;
    let r = set_done(&api, &caller, reply_id(&id)?, true).await?;
    Ok(Json(inbound_json(&r, Lang::Vi)).into_response())
}

// --- Reported doses -------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedQuery {
    pub commune: Option<String>,
    /// pending (default), confirmed, rejected
    pub status: Option<String>,
}

/// Reported doses of the caller's area (or one commune of it), oldest first; audited.
pub async fn reported_of(
    api: &ApiState,
    caller: &Caller,
    commune: Option<&str>,
    status: ReportStatus,
) -> ApiResult<Vec<ReportedDoseRow>> {
    caller.may(Permission::VaccinationList)?;
    let communes = communes_for(caller, commune)?;
    let rows = (api.app.store)
        .reported_doses(communes.as_deref(), status, 500)
        .await?;
    let people: Vec<(String, Option<String>)> = (rows.iter())
        .map(|r| {
            (
                r.personal_id.clone(),
                Some(format!("reported-dose:{}", r.id)),
            )
        })
        .collect();
    api.audit
        .persons(
            caller,
            "reported-doses",
            people.iter().map(|(p, d)| (p.as_str(), d.clone())),
        )
        .await?;
    Ok(rows)
}

pub async fn reported(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ReportedQuery>,
) -> ApiResult<Response> {
    caller.may(Permission::VaccinationList)?;
    let status = match q.status.as_deref() {
        None | Some("") => ReportStatus::Pending,
        Some(s) => ReportStatus::parse(s)
            .ok_or_else(|| Problem::field("status", "pending, confirmed hoặc/or rejected"))?,
    };
    let rows = reported_of(&api, &caller, q.commune.as_deref(), status).await?;
    Ok(Json(json!({ "reported_doses": rows })).into_response())
}

async fn pending_visible(api: &ApiState, caller: &Caller, raw: &str) -> ApiResult<ReportedDoseRow> {
    let id: i64 = raw
        .parse()
        .map_err(|_| Problem::not_found("không có báo tiêm này / no such reported dose"))?;
    match api.app.store.reported_dose(id).await? {
        Some(r) if caller.0.scope.contains_commune(&r.commune_code) => {
            if r.status != ReportStatus::Pending {
                return Err(Problem::conflict(format!(
                    "báo tiêm này đã được xử lý ({}) / this report was decided already ({})",
                    r.status.as_str(),
                    r.status.as_str()
                )));
            }
            Ok(r)
        }
        _ => Err(Problem::not_found(
            "không có báo tiêm này / no such reported dose",
        )),
    }
}

/// Confirms a reported dose: recorded as any dose is (the same checks), then marked confirmed.
pub async fn confirm_reported(
    api: &ApiState,
    caller: &Caller,
    raw_id: &str,
    input: ImmunizationInput,
) -> ApiResult<ReportedDoseRow> {
    caller.may(Permission::RecordDose)?;
    let r = pending_visible(api, caller, raw_id).await?;
    let pin = PersonalId::parse(&r.personal_id)
        .map_err(|_| Problem::not_found("không có người này / no such citizen"))?;
    let stored = (api.app.store.citizen(pin).await?)
        // The child moved away since the report: the new commune's staff confirm it.
        .filter(|s| {
            caller
                .0
                .scope
                .contains_commune(s.citizen.commune_code.as_str())
        })
        .ok_or_else(|| Problem::not_found("không có báo tiêm này / no such reported dose"))?;
    let date = parse_date_field("date_given", &input.date_given)?;
    let records =
        check_doses(api, pin, &stored, vec![input]).map_err(super::citizens::field_problems)?;
    let vaccine = records
        .first()
        .map(|d| d.vaccine.clone())
        .unwrap_or_default();
    // The report is claimed first: of two nurses deciding at once one wins and the other gets
    // 409, and a report someone rejected never gets a dose recorded for it.
    if !(api.app.store)
        .decide_reported_dose(r.id, Some((&vaccine, date)), &caller.0.name, Utc::now())
        .await?
    {
        return Err(Problem::conflict(
            "báo tiêm này vừa được xử lý / this report was just decided",
        ));
    }
    // A dose already on record (the nurse entered it herself) still confirms the report.
    match record_doses(api, caller, pin, &records).await {
        Ok(()) => {}
        Err(p) if p.status == axum::http::StatusCode::CONFLICT => {}
        Err(p) => return Err(p),
    }
    Ok(api.app.store.reported_dose(r.id).await?.unwrap_or(r))
}

pub async fn reject_reported(
    api: &ApiState,
    caller: &Caller,
    raw_id: &str,
) -> ApiResult<ReportedDoseRow> {
    caller.may(Permission::RecordDose)?;
    let r = pending_visible(api, caller, raw_id).await?;
    if !(api.app.store)
        .decide_reported_dose(r.id, None, &caller.0.name, Utc::now())
        .await?
    {
        return Err(Problem::conflict(
            "báo tiêm này vừa được xử lý / this report was just decided",
        ));
    }
    api.audit
        .person(
            caller,
            &r.personal_id,
            "reported-dose-rejected",
            Some(format!("reported-dose:{}", r.id)),
        )
        .await?;
    Ok(api.app.store.reported_dose(r.id).await?.unwrap_or(r))
}

pub async fn confirm(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    caller.may(Permission::RecordDose)?;
    let input: ImmunizationInput = json_body(&body)?;
    Ok(Json(confirm_reported(&api, &caller, &id, input).await?).into_response())
}

pub async fn reject(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.may(Permission::RecordDose)?;
    Ok(Json(reject_reported(&api, &caller, &id).await?).into_response())
}
