//! `/webhooks/sms/inbound`: the SMS families send to the short code, as gateways deliver them
//! (issue #16). Two shapes:
//!
//! - **generic** (`POST`, JSON): `{"id": PROVIDER_ID, "from": "+84…" | "0…", "text": "…",
//!   "received_at": RFC 3339}`, with the webhook token (`?token=` or `X-Vongdoi-Token`);
//! - **eSMS** (`GET`, its MO callback for 8x40 short codes): `?sender=84…&content=…&smsid=…
//!   &receiverTime=yyyyMMddHHmmss&cpid=…&serviceNumber=…&keyword=…&sign=…`, where `sign` is
//!   Base64(MD5(cpid + smsid + content + receiverTime + key)). With `VONGDOI_ESMS_MO_KEY` set
//!   the signature is what is checked; without it, the webhook token. It is answered with
//!   eSMS's `<ClientResponse>` (no inline text: confirmations go through the outbox, with its
//!   window, rate and retries).
//!
//! The same provider id twice is one message: the second answer says `duplicate`.

use super::http::{problem, refuse_unsigned, same_secret, TokenQuery};
use super::AppState;
use crate::inbound::{Handled, Received};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub struct GenericInbound {
    id: serde_json::Value,
    from: String,
    text: String,
    #[serde(default)]
    received_at: Option<String>,
}

pub async fn generic(
    State(state): State<AppState>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    body: Option<Json<GenericInbound>>,
) -> Response {
    if let Some(refused) = refuse_unsigned(&state, q.token, &headers) {
        return refused;
    }
    let Some(Json(m)) = body else {
        return problem(
            StatusCode::BAD_REQUEST,
            "cần JSON {\"id\", \"from\", \"text\", \"received_at\"} / a JSON body {id, from, text, received_at} is required",
        );
    };
    let id = match &m.id {
        serde_json::Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "id: cần mã tin của cổng SMS / the gateway's message id is required",
            )
        }
    };
    let received_at = match m.received_at.as_deref() {
        None | Some("") => Utc::now(),
        Some(t) => match DateTime::parse_from_rfc3339(t) {
            Ok(t) => t.with_timezone(&Utc),
            Err(_) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "received_at: cần thời điểm RFC 3339 / an RFC 3339 time, e.g. 2026-12-02T08:15:00+07:00",
                )
            }
        },
    };
    handle(&state, "generic", id, &m.from, &m.text, received_at, false).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EsmsInbound {
    sender: String,
    content: String,
    smsid: String,
    #[serde(default)]
    receiver_time: String,
    #[serde(default)]
    cpid: String,
    #[serde(default)]
    sign: String,
    #[serde(default)]
    token: Option<String>,
}

pub async fn esms(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<EsmsInbound>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(m)) = q else {
        return problem(
            StatusCode::BAD_REQUEST,
            "cần sender, content, smsid (tin MO của eSMS) / sender, content and smsid are required (an eSMS MO callback)",
        );
    };
    match &state.delivery.esms_mo_key {
        Some(key) => {
            let expected = esms_sign(&m.cpid, &m.smsid, &m.content, &m.receiver_time, key);
            // Base64 holds '+', which a query string not percent-encoded turns into a space.
            if !same_secret(&m.sign.replace(' ', "+"), &expected) {
                return problem(
                    StatusCode::UNAUTHORIZED,
                    "chữ ký sai / wrong sign (VONGDOI_ESMS_MO_KEY)",
                );
            }
        }
        None => {
            if let Some(refused) = refuse_unsigned(&state, m.token.clone(), &headers) {
                return refused;
            }
        }
    }
    // eSMS gives Vietnam's local time, yyyyMMddHHmmss.
    let received_at = NaiveDateTime::parse_from_str(&m.receiver_time, "%Y%m%d%H%M%S")
        .ok()
        .and_then(|t| crate::clock::vietnam().from_local_datetime(&t).single())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
    let smsid = m.smsid.trim().to_string();
    if smsid.is_empty() {
        return problem(StatusCode::BAD_REQUEST, "smsid: trống / empty");
    }
    handle(
        &state,
        "esms",
        smsid,
        &m.sender,
        &m.content,
        received_at,
        true,
    )
    .await
}

/// eSMS's signature: Base64(MD5(cpid + smsid + content + receiverTime + key)).
pub fn esms_sign(cpid: &str, smsid: &str, content: &str, time: &str, key: &str) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(format!("{cpid}{smsid}{content}{time}{key}").as_bytes());
    crate::delivery::gateway::base64(&digest)
}

async fn handle(
    state: &AppState,
    provider: &'static str,
    id: String,
    from: &str,
    text: &str,
    received_at: DateTime<Utc>,
    esms: bool,
) -> Response {
    if id.chars().count() > 100 {
        return problem(
            StatusCode::BAD_REQUEST,
            "id: quá dài / too long (100 at most)",
        );
    }
    let Some(from) = crate::store::inbound::e164(from) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "from: không phải số di động Việt Nam / not a Vietnamese mobile number (+84… or 0…)",
        );
    };
    let received = Received {
        provider,
        provider_id: crate::store::outbox::outside_text(&id),
        from,
        text: text.to_string(),
        received_at,
    };
    match crate::inbound::receive(
        &state.store,
        &state.rules,
        &state.delivery,
        received,
        Utc::now(),
    )
    .await
    {
        Ok(handled) => {
            state.metrics.inbound(match &handled {
                Handled::Duplicate => "duplicate",
                Handled::Recorded { action, .. } => action.as_str(),
            });
            if esms {
                // eSMS wants its XML; nothing to send inline.
                return (
                    [("content-type", "application/xml; charset=utf-8")],
                    "<ClientResponse><Message></Message></ClientResponse>",
                )
                    .into_response();
            }
            match handled {
                Handled::Duplicate => {
                    Json(json!({"recorded": false, "duplicate": true})).into_response()
                }
                Handled::Recorded { id, action } => {
                    Json(json!({"recorded": true, "id": id, "action": action})).into_response()
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "inbound SMS not recorded");
            // 503: the gateway keeps it and posts it again.
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "thử lại sau / try again later",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn esms_sign_is_base64_of_md5() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e → 1B2M2Y8AsgTpgAmY7PhCfg==
        assert_eq!(
            super::esms_sign("", "", "", "", ""),
            "1B2M2Y8AsgTpgAmY7PhCfg=="
        );
        assert_ne!(
            super::esms_sign("1", "2", "HUY", "20261202081500", "k"),
            super::esms_sign("1", "2", "HUY", "20261202081500", "K")
        );
    }
}
