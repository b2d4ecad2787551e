//! Outbreak alerts on the staff pages (issue #15): the area's alerts and a form to draft one
//! (`/staff/alerts`), and one alert (`/staff/alerts/{id}`) with what the approver must read
//! before approving — children per commune, households, who has no contact, messages per
//! channel, SMS parts and cost, sample texts, how long it will take — its steps, its reach,
//! the catch-up worklist to download, and the buttons its reader may press. The rules are the
//! API's (`api::alerts`): the same checks, the same trail.

use super::super::alerts as api_alerts;
use super::super::permissions::Permission;
use super::super::problem::Problem;
use super::super::reports::query_pairs;
use super::super::ApiState;
use super::{commune_label, error_page, lang_code, lang_of, param, t, Page, Staff};
use crate::alerts::{preview, reach, Condition, Draft};
use crate::rules::Lang;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use minijinja::{context, Value};
use serde::Deserialize;
use std::sync::Arc;

fn codes(s: &str) -> Vec<String> {
    s.split([',', ' ', ';', '\n'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

pub async fn alerts_page(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let caller = staff.caller();
    let rows = async {
        caller.may(Permission::ReadAlerts)?;
        let all = api.app.store.alerts(200).await?;
        Ok::<_, Problem>(
            all.into_iter()
                .filter(|a| api_alerts::sees(&caller, a))
                .collect::<Vec<_>>(),
        )
    }
    .await;
    let rows = match rows {
        Ok(r) => r,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let alerts: Vec<Value> = rows
        .iter()
        .map(|a| {
            context! {
                id => a.id, name => a.name, status => a.status.as_str(), status_label => a.status.label(lang),
                audience => a.audience, as_of => crate::clock::vn_date(a.as_of),
                created_by => a.created_by, approved_by => a.approved_by,
            }
        })
        .collect();
    let wordings: Vec<Value> = (api.app.rules.alerts().iter())
        .map(|w| context! { template => w.template, name => w.name(lang), series => w.series })
        .collect();
    let mine = staff
        .key
        .scope
        .communes
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let provinces = staff
        .key
        .scope
        .provinces
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    Page {
        lang,
        title: t(lang, "Cảnh báo dịch", "Outbreak alerts"),
        staff: Some(&staff),
        path: "/staff/alerts",
    }
    .respond(
        StatusCode::OK,
        asked,
        "alerts",
        context! {
            alerts => alerts,
            may_draft => Permission::DraftAlerts.allows(staff.key.role),
            wordings => wordings,
            series => api.app.rules.series_ids(),
            communes => mine,
            provinces => provinces,
            today => crate::clock::today_in_vietnam().to_string(),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct DraftForm {
    #[serde(default)]
    csrf: String,
    name: String,
    template: String,
    as_of: Option<String>,
    #[serde(default)]
    provinces: String,
    #[serde(default)]
    communes: String,
    age_from: String,
    age_to: String,
    series: String,
    valid_doses_below: Option<String>,
    #[serde(default)]
    overdue: Option<String>,
    outcome_days: Option<String>,
}

pub async fn draft(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    Form(f): Form<DraftForm>,
) -> Response {
    let caller = staff.caller();
    let result = async {
        staff.check_csrf(&f.csrf)?;
        caller.may(Permission::DraftAlerts)?;
        let condition = if f.overdue.as_deref() == Some("on") {
            Condition {
                series: f.series.clone(),
                valid_doses_below: None,
                overdue: Some(true),
            }
        } else {
            let n = f.valid_doses_below.as_deref().unwrap_or("").trim();
            let n = n.parse::<u32>().map_err(|_| {
                Problem::field("valid_doses_below", "một số từ 1 / a number, 1 or more")
            })?;
            Condition {
                series: f.series.clone(),
                valid_doses_below: Some(n),
                overdue: None,
            }
        };
        let outcome_days = match f
            .outcome_days
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(s) => Some(
                s.parse::<i32>()
                    .map_err(|_| Problem::field("outcome_days", "1–365"))?,
            ),
        };
        let d = Draft {
            name: f.name.clone(),
            template: f.template.clone(),
            as_of: f.as_of.clone().filter(|s| !s.trim().is_empty()),
            provinces: codes(&f.provinces),
            communes: codes(&f.communes),
            age_from: f.age_from.clone(),
            age_to: f.age_to.clone(),
            conditions: vec![condition],
            outcome_days,
        };
        let (alert, _) = api_alerts::draft_alert(&api, &caller, &d).await?;
        Ok::<_, Problem>(alert.id)
    }
    .await;
    match result {
        Ok(id) => Redirect::to(&format!("/staff/alerts/{id}")).into_response(),
        Err(p) => error_page(Lang::Vi, Some(&staff), p),
    }
}

pub async fn alert_page(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let caller = staff.caller();
    let result = async {
        caller.may(Permission::ReadAlerts)?;
        let id = id
            .parse::<i64>()
            .map_err(|_| Problem::not_found("không có cảnh báo này / no such alert"))?;
        let a = api_alerts::visible(&api, &caller, id).await?;
        let steps = api.app.store.alert_steps(id).await?;
        let p = preview::preview(&api.app.store, &api.app.delivery, &a, Utc::now())
            .await
            .map_err(|e| Problem::internal("alert preview", e))?;
        let r = reach::reach(&api.app.store, &api.app.rules, &a)
            .await
            .map_err(|e| Problem::internal("alert reach", e))?;
        Ok::<_, Problem>((a, steps, p, r))
    }
    .await;
    let (a, steps, p, r) = match result {
        Ok(x) => x,
        Err(e) => return error_page(lang, Some(&staff), e),
    };
    let role = staff.key.role;
    let refused = api_alerts::approval_refused(&caller, &a);
    let may_approve = Permission::ApproveAlerts.allows(role) && a.status.awaits_approval();
    let path = format!("/staff/alerts/{}", a.id);
    let communes: Vec<Value> = p
        .communes
        .iter()
        .map(|c| context! { label => commune_label(&c.commune_code), children => c.children, households => c.households, without_contact => c.without_contact })
        .collect();
    let reach_rows: Vec<Value> = r
        .communes
        .iter()
        .map(|c| context! { label => commune_label(&c.commune_code), c => c })
        .collect();
    let steps: Vec<Value> = steps
        .iter()
        .map(|s| context! { at => s.at.with_timezone(&crate::clock::vietnam()).format("%d/%m/%Y %H:%M").to_string(), who => s.who, action => step_label(&s.action, lang), detail => s.detail })
        .collect();
    let hours = |secs: Option<f64>| secs.map(|s| format!("{:.1}", s / 60.0));
    Page {
        lang,
        title: &a.name,
        staff: Some(&staff),
        path: &path,
    }
    .respond(
        StatusCode::OK,
        asked,
        "alert",
        context! {
            a => a, status_label => a.status.label(lang), steps => steps, p => p, communes => communes,
            sms_minutes => hours(p.channels.get("sms").and_then(|c| c.send_seconds)),
            email_minutes => hours(p.channels.get("email").and_then(|c| c.send_seconds)),
            reach => reach_rows, total => r.total, outcome_from => r.outcome_from.map(crate::clock::vn_date),
            outcome_until => r.outcome_until.map(crate::clock::vn_date),
            may_submit => Permission::DraftAlerts.allows(role) && a.status == crate::store::alerts::AlertStatus::Draft,
            may_approve => may_approve && refused.is_none(),
            refused => if may_approve { refused } else { None },
            may_cancel => (Permission::DraftAlerts.allows(role) || Permission::ApproveAlerts.allows(role))
                && matches!(a.status, crate::store::alerts::AlertStatus::Building | crate::store::alerts::AlertStatus::Draft | crate::store::alerts::AlertStatus::PendingApproval | crate::store::alerts::AlertStatus::Sending),
            may_list => Permission::CampaignList.allows(role),
            lang_code => lang_code(lang),
            done => param(&pairs, "done"),
        },
    )
}

fn step_label(action: &str, lang: Lang) -> &str {
    match action {
        "draft" => t(lang, "soạn", "drafted"),
        "submit" => t(lang, "gửi duyệt", "submitted"),
        "approve" => t(lang, "duyệt và gửi", "approved"),
        "approve-refused" => t(lang, "duyệt bị từ chối", "approval refused"),
        "cancel" => t(lang, "huỷ", "cancelled"),
        "complete" => t(lang, "gửi xong", "completed"),
        other => other,
    }
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `submit`, `approve` or `cancel` from the alert's page.
pub async fn act(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ActionForm>,
) -> Response {
    let caller = staff.caller();
    let result = async {
        staff.check_csrf(&f.csrf)?;
        if caller.may(Permission::DraftAlerts).is_err() {
            caller.may(Permission::ApproveAlerts)?;
        }
        let id = id
            .parse::<i64>()
            .map_err(|_| Problem::not_found("không có cảnh báo này / no such alert"))?;
        let a = api_alerts::visible(&api, &caller, id).await?;
        match action.as_str() {
            "submit" => {
                caller.may(Permission::DraftAlerts)?;
                let by = crate::store::alerts::Actor {
                    name: &caller.0.name,
                    role: caller.0.role.as_str(),
                };
                if !api.app.store.submit_alert(id, by, Utc::now()).await? {
                    return Err(Problem::conflict(
                        "chỉ gửi duyệt được bản nháp / only a draft can be submitted",
                    ));
                }
            }
            "approve" => {
                caller.may(Permission::ApproveAlerts)?;
                api_alerts::approve_alert(&api, &caller, &a).await?;
            }
            "cancel" => {
                if caller.may(Permission::DraftAlerts).is_err() {
                    caller.may(Permission::ApproveAlerts)?;
                }
                let reason: String = f
                    .reason
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(500)
                    .collect();
                api_alerts::cancel_alert(&api, &caller, &a, &reason).await?;
            }
            _ => return Err(Problem::not_found("submit | approve | cancel")),
        }
        Ok::<_, Problem>(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/staff/alerts/{id}?done={action}")).into_response(),
        Err(p) => error_page(Lang::Vi, Some(&staff), p),
    }
}
