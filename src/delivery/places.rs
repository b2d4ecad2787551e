//! Who signs a message and how a family reaches them (issue #13): the facility of a sender in
//! a commune, in the words a template sees. Loaded once per run or compose pass: there are a
//! few facilities per commune (about 20,000 rows nationally), whatever the registry's size.
//!
//! A commune without a registered facility still gets a signature built from its name
//! ("Trạm Y tế phường Ba Đình"), with no address or phone: `rules check` warns about those
//! communes so the operator fills them in.

use crate::registry::{AdminUnits, CommuneCode, Facility, FacilityKind, SessionDays};
use crate::rules::wording::PlaceWords;
use crate::rules::Lang;
use crate::store::Store;
use chrono::NaiveDate;
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Places {
    by: HashMap<(String, FacilityKind), Vec<Facility>>,
}

/// One sender's facility in one commune, ready for a template.
#[derive(Debug, Clone)]
pub struct Place {
    pub words: PlaceWords,
    pub sessions: SessionDays,
}

impl Place {
    pub fn next_session(&self, from: NaiveDate) -> Option<NaiveDate> {
        self.sessions.next_on_or_after(from)
    }
}

impl Places {
    pub async fn load(store: &Store) -> anyhow::Result<Places> {
        Ok(Places::from_facilities(store.facilities(None).await?))
    }

    /// Only the facilities of `communes` (one failed message's fallback, not a whole pass).
    pub async fn load_communes(store: &Store, communes: &[&str]) -> anyhow::Result<Places> {
        let codes: Vec<CommuneCode> = (communes.iter())
            .filter_map(|c| CommuneCode::parse(c).ok())
            .collect();
        Ok(Places::from_facilities(
            store.facilities(Some(&codes)).await?,
        ))
    }

    pub fn from_facilities(list: Vec<Facility>) -> Places {
        let mut by: HashMap<(String, FacilityKind), Vec<Facility>> = HashMap::new();
        for f in list {
            by.entry((f.commune_code.clone(), f.kind))
                .or_default()
                .push(f);
        }
        Places { by }
    }

    /// The facility that signs `sender`'s notices about `item` (a stable key such as
    /// `school/kindergarten-5`) in `commune`. For school notices, a kindergarten's enrolment
    /// comes from a "Mầm non" school when the commune has one, other levels from the others.
    pub fn place(&self, commune: &str, sender: FacilityKind, item: &str, lang: Lang) -> Place {
        let unit = AdminUnits::get().commune(commune);
        let in_sentence = unit
            .map(|c| c.in_sentence())
            .unwrap_or_else(|| commune.to_string());
        // English keeps the unit's own capital: "Phường Ngọc Hà health station".
        let signed = match (lang, unit) {
            (Lang::En, Some(c)) => c.name.clone(),
            _ => in_sentence.clone(),
        };
        let found = self
            .by
            .get(&(commune.to_string(), sender))
            .and_then(|list| {
                if sender != FacilityKind::School {
                    return list.first();
                }
                let kindergarten = item.starts_with("school/kindergarten");
                let is_kindergarten = |f: &&Facility| {
                    let n = crate::text::unaccent(&f.name.to_lowercase());
                    n.contains("mam non") || n.contains("mau giao")
                };
                list.iter()
                    .find(|f| is_kindergarten(f) == kindergarten)
                    .or(list.first())
            });
        match found {
            Some(f) => Place {
                words: PlaceWords {
                    place: in_sentence,
                    name: f.name.clone(),
                    address: f.address.clone(),
                    phone: f.phone.clone(),
                    hours: f.hours.clone(),
                },
                sessions: f.session_days.clone(),
            },
            None => Place {
                words: PlaceWords {
                    name: sender.default_name(&signed, lang == Lang::En),
                    place: in_sentence,
                    ..PlaceWords::default()
                },
                sessions: SessionDays::default(),
            },
        }
    }
}
