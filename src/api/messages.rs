//! `/api/messages`: what was sent, what failed, dead letters; a retry. Recipients and
//! addresses are masked as in `vongdoi messages` (docs/domain.md §7); bodies are not returned.

use super::auth::Caller;
use super::citizens::parse_date_field;
use super::keys::Role;
use super::problem::{ApiPath, ApiQuery, ApiResult, Problem};
use super::ApiState;
use crate::store::outbox::{MessageFilter, OutboxMessage};
use crate::store::{Channel, MessageStatus};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    pub status: Option<String>,
    pub channel: Option<String>,
    pub day: Option<String>,
    pub limit: Option<i64>,
}

impl MessagesQuery {
    pub fn filter(&self) -> ApiResult<MessageFilter> {
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => Some(MessageStatus::parse(s).ok_or_else(|| {
                let all: Vec<&str> = MessageStatus::ALL.iter().map(|s| s.as_str()).collect();
                Problem::field("status", format!("một trong / one of {}", all.join(", ")))
            })?),
        };
        let channel = match self.channel.as_deref() {
            None => None,
            Some(c) => Some(
                Channel::parse(c).ok_or_else(|| Problem::field("channel", "sms hoặc/or email"))?,
            ),
        };
        let day = self
            .day
            .as_deref()
            .map(|d| parse_date_field("day", d))
            .transpose()?;
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(Problem::field("limit", "1–1000"));
        }
        Ok(MessageFilter {
            status,
            channel,
            day,
            limit,
        })
    }
}

/// The last 3 characters of a phone number, the domain of an email address.
pub fn mask_address(a: &str) -> String {
    match a.split_once('@') {
        Some((_, domain)) => format!("…@{domain}"),
        None => format!(
            "…{}",
            a.chars()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<String>()
        ),
    }
}

pub fn message_json(m: &OutboxMessage) -> Value {
    json!({
        "id": m.id, "day": m.day, "channel": m.channel, "status": m.status,
        "recipient": crate::registry::personal_id::mask_raw(&m.recipient_id),
        "address": mask_address(&m.address), "attempts": m.attempts, "segments": m.segments,
        "next_attempt_at": m.next_attempt_at, "last_error": m.last_error, "provider_id": m.provider_id,
    })
}

pub const ROLES: &[Role] = &[Role::Auditor];

pub async fn list(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> ApiResult<Response> {
    caller.may(super::permissions::Permission::Messages)?;
    let messages = api.app.store.list_messages(&q.filter()?).await?;
    Ok(Json(messages.iter().map(message_json).collect::<Vec<_>>()).into_response())
}

/// Queues a failed or dead message again; 404 for an unknown id, 409 for one in another state.
pub async fn retry_message(api: &ApiState, id: &str) -> ApiResult<()> {
    if api.app.store.retry_message(id, Utc::now()).await? {
        tracing::info!(message = %id, "message queued again by staff");
        return Ok(());
    }
    match api.app.store.message(id).await? {
        None => Err(Problem::not_found("không có tin nhắn này / no such message")),
        Some(m) => Err(Problem::conflict(format!(
            "tin nhắn đang ở trạng thái {} / the message is {}: only failed or dead messages are retried",
            m.status, m.status
        ))),
    }
}

pub async fn retry(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.may(super::permissions::Permission::Messages)?;
    retry_message(&api, &id).await?;
    let m = api
        .app
        .store
        .message(&id)
        .await?
        .ok_or_else(|| Problem::not_found("không có tin nhắn này / no such message"))?;
    Ok(Json(message_json(&m)).into_response())
}
