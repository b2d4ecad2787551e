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
use anyhow::{bail, Context, Result};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

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
        let label = path.display().to_string();
        let bytes = std::fs::read(path)
            .with_context(|| format!("{label}: không mở được tệp / cannot open the file"))?;
        let parsed = super::places::parse(&bytes).map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
        if let Some(p) = parsed.problems.first() {
            if p.field.is_empty() {
                bail!("{label}:{}: {}", p.line, p.reason);
            }
            bail!("{label}:{}: {}: {}", p.line, p.field, p.reason);
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

impl Report {
    /// CSV: stable column names; `lang` picks the language of item names.
    pub fn write_csv<W: std::io::Write>(&self, out: W, _lang: Lang) -> Result<()> {
        write_csv(
            out,
            &CSV_COLUMNS,
            self.rows.iter().map(|r| {
                vec![
                    r.province_code.clone(),
                    r.commune_code.clone(),
                    r.school_year.to_string(),
                    r.level.to_string(),
                    r.birth_year.to_string(),
                    r.children.to_string(),
                    r.projected.to_string(),
                    opt(r.capacity),
                    opt(r.gap),
                    AdminUnits::get()
                        .commune(&r.commune_code)
                        .map(|c| c.name.clone())
                        .unwrap_or_default(),
                ]
            }),
        )
    }

    /// xlsx: the CSV's columns for people: Vietnamese headers, province and commune names
    /// beside their codes, codes as text, counts as numbers.
    pub fn to_xlsx(&self, lang: Lang) -> Result<Vec<u8>> {
        let header = headers(
            &[
                ("Mã tỉnh", "Province code"),
                ("Tên tỉnh", "Province"),
                ("Mã xã", "Commune code"),
                ("Tên xã", "Commune"),
                ("Năm học", "School year"),
                ("Cấp học", "Level"),
                ("Năm sinh", "Birth year"),
                ("Số trẻ", "Children"),
                ("Dự báo", "Projected"),
                ("Số chỗ", "Places"),
                ("Chênh lệch", "Gap"),
            ],
            lang,
        );
        let rows = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    XCell::text(&r.province_code),
                    province_name(&r.province_code),
                    XCell::text(&r.commune_code),
                    commune_name(&r.commune_code),
                    XCell::text(school_year_name(r.school_year)),
                    XCell::text(level_name(r.level, lang)),
                    XCell::num(r.birth_year),
                    XCell::num(r.children as f64),
                    XCell::text(if r.projected {
                        bi(lang, "có", "yes")
                    } else {
                        String::new()
                    }),
                    XCell::opt_num(r.capacity.map(|n| n as f64)),
                    XCell::opt_num(r.gap.map(|n| n as f64)),
                ]
            })
            .collect();
        write_xlsx(&[Sheet {
            name: "Nhập học".into(),
            header,
            rows,
        }])
    }

    pub fn to_json(&self, lang: Lang) -> serde_json::Value {
        let defs: Vec<serde_json::Value> = definitions(lang)
            .into_iter()
            .map(|(term, definition)| serde_json::json!({"term": term, "definition": definition}))
            .collect();
        serde_json::json!({
            "report": "enrolment",
            "as_of": self.as_of,
            "area": self.area.to_json(),
            "first_school_year": self.first_year,
            "years": self.years,
            "capacity_file": match &self.places { Some(PlacesSource::File(f)) => Some(f.as_str()), _ => None },
            // "file" (--capacity), "stored" (the uploaded places) or null.
            "places": match &self.places { Some(PlacesSource::File(_)) => Some("file"), Some(PlacesSource::Stored) => Some("stored"), None => None },
            "definitions": defs,
            "rows": self.rows,
            // What was counted: living residents by commune and birth year, the GROUP BY's rows.
            "counted": self.counts,
        })
    }

    pub fn to_html(&self, lang: Lang) -> Result<String> {
        let title = bi(
            lang,
            "Dự báo số trẻ vào lớp theo xã và năm học",
            "School entry forecast by commune and school year",
        );
        let subtitle = format!(
            "{} — {}: {} — {}",
            self.area.describe(lang),
            bi(lang, "Ngày lập", "As of"),
            self.as_of,
            school_years_span(self.first_year, self.years, lang),
        );
        let mut page = Html::page(&title, &subtitle, false);
        page.definitions(&definitions(lang));
        let units = AdminUnits::get();
        let mut by_province: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for r in &self.rows {
            by_province.entry(&r.province_code).or_default().push(r);
        }
        if by_province.is_empty() {
            page.p(&bi(
                lang,
                "Không có dữ liệu cho khu vực này.",
                "No data for this area.",
            ));
        }
        let years: Vec<i32> =
            (self.first_year..self.first_year + self.years.max(1) as i32).collect();
        for (province, rows) in by_province {
            let name = units
                .province(province)
                .map(|p| p.name.as_str())
                .unwrap_or("?");
            page.section(|page| {
                page.h2(&format!("{name} ({province})"));
                // Totals by school year and level; projected when any part is.
                let mut totals: BTreeMap<(i32, &str), (i64, bool)> = BTreeMap::new();
                for r in &rows {
                    let t = totals.entry((r.school_year, r.level)).or_default();
                    t.0 += r.children;
                    t.1 |= r.projected;
                }
                let series: Vec<Bars> = LEVELS
                    .iter()
                    .enumerate()
                    .map(|(i, (level, _, vi, en))| Bars {
                        label: bi(lang, vi, en),
                        fill: FILLS[i],
                        values: years
                            .iter()
                            .map(|y| {
                                let (n, p) = totals.get(&(*y, *level)).copied().unwrap_or_default();
                                (n as f64, p)
                            })
                            .collect(),
                    })
                    .collect();
                let cats: Vec<String> = years.iter().map(|y| school_year_name(*y)).collect();
                page.chart(bar_chart(
                    &bi(
                        lang,
                        "Số trẻ vào lớp theo năm học (gạch chéo: dự báo)",
                        "Children entering by school year (hatched: projected)",
                    ),
                    &cats,
                    &series,
                    None,
                    "",
                ));
                let mut head = vec![bi(lang, "Năm học", "School year")];
                head.extend(LEVELS.iter().map(|l| bi(lang, l.2, l.3)));
                let table: Vec<(Vec<String>, &str)> = years
                    .iter()
                    .map(|y| {
                        let mut cells = vec![school_year_name(*y)];
                        for (level, ..) in LEVELS {
                            let (n, p) = totals.get(&(*y, level)).copied().unwrap_or_default();
                            cells.push(if p { format!("{n}*") } else { n.to_string() });
                        }
                        (cells, "")
                    })
                    .collect();
                page.table(&head, &[false, true, true, true, true], &table);
                page.p(&bi(lang, "* dự báo", "* projected"));
                let with_gap: Vec<&&Row> = rows.iter().filter(|r| r.gap.is_some()).collect();
                if with_gap.is_empty() {
                    page.p(&bi(
                        lang,
                        "Chưa có số chỗ học (tải lên ở trang Nhập học, vongdoi school-places import hoặc --capacity TỆP): không tính được thiếu, thừa.",
                        "No school places (upload them on the enrolment page, vongdoi school-places import or --capacity FILE): no shortages or surpluses.",
                    ));
                } else {
                    let head: Vec<String> = [
                        ("Xã", "Commune"),
                        ("Năm học", "School year"),
                        ("Cấp học", "Level"),
                        ("Số trẻ", "Children"),
                        ("Số chỗ", "Places"),
                        ("Chênh lệch", "Gap"),
                    ]
                    .iter()
                    .map(|(vi, en)| bi(lang, vi, en))
                    .collect();
                    let numeric = [false, false, false, true, true, true];
                    let cells = |list: Vec<&&Row>| -> Vec<(Vec<String>, &str)> {
                        list.into_iter()
                            .map(|r| {
                                let commune = units
                                    .commune(&r.commune_code)
                                    .map(|c| c.name.as_str())
                                    .unwrap_or("?");
                                (
                                    vec![
                                        format!("{commune} ({})", r.commune_code),
                                        school_year_name(r.school_year),
                                        level_name(r.level, lang),
                                        if r.projected {
                                            format!("{}*", r.children)
                                        } else {
                                            r.children.to_string()
                                        },
                                        opt(r.capacity),
                                        opt(r.gap),
                                    ],
                                    if r.projected { "projected" } else { "" },
                                )
                            })
                            .collect()
                    };
                    let mut shortages: Vec<&&Row> = with_gap
                        .iter()
                        .copied()
                        .filter(|r| r.gap < Some(0))
                        .collect();
                    shortages.sort_by_key(|r| r.gap);
                    shortages.truncate(15);
                    let mut surpluses: Vec<&&Row> = with_gap
                        .iter()
                        .copied()
                        .filter(|r| r.gap > Some(0))
                        .collect();
                    surpluses.sort_by_key(|r| std::cmp::Reverse(r.gap));
                    surpluses.truncate(15);
                    page.h3(&bi(lang, "Xã thiếu chỗ nhiều nhất", "Largest shortages"));
                    if shortages.is_empty() {
                        page.p(&bi(lang, "Không xã nào thiếu chỗ.", "No shortage."));
                    } else {
                        page.table(&head, &numeric, &cells(shortages));
                    }
                    page.h3(&bi(lang, "Xã thừa chỗ nhiều nhất", "Largest surpluses"));
                    if surpluses.is_empty() {
                        page.p(&bi(lang, "Không xã nào thừa chỗ.", "No surplus."));
                    } else {
                        page.table(&head, &numeric, &cells(surpluses));
                    }
                }
            });
        }
        page.finish()
    }
}
