//! The 12-digit personal identification number (số định danh cá nhân).
//!
//! Structure (Decree 137/2015/NĐ-CP Art. 13, Circular 07/2016/TT-BCA; docs/domain.md §2):
//! digits 1–3 the pre-2025 province of birth registration, digit 4 century and sex,
//! digits 5–6 the last two digits of the birth year, digits 7–12 random. There is no check
//! digit, so the only checks possible are shape, prefix, and agreement with the record.

use super::admin_units::AdminUnits;
use super::sex::Sex;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A personal ID that is 12 ASCII digits with a known province prefix. It cannot be built any
/// other way. Whether it agrees with a citizen's sex and birth date is a separate check
/// ([`PersonalId::check_against`]) because it needs the record.
///
/// `Debug` prints the masked form, so a stray `{:?}` in a log line never leaks a full ID;
/// `Display` prints all 12 digits for files and the database.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonalId([u8; 12]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonalIdError {
    #[error("số định danh phải có đúng 12 chữ số, đang có {0} ký tự / the personal ID must be exactly 12 digits, this one has {0} characters")]
    Length(usize),
    #[error("số định danh chỉ gồm chữ số 0–9 / the personal ID may contain only the digits 0–9")]
    NotDigits,
    #[error("mã tỉnh '{0}' (3 chữ số đầu) không có trong danh sách 63 mã / the province prefix '{0}' (first 3 digits) is not one of the 63 known codes")]
    UnknownPrefix(String),
}

/// A disagreement between the ID and the citizen's record. docs/domain.md §2: report, don't guess.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonalIdMismatch {
    #[error("chữ số thứ 4 ({digit}) ghi giới tính {id_sex} nhưng hồ sơ ghi {record_sex} / digit 4 ({digit}) says sex {id_sex} but the record says {record_sex}")]
    Sex {
        digit: u8,
        id_sex: Sex,
        record_sex: Sex,
    },
    #[error("chữ số 4–6 ghi năm sinh {id_year} nhưng ngày sinh là năm {record_year} / digits 4–6 give birth year {id_year} but the date of birth is in {record_year}")]
    BirthYear { id_year: i32, record_year: i32 },
}

impl PersonalId {
    pub fn parse(s: &str) -> Result<PersonalId, PersonalIdError> {
        let s = s.trim();
        let bytes = s.as_bytes();
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(PersonalIdError::NotDigits);
        }
        if bytes.len() != 12 {
            return Err(PersonalIdError::Length(s.chars().count()));
        }
        if AdminUnits::get().pin_prefix(&s[..3]).is_none() {
            return Err(PersonalIdError::UnknownPrefix(s[..3].to_string()));
        }
        let mut digits = [0u8; 12];
        digits.copy_from_slice(bytes);
        Ok(PersonalId(digits))
    }

    /// Builds an ID from its parts; used by the demo generator. `serial` is 0..=999_999.
    pub fn from_parts(prefix: &str, sex: Sex, birth_year: i32, serial: u32) -> Option<PersonalId> {
        if !(1900..2400).contains(&birth_year) || serial > 999_999 {
            return None;
        }
        let century_digit =
            2 * ((birth_year - 1900) / 100) + if sex == Sex::Female { 1 } else { 0 };
        let s = format!("{prefix}{century_digit}{:02}{serial:06}", birth_year % 100);
        PersonalId::parse(&s).ok()
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).expect("ASCII digits")
    }

    pub fn prefix(&self) -> &str {
        &self.as_str()[..3]
    }

    /// Sex encoded in digit 4 (docs/domain.md §2: d4 mod 2, 0 male).
    pub fn sex(&self) -> Sex {
        if (self.0[3] - b'0') % 2 == 0 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Birth year encoded in digits 4–6: 1900 + 100 × (d4 div 2) + yy.
    pub fn birth_year(&self) -> i32 {
        let d4 = (self.0[3] - b'0') as i32;
        let yy = ((self.0[4] - b'0') * 10 + (self.0[5] - b'0')) as i32;
        1900 + 100 * (d4 / 2) + yy
    }

    /// Checks digits 4–6 against the record; every disagreement is returned.
    pub fn check_against(&self, sex: Sex, date_of_birth: NaiveDate) -> Vec<PersonalIdMismatch> {
        let mut problems = Vec::new();
        if self.sex() != sex {
            problems.push(PersonalIdMismatch::Sex {
                digit: self.0[3] - b'0',
                id_sex: self.sex(),
                record_sex: sex,
            });
        }
        if self.birth_year() != date_of_birth.year() {
            problems.push(PersonalIdMismatch::BirthYear {
                id_year: self.birth_year(),
                record_year: date_of_birth.year(),
            });
        }
        problems
    }

    /// The form logs and messages may carry: the last 4 digits only (docs/domain.md §7).
    pub fn masked(&self) -> String {
        format!("********{}", &self.as_str()[8..])
    }
}

impl fmt::Display for PersonalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PersonalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonalId({})", self.masked())
    }
}

impl std::str::FromStr for PersonalId {
    type Err = PersonalIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PersonalId::parse(s)
    }
}

impl Serialize for PersonalId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PersonalId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PersonalId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Masks anything that may be a personal ID for logging, even one that failed to parse.
pub fn mask_raw(s: &str) -> String {
    let s = s.trim();
    let n = s.chars().count();
    if n <= 4 {
        "*".repeat(n)
    } else {
        let tail: String = s.chars().skip(n - 4).collect();
        format!("{}{tail}", "*".repeat(n - 4))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn shape_and_prefix() {
        assert!(PersonalId::parse("001226012345").is_ok());
        assert_eq!(
            PersonalId::parse("00122601234"),
            Err(PersonalIdError::Length(11))
        );
        assert_eq!(
            PersonalId::parse("00122601234a"),
            Err(PersonalIdError::NotDigits)
        );
        assert_eq!(
            PersonalId::parse("0012260123456"),
            Err(PersonalIdError::Length(13))
        );
        assert_eq!(
            PersonalId::parse("003226012345"),
            Err(PersonalIdError::UnknownPrefix("003".into()))
        );
        // Non-ASCII digits (Arabic-Indic) are not digits here.
        assert_eq!(
            PersonalId::parse("٠٠١٢٢٦٠١٢٣٤٥"),
            Err(PersonalIdError::NotDigits)
        );
    }

    #[test]
    fn century_sex_and_year() {
        let pin = PersonalId::parse("001226012345").unwrap();
        assert_eq!(pin.sex(), Sex::Male);
        assert_eq!(pin.birth_year(), 2026);
        let pin = PersonalId::parse("079185000001").unwrap();
        assert_eq!(pin.sex(), Sex::Female);
        assert_eq!(pin.birth_year(), 1985);
        assert!(pin.check_against(Sex::Female, d(1985, 3, 1)).is_empty());
        let problems = pin.check_against(Sex::Male, d(1986, 3, 1));
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn debug_never_shows_the_full_id() {
        let pin = PersonalId::parse("001226012345").unwrap();
        let dbg = format!("{pin:?}");
        assert!(!dbg.contains("001226012345"));
        assert!(dbg.contains("2345"));
        assert_eq!(mask_raw("12345678"), "****5678");
    }

    proptest! {
        #[test]
        fn from_parts_round_trips(year in 1900i32..2400, female: bool, serial in 0u32..1_000_000) {
            let sex = if female { Sex::Female } else { Sex::Male };
            let pin = PersonalId::from_parts("001", sex, year, serial).unwrap();
            prop_assert_eq!(pin.sex(), sex);
            prop_assert_eq!(pin.birth_year(), year);
            prop_assert_eq!(PersonalId::parse(pin.as_str()).unwrap(), pin);
        }
    }
}
