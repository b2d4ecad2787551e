//! Two-way messaging (issue #16): what a family texts back is traced to the family (by its
//! number), to what it answers (the latest reminder or alert sent to that number within the
//! reply window) and to the child, then acted on:
//!
//! - a keyword of the rule files (`[[keyword]]`, matched folded: see `rules::keywords`):
//!   `HUY` stops SMS to everyone registered with the number, `DANG KY` starts them again,
//!   `DA TIEM` puts a reported dose on the nurse's worklist (not a dose until she confirms);
//!   each gets one confirmation back, through the outbox;
//! - a family with several children that reports a dose without saying which is asked;
//! - anything else lands in the commune's inbox, for staff to answer from the page.
//!
//! Everything one reply does is stored in one transaction ([`Store::record_inbound`]), keyed
//! by the gateway's id, so a gateway that posts a reply twice changes nothing the second time.

use crate::delivery::{message_id, next_sms_slot, sms, DeliveryConfig, MessageKey};
use crate::rules::keywords::{self, KeywordAction};
use crate::rules::{Lang, RuleSet};
use crate::store::inbound::{
    InboundAction, InboxStatus, MessageChild, NewInbound, NewReportedDose,
};
use crate::store::outbox::OutboxMessage;
use crate::store::{Channel, MessageStatus, Store, StoredCitizen};
use chrono::{DateTime, Utc};

/// An SMS a family sent, as a gateway delivered it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The shape it came in (`generic`, `esms`): ids are unique per gateway.
    pub provider: &'static str,
    pub provider_id: String,
    /// E.164.
    pub from: String,
    pub text: String,
    pub received_at: DateTime<Utc>,
}

/// What came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The gateway's id was seen before: nothing done again.
    Duplicate,
    Recorded {
        id: i64,
        action: InboundAction,
    },
}

/// The longest reply kept: ten SMS parts (longer is not a reply from a phone).
const MAX_TEXT: usize = 1600;

/// The text as stored: no control characters or direction overrides, at most [`MAX_TEXT`].
pub fn clean_text(raw: &str) -> String {
    let kept: String = raw
        .chars()
        .map(|c| {
            if c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200f}' | '\u{feff}')
            {
                ' '
            } else {
                c
            }
        })
        .take(MAX_TEXT)
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Traces, decides and stores one reply.
pub async fn receive(
    store: &Store,
    rules: &RuleSet,
    cfg: &DeliveryConfig,
    r: Received,
    now: DateTime<Utc>,
) -> anyhow::Result<Handled> {
    let text = clean_text(&r.text);
    let people = store.citizens_with_phone(&r.from).await?;
    let answered = store
        .last_message_to(&r.from, now - cfg.reply_window)
        .await?;
    let children = match &answered {
        Some(m) => store.children_of_message(&m.id).await?,
        None => Vec::new(),
    };
    let lang = match (&answered, people.first()) {
        (Some(m), _) => crate::schedule::lang_of(&m.language),
        (None, Some(p)) => match p.citizen.language {
            crate::registry::Language::En => Lang::En,
            _ => Lang::Vi,
        },
        (None, None) => Lang::Vi,
    };
    let found = keywords::find(rules.keywords(), &text);
    // Who the reply is from, as staff see it: of everyone with the number, one who lives in
    // the commune whose inbox it lands in (a shared phone may also be a relative's elsewhere,
    // whom that commune's staff must not see).
    let home = children.first().map(|c| c.commune_code.as_str());
    let sender = (people.iter())
        .find(|p| Some(p.citizen.commune_code.as_str()) == home)
        .or(people.first());
    let commune_of_number = sender
        .map(|p| p.citizen.commune_code.to_string())
        .unwrap_or_default();
    let mut record = NewInbound {
        provider_key: format!("{}:{}", r.provider, r.provider_id),
        from_number: r.from.clone(),
        body: text.clone(),
        received_at: r.received_at,
        action: InboundAction::ForStaff,
        keyword: found.as_ref().map(|m| m.word.clone()),
        citizen_id: sender.map(|p| p.citizen.personal_id.to_string()),
        child_id: (children.len() == 1).then(|| children[0].personal_id.clone()),
        answers: answered.as_ref().map(|m| m.id.clone()),
        commune_code: children
            .first()
            .map(|c| c.commune_code.clone())
            .unwrap_or(commune_of_number),
        status: InboxStatus::Open,
        opt: None,
        reported: Vec::new(),
        reply: None,
    };
    let pins = || -> Vec<String> {
        (people.iter())
            .map(|p| p.citizen.personal_id.to_string())
            .collect()
    };
    let reply_text: Option<String> = match found {
        _ if people.is_empty() => {
            // Nobody in the registry has this number: nothing to stop or start, no child to
            // tie a dose to. Kept for the record and the command line, in no commune's inbox.
            record.action = InboundAction::UnknownNumber;
            record.status = InboxStatus::Handled;
            None
        }
        None => None,
        Some(m) => match m.keyword.action {
            KeywordAction::OptOut | KeywordAction::OptIn => {
                let out = m.keyword.action == KeywordAction::OptOut;
                record.action = if out {
                    InboundAction::OptOut
                } else {
                    InboundAction::OptIn
                };
                record.status = InboxStatus::Handled;
                record.opt = Some((pins(), out));
                Some(m.keyword.reply(lang).to_string())
            }
            KeywordAction::ReportedDose => {
                let doses: Vec<&MessageChild> = (children.iter())
                    .filter(|c| series_of(rules, c).is_some())
                    .collect();
                match pick_child(store, &doses, &m.rest).await? {
                    Pick::One(c) => {
                        record.action = InboundAction::ReportedDose;
                        record.status = InboxStatus::Handled;
                        record.child_id = Some(c.personal_id.clone());
                        record.commune_code = c.commune_code.clone();
                        record.reported.push(NewReportedDose {
                            personal_id: c.personal_id.clone(),
                            commune_code: c.commune_code.clone(),
                            item: c.item.clone(),
                            series: series_of(rules, c).unwrap_or_default(),
                        });
                        Some(m.keyword.reply(lang).to_string())
                    }
                    Pick::Ask(choices) => {
                        record.action = InboundAction::AskChild;
                        record.status = InboxStatus::Handled;
                        record.child_id = None;
                        Some(m.keyword.ask(lang).replace("{choices}", &choices))
                    }
                    // No vaccination message to tie it to: a person decides.
                    Pick::None => None,
                }
            }
        },
    };
    if let Some(text) = reply_text {
        let recipient = record.citizen_id.clone().unwrap_or_default();
        record.reply = Some(reply_message(
            &MessageKey::of(store).await?,
            cfg,
            (&recipient, &r.from),
            lang,
            &text,
            &record.provider_key,
            now,
        ));
    }
    let action = record.action;
    Ok(match store.record_inbound(&record, now).await? {
        None => Handled::Duplicate,
        Some(id) => {
            tracing::info!(inbound = id, action = action.as_str(), "reply received");
            Handled::Recorded { id, action }
        }
    })
}

/// The series a dose reported for this child would be of: its reminder's, or its alert's.
fn series_of(rules: &RuleSet, c: &MessageChild) -> Option<String> {
    if let Some(template) = &c.alert_template {
        return rules.alert(template).map(|a| a.series.clone());
    }
    let mut parts = c.item.split('/');
    match (parts.next(), parts.next()) {
        (Some("vaccination"), Some(series)) => Some(series.to_string()),
        _ => None,
    }
}

enum Pick<'c> {
    One(&'c MessageChild),
    /// "1 = bé An, 2 = bé Bình"
    Ask(String),
    None,
}

/// Which child a reported dose is for: the only one, or the one the family named by number or
/// given name ("DA TIEM 2", "DA TIEM BINH"); else the family is asked.
async fn pick_child<'c>(
    store: &Store,
    children: &[&'c MessageChild],
    rest: &[String],
) -> anyhow::Result<Pick<'c>> {
    match children {
        [] => return Ok(Pick::None),
        [one] => return Ok(Pick::One(one)),
        _ => {}
    }
    if let Some(n) = rest.first().and_then(|w| w.parse::<usize>().ok()) {
        if let Some(c) = n.checked_sub(1).and_then(|i| children.get(i)) {
            return Ok(Pick::One(c));
        }
    }
    let pins: Vec<crate::registry::PersonalId> = (children.iter())
        .filter_map(|c| crate::registry::PersonalId::parse(&c.personal_id).ok())
        .collect();
    let people = store.citizens_by_ids(&pins).await?;
    let given = |c: &MessageChild| -> String {
        (people.iter())
            .find(|p| p.citizen.personal_id.as_str() == c.personal_id)
            .and_then(|p| {
                p.citizen
                    .full_name
                    .split_whitespace()
                    .last()
                    .map(str::to_string)
            })
            .unwrap_or_default()
    };
    let named: Vec<&&MessageChild> = (children.iter())
        .filter(|c| {
            let g = keywords::fold_words(&given(c)).concat();
            !g.is_empty() && rest.contains(&g)
        })
        .collect();
    if let [one] = named[..] {
        return Ok(Pick::One(one));
    }
    let choices: Vec<String> = (children.iter().enumerate())
        .map(|(i, c)| format!("{} = bé {}", i + 1, given(c)))
        .collect();
    Ok(Pick::Ask(choices.join(", ")))
}

/// An answer to a reply, queued like any SMS (the SMS window, the rate, retries). Its id is
/// keyed on what it answers, so it is stable across a retried webhook.
pub fn reply_message(
    key: &MessageKey,
    cfg: &DeliveryConfig,
    (recipient, address): (&str, &str),
    lang: Lang,
    text: &str,
    answers: &str,
    now: DateTime<Utc>,
) -> OutboxMessage {
    let day = crate::clock::day_in_vietnam(now);
    let prepared = sms::prepare(text, cfg.sms_unaccented);
    OutboxMessage {
        id: message_id(key, recipient, "sms", &format!("reply:{answers}"), day),
        recipient_id: recipient.to_string(),
        channel: Channel::Sms,
        address: address.to_string(),
        day,
        language: match lang {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
        .to_string(),
        subject: String::new(),
        body: prepared.body,
        encoding: Some(prepared.encoding.as_str().to_string()),
        segments: Some(prepared.segments as i32),
        status: MessageStatus::Queued,
        attempts: 0,
        next_attempt_at: next_sms_slot(now, cfg.sms_window),
        last_error: None,
        provider_id: None,
        sender: "health".into(),
        sender_name: String::new(),
        alert_id: 0,
        zns_template_id: None,
        template_data: None,
    }
}

/// The people registered with a number, for staff: who a reply is from.
pub fn owners(people: &[StoredCitizen]) -> Vec<String> {
    people
        .iter()
        .map(|p| p.citizen.personal_id.to_string())
        .collect()
}
