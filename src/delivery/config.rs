//! Delivery settings from the environment, with working defaults, and the SMS window.

use super::gateway;
use crate::clock::vietnam;
use crate::registry::FacilityKind;
use crate::store::Channel;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};

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
    /// The From address (`VONGDOI_MAIL_FROM`); a display name, when it has none, is the
    /// signing facility's name.
    pub mail_from: String,
    /// Per sender (`VONGDOI_MAIL_FROM_HEALTH`, `_POLICE`, `_SCHOOL`): the police post's mail
    /// may come from another address than the health station's.
    pub mail_from_by_sender: Vec<(FacilityKind, String)>,
    /// The domain of Message-IDs (`VONGDOI_MAIL_DOMAIN`; default: the From address's domain).
    pub mail_domain: Option<String>,
    /// Where `serve` is reached from outside (`VONGDOI_PUBLIC_URL`, e.g. `https://nhaclich.xa.gov.vn`):
    /// emails then carry a one-click unsubscribe link; without it, a `mailto:` to the From address.
    pub public_url: Option<String>,
    /// Items overdue before this day are listed for staff, not messaged (`VONGDOI_GO_LIVE`):
    /// a first run does not send a registry's backlog to families.
    pub go_live: Option<NaiveDate>,
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
    /// A family's reply answers the latest message sent to its number within this long
    /// (`VONGDOI_REPLY_WINDOW_DAYS`, default 14).
    pub reply_window: Duration,
    /// The key eSMS signs its inbound (MO) callbacks with (`VONGDOI_ESMS_MO_KEY`); without
    /// it, eSMS-shaped callbacks need the webhook token like every other.
    pub esms_mo_key: Option<String>,
    /// Zalo ZNS (`VONGDOI_ZNS_*`), read when `zns` is in `channels`.
    pub zns: Option<super::zns::ZnsConfig>,
}

impl DeliveryConfig {
    /// The From mailbox of `sender`'s mail, named `display` when the address has no name.
    pub fn mail_from_of(&self, sender: &str, display: &str) -> String {
        let from = (self.mail_from_by_sender.iter())
            .find(|(k, _)| k.as_str() == sender)
            .map_or(self.mail_from.as_str(), |(_, f)| f.as_str());
        if from.contains('<') || display.is_empty() {
            from.to_string()
        } else {
            // Quoted: a facility's name may hold commas.
            format!("\"{}\" <{from}>", display.replace(['"', '\\'], ""))
        }
    }

    pub fn from_env() -> anyhow::Result<DeliveryConfig> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let sms_window = match var("VONGDOI_SMS_WINDOW") {
            None => (NaiveTime::from_hms_opt(7, 0, 0).unwrap(), NaiveTime::from_hms_opt(21, 0, 0).unwrap()),
            Some(w) => parse_window(&w).ok_or_else(|| anyhow::anyhow!("VONGDOI_SMS_WINDOW '{w}' is not HH:MM-HH:MM (e.g. 07:00-21:00; 00:00-24:00 for always)"))?,
        };
        let sms_segment_limit = sms_segment_limit_from_env()?;
        let channels = var("VONGDOI_CHANNELS").unwrap_or_else(|| "sms,email".into());
        let channels: Option<Vec<Channel>> = channels
            .split(',')
            .map(|c| Channel::parse(&c.trim().to_lowercase()))
            .collect();
        let Some(channels) = channels.filter(|c| !c.is_empty()) else {
            anyhow::bail!(
                "VONGDOI_CHANNELS lists zns, sms and/or email in order of preference, e.g. sms,email or zns,sms,email"
            );
        };
        let zns = if channels.contains(&Channel::Zns) {
            Some(super::zns::ZnsConfig::from_env()?)
        } else {
            None
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
            mail_from_by_sender: per_sender("VONGDOI_MAIL_FROM"),
            mail_domain: var("VONGDOI_MAIL_DOMAIN"),
            public_url: var("VONGDOI_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_string()),
            go_live: var("VONGDOI_GO_LIVE")
                .map(|v| {
                    crate::registry::dates::parse_date(&v).map_err(|_| {
                        anyhow::anyhow!("VONGDOI_GO_LIVE '{v}' is not a date (YYYY-MM-DD or DD/MM/YYYY): the first day families hear from the service")
                    })
                })
                .transpose()?,
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
            reply_window: Duration::seconds(
                (positive(&var, "VONGDOI_REPLY_WINDOW_DAYS", 14.0)? * 86_400.0) as i64,
            ),
            esms_mo_key: var("VONGDOI_ESMS_MO_KEY"),
            zns,
        })
    }
}

/// `VONGDOI_SMS_MAX_SEGMENTS` (default 3): deliveries and `rules check` read it here, so the
/// check measures templates against the limit the deliveries apply.
pub fn sms_segment_limit_from_env() -> anyhow::Result<u32> {
    match std::env::var("VONGDOI_SMS_MAX_SEGMENTS")
        .ok()
        .filter(|v| !v.is_empty())
    {
        None => Ok(3),
        Some(v) => v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            anyhow::anyhow!("VONGDOI_SMS_MAX_SEGMENTS '{v}' is not a positive number")
        }),
    }
}

/// `{prefix}_HEALTH`, `{prefix}_POLICE`, `{prefix}_SCHOOL`: a setting of one sender's own.
pub fn per_sender(prefix: &str) -> Vec<(FacilityKind, String)> {
    FacilityKind::ALL
        .iter()
        .filter_map(|k| {
            let key = format!("{prefix}_{}", k.as_str().to_uppercase());
            std::env::var(key)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (*k, v))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
}
