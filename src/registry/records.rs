//! Immunization and ID-card issuance records. The rule engine evaluates them; the registry
//! only checks that each one can be true (known vaccine, a date inside the citizen's life).

use super::citizen::FieldError;
use super::dates::parse_optional_date;
use super::personal_id::PersonalId;
use super::text;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One dose given. The dose number is derived by the rule engine, never imported.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Immunization {
    pub personal_id: PersonalId,
    /// A vaccine code from the rule set's catalogue (docs/domain.md §3), upper case.
    pub vaccine: String,
    pub date_given: NaiveDate,
    pub place: Option<String>,
    /// The vaccine's lot (batch) number, when the nurse wrote it down.
    #[serde(default)]
    pub lot: Option<String>,
}

/// One identity card issued.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdCardRecord {
    pub personal_id: PersonalId,
    pub issued_on: NaiveDate,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImmunizationRow {
    #[serde(default)]
    pub personal_id: String,
    #[serde(default)]
    pub vaccine: String,
    #[serde(default)]
    pub date_given: String,
    #[serde(default)]
    pub place: String,
    #[serde(default)]
    pub lot: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct IdCardRow {
    #[serde(default)]
    pub personal_id: String,
    #[serde(default)]
    pub issued_on: String,
}

fn pin_field(raw: &str, errors: &mut Vec<FieldError>) -> Option<PersonalId> {
    PersonalId::parse(raw)
        .map_err(|e| errors.push(FieldError::new("personal_id", e.to_string())))
        .ok()
}

fn past_date(
    field: &'static str,
    raw: &str,
    today: NaiveDate,
    errors: &mut Vec<FieldError>,
) -> Option<NaiveDate> {
    match parse_optional_date(raw) {
        Ok(None) => {
            errors.push(FieldError::new(field, "ngày trống / the date is empty"));
            None
        }
        Ok(Some(d)) if d > today => {
            errors.push(FieldError::new(
                field,
                format!("ngày {d} ở tương lai / date {d} is in the future"),
            ));
            None
        }
        Ok(Some(d)) => Some(d),
        Err(e) => {
            errors.push(FieldError::new(field, e));
            None
        }
    }
}

impl ImmunizationRow {
    /// Checks what the row alone can tell. Whether the citizen exists and was alive on that
    /// date needs the registry: see [`check_within_life`].
    pub fn validate(
        &self,
        today: NaiveDate,
        is_known_vaccine: &dyn Fn(&str) -> bool,
    ) -> Result<Immunization, Vec<FieldError>> {
        let mut errors = Vec::new();
        let personal_id = pin_field(&self.personal_id, &mut errors);
        let vaccine = self.vaccine.trim().to_uppercase();
        if vaccine.is_empty() {
            errors.push(FieldError::new(
                "vaccine",
                "mã vắc xin trống / vaccine code is empty",
            ));
        } else if !is_known_vaccine(&vaccine) {
            errors.push(FieldError::new(
                "vaccine",
                format!("mã vắc xin '{shown}' không có trong danh mục / vaccine code '{shown}' is not in the rule set's catalogue (rules/vaccines.toml)", shown = text::shown(&vaccine)),
            ));
        }
        let date_given = past_date("date_given", &self.date_given, today, &mut errors);
        let place = match text::check("place", self.place.trim(), text::PLACE) {
            Ok(()) => Some(self.place.trim().to_string()).filter(|p| !p.is_empty()),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let lot = match text::check("lot", self.lot.trim(), text::LOT) {
            Ok(()) => Some(self.lot.trim().to_string()).filter(|l| !l.is_empty()),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        match (personal_id, date_given, errors.is_empty()) {
            (Some(personal_id), Some(date_given), true) => Ok(Immunization {
                personal_id,
                vaccine,
                date_given,
                place,
                lot,
            }),
            _ => Err(errors),
        }
    }
}

impl IdCardRow {
    pub fn validate(&self, today: NaiveDate) -> Result<IdCardRecord, Vec<FieldError>> {
        let mut errors = Vec::new();
        let personal_id = pin_field(&self.personal_id, &mut errors);
        let issued_on = past_date("issued_on", &self.issued_on, today, &mut errors);
        match (personal_id, issued_on) {
            (Some(personal_id), Some(issued_on)) if errors.is_empty() => Ok(IdCardRecord {
                personal_id,
                issued_on,
            }),
            _ => Err(errors),
        }
    }
}

/// A record dated before birth or after death cannot be true.
pub fn check_within_life(
    field: &'static str,
    date: NaiveDate,
    life: Option<(NaiveDate, Option<NaiveDate>)>,
) -> Result<(), FieldError> {
    let Some((birth, death)) = life else {
        return Err(FieldError::new(
            "personal_id",
            "không có công dân với số định danh này trong sổ; nhập công dân trước / no citizen with this personal ID in the registry: import the citizen first",
        ));
    };
    if date < birth {
        return Err(FieldError::new(field, format!("ngày {date} trước ngày sinh {birth} / date {date} is before the date of birth {birth}")));
    }
    if let Some(death) = death.filter(|&d| date > d) {
        return Err(FieldError::new(
            field,
            format!(
                "ngày {date} sau ngày mất {death} / date {date} is after the date of death {death}"
            ),
        ));
    }
    Ok(())
}
