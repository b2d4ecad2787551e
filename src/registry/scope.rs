//! Where a caller may look, and the one test that every path showing a person goes through.
//!
//! A key or session has a role and an area (provinces and communes). A person is shown — read
//! directly, or named through a link (household members, mother, father, guardian, the contact
//! of a list) — only when [`Scope::may_see`] says so. Links are data anyone with write access
//! can set, so following one must never widen what the caller sees.

use super::{AdminUnits, Citizen};
use std::collections::BTreeSet;

/// Where a key may look: provinces and communes; both empty = everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub provinces: BTreeSet<String>,
    pub communes: BTreeSet<String>,
}

impl Scope {
    pub fn everywhere(&self) -> bool {
        self.provinces.is_empty() && self.communes.is_empty()
    }

    /// Does the area include this commune?
    pub fn contains_commune(&self, commune: &str) -> bool {
        if self.everywhere() || self.communes.contains(commune) {
            return true;
        }
        AdminUnits::get()
            .commune(commune)
            .is_some_and(|c| self.provinces.contains(&c.province_code))
    }

    /// Does the area include the whole province?
    pub fn contains_province(&self, province: &str) -> bool {
        self.everywhere() || self.provinces.contains(province)
    }

    /// Every commune of the area (None: everywhere).
    pub fn commune_codes(&self) -> Option<Vec<String>> {
        if self.everywhere() {
            return None;
        }
        let units = AdminUnits::get();
        let mut all: BTreeSet<String> = self.communes.clone();
        for p in &self.provinces {
            all.extend(units.communes_of(p).map(|c| c.code.clone()));
        }
        Some(all.into_iter().collect())
    }

    pub fn describe(&self) -> String {
        if self.everywhere() {
            return "toàn quốc / everywhere".into();
        }
        let mut parts: Vec<String> = self
            .provinces
            .iter()
            .map(|p| format!("tỉnh/province {p}"))
            .collect();
        parts.extend(self.communes.iter().map(|c| format!("xã/commune {c}")));
        parts.join(", ")
    }

    pub(crate) fn join(set: &BTreeSet<String>) -> String {
        set.iter().cloned().collect::<Vec<_>>().join(",")
    }

    pub(crate) fn split(s: &str) -> BTreeSet<String> {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

impl Scope {
    /// The whole country: the operator at the command line, national roles.
    pub fn national() -> Scope {
        Scope::default()
    }

    /// The one authorization test for showing a person: are they registered in the area?
    /// Every path that names a person to a caller — direct reads, links, lists — asks this.
    pub fn may_see(&self, person: &Citizen) -> bool {
        self.contains_commune(person.commune_code.as_str())
    }
}
