//! Delivery: notices become messages (one per recipient, channel and day), and the outbox
//! worker sends them through the channels. The embedded default writes files (docs/interface.md:
//! `outbox/email/*.eml`, `outbox/sms.jsonl`); `VONGDOI_SMTP_URL` and `VONGDOI_SMS_URL` replace
//! them with a real SMTP server and an SMS gateway.

pub mod channels;
pub mod email;
pub mod file;
pub mod gateway;
pub mod sms;
pub mod smtp;

pub use channels::{Channels, SendError};

use crate::clock::vietnam;
use crate::registry::PersonalId;
use crate::runtime::metrics::Metrics;
use crate::runtime::shutdown::Shutdown;
use crate::store::schedule::{NoticeRow, OutboxMessage};
use crate::store::{Channel, Store};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use futures_util::StreamExt;
use std::collections::BTreeMap;

/// Delivery settings, from the environment with working defaults.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// SMS go out only between these local (Asia/Ho_Chi_Minh) times; a message queued outside
    /// waits for the next opening (docs/domain.md §6).
    pub sms_window: (NaiveTime, NaiveTime),
    /// Parts an SMS may use; notices that would go past it wait for the next day's message.
    pub sms_segment_limit: u32,
    /// Strip Vietnamese marks from SMS (GSM-7, one part for a typical reminder).
    pub sms_unaccented: bool,
    /// Channels in order of preference.
    pub channels: Vec<Channel>,
    pub outbox_dir: std::path::PathBuf,
    pub mail_from: String,
    /// A real SMTP server instead of `.eml` files (smtp://, smtps://, ?tls=required).
    pub smtp_url: Option<String>,
    pub smtp_connections: u32,
    /// The deadline of one email: connect, greeting, every command and the data together.
    pub smtp_timeout: std::time::Duration,
    /// An SMS gateway instead of `sms.jsonl`.
    pub gateway: Option<gateway::GatewayConfig>,
    pub sms_concurrency: usize,
    /// Messages per second per channel; None: as fast as the channel answers.
    pub sms_rate: Option<f64>,
    pub email_rate: Option<f64>,
    /// The first retry waits this long, doubling each time (with jitter), up to
    /// `max_attempts`; then the message is a dead letter.
    pub retry_base: Duration,
    pub max_attempts: i32,
}

impl DeliveryConfig {
    pub fn from_env() -> anyhow::Result<DeliveryConfig> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let sms_window = match var("VONGDOI_SMS_WINDOW") {
            None => (NaiveTime::from_hms_opt(7, 0, 0).unwrap(), NaiveTime::from_hms_opt(21, 0, 0).unwrap()),
            Some(w) => parse_window(&w).ok_or_else(|| anyhow::anyhow!("VONGDOI_SMS_WINDOW '{w}' is not HH:MM-HH:MM (e.g. 07:00-21:00; 00:00-24:00 for always)"))?,
        };
        let sms_segment_limit = match var("VONGDOI_SMS_MAX_SEGMENTS") {
            None => 3,
            Some(v) => v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                anyhow::anyhow!("VONGDOI_SMS_MAX_SEGMENTS '{v}' is not a positive number")
            })?,
        };
        let channels = var("VONGDOI_CHANNELS").unwrap_or_else(|| "sms,email".into());
        let channels: Option<Vec<Channel>> = channels
            .split(',')
            .map(|c| Channel::parse(&c.trim().to_lowercase()))
            .collect();
        let Some(channels) = channels.filter(|c| !c.is_empty()) else {
            anyhow::bail!(
                "VONGDOI_CHANNELS lists sms and/or email in order of preference, e.g. sms,email"
            );
        };
        Ok(DeliveryConfig {
            sms_window,
            sms_segment_limit,
            sms_unaccented: var("VONGDOI_SMS_UNICODE").is_none(),
            channels,
            outbox_dir: var("VONGDOI_OUTBOX_DIR")
                .map(Into::into)
                .unwrap_or_else(|| "outbox".into()),
            mail_from: var("VONGDOI_MAIL_FROM").unwrap_or_else(|| "vongdoi@localhost".into()),
            smtp_url: var("VONGDOI_SMTP_URL"),
            // lettre writes a message's end marker in a segment of its own, which waits for the
            // server's delayed ACK (~40 ms a message on one connection): throughput comes from
            // several connections.
            smtp_connections: positive(&var, "VONGDOI_SMTP_CONNECTIONS", 8.0)? as u32,
            smtp_timeout: std::time::Duration::from_secs_f64(positive(
                &var,
                "VONGDOI_SMTP_TIMEOUT_SECONDS",
                30.0,
            )?),
            gateway: gateway::GatewayConfig::from_env()?,
            sms_concurrency: positive(&var, "VONGDOI_SMS_CONCURRENCY", 16.0)? as usize,
            sms_rate: var("VONGDOI_SMS_RATE")
                .map(|_| positive(&var, "VONGDOI_SMS_RATE", 0.0))
                .transpose()?,
            email_rate: var("VONGDOI_EMAIL_RATE")
                .map(|_| positive(&var, "VONGDOI_EMAIL_RATE", 0.0))
                .transpose()?,
            retry_base: Duration::milliseconds(
                (var("VONGDOI_RETRY_BASE_SECONDS")
                    .map(|_| non_negative(&var, "VONGDOI_RETRY_BASE_SECONDS"))
                    .transpose()?
                    .unwrap_or(30.0)
                    * 1000.0) as i64,
            ),
            max_attempts: positive(&var, "VONGDOI_MAX_ATTEMPTS", 8.0)? as i32,
        })
    }
}

fn positive(var: &impl Fn(&str) -> Option<String>, key: &str, default: f64) -> anyhow::Result<f64> {
    match var(key) {
        None => Ok(default),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|n| *n > 0.0 && n.is_finite())
            .ok_or_else(|| anyhow::anyhow!("{key} '{v}' is not a positive number")),
    }
}

fn non_negative(var: &impl Fn(&str) -> Option<String>, key: &str) -> anyhow::Result<f64> {
    let v = var(key).unwrap_or_default();
    v.parse::<f64>()
        .ok()
        .filter(|n| *n >= 0.0 && n.is_finite())
        .ok_or_else(|| anyhow::anyhow!("{key} '{v}' is not a number of seconds"))
}

fn parse_window(s: &str) -> Option<(NaiveTime, NaiveTime)> {
    let (a, b) = s.split_once('-')?;
    let t = |x: &str| match x.trim() {
        "24:00" => NaiveTime::from_hms_opt(23, 59, 59),
        x => NaiveTime::parse_from_str(x, "%H:%M").ok(),
    };
    Some((t(a)?, t(b)?))
}

/// The first moment at or after `now` inside the SMS window.
pub fn next_sms_slot(now: DateTime<Utc>, window: (NaiveTime, NaiveTime)) -> DateTime<Utc> {
    let local = now.with_timezone(&vietnam());
    let t = local.time();
    let day = local.date_naive();
    let at = |d: NaiveDate, time: NaiveTime| {
        vietnam()
            .from_local_datetime(&d.and_time(time))
            .single()
            .expect("fixed offset")
            .with_timezone(&Utc)
    };
    if t < window.0 {
        at(day, window.0)
    } else if t < window.1 {
        now
    } else {
        at(day + Duration::days(1), window.0)
    }
}

/// The installation's key for message ids (see [`Store::message_id_secret`]).
#[derive(Clone)]
pub struct MessageKey(Vec<u8>);

impl MessageKey {
    pub async fn of(store: &Store) -> anyhow::Result<MessageKey> {
        let hex = store.message_id_secret().await?;
        MessageKey::from_hex(&hex).ok_or_else(|| {
            anyhow::anyhow!(
                "khoá mã tin nhắn trong cơ sở dữ liệu bị hỏng / the message-id secret in app_meta \
                 is not 64 hex digits; was it edited by hand? Restore it from a backup (changing it \
                 changes the ids of messages not yet composed)"
            )
        })
    }

    pub fn from_hex(hex: &str) -> Option<MessageKey> {
        if hex.len() != 64 {
            return None;
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()
            .map(MessageKey)
    }
}

/// A stable message id from (recipient, channel, day): the same on every instance on one
/// database and on every retry, so it doubles as the gateway's de-duplication key and lets the
/// file outbox find a message it wrote before a crash. An HMAC-SHA256 under the installation's
/// secret (issue #10): the id goes to SMS and email providers and is shown on the delivery
/// page, and an unkeyed hash of a 12-digit personal ID is reversed by trying them all.
pub fn message_id(key: &MessageKey, recipient: &str, channel: &str, day: NaiveDate) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key.0).expect("HMAC takes any key");
    // Separated, so that no two different triples feed the same bytes.
    mac.update(format!("{recipient}\n{channel}\n{day}").as_bytes());
    let tag = mac.finalize().into_bytes();
    let hex: String = tag[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{channel}-{hex}", day.format("%Y%m%d"))
}

/// Turns the day's notices into messages: one per recipient and channel, listing every notice
/// (twins due the same week: one SMS naming both). Notices past the SMS segment limit wait for
/// the next day's message. Returns how many messages were queued.
pub async fn compose(
    store: &Store,
    cfg: &DeliveryConfig,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    // Recipients page by page, so memory does not grow with the day's notices. A full page may
    // end inside a recipient's notices: that recipient is left for the next page, whole.
    const PAGE: i64 = 5_000;
    let key = MessageKey::of(store).await?;
    let (mut after, mut queued) = (String::new(), 0u64);
    loop {
        let mut notices = store.unmessaged_notices(day, &after, PAGE).await?;
        let full = notices.len() as i64 == PAGE;
        if full {
            let last = notices
                .last()
                .and_then(|n| n.recipient_id.clone())
                .unwrap_or_default();
            let first = notices
                .first()
                .and_then(|n| n.recipient_id.clone())
                .unwrap_or_default();
            if first != last {
                notices.retain(|n| n.recipient_id.as_deref() != Some(last.as_str()));
            }
            // A recipient with more notices than a page gets one page of them today; the rest
            // wait for the next day's message.
        }
        let Some(last) = notices.last().and_then(|n| n.recipient_id.clone()) else {
            return Ok(queued);
        };
        queued += compose_page(store, cfg, &key, day, now, &notices).await?;
        if !full {
            return Ok(queued);
        }
        after = last;
    }
}

/// Messages for one page of notices (whole recipients).
async fn compose_page(
    store: &Store,
    cfg: &DeliveryConfig,
    key: &MessageKey,
    day: NaiveDate,
    now: DateTime<Utc>,
    notices: &[NoticeRow],
) -> anyhow::Result<u64> {
    let mut groups: BTreeMap<(String, Channel), Vec<&NoticeRow>> = BTreeMap::new();
    for n in notices {
        if let (Some(r), Some(c)) = (&n.recipient_id, n.channel) {
            groups.entry((r.clone(), c)).or_default().push(n);
        }
    }
    let batch: Vec<_> = groups
        .iter()
        .map(|((recipient, channel), group)| {
            let address = group[0].address.clone().unwrap_or_default();
            build_message(
                cfg,
                key,
                recipient,
                *channel,
                &address,
                group,
                day,
                now,
                cfg.sms_segment_limit,
            )
        })
        .collect();
    Ok(store.queue_messages(&batch, now).await?)
}

/// One message to `recipient` on `channel` carrying `group`'s notices (an SMS stops before the
/// notice that would take it past `segment_limit`; the first always goes, so nothing is lost).
/// Returns the message and the notices it carries.
#[allow(clippy::too_many_arguments)]
fn build_message<'a>(
    cfg: &DeliveryConfig,
    key: &MessageKey,
    recipient: &str,
    channel: Channel,
    address: &str,
    group: &[&'a NoticeRow],
    day: NaiveDate,
    now: DateTime<Utc>,
    segment_limit: u32,
) -> (OutboxMessage, Vec<&'a NoticeRow>) {
    let first = group[0];
    let (body, encoding, segments, included) = if channel == Channel::Sms {
        let mut included = Vec::new();
        let mut text = sms::prepare("", cfg.sms_unaccented);
        for n in group {
            let candidate = if included.is_empty() {
                n.line_sms.clone()
            } else {
                format!("{} {}", text.body, n.line_sms)
            };
            let prepared = sms::prepare(&candidate, cfg.sms_unaccented);
            if !included.is_empty() && prepared.segments > segment_limit {
                break;
            }
            text = prepared;
            included.push(*n);
        }
        (
            text.body,
            Some(text.encoding.as_str().to_string()),
            Some(text.segments as i32),
            included,
        )
    } else {
        let body = group
            .iter()
            .map(|n| n.line_email.as_str())
            .collect::<Vec<_>>()
            .join("\n\n");
        (body, None, None, group.to_vec())
    };
    let subject = if included.len() == 1 {
        first.subject.clone()
    } else if first.language == "en" {
        format!("{} reminders", included.len())
    } else {
        format!("{} lời nhắc", included.len())
    };
    let next_attempt_at = if channel == Channel::Sms {
        next_sms_slot(now, cfg.sms_window)
    } else {
        now
    };
    let message = OutboxMessage {
        id: message_id(key, recipient, channel.as_str(), day),
        recipient_id: recipient.to_string(),
        channel,
        address: address.to_string(),
        day,
        language: first.language.clone(),
        subject,
        body,
        encoding,
        segments,
        status: crate::store::MessageStatus::Queued,
        attempts: 0,
        next_attempt_at,
        last_error: None,
        provider_id: None,
    };
    (message, included)
}

/// What the outbox worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub sent: u64,
    pub retried: u64,
    pub dead: u64,
    /// Dead letters whose notices went out again on the recipient's other channel.
    pub fell_back: u64,
}

/// How one claimed message ended.
enum Outcome {
    Sent,
    /// Written to the file outbox; marked sent with the rest of the batch.
    Written(String),
    Retry,
    Dead {
        fell_back: bool,
    },
    /// Not attempted: the service is stopping; the lease was given back.
    Released,
}

/// Sends every message that is ready now, in leased batches, outside any transaction, several
/// at a time per channel (within its rate limit). Transient failures are retried with
/// exponential backoff and jitter; permanent ones, and transient ones past the attempt limit,
/// become dead letters, and their notices go out on the recipient's other channel if there is
/// one. When `stop` fires, in-flight sends finish (each within its channel's timeout; `serve`
/// abandons them after its grace period) and the rest of the batch is given back.
pub async fn deliver_ready(
    store: &Store,
    cfg: &DeliveryConfig,
    channels: &Channels,
    owner: &str,
    stop: &Shutdown,
    metrics: Option<&Metrics>,
) -> anyhow::Result<DeliveryCounts> {
    let mut counts = DeliveryCounts::default();
    let started = std::time::Instant::now();
    let done = |counts: DeliveryCounts| {
        channels.sync().map_err(|e| {
            anyhow::anyhow!("cannot sync the outbox ({}): {e}", cfg.outbox_dir.display())
        })?;
        let attempts = counts.sent + counts.retried + counts.dead;
        if attempts > 0 {
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(
                sent = counts.sent,
                retried = counts.retried,
                dead = counts.dead,
                fell_back = counts.fell_back,
                seconds = format!("{secs:.2}"),
                per_second = format!("{:.0}", attempts as f64 / secs.max(1e-9)),
                "delivery pass"
            );
        }
        Ok(counts)
    };
    const BATCH: i64 = 500;
    loop {
        if stop.is_set() {
            return done(counts);
        }
        let t = Utc::now();
        let batch = store
            .claim_messages(owner, t + Duration::minutes(5), t, BATCH)
            .await?;
        if batch.is_empty() {
            return done(counts);
        }
        // Every message of the batch waits for its own channel's slot (`Channels::permit`), so
        // a slow SMTP server does not hold SMS back, and when `stop` fires the messages still
        // waiting are given back at once, not after the in-flight sends.
        let width = batch.len().max(1);
        let mut outcomes = futures_util::stream::iter(batch)
            .map(|m| deliver_one(store, cfg, channels, owner, stop, metrics, m))
            .buffer_unordered(width);
        let mut written = Vec::new();
        while let Some(outcome) = outcomes.next().await {
            match outcome? {
                Outcome::Sent => counts.sent += 1,
                Outcome::Written(id) => written.push(id),
                Outcome::Retry => counts.retried += 1,
                Outcome::Dead { fell_back } => {
                    counts.dead += 1;
                    counts.fell_back += fell_back as u64;
                }
                Outcome::Released => {}
            }
        }
        drop(outcomes);
        if !written.is_empty() {
            channels.sync().map_err(|e| {
                anyhow::anyhow!("cannot sync the outbox ({}): {e}", cfg.outbox_dir.display())
            })?;
            counts.sent += store.mark_sent_many(&written, owner, Utc::now()).await?;
        }
    }
}

async fn deliver_one(
    store: &Store,
    cfg: &DeliveryConfig,
    channels: &Channels,
    owner: &str,
    stop: &Shutdown,
    metrics: Option<&Metrics>,
    m: OutboxMessage,
) -> anyhow::Result<Outcome> {
    let count = |outcome: &'static str| {
        if let Some(metrics) = metrics {
            metrics.send(m.channel.as_str(), outcome);
        }
    };
    let permit = tokio::select! {
        biased;
        _ = stop.wait() => None,
        permit = channels.permit(&m) => Some(permit),
    };
    if permit.is_none() || stop.is_set() {
        store.release_message(&m.id, owner).await?;
        return Ok(Outcome::Released);
    }
    let sent = channels.send_now(&m).await;
    drop(permit);
    let (error, permanent) = match sent {
        Ok(provider_id) => {
            count("sent");
            if channels.marks_in_batches(&m) {
                return Ok(Outcome::Written(m.id));
            }
            store
                .mark_sent(&m.id, owner, provider_id.as_deref(), Utc::now())
                .await?;
            return Ok(Outcome::Sent);
        }
        Err(SendError::Transient(e)) => (e, false),
        Err(SendError::Permanent(e)) => (e, true),
    };
    // A server's or gateway's words: no control characters in the log or the database.
    let error = crate::store::schedule::outside_text(&error);
    tracing::warn!(message = %m.id, attempts = m.attempts, permanent, error = %error, "send failed");
    if !permanent && m.attempts < cfg.max_attempts {
        store
            .mark_failed(&m.id, owner, &error, Some(retry_at(cfg, &m, Utc::now())))
            .await?;
        count("retry");
        return Ok(Outcome::Retry);
    }
    let fell_back = fall_back(store, cfg, &m, Utc::now()).await?;
    let error = if fell_back {
        format!("{error} → gửi lại qua kênh khác / sent again on the other channel")
    } else {
        error
    };
    store.mark_failed(&m.id, owner, &error, None).await?;
    count(if fell_back { "fallback" } else { "dead" });
    Ok(Outcome::Dead { fell_back })
}

/// Exponential backoff with jitter: base × 2^(attempts−1), plus up to half of it again, so a
/// gateway that came back is not hit by every retry at once. The jitter is derived from the
/// message id and attempt, so it is spread across messages yet reproducible.
fn retry_at(cfg: &DeliveryConfig, m: &OutboxMessage, now: DateTime<Utc>) -> DateTime<Utc> {
    let step = cfg.retry_base * (1i32 << (m.attempts - 1).clamp(0, 16));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in m.id.bytes().chain([m.attempts as u8]) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let jitter_ms = step.num_milliseconds() / 2;
    let jitter = if jitter_ms > 0 {
        Duration::milliseconds((h % jitter_ms as u64) as i64)
    } else {
        Duration::zero()
    };
    now + step + jitter
}

/// When a message cannot be delivered, its notices go to the same recipient on the other
/// channel (issue #4 §4), if the recipient has an address there, has not opted out, and the
/// operator allows that channel. True when a fallback message was queued.
async fn fall_back(
    store: &Store,
    cfg: &DeliveryConfig,
    failed: &OutboxMessage,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let other = failed.channel.other();
    if !cfg.channels.contains(&other) {
        return Ok(false);
    }
    let Ok(pin) = PersonalId::parse(&failed.recipient_id) else {
        return Ok(false);
    };
    let Some(person) = store.citizen(pin).await? else {
        return Ok(false);
    };
    let Some(address) = other.address_of(&person) else {
        return Ok(false);
    };
    let notices = store.notices_of_message(&failed.id).await?;
    if notices.is_empty() {
        return Ok(false);
    }
    let group: Vec<&NoticeRow> = notices.iter().collect();
    // Every notice of the failed message goes, whatever the SMS segment limit: they were
    // promised today.
    let (message, _) = build_message(
        cfg,
        &MessageKey::of(store).await?,
        &failed.recipient_id,
        other,
        &address,
        &group,
        failed.day,
        now,
        u32::MAX,
    );
    Ok(store.queue_fallback(&failed.id, &message, now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_waits_for_the_window_in_vietnam_time() {
        let w = parse_window("07:00-21:00").unwrap();
        // 23:30 UTC = 06:30 next day in Vietnam: wait until 07:00 local = 00:00 UTC.
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 23, 30, 0).unwrap();
        assert_eq!(
            next_sms_slot(now, w),
            Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap()
        );
        let midday = Utc.with_ymd_and_hms(2026, 11, 21, 5, 0, 0).unwrap();
        assert_eq!(next_sms_slot(midday, w), midday);
        // 14:30 UTC = 21:30 local: tomorrow 07:00 local.
        let late = Utc.with_ymd_and_hms(2026, 11, 21, 14, 30, 0).unwrap();
        assert_eq!(
            next_sms_slot(late, w),
            Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap()
        );
        let always = parse_window("00:00-24:00").unwrap();
        assert_eq!(next_sms_slot(now, always), now);
    }

    #[test]
    fn message_ids_are_keyed_stable_and_hide_the_recipient() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let k = MessageKey::from_hex(&"ab".repeat(32)).unwrap();
        let other = MessageKey::from_hex(&"cd".repeat(32)).unwrap();
        let a = message_id(&k, "001190000001", "sms", d);
        assert_eq!(a, message_id(&k, "001190000001", "sms", d));
        assert_ne!(a, message_id(&k, "001190000001", "email", d));
        assert_ne!(a, message_id(&k, "001190000002", "sms", d));
        assert_ne!(a, message_id(&other, "001190000001", "sms", d), "keyed");
        assert!(!a.contains("001190000001") && a.starts_with("20261121-sms-"));
        let hex = a.rsplit('-').next().unwrap();
        assert!(
            hex.len() == 20 && hex.chars().all(|c| c.is_ascii_hexdigit()),
            "{a}"
        );
        assert!(MessageKey::from_hex("abc").is_none());
        assert!(MessageKey::from_hex(&"zz".repeat(32)).is_none());
    }
}
