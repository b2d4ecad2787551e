//! The enrolment report's forms: CSV, xlsx, JSON and the printable HTML.

use super::*;

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
