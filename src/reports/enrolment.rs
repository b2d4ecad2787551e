//! `vongdoi report enrolment`: for each commune and each of the next school years, how many
//! children enter kindergarten-5, grade 1, grade 6 and grade 10, against the school places —
//! the provincial education planner's "avoid a surplus in one place and a shortage in another".
//!
//! Cohorts count by calendar year of birth (Law on Education 2019, Art. 28; docs/domain.md §5): for
//! the school year starting in September of Y, kindergarten-5 = born Y−5, grade 1 = Y−6,
//! grade 6 = Y−11, grade 10 = Y−15. A known cohort is the number of living residents of the
//! commune born that year, as of the report date, counted by one GROUP BY (commune, birth
//! year). A cohort not yet complete (born in the report's year or later) is projected: the
//! commune's average over its last three complete birth years, counted the same way.

use super::output::{
    bar_chart, commune_name, headers, opt, province_name, write_csv, write_xlsx, Bars, Html, Sheet,
    XCell, FILLS,
};
use super::{bi, Area};
use crate::registry::AdminUnits;
use crate::rules::Lang;
use crate::store::schools::SchoolPlaceRow;
use crate::store::{BirthYearCount, Store};
use anyhow::{bail, Result};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

mod forms;

/// (level, years between birth and the school year, Vietnamese, English).
pub const LEVELS: [(&str, i32, &str, &str); 4] = [
    (
        "kindergarten-5",
        5,
        "Mẫu giáo 5 tuổi",
        "Kindergarten (age 5)",
    ),
    ("grade-1", 6, "Lớp 1", "Grade 1"),
    ("grade-6", 11, "Lớp 6", "Grade 6"),
    ("grade-10", 15, "Lớp 10", "Grade 10"),
];

/// Complete birth years a projection averages over.
pub const PROJECTION_YEARS: i32 = 3;

/// The first school year of the report: the one starting in September of the as-of year while
/// it has not opened (it opens about 5 September), else the next.
pub fn first_school_year(as_of: NaiveDate) -> i32 {
    let opens = NaiveDate::from_ymd_opt(as_of.year(), 9, 5).expect("valid date");
    if as_of < opens {
        as_of.year()
    } else {
        as_of.year() + 1
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub province_code: String,
    pub commune_code: String,
    pub school_year: i32,
    pub level: &'static str,
    pub birth_year: i32,
    pub children: i64,
    pub projected: bool,
    /// For a projection: the birth years averaged.
    pub projected_from: Option<Vec<i32>>,
    pub capacity: Option<i64>,
    /// capacity − children: negative is a shortage of places, positive a surplus.
    pub gap: Option<i64>,
}

pub struct Report {
    pub as_of: NaiveDate,
    pub area: Area,
    pub first_year: i32,
    pub years: u32,
    /// Where the places came from (None: no places).
    pub places: Option<PlacesSource>,
    pub counts: Vec<BirthYearCount>,
    pub rows: Vec<Row>,
}

/// The CSV's columns (docs/interface.md): stable names; `commune_name` came last so that no
/// column moved.
pub const CSV_COLUMNS: [&str; 10] = [
    "province_code",
    "commune_code",
    "school_year",
    "level",
    "birth_year",
    "children",
    "projected",
    "capacity",
    "gap",
    "commune_name",
];

/// One school's places at one level: for every year, and per school year where given.
type SchoolPlaces = (Option<i64>, HashMap<i32, i64>);

/// School places per (commune, level) and school: from `--capacity FILE` or the stored places
/// (`school_places`). A commune's places in a year are the sum over its schools; a school's
/// row for a year replaces its every-year row in that year; rows of one commune, school, level
/// and year add up (see [`super::places`]).
#[derive(Debug, Default)]
pub struct Capacity {
    by_key: HashMap<(String, &'static str), BTreeMap<String, SchoolPlaces>>,
}

impl Capacity {
    /// Adds a school's places (to what that school already has for the same year).
    pub fn add(
        &mut self,
        commune: &str,
        school: &str,
        level: &'static str,
        year: Option<i32>,
        places: i64,
    ) {
        let school = self
            .by_key
            .entry((commune.to_string(), level))
            .or_default()
            .entry(school.to_string())
            .or_default();
        match year {
            None => *school.0.get_or_insert(0) += places,
            Some(y) => *school.1.entry(y).or_default() += places,
        }
    }

    /// Reads a places file (CSV or xlsx, see [`super::places`]); its first bad row fails the
    /// report, naming the file, line and field.
    pub fn read(path: &Path) -> Result<Capacity> {
        let (label, bytes) = crate::exchange::table::read_file(path)?;
        let parsed = super::places::parse(&bytes).map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
        if let Some(p) = parsed.problems.first() {
            bail!("{}", p.at(&label));
        }
        let mut out = Capacity::default();
        for r in &parsed.rows {
            out.add(
                r.commune.as_str(),
                &r.school,
                r.level,
                r.school_year,
                r.places,
            );
        }
        Ok(out)
    }

    /// The stored places (rows of a level this report does not know are left out).
    pub fn from_stored(rows: &[SchoolPlaceRow]) -> Capacity {
        let mut out = Capacity::default();
        for r in rows {
            if let Some(level) = LEVELS.iter().find(|l| l.0 == r.level) {
                out.add(&r.commune_code, &r.school, level.0, r.school_year, r.places);
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The commune's places at the level in the school year starting in `year`: the sum over
    /// its schools that have places then. None: no school of the commune has.
    pub fn get(&self, commune: &str, level: &str, year: i32) -> Option<i64> {
        let level = LEVELS.iter().find(|l| l.0 == level)?.0;
        let schools = self.by_key.get(&(commune.to_string(), level))?;
        schools
            .values()
            .filter_map(|(every, years)| years.get(&year).copied().or(*every))
            .reduce(|a, b| a + b)
    }

    fn communes(&self) -> BTreeSet<String> {
        self.by_key.keys().map(|(c, _)| c.clone()).collect()
    }
}

/// Where a report's places come from.
#[derive(Debug)]
pub enum PlacesSource {
    /// `--capacity FILE`.
    File(String),
    /// The places uploaded (`school_places`).
    Stored,
}

/// The stored places of the area's communes, or None when none are stored.
pub async fn stored_places(store: &Store, area: &Area) -> Result<Option<(PlacesSource, Capacity)>> {
    let rows = store.school_places(area.communes()).await?;
    let capacity = Capacity::from_stored(&rows);
    Ok((!capacity.is_empty()).then_some((PlacesSource::Stored, capacity)))
}

pub async fn build(
    store: &Store,
    area: Area,
    as_of: NaiveDate,
    years: u32,
    capacity: Option<(PlacesSource, Capacity)>,
) -> Result<Report> {
    let first_year = first_school_year(as_of);
    let last_year = first_year + years.max(1) as i32 - 1;
    let oldest = LEVELS.iter().map(|l| l.1).max().expect("levels");
    // Complete birth years end the year before the report's.
    let last_complete = as_of.year() - 1;
    let from_year = (first_year - oldest).min(last_complete - PROJECTION_YEARS + 1);
    let counts = store
        .living_by_commune_birth_year(area.communes(), from_year, last_complete, as_of)
        .await?;
    let by_key: HashMap<(&str, i32), i64> = counts
        .iter()
        .map(|c| ((c.commune_code.as_str(), c.birth_year), c.living))
        .collect();
    let mut communes: BTreeSet<String> = counts.iter().map(|c| c.commune_code.clone()).collect();
    communes.extend(area.named_communes().iter().map(|c| c.to_string()));
    if let Some((_, cap)) = &capacity {
        communes.extend(cap.communes().into_iter().filter(|c| area.contains(c)));
    }
    let projection_years: Vec<i32> =
        (last_complete - PROJECTION_YEARS + 1..=last_complete).collect();
    let mut rows = Vec::new();
    for commune in &communes {
        let province = &commune_province(commune);
        let projection = {
            let sum: i64 = projection_years
                .iter()
                .map(|y| by_key.get(&(commune.as_str(), *y)).copied().unwrap_or(0))
                .sum();
            (sum as f64 / PROJECTION_YEARS as f64).round() as i64
        };
        for year in first_year..=last_year {
            for (level, offset, _, _) in LEVELS {
                let birth_year = year - offset;
                let projected = birth_year > last_complete;
                let children = if projected {
                    projection
                } else {
                    by_key
                        .get(&(commune.as_str(), birth_year))
                        .copied()
                        .unwrap_or(0)
                };
                let cap = capacity
                    .as_ref()
                    .and_then(|(_, c)| c.get(commune, level, year));
                rows.push(Row {
                    province_code: province.clone(),
                    commune_code: commune.clone(),
                    school_year: year,
                    level,
                    birth_year,
                    children,
                    projected,
                    projected_from: projected.then(|| projection_years.clone()),
                    capacity: cap,
                    gap: cap.map(|c| c - children),
                });
            }
        }
    }
    tracing::info!(
        communes = communes.len(),
        rows = rows.len(),
        "enrolment forecast built"
    );
    Ok(Report {
        as_of,
        area,
        first_year,
        years,
        places: capacity.map(|(source, _)| source),
        counts,
        rows,
    })
}

/// A school year as people write it: "2027–2028" (an en dash).
pub fn school_year_name(year: i32) -> String {
    format!("{year}–{}", year + 1)
}

/// The school years a report covers: "Năm học 2027–2028 đến 2032–2033" ("Năm học
/// 2027–2028" for one).
pub fn school_years_span(first: i32, years: u32, lang: Lang) -> String {
    let last = first + years.max(1) as i32 - 1;
    let (a, b) = (school_year_name(first), school_year_name(last));
    if first == last {
        bi(lang, &format!("Năm học {a}"), &format!("School year {a}"))
    } else {
        bi(
            lang,
            &format!("Năm học {a} đến {b}"),
            &format!("School years {a} to {b}"),
        )
    }
}

fn commune_province(code: &str) -> String {
    AdminUnits::get()
        .commune(code)
        .map(|c| c.province_code.clone())
        .unwrap_or_default()
}

fn level_name(level: &str, lang: Lang) -> String {
    LEVELS
        .iter()
        .find(|l| l.0 == level)
        .map(|l| bi(lang, l.2, l.3))
        .unwrap_or_else(|| level.to_string())
}

fn definitions(lang: Lang) -> Vec<(String, String)> {
    vec![
        (
            bi(lang, "Năm học", "School year"),
            bi(lang, "Năm bắt đầu (tháng 9). Năm học đầu tiên là năm học bắt đầu trong năm lập báo cáo nếu trước ngày 5/9, nếu không thì năm sau.", "The year it starts (September). The first is the one starting in the report's year if before 5 September, else the next."),
        ),
        (
            bi(lang, "Độ tuổi", "Cohorts"),
            bi(lang, "Tính theo năm sinh (Luật Giáo dục 2019, Điều 28): mẫu giáo 5 tuổi = sinh năm Y−5, lớp 1 = Y−6, lớp 6 = Y−11, lớp 10 = Y−15.", "By calendar year of birth (Law on Education 2019, Art. 28): kindergarten-5 = born Y−5, grade 1 = Y−6, grade 6 = Y−11, grade 10 = Y−15."),
        ),
        (
            bi(lang, "Số trẻ", "Children"),
            bi(lang, "Số cư dân còn sống của xã sinh trong năm đó, tính đến ngày lập báo cáo.", "Living residents of the commune born in that year, as of the report date."),
        ),
        (
            bi(lang, "Dự báo", "Projected"),
            bi(lang, "Năm sinh chưa trọn (từ năm lập báo cáo trở đi): trung bình số trẻ của xã sinh trong 3 năm trọn gần nhất, tính như trên.", "Birth years not yet complete (the report's year onwards): the commune's average over its last three complete birth years, counted as above."),
        ),
        (
            bi(lang, "Chênh lệch", "Gap"),
            bi(lang, "Số chỗ − số trẻ: âm là thiếu chỗ, dương là thừa chỗ.", "Places − children: negative is a shortage, positive a surplus."),
        ),
    ]
}
