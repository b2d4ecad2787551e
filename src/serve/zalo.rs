//! Zalo's OA webhook (`POST /webhooks/zalo`): `user_received_message` says a ZNS reached the
//! phone, and marks the message (found by Zalo's `msg_id`, kept as its provider id) delivered.
//! Other events (`user_seen_message`, …) are answered 200 and ignored, so Zalo does not retry
//! them. Authenticated like `/webhooks/sms` (`VONGDOI_WEBHOOK_TOKEN` in `?token=` or
//! `X-Vongdoi-Token`), or by Zalo's own signature when `VONGDOI_ZNS_OA_SECRET` is set:
//! `X-ZEvent-Signature: mac=sha256(app_id + raw body + timestamp + OA secret key)`.

use super::http::{problem, same_secret, TokenQuery};
use super::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Value};

/// Zalo's signature of an event: hex SHA-256 of app id, raw body, timestamp and OA secret.
pub fn signature(app_id: &str, body: &[u8], timestamp: &str, oa_secret: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(app_id.as_bytes());
    h.update(body);
    h.update(timestamp.as_bytes());
    h.update(oa_secret.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn signed(state: &AppState, headers: &HeaderMap, body: &[u8], event: Option<&Value>) -> bool {
    let Some(zns) = &state.delivery.zns else {
        return false;
    };
    let Some(secret) = &zns.oa_secret else {
        return false;
    };
    let Some(given) = headers
        .get("x-zevent-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let timestamp = match event.and_then(|e| e.get("timestamp")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return false,
    };
    let mac = signature(&zns.oauth.app_id, body, &timestamp, secret);
    same_secret(given.trim().trim_start_matches("mac="), &mac)
}

pub(super) async fn event(
    State(state): State<AppState>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let given = q.token.or_else(|| {
        headers
            .get("x-vongdoi-token")
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    });
    let by_token = (state.webhook_token.as_deref())
        .is_some_and(|expected| same_secret(given.as_deref().unwrap_or(""), expected));
    let open = state.webhook_token.is_none() && state.webhook_allow_unsigned;
    if !(by_token || open || signed(&state, &headers, &body, parsed.as_ref())) {
        return problem(
            StatusCode::UNAUTHORIZED,
            "thiếu hoặc sai mã / missing or wrong token (VONGDOI_WEBHOOK_TOKEN) or Zalo signature (VONGDOI_ZNS_OA_SECRET)",
        );
    }
    let Some(event) = parsed else {
        return problem(
            StatusCode::BAD_REQUEST,
            "cần JSON / a JSON body is required",
        );
    };
    if event.get("event_name").and_then(Value::as_str) != Some("user_received_message") {
        return Json(json!({"ignored": true})).into_response();
    }
    let msg_id = match event.pointer("/message/msg_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "thiếu message.msg_id / no message.msg_id",
            )
        }
    };
    match (state.store)
        .record_delivery_report(&msg_id, true, None, Utc::now())
        .await
    {
        Ok(true) => {
            state.metrics.delivery_report("delivered");
            Json(json!({"recorded": true})).into_response()
        }
        Ok(false) => problem(
            StatusCode::NOT_FOUND,
            "không có tin ZNS đã gửi với mã này / no sent message with this msg_id",
        ),
        Err(e) => {
            tracing::error!(error = %e, "Zalo event not recorded");
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
    fn the_signature_covers_app_body_time_and_secret() {
        let s = super::signature("app", b"{}", "1700000000000", "secret");
        assert_eq!(s.len(), 64);
        assert_ne!(
            s,
            super::signature("app", b"{ }", "1700000000000", "secret")
        );
        assert_ne!(s, super::signature("app", b"{}", "1700000000001", "secret"));
        assert_ne!(s, super::signature("app", b"{}", "1700000000000", "other"));
    }
}
