//! Who hears about a notice, on which channel, in which words (issue #4 §4–5): a child's
//! notices go to the first guardian with a usable contact (mother, father, guardian); an
//! adult's to themselves; the identity card at 14 to the teenager if they have a contact, else
//! a guardian. A channel is usable when the address exists and the person has not opted out;
//! channels are tried in the configured order of preference.

use super::{lang_of, place_name};
use crate::delivery::DeliveryConfig;
use crate::registry::PersonalId;
use crate::rules::{Lang, RuleSet};
use crate::store::outbox::NoticeRow;
use crate::store::{Channel, CitizenRecords, Store, StoredCitizen};
use chrono::{Datelike, NaiveDate};
use std::collections::HashMap;

/// (citizen, item key, template, notice date, item name vi, item name en, item due date)
pub(crate) type Due<'a> = (
    &'a CitizenRecords,
    String,
    String,
    NaiveDate,
    String,
    String,
    Option<NaiveDate>,
);

fn age_on(birth: NaiveDate, day: NaiveDate) -> i32 {
    let mut age = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// The first channel of `person` that can be used, with its address.
fn channel_of(person: &StoredCitizen, cfg: &DeliveryConfig) -> Option<(Channel, String)> {
    cfg.channels
        .iter()
        .find_map(|c| c.address_of(person).map(|a| (*c, a)))
}

pub(crate) async fn resolve(
    store: &Store,
    rules: &RuleSet,
    cfg: &DeliveryConfig,
    due: &[Due<'_>],
    as_of: NaiveDate,
) -> anyhow::Result<Vec<NoticeRow>> {
    if due.is_empty() {
        return Ok(Vec::new());
    }
    // Two set-based reads per page: the citizens with notices, then their guardians.
    let mut pins: Vec<PersonalId> = due.iter().map(|d| d.0.personal_id).collect();
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

    let env = minijinja::Environment::new();
    let mut out = Vec::with_capacity(due.len());
    for (r, item, template, date, name_vi, name_en, item_due) in due {
        let Some(subject) = people.get(&r.personal_id) else {
            continue;
        };
        let guardians = subject.citizen.guardians().filter_map(|g| people.get(&g));
        let candidates: Vec<&StoredCitizen> = if item == "id-card/14" {
            std::iter::once(subject).chain(guardians).collect()
        } else if age_on(subject.citizen.date_of_birth, as_of) < 18 {
            guardians.chain(std::iter::once(subject)).collect()
        } else {
            vec![subject]
        };
        let reached = candidates
            .iter()
            .find_map(|p| channel_of(p, cfg).map(|c| (*p, c)));
        let language = reached
            .as_ref()
            .map(|(p, _)| p.citizen.language)
            .unwrap_or(subject.citizen.language)
            .code();
        let lang = lang_of(language);
        let item_name = if lang == Lang::En { name_en } else { name_vi };
        let text = rules
            .template(template, lang)
            .unwrap_or("{{ item_name }}: {{ due }}");
        let ctx = minijinja::context! {
            child_name => subject.citizen.full_name,
            citizen_name => subject.citizen.full_name,
            item_name => item_name,
            due => item_due.map(|d| d.format("%d/%m/%Y").to_string()).unwrap_or_default(),
            place => place_name(subject.citizen.commune_code.as_str()),
        };
        let line = env
            .render_str(text, ctx)
            .map_err(|e| anyhow::anyhow!("template {template}.{}.txt: {e}", language))?;
        let subject_line = if lang == Lang::En {
            format!("Reminder: {item_name}")
        } else {
            format!("Nhắc lịch: {item_name}")
        };
        out.push(NoticeRow {
            personal_id: r.personal_id.to_string(),
            item: item.clone(),
            template: template.clone(),
            notice_date: *date,
            run_date: as_of,
            recipient_id: reached
                .as_ref()
                .map(|(p, _)| p.citizen.personal_id.to_string()),
            channel: reached.as_ref().map(|(_, (c, _))| *c),
            address: reached.map(|(_, (_, a))| a),
            language: language.to_string(),
            line_sms: line.clone(),
            line_email: line,
            subject: subject_line,
        });
    }
    Ok(out)
}
