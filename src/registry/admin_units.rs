//! The 34 provinces and 3,321 communes of the two-level local government (since 2025-07-01,
//! Decision 19/2025/QĐ-TTg), and the 63 pre-2025 province prefixes of personal IDs
//! (Circular 07/2016/TT-BCA). Both tables are embedded, so the binary needs no data files.
//!
//! Codes are the identity; names and unit types are data keyed by code (communes become wards
//! while their codes stay), so nothing in the code matches on a name.

use std::collections::HashMap;
use std::sync::OnceLock;

const ADMIN_UNITS_CSV: &str = include_str!("../../data/admin-units-2025.csv");
const PIN_PREFIXES_CSV: &str = include_str!("../../data/pin-province-prefixes.csv");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Province {
    pub code: String,
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commune {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub province_code: String,
}

impl Commune {
    /// The name as it reads inside a sentence: the unit's type in lower case ("Trạm Y tế
    /// phường Ba Đình", "Công an xã Yên Lạc", "đặc khu Phú Quốc"); the proper name unchanged.
    pub fn in_sentence(&self) -> String {
        let kind_len = self.kind.chars().count();
        let head: String = self.name.chars().take(kind_len).collect();
        if head.to_lowercase() == self.kind.to_lowercase() {
            let rest: String = self.name.chars().skip(kind_len).collect();
            format!("{}{rest}", self.kind.to_lowercase())
        } else {
            self.name.clone()
        }
    }
}

/// A pre-2025 province whose three-digit code opens personal IDs issued there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinPrefix {
    pub prefix: String,
    pub province_before_2025: String,
    /// The 2025 province that now covers the old one.
    pub province_code_2025: String,
}

pub struct AdminUnits {
    provinces: Vec<Province>,
    communes: Vec<Commune>,
    commune_index: HashMap<String, usize>,
    prefixes: HashMap<String, PinPrefix>,
}

impl AdminUnits {
    /// The embedded tables, parsed once.
    pub fn get() -> &'static AdminUnits {
        static UNITS: OnceLock<AdminUnits> = OnceLock::new();
        UNITS.get_or_init(|| Self::parse(ADMIN_UNITS_CSV, PIN_PREFIXES_CSV))
    }

    fn parse(units_csv: &str, prefixes_csv: &str) -> AdminUnits {
        // The files are part of the source tree; a test parses them, so a bad edit fails CI.
        let mut provinces: Vec<Province> = Vec::new();
        let mut communes = Vec::new();
        let mut reader = csv::Reader::from_reader(units_csv.as_bytes());
        for row in reader.records() {
            let row = row.expect("embedded admin-units-2025.csv is valid CSV");
            let (pcode, pname, pkind) = (&row[0], &row[1], &row[2]);
            if provinces.last().map(|p| p.code.as_str()) != Some(pcode)
                && !provinces.iter().any(|p| p.code == pcode)
            {
                provinces.push(Province {
                    code: pcode.to_string(),
                    name: pname.to_string(),
                    kind: pkind.to_string(),
                });
            }
            communes.push(Commune {
                code: row[3].to_string(),
                name: row[4].to_string(),
                kind: row[5].to_string(),
                province_code: pcode.to_string(),
            });
        }
        provinces.sort_by(|a, b| a.code.cmp(&b.code));
        let commune_index = communes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.code.clone(), i))
            .collect();
        let mut prefixes = HashMap::new();
        let mut reader = csv::Reader::from_reader(prefixes_csv.as_bytes());
        for row in reader.records() {
            let row = row.expect("embedded pin-province-prefixes.csv is valid CSV");
            prefixes.insert(
                row[0].to_string(),
                PinPrefix {
                    prefix: row[0].to_string(),
                    province_before_2025: row[1].to_string(),
                    province_code_2025: row[2].to_string(),
                },
            );
        }
        AdminUnits {
            provinces,
            communes,
            commune_index,
            prefixes,
        }
    }

    /// Identifies this version of the embedded tables (FNV-1a of both files), so a database
    /// can tell whether it already holds them.
    pub fn fingerprint() -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in ADMIN_UNITS_CSV.bytes().chain(PIN_PREFIXES_CSV.bytes()) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    pub fn provinces(&self) -> &[Province] {
        &self.provinces
    }

    pub fn communes(&self) -> &[Commune] {
        &self.communes
    }

    pub fn province(&self, code: &str) -> Option<&Province> {
        self.provinces.iter().find(|p| p.code == code)
    }

    pub fn commune(&self, code: &str) -> Option<&Commune> {
        self.commune_index.get(code).map(|&i| &self.communes[i])
    }

    pub fn communes_of(&self, province_code: &str) -> impl Iterator<Item = &Commune> {
        let code = province_code.to_string();
        self.communes
            .iter()
            .filter(move |c| c.province_code == code)
    }

    pub fn pin_prefix(&self, prefix: &str) -> Option<&PinPrefix> {
        self.prefixes.get(prefix)
    }

    /// Prefixes of the old provinces now inside a 2025 province (for generating IDs of people
    /// born there).
    pub fn pin_prefixes_of(&self, province_code_2025: &str) -> Vec<&PinPrefix> {
        let mut v: Vec<&PinPrefix> = self
            .prefixes
            .values()
            .filter(|p| p.province_code_2025 == province_code_2025)
            .collect();
        v.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        v
    }

    pub fn all_pin_prefixes(&self) -> Vec<&PinPrefix> {
        let mut v: Vec<&PinPrefix> = self.prefixes.values().collect();
        v.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tables_have_the_official_counts() {
        let units = AdminUnits::get();
        assert_eq!(units.provinces().len(), 34);
        assert_eq!(units.communes().len(), 3321);
        assert_eq!(units.all_pin_prefixes().len(), 63);
        assert_eq!(units.commune("00004").unwrap().province_code, "01");
        assert!(units.commune("99999").is_none());
    }

    #[test]
    fn a_communes_type_is_lower_case_inside_a_sentence() {
        let units = AdminUnits::get();
        assert_eq!(
            units.commune("00004").unwrap().in_sentence(),
            "phường Ba Đình"
        );
        for c in units.communes() {
            let s = c.in_sentence();
            assert!(s.starts_with(&c.kind), "{} -> {s}", c.name);
            assert_eq!(s.chars().count(), c.name.chars().count());
        }
    }

    #[test]
    fn every_prefix_points_at_an_existing_2025_province() {
        let units = AdminUnits::get();
        for p in units.all_pin_prefixes() {
            assert!(
                units.province(&p.province_code_2025).is_some(),
                "{} -> {}",
                p.prefix,
                p.province_code_2025
            );
            assert!(!units.pin_prefixes_of(&p.province_code_2025).is_empty());
        }
    }
}
