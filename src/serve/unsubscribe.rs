//! One-click unsubscribe from reminder emails (issue #13 item 6; RFC 8058): the email's
//! `List-Unsubscribe` link is `/unsubscribe/{message_id}`. `GET` asks (a mail scanner that
//! follows links must not unsubscribe anyone), `POST` — the button, or a mail client's
//! one-click `List-Unsubscribe=One-Click` — opts the recipient out of email.
//!
//! The message id is an HMAC under the installation's secret (80 bits), known only to the
//! recipient, the mail provider and staff: holding it is what allows stopping that person's
//! email, nothing more. The page shows the address masked and no name.
//!
//! An outbreak alert's email (issue #15) carries the same link, which stops alerts only:
//! alerts have their own opt-out, and a family that wants no alerts keeps its reminders.

use super::AppState;
use crate::registry::PersonalId;
use crate::store::Channel;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;

/// `a…@example.vn`: enough for the family to recognise its address, not enough to learn one.
fn masked(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".into(),
    }
}

fn page(done: bool, unknown: bool, address: &str) -> Response {
    page_of(done, unknown, address, false)
}

fn page_of(done: bool, unknown: bool, address: &str, alert: bool) -> Response {
    match crate::html::render(
        "email/unsubscribe.html",
        minijinja::context! { done, unknown, alert, address => masked(address) },
    ) {
        Ok(html) => {
            // 410 Gone: the link is not (or no longer) one of ours; the page says whom to ask.
            let status = if unknown {
                StatusCode::GONE
            } else {
                StatusCode::OK
            };
            (status, Html(html)).into_response()
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "unsubscribe page");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The email message behind a link, when it is one.
async fn email_message(
    state: &AppState,
    id: &str,
) -> Result<Option<crate::store::outbox::OutboxMessage>, Response> {
    if id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Ok(None);
    }
    match state.store.message(id).await {
        Ok(m) => Ok(m.filter(|m| m.channel == Channel::Email)),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe: cannot read the message");
            Err(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
}

pub async fn ask(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match email_message(&state, &id).await {
        Err(r) => r,
        Ok(None) => page(false, true, ""),
        Ok(Some(m)) => page_of(false, false, &m.address, m.alert_id > 0),
    }
}

pub async fn confirm(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let m = match email_message(&state, &id).await {
        Err(r) => return r,
        Ok(None) => return page(false, true, ""),
        Ok(Some(m)) => m,
    };
    let Ok(pin) = PersonalId::parse(&m.recipient_id) else {
        return page(false, true, "");
    };
    if m.alert_id > 0 {
        return match (state.store)
            .set_alert_opt_out(&m.recipient_id, true, "unsubscribe-link", Utc::now())
            .await
        {
            Ok(_) => {
                tracing::info!(message = %m.id, "alert opt-out from an unsubscribe link");
                page_of(true, false, &m.address, true)
            }
            Err(e) => {
                tracing::error!(error = %e, "unsubscribe: cannot record the alert opt-out");
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        };
    }
    match (state.store)
        .set_opt_out(pin, Channel::Email, true, "unsubscribe-link", Utc::now())
        .await
    {
        Ok(_) => {
            tracing::info!(message = %m.id, "email opt-out from an unsubscribe link");
            page(true, false, &m.address)
        }
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe: cannot record the opt-out");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
