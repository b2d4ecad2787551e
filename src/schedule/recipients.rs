//! Who hears about a notice, on which channel, in which words (issue #4 §4–5): a child's
//! notices go to the first guardian with a usable contact (mother, father, guardian); an
//! adult's to themselves; the identity card at 14 to the teenager if they have a contact, else
//! a guardian. A channel is usable when the address exists and the person has not opted out;
//! channels are tried in the configured order of preference.

use super::lang_of;
use crate::delivery::places::Places;
use crate::delivery::DeliveryConfig;
use crate::registry::PersonalId;
use crate::rules::wording::{age_on, form_of, named, NoticeContext, Person, Renderer};
use crate::rules::Item;
use crate::store::outbox::NoticeRow;
use crate::store::{Channel, CitizenRecords, Store, StoredCitizen};
use chrono::NaiveDate;
use std::collections::HashMap;

/// A notice the scheduler found due for a citizen: the item as the engine gave it.
pub(crate) struct Due<'a> {
    pub citizen: &'a CitizenRecords,
    pub item: Item,
    pub template: String,
    /// The notice's own date (its place in the unique key).
    pub date: NaiveDate,
}

/// The first channel of `person` that can be used, with its address (reminders and outbreak
/// alerts alike). ZNS only when `zns` says the message has a ZNS template: a notice whose
/// template has no `[[zns]]` entry, and every outbreak alert, take the next channel.
pub(crate) fn channel_of(
    person: &StoredCitizen,
    cfg: &DeliveryConfig,
    zns: bool,
) -> Option<(Channel, String)> {
    (cfg.channels.iter())
        .filter(|c| zns || **c != Channel::Zns)
        .find_map(|c| c.address_of(person).map(|a| (*c, a)))
}

/// The notices of `due` with their recipients found and their sentences written.
pub(crate) async fn resolve(
    store: &Store,
    wording: (&Renderer, &Places),
    cfg: &DeliveryConfig,
    due: &[Due<'_>],
    as_of: NaiveDate,
) -> anyhow::Result<Vec<NoticeRow>> {
    let (renderer, places) = wording;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    // Two set-based reads per page: the citizens with notices, then their guardians.
    let mut pins: Vec<PersonalId> = due.iter().map(|d| d.citizen.personal_id).collect();
    pins.sort();
    pins.dedup();
    let mut people: HashMap<PersonalId, StoredCitizen> = store
        .citizens_by_ids(&pins)
        .await?
        .into_iter()
        .map(|c| (c.citizen.personal_id, c))
        .collect();
    let mut guardian_pins: Vec<PersonalId> = people
        .values()
        .flat_map(|c| c.citizen.guardians())
        .filter(|g| !people.contains_key(g))
        .collect();
    guardian_pins.sort();
    guardian_pins.dedup();
    for g in store.citizens_by_ids(&guardian_pins).await? {
        people.insert(g.citizen.personal_id, g);
    }

    let mut out = Vec::with_capacity(due.len());
    for d in due {
        let item_key = d.item.key().stable_key();
        let Some(subject) = people.get(&d.citizen.personal_id) else {
            continue;
        };
        let guardians = subject.citizen.guardians().filter_map(|g| people.get(&g));
        let candidates: Vec<&StoredCitizen> = if item_key == "id-card/14" {
            std::iter::once(subject).chain(guardians).collect()
        } else if age_on(subject.citizen.date_of_birth, as_of) < 18 {
            guardians.chain(std::iter::once(subject)).collect()
        } else {
            vec![subject]
        };
        let zns = renderer.has_zns(&d.template);
        let reached = candidates
            .iter()
            .find_map(|p| channel_of(p, cfg, zns).map(|c| (*p, c)));
        let language = reached
            .as_ref()
            .map(|(p, _)| p.citizen.language)
            .unwrap_or(subject.citizen.language)
            .code();
        let lang = lang_of(language);
        let sender = d.item.info.policy.sender;
        let commune = subject.citizen.commune_code.as_str();
        let place = places.place(commune, sender, &item_key, lang);
        let s = &subject.citizen;
        let person = Person {
            full_name: &s.full_name,
            sex: s.sex,
            date_of_birth: s.date_of_birth,
        };
        let ctx = NoticeContext::of(&person, &d.item, lang, as_of, &place.words, |from| {
            place.next_session(from)
        });
        let line = renderer.render(&d.template, lang, &ctx)?;
        // The ZNS parameters are rendered now, with the notice's sentence, from the same
        // variables: the message is composed later from the stored notice alone.
        let zns_data = match &reached {
            Some((_, (Channel::Zns, _))) => (renderer.render_zns(&d.template, &ctx)?)
                .map(|p| serde_json::to_string(&p))
                .transpose()?,
            _ => None,
        };
        let salutation = reached.as_ref().map_or_else(String::new, |(p, _)| {
            let c = &p.citizen;
            named(
                form_of(age_on(c.date_of_birth, as_of), c.sex, lang),
                &c.full_name,
            )
        });
        out.push(NoticeRow {
            personal_id: d.citizen.personal_id.to_string(),
            item: item_key,
            template: d.template.clone(),
            notice_date: d.date,
            run_date: as_of,
            recipient_id: reached
                .as_ref()
                .map(|(p, _)| p.citizen.personal_id.to_string()),
            channel: reached.as_ref().map(|(_, (c, _))| *c),
            address: reached.map(|(_, (_, a))| a),
            language: language.to_string(),
            line_sms: line.clone(),
            line_email: line,
            subject: d.item.info.name(lang).to_string(),
            sender: sender.as_str().to_string(),
            commune_code: commune.to_string(),
            about: ctx.name.clone(),
            salutation,
            due: d.item.due,
            overdue: d.item.overdue,
            zns_data,
        });
    }
    Ok(out)
}
