//! A citizen as the registry holds them, and the validation that turns a CSV row into one.

use super::admin_units::AdminUnits;
use super::contact::{Email, Phone};
use super::dates::{parse_date, parse_optional_date};
use super::personal_id::PersonalId;
use super::sex::Sex;
use super::text;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A commune code that exists in the 2025 code list (5 digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommuneCode(String);

impl CommuneCode {
    pub fn parse(s: &str) -> Result<CommuneCode, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("mã xã trống / commune code is empty: give the 5-digit code".into());
        }
        // Spreadsheets drop leading zeros ("4" for "00004"): restore them before looking up.
        let padded = if s.len() < 5 && s.bytes().all(|b| b.is_ascii_digit()) {
            format!("{s:0>5}")
        } else {
            s.to_string()
        };
        if AdminUnits::get().commune(&padded).is_none() {
            return Err(format!(
                "mã xã '{s}' không có trong danh mục 2025 / commune code '{s}' is not in the 2025 code list (Decision 19/2025/QĐ-TTg)",
                s = text::shown(s)
            ));
        }
        Ok(CommuneCode(padded))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn province_code(&self) -> &str {
        &AdminUnits::get()
            .commune(&self.0)
            .expect("validated on construction")
            .province_code
    }
}

impl fmt::Display for CommuneCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CommuneCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CommuneCode::parse(&s)
    }
}

impl From<CommuneCode> for String {
    fn from(c: CommuneCode) -> String {
        c.0
    }
}

/// The language messages go out in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Vi,
    En,
}

impl Language {
    pub fn parse(s: &str) -> Result<Language, String> {
        match s.trim().to_lowercase().as_str() {
            "" | "vi" => Ok(Language::Vi),
            "en" => Ok(Language::En),
            other => Err(format!(
                "ngôn ngữ '{other}' không hỗ trợ / language '{other}' is not supported: use vi or en",
                other = text::shown(other)
            )),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::Vi => "vi",
            Language::En => "en",
        }
    }
}

/// The registry fields of a citizen: what the CSV carries and the registrar edits.
/// Per-channel opt-outs and timestamps live beside it in the store ([`crate::store::StoredCitizen`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citizen {
    pub personal_id: PersonalId,
    pub full_name: String,
    pub sex: Sex,
    pub date_of_birth: NaiveDate,
    pub date_of_death: Option<NaiveDate>,
    pub commune_code: CommuneCode,
    pub household_id: Option<String>,
    pub mother_id: Option<PersonalId>,
    pub father_id: Option<PersonalId>,
    pub guardian_id: Option<PersonalId>,
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub language: Language,
    /// The thôn / tổ dân phố within the commune (free text, as the commune names it).
    #[serde(default)]
    pub village: Option<String>,
    /// An address line within the commune (house number, lane, street).
    #[serde(default)]
    pub address: Option<String>,
}

/// The column order of the citizens CSV (docs/interface.md).
pub const CITIZEN_COLUMNS: [&str; 15] = [
    "personal_id",
    "full_name",
    "sex",
    "date_of_birth",
    "date_of_death",
    "commune_code",
    "household_id",
    "mother_id",
    "father_id",
    "guardian_id",
    "phone",
    "email",
    "language",
    "village",
    "address",
];

/// A problem with one field of one row, worded for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> FieldError {
        FieldError {
            field,
            reason: reason.into(),
        }
    }
}

/// One citizens-CSV row as text, before validation. Missing optional columns read as empty.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CitizenRow {
    #[serde(default)]
    pub personal_id: String,
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub sex: String,
    #[serde(default)]
    pub date_of_birth: String,
    #[serde(default)]
    pub date_of_death: String,
    #[serde(default)]
    pub commune_code: String,
    #[serde(default)]
    pub household_id: String,
    #[serde(default)]
    pub mother_id: String,
    #[serde(default)]
    pub father_id: String,
    #[serde(default)]
    pub guardian_id: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub village: String,
    #[serde(default)]
    pub address: String,
}

fn optional<T>(
    field: &'static str,
    raw: &str,
    parse: impl Fn(&str) -> Result<T, String>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    if raw.trim().is_empty() {
        return None;
    }
    match parse(raw) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(FieldError::new(field, e));
            None
        }
    }
}

impl CitizenRow {
    /// Validates every field and reports every problem, not just the first. `today` is the
    /// clock value the caller passes in (no `now()` inside the domain).
    pub fn validate(&self, today: NaiveDate) -> Result<Citizen, Vec<FieldError>> {
        let mut errors = Vec::new();
        let personal_id = match PersonalId::parse(&self.personal_id) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(FieldError::new("personal_id", e.to_string()));
                None
            }
        };
        let full_name = self
            .full_name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        // Checked as written, before whitespace is folded: a tab or newline inside a name is a
        // control character, not a space.
        if let Err(e) = text::check("full_name", self.full_name.trim(), text::NAME) {
            errors.push(e);
        } else if full_name.is_empty() {
            errors.push(FieldError::new(
                "full_name",
                "họ tên trống / full name is empty",
            ));
        } else if full_name
            .chars()
            .any(|c| c.is_control() || c.is_ascii_digit())
        {
            errors.push(FieldError::new(
                "full_name",
                "họ tên có chữ số hoặc ký tự điều khiển / full name contains digits or control characters",
            ));
        }
        let sex = Sex::parse(&self.sex)
            .map_err(|e| errors.push(FieldError::new("sex", e)))
            .ok();
        let date_of_birth = if self.date_of_birth.trim().is_empty() {
            errors.push(FieldError::new(
                "date_of_birth",
                "ngày sinh trống / date of birth is empty",
            ));
            None
        } else {
            match parse_date(&self.date_of_birth) {
                Ok(d) if d > today => {
                    errors.push(FieldError::new(
                        "date_of_birth",
                        format!("ngày sinh {d} ở tương lai / date of birth {d} is in the future (today is {today})"),
                    ));
                    None
                }
                Ok(d) => Some(d),
                Err(e) => {
                    errors.push(FieldError::new("date_of_birth", e));
                    None
                }
            }
        };
        let date_of_death = optional(
            "date_of_death",
            &self.date_of_death,
            parse_optional_date,
            &mut errors,
        )
        .flatten();
        if let Some(death) = date_of_death {
            if death > today {
                errors.push(FieldError::new(
                    "date_of_death",
                    format!(
                        "ngày mất {death} ở tương lai / date of death {death} is in the future"
                    ),
                ));
            }
            if let Some(birth) = date_of_birth {
                if death < birth {
                    errors.push(FieldError::new(
                        "date_of_death",
                        format!("ngày mất {death} trước ngày sinh {birth} / date of death {death} is before the date of birth {birth}"),
                    ));
                }
            }
        }
        if let (Some(pin), Some(sex), Some(dob)) = (personal_id, sex, date_of_birth) {
            for mismatch in pin.check_against(sex, dob) {
                errors.push(FieldError::new("personal_id", mismatch.to_string()));
            }
        }
        let commune_code = CommuneCode::parse(&self.commune_code)
            .map_err(|e| errors.push(FieldError::new("commune_code", e)))
            .ok();
        let household_id =
            match text::check("household_id", self.household_id.trim(), text::HOUSEHOLD_ID) {
                Ok(()) => Some(self.household_id.trim().to_string()).filter(|h| !h.is_empty()),
                Err(e) => {
                    errors.push(e);
                    None
                }
            };
        let mut link = |field: &'static str, raw: &str| -> Option<PersonalId> {
            let pin = optional(
                field,
                raw,
                |s| PersonalId::parse(s).map_err(|e| e.to_string()),
                &mut errors,
            )?;
            if Some(pin) == personal_id {
                errors.push(FieldError::new(
                    field,
                    "không thể là chính người này / cannot be the citizen themself",
                ));
                return None;
            }
            Some(pin)
        };
        let mother_id = link("mother_id", &self.mother_id);
        let father_id = link("father_id", &self.father_id);
        let guardian_id = link("guardian_id", &self.guardian_id);
        let phone = optional("phone", &self.phone, Phone::parse, &mut errors);
        let email = optional("email", &self.email, Email::parse, &mut errors);
        let language = Language::parse(&self.language)
            .map_err(|e| errors.push(FieldError::new("language", e)))
            .unwrap_or_default();
        let mut free_text = |field: &'static str, raw: &str, rule| -> Option<String> {
            // Checked as written (a tab inside is a control character), then spaces folded.
            match text::check(field, raw.trim(), rule) {
                Ok(()) => Some(raw.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|v| !v.is_empty()),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        };
        let village = free_text("village", &self.village, text::VILLAGE);
        let address = free_text("address", &self.address, text::ADDRESS);

        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Citizen {
            personal_id: personal_id.expect("checked"),
            full_name,
            sex: sex.expect("checked"),
            date_of_birth: date_of_birth.expect("checked"),
            date_of_death,
            commune_code: commune_code.expect("checked"),
            household_id,
            mother_id,
            father_id,
            guardian_id,
            phone,
            email,
            language,
            village,
            address,
        })
    }
}

impl Citizen {
    /// The CSV cells in [`CITIZEN_COLUMNS`] order (the export format).
    pub fn to_record(&self) -> [String; 15] {
        let opt = |v: Option<String>| v.unwrap_or_default();
        [
            self.personal_id.to_string(),
            self.full_name.clone(),
            self.sex.code().to_string(),
            self.date_of_birth.to_string(),
            opt(self.date_of_death.map(|d| d.to_string())),
            self.commune_code.to_string(),
            opt(self.household_id.clone()),
            opt(self.mother_id.map(|p| p.to_string())),
            opt(self.father_id.map(|p| p.to_string())),
            opt(self.guardian_id.map(|p| p.to_string())),
            opt(self.phone.as_ref().map(|p| p.to_string())),
            opt(self.email.as_ref().map(|e| e.to_string())),
            self.language.code().to_string(),
            opt(self.village.clone()),
            opt(self.address.clone()),
        ]
    }

    /// The fields that differ from `before`, as (field, old, new) text for the history.
    pub fn changes_from(&self, before: &Citizen) -> Vec<(&'static str, String, String)> {
        let (old, new) = (before.to_record(), self.to_record());
        CITIZEN_COLUMNS
            .iter()
            .zip(old)
            .zip(new)
            .filter(|((_, o), n)| o != n)
            .map(|((f, o), n)| (*f, o, n))
            .collect()
    }

    /// The contact-holding relatives, in the order notices look for a recipient.
    pub fn guardians(&self) -> impl Iterator<Item = PersonalId> {
        [self.mother_id, self.father_id, self.guardian_id]
            .into_iter()
            .flatten()
    }

    /// The guardian links that are set, with their role (`mother`, `father`, `guardian`), in
    /// the order notices look for a recipient.
    pub fn guardian_links(&self) -> impl Iterator<Item = (&'static str, PersonalId)> {
        [
            ("mother", self.mother_id),
            ("father", self.father_id),
            ("guardian", self.guardian_id),
        ]
        .into_iter()
        .filter_map(|(role, id)| Some((role, id?)))
    }

    /// Mutable access to the guardian links by CSV field name, so the importer can drop one
    /// that points nowhere and keep the row.
    pub fn link_mut(&mut self, field: &str) -> Option<&mut Option<PersonalId>> {
        match field {
            "mother_id" => Some(&mut self.mother_id),
            "father_id" => Some(&mut self.father_id),
            "guardian_id" => Some(&mut self.guardian_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
