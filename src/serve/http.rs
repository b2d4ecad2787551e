//! The HTTP side of `vongdoi serve`: `/healthz`, the SMS gateway's delivery reports, the API of
//! issue #6 on the main listener; Prometheus `/metrics` on a listener of its own, so it can
//! stay on an internal address while the API is published.

use super::AppState;
use crate::runtime::shutdown::Shutdown;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub fn app_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/webhooks/sms", post(delivery_report))
        .route("/webhooks/zalo", post(super::zalo::event))
        .route(
            "/webhooks/sms/inbound",
            post(super::inbound::generic).get(super::inbound::esms),
        )
        .route(
            "/unsubscribe/{id}",
            get(super::unsubscribe::ask).post(super::unsubscribe::confirm),
        )
        .with_state(state.clone())
        .merge(crate::api::router(state))
}

/// The main listener, in HTTPS when an acceptor is given. The peer's address reaches the
/// handlers (wrong passwords are counted per address); over HTTPS every request is marked so
/// that cookies are `Secure`.
pub async fn serve_app(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: AppState,
    stop: Shutdown,
) -> anyhow::Result<()> {
    use super::tls::Peer;
    let router = app_router(state);
    match tls {
        None => {
            let app = router.into_make_service_with_connect_info::<Peer>();
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.wait().await })
                .await?;
        }
        Some(acceptor) => {
            let router = router.layer(axum::middleware::map_request(
                |mut req: axum::extract::Request| async move {
                    req.headers_mut().insert(
                        crate::api::TLS_MARKER,
                        axum::http::HeaderValue::from_static("1"),
                    );
                    req
                },
            ));
            let listener = super::tls::TlsListener::new(listener, acceptor)?;
            let app = router.into_make_service_with_connect_info::<Peer>();
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.wait().await })
                .await?;
        }
    }
    Ok(())
}

pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    stop: Shutdown,
) -> anyhow::Result<()> {
    let router = Router::new()
        .route("/metrics", get(metrics))
        .with_state(state);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.wait().await })
        .await?;
    Ok(())
}

/// 200 when the database answers; 503 otherwise (a load balancer takes the instance out).
async fn healthz(State(state): State<AppState>) -> Response {
    // A run being retried is reported, not an outage: the service answers and will carry on.
    let retrying = state.metrics.retrying().map(|(day, error)| {
        let day = chrono::NaiveDate::from_num_days_from_ce_opt(day as i32 + 719_163);
        json!({"as_of": day, "error": error, "problem": "lượt chạy lỗi, đang thử lại / a run failed and is being retried"})
    });
    match state.store.ping().await {
        Ok(()) => Json(
            json!({"status": "ok", "database": state.store.backend(), "run_retrying": retrying}),
        )
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "problem": "cơ sở dữ liệu không trả lời / database not answering"})),
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let outbox = match state.store.outbox_counts().await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "metrics: cannot count the outbox");
            Vec::new()
        }
    };
    let alerts = state.store.alert_counts().await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "metrics: cannot count the alerts");
        Vec::new()
    });
    let in_flight = state.store.alert_message_counts().await.unwrap_or_default();
    let mut body = state.metrics.render(&outbox, Utc::now().timestamp());
    body.push_str(&crate::runtime::metrics::render_alerts(&alerts, &in_flight));
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
pub(super) struct TokenQuery {
    pub token: Option<String>,
}

/// A delivery report from the SMS gateway. Accepts the generic shape
/// `{"id": MESSAGE_ID, "status": "delivered"|"failed", "error": "…"}` and the common field
/// names of Vietnamese gateways (`RequestId`, `SMSID`/`tranId` for the provider's id,
/// `SendStatus`/`status`). A report for an unknown message is 404 so the gateway can tell.
async fn delivery_report(
    State(state): State<AppState>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    if let Some(refused) = refuse_unsigned(&state, q.token, &headers) {
        return refused;
    }
    let Some(Json(report)) = body else {
        return problem(
            StatusCode::BAD_REQUEST,
            "cần JSON / a JSON body is required",
        );
    };
    let text = |keys: &[&str]| {
        keys.iter().find_map(|k| match report.get(*k)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let Some(key) = text(&[
        "id",
        "message_id",
        "RequestId",
        "request_id",
        "provider_id",
        "SMSID",
        "tranId",
    ]) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "thiếu mã tin nhắn / no message id (id, RequestId, SMSID…)",
        );
    };
    let status = text(&["status", "SendStatus", "state"])
        .unwrap_or_default()
        .to_lowercase();
    let delivered = match status.as_str() {
        "delivered" | "delivrd" | "success" | "ok" | "5" => true,
        "failed" | "undeliv" | "undelivered" | "rejected" | "expired" | "fail" | "error" => false,
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "trạng thái không rõ / unknown status: use delivered or failed",
            )
        }
    };
    let error = text(&["error", "reason", "ErrorMessage"]);
    match state
        .store
        .record_delivery_report(&key, delivered, error.as_deref(), Utc::now())
        .await
    {
        Ok(true) => {
            state
                .metrics
                .delivery_report(if delivered { "delivered" } else { "failed" });
            Json(json!({"recorded": true})).into_response()
        }
        Ok(false) => problem(
            StatusCode::NOT_FOUND,
            "không có tin nhắn đã gửi với mã này / no sent message with this id",
        ),
        Err(e) => {
            tracing::error!(error = %e, "delivery report not recorded");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "thử lại sau / try again later",
            )
        }
    }
}

/// The webhook token check every gateway callback passes (delivery reports, inbound SMS):
/// `?token=` or `X-Vongdoi-Token`; None when the request may go on.
pub(super) fn refuse_unsigned(
    state: &AppState,
    token: Option<String>,
    headers: &HeaderMap,
) -> Option<Response> {
    match &state.webhook_token {
        Some(expected) => {
            let given = token.or_else(|| {
                headers
                    .get("x-vongdoi-token")
                    .and_then(|v| v.to_str().ok())
                    .map(String::from)
            });
            if !same_secret(given.as_deref().unwrap_or(""), expected) {
                return Some(problem(
                    StatusCode::UNAUTHORIZED,
                    "thiếu hoặc sai mã / missing or wrong token (VONGDOI_WEBHOOK_TOKEN)",
                ));
            }
            None
        }
        // Without a token anyone could mark messages delivered or failed, or opt a family
        // out (issue #10).
        None if !state.webhook_allow_unsigned => Some(problem(
            StatusCode::UNAUTHORIZED,
            "báo cáo gửi bị từ chối: chưa đặt mã / gateway callbacks are refused: set \
             VONGDOI_WEBHOOK_TOKEN (or --webhook-token) and give the gateway the URL with \
             ?token=…; VONGDOI_WEBHOOK_ALLOW_UNSIGNED=1 accepts callbacks from anyone",
        )),
        None => None,
    }
}

/// Compares in time that does not depend on where the strings differ.
pub(super) fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// RFC 9457 problem details, the same shape as every API error.
pub(super) fn problem(status: StatusCode, detail: &str) -> Response {
    crate::api::problem::Problem::new(status, detail).into_response()
}
