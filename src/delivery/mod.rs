//! Delivery: notices become messages (one per recipient, channel and day), and the outbox
//! worker sends them through a channel. The embedded default channel writes files
//! (SPEC.md: `outbox/email/*.eml`, `outbox/sms.jsonl`).

pub mod file;
pub mod sms;

use crate::store::schedule::{NoticeRow, OutboxMessage};
use crate::store::Store;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use std::collections::BTreeMap;

/// Delivery settings, from the environment with working defaults.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// SMS go out only between these local (Asia/Ho_Chi_Minh) times; a message queued outside
    /// waits for the next opening (DOMAIN.md §6).
    pub sms_window: (NaiveTime, NaiveTime),
    /// Parts an SMS may use; notices that would go past it wait for the next day's message.
    pub sms_segment_limit: u32,
    /// Strip Vietnamese marks from SMS (GSM-7, one part for a typical reminder).
    pub sms_unaccented: bool,
    /// Channels in order of preference.
    pub channels: Vec<String>,
    pub outbox_dir: std::path::PathBuf,
    pub mail_from: String,
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
        let channels: Vec<String> = channels
            .split(',')
            .map(|c| c.trim().to_lowercase())
            .collect();
        if channels.is_empty() || channels.iter().any(|c| c != "sms" && c != "email") {
            anyhow::bail!(
                "VONGDOI_CHANNELS lists sms and/or email in order of preference, e.g. sms,email"
            );
        }
        Ok(DeliveryConfig {
            sms_window,
            sms_segment_limit,
            sms_unaccented: var("VONGDOI_SMS_UNICODE").is_none(),
            channels,
            outbox_dir: var("VONGDOI_OUTBOX_DIR")
                .map(Into::into)
                .unwrap_or_else(|| "outbox".into()),
            mail_from: var("VONGDOI_MAIL_FROM").unwrap_or_else(|| "vongdoi@localhost".into()),
        })
    }
}

fn parse_window(s: &str) -> Option<(NaiveTime, NaiveTime)> {
    let (a, b) = s.split_once('-')?;
    let t = |x: &str| match x.trim() {
        "24:00" => NaiveTime::from_hms_opt(23, 59, 59),
        x => NaiveTime::parse_from_str(x, "%H:%M").ok(),
    };
    Some((t(a)?, t(b)?))
}

fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("valid offset")
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

/// A stable message id from (recipient, channel, day): the same on every instance and retry,
/// so it doubles as the gateway's de-duplication key; it does not reveal the personal ID.
pub fn message_id(recipient: &str, channel: &str, day: NaiveDate) -> String {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in recipient
        .bytes()
        .chain(channel.bytes())
        .chain(day.to_string().bytes())
    {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{}-{channel}-{h:016x}", day.format("%Y%m%d"))
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
        queued += compose_page(store, cfg, day, now, &notices).await?;
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
    day: NaiveDate,
    now: DateTime<Utc>,
    notices: &[NoticeRow],
) -> anyhow::Result<u64> {
    let mut groups: BTreeMap<(String, String), Vec<&NoticeRow>> = BTreeMap::new();
    for n in notices {
        if let (Some(r), Some(c)) = (&n.recipient_id, &n.channel) {
            groups.entry((r.clone(), c.clone())).or_default().push(n);
        }
    }
    let mut queued = 0;
    for ((recipient, channel), group) in groups {
        let first = group[0];
        let (body, encoding, segments, included) = if channel == "sms" {
            let mut included = Vec::new();
            let mut text = sms::prepare("", cfg.sms_unaccented);
            for n in &group {
                let candidate = if included.is_empty() {
                    n.line_sms.clone()
                } else {
                    format!("{} {}", text.body, n.line_sms)
                };
                let prepared = sms::prepare(&candidate, cfg.sms_unaccented);
                // The first notice always goes, even alone over the limit: nothing is lost.
                if !included.is_empty() && prepared.segments > cfg.sms_segment_limit {
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
            (body, None, None, group.clone())
        };
        let subject = if included.len() == 1 {
            first.subject.clone()
        } else if first.language == "en" {
            format!("{} reminders", included.len())
        } else {
            format!("{} lời nhắc", included.len())
        };
        let next_attempt_at = if channel == "sms" {
            next_sms_slot(now, cfg.sms_window)
        } else {
            now
        };
        let message = OutboxMessage {
            id: message_id(&recipient, &channel, day),
            recipient_id: recipient,
            channel,
            address: first.address.clone().unwrap_or_default(),
            day,
            language: first.language.clone(),
            subject,
            body,
            encoding,
            segments,
            status: "queued".into(),
            attempts: 0,
            next_attempt_at,
            last_error: None,
            provider_id: None,
        };
        if store.queue_message(&message, &included, now).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// What the outbox worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub sent: u64,
    pub retried: u64,
    pub dead: u64,
}

/// Sends every message that is ready now, in leased batches, outside any transaction. Failures
/// are retried with exponential backoff and jitter, up to a limit, then kept as dead letters.
pub async fn deliver_ready(
    store: &Store,
    cfg: &DeliveryConfig,
    owner: &str,
    now: impl Fn() -> DateTime<Utc>,
) -> anyhow::Result<DeliveryCounts> {
    let channel = file::FileChannel::new(&cfg.outbox_dir, &cfg.mail_from)?;
    let mut counts = DeliveryCounts::default();
    loop {
        let t = now();
        let batch = store
            .claim_messages(owner, t + Duration::minutes(5), t, 200)
            .await?;
        if batch.is_empty() {
            return Ok(counts);
        }
        for m in &batch {
            match channel.send(m) {
                Ok(()) => {
                    store.mark_sent(&m.id, owner, None, now()).await?;
                    counts.sent += 1;
                }
                Err(e) => {
                    const MAX_ATTEMPTS: i32 = 8;
                    let retry_at = (m.attempts < MAX_ATTEMPTS).then(|| {
                        let jitter = (m.id.len() as i64 * 7919 + m.attempts as i64 * 104_729) % 30;
                        now() + Duration::seconds(30 * (1i64 << m.attempts.min(10)) + jitter)
                    });
                    tracing::warn!(message = %m.id, attempts = m.attempts, error = %e, "send failed");
                    store
                        .mark_failed(&m.id, owner, &e.to_string(), retry_at)
                        .await?;
                    if retry_at.is_some() {
                        counts.retried += 1;
                    } else {
                        counts.dead += 1;
                    }
                }
            }
        }
    }
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
    fn message_ids_are_stable_and_hide_the_recipient() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let a = message_id("001190000001", "sms", d);
        assert_eq!(a, message_id("001190000001", "sms", d));
        assert_ne!(a, message_id("001190000001", "email", d));
        assert_ne!(a, message_id("001190000002", "sms", d));
        assert!(!a.contains("001190000001") && a.starts_with("20261121-sms-"));
    }
}
