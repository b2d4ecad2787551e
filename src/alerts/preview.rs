//! What the approver reads before approving: how many children and households in each
//! commune, how many have nobody to tell, the messages per channel with their SMS parts and
//! an estimated cost, sample texts as they will go out, how long the send will take at the
//! configured rates, and how many SMS would fall outside the sending window.

use crate::delivery::{next_sms_slot, DeliveryConfig};
use crate::registry::AdminUnits;
use crate::store::alerts::{AlertRow, StagedMessage};
use crate::store::{Channel, Store};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Price of one SMS part in đồng (`VONGDOI_SMS_PRICE_VND`, default 800: a brandname
/// customer-care SMS costs 700–900 đồng a part in 2026), for the preview's estimate.
pub fn sms_price_from_env() -> f64 {
    std::env::var("VONGDOI_SMS_PRICE_VND")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|p| *p >= 0.0 && p.is_finite())
        .unwrap_or(800.0)
}

#[derive(Debug, Clone, Serialize)]
pub struct CommunePreview {
    pub commune_code: String,
    pub name: String,
    pub children: i64,
    pub households: i64,
    pub without_contact: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ChannelPreview {
    pub messages: i64,
    pub segments: i64,
    /// Seconds the channel needs at its configured rate (None: no rate set, as fast as the
    /// provider answers).
    pub send_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub alert: i64,
    /// Children targeted.
    pub total: i64,
    pub by_commune: BTreeMap<String, i64>,
    pub communes: Vec<CommunePreview>,
    pub households: i64,
    /// Children with nobody to tell (no phone or email in the family, or opted out).
    pub without_contact: i64,
    /// Messages in all: one per household with a contact.
    pub messages: i64,
    pub channels: BTreeMap<String, ChannelPreview>,
    pub sms_segments: i64,
    pub estimated_cost_vnd: f64,
    /// If approved now: when the first SMS goes, and how many SMS would wait for the next
    /// day's window (`VONGDOI_SMS_WINDOW`).
    pub sms_starts_at: Option<DateTime<Utc>>,
    pub outside_window: i64,
    pub sms_window: String,
    pub samples: Vec<StagedMessage>,
}

/// The preview of a stored alert, as of `now`.
pub async fn preview(
    store: &Store,
    cfg: &DeliveryConfig,
    alert: &AlertRow,
    now: DateTime<Utc>,
) -> anyhow::Result<Preview> {
    let units = AdminUnits::get();
    let rows = store.alert_audience_by_commune(alert.id).await?;
    let communes: Vec<CommunePreview> = rows
        .into_iter()
        .map(|r| CommunePreview {
            name: units
                .commune(&r.commune_code)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            commune_code: r.commune_code,
            children: r.children,
            households: r.households,
            without_contact: r.without_contact,
        })
        .collect();
    let mut channels = BTreeMap::new();
    let (mut sms, mut segments, mut messages) = (0, 0, 0);
    for split in store.alert_channel_split(alert.id).await? {
        let rate = match split.channel {
            Channel::Sms | Channel::Zns => cfg.sms_rate,
            Channel::Email => cfg.email_rate,
        };
        messages += split.messages;
        if split.channel == Channel::Sms {
            sms = split.messages;
            segments = split.segments;
        }
        channels.insert(
            split.channel.as_str().to_string(),
            ChannelPreview {
                messages: split.messages,
                segments: split.segments,
                send_seconds: rate.map(|r| split.messages as f64 / r),
            },
        );
    }
    let (sms_starts_at, outside_window) = window_split(cfg, sms, now);
    let (w0, w1) = cfg.sms_window;
    Ok(Preview {
        alert: alert.id,
        total: communes.iter().map(|c| c.children).sum(),
        by_commune: communes
            .iter()
            .map(|c| (c.commune_code.clone(), c.children))
            .collect(),
        households: store.alert_households(alert.id).await?,
        without_contact: communes.iter().map(|c| c.without_contact).sum(),
        communes,
        messages,
        channels,
        sms_segments: segments,
        estimated_cost_vnd: segments as f64 * sms_price_from_env(),
        sms_starts_at: (sms > 0).then_some(sms_starts_at),
        outside_window,
        sms_window: format!("{}-{}", w0.format("%H:%M"), w1.format("%H:%M")),
        samples: store.alert_samples(alert.id).await?,
    })
}

/// When `sms` messages approved at `now` would start, and how many of them the rate cannot
/// send before today's window closes (they wait for tomorrow's).
fn window_split(cfg: &DeliveryConfig, sms: i64, now: DateTime<Utc>) -> (DateTime<Utc>, i64) {
    let start = next_sms_slot(now, cfg.sms_window);
    let local = start.with_timezone(&crate::clock::vietnam());
    let close = crate::clock::vietnam()
        .from_local_datetime(&local.date_naive().and_time(cfg.sms_window.1))
        .single()
        .map(|c| c.with_timezone(&Utc))
        .unwrap_or(start);
    let open: Duration = close - start;
    let fits = match cfg.sms_rate {
        Some(rate) => (open.num_milliseconds().max(0) as f64 / 1000.0 * rate).floor() as i64,
        None => i64::MAX,
    };
    (start, (sms - fits).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_rate_pushes_the_rest_past_the_window() {
        let mut cfg = DeliveryConfig::from_env().unwrap();
        cfg.sms_window = (
            chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            chrono::NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
        );
        cfg.sms_rate = Some(10.0);
        // 20:00 in Vietnam = 13:00 UTC: one hour left, 36,000 SMS fit at 10 a second.
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 13, 0, 0).unwrap();
        assert_eq!(window_split(&cfg, 50_000, now), (now, 14_000));
        assert_eq!(window_split(&cfg, 30_000, now).1, 0);
        // 22:00: nothing goes before 07:00 tomorrow, and then the whole window is ahead.
        let late = Utc.with_ymd_and_hms(2026, 12, 1, 15, 0, 0).unwrap();
        let (start, outside) = window_split(&cfg, 1_000, late);
        assert_eq!(start, Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap());
        assert_eq!(outside, 0);
        cfg.sms_rate = None;
        assert_eq!(window_split(&cfg, 1_000_000, now).1, 0);
    }
}
