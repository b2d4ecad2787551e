//! An alert's audience, from the rule engine: the children of the area in the age band whose
//! forecast meets the dose conditions, alive on the alert's day and not opted out of alerts,
//! grouped in households, with one message rendered per household. Saved with the alert as it
//! is found, a commune at a time, so memory holds one commune's children whatever the area.

use super::Targeting;
use crate::delivery::places::Places;
use crate::delivery::{message_id, sms, DeliveryConfig, MessageKey};
use crate::registry::{FacilityKind, PersonalId};
use crate::rules::wording::{age_on, form_of, joined_names, named, AlertContext, Renderer};
use crate::rules::{AlertWording, Lang, RuleSet};
use crate::schedule::recipients::channel_of;
use crate::store::alerts::{AudienceRow, StagedMessage};
use crate::store::scan::scan_ranges;
use crate::store::{Channel, Store, StoredCitizen};
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Citizens per page of the scan.
const PAGE: i64 = 5_000;

/// What building an audience found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Built {
    /// Citizens of the area in the birth range read and evaluated.
    pub evaluated: u64,
    /// Children targeted.
    pub children: u64,
    /// Messages rendered (one per household with a contact).
    pub messages: u64,
}

/// A child the conditions picked.
struct Picked {
    pin: PersonalId,
    commune: String,
    birth: NaiveDate,
    valid_doses: i32,
}

/// Finds, groups and saves the audience of alert `alert_id`.
pub async fn build(
    store: Arc<Store>,
    rules: &RuleSet,
    cfg: &DeliveryConfig,
    alert_id: i64,
    t: &Targeting,
) -> anyhow::Result<Built> {
    let wording = rules
        .alert(&t.template)
        .ok_or_else(|| anyhow::anyhow!("no alert template '{}' in the rules", t.template))?;
    let ctx = Context {
        store: &store,
        cfg,
        renderer: rules.renderer(),
        key: MessageKey::of(&store).await?,
        wording,
        alert_id,
        as_of: t.as_of,
    };
    // Doses are counted for the first condition's series (the worklist's "valid doses").
    let counted = t
        .conditions
        .first()
        .map(|c| c.series.clone())
        .unwrap_or_default();
    let (born_from, born_until) = t.birth_range();
    let ranges = t.area.ranges(born_from, born_until);
    let mut pages = scan_ranges(Arc::clone(&store), ranges, PAGE);
    let mut built = Built::default();
    let mut commune: Vec<Picked> = Vec::new();
    while let Some(page) = pages.recv().await {
        for r in &page? {
            built.evaluated += 1;
            if commune
                .first()
                .is_some_and(|p| p.commune != r.commune_code.as_str())
            {
                flush(&ctx, std::mem::take(&mut commune), &mut built).await?;
            }
            let alive = r.date_of_death.is_none_or(|d| d > t.as_of);
            if !alive || !t.in_age_band(r.date_of_birth) {
                continue;
            }
            let forecast = crate::reports::evaluate(rules, r, t.as_of);
            if super::meets(&forecast, &t.conditions) {
                commune.push(Picked {
                    pin: r.personal_id,
                    commune: r.commune_code.as_str().to_string(),
                    birth: r.date_of_birth,
                    valid_doses: super::valid_doses(&forecast, &counted) as i32,
                });
            }
        }
    }
    flush(&ctx, commune, &mut built).await?;
    store.set_alert_audience_size(alert_id).await?;
    Ok(built)
}

struct Context<'a> {
    store: &'a Store,
    cfg: &'a DeliveryConfig,
    renderer: Renderer,
    key: MessageKey,
    wording: &'a AlertWording,
    alert_id: i64,
    as_of: NaiveDate,
}

/// The first person a child's alert reaches, as for reminders: the first guardian (mother,
/// father, guardian) with a usable contact, else the child; on the first channel of the
/// configured order the person has an address on and has not opted out of, never ZNS (an
/// alert has no approved ZNS template).
fn reach<'p>(
    child: &'p StoredCitizen,
    people: &'p HashMap<PersonalId, StoredCitizen>,
    cfg: &DeliveryConfig,
) -> Option<(&'p StoredCitizen, Channel, String)> {
    child
        .citizen
        .guardians()
        .filter_map(|g| people.get(&g))
        .chain(std::iter::once(child))
        .find_map(|p| channel_of(p, cfg, false).map(|(c, a)| (p, c, a)))
}

/// Groups one commune's picked children in households, renders one message per household
/// and saves both.
async fn flush(ctx: &Context<'_>, picked: Vec<Picked>, built: &mut Built) -> anyhow::Result<()> {
    let Some(first) = picked.first() else {
        return Ok(());
    };
    let commune = first.commune.clone();
    let pins: Vec<PersonalId> = picked.iter().map(|p| p.pin).collect();
    let mut people: HashMap<PersonalId, StoredCitizen> = ctx
        .store
        .citizens_by_ids(&pins)
        .await?
        .into_iter()
        .map(|c| (c.citizen.personal_id, c))
        .collect();
    let mut guardians: Vec<PersonalId> = people
        .values()
        .flat_map(|c| c.citizen.guardians())
        .filter(|g| !people.contains_key(g))
        .collect();
    guardians.sort();
    guardians.dedup();
    for g in ctx.store.citizens_by_ids(&guardians).await? {
        people.insert(g.citizen.personal_id, g);
    }
    // The family's own "no alerts": the child's or any guardian's.
    let mut family: Vec<PersonalId> = pins.clone();
    family.extend(guardians.iter().copied());
    let opted_out: HashSet<String> = ctx
        .store
        .alert_opt_outs_of(&family)
        .await?
        .into_iter()
        .collect();

    // Households first (children of one household share one message), then recipients (two
    // households with one guardian still get one message).
    let mut households: BTreeMap<String, Vec<&Picked>> = BTreeMap::new();
    for p in &picked {
        let Some(child) = people.get(&p.pin) else {
            continue;
        };
        let out = std::iter::once(p.pin)
            .chain(child.citizen.guardians())
            .any(|pin| opted_out.contains(&pin.to_string()));
        if out {
            continue;
        }
        let household = child.citizen.household_id.clone().unwrap_or_else(|| {
            reach(child, &people, ctx.cfg)
                .map_or(p.pin, |(r, _, _)| r.citizen.personal_id)
                .to_string()
        });
        households.entry(household).or_default().push(p);
    }
    let places = Places::load_communes(ctx.store, &[commune.as_str()]).await?;
    let mut rows: Vec<AudienceRow> = Vec::new();
    let mut by_recipient: BTreeMap<(String, Channel), (String, Vec<&Picked>)> = BTreeMap::new();
    for (household, children) in &households {
        // The household's recipient: the first of its children (in ID order) reached.
        let reached = children
            .iter()
            .find_map(|p| people.get(&p.pin).and_then(|c| reach(c, &people, ctx.cfg)));
        for p in children {
            rows.push(AudienceRow {
                personal_id: p.pin.to_string(),
                commune_code: p.commune.clone(),
                date_of_birth: p.birth,
                valid_doses: p.valid_doses,
                household: household.clone(),
                recipient_id: reached
                    .as_ref()
                    .map(|(r, _, _)| r.citizen.personal_id.to_string()),
                channel: reached.as_ref().map(|(_, c, _)| *c),
                message_id: None,
            });
        }
        if let Some((r, channel, address)) = &reached {
            let entry = by_recipient
                .entry((r.citizen.personal_id.to_string(), *channel))
                .or_insert_with(|| (address.clone(), Vec::new()));
            entry.1.extend(children.iter().copied());
        }
    }
    let mut messages = Vec::with_capacity(by_recipient.len());
    let mut message_of: HashMap<PersonalId, String> = HashMap::new();
    for ((recipient, channel), (address, children)) in &by_recipient {
        let r = &people[&PersonalId::parse(recipient).expect("an ID the store gave")];
        let lang = if r.citizen.language.code() == "en" {
            Lang::En
        } else {
            Lang::Vi
        };
        let names: Vec<String> = children
            .iter()
            .filter_map(|p| people.get(&p.pin))
            .map(|c| {
                let c = &c.citizen;
                named(
                    form_of(age_on(c.date_of_birth, ctx.as_of), c.sex, lang),
                    &c.full_name,
                )
            })
            .collect();
        let item = format!("vaccination/{}", ctx.wording.series);
        let place = places.place(&commune, FacilityKind::Health, &item, lang);
        let words = AlertContext {
            children: joined_names(&names, lang),
            count: names.len(),
            salutation: named(
                form_of(
                    age_on(r.citizen.date_of_birth, ctx.as_of),
                    r.citizen.sex,
                    lang,
                ),
                &r.citizen.full_name,
            ),
            disease: ctx.wording.disease(lang).to_string(),
            next_session: place
                .next_session(ctx.as_of)
                .map(crate::clock::vn_date)
                .unwrap_or_default(),
            place: place.words.clone(),
        };
        let text = ctx.renderer.render(&ctx.wording.template, lang, &words)?;
        let sender = format!("alert-{}", ctx.alert_id);
        let id = message_id(&ctx.key, recipient, channel.as_str(), &sender, ctx.as_of);
        let (body, encoding, segments) = match channel {
            Channel::Sms | Channel::Zns => {
                let prepared = sms::prepare(&text, ctx.cfg.sms_unaccented);
                (
                    prepared.body,
                    Some(prepared.encoding.as_str().to_string()),
                    Some(prepared.segments as i32),
                )
            }
            Channel::Email => (text, None, None),
        };
        for p in children {
            message_of.insert(p.pin, id.clone());
        }
        messages.push(StagedMessage {
            id,
            recipient_id: recipient.clone(),
            channel: *channel,
            address: address.clone(),
            language: if lang == Lang::En { "en" } else { "vi" }.to_string(),
            subject: ctx.wording.name(lang).to_string(),
            body,
            encoding,
            segments,
            sender_name: place.words.name.clone(),
            commune_code: commune.clone(),
            children: names.len() as i32,
        });
    }
    for row in &mut rows {
        let pin = PersonalId::parse(&row.personal_id).expect("an ID the store gave");
        row.message_id = message_of.get(&pin).cloned();
    }
    built.children += rows.len() as u64;
    built.messages += messages.len() as u64;
    ctx.store
        .add_alert_audience(ctx.alert_id, &rows, &messages)
        .await?;
    Ok(())
}
