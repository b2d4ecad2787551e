//! Staff outputs (issue 5): what a commune health worker prints before a vaccination day, the
//! coverage they report to the district, a planner's enrolment forecast against school places,
//! and the police officer's ID-card list.
//!
//! One source of truth: the lists and coverage come from the rule engine that drives the
//! reminders ([`RuleSet::evaluate`]), run over a filtered streaming scan of the registry
//! ([`scan_ranges`]); names and contacts are fetched afterwards, set-based, only for the
//! citizens a list names. Enrolment counts come from one GROUP BY. Nothing queries per citizen.
//!
//! - [`vaccination`], [`id_cards`]: lists of due and overdue items.
//! - [`coverage`]: shares of children immunized by their first and second birthdays.
//! - [`enrolment`]: school cohorts by commune and school year, with projections and capacity.
//! - [`output`]: CSV (with BOM), JSON and printable HTML with inline SVG charts.

pub mod coverage;
pub mod enrolment;
pub mod id_cards;
pub mod output;
pub mod places;
pub mod vaccination;
pub mod worklist;

use crate::registry::{AdminUnits, Citizen, CommuneCode, PersonalId, Scope};
use crate::rules::{DoseRecord, Forecast, Item, Lang, RuleSet, Status, Subject};
use crate::store::scan::scan_ranges;
use crate::store::{CitizenRecords, ScanRange, Store};
use anyhow::{bail, Result};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Citizens per page of the report scans (as the registry scan).
const PAGE: i64 = 5_000;

/// Where a report looks: some communes, or the whole registry.
#[derive(Debug, Clone, Default)]
pub struct Area {
    /// Empty = the whole registry.
    communes: Vec<CommuneCode>,
    /// What was asked for, for headings: province and commune codes.
    provinces_asked: Vec<String>,
    communes_asked: Vec<String>,
}

impl Area {
    /// `--province` and `--commune` (repeatable) as communes; none of either = everything.
    pub fn resolve(provinces: &[String], communes: &[String]) -> Result<Area> {
        let units = AdminUnits::get();
        let mut set = BTreeSet::new();
        for p in provinces {
            let p = p.trim();
            let code = if p.len() == 1 {
                format!("0{p}")
            } else {
                p.to_string()
            };
            if units.province(&code).is_none() {
                bail!("mã tỉnh '{p}' không tồn tại / province code '{p}' does not exist: use a 2-digit 2025 code (01, 04, 08, …, 96)");
            }
            set.extend(
                units
                    .communes_of(&code)
                    .map(|c| CommuneCode::parse(&c.code).expect("embedded commune")),
            );
        }
        for c in communes {
            set.insert(CommuneCode::parse(c).map_err(|e| anyhow::anyhow!(e))?);
        }
        Ok(Area {
            communes: set.into_iter().collect(),
            provinces_asked: provinces.to_vec(),
            communes_asked: communes.to_vec(),
        })
    }

    pub fn whole_registry() -> Area {
        Area::default()
    }

    /// None: the whole registry.
    pub fn communes(&self) -> Option<&[CommuneCode]> {
        (!self.communes.is_empty()).then_some(self.communes.as_slice())
    }

    pub fn contains(&self, commune: &str) -> bool {
        self.communes.is_empty() || self.communes.iter().any(|c| c.as_str() == commune)
    }

    /// The communes asked for by `--commune`, which a report lists even when empty.
    pub fn named_communes(&self) -> Vec<CommuneCode> {
        self.communes_asked
            .iter()
            .filter_map(|c| CommuneCode::parse(c).ok())
            .collect()
    }

    /// "Toàn bộ sổ dân cư" or the province and commune names, for headings.
    pub fn describe(&self, lang: Lang) -> String {
        let units = AdminUnits::get();
        if self.communes.is_empty() {
            return bi(lang, "Toàn bộ sổ dân cư", "Whole registry");
        }
        let mut parts = Vec::new();
        for p in &self.provinces_asked {
            let code = if p.trim().len() == 1 {
                format!("0{}", p.trim())
            } else {
                p.trim().to_string()
            };
            if let Some(p) = units.province(&code) {
                parts.push(format!("{} ({})", p.name, p.code));
            }
        }
        for c in self.named_communes() {
            if let Some(u) = units.commune(c.as_str()) {
                parts.push(format!("{} ({})", u.name, u.code));
            }
        }
        parts.join(", ")
    }

    /// The area as JSON: the communes it covers (None: everything).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "provinces": self.provinces_asked,
            "communes": self.communes_asked,
            "commune_codes": self.communes().map(|c| c.iter().map(|c| c.as_str()).collect::<Vec<_>>()),
        })
    }

    pub fn ranges(&self, born_from: NaiveDate, born_until: NaiveDate) -> Vec<ScanRange> {
        match self.communes() {
            None => vec![ScanRange {
                commune: None,
                born_from,
                born_until,
            }],
            Some(communes) => communes
                .iter()
                .map(|c| ScanRange {
                    commune: Some(c.clone()),
                    born_from,
                    born_until,
                })
                .collect(),
        }
    }
}

/// Vietnamese first: the Vietnamese text alone, or "Vietnamese / English" for `--lang en`.
pub fn bi(lang: Lang, vi: &str, en: &str) -> String {
    match lang {
        Lang::Vi => vi.to_string(),
        Lang::En => format!("{vi} / {en}"),
    }
}

/// One citizen of the scan evaluated by the rule engine, exactly as `vongdoi forecast` does.
pub fn evaluate(rules: &RuleSet, r: &CitizenRecords, as_of: NaiveDate) -> Forecast {
    let doses: Vec<DoseRecord> = r
        .doses
        .iter()
        .map(|d| DoseRecord {
            vaccine: &d.vaccine,
            date_given: d.date_given,
        })
        .collect();
    let subject = Subject {
        date_of_birth: r.date_of_birth,
        date_of_death: r.date_of_death,
        sex: r.sex,
        province_code: r.commune_code.province_code(),
        commune_code: r.commune_code.as_str(),
    };
    rules.evaluate(&subject, &doses, &r.id_cards, as_of)
}

/// Streams the citizens of `area` born in `[born_from, born_until]`, evaluates each on `as_of`
/// and hands both to `f`. Returns how many citizens were read.
pub async fn for_each_evaluated(
    store: Arc<Store>,
    rules: &RuleSet,
    area: &Area,
    (born_from, born_until): (NaiveDate, NaiveDate),
    as_of: NaiveDate,
    mut f: impl FnMut(&CitizenRecords, &Forecast),
) -> Result<u64> {
    let mut pages = scan_ranges(store, area.ranges(born_from, born_until), PAGE);
    let mut read = 0u64;
    while let Some(page) = pages.recv().await {
        let page = page?;
        read += page.len() as u64;
        for r in &page {
            f(r, &evaluate(rules, r, as_of));
        }
    }
    Ok(read)
}

/// Which open items a list shows: the statuses asked for (due, overdue) and, with
/// `--due-within DAYS`, upcoming or eligible items whose due date comes within DAYS days.
#[derive(Debug, Clone)]
pub struct ItemFilter {
    pub statuses: Vec<Status>,
    pub due_within: Option<u32>,
}

impl ItemFilter {
    pub fn selects(&self, item: &Item, as_of: NaiveDate) -> bool {
        if self.statuses.contains(&item.status) {
            return true;
        }
        match (self.due_within, item.due) {
            (Some(days), Some(due)) => {
                matches!(item.status, Status::Upcoming | Status::Eligible)
                    && due <= as_of + chrono::Days::new(days.into())
            }
            _ => false,
        }
    }

    /// The definition, written in json and html reports.
    pub fn describe(&self, lang: Lang) -> String {
        let names: Vec<&str> = self.statuses.iter().map(|s| s.label(lang)).collect();
        let mut text = match lang {
            Lang::Vi => format!("Các mục có trạng thái: {}", names.join(", ")),
            Lang::En => format!("Items with status: {}", names.join(", ")),
        };
        if let Some(days) = self.due_within {
            text.push_str(&match lang {
                Lang::Vi => format!(
                    "; và các mục sắp tới / có thể làm có ngày đến hạn trong {days} ngày tới"
                ),
                Lang::En => {
                    format!("; and upcoming or eligible items due within the next {days} days")
                }
            });
        }
        text
    }
}

/// Who to call about a citizen: the first of mother, father, guardian who has a phone, else the
/// first of them who is registered.
#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub role: &'static str,
    pub personal_id: PersonalId,
    pub full_name: String,
    pub phone: Option<String>,
}

impl Contact {
    pub fn role_label(role: &str, lang: Lang) -> &'static str {
        match (role, lang) {
            ("self", Lang::Vi) => "bản thân",
            ("mother", Lang::Vi) => "mẹ",
            ("father", Lang::Vi) => "cha",
            ("guardian", Lang::Vi) => "người giám hộ",
            ("self", Lang::En) => "self",
            ("mother", Lang::En) => "mother",
            ("father", Lang::En) => "father",
            ("guardian", Lang::En) => "guardian",
            _ => "",
        }
    }
}

/// The citizens a list names, with their guardian contact: two set-based reads (the citizens,
/// then their guardians), whatever the list's length. Only guardians the `reader` may see are
/// contacts: a link to someone outside the reader's area names nobody.
pub async fn people(
    store: &Store,
    pins: &[PersonalId],
    reader: &Scope,
) -> Result<HashMap<PersonalId, (Citizen, Option<Contact>)>> {
    let citizens: Vec<Citizen> = store
        .citizens_by_ids(pins)
        .await?
        .into_iter()
        .map(|s| s.citizen)
        .collect();
    let mut guardian_ids: Vec<PersonalId> = citizens.iter().flat_map(|c| c.guardians()).collect();
    guardian_ids.sort_unstable();
    guardian_ids.dedup();
    let guardians: HashMap<PersonalId, Citizen> = store
        .citizens_by_ids(&guardian_ids)
        .await?
        .into_iter()
        .filter(|g| reader.may_see(&g.citizen))
        .map(|g| (g.citizen.personal_id, g.citizen))
        .collect();
    Ok(citizens
        .into_iter()
        .map(|c| {
            let candidates: Vec<(&'static str, &Citizen)> = [
                ("mother", c.mother_id),
                ("father", c.father_id),
                ("guardian", c.guardian_id),
            ]
            .into_iter()
            .filter_map(|(role, id)| Some((role, guardians.get(&id?)?)))
            .collect();
            let chosen = candidates
                .iter()
                .find(|(_, g)| g.phone.is_some())
                .or(candidates.first());
            let contact = chosen.map(|(role, g)| Contact {
                role,
                personal_id: g.personal_id,
                full_name: g.full_name.clone(),
                phone: g.phone.as_ref().map(|p| p.to_string()),
            });
            (c.personal_id, (c, contact))
        })
        .collect())
}

/// The people a list shows, each once (first appearance kept): every person listed
/// (`listed`) and the contact beside them (`contact`), for the audit trail.
fn people_shown(
    rows: impl Iterator<Item = (PersonalId, Option<PersonalId>)>,
) -> Vec<(PersonalId, &'static str)> {
    let mut seen = std::collections::HashSet::new();
    rows.flat_map(|(person, contact)| [Some((person, "listed")), contact.map(|c| (c, "contact"))])
        .flatten()
        .filter(|(p, _)| seen.insert(*p))
        .collect()
}

/// Days from `date` to `as_of` when positive (how long an item has been overdue), else 0.
pub fn days_since(date: Option<NaiveDate>, as_of: NaiveDate) -> i64 {
    date.map_or(0, |d| (as_of - d).num_days().max(0))
}

/// A citizen's item picked for a list.
pub struct Hit {
    pub personal_id: PersonalId,
    pub item: Item,
}

/// The items `pick` selects, over the citizens of `area` born in the range; returns the hits and
/// how many citizens were read.
pub async fn collect_items(
    store: Arc<Store>,
    rules: &RuleSet,
    area: &Area,
    born: (NaiveDate, NaiveDate),
    as_of: NaiveDate,
    pick: impl Fn(&Item) -> bool,
) -> Result<(Vec<Hit>, u64)> {
    let mut hits = Vec::new();
    let read = for_each_evaluated(store, rules, area, born, as_of, |r, forecast| {
        for item in forecast.items.iter().filter(|i| pick(i)) {
            hits.push(Hit {
                personal_id: r.personal_id,
                item: item.clone(),
            });
        }
    })
    .await?;
    Ok((hits, read))
}
