//! The commune's inbox on the staff pages (issue #16): `/staff/inbox` shows what families
//! texted back — unanswered first, then answered — with the reminder it answers and the
//! child, a box to answer by SMS (through the outbox), a button to mark it done, and how fast
//! the commune answers; below, the doses families reported ("ĐÃ TIÊM") for a nurse to confirm
//! or reject. The rules are the API's (`api::inbox`): the same area checks, the same audit.

use super::super::inbox as api_inbox;
use super::super::permissions::Permission;
use super::super::problem::Problem;
use super::super::reports::query_pairs;
use super::super::ApiState;
use super::{commune_label, error_page, lang_of, param, t, Page, Staff};
use crate::registry::PersonalId;
use crate::rules::Lang;
use crate::store::inbound::ReportStatus;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::{context, Value};
use serde::Deserialize;
use std::sync::Arc;

pub async fn inbox_page(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let caller = staff.caller();
    let status = param(&pairs, "status").unwrap_or("open").to_string();
    let commune = param(&pairs, "commune").map(str::to_string);
    let q = api_inbox::InboxQuery {
        commune: commune.clone(),
        status: Some(status.clone()),
        limit: Some(200),
    };
    let loaded = async {
        let (rows, figures) = api_inbox::inbox_of(&api, &caller, &q).await?;
        // The nurse's part: reported doses, for those who may record doses.
        let reported = if caller.may(Permission::RecordDose).is_ok() {
            api_inbox::reported_of(&api, &caller, commune.as_deref(), ReportStatus::Pending).await?
        } else {
            Vec::new()
        };
        Ok::<_, Problem>((rows, figures, reported))
    }
    .await;
    let (rows, figures, reported) = match loaded {
        Ok(x) => x,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    // Names of the children and families the page shows (already audited as listed).
    let mut pins: Vec<PersonalId> = (rows.iter())
        .flat_map(|r| r.citizen_id.iter().chain(r.child_id.iter()))
        .chain(reported.iter().map(|r| &r.personal_id))
        .filter_map(|p| PersonalId::parse(p).ok())
        .collect();
    pins.sort();
    pins.dedup();
    let people = match api.app.store.citizens_by_ids(&pins).await {
        Ok(p) => p,
        Err(e) => return error_page(lang, Some(&staff), e.into()),
    };
    let name_of = |pin: &Option<String>| -> Option<String> {
        let pin = pin.as_deref()?;
        (people.iter())
            .find(|p| p.citizen.personal_id.as_str() == pin)
            .map(|p| p.citizen.full_name.to_string())
    };
    let replies: Vec<Value> = rows
        .iter()
        .map(|r| {
            context! {
                id => r.id, text => r.body, from => super::super::messages::mask_address(&r.from_number),
                received => r.received_at.with_timezone(&crate::clock::vietnam()).format("%d/%m/%Y %H:%M").to_string(),
                action => r.action.label(lang), open => r.status == crate::store::inbound::InboxStatus::Open,
                status => r.status.as_str(), commune => commune_label(&r.commune_code),
                family => name_of(&r.citizen_id), child => r.child_id, child_name => name_of(&r.child_id),
                answers => r.answers, done_by => r.done_by,
                replies => r.replies.iter().map(|x| context! { kind => x.kind, body => x.body, by => x.by, status => x.message_status }).collect::<Vec<_>>(),
            }
        })
        .collect();
    let reported: Vec<Value> = reported
        .iter()
        .map(|r| {
            let series = r.series.as_str();
            context! {
                id => r.id, child => r.personal_id, child_name => name_of(&Some(r.personal_id.clone())),
                text => r.text, item => r.item, series => series,
                reported => r.reported_at.with_timezone(&crate::clock::vietnam()).date_naive().to_string(),
                vaccines => api.app.rules.vaccines_of_series(series).iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            }
        })
        .collect();
    let median = figures.median_hours.map(|h| format!("{h:.1}"));
    let here = format!("/staff/inbox?status={status}");
    let page = Page {
        lang,
        title: t(lang, "Tin nhắn đến", "Replies"),
        staff: Some(&staff),
        path: &here,
    };
    page.respond(
        StatusCode::OK,
        asked,
        "inbox",
        context! {
            replies => replies, reported => reported, figures => figures, median_hours => median,
            status => status, commune => commune, csrf => staff.csrf(),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct InboxForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    vaccine: String,
    #[serde(default)]
    date_given: String,
}

/// `reply` or `done` on a reply of the inbox.
pub async fn act(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<InboxForm>,
) -> Response {
    let caller = staff.caller();
    let result = async {
        staff.check_csrf(&f.csrf)?;
        caller.may(Permission::Inbox)?;
        let id = id
            .parse::<i64>()
            .map_err(|_| Problem::not_found("không có tin nhắn đến này / no such reply"))?;
        match action.as_str() {
            "reply" => api_inbox::answer(&api, &caller, id, &f.text)
                .await
                .map(|_| ()),
            "done" => api_inbox::set_done(&api, &caller, id, true)
                .await
                .map(|_| ()),
            "reopen" => api_inbox::set_done(&api, &caller, id, false)
                .await
                .map(|_| ()),
            _ => Err(Problem::not_found("reply | done | reopen")),
        }
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/staff/inbox?done={action}")).into_response(),
        Err(p) => error_page(Lang::Vi, Some(&staff), p),
    }
}

/// `confirm` (with the vaccine and date) or `reject` a reported dose.
pub async fn decide(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<InboxForm>,
) -> Response {
    let caller = staff.caller();
    let result = async {
        staff.check_csrf(&f.csrf)?;
        caller.may(Permission::RecordDose)?;
        match action.as_str() {
            "confirm" => {
                let input = super::super::citizens::doses::ImmunizationInput {
                    vaccine: f.vaccine.clone(),
                    date_given: f.date_given.clone(),
                    place: None,
                    lot: None,
                };
                api_inbox::confirm_reported(&api, &caller, &id, input)
                    .await
                    .map(|_| ())
            }
            "reject" => api_inbox::reject_reported(&api, &caller, &id)
                .await
                .map(|_| ()),
            _ => Err(Problem::not_found("confirm | reject")),
        }
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/staff/inbox?done={action}")).into_response(),
        Err(p) => error_page(Lang::Vi, Some(&staff), p),
    }
}
