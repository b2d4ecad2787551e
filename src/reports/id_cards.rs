//! `vongdoi report id-cards`: citizens whose identity-card milestone (14, 25, 40, 60: Law on
//! Identification 2023 Art. 21) is due or overdue, or comes within `--due-within DAYS` — the
//! commune police officer's list. Items come from the rule engine as `vongdoi forecast` gives
//! them; the phone is the citizen's own, else their guardian's (a 14-year-old seldom has one).

use super::output::{
    bar_chart, commune_name, headers, opt, sex_name, write_csv, write_xlsx, Bars, Html, Sheet,
    XCell, FILLS,
};
use super::{bi, collect_items, days_since, people, Area, Contact, ItemFilter};
use crate::registry::{AdminUnits, PersonalId, Scope};
use crate::rules::{Duration, ItemKey, Lang, RuleSet, Status};
use crate::store::Store;
use anyhow::Result;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The milestone rule's id in `rules/id-card.toml`.
pub const KIND: &str = "id-card";

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub personal_id: PersonalId,
    pub full_name: String,
    pub date_of_birth: NaiveDate,
    pub sex: &'static str,
    pub commune_code: String,
    /// The age of the milestone (14, 25, 40, 60).
    pub milestone: u32,
    pub status: Status,
    pub earliest: Option<NaiveDate>,
    pub due: Option<NaiveDate>,
    pub overdue: Option<NaiveDate>,
    pub expires: Option<NaiveDate>,
    pub days_overdue: i64,
    pub phone: Option<String>,
    /// Whose phone: `self`, `mother`, `father` or `guardian`.
    pub phone_of: Option<&'static str>,
    pub contact_name: Option<String>,
    /// The guardian whose name and phone the row shows (for the audit trail; not a column).
    #[serde(skip)]
    pub contact_id: Option<PersonalId>,
}

pub struct Report {
    pub as_of: NaiveDate,
    pub area: Area,
    pub filter: ItemFilter,
    pub scanned: u64,
    pub rows: Vec<Row>,
}

impl Report {
    /// Everyone the list shows, once each: the citizens, and the guardians whose name and phone
    /// stand beside them (the audit trail records both as read).
    pub fn people_shown(&self) -> Vec<(PersonalId, &'static str)> {
        super::people_shown(self.rows.iter().map(|r| (r.personal_id, r.contact_id)))
    }
}

pub const CSV_COLUMNS: [&str; 15] = [
    "personal_id",
    "full_name",
    "date_of_birth",
    "sex",
    "commune_code",
    "milestone",
    "status",
    "earliest",
    "due",
    "overdue",
    "days_overdue",
    "phone",
    "phone_of",
    "contact_name",
    "expires",
];

pub async fn build(
    store: Arc<Store>,
    rules: &RuleSet,
    area: Area,
    as_of: NaiveDate,
    filter: ItemFilter,
    reader: &Scope,
) -> Result<Report> {
    let Some(first_age) = rules.milestone_ages(KIND).first().copied() else {
        anyhow::bail!("bộ quy tắc không có mốc '{KIND}' / the rule set has no '{KIND}' milestone: check the rule folder (vongdoi rules check)");
    };
    // Nobody younger than the first milestone (less the look-ahead, and a month to spare for
    // the calendar rule) can have an item due: read only those born before.
    let ahead = as_of + chrono::Days::new(filter.due_within.unwrap_or(0).into());
    let born_until = Duration::months(1).add_to(Duration::years(first_age).sub_from(ahead));
    let born_from = NaiveDate::from_ymd_opt(1800, 1, 1).expect("valid date");
    let (hits, scanned) = collect_items(
        store.clone(),
        rules,
        &area,
        (born_from, born_until.min(as_of)),
        as_of,
        |item| {
            matches!(item.key(), ItemKey::Milestone { kind, .. } if &**kind == KIND)
                && filter.selects(item, as_of)
        },
    )
    .await?;
    let mut pins: Vec<PersonalId> = hits.iter().map(|h| h.personal_id).collect();
    pins.dedup();
    let people = people(&store, &pins, reader).await?;
    let mut rows: Vec<Row> = hits
        .into_iter()
        .map(|h| {
            let milestone = match h.item.key() {
                ItemKey::Milestone { age, .. } => *age,
                _ => unreachable!("filtered to milestones"),
            };
            let person = people.get(&h.personal_id);
            let citizen = person.map(|p| &p.0);
            let contact: Option<&Contact> = person.and_then(|p| p.1.as_ref());
            let own_phone = citizen
                .and_then(|c| c.phone.as_ref())
                .map(|p| p.to_string());
            let (phone, phone_of, contact_name, contact_id) = match own_phone {
                Some(p) => (Some(p), Some("self"), None, None),
                None => match contact {
                    Some(c) if c.phone.is_some() => (
                        c.phone.clone(),
                        Some(c.role),
                        Some(c.full_name.clone()),
                        Some(c.personal_id),
                    ),
                    _ => (None, None, None, None),
                },
            };
            Row {
                personal_id: h.personal_id,
                full_name: citizen.map(|c| c.full_name.clone()).unwrap_or_default(),
                date_of_birth: citizen.map(|c| c.date_of_birth).unwrap_or(NaiveDate::MIN),
                sex: citizen.map(|c| c.sex.code()).unwrap_or(""),
                commune_code: citizen
                    .map(|c| c.commune_code.to_string())
                    .unwrap_or_default(),
                milestone,
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
                phone,
                phone_of,
                contact_name,
                contact_id,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (
            a.overdue,
            a.due,
            &a.commune_code,
            a.personal_id,
            a.milestone,
        )
            .cmp(&(
                b.overdue,
                b.due,
                &b.commune_code,
                b.personal_id,
                b.milestone,
            ))
    });
    tracing::info!(scanned, rows = rows.len(), "ID-card list built");
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
    pub fn write_csv<W: std::io::Write>(&self, out: W, _lang: Lang) -> Result<()> {
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
                    r.milestone.to_string(),
                    r.status.as_str().to_string(),
                    opt(r.earliest),
                    opt(r.due),
                    opt(r.overdue),
                    r.days_overdue.to_string(),
                    opt(r.phone.clone()),
                    opt(r.phone_of),
                    opt(r.contact_name.clone()),
                    opt(r.expires),
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
                ("Mốc tuổi", "Milestone age"),
                ("Trạng thái", "Status"),
                ("Sớm nhất", "Earliest"),
                ("Đến hạn", "Due"),
                ("Quá hạn từ", "Overdue from"),
                ("Số ngày quá hạn", "Days overdue"),
                ("Điện thoại", "Phone"),
                ("Số của", "Phone of"),
                ("Người liên hệ", "Contact"),
                ("Hết hạn", "Expires"),
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
                    XCell::num(r.milestone),
                    XCell::text(r.status.label(lang)),
                    XCell::opt_date(r.earliest),
                    XCell::opt_date(r.due),
                    XCell::opt_date(r.overdue),
                    XCell::num(r.days_overdue as f64),
                    XCell::opt_text(r.phone.clone()),
                    XCell::opt_text(r.phone_of.map(|g| Contact::role_label(g, lang))),
                    XCell::opt_text(r.contact_name.clone()),
                    XCell::opt_date(r.expires),
                ]
            })
            .collect();
        write_xlsx(&[Sheet {
            name: "Căn cước".into(),
            header,
            rows,
        }])
    }

    pub fn to_json(&self, lang: Lang) -> serde_json::Value {
        serde_json::json!({
            "report": "id-cards",
            "as_of": self.as_of,
            "area": self.area.to_json(),
            "definitions": {
                "rows": self.filter.describe(lang),
                "source": bi(lang, "Mốc cấp, đổi thẻ căn cước do bộ quy tắc tính (Luật Căn cước 2023, Điều 21), như lệnh vongdoi forecast", "ID-card milestones as the rule engine gives them (Law on Identification 2023, Art. 21), as vongdoi forecast does"),
                "phone": bi(lang, "Số của chính công dân; nếu không có, số của mẹ, cha hoặc người giám hộ", "The citizen's own phone; else a parent's or guardian's"),
            },
            "citizens_scanned": self.scanned,
            "rows": self.rows,
        })
    }

    pub fn to_html(&self, lang: Lang) -> Result<String> {
        let title = bi(
            lang,
            "Danh sách công dân đến hạn cấp, đổi thẻ căn cước",
            "Citizens due for an identity card",
        );
        let subtitle = format!(
            "{} — {}: {} — {}: {}",
            self.area.describe(lang),
            bi(lang, "Ngày lập", "As of"),
            self.as_of,
            bi(lang, "Số người", "Citizens"),
            self.rows.len()
        );
        let mut page = Html::page(&title, &subtitle, true);
        let mut by_age: BTreeMap<u32, [f64; 3]> = BTreeMap::new();
        for r in &self.rows {
            let slot = match r.status {
                Status::Overdue => 0,
                Status::Due => 1,
                _ => 2,
            };
            by_age.entry(r.milestone).or_default()[slot] += 1.0;
        }
        let labels = [
            Status::Overdue.label(lang).to_string(),
            Status::Due.label(lang).to_string(),
            bi(lang, "sắp đến hạn", "due soon"),
        ];
        let cats: Vec<String> = by_age
            .keys()
            .map(|a| bi(lang, &format!("{a} tuổi"), &format!("age {a}")))
            .collect();
        let series: Vec<Bars> = (0..3)
            .filter(|&k| k < 2 || self.filter.due_within.is_some())
            .map(|k| Bars {
                label: labels[k].clone(),
                fill: FILLS[k],
                values: by_age.values().map(|v| (v[k], false)).collect(),
            })
            .collect();
        page.chart(bar_chart(
            &bi(lang, "Số người theo mốc tuổi", "Citizens by milestone age"),
            &cats,
            &series,
            None,
            "",
        ));
        page.definitions(&[
            (bi(lang, "Danh sách gồm", "Listed"), self.filter.describe(lang)),
            (
                bi(lang, "Mốc", "Milestones"),
                bi(lang, "Cấp thẻ khi đủ 14 tuổi, đổi thẻ khi đủ 25, 40 và 60 tuổi; thẻ cấp trong 2 năm trước mốc có giá trị đến mốc sau (Luật Căn cước 2023, Điều 21)", "Card at 14, renewal at 25, 40 and 60; a card issued within 2 years before an age stays valid until the next (Law on Identification 2023, Art. 21)"),
            ),
        ]);
        let head: Vec<String> = [
            ("TT", "No."),
            ("Họ tên", "Name"),
            ("Ngày sinh", "Born"),
            ("Giới", "Sex"),
            ("Số định danh", "Personal ID"),
            ("Mốc", "Milestone"),
            ("Trạng thái", "Status"),
            ("Đến hạn", "Due"),
            ("Quá hạn (ngày)", "Days overdue"),
            ("Điện thoại", "Phone"),
            ("Ghi chú", "Notes"),
        ]
        .iter()
        .map(|(vi, en)| bi(lang, vi, en))
        .collect();
        let numeric = [
            true, false, false, false, false, true, false, false, true, false, false,
        ];
        if self.rows.is_empty() {
            page.p(&bi(
                lang,
                "Không có ai đến hạn hoặc quá hạn.",
                "Nobody is due or overdue.",
            ));
        }
        let units = AdminUnits::get();
        let mut by_commune: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for r in &self.rows {
            by_commune.entry(&r.commune_code).or_default().push(r);
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
                    let phone = match (&r.phone, r.phone_of) {
                        (Some(p), Some("self")) | (Some(p), None) => p.clone(),
                        (Some(p), Some(role)) => format!(
                            "{p} ({} {})",
                            Contact::role_label(role, lang),
                            opt(r.contact_name.clone())
                        ),
                        _ => String::new(),
                    };
                    (
                        vec![
                            (i + 1).to_string(),
                            r.full_name.clone(),
                            r.date_of_birth.format("%d/%m/%Y").to_string(),
                            r.sex.to_string(),
                            r.personal_id.to_string(),
                            r.milestone.to_string(),
                            r.status.label(lang).to_string(),
                            r.due
                                .map(|d| d.format("%d/%m/%Y").to_string())
                                .unwrap_or_default(),
                            if r.status == Status::Overdue {
                                r.days_overdue.to_string()
                            } else {
                                String::new()
                            },
                            phone,
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
