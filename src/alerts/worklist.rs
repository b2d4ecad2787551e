//! The campaign's worklist ("danh sách tiêm vét"): the alert's children, commune by commune,
//! with their valid doses, the guardian to call and their number, and whether the family's
//! message went out, for the nurse who runs the catch-up session. From the saved audience, so
//! it lists exactly whom the alert counted.

use crate::registry::{AdminUnits, PersonalId};
use crate::reports::output::{write_xlsx, Sheet, XCell};
use crate::rules::wording::age_on;
use crate::rules::Lang;
use crate::store::alerts::{AlertRow, CommuneReach};
use crate::store::{MessageStatus, Store};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::HashMap;

/// The most children one worklist lists (a commune's campaign is a few thousand).
pub const MAX_ROWS: usize = 50_000;

#[derive(Debug, Clone, Serialize)]
pub struct WorklistRow {
    pub commune_code: String,
    pub commune: String,
    pub personal_id: String,
    pub full_name: String,
    pub date_of_birth: NaiveDate,
    pub age: i32,
    pub valid_doses: i32,
    pub guardian_id: Option<String>,
    pub guardian: Option<String>,
    /// As Vietnamese write it (0912 345 678): the nurse calls it.
    pub phone: Option<String>,
    pub message_status: Option<MessageStatus>,
}

/// The worklist of `alert`, in one commune or all of them, up to [`MAX_ROWS`]; true when it
/// was cut there.
pub async fn worklist(
    store: &Store,
    alert: &AlertRow,
    commune: Option<&str>,
) -> anyhow::Result<(Vec<WorklistRow>, bool)> {
    const PAGE: i64 = 2_000;
    let units = AdminUnits::get();
    let mut out = Vec::new();
    let mut after: Option<(String, String)> = commune.map(|c| (c.to_string(), String::new()));
    loop {
        let page = store
            .alert_audience_page(
                alert.id,
                after.as_ref().map(|(c, p)| (c.as_str(), p.as_str())),
                PAGE,
            )
            .await?;
        let page: Vec<_> = page
            .into_iter()
            .take_while(|r| commune.is_none_or(|c| r.commune_code == c))
            .collect();
        let Some(last) = page.last() else {
            return Ok((out, false));
        };
        after = Some((last.commune_code.clone(), last.personal_id.clone()));
        let mut pins: Vec<PersonalId> = page
            .iter()
            .flat_map(|r| [Some(&r.personal_id), r.recipient_id.as_ref()])
            .flatten()
            .filter_map(|p| PersonalId::parse(p).ok())
            .collect();
        pins.sort();
        pins.dedup();
        let people: HashMap<String, crate::store::StoredCitizen> = store
            .citizens_by_ids(&pins)
            .await?
            .into_iter()
            .map(|c| (c.citizen.personal_id.to_string(), c))
            .collect();
        let ids: Vec<String> = page.iter().filter_map(|r| r.message_id.clone()).collect();
        let statuses = store.message_statuses(&ids).await?;
        let short = (page.len() as i64) < PAGE;
        for r in page {
            let Some(child) = people.get(&r.personal_id) else {
                continue;
            };
            let guardian = r.recipient_id.as_ref().and_then(|g| people.get(g));
            out.push(WorklistRow {
                commune: units
                    .commune(&r.commune_code)
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                commune_code: r.commune_code,
                full_name: child.citizen.full_name.clone(),
                date_of_birth: r.date_of_birth,
                age: age_on(r.date_of_birth, alert.as_of),
                valid_doses: r.valid_doses,
                guardian_id: r.recipient_id.clone(),
                guardian: guardian.map(|g| g.citizen.full_name.clone()),
                phone: guardian
                    .and_then(|g| g.citizen.phone.as_ref())
                    .map(|p| p.national()),
                message_status: r.message_id.as_ref().and_then(|m| statuses.get(m).copied()),
                personal_id: r.personal_id,
            });
            if out.len() >= MAX_ROWS {
                return Ok((out, true));
            }
        }
        if short {
            return Ok((out, false));
        }
    }
}

fn status_text(s: Option<MessageStatus>, lang: Lang) -> String {
    match s {
        Some(s) => s.label(lang).to_string(),
        None if lang == Lang::En => "no message (no contact)".into(),
        None => "không có tin (không có liên hệ)".into(),
    }
}

/// The worklist as a workbook (Vietnamese headers first).
pub fn worklist_xlsx(rows: &[WorklistRow], lang: Lang) -> anyhow::Result<Vec<u8>> {
    let h = |vi: &str, en: &str| crate::reports::bi(lang, vi, en);
    let header = vec![
        h("Mã xã", "Commune code"),
        h("Xã", "Commune"),
        h("Số định danh", "Personal ID"),
        h("Họ tên", "Full name"),
        h("Ngày sinh", "Date of birth"),
        h("Tuổi", "Age"),
        h("Số mũi hợp lệ", "Valid doses"),
        h("Người giám hộ", "Guardian"),
        h("Điện thoại", "Phone"),
        h("Tin nhắn", "Message"),
        h("Đã tiêm (ghi tay)", "Vaccinated (tick)"),
    ];
    let rows = rows
        .iter()
        .map(|r| {
            vec![
                XCell::text(&r.commune_code),
                XCell::text(&r.commune),
                XCell::text(&r.personal_id),
                XCell::text(&r.full_name),
                XCell::Date(r.date_of_birth),
                XCell::num(r.age),
                XCell::num(r.valid_doses),
                XCell::opt_text(r.guardian.clone()),
                XCell::opt_text(r.phone.clone()),
                XCell::text(status_text(r.message_status, lang)),
                XCell::Empty,
            ]
        })
        .collect();
    write_xlsx(&[Sheet {
        name: if lang == Lang::En {
            "Catch-up list"
        } else {
            "Tiem vet"
        }
        .into(),
        header,
        rows,
    }])
}

/// Reach per commune as a workbook.
pub fn reach_xlsx(
    communes: &[CommuneReach],
    total: &CommuneReach,
    lang: Lang,
) -> anyhow::Result<Vec<u8>> {
    let units = AdminUnits::get();
    let h = |vi: &str, en: &str| crate::reports::bi(lang, vi, en);
    let header = vec![
        h("Mã xã", "Commune code"),
        h("Xã", "Commune"),
        h("Số trẻ", "Targeted"),
        h("Không có liên hệ", "No contact"),
        h("Đang chờ gửi", "Pending"),
        h("Đã gửi", "Sent"),
        h("Đã đến máy", "Delivered"),
        h("Không đến được", "Failed"),
        h("Đã huỷ", "Cancelled"),
        h("Đã tiêm sau cảnh báo", "Dose recorded since"),
        h("Gia đình nhắn lại", "Family replied"),
    ];
    let rows = communes
        .iter()
        .chain(std::iter::once(total))
        .map(|c| {
            let name = units
                .commune(&c.commune_code)
                .map(|u| u.name.clone())
                .unwrap_or_else(|| h("Tổng", "Total"));
            vec![
                XCell::text(&c.commune_code),
                XCell::text(name),
                XCell::num(c.targeted as f64),
                XCell::num(c.without_contact as f64),
                XCell::num(c.pending as f64),
                XCell::num(c.sent as f64),
                XCell::num(c.delivered as f64),
                XCell::num(c.failed as f64),
                XCell::num(c.cancelled as f64),
                XCell::num(c.dosed as f64),
                XCell::num(c.replied as f64),
            ]
        })
        .collect();
    write_xlsx(&[Sheet {
        name: if lang == Lang::En { "Reach" } else { "Ket qua" }.into(),
        header,
        rows,
    }])
}
