//! Everything kept about one citizen — household, guardians, records, history — read once for
//! `vongdoi citizen show` and `GET /api/citizens/{pin}`, so the two cannot drift apart.

use super::{HistoryEntry, PersonalIdChange, Result, Store, StoredCitizen};
use crate::registry::{Citizen, IdCardRecord, Immunization, PersonalId};
use serde_json::{json, Value};

pub struct Dossier {
    pub stored: StoredCitizen,
    /// The other members of the household.
    pub household: Vec<Citizen>,
    pub guardians: Vec<Guardian>,
    pub immunizations: Vec<Immunization>,
    pub id_cards: Vec<IdCardRecord>,
    pub history: Vec<HistoryEntry>,
    pub id_changes: Vec<PersonalIdChange>,
}

/// A mother, father or guardian named on the record (None when not registered here).
pub struct Guardian {
    pub role: &'static str,
    pub personal_id: PersonalId,
    pub person: Option<Citizen>,
}

impl Store {
    pub async fn dossier(&self, stored: StoredCitizen) -> Result<Dossier> {
        let c = &stored.citizen;
        let pin = c.personal_id;
        let household = match &c.household_id {
            Some(h) => self
                .household(h)
                .await?
                .into_iter()
                .filter(|m| m.personal_id != pin)
                .collect(),
            None => Vec::new(),
        };
        let mut guardians = Vec::new();
        for (role, id) in [
            ("mother", c.mother_id),
            ("father", c.father_id),
            ("guardian", c.guardian_id),
        ] {
            if let Some(id) = id {
                let person = self.citizen(id).await?.map(|g| g.citizen);
                guardians.push(Guardian {
                    role,
                    personal_id: id,
                    person,
                });
            }
        }
        Ok(Dossier {
            household,
            guardians,
            immunizations: self.immunizations_of(pin).await?,
            id_cards: self.id_cards_of(pin).await?,
            history: self.history_of(pin).await?,
            id_changes: self.id_changes_of(pin).await?,
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
            "guardians": self.guardians.iter().map(|g| json!({
                "role": g.role, "personal_id": g.personal_id,
                "full_name": g.person.as_ref().map(|p| &p.full_name),
                "phone": g.person.as_ref().and_then(|p| p.phone.as_ref()),
                "email": g.person.as_ref().and_then(|p| p.email.as_ref()),
            })).collect::<Vec<_>>(),
            "immunizations": self.immunizations,
            "id_cards": self.id_cards,
            "history": self.history,
            "personal_id_changes": self.id_changes,
        })
    }
}
