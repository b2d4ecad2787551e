//! Everything kept about one citizen — household, guardians, records, history — read once for
//! `vongdoi citizen show`, `GET /api/citizens/{pin}` and the staff citizen page, so they cannot
//! drift apart. Every person it names through a link passes the reader's [`Scope::may_see`]:
//! links are data a registrar can write, so following one never shows someone the reader could
//! not read directly (issue #10: a registrar once read other provinces' households this way).

use super::{HistoryEntry, PersonalIdChange, Result, Store, StoredCitizen};
use crate::registry::{Citizen, IdCardRecord, Immunization, PersonalId, Scope};
use serde_json::{json, Value};

pub struct Dossier {
    pub stored: StoredCitizen,
    /// The other members of the household whom the reader may see.
    pub household: Vec<Citizen>,
    /// Members of the household registered outside the reader's area: counted, never shown.
    pub household_withheld: usize,
    pub guardians: Vec<Guardian>,
    pub immunizations: Vec<Immunization>,
    pub id_cards: Vec<IdCardRecord>,
    pub history: Vec<HistoryEntry>,
    pub id_changes: Vec<PersonalIdChange>,
}

/// A mother, father or guardian named on the record.
pub struct Guardian {
    pub role: &'static str,
    pub personal_id: PersonalId,
    pub person: Linked,
    /// (SMS, email) opt-outs of the person, when shown.
    pub opt_outs: Option<(bool, bool)>,
}

/// What a link leads to, for this reader. (A dossier holds a handful: boxing the citizen would
/// buy nothing.)
#[allow(clippy::large_enum_variant)]
pub enum Linked {
    /// Registered and within the reader's area.
    Shown(Citizen),
    /// Registered outside the reader's area: neither name nor contact is shown.
    Withheld,
    /// Not registered in this registry.
    NotRegistered,
}

impl Linked {
    pub fn shown(&self) -> Option<&Citizen> {
        match self {
            Linked::Shown(c) => Some(c),
            _ => None,
        }
    }

    fn of(person: Option<Citizen>, reader: &Scope) -> Linked {
        match person {
            Some(p) if reader.may_see(&p) => Linked::Shown(p),
            Some(_) => Linked::Withheld,
            None => Linked::NotRegistered,
        }
    }
}

impl Store {
    /// The citizen's dossier as `reader` may see it (the caller has checked that the reader may
    /// see the citizen; [`Scope::national`] for the operator's command line).
    pub async fn dossier(&self, stored: StoredCitizen, reader: &Scope) -> Result<Dossier> {
        let c = &stored.citizen;
        let pin = c.personal_id;
        let (mut household, mut household_withheld) = (Vec::new(), 0);
        if let Some(h) = &c.household_id {
            for m in self.household(h).await? {
                if m.personal_id == pin {
                    continue;
                }
                if reader.may_see(&m) {
                    household.push(m);
                } else {
                    household_withheld += 1;
                }
            }
        }
        let mut guardians = Vec::new();
        for (role, id) in c.guardian_links() {
            let stored = self.citizen(id).await?;
            let opt_outs = stored.as_ref().map(|g| (g.sms_opt_out, g.email_opt_out));
            let person = Linked::of(stored.map(|g| g.citizen), reader);
            guardians.push(Guardian {
                role,
                personal_id: id,
                opt_outs: opt_outs.filter(|_| person.shown().is_some()),
                person,
            });
        }
        Ok(Dossier {
            household,
            household_withheld,
            guardians,
            immunizations: self.immunizations_of(pin).await?,
            id_cards: self.id_cards_of(pin).await?,
            history: self.history_of(pin).await?,
            // Only the changes that led to this ID: a change away from it belongs to whoever
            // held it before (an ID given up can be registered to someone else later).
            id_changes: self
                .id_changes_of(pin)
                .await?
                .into_iter()
                .filter(|c| c.new_id == pin.as_str())
                .collect(),
            stored,
        })
    }
}

impl Dossier {
    /// The JSON of `citizen show --format json` and the API.
    pub fn to_json(&self) -> Value {
        let c = &self.stored.citizen;
        json!({
            "citizen": self.stored,
            "province_code": c.commune_code.province_code(),
            "household": self.household,
            "household_withheld": self.household_withheld,
            "guardians": self.guardians.iter().map(|g| json!({
                "role": g.role, "personal_id": g.personal_id,
                "registered": !matches!(g.person, Linked::NotRegistered),
                "withheld": matches!(g.person, Linked::Withheld),
                "full_name": g.person.shown().map(|p| &p.full_name),
                "phone": g.person.shown().and_then(|p| p.phone.as_ref()),
                "email": g.person.shown().and_then(|p| p.email.as_ref()),
            })).collect::<Vec<_>>(),
            "immunizations": self.immunizations,
            "id_cards": self.id_cards,
            "history": self.history,
            "personal_id_changes": self.id_changes,
        })
    }

    /// Everyone the dossier shows besides the citizen, with how they are linked: what the audit
    /// trail records as read.
    pub fn linked_people(&self) -> impl Iterator<Item = (&Citizen, &'static str)> {
        self.guardians
            .iter()
            .filter_map(|g| g.person.shown().map(|p| (p, g.role)))
            .chain(self.household.iter().map(|m| (m, "household")))
    }
}
