//! One email, built once for every transport: the `.eml` file of the embedded default holds
//! the same bytes an SMTP server would receive (apart from the MIME boundary). UTF-8 subject
//! and body with diacritics kept, plain text and HTML (issue #4 §5), and a Message-ID derived
//! from the message id so that a resend is recognisably the same message.

use super::SendError;
use crate::store::outbox::OutboxMessage;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

/// `<id@domain>`: the operator's mail domain, so receiving servers see a real one.
pub fn message_id_header(id: &str, domain: &str) -> String {
    format!("<{id}@{domain}>")
}

/// What an email carries besides the message: the From of its sender, the Message-ID's domain
/// and the unsubscribe link (RFC 2369, one-click by RFC 8058 when it is an https link).
pub struct Envelope<'a> {
    pub from: &'a Mailbox,
    pub domain: &'a str,
    pub unsubscribe: &'a str,
}

pub fn build(m: &OutboxMessage, envelope: &Envelope) -> Result<Message, SendError> {
    use lettre::message::header::{HeaderName, HeaderValue};
    let from = envelope.from;
    let to: Mailbox = m.address.parse().map_err(|e| {
        SendError::Permanent(format!(
            "địa chỉ email không hợp lệ / invalid email address: {e}"
        ))
    })?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&m.subject)
        .message_id(Some(message_id_header(&m.id, envelope.domain)))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            format!("<{}>", envelope.unsubscribe),
        ))
        // The time the message was queued for, not the send time: a resend is the same bytes.
        .date(m.next_attempt_at.into());
    if envelope.unsubscribe.starts_with("http") {
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".to_string(),
        ));
    }
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(m.body.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html(m)?),
                ),
        )
        .map_err(|e| SendError::Permanent(format!("cannot build the email: {e}")))
}

/// The HTML part: the same paragraphs, readable on a phone (`templates/email/message.html`).
fn html(m: &OutboxMessage) -> Result<String, SendError> {
    let lang = if m.language == "en" { "en" } else { "vi" };
    let paragraphs: Vec<Vec<&str>> = m
        .body
        .split("\n\n")
        .map(|p| p.split('\n').collect())
        .collect();
    crate::html::render(
        "email/message.html",
        minijinja::context! { lang, subject => &m.subject, paragraphs },
    )
    .map_err(|e| SendError::Permanent(format!("email/message.html: {e:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    fn message(body: &str) -> OutboxMessage {
        OutboxMessage {
            id: "20261121-email-00ff".into(),
            recipient_id: "001190000001".into(),
            channel: crate::store::Channel::Email,
            address: "me@example.vn".into(),
            day: NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
            language: "vi".into(),
            subject: "Nhắc lịch tiêm chủng".into(),
            body: body.into(),
            encoding: None,
            segments: None,
            status: crate::store::MessageStatus::Sending,
            attempts: 1,
            next_attempt_at: Utc.with_ymd_and_hms(2026, 11, 21, 1, 0, 0).unwrap(),
            last_error: None,
            provider_id: None,
            sender: "health".into(),
            sender_name: "Trạm Y tế phường Ba Đình".into(),
            alert_id: 0,
            zns_template_id: None,
            template_data: None,
        }
    }

    #[test]
    fn same_message_same_headers_and_both_parts() {
        let from: Mailbox = "vongdoi <vongdoi@xa.gov.vn>".parse().unwrap();
        let envelope = Envelope {
            from: &from,
            domain: "xa.gov.vn",
            unsubscribe: "https://nhaclich.xa.gov.vn/unsubscribe/20261121-email-00ff",
        };
        let m = message("Bé <An> cần tiêm & uống.\n\nTrạm y tế xã.");
        let a = String::from_utf8(build(&m, &envelope).unwrap().formatted()).unwrap();
        assert!(
            a.contains("Message-ID: <20261121-email-00ff@xa.gov.vn>"),
            "{a}"
        );
        assert!(
            a.contains(
                "List-Unsubscribe: <https://nhaclich.xa.gov.vn/unsubscribe/20261121-email-00ff>"
            ) && a.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{a}"
        );
        assert!(a.contains("Date: Sat, 21 Nov 2026 01:00:00"), "{a}");
        assert!(a.contains("text/plain") && a.contains("text/html"));
        let part = html(&m).unwrap();
        assert!(
            part.contains("<p>Bé &lt;An&gt; cần tiêm &amp; uống.</p>")
                && part.contains("<title>Nhắc lịch tiêm chủng</title>")
                && part.contains("lang=\"vi\""),
            "{part}"
        );
        let m = message("Dòng một\nDòng \"hai\"\n\nĐoạn hai.");
        assert!(
            html(&m)
                .unwrap()
                .contains("<p>Dòng một<br>Dòng &quot;hai&quot;</p>\n<p>Đoạn hai.</p>\n</body>"),
            "{}",
            html(&m).unwrap()
        );
        let mut bad = m.clone();
        bad.address = "not an address".into();
        assert!(matches!(
            build(&bad, &envelope),
            Err(SendError::Permanent(_))
        ));
    }
}
