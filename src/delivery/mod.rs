//! Delivery: notices become messages (one per recipient, channel and day), and the outbox
//! worker sends them through the channels. The embedded default writes files (docs/interface.md:
//! `outbox/email/*.eml`, `outbox/sms.jsonl`); `VONGDOI_SMTP_URL` and `VONGDOI_SMS_URL` replace
//! them with a real SMTP server and an SMS gateway.

pub mod channels;
pub mod compose;
pub mod config;
pub mod email;
pub mod file;
pub mod gateway;
pub mod letter;
pub mod places;
pub use crate::text::sms;
pub mod smtp;
pub mod zns;
pub mod zns_token;

pub use channels::{Channels, SendError};
pub use compose::{compose, message_id, Composer, MessageKey};
pub use config::{next_sms_slot, DeliveryConfig};

use crate::registry::PersonalId;
use crate::rules::RuleSet;
use crate::runtime::metrics::Metrics;
use crate::runtime::shutdown::Shutdown;
use crate::store::outbox::{NoticeRow, OutboxMessage};
use crate::store::{Channel, Store};
use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;

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
    /// Not sent: its outbreak alert was cancelled.
    Cancelled,
    /// Not attempted (a ZNS without quota or token): queued again for later.
    Held,
}

/// Which outbreak alerts may still send (all but the cancelled), re-read at most once a second: a cancelled alert's
/// messages already claimed (waiting for a rate-limit slot) are stopped before they go out,
/// within a second of the cancel, without a query per message.
struct AlertGate {
    seen: tokio::sync::Mutex<std::collections::HashMap<i64, (std::time::Instant, bool)>>,
}

impl AlertGate {
    const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

    fn new() -> AlertGate {
        AlertGate {
            seen: Default::default(),
        }
    }

    async fn may_send(&self, store: &Store, alert: i64) -> anyhow::Result<bool> {
        let mut seen = self.seen.lock().await;
        if let Some((at, live)) = seen.get(&alert) {
            if at.elapsed() < Self::FRESH {
                return Ok(*live);
            }
        }
        let live = !store.alerts_cancelled(&[alert]).await?.contains(&alert);
        seen.insert(alert, (std::time::Instant::now(), live));
        Ok(live)
    }
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
    rules: &RuleSet,
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
    // Messages a process on this machine left `sending` when it was killed go again now,
    // rather than when their five-minute leases run out.
    store
        .release_gone_senders(crate::runtime::liveness::is_gone, Utc::now())
        .await?;
    let gate = AlertGate::new();
    loop {
        if stop.is_set() {
            store.complete_finished_alerts(Utc::now()).await?;
            return done(counts);
        }
        let t = Utc::now();
        let batch = store
            .claim_messages(owner, t + Duration::minutes(5), t, BATCH)
            .await?;
        if batch.is_empty() {
            store.complete_finished_alerts(Utc::now()).await?;
            return done(counts);
        }
        // Every message of the batch waits for its own channel's slot (`Channels::permit`), so
        // a slow SMTP server does not hold SMS back, and when `stop` fires the messages still
        // waiting are given back at once, not after the in-flight sends.
        let width = batch.len().max(1);
        let mut outcomes = futures_util::stream::iter(batch)
            .map(|m| {
                deliver_one(
                    store,
                    (cfg, rules),
                    (channels, &gate),
                    owner,
                    stop,
                    metrics,
                    m,
                )
            })
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
                Outcome::Released | Outcome::Cancelled | Outcome::Held => {}
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
    (cfg, rules): (&DeliveryConfig, &RuleSet),
    (channels, gate): (&Channels, &AlertGate),
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
    // Checked after the slot is ours, just before sending: a cancel while this message
    // waited for its slot stops it.
    if m.alert_id > 0 && !gate.may_send(store, m.alert_id).await? {
        store.mark_cancelled(&m.id, owner).await?;
        count("cancelled");
        return Ok(Outcome::Cancelled);
    }
    let sent = channels.send_now(store, &m).await;
    drop(permit);
    let zns_error = |class: &'static str| {
        if let (Some(metrics), Channel::Zns) = (metrics, m.channel) {
            metrics.zns_error(class);
        }
    };
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
        Err(SendError::Transient(e)) => {
            zns_error("transient");
            (e, false)
        }
        Err(SendError::Permanent(e)) => {
            zns_error("unreachable");
            (e, true)
        }
        Err(SendError::Config(e)) => {
            // Every message of this template would fail alike: the operator must act.
            let e = crate::store::outbox::outside_text(&e);
            tracing::error!(message = %m.id, channel = %m.channel, error = %e, "cấu hình kênh sai, tin nhắn bỏ / channel configuration refused (fix the ZNS template id or app), message dead");
            zns_error("config");
            store.mark_failed(&m.id, owner, &e, None).await?;
            count("dead");
            return Ok(Outcome::Dead { fell_back: false });
        }
        Err(SendError::Hold(why)) => {
            zns_error("held");
            let now = Utc::now();
            let hold = cfg.zns.as_ref().map_or(Duration::hours(2), |z| z.hold);
            let created = store.message_created_at(&m.id).await?.unwrap_or(now);
            if now < created + hold {
                let until = (created + hold).min(now + Duration::minutes(5));
                store.hold_message(&m.id, owner, until, &why).await?;
                count("held");
                return Ok(Outcome::Held);
            }
            // Waited past its deadline: the family hears by the next channel today.
            (format!("{why}; quá hạn chờ / held past its deadline"), true)
        }
    };
    // A server's or gateway's words: no control characters in the log or the database.
    let error = crate::store::outbox::outside_text(&error);
    tracing::warn!(message = %m.id, attempts = m.attempts, permanent, error = %error, "send failed");
    if !permanent && m.attempts < cfg.max_attempts {
        store
            .mark_failed(&m.id, owner, &error, Some(retry_at(cfg, &m, Utc::now())))
            .await?;
        count("retry");
        return Ok(Outcome::Retry);
    }
    let fell_back = fall_back(store, cfg, rules, &m, Utc::now()).await?;
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

/// When a message cannot be delivered, its notices go to the same recipient on the next
/// channel of the configured order where they have an address and have not opted out (issue
/// #4 §4; zns → sms → email, wrapping round: email → sms; never back to ZNS, see
/// [`Channel::fallbacks`]). True when a fallback message was queued.
async fn fall_back(
    store: &Store,
    cfg: &DeliveryConfig,
    rules: &RuleSet,
    failed: &OutboxMessage,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let Ok(pin) = PersonalId::parse(&failed.recipient_id) else {
        return Ok(false);
    };
    let Some(person) = store.citizen(pin).await? else {
        return Ok(false);
    };
    let Some((other, address)) = (failed.channel.fallbacks(&cfg.channels).into_iter())
        .find_map(|c| c.address_of(&person).map(|a| (c, a)))
    else {
        return Ok(false);
    };
    let notices = store.notices_of_message(&failed.id).await?;
    if notices.is_empty() {
        return Ok(false);
    }
    let group: Vec<&NoticeRow> = notices.iter().collect();
    // Every notice of the failed message goes, whatever the SMS segment limit: they were
    // promised today.
    let composer = Composer::for_notices(store, cfg, rules, &group).await?;
    let (message, _) = composer.build(
        &failed.recipient_id,
        other,
        &address,
        &group,
        failed.day,
        now,
        u32::MAX,
    )?;
    Ok(store.queue_fallback(&failed.id, &message, now).await?)
}
