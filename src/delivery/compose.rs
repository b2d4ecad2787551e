//! The day's notices become messages: one per recipient, channel, sender and day, each SMS
//! within its segment limit and in its sender's words, under an id keyed per installation
//! (nothing of the person can be read from it).

use super::places::Places;
use super::{next_sms_slot, sms, DeliveryConfig};
use crate::clock::vn_date;
use crate::registry::FacilityKind;
use crate::rules::wording::{sender_template, MessageContext, Renderer};
use crate::rules::{Lang, RuleSet};
use crate::store::outbox::{NoticeRow, OutboxMessage};
use crate::store::{Channel, Store};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

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

/// A stable message id from (recipient, channel, sender, day): the same on every instance on
/// one database and on every retry, so it doubles as the gateway's de-duplication key and lets
/// the file outbox find a message it wrote before a crash. An HMAC-SHA256 under the
/// installation's secret (issue #10): the id goes to SMS and email providers and is shown on
/// the delivery page, and an unkeyed hash of a 12-digit personal ID is reversed by trying them
/// all.
pub fn message_id(
    key: &MessageKey,
    recipient: &str,
    channel: &str,
    sender: &str,
    day: NaiveDate,
) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key.0).expect("HMAC takes any key");
    // Separated, so that no two different tuples feed the same bytes.
    mac.update(format!("{recipient}\n{channel}\n{sender}\n{day}").as_bytes());
    let tag = mac.finalize().into_bytes();
    let hex: String = tag[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{channel}-{hex}", day.format("%Y%m%d"))
}

/// What turns notices into messages: the installation's id key, the rule set's sender
/// templates and the facilities that sign them, loaded once per compose pass.
pub struct Composer<'a> {
    cfg: &'a DeliveryConfig,
    key: MessageKey,
    renderer: Renderer,
    places: Places,
}

impl<'a> Composer<'a> {
    pub async fn new(
        store: &Store,
        cfg: &'a DeliveryConfig,
        rules: &RuleSet,
    ) -> anyhow::Result<Composer<'a>> {
        Ok(Composer {
            cfg,
            key: MessageKey::of(store).await?,
            renderer: rules.renderer(),
            places: Places::load(store).await?,
        })
    }

    /// A composer for one message's notices: the facilities of their communes only (a
    /// gateway outage makes many fallbacks, each must stay cheap).
    pub async fn for_notices(
        store: &Store,
        cfg: &'a DeliveryConfig,
        rules: &RuleSet,
        notices: &[&NoticeRow],
    ) -> anyhow::Result<Composer<'a>> {
        let mut communes: Vec<&str> = notices.iter().map(|n| n.commune_code.as_str()).collect();
        communes.sort_unstable();
        communes.dedup();
        Ok(Composer {
            cfg,
            key: MessageKey::of(store).await?,
            renderer: rules.renderer(),
            places: Places::load_communes(store, &communes).await?,
        })
    }

    /// One message to `recipient` on `channel` carrying `group`'s notices, all of one sender
    /// (an SMS stops before the notice that would take it past `segment_limit`; the first
    /// always goes, so nothing is lost). Returns the message and the notices it carries.
    #[allow(clippy::too_many_arguments)]
    pub fn build<'n>(
        &self,
        recipient: &str,
        channel: Channel,
        address: &str,
        group: &[&'n NoticeRow],
        day: NaiveDate,
        now: DateTime<Utc>,
        segment_limit: u32,
    ) -> anyhow::Result<(OutboxMessage, Vec<&'n NoticeRow>)> {
        // A ZNS message is one approved template: it carries the notices of the first one's
        // template id (the others wait for the next day's message; see `compose_page`).
        let zns: Vec<&'n NoticeRow>;
        let group = if channel == Channel::Zns {
            let id = group.iter().find_map(|n| zns_template_of(n));
            zns = (group.iter().copied())
                .filter(|n| id.is_some() && zns_template_of(n) == id)
                .collect();
            anyhow::ensure!(
                !zns.is_empty(),
                "a ZNS message needs a notice with a ZNS template"
            );
            &zns[..]
        } else {
            group
        };
        let first = group[0];
        debug_assert!(group.iter().all(|n| n.sender == first.sender));
        let id = message_id(&self.key, recipient, channel.as_str(), &first.sender, day);
        let lang = if first.language == "en" {
            Lang::En
        } else {
            Lang::Vi
        };
        let sender = FacilityKind::parse(&first.sender).unwrap_or(FacilityKind::Health);
        let place = self
            .places
            .place(&first.commune_code, sender, &first.item, lang);
        let words = |included: &[&NoticeRow]| {
            let earliest_due = included.iter().filter_map(|n| n.due).min();
            let from = earliest_due.map_or(day, |d| d.max(day));
            MessageContext {
                notices: String::new(),
                place: place.words.clone(),
                next_session: place.next_session(from).map(vn_date).unwrap_or_default(),
            }
        };
        // ZNS keeps the SMS text in `body`: staff read it, and it is what a fallback sends.
        let (body, encoding, segments, included, subject) = if channel.is_phone() {
            let template = sender_template(sender);
            let mut included: Vec<&NoticeRow> = Vec::new();
            let mut text = None;
            for n in group {
                let mut candidate = included.clone();
                candidate.push(n);
                let mut ctx = words(&candidate);
                ctx.notices = (candidate.iter())
                    .map(|n| n.line_sms.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                let rendered = self.renderer.render(&template, lang, &ctx)?;
                let prepared = sms::prepare(&rendered, self.cfg.sms_unaccented);
                if !included.is_empty() && prepared.segments > segment_limit {
                    break;
                }
                text = Some(prepared);
                included = candidate;
            }
            let text = text.expect("the first notice always goes");
            (
                text.body,
                Some(text.encoding.as_str().to_string()),
                Some(text.segments as i32),
                included,
                place.words.name.clone(),
            )
        } else {
            let ctx = words(group);
            let body = super::letter::body(
                group,
                &ctx,
                lang,
                &super::letter::unsubscribe_link(self.cfg, &id),
            );
            (
                body,
                None,
                None,
                group.to_vec(),
                super::letter::subject(group, sender, &ctx, lang),
            )
        };
        // ZNS reaches the same phone as SMS, so it keeps the SMS hours.
        let next_attempt_at = if channel.is_phone() {
            next_sms_slot(now, self.cfg.sms_window)
        } else {
            now
        };
        let payload = match channel {
            Channel::Zns => merged_payload(&included)?,
            _ => None,
        };
        let message = OutboxMessage {
            id,
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
            sender: first.sender.clone(),
            sender_name: place.words.name.clone(),
            alert_id: 0,
            zns_template_id: payload.as_ref().map(|p| p.template_id.clone()),
            template_data: (payload.as_ref())
                .map(|p| serde_json::to_string(&p.template_data))
                .transpose()?,
        };
        Ok((message, included))
    }
}

/// The ZNS template id of a notice's payload.
fn zns_template_of(n: &NoticeRow) -> Option<String> {
    let p: crate::rules::zns::ZnsPayload = serde_json::from_str(n.zns_data.as_deref()?).ok()?;
    Some(p.template_id)
}

/// One payload for the notices of one ZNS message (same template id): each parameter's
/// distinct values in notice order, joined by ", " (twins: "An, Bình"; a day's doses: "Lao,
/// Viêm gan B"); a value all notices share appears once.
fn merged_payload(notices: &[&NoticeRow]) -> anyhow::Result<Option<crate::rules::zns::ZnsPayload>> {
    let mut merged: Option<crate::rules::zns::ZnsPayload> = None;
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in notices {
        let Some(data) = n.zns_data.as_deref() else {
            continue;
        };
        let p: crate::rules::zns::ZnsPayload = serde_json::from_str(data)?;
        for (k, v) in &p.template_data {
            let seen = values.entry(k.clone()).or_default();
            if !seen.contains(v) {
                seen.push(v.clone());
            }
        }
        merged.get_or_insert(p);
    }
    Ok(merged.map(|mut p| {
        p.template_data = values.into_iter().map(|(k, v)| (k, v.join(", "))).collect();
        p
    }))
}

/// Turns the day's notices into messages: one per recipient, channel and sender, listing
/// every notice of that sender (twins due the same week: one SMS naming both). Notices past
/// the SMS segment limit wait for the next day's message. Returns how many messages were
/// queued.
pub async fn compose(
    store: &Store,
    cfg: &DeliveryConfig,
    rules: &RuleSet,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    // Recipients page by page, so memory does not grow with the day's notices. A full page may
    // end inside a recipient's notices: that recipient is left for the next page, whole.
    const PAGE: i64 = 5_000;
    let composer = Composer::new(store, cfg, rules).await?;
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
        queued += compose_page(store, &composer, day, now, &notices).await?;
        if !full {
            return Ok(queued);
        }
        after = last;
    }
}

/// Messages for one page of notices (whole recipients): one per recipient, channel and sender.
async fn compose_page(
    store: &Store,
    composer: &Composer<'_>,
    day: NaiveDate,
    now: DateTime<Utc>,
    notices: &[NoticeRow],
) -> anyhow::Result<u64> {
    // A ZNS message is one approved template. When a recipient's notices of one sender do not
    // all fit the first one's template, all of them go in the day's SMS instead (same phone,
    // same opt-out), when SMS is configured: splitting them would leave an SMS of that day
    // beside the ZNS, and a ZNS that then falls back to SMS would find that day's SMS id taken
    // and its notices would never go. Without SMS, the others wait for the next day.
    let sms_ok = composer.cfg.channels.contains(&Channel::Sms);
    let mut first_template: std::collections::HashMap<(&str, &str), Option<String>> =
        Default::default();
    let mut mixed: std::collections::HashSet<(&str, &str)> = Default::default();
    // A notice the recipient resolved to SMS directly (its template has no ZNS entry) makes
    // the day's SMS of that sender: the ZNS notices join it.
    let by_sms: std::collections::HashSet<(&str, &str)> = (notices.iter())
        .filter(|n| n.channel == Some(Channel::Sms))
        .map(|n| {
            (
                n.recipient_id.as_deref().unwrap_or_default(),
                n.sender.as_str(),
            )
        })
        .collect();
    for n in notices.iter().filter(|n| n.channel == Some(Channel::Zns)) {
        let r = n.recipient_id.as_deref().unwrap_or_default();
        let key = (r, n.sender.as_str());
        let mine = zns_template_of(n);
        if by_sms.contains(&key) {
            mixed.insert(key);
        }
        match first_template.get(&key) {
            None => {
                if mine.is_none() {
                    mixed.insert(key);
                }
                first_template.insert(key, mine);
            }
            Some(first) if *first != mine || mine.is_none() => {
                mixed.insert(key);
            }
            Some(_) => {}
        }
    }
    let mut groups: BTreeMap<(String, Channel, &str), Vec<&NoticeRow>> = BTreeMap::new();
    for n in notices {
        if let (Some(r), Some(mut c)) = (&n.recipient_id, n.channel) {
            if c == Channel::Zns {
                let key = (r.as_str(), n.sender.as_str());
                let first = first_template.get(&key).cloned().flatten();
                if sms_ok && mixed.contains(&key) {
                    c = Channel::Sms;
                } else if !sms_ok && zns_template_of(n) != first {
                    // Not this ZNS: it waits for the next day's message.
                    continue;
                }
            }
            groups
                .entry((r.clone(), c, n.sender.as_str()))
                .or_default()
                .push(n);
        }
    }
    let mut batch = Vec::with_capacity(groups.len());
    for ((recipient, channel, _), group) in &groups {
        let address = group[0].address.clone().unwrap_or_default();
        batch.push(composer.build(
            recipient,
            *channel,
            &address,
            group,
            day,
            now,
            composer.cfg.sms_segment_limit,
        )?);
    }
    Ok(store.queue_messages(&batch, now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn message_ids_are_keyed_stable_and_hide_the_recipient() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let k = MessageKey::from_hex(&"ab".repeat(32)).unwrap();
        let other = MessageKey::from_hex(&"cd".repeat(32)).unwrap();
        let a = message_id(&k, "001190000001", "sms", "health", d);
        assert_eq!(a, message_id(&k, "001190000001", "sms", "health", d));
        assert_ne!(a, message_id(&k, "001190000001", "email", "health", d));
        assert_ne!(
            a,
            message_id(&k, "001190000001", "sms", "police", d),
            "one per sender"
        );
        assert_ne!(a, message_id(&k, "001190000002", "sms", "health", d));
        assert_ne!(
            a,
            message_id(&other, "001190000001", "sms", "health", d),
            "keyed"
        );
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
