//! The vaccination list of a commune: who is due or overdue for a dose, with the guardian to
//! call, a page of [`PAGE_ROWS`] at a time. Only the rows shown are audited (one batch), and the
//! list is one of the expensive requests ([`crate::api::fair`]).

use super::super::permissions::Permission;
use super::super::problem::Problem;
use super::super::reports::{query_pairs, ReportQuery};
use super::super::ApiState;
use super::{commune_label, error_page, lang_of, param, t, xlsx_href, Page, Staff};
use crate::rules::Lang;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::{context, Value};
use std::sync::Arc;

/// Rows on one page of a staff list: what a nurse reads on a phone, and a bound on what one
/// request shows and audits.
pub const PAGE_ROWS: usize = 50;

pub async fn vaccination(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let caller = staff.caller();
    if let Err(p) = caller.may(Permission::VaccinationList) {
        return error_page(lang, Some(&staff), p);
    }
    let choices = staff.key.scope.commune_codes();
    let commune = param(&pairs, "commune")
        .map(str::to_string)
        .or_else(|| choices.as_ref().and_then(|c| c.first().cloned()));
    let title = t(lang, "Danh sách tiêm chủng", "Vaccination list");
    let here = format!(
        "/staff/vaccination?{}",
        raw.as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.starts_with("lang="))
            .collect::<Vec<_>>()
            .join("&")
    );
    let page = Page {
        lang,
        title,
        staff: Some(&staff),
        path: &here,
    };
    let communes: Option<Vec<Value>> = choices.as_ref().map(|codes| {
        codes
            .iter()
            .map(|c| context! { code => c, label => commune_label(c) })
            .collect()
    });
    let filters = context! {
        communes => communes,
        commune => commune,
        status => param(&pairs, "status").unwrap_or(""),
        due_within => param(&pairs, "due_within").unwrap_or(""),
        as_of_field => param(&pairs, "as_of").unwrap_or(""),
    };
    let Some(commune) = commune else {
        return page.respond(StatusCode::OK, asked, "vaccination", filters);
    };
    let mut q = vec![("commune".to_string(), commune.clone())];
    for k in ["status", "due_within", "as_of"] {
        if let Some(v) = param(&pairs, k) {
            q.push((k.to_string(), v.to_string()));
        }
    }
    let wanted: usize = param(&pairs, "page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let result = async {
        let rq = ReportQuery::parse(&q, &["status", "due_within"])?;
        let area = rq.area(&caller)?;
        let _slot = api.heavy.begin(&caller.0.name).await?;
        let r = crate::reports::vaccination::build(
            api.app.store.clone(),
            &api.app.rules,
            area,
            rq.as_of,
            rq.filter(),
            &caller.0.scope,
        )
        .await
        .map_err(|e| Problem::internal("vaccination page", format!("{e:#}")))?;
        Ok::<_, Problem>((r, rq))
    }
    .await;
    let (mut r, rq) = match result {
        Ok(x) => x,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    // Only the page's rows are shown, so only they are audited (one batch).
    let total = r.rows.len();
    let pages = total.div_ceil(PAGE_ROWS).max(1);
    let current = wanted.min(pages);
    r.rows = r
        .rows
        .drain(..)
        .skip((current - 1) * PAGE_ROWS)
        .take(PAGE_ROWS)
        .collect();
    if let Err(p) = api
        .audit
        .shown(&caller, "page:vaccination", rq.as_of, &r.people_shown())
        .await
    {
        return error_page(lang, Some(&staff), p);
    }
    let rows: Vec<Value> = r
        .rows
        .iter()
        .map(|row| {
            context! {
                personal_id => row.personal_id.to_string(),
                full_name => row.full_name,
                born => row.date_of_birth.to_string(),
                item => match lang { Lang::Vi => &row.item_vi, Lang::En => &row.item_en },
                vaccine => row.vaccine,
                status => row.status.label(lang),
                overdue => row.days_overdue > 0,
                due => row.due.map(|d| d.to_string()).unwrap_or_default(),
                days_overdue => row.days_overdue.max(0),
                guardian => row.guardian_name,
                phone => row.guardian_phone,
            }
        })
        .collect();
    let pager_query: String = raw
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("lang=") && !p.starts_with("page="))
        .map(|p| format!("{p}&"))
        .collect();
    page.respond(
        StatusCode::OK,
        asked,
        "vaccination",
        context! {
            list => context! {
                xlsx => xlsx_href("vaccination", &q, lang),
                commune_label => commune_label(&commune),
                as_of => rq.as_of.to_string(),
                total => total,
                rows => rows,
            },
            page => current,
            pages => pages,
            pager_path => "/staff/vaccination",
            pager_query => pager_query,
            ..filters
        },
    )
}
