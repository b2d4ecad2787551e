//! `vongdoi report vaccination`: the children due or overdue for a dose, with the guardian to
//! call, most overdue first — the list a commune health worker prints before each monthly
//! vaccination day. Items come from the rule engine exactly as `vongdoi forecast` gives them.

use super::output::{
    bar_chart, commune_name, headers, opt, sex_name, write_csv, write_xlsx, Bars, Html, Sheet,
    XCell, FILLS,
};
use super::{bi, collect_items, days_since, people, Area, Contact, ItemFilter};
use crate::registry::{AdminUnits, PersonalId, Scope};
use crate::rules::{ItemKey, Lang, RuleSet, Status};
use crate::store::Store;
use anyhow::Result;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub personal_id: PersonalId,
    pub full_name: String,
    pub date_of_birth: NaiveDate,
    pub sex: &'static str,
    pub commune_code: String,
    /// The child's thôn / tổ dân phố, for lists filtered by village.
    pub village: Option<String>,
    pub guardian_role: Option<&'static str>,
    /// Whose name and phone the row shows (for the audit trail; not a column).
    #[serde(skip)]
    pub guardian_id: Option<PersonalId>,
    pub guardian_name: Option<String>,
    pub guardian_phone: Option<String>,
    pub series: String,
    pub dose: u32,
    /// The vaccine codes that count for the dose, `/`-separated (`PENTA/HEXA`).
    pub vaccine: String,
    pub item_vi: String,
    pub item_en: String,
    pub status: Status,
    pub earliest: Option<NaiveDate>,
    pub due: Option<NaiveDate>,
    pub overdue: Option<NaiveDate>,
    pub expires: Option<NaiveDate>,
    pub days_overdue: i64,
    /// How long past the overdue date families are still messaged (the rule's notice
    /// horizon, in days): a dose overdue longer is the staff's to follow up.
    #[serde(skip)]
    pub horizon_days: i64,
}

pub struct Report {
    pub as_of: NaiveDate,
    pub area: Area,
    pub filter: ItemFilter,
    pub scanned: u64,
    pub rows: Vec<Row>,
}

impl Report {
    /// Everyone the list shows, once each: the children, and the guardians whose name and phone
    /// stand beside them (the audit trail records both as read).
    pub fn people_shown(&self) -> Vec<(PersonalId, &'static str)> {
        super::people_shown(self.rows.iter().map(|r| (r.personal_id, r.guardian_id)))
    }
}

pub const CSV_COLUMNS: [&str; 17] = [
    "personal_id",
    "full_name",
    "date_of_birth",
    "sex",
    "commune_code",
    "guardian_name",
    "guardian_phone",
    "guardian_role",
    "series",
    "dose",
    "vaccine",
    "item",
    "status",
    "earliest",
    "due",
    "overdue",
    "days_overdue",
];

pub async fn build(
    store: Arc<Store>,
    rules: &RuleSet,
    area: Area,
    as_of: NaiveDate,
    filter: ItemFilter,
    reader: &Scope,
) -> Result<Report> {
    let Some(born_from) = rules.vaccination_born_after(as_of) else {
        return Ok(Report {
            as_of,
            area,
            filter,
            scanned: 0,
            rows: Vec::new(),
        });
    };
    let (hits, scanned) = collect_items(
        store.clone(),
        rules,
        &area,
        (born_from, as_of),
        as_of,
        |item| matches!(item.key(), ItemKey::Vaccination { .. }) && filter.selects(item, as_of),
    )
    .await?;
    let mut pins: Vec<PersonalId> = hits.iter().map(|h| h.personal_id).collect();
    pins.dedup();
    let people = people(&store, &pins, reader).await?;
    let mut rows: Vec<Row> = hits
        .into_iter()
        .map(|h| {
            let (series, dose) = match h.item.key() {
                ItemKey::Vaccination { series, dose } => (series.to_string(), *dose),
                _ => unreachable!("filtered to vaccinations"),
            };
            let person = people.get(&h.personal_id);
            let contact: Option<&Contact> = person.and_then(|p| p.1.as_ref());
            Row {
                personal_id: h.personal_id,
                full_name: person.map(|p| p.0.full_name.clone()).unwrap_or_default(),
                date_of_birth: person.map(|p| p.0.date_of_birth).unwrap_or(NaiveDate::MIN),
                sex: person.map(|p| p.0.sex.code()).unwrap_or(""),
                commune_code: person
                    .map(|p| p.0.commune_code.to_string())
                    .unwrap_or_default(),
                village: person.and_then(|p| p.0.village.clone()),
                guardian_role: contact.map(|c| c.role),
                guardian_id: contact.map(|c| c.personal_id),
                guardian_name: contact.map(|c| c.full_name.clone()),
                guardian_phone: contact.and_then(|c| c.phone.clone()),
                series,
                dose,
                vaccine: h
                    .item
                    .info
                    .vaccines
                    .iter()
                    .map(|v| &**v)
                    .collect::<Vec<_>>()
                    .join("/"),
                item_vi: h.item.info.name_vi.clone(),
                item_en: h.item.info.name_en.clone(),
                status: h.item.status,
                earliest: h.item.earliest,
                due: h.item.due,
                overdue: h.item.overdue,
                expires: h.item.expires,
                days_overdue: if h.item.status == Status::Overdue {
                    days_since(h.item.overdue, as_of)
                } else {
                    0
                },
                horizon_days: h.item.overdue.map_or(i64::MAX, |o| {
                    (h.item.info.policy.horizon.add_to(o) - o).num_days()
                }),
            }
        })
        .collect();
    // Most overdue first: the earliest overdue date leads; then by due date, then stable keys.
    rows.sort_by(|a, b| {
        (
            a.overdue,
            a.due,
            &a.commune_code,
            a.personal_id,
            &a.series,
            a.dose,
        )
            .cmp(&(
                b.overdue,
                b.due,
                &b.commune_code,
                b.personal_id,
                &b.series,
                b.dose,
            ))
    });
    tracing::info!(scanned, rows = rows.len(), "vaccination list built");
    Ok(Report {
        as_of,
        area,
        filter,
        scanned,
        rows,
    })
}

impl Report {
    /// CSV: stable column names; `lang` picks the language of item names.
    pub fn write_csv<W: std::io::Write>(&self, out: W, lang: Lang) -> Result<()> {
        write_csv(
            out,
            &CSV_COLUMNS,
            self.rows.iter().map(|r| {
                vec![
                    r.personal_id.to_string(),
                    r.full_name.clone(),
                    r.date_of_birth.to_string(),
                    r.sex.to_string(),
                    r.commune_code.clone(),
                    opt(r.guardian_name.clone()),
                    opt(r.guardian_phone.clone()),
                    opt(r.guardian_role),
                    r.series.clone(),
                    r.dose.to_string(),
                    r.vaccine.clone(),
                    match lang {
                        Lang::Vi => r.item_vi.clone(),
                        Lang::En => r.item_en.clone(),
                    },
                    r.status.as_str().to_string(),
                    opt(r.earliest),
                    opt(r.due),
                    opt(r.overdue),
                    r.days_overdue.to_string(),
                ]
            }),
        )
    }

    /// xlsx: the CSV's columns for people: Vietnamese headers, the commune's name beside its
    /// code, IDs and phones as text, dates as dates.
    pub fn to_xlsx(&self, lang: Lang) -> Result<Vec<u8>> {
        let header = headers(
            &[
                ("Số định danh", "Personal ID"),
                ("Họ tên", "Name"),
                ("Ngày sinh", "Born"),
                ("Giới", "Sex"),
                ("Mã xã", "Commune code"),
                ("Tên xã", "Commune"),
                ("Người liên hệ", "Contact"),
                ("Điện thoại", "Phone"),
                ("Quan hệ", "Relation"),
                ("Bệnh", "Series"),
                ("Mũi", "Dose"),
                ("Vắc xin", "Vaccine"),
                ("Mũi tiêm", "Item"),
                ("Trạng thái", "Status"),
                ("Sớm nhất", "Earliest"),
                ("Đến hạn", "Due"),
                ("Quá hạn từ", "Overdue from"),
                ("Số ngày quá hạn", "Days overdue"),
            ],
            lang,
        );
        let rows = self
            .rows
            .iter()
            .map(|r| {
                vec![
                    XCell::text(r.personal_id.to_string()),
                    XCell::text(&r.full_name),
                    XCell::Date(r.date_of_birth),
                    sex_name(r.sex, lang),
                    XCell::text(&r.commune_code),
                    commune_name(&r.commune_code),
                    XCell::opt_text(r.guardian_name.clone()),
                    XCell::opt_text(r.guardian_phone.clone()),
                    XCell::opt_text(r.guardian_role.map(|g| Contact::role_label(g, lang))),
                    XCell::text(&r.series),
                    XCell::num(r.dose),
                    XCell::text(&r.vaccine),
                    XCell::text(match lang {
                        Lang::Vi => &r.item_vi,
                        Lang::En => &r.item_en,
                    }),
                    XCell::text(r.status.label(lang)),
                    XCell::opt_date(r.earliest),
                    XCell::opt_date(r.due),
                    XCell::opt_date(r.overdue),
                    XCell::num(r.days_overdue as f64),
                ]
            })
            .collect();
        write_xlsx(&[Sheet {
            name: "Tiêm chủng".into(),
            header,
            rows,
        }])
    }

    pub fn to_json(&self, lang: Lang) -> serde_json::Value {
        serde_json::json!({
            "report": "vaccination",
            "as_of": self.as_of,
            "area": self.area.to_json(),
            "definitions": {
                "rows": self.filter.describe(lang),
                "source": bi(lang, "Các mục do bộ quy tắc tính, như lệnh vongdoi forecast", "Items as the rule engine gives them, as vongdoi forecast does"),
                "guardian": bi(lang, "Người đầu tiên trong mẹ, cha, người giám hộ có số điện thoại; nếu không ai có, người đầu tiên có trong sổ", "The first of mother, father, guardian with a phone; else the first registered"),
                "order": bi(lang, "Quá hạn lâu nhất trước", "Most overdue first"),
            },
            "citizens_scanned": self.scanned,
            "rows": self.rows,
        })
    }

    pub fn to_html(&self, lang: Lang) -> Result<String> {
        let title = bi(
            lang,
            "Danh sách trẻ đến hạn, quá hạn tiêm chủng",
            "Children due or overdue for vaccination",
        );
        let subtitle = format!(
            "{} — {}: {} — {}: {}",
            self.area.describe(lang),
            bi(lang, "Ngày lập", "As of"),
            self.as_of,
            bi(lang, "Số mũi cần tiêm", "Doses to give"),
            self.rows.len()
        );
        let mut page = Html::page(&title, &subtitle, true);
        // Chart: doses to give by series, due and overdue.
        let mut by_series: BTreeMap<&str, [f64; 3]> = BTreeMap::new();
        for r in &self.rows {
            let slot = match r.status {
                Status::Overdue => 0,
                Status::Due => 1,
                _ => 2,
            };
            by_series.entry(&r.series).or_default()[slot] += 1.0;
        }
        let cats: Vec<String> = by_series.keys().map(|s| s.to_string()).collect();
        let labels = [
            Status::Overdue.label(lang).to_string(),
            Status::Due.label(lang).to_string(),
            bi(lang, "sắp đến hạn", "due soon"),
        ];
        let series: Vec<Bars> = (0..3)
            .filter(|&k| k < 2 || self.filter.due_within.is_some())
            .map(|k| Bars {
                label: labels[k].clone(),
                fill: FILLS[k],
                values: by_series.values().map(|v| (v[k], false)).collect(),
            })
            .collect();
        page.chart(bar_chart(
            &bi(
                lang,
                "Số mũi cần tiêm theo loại vắc xin",
                "Doses to give by series",
            ),
            &cats,
            &series,
            None,
            "",
        ));
        page.definitions(&[
            (
                bi(lang, "Danh sách gồm", "Listed"),
                self.filter.describe(lang),
            ),
            (
                bi(lang, "Người liên hệ", "Contact"),
                bi(
                    lang,
                    "Người đầu tiên trong mẹ, cha, người giám hộ có số điện thoại",
                    "The first of mother, father, guardian with a phone",
                ),
            ),
        ]);
        let units = AdminUnits::get();
        let mut by_commune: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for r in &self.rows {
            by_commune.entry(&r.commune_code).or_default().push(r);
        }
        let head: Vec<String> = [
            ("TT", "No."),
            ("Họ tên", "Name"),
            ("Ngày sinh", "Born"),
            ("Giới", "Sex"),
            ("Số định danh", "Personal ID"),
            ("Người liên hệ", "Contact"),
            ("Điện thoại", "Phone"),
            ("Mũi tiêm", "Dose"),
            ("Vắc xin", "Vaccine"),
            ("Trạng thái", "Status"),
            ("Đến hạn", "Due"),
            ("Quá hạn (ngày)", "Days overdue"),
            ("Ghi chú", "Notes"),
        ]
        .iter()
        .map(|(vi, en)| match lang {
            Lang::Vi => vi.to_string(),
            Lang::En => format!("{vi} / {en}"),
        })
        .collect();
        let numeric = [
            true, false, false, false, false, false, false, false, false, false, false, true, false,
        ];
        if self.rows.is_empty() {
            page.p(&bi(
                lang,
                "Không có trẻ nào đến hạn hoặc quá hạn.",
                "Nobody is due or overdue.",
            ));
        }
        for (commune, rows) in by_commune {
            let name = units
                .commune(commune)
                .map(|c| c.name.as_str())
                .unwrap_or("?");
            page.h2(&format!("{name} ({commune}) — {}", rows.len()));
            let cells: Vec<(Vec<String>, &str)> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    (
                        vec![
                            (i + 1).to_string(),
                            r.full_name.clone(),
                            r.date_of_birth.format("%d/%m/%Y").to_string(),
                            r.sex.to_string(),
                            r.personal_id.to_string(),
                            match (&r.guardian_name, r.guardian_role) {
                                (Some(n), Some(role)) => {
                                    format!("{n} ({})", Contact::role_label(role, lang))
                                }
                                _ => String::new(),
                            },
                            opt(r.guardian_phone.clone()),
                            match lang {
                                Lang::Vi => r.item_vi.clone(),
                                Lang::En => r.item_en.clone(),
                            },
                            r.vaccine.clone(),
                            r.status.label(lang).to_string(),
                            r.due
                                .map(|d| d.format("%d/%m/%Y").to_string())
                                .unwrap_or_default(),
                            if r.status == Status::Overdue {
                                r.days_overdue.to_string()
                            } else {
                                String::new()
                            },
                            String::new(),
                        ],
                        if r.status == Status::Overdue {
                            "overdue"
                        } else {
                            ""
                        },
                    )
                })
                .collect();
            page.table(&head, &numeric, &cells);
        }
        page.finish()
    }
}
