//! The demo's facilities: for every commune the demo populates, its health station, police post,
//! a primary school and a kindergarten, with an address, a landline, opening hours and (for the
//! station) vaccination session days, so that reminders and the staff pages have a place to
//! name.
//!
//! Each commune's facilities come from a random stream of their own, seeded by the demo's seed
//! and the commune's code: the same seed gives the same facilities, and the citizens' stream is
//! not touched, so a seed gives the same people as before facilities existed.

use super::DemoOptions;
use crate::registry::{AdminUnits, CommuneCode, Facility, FacilityKind, SessionDays};
use crate::store::Store;
use chrono::{DateTime, Utc};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;

/// Landline area codes (since 2017) of the 2025 provinces: Hà Nội's numbers are `024 3xxx
/// xxxx`, a province's four-digit code has seven digits after it (`0225 3xx xxxx`).
const AREA_CODES: [(&str, &str); 34] = [
    ("01", "024"),
    ("04", "0206"),
    ("08", "0207"),
    ("11", "0215"),
    ("12", "0213"),
    ("14", "0212"),
    ("15", "0214"),
    ("19", "0208"),
    ("20", "0205"),
    ("22", "0203"),
    ("24", "0222"),
    ("25", "0210"),
    ("31", "0225"),
    ("33", "0221"),
    ("37", "0229"),
    ("38", "0237"),
    ("40", "0238"),
    ("42", "0239"),
    ("44", "0233"),
    ("46", "0234"),
    ("48", "0236"),
    ("51", "0255"),
    ("52", "0269"),
    ("56", "0258"),
    ("66", "0262"),
    ("68", "0263"),
    ("75", "0251"),
    ("79", "028"),
    ("80", "0276"),
    ("82", "0277"),
    ("86", "0270"),
    ("91", "0296"),
    ("92", "0292"),
    ("96", "0290"),
];

/// Office hours of a commune's offices (health station, police post).
const OFFICE_HOURS: &str = "7h30–11h30, 13h30–17h00, thứ Hai đến thứ Sáu";
/// Police posts also take ID-card applications on Saturday mornings.
const POLICE_HOURS: &str = "7h30–11h30, 13h30–17h00, thứ Hai đến thứ Sáu; sáng thứ Bảy 7h30–11h30";
const SCHOOL_HOURS: &str = "7h00–17h00, thứ Hai đến thứ Sáu";
/// Most stations vaccinate on the 15th of each month; some on other days or every Wednesday.
const SESSIONS: [&str; 8] = ["15", "15", "15", "15", "10", "20", "5 20", "T4"];

/// One commune's facilities, the same for the same seed.
pub fn of_commune(commune: &CommuneCode, seed: u64) -> Vec<Facility> {
    let units = AdminUnits::get();
    let unit = units
        .commune(commune.as_str())
        .expect("a parsed commune code");
    let code: u64 = commune.as_str().parse().unwrap_or(0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ code);
    let in_sentence = unit.in_sentence();
    // "Ba Đình" of "Phường Ba Đình": schools are named after the place, not the unit.
    let proper = in_sentence
        .strip_prefix(&unit.kind.to_lowercase())
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .unwrap_or(&unit.name)
        .to_string();
    let ward = unit.kind.to_lowercase() == "phường";
    let area = AREA_CODES
        .iter()
        .find(|(p, _)| *p == unit.province_code)
        .map_or("024", |(_, a)| *a);
    let mut phone = || {
        if area.len() == 3 {
            format!(
                "{area} 3{:03} {:04}",
                rng.gen_range(0..1000),
                rng.gen_range(0..10_000)
            )
        } else {
            format!(
                "{area} 3{:02} {:04}",
                rng.gen_range(0..100),
                rng.gen_range(0..10_000)
            )
        }
    };
    let phones = [phone(), phone(), phone(), phone()];
    let address = |rng: &mut ChaCha8Rng| {
        if ward {
            format!(
                "Số {}, ngõ {}, {in_sentence}",
                rng.gen_range(1..120),
                rng.gen_range(1..60)
            )
        } else {
            format!("Thôn {}, {in_sentence}", rng.gen_range(1..13))
        }
    };
    let addresses = [
        address(&mut rng),
        address(&mut rng),
        address(&mut rng),
        address(&mut rng),
    ];
    let sessions = SESSIONS[rng.gen_range(0..SESSIONS.len())];
    let facility = |i: usize, kind, name: String, hours: &str, sessions: &str| Facility {
        commune_code: commune.as_str().to_string(),
        kind,
        name,
        address: addresses[i].clone(),
        phone: phones[i].clone(),
        hours: hours.to_string(),
        session_days: SessionDays::parse(sessions).expect("the demo's own session days"),
    };
    vec![
        facility(
            0,
            FacilityKind::Health,
            FacilityKind::Health.default_name(&in_sentence, false),
            OFFICE_HOURS,
            sessions,
        ),
        facility(
            1,
            FacilityKind::Police,
            FacilityKind::Police.default_name(&in_sentence, false),
            POLICE_HOURS,
            "",
        ),
        facility(
            2,
            FacilityKind::School,
            format!("Trường Tiểu học {proper}"),
            SCHOOL_HOURS,
            "",
        ),
        facility(
            3,
            FacilityKind::School,
            format!("Trường Mầm non {proper}"),
            SCHOOL_HOURS,
            "",
        ),
    ]
}

/// Stores the facilities of every commune the demo populates; returns how many it stored.
pub async fn fill(store: &Store, opts: &DemoOptions, now: DateTime<Utc>) -> anyhow::Result<u64> {
    let communes = super::Generator::new(opts)?.communes;
    let rows: Vec<Facility> = communes
        .iter()
        .flat_map(|c| of_commune(c, opts.seed))
        .collect();
    store.upsert_facilities(&rows, super::SOURCE, now).await?;
    Ok(rows.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ward_gets_its_station_post_and_schools_the_same_for_a_seed() {
        let ba_dinh = CommuneCode::parse("00004").unwrap();
        let f = of_commune(&ba_dinh, 7);
        let names: Vec<&str> = f.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Trạm Y tế phường Ba Đình",
                "Công an phường Ba Đình",
                "Trường Tiểu học Ba Đình",
                "Trường Mầm non Ba Đình"
            ]
        );
        assert_eq!(of_commune(&ba_dinh, 7), f, "deterministic");
        assert_ne!(of_commune(&ba_dinh, 8), f, "another seed, other numbers");
        for x in &f {
            assert!(
                x.phone.starts_with("024 3") && x.phone.len() == "024 3823 1234".len(),
                "{}",
                x.phone
            );
            assert!(x.address.ends_with(", phường Ba Đình"), "{}", x.address);
            // What the demo writes is what an import accepts.
            let c = x.cells();
            let cells = crate::registry::facility::FacilityCells {
                commune_code: &c[0],
                kind: &c[1],
                name: &c[2],
                address: &c[3],
                phone: &c[4],
                hours: &c[5],
                session_days: &c[6],
            };
            assert_eq!(&Facility::from_cells(&cells).unwrap(), x);
        }
        assert!(!f[0].session_days.is_empty(), "the station has sessions");
        // A commune of Hải Phòng: the city's four-digit area code and seven digits.
        let hp = AdminUnits::get().communes_of("31").next().unwrap();
        let f = of_commune(&CommuneCode::parse(&hp.code).unwrap(), 7);
        assert!(f[0].phone.starts_with("0225 3"), "{}", f[0].phone);
        assert_eq!(f[0].phone.len(), "0225 312 3456".len(), "{}", f[0].phone);
    }
}
