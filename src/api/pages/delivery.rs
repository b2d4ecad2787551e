//! What was sent, what failed, dead letters, with a retry button (recipients masked).

use super::super::permissions::Permission;
use super::super::problem::Problem;
use super::super::reports::query_pairs;
use super::super::ApiState;
use super::{error_page, lang_of, param, t, urlencode, CsrfForm, Page, Staff};
use crate::rules::Lang;
use crate::store::MessageStatus;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::{context, Value};
use std::sync::Arc;

pub async fn delivery(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let caller = staff.caller();
    let result = async {
        caller.may(Permission::Messages)?;
        let q = super::super::messages::MessagesQuery {
            status: param(&pairs, "status").map(String::from),
            channel: param(&pairs, "channel").map(String::from),
            day: param(&pairs, "day").map(String::from),
            limit: Some(200),
        };
        let counts = api.app.store.outbox_counts().await?;
        let messages = api.app.store.list_messages(&q.filter()?).await?;
        Ok::<_, Problem>((counts, messages))
    }
    .await;
    let (counts, messages) = match result {
        Ok(x) => x,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let counts: Vec<Value> = counts
        .iter()
        .map(|(channel, status, n)| {
            context! { channel => channel_label(channel.as_str()), status => status.as_str(), status_label => MessageStatus::parse(status).map_or(status.as_str(), |s| s.label(lang)), n => n }
        })
        .collect();
    let messages: Vec<Value> = messages
        .iter()
        .map(|m| {
            context! {
                id => m.id,
                day => crate::clock::vn_date(m.day),
                channel => channel_label(m.channel.as_str()),
                status => m.status.label(lang),
                recipient => crate::registry::personal_id::mask_raw(&m.recipient_id),
                address => super::super::messages::mask_address(&m.address),
                attempts => m.attempts,
                error => m.last_error.as_deref().unwrap_or(""),
                retryable => m.status.retryable(),
            }
        })
        .collect();
    let statuses: Vec<Value> = MessageStatus::ALL
        .iter()
        .map(|s| context! { code => s.as_str(), label => s.label(lang) })
        .collect();
    Page {
        lang,
        title: t(lang, "Gửi tin nhắn", "Delivery"),
        staff: Some(&staff),
        path: "/staff/delivery",
    }
    .respond(
        StatusCode::OK,
        asked,
        "delivery",
        context! {
            retried => param(&pairs, "retried"),
            counts => counts,
            statuses => statuses,
            status => param(&pairs, "status").unwrap_or(""),
            day => param(&pairs, "day").unwrap_or(""),
            messages => messages,
        },
    )
}

pub async fn retry(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let caller = staff.caller();
    let result = async {
        staff.check_csrf(&form.csrf)?;
        caller.may(Permission::Messages)?;
        super::super::messages::retry_message(&api, &id).await
    }
    .await;
    match result {
        Ok(()) => {
            Redirect::to(&format!("/staff/delivery?retried={}", urlencode(&id))).into_response()
        }
        Err(p) => error_page(Lang::Vi, Some(&staff), p),
    }
}

fn channel_label(channel: &str) -> &str {
    match channel {
        "sms" => "SMS",
        "email" => "Email",
        other => other,
    }
}
