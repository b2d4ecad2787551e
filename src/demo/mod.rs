//! `vongdoi demo`: a synthetic registry realistic enough to demo and benchmark the product.
//!
//! Households are generated one at a time and written in batches, so memory stays flat at any
//! population. Everything comes from one seeded ChaCha stream: the same seed and options give
//! the same registry, byte for byte. Shapes follow Vietnam: sex ratio at birth ≈ 111:100, an age
//! pyramid close to the 2024 mid-term census, families of parents and children (some with a
//! grandparent), mothers with phones, immunization histories that are mostly on time with some
//! late, missing or too early doses, and identity cards for most adults.

use crate::registry::{
    AdminUnits, Citizen, CommuneCode, Email, IdCardRecord, Immunization, Language, PersonalId,
    Phone, Sex,
};
use crate::store::Store;
use crate::text::unaccent;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rand::distributions::WeightedIndex;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// Where the demo population lives.
#[derive(Debug, Clone)]
pub enum Area {
    /// A commune deployment: a few communes of one province (the default: Hà Nội).
    Province(String),
    /// These communes exactly.
    Communes(Vec<String>),
    /// Every commune of the country.
    National,
}

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub population: u64,
    pub seed: u64,
    pub area: Area,
    /// The day the registry is as of: nobody is born, vaccinated or carded after it.
    pub as_of: NaiveDate,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoCounts {
    pub citizens: u64,
    pub immunizations: u64,
    pub id_cards: u64,
}

const BATCH: usize = 50_000;
const SOURCE: &str = "demo";

pub mod facilities;
mod tables;
use tables::*;

/// Vaccination behaviour of one family.
#[derive(Clone, Copy)]
enum Habit {
    OnTime,
    Late,
    /// Stops after some doses.
    Dropout(usize),
    /// One dose given well before it may be.
    TooEarly(usize),
}

struct Generator {
    rng: ChaCha8Rng,
    as_of: NaiveDate,
    communes: Vec<CommuneCode>,
    /// ID prefixes of the old provinces inside each commune's 2025 province.
    local_prefixes: HashMap<String, Vec<String>>,
    all_prefixes: Vec<String>,
    /// Per (prefix, century-sex digit, year) count, turned into a unique serial.
    serials: HashMap<(String, Sex, i32), u32>,
    family_names: WeightedIndex<u32>,
    mother_ages: WeightedIndex<u32>,
    households: u64,
}

struct Household {
    people: Vec<Citizen>,
    doses: Vec<Immunization>,
    cards: Vec<IdCardRecord>,
}

impl Generator {
    fn new(opts: &DemoOptions) -> anyhow::Result<Generator> {
        let units = AdminUnits::get();
        let codes: Vec<String> = match &opts.area {
            Area::Communes(codes) => codes.clone(),
            Area::National => units.communes().iter().map(|c| c.code.clone()).collect(),
            Area::Province(p) => {
                let all: Vec<String> = units.communes_of(p).map(|c| c.code.clone()).collect();
                anyhow::ensure!(!all.is_empty(), "mã tỉnh '{p}' không tồn tại / province code '{p}' does not exist (34 codes: 01, 04, 08, …, 96)");
                // About 30,000 people per commune, at least three communes.
                let wanted = (opts.population.div_ceil(30_000) as usize)
                    .max(3)
                    .min(all.len());
                all.into_iter().take(wanted).collect()
            }
        };
        let communes = codes
            .iter()
            .map(|c| CommuneCode::parse(c).map_err(|e| anyhow::anyhow!(e)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!communes.is_empty(), "không có xã nào / no commune chosen");
        let mut local_prefixes = HashMap::new();
        for c in &communes {
            let p = c.province_code().to_string();
            local_prefixes.entry(p.clone()).or_insert_with(|| {
                units
                    .pin_prefixes_of(&p)
                    .into_iter()
                    .map(|x| x.prefix.clone())
                    .collect::<Vec<_>>()
            });
        }
        Ok(Generator {
            rng: ChaCha8Rng::seed_from_u64(opts.seed),
            as_of: opts.as_of,
            communes,
            local_prefixes,
            all_prefixes: units
                .all_pin_prefixes()
                .into_iter()
                .map(|p| p.prefix.clone())
                .collect(),
            serials: HashMap::new(),
            family_names: WeightedIndex::new(FAMILY_NAMES.iter().map(|f| f.1)).expect("weights"),
            mother_ages: WeightedIndex::new(MOTHER_AGE_WEIGHTS.iter().map(|f| f.1))
                .expect("weights"),
            households: 0,
        })
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.gen_range(0..items.len())]
    }

    /// Sex at birth, 111 boys to 100 girls.
    fn sex_at_birth(&mut self) -> Sex {
        if self.rng.gen_ratio(111, 211) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    fn family_name(&mut self) -> &'static str {
        FAMILY_NAMES[self.family_names.sample(&mut self.rng)].0
    }

    fn name(&mut self, family: &str, sex: Sex) -> String {
        let (middle, given) = match sex {
            Sex::Male => (*self.pick(&MIDDLE_MALE), *self.pick(&GIVEN_MALE)),
            Sex::Female => (*self.pick(&MIDDLE_FEMALE), *self.pick(&GIVEN_FEMALE)),
        };
        format!("{family} {middle} {given}")
    }

    /// A birth date `years` (plus a random part of a year) before `as_of`, or after `from`.
    fn born_after(&mut self, from: NaiveDate, years: f64) -> NaiveDate {
        from + Duration::days((years * 365.25) as i64 + self.rng.gen_range(0..365))
    }

    fn personal_id(&mut self, province: &str, sex: Sex, dob: NaiveDate) -> PersonalId {
        // Nine in ten were born in the province they live in.
        let local = self.chance(0.9);
        let list = if local {
            &self.local_prefixes[province]
        } else {
            &self.all_prefixes
        };
        let prefix = list[self.rng.gen_range(0..list.len())].clone();
        let n = self
            .serials
            .entry((prefix.clone(), sex, dob.year()))
            .or_insert(0);
        let count = *n;
        *n += 1;
        // A bijection of 0..10^6 (736,093 is coprime to 10^6): serials look random, never repeat.
        let serial = ((count as u64 * 736_093 + 271_828) % 1_000_000) as u32;
        PersonalId::from_parts(&prefix, sex, dob.year(), serial).expect("valid parts")
    }

    fn phone(&mut self) -> Phone {
        let prefix = *self.pick(&MOBILE_PREFIXES);
        Phone::parse(&format!("{prefix}{:07}", self.rng.gen_range(0..10_000_000)))
            .expect("valid mobile")
    }

    fn email(&mut self, full_name: &str) -> Email {
        let parts: Vec<String> = unaccent(full_name)
            .to_lowercase()
            .split(' ')
            .map(str::to_string)
            .collect();
        let local = format!(
            "{}.{}{}",
            parts[parts.len() - 1],
            parts[0],
            self.rng.gen_range(1..99)
        );
        let domain = *self.pick(&["gmail.com", "gmail.com", "yahoo.com.vn", "outlook.com"]);
        Email::parse(&format!("{local}@{domain}")).expect("valid email")
    }

    fn age_on(&self, dob: NaiveDate) -> i32 {
        let mut age = self.as_of.year() - dob.year();
        if (self.as_of.month(), self.as_of.day()) < (dob.month(), dob.day()) {
            age -= 1;
        }
        age
    }

    #[allow(clippy::too_many_arguments)]
    fn person(
        &mut self,
        commune: &CommuneCode,
        household: &str,
        full_name: String,
        sex: Sex,
        dob: NaiveDate,
        mother: Option<PersonalId>,
        father: Option<PersonalId>,
    ) -> Citizen {
        let age = self.age_on(dob);
        let personal_id = self.personal_id(commune.province_code(), sex, dob);
        let phone_share = match age {
            ..=14 => 0.0,
            15..=17 => 0.4,
            18..=64 if sex == Sex::Female => 0.9,
            18..=64 => 0.8,
            _ => 0.45,
        };
        let phone = self.chance(phone_share).then(|| self.phone());
        let email = (18..=55)
            .contains(&age)
            .then_some(())
            .filter(|_| self.chance(0.15))
            .map(|_| self.email(&full_name));
        let language = if self.chance(0.02) {
            Language::En
        } else {
            Language::Vi
        };
        Citizen {
            personal_id,
            full_name,
            sex,
            date_of_birth: dob,
            date_of_death: None,
            commune_code: commune.clone(),
            household_id: Some(household.to_string()),
            mother_id: mother,
            father_id: father,
            guardian_id: None,
            phone,
            email,
            language,
            village: None,
            address: None,
        }
    }

    fn household(&mut self) -> Household {
        self.households += 1;
        let commune = self.communes[self.rng.gen_range(0..self.communes.len())].clone();
        let hh = format!("HK{}{:07}", commune.as_str(), self.households);
        let mut out = Household {
            people: Vec::new(),
            doses: Vec::new(),
            cards: Vec::new(),
        };
        let roll: f64 = self.rng.gen();
        if roll < 0.16 {
            // Older people living alone or as a couple; some have died.
            let age = self.rng.gen_range(55..86) as f64;
            let family = self.family_name();
            let sex = if self.chance(0.55) {
                Sex::Female
            } else {
                Sex::Male
            };
            let dob = self.born_after(
                self.as_of - Duration::days(((age + 1.0) * 365.25) as i64),
                0.0,
            );
            let name = self.name(family, sex);
            let mut p = self.person(&commune, &hh, name, sex, dob, None, None);
            if self.chance(0.08) {
                let back = self.rng.gen_range(30..5 * 365);
                p.date_of_death = Some(self.as_of - Duration::days(back));
            }
            out.people.push(p);
            return self.finish(out);
        }
        if roll < 0.22 {
            // A young adult on their own.
            let age = self.rng.gen_range(18..35) as f64;
            let sex = self.sex_at_birth();
            let family = self.family_name();
            let dob = self.born_after(
                self.as_of - Duration::days(((age + 1.0) * 365.25) as i64),
                0.0,
            );
            let name = self.name(family, sex);
            out.people
                .push(self.person(&commune, &hh, name, sex, dob, None, None));
            return self.finish(out);
        }
        // A family: mother, usually a father, children, sometimes a grandparent.
        let (band, _) = MOTHER_AGE_WEIGHTS[self.mother_ages.sample(&mut self.rng)];
        let mother_age = band as f64 + self.rng.gen_range(0.0..5.0);
        let mother_dob = self.born_after(
            self.as_of - Duration::days(((mother_age + 1.0) * 365.25) as i64),
            0.0,
        );
        let father_family = self.family_name();
        let mother_family = self.family_name();
        if self.chance(0.22) {
            let sex = if self.chance(0.6) {
                Sex::Female
            } else {
                Sex::Male
            };
            let gap = Duration::days((self.rng.gen_range(24..32) as f64 * 365.25) as i64);
            let dob = self.born_after(mother_dob - gap, 0.0);
            if self.age_on(dob) < 100 {
                let name = self.name(father_family, sex);
                out.people
                    .push(self.person(&commune, &hh, name, sex, dob, None, None));
            }
        }
        let father = if self.chance(0.9) {
            let gap = Duration::days(self.rng.gen_range(0..6 * 365));
            let dob = self.born_after(mother_dob - gap, 0.0);
            let name = self.name(father_family, Sex::Male);
            let f = self.person(&commune, &hh, name, Sex::Male, dob, None, None);
            out.people.push(f.clone());
            Some(f)
        } else {
            None
        };
        let mother_name = self.name(mother_family, Sex::Female);
        let mother = self.person(
            &commune,
            &hh,
            mother_name,
            Sex::Female,
            mother_dob,
            None,
            None,
        );
        out.people.push(mother.clone());
        let children = *[1usize, 2, 2, 2, 3, 3]
            .choose(&mut self.rng)
            .expect("non-empty");
        let mut at = self.rng.gen_range(19.0..31.0);
        let habit = match self.rng.gen_range(0..100) {
            0..=74 => Habit::OnTime,
            75..=88 => Habit::Late,
            89..=96 => Habit::Dropout(self.rng.gen_range(2..14)),
            _ => Habit::TooEarly(self.rng.gen_range(2..9)),
        };
        let hexa = self.chance(0.1);
        for _ in 0..children {
            let dob = self.born_after(mother_dob, at);
            at += self.rng.gen_range(2.0..6.0);
            if dob > self.as_of {
                break;
            }
            let sex = self.sex_at_birth();
            let family = if father.is_some() {
                father_family
            } else {
                mother_family
            };
            let name = self.name(family, sex);
            let child = self.person(
                &commune,
                &hh,
                name,
                sex,
                dob,
                Some(mother.personal_id),
                father.as_ref().map(|f| f.personal_id),
            );
            self.vaccinate(&child, habit, hexa, &mut out.doses);
            out.people.push(child);
        }
        self.finish(out)
    }

    /// Identity cards for the household's teenagers and adults.
    fn finish(&mut self, mut out: Household) -> Household {
        // Where the household lives: derived from its number, not drawn from the generator, so
        // a seed gives the same people, records and contacts as before villages existed.
        if let Some(first) = out.people.first() {
            let (village, address) = place_of(&first.commune_code, self.households);
            for p in &mut out.people {
                p.village = Some(village.clone());
                p.address = address.clone();
            }
        }
        for p in &out.people {
            let age = self.age_on(p.date_of_birth);
            if age < 14 || !self.chance(0.88) {
                continue;
            }
            let turned_14 = p
                .date_of_birth
                .with_year(p.date_of_birth.year() + 14)
                .unwrap_or(p.date_of_birth + Duration::days(14 * 365 + 4));
            // The chip-card campaign of 2021–2024, or within months of turning 14 after it.
            let campaign = NaiveDate::from_ymd_opt(2021, 3, 1).expect("date")
                + Duration::days(self.rng.gen_range(0..1200));
            let issued = campaign.max(turned_14 + Duration::days(self.rng.gen_range(0..200)));
            let last = p.date_of_death.unwrap_or(self.as_of);
            if issued <= last {
                out.cards.push(IdCardRecord {
                    personal_id: p.personal_id,
                    issued_on: issued,
                });
            }
        }
        out
    }

    fn vaccinate(
        &mut self,
        child: &Citizen,
        habit: Habit,
        hexa: bool,
        out: &mut Vec<Immunization>,
    ) {
        let age_days = (self.as_of - child.date_of_birth).num_days();
        if age_days > 16 * 365 {
            return;
        }
        let rota_from = NaiveDate::from_ymd_opt(2024, 11, 1).expect("date");
        let place = format!(
            "Trạm Y tế {}",
            AdminUnits::get()
                .commune(child.commune_code.as_str())
                .map(|c| c.name.as_str())
                .unwrap_or("xã")
        );
        let mut delay = 0i64;
        for (i, &(vaccine, at)) in TYPICAL_DOSES.iter().enumerate() {
            if vaccine == "ROTA" && child.date_of_birth < rota_from {
                continue;
            }
            if let Habit::Dropout(after) = habit {
                if i >= after {
                    break;
                }
            }
            delay += match habit {
                Habit::Late => self.rng.gen_range(0..25),
                _ => self.rng.gen_range(0..5),
            };
            let mut day = at + delay;
            if matches!(habit, Habit::TooEarly(k) if k == i) {
                day = (at - self.rng.gen_range(10..20)).max(0);
            }
            let given = child.date_of_birth + Duration::days(day);
            if given > self.as_of {
                break;
            }
            let vaccine = match vaccine {
                "PENTA" if hexa => "HEXA",
                "IPV" if hexa && at < 200 => continue,
                v => v,
            };
            out.push(Immunization {
                personal_id: child.personal_id,
                vaccine: vaccine.to_string(),
                date_given: given,
                place: Some(place.clone()),
                lot: None,
            });
        }
    }
}

/// The village and address of the `n`-th household in `commune`: wards (phường) are divided into
/// residential groups (tổ dân phố) and houses have numbers on lanes; rural communes into
/// villages (thôn), where many houses have no number.
fn place_of(commune: &CommuneCode, n: u64) -> (String, Option<String>) {
    // A multiplicative hash spreads consecutive households over the villages.
    let h = n.wrapping_mul(2_654_435_761) >> 7;
    let ward = AdminUnits::get()
        .commune(commune.as_str())
        .is_some_and(|c| c.kind.to_lowercase().contains("phường"));
    if ward {
        let village = format!("Tổ dân phố {}", h % 24 + 1);
        let address = format!("Số {}, ngõ {}", (h >> 5) % 120 + 1, (h >> 12) % 60 + 1);
        (village, Some(address))
    } else {
        let village = format!("Thôn {}", h % 12 + 1);
        let address = ((h >> 5) % 3 == 0).then(|| format!("Xóm {}", (h >> 8) % 6 + 1));
        (village, address)
    }
}

/// Fills the store with exactly `opts.population` citizens and their records.
/// One batch of generated people with their records.
#[derive(Default)]
struct Batch {
    people: Vec<Citizen>,
    doses: Vec<Immunization>,
    cards: Vec<IdCardRecord>,
}

/// Generates households on their own thread, in batches, while the caller stores the previous
/// batch: generation and the database then use both cores. Two batches in flight at most.
fn generate_in_background(mut g: Generator, population: u64) -> tokio::sync::mpsc::Receiver<Batch> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    std::thread::Builder::new()
        .name("demo-generator".into())
        .spawn(move || {
            let (mut made, mut batch) = (0u64, Batch::default());
            while made < population {
                let mut hh = g.household();
                let room = (population - made) as usize;
                if hh.people.len() > room {
                    // The last household is cut to land on exactly N; members come parents first.
                    hh.people.truncate(room);
                    let kept: std::collections::HashSet<PersonalId> =
                        hh.people.iter().map(|p| p.personal_id).collect();
                    hh.doses.retain(|d| kept.contains(&d.personal_id));
                    hh.cards.retain(|c| kept.contains(&c.personal_id));
                }
                made += hh.people.len() as u64;
                batch.people.append(&mut hh.people);
                batch.doses.append(&mut hh.doses);
                batch.cards.append(&mut hh.cards);
                if batch.people.len() >= BATCH
                    && tx.blocking_send(std::mem::take(&mut batch)).is_err()
                {
                    return; // the writer stopped on an error
                }
            }
            if !batch.people.is_empty() {
                let _ = tx.blocking_send(batch);
            }
        })
        .expect("start the demo generator thread");
    rx
}

/// Fills the store with exactly `opts.population` citizens and their records.
pub async fn generate(
    store: &Store,
    opts: &DemoOptions,
    now: DateTime<Utc>,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<DemoCounts> {
    let mut batches = generate_in_background(Generator::new(opts)?, opts.population);
    let mut counts = DemoCounts::default();
    while let Some(mut b) = batches.recv().await {
        flush(
            store,
            &mut b.people,
            &mut b.doses,
            &mut b.cards,
            &mut counts,
            now,
        )
        .await?;
        progress(counts.citizens);
    }
    Ok(counts)
}

async fn flush(
    store: &Store,
    people: &mut Vec<Citizen>,
    doses: &mut Vec<Immunization>,
    cards: &mut Vec<IdCardRecord>,
    counts: &mut DemoCounts,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let c = store.upsert_citizens(people, SOURCE, now).await?;
    counts.citizens += c.inserted + c.updated + c.unchanged;
    counts.immunizations += store.insert_immunizations(doses, SOURCE, now).await?;
    counts.id_cards += store.insert_id_cards(cards, SOURCE, now).await?;
    people.clear();
    doses.clear();
    cards.clear();
    Ok(())
}
