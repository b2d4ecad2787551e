//! TEMPORARY until the facilities branch lands: no facilities stored.
use super::{Result, Store};
use crate::registry::{CommuneCode, Facility};

impl Store {
    pub async fn facilities(&self, _communes: Option<&[CommuneCode]>) -> Result<Vec<Facility>> {
        Ok(Vec::new())
    }
}
