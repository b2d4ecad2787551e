//! The nurse's worklist: one entry per child with every dose that child is due or overdue for,
//! built from the per-dose vaccination list ([`super::vaccination`]) so both show the same
//! items the rule engine gives.
//!
//! A station calls this week's children: a dose is *routine* while the child is under
//! [`ROUTINE_AGE_YEARS`] and the dose is not overdue for more than [`FOLLOW_UP_AFTER_DAYS`];
//! every other dose goes to the *follow-up* list (a 14-year-old's Japanese-encephalitis dose
//! due in 2013 belongs to a catch-up conversation, not to the top of Monday's calls). Children
//! are ordered by the earliest due date among their doses.

use super::output::{self, commune_name, headers, opt, sex_name, write_xlsx, Sheet, XCell};
use super::vaccination::{Report, Row};
use super::{bi, Contact};
use crate::registry::PersonalId;
use crate::rules::{Lang, Status};
use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::collections::BTreeMap;

/// Children at or above this age are followed up, not called in the routine round.
pub const ROUTINE_AGE_YEARS: u32 = 6;
/// A dose overdue for longer than its rule's notice horizon (by default this many days) is
/// followed up, not called in the routine round: what families are no longer messaged about
/// is on this list.
pub const FOLLOW_UP_AFTER_DAYS: i64 = crate::rules::forecast::NoticePolicy::DEFAULT_HORIZON_DAYS;

/// Which of the two lists an entry is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// This week's calls: young children, doses due or recently overdue.
    Routine,
    /// Long-overdue doses and older children: a catch-up conversation.
    FollowUp,
}

impl ListKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Routine => "routine",
            ListKind::FollowUp => "follow_up",
        }
    }

    pub fn parse(s: &str) -> Option<ListKind> {
        match s {
            "routine" => Some(ListKind::Routine),
            "follow_up" | "follow-up" => Some(ListKind::FollowUp),
            _ => None,
        }
    }
}

/// One dose of a child's entry.
#[derive(Debug, Clone, Serialize)]
pub struct Dose {
    pub series: String,
    pub dose: u32,
    pub vaccine: String,
    pub item_vi: String,
    pub item_en: String,
    pub status: Status,
    pub due: Option<NaiveDate>,
    pub overdue: Option<NaiveDate>,
    pub days_overdue: i64,
}

/// One child, with every dose of one list.
#[derive(Debug, Clone, Serialize)]
pub struct Child {
    pub personal_id: PersonalId,
    pub full_name: String,
    pub date_of_birth: NaiveDate,
    pub sex: &'static str,
    pub commune_code: String,
    /// Thôn / tổ dân phố, when the registry has it.
    pub village: Option<String>,
    pub guardian_role: Option<&'static str>,
    #[serde(skip)]
    pub guardian_id: Option<PersonalId>,
    pub guardian_name: Option<String>,
    pub guardian_phone: Option<String>,
    pub list: ListKind,
    /// The earliest due date among the doses: the list's order.
    pub first_due: Option<NaiveDate>,
    /// The longest a dose has been overdue, in days (0 when none is).
    pub most_days_overdue: i64,
    pub doses: Vec<Dose>,
}

impl Child {
    /// The child's age in whole months on a date.
    pub fn age_months(&self, on: NaiveDate) -> u32 {
        months_between(self.date_of_birth, on)
    }
}

/// Whole calendar months from `from` to `to` (0 when `to` is earlier).
pub fn months_between(from: NaiveDate, to: NaiveDate) -> u32 {
    if to < from {
        return 0;
    }
    let mut months = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32;
    if to.day() < from.day() {
        months -= 1;
    }
    months.max(0) as u32
}

/// "3 tháng 5 ngày", "1 năm 2 tháng", "12 ngày": how long ago, as one says it (the two largest
/// units that are not zero).
pub fn elapsed_words(from: NaiveDate, to: NaiveDate, lang: Lang) -> String {
    let months = months_between(from, to);
    let (years, months) = (months / 12, months % 12);
    let anchor = from
        .checked_add_months(chrono::Months::new(years * 12 + months))
        .unwrap_or(from);
    let days = (to - anchor).num_days().max(0);
    let units: [(u64, &str, &str, &str); 3] = [
        (years.into(), "năm", "year", "years"),
        (months.into(), "tháng", "month", "months"),
        (days as u64, "ngày", "day", "days"),
    ];
    let parts: Vec<String> = units
        .iter()
        .skip_while(|(n, ..)| *n == 0)
        .take(2)
        .filter(|(n, ..)| *n > 0)
        .map(|(n, vi, one, many)| match lang {
            Lang::Vi => format!("{n} {vi}"),
            Lang::En => format!("{n} {}", if *n == 1 { one } else { many }),
        })
        .collect();
    if parts.is_empty() {
        bi(lang, "hôm nay", "today")
    } else {
        parts.join(" ")
    }
}

/// A Vietnamese number written as people read it (`+84912345678` → `0912 345 678`, the
/// registry's [`Phone::national`](crate::registry::Phone::national)); anything the registry
/// would not take is shown as stored.
pub fn phone_for_people(stored: &str) -> String {
    crate::registry::Phone::parse(stored)
        .map(|p| p.national())
        .unwrap_or_else(|_| stored.to_string())
}

fn list_of(row: &Row, as_of: NaiveDate) -> ListKind {
    let young = months_between(row.date_of_birth, as_of) < ROUTINE_AGE_YEARS * 12;
    if young && row.days_overdue <= row.horizon_days {
        ListKind::Routine
    } else {
        ListKind::FollowUp
    }
}

/// The per-dose report regrouped: one entry per child and list, ordered by the earliest due
/// date (then the longest overdue, then the ID, so the order is stable).
pub fn by_child(report: &Report) -> Vec<Child> {
    let mut entries: BTreeMap<(PersonalId, u8), Child> = BTreeMap::new();
    for r in &report.rows {
        let list = list_of(r, report.as_of);
        let slot = (r.personal_id, list as u8);
        let child = entries.entry(slot).or_insert_with(|| Child {
            personal_id: r.personal_id,
            full_name: r.full_name.clone(),
            date_of_birth: r.date_of_birth,
            sex: r.sex,
            commune_code: r.commune_code.clone(),
            village: r.village.clone(),
            guardian_role: r.guardian_role,
            guardian_id: r.guardian_id,
            guardian_name: r.guardian_name.clone(),
            guardian_phone: r.guardian_phone.clone(),
            list,
            first_due: None,
            most_days_overdue: 0,
            doses: Vec::new(),
        });
        child.first_due = match (child.first_due, r.due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        child.most_days_overdue = child.most_days_overdue.max(r.days_overdue);
        child.doses.push(Dose {
            series: r.series.clone(),
            dose: r.dose,
            vaccine: r.vaccine.clone(),
            item_vi: r.item_vi.clone(),
            item_en: r.item_en.clone(),
            status: r.status,
            due: r.due,
            overdue: r.overdue,
            days_overdue: r.days_overdue,
        });
    }
    let mut children: Vec<Child> = entries.into_values().collect();
    for c in &mut children {
        c.doses
            .sort_by(|a, b| (a.due, &a.series, a.dose).cmp(&(b.due, &b.series, b.dose)));
    }
    children.sort_by(|a, b| {
        (
            a.list as u8,
            a.first_due,
            -a.most_days_overdue,
            a.personal_id,
        )
            .cmp(&(
                b.list as u8,
                b.first_due,
                -b.most_days_overdue,
                b.personal_id,
            ))
    });
    children
}

/// Everyone an entry shows: the child and the guardian beside them (for the audit trail).
pub fn people_shown(children: &[Child]) -> Vec<(PersonalId, &'static str)> {
    super::people_shown(children.iter().map(|c| (c.personal_id, c.guardian_id)))
}

pub const CSV_COLUMNS: [&str; 15] = [
    "personal_id",
    "full_name",
    "date_of_birth",
    "sex",
    "commune_code",
    "village",
    "guardian_name",
    "guardian_phone",
    "guardian_role",
    "list",
    "first_due",
    "most_days_overdue",
    "doses",
    "vaccines",
    "statuses",
];

fn dose_names(c: &Child, lang: Lang) -> String {
    c.doses
        .iter()
        .map(|d| match lang {
            Lang::Vi => d.item_vi.as_str(),
            Lang::En => d.item_en.as_str(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `vongdoi report vaccination --by child` in CSV: one row per child and list; the doses,
/// their vaccines and statuses `; `-separated in the same order.
pub fn write_csv<W: std::io::Write>(children: &[Child], out: W, lang: Lang) -> Result<()> {
    output::write_csv(
        out,
        &CSV_COLUMNS,
        children.iter().map(|c| {
            vec![
                c.personal_id.to_string(),
                c.full_name.clone(),
                c.date_of_birth.to_string(),
                c.sex.to_string(),
                c.commune_code.clone(),
                opt(c.village.clone()),
                opt(c.guardian_name.clone()),
                opt(c.guardian_phone.clone()),
                opt(c.guardian_role),
                c.list.as_str().to_string(),
                opt(c.first_due),
                c.most_days_overdue.to_string(),
                dose_names(c, lang),
                c.doses
                    .iter()
                    .map(|d| d.vaccine.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                c.doses
                    .iter()
                    .map(|d| d.status.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        }),
    )
}

pub fn to_json(report: &Report, children: &[Child], lang: Lang) -> serde_json::Value {
    serde_json::json!({
        "report": "vaccination",
        "by": "child",
        "as_of": report.as_of,
        "area": report.area.to_json(),
        "definitions": {
            "rows": report.filter.describe(lang),
            "lists": bi(lang,
                &format!("routine: trẻ dưới {ROUTINE_AGE_YEARS} tuổi, mũi chưa quá hạn quá {FOLLOW_UP_AFTER_DAYS} ngày; follow_up: các mũi còn lại"),
                &format!("routine: children under {ROUTINE_AGE_YEARS}, doses overdue at most {FOLLOW_UP_AFTER_DAYS} days; follow_up: every other dose")),
            "order": bi(lang, "Theo ngày đến hạn sớm nhất của trẻ", "By the child's earliest due date"),
        },
        "citizens_scanned": report.scanned,
        "children": children,
    })
}

pub fn to_xlsx(children: &[Child], as_of: NaiveDate, lang: Lang) -> Result<Vec<u8>> {
    let header = headers(
        &[
            ("Số định danh", "Personal ID"),
            ("Họ tên", "Name"),
            ("Ngày sinh", "Born"),
            ("Giới", "Sex"),
            ("Mã xã", "Commune code"),
            ("Tên xã", "Commune"),
            ("Thôn, tổ dân phố", "Village"),
            ("Người liên hệ", "Contact"),
            ("Điện thoại", "Phone"),
            ("Quan hệ", "Relation"),
            ("Danh sách", "List"),
            ("Hạn sớm nhất", "First due"),
            ("Quá hạn", "Overdue for"),
            ("Các mũi cần tiêm", "Doses to give"),
        ],
        lang,
    );
    let rows = children
        .iter()
        .map(|c| {
            vec![
                XCell::text(c.personal_id.to_string()),
                XCell::text(&c.full_name),
                XCell::Date(c.date_of_birth),
                sex_name(c.sex, lang),
                XCell::text(&c.commune_code),
                commune_name(&c.commune_code),
                XCell::opt_text(c.village.clone()),
                XCell::opt_text(c.guardian_name.clone()),
                XCell::opt_text(c.guardian_phone.as_deref().map(phone_for_people)),
                XCell::opt_text(c.guardian_role.map(|g| Contact::role_label(g, lang))),
                XCell::text(list_label(c.list, lang)),
                XCell::opt_date(c.first_due),
                XCell::opt_text(overdue_words(c, as_of, lang)),
                XCell::text(dose_names(c, lang)),
            ]
        })
        .collect();
    write_xlsx(&[Sheet {
        name: "Theo trẻ".into(),
        header,
        rows,
    }])
}

pub fn list_label(list: ListKind, lang: Lang) -> String {
    match list {
        ListKind::Routine => bi(lang, "Gọi tuần này", "This week's calls"),
        ListKind::FollowUp => bi(lang, "Theo dõi, tiêm vét", "Follow-up, catch-up"),
    }
}

/// How long the child's most overdue dose has been overdue, in words (None when none is).
pub fn overdue_words(c: &Child, as_of: NaiveDate, lang: Lang) -> Option<String> {
    c.doses
        .iter()
        .filter_map(|d| d.overdue.filter(|_| d.status == Status::Overdue))
        .min()
        .map(|since| elapsed_words(since, as_of, lang))
}

pub fn sex_for_people(code: &str, lang: Lang) -> String {
    match code {
        "M" => bi(lang, "Nam", "Male"),
        "F" => bi(lang, "Nữ", "Female"),
        other => other.to_string(),
    }
}

/// What a printed list adds to the children: a link back (on the page) and, per child, the
/// latest call outcome.
#[derive(Default)]
pub struct Annotations {
    pub back: Option<String>,
    pub outcomes: std::collections::HashMap<PersonalId, String>,
}

/// The session list for printing (A4, one row per child, a "Đã tiêm / Ký" column), grouped
/// into this week's calls and the follow-up list.
pub fn to_html(
    report: &Report,
    children: &[Child],
    lang: Lang,
    notes: &Annotations,
) -> Result<String> {
    let as_of = report.as_of;
    let groups: Vec<serde_json::Value> = [ListKind::Routine, ListKind::FollowUp]
        .into_iter()
        .filter_map(|list| {
            let rows: Vec<serde_json::Value> = children
                .iter()
                .filter(|c| c.list == list)
                .map(|c| {
                    let doses: Vec<serde_json::Value> = c
                        .doses
                        .iter()
                        .map(|d| {
                            serde_json::json!({
                                "name": match lang { Lang::Vi => &d.item_vi, Lang::En => &d.item_en },
                                "overdue": d.overdue
                                    .filter(|_| d.status == Status::Overdue)
                                    .map(|o| elapsed_words(o, as_of, lang)),
                            })
                        })
                        .collect();
                    serde_json::json!({
                        "full_name": c.full_name,
                        "born": crate::clock::vn_date(c.date_of_birth),
                        "sex": sex_for_people(c.sex, lang),
                        "village": c.village,
                        "guardian": c.guardian_name,
                        "phone": c.guardian_phone.as_deref().map(phone_for_people),
                        "outcome": notes.outcomes.get(&c.personal_id),
                        "doses": doses,
                    })
                })
                .collect();
            (!rows.is_empty()).then(|| {
                serde_json::json!({ "label": list_label(list, lang), "children": rows })
            })
        })
        .collect();
    let title = bi(
        lang,
        "Danh sách buổi tiêm chủng",
        "Vaccination session list",
    );
    let subtitle = format!(
        "{} — {} {} — {} {}",
        report.area.describe(lang),
        bi(lang, "ngày lập", "as of"),
        crate::clock::vn_date(as_of),
        children.len(),
        bi(lang, "trẻ", "children"),
    );
    let lang_code = match lang {
        Lang::Vi => "vi",
        Lang::En => "en",
    };
    Ok(crate::html::render(
        "reports/session_list.html",
        serde_json::json!({
            "lang": lang_code, "title": title, "subtitle": subtitle,
            "back": notes.back, "groups": groups,
        }),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn elapsed_time_reads_as_one_says_it() {
        let to = d("2026-12-01");
        assert_eq!(
            elapsed_words(d("2026-08-27"), to, Lang::Vi),
            "3 tháng 4 ngày"
        );
        assert_eq!(elapsed_words(d("2026-11-19"), to, Lang::Vi), "12 ngày");
        assert_eq!(
            elapsed_words(d("2025-10-01"), to, Lang::Vi),
            "1 năm 2 tháng"
        );
        assert_eq!(
            elapsed_words(d("2013-02-10"), to, Lang::Vi),
            "13 năm 9 tháng"
        );
        assert_eq!(elapsed_words(d("2025-12-01"), to, Lang::Vi), "1 năm");
        assert_eq!(elapsed_words(to, to, Lang::Vi), "hôm nay");
        assert_eq!(
            elapsed_words(d("2026-10-31"), to, Lang::En),
            "1 month 1 day"
        );
    }

    #[test]
    fn months_count_whole_calendar_months() {
        assert_eq!(months_between(d("2020-12-02"), d("2026-12-01")), 71);
        assert_eq!(months_between(d("2020-12-01"), d("2026-12-01")), 72);
        assert_eq!(months_between(d("2027-01-01"), d("2026-12-01")), 0);
    }

    #[test]
    fn phones_are_written_the_vietnamese_way() {
        assert_eq!(phone_for_people("+84912345678"), "0912 345 678");
        assert_eq!(phone_for_people("+8491234"), "+8491234");
    }
}
