//! `vongdoi report coverage`: per commune and birth cohort, the share of children who received
//! each routine vaccine by their first birthday (measles 2 by the second), the share fully
//! immunized, and the DTP1→DTP3 drop-out — what a commune health station reports to the
//! district every month.
//!
//! "Received" means a dose the rule engine counts as valid (a completed item, `completed_on`
//! before the birthday): a dose given too early or with the wrong vaccine does not count, just
//! as it does not stop the reminders. One streaming pass over the children of the cohorts.

use super::output::{
    bar_chart, commune_name, headers, opt, percent, province_name, write_csv, write_xlsx, Bars,
    Html, Sheet, XCell, FILLS,
};
use super::{bi, for_each_evaluated, Area};
use crate::registry::AdminUnits;
use crate::rules::{Duration, ItemKey, Lang, RuleSet, Status};
use crate::store::Store;
use anyhow::{bail, Result};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A vaccine dose the report counts: (column, series id, dose, Vietnamese, English).
pub type Antigen = (&'static str, &'static str, u32, &'static str, &'static str);

/// Doses due by the first birthday; "fully immunized" is all of them.
pub const FIRST_YEAR: [Antigen; 7] = [
    ("bcg", "bcg", 1, "Lao (BCG)", "BCG"),
    (
        "hepb_birth",
        "hepb-birth",
        1,
        "Viêm gan B sơ sinh",
        "HepB birth dose",
    ),
    ("dtp1", "dtp", 1, "DTP mũi 1", "DTP 1"),
    ("dtp3", "dtp", 3, "DTP mũi 3", "DTP 3"),
    ("opv3", "opv", 3, "OPV mũi 3", "OPV 3"),
    ("ipv1", "ipv", 1, "IPV mũi 1", "IPV 1"),
    ("mcv1", "measles", 1, "Sởi mũi 1", "Measles 1"),
];

/// Due by the second birthday.
pub const SECOND_YEAR: Antigen = ("mcv2", "measles", 2, "Sởi mũi 2", "Measles 2");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CohortBy {
    Year,
    Month,
}

impl CohortBy {
    fn key(self, dob: NaiveDate) -> String {
        match self {
            CohortBy::Year => dob.year().to_string(),
            CohortBy::Month => format!("{}-{:02}", dob.year(), dob.month()),
        }
    }

    /// The first day of the period `back` periods before the one holding `d`.
    fn start_back(self, d: NaiveDate, back: u32) -> NaiveDate {
        match self {
            CohortBy::Year => NaiveDate::from_ymd_opt(d.year() - back as i32, 1, 1),
            CohortBy::Month => {
                let m = d.year() * 12 + d.month0() as i32 - back as i32;
                NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1)
            }
        }
        .expect("valid date")
    }
}

/// Counts for one commune and cohort: every figure's numerator and denominator.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cell {
    /// Children of the cohort who reached their first birthday by the report date, alive on it.
    pub children: u64,
    /// Of them, how many received each [`FIRST_YEAR`] dose before their first birthday.
    pub received: [u64; 7],
    pub fully_immunized: u64,
    /// Children who reached their second birthday by the report date, alive on it.
    pub children_2y: u64,
    pub mcv2: u64,
    /// With `--explain`: who was counted (masked IDs) and what each received.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub counted: Vec<Counted>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Counted {
    /// Who, for the audit trail (the list shows only the masked ID).
    #[serde(skip)]
    pub pin: crate::registry::PersonalId,
    pub personal_id: String,
    pub date_of_birth: NaiveDate,
    pub received: Vec<&'static str>,
    pub counted_for_mcv2: bool,
}

impl Cell {
    fn add(&mut self, o: &Cell) {
        self.children += o.children;
        for (a, b) in self.received.iter_mut().zip(o.received) {
            *a += b;
        }
        self.fully_immunized += o.fully_immunized;
        self.children_2y += o.children_2y;
        self.mcv2 += o.mcv2;
    }

    /// (DTP1 − DTP3) / DTP1 in percent.
    pub fn dtp_dropout(&self) -> Option<f64> {
        percent(self.received[2] - self.received[3], self.received[2])
    }
}

pub struct Report {
    pub as_of: NaiveDate,
    pub area: Area,
    pub cohort_by: CohortBy,
    /// Cohort keys, oldest first.
    pub cohorts: Vec<String>,
    /// (commune code, cohort) → counts.
    pub cells: BTreeMap<(String, String), Cell>,
    pub scanned: u64,
}

pub async fn build(
    store: Arc<Store>,
    rules: &RuleSet,
    area: Area,
    as_of: NaiveDate,
    cohort_by: CohortBy,
    cohorts: u32,
    explain: bool,
) -> Result<Report> {
    let known = rules.series_ids();
    for (_, series, ..) in FIRST_YEAR.iter().chain([&SECOND_YEAR]) {
        if !known.contains(series) {
            bail!("bộ quy tắc không có loạt vắc xin '{series}' / the rule set has no vaccination series '{series}': coverage needs bcg, hepb-birth, dtp, opv, ipv and measles");
        }
    }
    let cohorts = cohorts.max(1);
    // The youngest children counted turned one on the report date at the latest.
    let youngest = Duration::years(1).sub_from(as_of);
    let born_from = cohort_by.start_back(youngest, cohorts - 1);
    let cohort_keys: Vec<String> = (0..cohorts)
        .rev()
        .map(|back| cohort_by.key(cohort_by.start_back(youngest, back)))
        .collect();
    let first = |series: &str, dose: u32| ItemKey::Vaccination {
        series: series.into(),
        dose,
    };
    let keys: Vec<ItemKey> = FIRST_YEAR.iter().map(|a| first(a.1, a.2)).collect();
    let mcv2_key = first(SECOND_YEAR.1, SECOND_YEAR.2);
    let mut cells: BTreeMap<(String, String), Cell> = BTreeMap::new();
    // Three days to spare for the calendar rule (29 February); each child is checked exactly.
    let born_until = youngest + chrono::Days::new(3);
    let scanned = for_each_evaluated(
        store,
        rules,
        &area,
        (born_from, born_until),
        as_of,
        |r, forecast| {
            let first_birthday = Duration::years(1).add_to(r.date_of_birth);
            let second_birthday = Duration::years(2).add_to(r.date_of_birth);
            let alive_on = |d: NaiveDate| r.date_of_death.is_none_or(|death| death >= d);
            if first_birthday > as_of || !alive_on(first_birthday) {
                return;
            }
            let received_by = |key: &ItemKey, by: NaiveDate| {
                forecast.items.iter().any(|i| {
                    i.key() == key
                        && i.status == Status::Completed
                        && i.completed_on.is_some_and(|d| d < by)
                })
            };
            let cell = cells
                .entry((r.commune_code.to_string(), cohort_by.key(r.date_of_birth)))
                .or_default();
            cell.children += 1;
            let mut all = true;
            let mut got = Vec::new();
            for (i, key) in keys.iter().enumerate() {
                if received_by(key, first_birthday) {
                    cell.received[i] += 1;
                    got.push(FIRST_YEAR[i].0);
                } else {
                    all = false;
                }
            }
            if all {
                cell.fully_immunized += 1;
            }
            let reached_2y = second_birthday <= as_of && alive_on(second_birthday);
            if reached_2y {
                cell.children_2y += 1;
                if received_by(&mcv2_key, second_birthday) {
                    cell.mcv2 += 1;
                    got.push(SECOND_YEAR.0);
                }
            }
            if explain {
                cell.counted.push(Counted {
                    pin: r.personal_id,
                    personal_id: r.personal_id.masked(),
                    date_of_birth: r.date_of_birth,
                    received: got,
                    counted_for_mcv2: reached_2y,
                });
            }
        },
    )
    .await?;
    tracing::info!(scanned, cells = cells.len(), "coverage counted");
    Ok(Report {
        as_of,
        area,
        cohort_by,
        cohorts: cohort_keys,
        cells,
        scanned,
    })
}

/// The CSV columns: counts (numerators and denominators) and shares in percent.
pub fn csv_columns() -> Vec<String> {
    let mut cols: Vec<String> = ["province_code", "commune_code", "cohort", "children"]
        .map(String::from)
        .to_vec();
    for a in FIRST_YEAR {
        cols.push(a.0.to_string());
        cols.push(format!("{}_pct", a.0));
    }
    cols.extend(
        [
            "fully_immunized",
            "fully_immunized_pct",
            "children_2y",
            "mcv2",
            "mcv2_pct",
            "dtp_dropout_pct",
        ]
        .map(String::from),
    );
    cols
}

fn definitions(lang: Lang) -> Vec<(String, String)> {
    vec![
        (
            bi(lang, "Số trẻ", "Children"),
            bi(lang, "Trẻ của xã sinh trong kỳ (năm hoặc tháng sinh) đã tròn 1 tuổi vào ngày lập báo cáo và còn sống vào ngày tròn 1 tuổi.", "Children of the commune born in the cohort (year or month of birth) who reached their first birthday by the report date, alive on it."),
        ),
        (
            bi(lang, "Đã tiêm", "Received"),
            bi(lang, "Mũi tiêm hợp lệ theo bộ quy tắc (như vongdoi forecast: mũi quá sớm, sai vắc xin không tính), tiêm trước ngày tròn 1 tuổi.", "A dose the rule engine counts as valid (as vongdoi forecast: too early or wrong vaccine does not count), given before the first birthday."),
        ),
        (
            bi(lang, "Các mũi", "Doses"),
            bi(lang, "BCG; viêm gan B sơ sinh; DTP 1 và 3 (PENTA, HEXA); OPV 3; IPV 1 (IPV, HEXA); sởi 1 (MEASLES, MR, MMR).", "BCG; hepatitis B birth dose; DTP 1 and 3 (PENTA, HEXA); OPV 3; IPV 1 (IPV, HEXA); measles 1 (MEASLES, MR, MMR)."),
        ),
        (
            bi(lang, "Tiêm đủ", "Fully immunized"),
            bi(lang, "Đã tiêm tất cả các mũi trên trước ngày tròn 1 tuổi.", "All of the doses above before the first birthday."),
        ),
        (
            bi(lang, "Sởi 2", "Measles 2"),
            bi(lang, "Trong số trẻ đã tròn 2 tuổi (còn sống vào ngày đó), số trẻ tiêm sởi mũi 2 (MR, MMR) trước ngày tròn 2 tuổi.", "Of the children who reached their second birthday (alive on it), those given measles dose 2 (MR, MMR) before it."),
        ),
        (
            bi(lang, "Tỷ lệ bỏ mũi DTP1→DTP3", "DTP1→DTP3 drop-out"),
            bi(lang, "(DTP1 − DTP3) / DTP1.", "(DTP1 − DTP3) / DTP1."),
        ),
    ]
}

impl Report {
    fn totals(&self) -> BTreeMap<&str, Cell> {
        let mut totals: BTreeMap<&str, Cell> = BTreeMap::new();
        for ((_, cohort), cell) in &self.cells {
            totals.entry(cohort.as_str()).or_default().add(cell);
        }
        totals
    }

    fn row_cells(c: &Cell) -> Vec<String> {
        let mut row = vec![c.children.to_string()];
        for (i, _) in FIRST_YEAR.iter().enumerate() {
            row.push(c.received[i].to_string());
            row.push(opt(percent(c.received[i], c.children)));
        }
        row.push(c.fully_immunized.to_string());
        row.push(opt(percent(c.fully_immunized, c.children)));
        row.push(c.children_2y.to_string());
        row.push(c.mcv2.to_string());
        row.push(opt(percent(c.mcv2, c.children_2y)));
        row.push(opt(c.dtp_dropout()));
        row
    }

    /// CSV: stable column names; `lang` picks the language of item names.
    pub fn write_csv<W: std::io::Write>(&self, out: W, _lang: Lang) -> Result<()> {
        let cols = csv_columns();
        let header: Vec<&str> = cols.iter().map(String::as_str).collect();
        write_csv(
            out,
            &header,
            self.cells.iter().map(|((commune, cohort), c)| {
                let province = AdminUnits::get()
                    .commune(commune)
                    .map(|u| u.province_code.clone())
                    .unwrap_or_default();
                let mut row = vec![province, commune.clone(), cohort.clone()];
                row.extend(Self::row_cells(c));
                row
            }),
        )
    }

    /// xlsx: the CSV's columns for people: Vietnamese headers, province and commune names
    /// beside their codes, codes and cohorts as text, counts and shares as numbers.
    pub fn to_xlsx(&self, lang: Lang) -> Result<Vec<u8>> {
        let mut header = headers(
            &[
                ("Mã tỉnh", "Province code"),
                ("Tên tỉnh", "Province"),
                ("Mã xã", "Commune code"),
                ("Tên xã", "Commune"),
                ("Nhóm sinh", "Birth cohort"),
                ("Số trẻ", "Children"),
            ],
            lang,
        );
        for a in FIRST_YEAR {
            header.push(bi(lang, a.3, a.4));
            header.push(format!("{} %", bi(lang, a.3, a.4)));
        }
        header.extend(headers(
            &[
                ("Tiêm đủ", "Fully immunized"),
                ("Tiêm đủ %", "Fully immunized %"),
                ("Trẻ 2 tuổi", "Aged 2"),
            ],
            lang,
        ));
        header.push(bi(lang, SECOND_YEAR.3, SECOND_YEAR.4));
        header.push(format!("{} %", bi(lang, SECOND_YEAR.3, SECOND_YEAR.4)));
        header.push(bi(lang, "Bỏ mũi DTP1→3 %", "DTP1→3 drop-out %"));
        let rows = self
            .cells
            .iter()
            .map(|((commune, cohort), c)| {
                let province = AdminUnits::get()
                    .commune(commune)
                    .map(|u| u.province_code.clone())
                    .unwrap_or_default();
                let mut row = vec![
                    XCell::text(&province),
                    province_name(&province),
                    XCell::text(commune),
                    commune_name(commune),
                    XCell::text(cohort),
                    XCell::num(c.children as f64),
                ];
                for i in 0..FIRST_YEAR.len() {
                    row.push(XCell::num(c.received[i] as f64));
                    row.push(XCell::opt_num(percent(c.received[i], c.children)));
                }
                row.push(XCell::num(c.fully_immunized as f64));
                row.push(XCell::opt_num(percent(c.fully_immunized, c.children)));
                row.push(XCell::num(c.children_2y as f64));
                row.push(XCell::num(c.mcv2 as f64));
                row.push(XCell::opt_num(percent(c.mcv2, c.children_2y)));
                row.push(XCell::opt_num(c.dtp_dropout()));
                row
            })
            .collect();
        write_xlsx(&[Sheet {
            name: "Tỷ lệ tiêm chủng".into(),
            header,
            rows,
        }])
    }

    fn cell_json(c: &Cell) -> serde_json::Value {
        let mut shares = serde_json::Map::new();
        for (i, a) in FIRST_YEAR.iter().enumerate() {
            shares.insert(a.0.into(), percent(c.received[i], c.children).into());
        }
        shares.insert(
            "fully_immunized".into(),
            percent(c.fully_immunized, c.children).into(),
        );
        shares.insert("mcv2".into(), percent(c.mcv2, c.children_2y).into());
        let mut received = serde_json::Map::new();
        for (i, a) in FIRST_YEAR.iter().enumerate() {
            received.insert(a.0.into(), c.received[i].into());
        }
        let mut v = serde_json::json!({
            "children": c.children,
            "received": received,
            "fully_immunized": c.fully_immunized,
            "children_2y": c.children_2y,
            "mcv2": c.mcv2,
            "percent": shares,
            "dtp_dropout_percent": c.dtp_dropout(),
        });
        if !c.counted.is_empty() {
            v["counted"] = serde_json::to_value(&c.counted).expect("plain data");
        }
        v
    }

    pub fn to_json(&self, lang: Lang) -> serde_json::Value {
        let defs: Vec<serde_json::Value> = definitions(lang)
            .into_iter()
            .map(|(term, definition)| serde_json::json!({"term": term, "definition": definition}))
            .collect();
        let rows: Vec<serde_json::Value> = self
            .cells
            .iter()
            .map(|((commune, cohort), c)| {
                let mut v = Self::cell_json(c);
                v["province_code"] = AdminUnits::get()
                    .commune(commune)
                    .map(|u| u.province_code.clone())
                    .into();
                v["commune_code"] = commune.clone().into();
                v["cohort"] = cohort.clone().into();
                v
            })
            .collect();
        let totals: Vec<serde_json::Value> = self
            .totals()
            .iter()
            .map(|(cohort, c)| {
                let mut v = Self::cell_json(c);
                v["cohort"] = cohort.to_string().into();
                v
            })
            .collect();
        serde_json::json!({
            "report": "coverage",
            "as_of": self.as_of,
            "area": self.area.to_json(),
            "cohort": match self.cohort_by { CohortBy::Year => "year", CohortBy::Month => "month" },
            "cohorts": self.cohorts,
            "definitions": defs,
            "doses": FIRST_YEAR.iter().chain([&SECOND_YEAR]).map(|a| serde_json::json!({
                "column": a.0, "series": a.1, "dose": a.2, "name_vi": a.3, "name_en": a.4,
            })).collect::<Vec<_>>(),
            "citizens_scanned": self.scanned,
            "rows": rows,
            "totals": totals,
        })
    }

    pub fn to_html(&self, lang: Lang) -> Result<String> {
        let title = bi(
            lang,
            "Báo cáo tỷ lệ tiêm chủng theo xã và nhóm tuổi",
            "Immunization coverage by commune and birth cohort",
        );
        let subtitle = format!(
            "{} — {}: {} — {}: {}",
            self.area.describe(lang),
            bi(lang, "Ngày lập", "As of"),
            self.as_of,
            bi(lang, "Nhóm sinh", "Birth cohorts"),
            self.cohorts.join(", ")
        );
        let mut page = Html::page(&title, &subtitle, true);
        let totals = self.totals();
        // Chart: the area's shares by dose, one bar per cohort.
        // Short labels: nine groups share the page's width.
        let cats: Vec<String> = match lang {
            Lang::Vi => [
                "BCG",
                "VGB sơ sinh",
                "DTP1",
                "DTP3",
                "OPV3",
                "IPV1",
                "Sởi 1",
                "Tiêm đủ",
                "Sởi 2",
            ],
            Lang::En => [
                "BCG", "HepB-0", "DTP1", "DTP3", "OPV3", "IPV1", "MCV1", "Full", "MCV2",
            ],
        }
        .map(String::from)
        .to_vec();
        let shown: Vec<&String> = self.cohorts.iter().rev().take(FILLS.len()).rev().collect();
        let series: Vec<Bars> = shown
            .iter()
            .enumerate()
            .map(|(k, cohort)| {
                let c = totals.get(cohort.as_str()).cloned().unwrap_or_default();
                let mut values: Vec<(f64, bool)> = (0..FIRST_YEAR.len())
                    .map(|i| (percent(c.received[i], c.children).unwrap_or(0.0), false))
                    .collect();
                values.push((percent(c.fully_immunized, c.children).unwrap_or(0.0), false));
                values.push((percent(c.mcv2, c.children_2y).unwrap_or(0.0), false));
                Bars {
                    label: cohort.to_string(),
                    fill: FILLS[k],
                    values,
                }
            })
            .collect();
        page.chart(bar_chart(
            &bi(
                lang,
                "Tỷ lệ tiêm chủng toàn khu vực theo nhóm sinh (%)",
                "Coverage in the area by birth cohort (%)",
            ),
            &cats,
            &series,
            Some(100.0),
            "%",
        ));
        page.definitions(&definitions(lang));
        let mut head = vec![bi(lang, "Xã", "Commune"), bi(lang, "Số trẻ", "Children")];
        head.extend(
            FIRST_YEAR
                .iter()
                .map(|a| format!("{} %", bi(lang, a.3, a.4))),
        );
        head.push(format!("{} %", bi(lang, "Tiêm đủ", "Fully immunized")));
        head.push(bi(lang, "Trẻ 2 tuổi", "Aged 2"));
        head.push(format!("{} %", bi(lang, SECOND_YEAR.3, SECOND_YEAR.4)));
        head.push(format!(
            "{} %",
            bi(lang, "Bỏ mũi DTP1→3", "DTP1→3 drop-out")
        ));
        let mut numeric = vec![false];
        numeric.extend(std::iter::repeat_n(true, head.len() - 1));
        let units = AdminUnits::get();
        let line = |name: String, c: &Cell| -> Vec<String> {
            let mut row = vec![name, c.children.to_string()];
            for i in 0..FIRST_YEAR.len() {
                row.push(opt(percent(c.received[i], c.children)));
            }
            row.push(opt(percent(c.fully_immunized, c.children)));
            row.push(c.children_2y.to_string());
            row.push(opt(percent(c.mcv2, c.children_2y)));
            row.push(opt(c.dtp_dropout()));
            row
        };
        if self.cells.is_empty() {
            page.p(&bi(
                lang,
                "Không có trẻ nào trong các nhóm sinh này.",
                "No children in these cohorts.",
            ));
        }
        for cohort in &self.cohorts {
            let rows: Vec<(Vec<String>, &str)> = self
                .cells
                .iter()
                .filter(|((_, k), _)| k == cohort)
                .map(|((commune, _), c)| {
                    let name = units
                        .commune(commune)
                        .map(|u| u.name.as_str())
                        .unwrap_or("?");
                    (line(format!("{name} ({commune})"), c), "")
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            page.h2(&format!(
                "{} {cohort}",
                bi(lang, "Trẻ sinh năm/tháng", "Born in")
            ));
            let mut rows = rows;
            if let Some(total) = totals.get(cohort.as_str()) {
                rows.push((line(bi(lang, "Cộng", "Total"), total), "total"));
            }
            page.table(&head, &numeric, &rows);
        }
        page.finish()
    }
}
