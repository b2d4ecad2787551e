//! `/api/alerts`: outbreak alerts with two people (issue #15). One account drafts an alert
//! (its audience and messages are computed and saved at once), a second approves it, and
//! its messages go out ahead of routine reminders; either may cancel it, which stops every
//! message not yet sent.
//!
//! Who sees what: an alert is visible to accounts whose area shares a commune with it (others
//! get 404, as if it did not exist), approved only by an account whose area covers every
//! commune it targets, and never by the account that drafted it. Every step, refusals
//! included, is in the alert's trail (`alert_log`); lists that name children are audited per
//! person like every other list.

use super::auth::Caller;
use super::permissions::Permission;
use super::problem::{ApiPath, ApiQuery, ApiResult, FieldProblem, Problem};
use super::ApiState;
use crate::alerts::{self, Draft, Targeting};
use crate::rules::Lang;
use crate::store::alerts::{Actor, AlertRow, NewAlert};
use crate::store::Channel;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

fn actor(caller: &Caller) -> Actor<'_> {
    Actor {
        name: &caller.0.name,
        role: caller.0.role.as_str(),
    }
}

fn not_found() -> Problem {
    Problem::not_found("không có cảnh báo này trong địa bàn của bạn / no such alert in your area")
}

/// Every commune an alert targets.
fn communes_of(a: &AlertRow) -> Vec<String> {
    let units = crate::registry::AdminUnits::get();
    let mut all: Vec<String> = a.communes.clone();
    for p in &a.provinces {
        all.extend(units.communes_of(p).map(|c| c.code.clone()));
    }
    all.sort();
    all.dedup();
    all
}

/// Does the caller's area share a commune with the alert?
pub(crate) fn sees(caller: &Caller, a: &AlertRow) -> bool {
    let scope = &caller.0.scope;
    scope.everywhere() || communes_of(a).iter().any(|c| scope.contains_commune(c))
}

/// The alert, if the caller's area shares a commune with it.
pub(crate) async fn visible(api: &ApiState, caller: &Caller, id: i64) -> ApiResult<AlertRow> {
    let a = api.app.store.alert(id).await?.ok_or_else(not_found)?;
    if sees(caller, &a) {
        Ok(a)
    } else {
        Err(not_found())
    }
}

/// Communes of the alert outside the caller's area.
fn outside(caller: &Caller, a: &AlertRow) -> Vec<String> {
    communes_of(a)
        .into_iter()
        .filter(|c| !caller.0.scope.contains_commune(c))
        .collect()
}

/// Drafts an alert and computes its audience (the caller's area must cover it).
/// An alert id from the path: after the caller's permission is checked, so a role that may
/// not is told so (403) whatever it typed.
fn alert_id(id: &str) -> ApiResult<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(not_found)
}

pub async fn create(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    caller.may(Permission::DraftAlerts)?;
    let draft: Draft = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(format!(
            "JSON không hợp lệ / invalid JSON: {e}; expected {{name, template, as_of, provinces, communes, age_from, age_to, conditions: [{{series, valid_doses_below | overdue}}]}}"
        ))
    })?;
    let (alert, built) = draft_alert(&api, &caller, &draft).await?;
    let location = [(header::LOCATION, format!("/api/alerts/{}", alert.id))];
    Ok(match built {
        Some(b) => (
            StatusCode::CREATED,
            location,
            Json(json!({"id": alert.id, "status": alert.status, "audience": b.children, "messages": b.messages, "evaluated": b.evaluated})),
        )
            .into_response(),
        // Still finding its audience: 202, and `GET /api/alerts/{id}` says when it is a draft.
        None => (
            StatusCode::ACCEPTED,
            location,
            Json(json!({"id": alert.id, "status": alert.status})),
        )
            .into_response(),
    })
}

/// The checks and the work of a draft, for the API and the staff page alike.
pub(crate) async fn draft_alert(
    api: &ApiState,
    caller: &Caller,
    draft: &Draft,
) -> ApiResult<(AlertRow, Option<alerts::audience::Built>)> {
    let rules = &api.app.rules;
    let t = Targeting::check(draft, rules, crate::clock::today_in_vietnam()).map_err(|ps| {
        Problem::fields(
            ps.into_iter()
                .map(|p| FieldProblem {
                    field: p.field,
                    reason: p.reason,
                })
                .collect(),
        )
    })?;
    let beyond: Vec<String> = t
        .communes_covered()
        .into_iter()
        .filter(|c| !caller.0.scope.contains_commune(c))
        .collect();
    if !beyond.is_empty() {
        return Err(Problem::forbidden(format!(
            "cảnh báo gồm xã ngoài địa bàn của bạn ({}) / the alert targets communes outside your area: {}",
            caller.0.scope.describe(),
            beyond.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let _slot = api.heavy.begin(&caller.0.name).await?;
    let store = &api.app.store;
    let conditions = serde_json::to_value(&t.conditions).expect("conditions serialize");
    let age_from = draft.age_from.trim();
    let age_to = draft.age_to.trim();
    let id = store
        .insert_alert(
            &NewAlert {
                name: &t.name,
                template: &t.template,
                as_of: t.as_of,
                provinces: &t.provinces,
                communes: &t.communes,
                age_from,
                age_to,
                conditions: &conditions,
                outcome_days: t.outcome_days,
            },
            actor(caller),
            Utc::now(),
        )
        .await?;
    // In a task of its own, so a client that gives up (or the request's timeout) does not cut
    // the audience off half-way: the answer waits for it up to BUILD_WAIT, then says
    // `building` and the alert becomes a draft when its audience is whole.
    let task = {
        let (store, rules, cfg) = (
            Arc::clone(store),
            Arc::clone(rules),
            api.app.delivery.clone(),
        );
        tokio::spawn(async move {
            let built = alerts::audience::build(Arc::clone(&store), &rules, &cfg, id, &t).await;
            match &built {
                Ok(b) => tracing::info!(
                    alert = id,
                    children = b.children,
                    messages = b.messages,
                    evaluated = b.evaluated,
                    "alert drafted"
                ),
                Err(e) => {
                    tracing::error!(alert = id, error = %format!("{e:#}"), "alert audience failed; the alert stays 'building' and can only be cancelled");
                    let by = Actor {
                        name: "vongdoi",
                        role: "service",
                    };
                    let _ = store
                        .log_alert_step(id, by, "build-failed", Some(&format!("{e:#}")), Utc::now())
                        .await;
                }
            }
            built
        })
    };
    let built = match tokio::time::timeout(BUILD_WAIT, task).await {
        Ok(Ok(Ok(b))) => Some(b),
        Ok(Ok(Err(e))) => return Err(Problem::internal("alert audience", e)),
        Ok(Err(e)) => return Err(Problem::internal("alert audience", e)),
        Err(_) => None,
    };
    let alert = store.alert(id).await?.ok_or_else(not_found)?;
    Ok((alert, built))
}

/// How long a draft's answer waits for its audience (well inside the request timeout).
const BUILD_WAIT: std::time::Duration = std::time::Duration::from_secs(40);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<i64>,
}

pub async fn list(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    caller.may(Permission::ReadAlerts)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::field("limit", "1–1000"));
    }
    let rows: Vec<AlertRow> = api
        .app
        .store
        .alerts(limit)
        .await?
        .into_iter()
        .filter(|a| sees(&caller, a))
        .collect();
    Ok(Json(json!({"alerts": rows})).into_response())
}

pub async fn get(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.may(Permission::ReadAlerts)?;
    let id = alert_id(&id)?;
    let a = visible(&api, &caller, id).await?;
    let steps = api.app.store.alert_steps(id).await?;
    let reach = alerts::reach::reach(&api.app.store, &api.app.rules, &a)
        .await
        .map_err(|e| Problem::internal("alert reach", e))?;
    // The alert's own fields at the top, then its steps and reach totals.
    let mut doc = serde_json::to_value(&a).expect("an alert serializes");
    doc["steps"] = serde_json::to_value(&steps).expect("steps serialize");
    doc["reach"] = serde_json::to_value(&reach.total).expect("reach serializes");
    Ok(Json(doc).into_response())
}

pub async fn preview(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.may(Permission::ReadAlerts)?;
    let id = alert_id(&id)?;
    let a = visible(&api, &caller, id).await?;
    let p = alerts::preview::preview(&api.app.store, &api.app.delivery, &a, Utc::now())
        .await
        .map_err(|e| Problem::internal("alert preview", e))?;
    Ok(Json(p).into_response())
}

pub async fn submit(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.may(Permission::DraftAlerts)?;
    let id = alert_id(&id)?;
    visible(&api, &caller, id).await?;
    if !api
        .app
        .store
        .submit_alert(id, actor(&caller), Utc::now())
        .await?
    {
        return Err(Problem::conflict(
            "chỉ gửi duyệt được bản nháp / only a draft can be submitted for approval",
        ));
    }
    Ok(Json(json!({"id": id, "status": "pending-approval"})).into_response())
}

/// Why this caller may not approve this alert (None: they may).
pub(crate) fn approval_refused(caller: &Caller, a: &AlertRow) -> Option<String> {
    if a.created_by == caller.0.name {
        return Some("không ai được tự duyệt cảnh báo mình soạn: cần một tài khoản thứ hai / nobody approves their own alert: a second account must approve it".into());
    }
    let beyond = outside(caller, a);
    if !beyond.is_empty() {
        return Some(format!(
            "địa bàn của bạn ({}) không gồm mọi xã của cảnh báo (thiếu {}) / your area does not cover every commune of the alert (missing {})",
            caller.0.scope.describe(),
            beyond.iter().take(10).cloned().collect::<Vec<_>>().join(", "),
            beyond.len()
        ));
    }
    None
}

/// Approves and queues. Shared with the staff page.
pub(crate) async fn approve_alert(api: &ApiState, caller: &Caller, a: &AlertRow) -> ApiResult<u64> {
    let store = &api.app.store;
    let now = Utc::now();
    if let Some(why) = approval_refused(caller, a) {
        store
            .log_alert_step(a.id, actor(caller), "approve-refused", Some(&why), now)
            .await?;
        return Err(Problem::forbidden(why));
    }
    let first = [
        (
            Channel::Sms,
            crate::delivery::next_sms_slot(now, api.app.delivery.sms_window),
        ),
        (Channel::Email, now),
    ];
    match store.approve_alert(a.id, actor(caller), now, &first).await? {
        Some(queued) => {
            tracing::info!(alert = a.id, queued, "alert approved");
            // This instance sends at once; others find the messages on their next pass.
            api.app.deliver_now.notify_one();
            Ok(queued)
        }
        None => Err(Problem::conflict(format!(
            "cảnh báo đang ở trạng thái '{}', không duyệt được nữa / the alert is {}, it can no longer be approved",
            a.status.label(Lang::Vi),
            a.status.as_str()
        ))),
    }
}

pub async fn approve(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.may(Permission::ApproveAlerts)?;
    let id = alert_id(&id)?;
    let a = visible(&api, &caller, id).await?;
    let queued = approve_alert(&api, &caller, &a).await?;
    Ok(Json(json!({"id": id, "status": "sending", "queued": queued})).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    pub reason: Option<String>,
}

/// Cancels and says what became of every message: shared with the staff page.
pub(crate) async fn cancel_alert(
    api: &ApiState,
    caller: &Caller,
    a: &AlertRow,
    reason: &str,
) -> ApiResult<serde_json::Value> {
    let store = &api.app.store;
    let Some((stopped, in_flight)) = store
        .cancel_alert(a.id, actor(caller), reason, Utc::now())
        .await?
    else {
        return Err(Problem::conflict(format!(
            "cảnh báo đã {} / the alert is already {}",
            a.status.label(Lang::Vi),
            a.status.as_str()
        )));
    };
    tracing::info!(alert = a.id, stopped, in_flight, "alert cancelled");
    let a = store.alert(a.id).await?.ok_or_else(not_found)?;
    let reach = alerts::reach::reach(store, &api.app.rules, &a)
        .await
        .map_err(|e| Problem::internal("alert reach", e))?;
    // `in_flight`: taken by a sender before the cancel; each is sent if it was already on its
    // way, or stopped within a second. The message list tells which.
    Ok(
        json!({"id": a.id, "status": a.status, "stopped": stopped, "in_flight": in_flight, "reach": reach.total,
              "details": format!("/api/alerts/{}/messages", a.id)}),
    )
}

pub async fn cancel(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    if caller.may(Permission::DraftAlerts).is_err() {
        caller.may(Permission::ApproveAlerts)?;
    }
    let id = alert_id(&id)?;
    let a = visible(&api, &caller, id).await?;
    // The body is optional: `{"reason": "…"}`.
    let input: CancelInput = if body.iter().all(|b| b.is_ascii_whitespace()) {
        CancelInput::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Problem::bad_request(format!("JSON không hợp lệ / invalid JSON: {e}")))?
    };
    let reason = input.reason.unwrap_or_default();
    let reason: String = reason
        .chars()
        .filter(|c| !c.is_control())
        .take(500)
        .collect();
    Ok(Json(cancel_alert(&api, &caller, &a, &reason).await?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    pub format: Option<String>,
    pub lang: Option<Lang>,
    pub commune: Option<String>,
    pub after: Option<String>,
    pub limit: Option<i64>,
}

fn xlsx(name: String, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, super::reports::XLSX.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.xlsx\""),
            ),
        ],
        body,
    )
        .into_response()
}

pub async fn reach(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<FormatQuery>,
) -> ApiResult<Response> {
    caller.may(Permission::ReadAlerts)?;
    let id = alert_id(&id)?;
    let a = visible(&api, &caller, id).await?;
    let r = alerts::reach::reach(&api.app.store, &api.app.rules, &a)
        .await
        .map_err(|e| Problem::internal("alert reach", e))?;
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(r).into_response()),
        "xlsx" => {
            let body =
                alerts::worklist::reach_xlsx(&r.communes, &r.total, q.lang.unwrap_or_default())
                    .map_err(|e| Problem::internal("reach xlsx", e))?;
            Ok(xlsx(format!("canh-bao-{id}-ket-qua"), body))
        }
        _ => Err(Problem::field("format", "json | xlsx")),
    }
}

/// The catch-up worklist: children by name with the guardian to call (audited per person).
pub async fn worklist(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<FormatQuery>,
) -> ApiResult<Response> {
    caller.may(Permission::CampaignList)?;
    let id = alert_id(&id)?;
    let a = visible(&api, &caller, id).await?;
    if let Some(c) = &q.commune {
        caller.require_commune(c)?;
    }
    let (mut rows, truncated) =
        alerts::worklist::worklist(&api.app.store, &a, q.commune.as_deref())
            .await
            .map_err(|e| Problem::internal("alert worklist", e))?;
    // Only the children of the caller's own area.
    rows.retain(|r| caller.0.scope.contains_commune(&r.commune_code));
    let mut shown: Vec<(crate::registry::PersonalId, &'static str)> = Vec::new();
    for r in &rows {
        if let Ok(p) = crate::registry::PersonalId::parse(&r.personal_id) {
            shown.push((p, "listed"));
        }
        if let Some(g) = r
            .guardian_id
            .as_deref()
            .and_then(|g| crate::registry::PersonalId::parse(g).ok())
        {
            shown.push((g, "contact"));
        }
    }
    api.audit
        .shown(&caller, &format!("alert:{id}:worklist"), a.as_of, &shown)
        .await?;
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(
            json!({"alert": id, "as_of": a.as_of, "truncated": truncated, "children": rows}),
        )
        .into_response()),
        "xlsx" => {
            let body = alerts::worklist::worklist_xlsx(&rows, q.lang.unwrap_or_default())
                .map_err(|e| Problem::internal("worklist xlsx", e))?;
            Ok(xlsx(format!("tiem-vet-canh-bao-{id}"), body))
        }
        _ => Err(Problem::field("format", "json | xlsx")),
    }
}

/// Every message of the alert and what became of it: who was and was not sent. Addresses are
/// masked; each recipient's read is audited.
pub async fn messages(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<FormatQuery>,
) -> ApiResult<Response> {
    caller.may(Permission::CampaignList)?;
    let id = alert_id(&id)?;
    let a = visible(&api, &caller, id).await?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(Problem::field("limit", "1–10000"));
    }
    let rows = api
        .app
        .store
        .alert_message_statuses(id, q.after.as_deref().unwrap_or(""), limit)
        .await?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|m| caller.0.scope.contains_commune(&m.commune_code))
        .collect();
    let shown: Vec<(crate::registry::PersonalId, &'static str)> = rows
        .iter()
        .filter_map(|m| crate::registry::PersonalId::parse(&m.recipient_id).ok())
        .map(|p| (p, "recipient"))
        .collect();
    api.audit
        .shown(&caller, &format!("alert:{id}:messages"), a.as_of, &shown)
        .await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|m| m.id.clone()))
        .flatten();
    let out: Vec<serde_json::Value> = rows
        .iter()
        .map(|m| {
            json!({
                "id": m.id, "recipient_id": m.recipient_id, "channel": m.channel,
                "address": super::messages::mask_address(&m.address),
                "commune_code": m.commune_code, "children": m.children,
                "status": m.status.map(|s| s.as_str()).unwrap_or("not-queued"),
                "sent": m.status.is_some_and(|s| matches!(s, crate::store::MessageStatus::Sent | crate::store::MessageStatus::Delivered)),
                "sent_at": m.sent_at,
            })
        })
        .collect();
    Ok(
        Json(json!({"alert": id, "status": a.status, "messages": out, "next_after": next}))
            .into_response(),
    )
}
