//! The enrolment forecast of the caller's area (or a part of it): a chart and a table per
//! commune, from the same report as `vongdoi report enrolment`. Counts only, never a person.

use super::super::permissions::Permission;
use super::super::problem::Problem;
use super::super::reports::{query_pairs, ReportQuery};
use super::super::ApiState;
use super::{commune_label, error_page, lang_of, param, t, xlsx_href, Page, Staff};
use crate::reports::enrolment::LEVELS;
use crate::reports::output::{bar_chart, Bars, FILLS};
use crate::rules::Lang;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::{context, Value};
use std::sync::Arc;

pub async fn enrolment(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let caller = staff.caller();
    let result = async {
        caller.may(Permission::Enrolment)?;
        let q: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, v)| k != "lang" && !v.trim().is_empty())
            .cloned()
            .collect();
        let rq = ReportQuery::parse(&q, &["years"])?;
        let _slot = api.heavy.begin(&caller.0.name).await?;
        let r = crate::reports::enrolment::build(
            &api.app.store,
            rq.area(&caller)?,
            rq.as_of,
            rq.years,
            None,
        )
        .await
        .map_err(|e| Problem::internal("enrolment page", format!("{e:#}")))?;
        Ok::<_, Problem>((r, xlsx_href("enrolment", &q, lang)))
    }
    .await;
    let (r, xlsx) = match result {
        Ok(r) => r,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let mut communes: Vec<&str> = r.rows.iter().map(|r| r.commune_code.as_str()).collect();
    communes.dedup();
    let years: Vec<i32> = (r.first_year..r.first_year + r.years.max(1) as i32).collect();
    let cats: Vec<String> = years.iter().map(|y| format!("{y}–{}", y + 1)).collect();
    let level_name = |l: &(&'static str, i32, &'static str, &'static str)| -> &'static str {
        match lang {
            Lang::Vi => l.2,
            Lang::En => l.3,
        }
    };
    let sections: Vec<Value> = communes
        .iter()
        .map(|c| {
            let rows: Vec<&crate::reports::enrolment::Row> =
                r.rows.iter().filter(|x| x.commune_code == *c).collect();
            let get = |y: i32, level: &str| {
                rows.iter()
                    .find(|x| x.school_year == y && x.level == level)
                    .map(|x| (x.children, x.projected))
                    .unwrap_or((0, false))
            };
            let series: Vec<Bars> = LEVELS
                .iter()
                .enumerate()
                .map(|(i, l)| Bars {
                    label: level_name(l).to_string(),
                    fill: FILLS[i],
                    values: years
                        .iter()
                        .map(|y| {
                            let (n, p) = get(*y, l.0);
                            (n as f64, p)
                        })
                        .collect(),
                })
                .collect();
            let chart = bar_chart(
                t(
                    lang,
                    "Số trẻ vào lớp theo năm học (gạch chéo: dự báo)",
                    "Children entering by school year (hatched: projected)",
                ),
                &cats,
                &series,
                None,
                "",
            );
            let table: Vec<Value> = years
                .iter()
                .zip(&cats)
                .map(|(y, cat)| {
                    let cells: Vec<String> = LEVELS
                        .iter()
                        .map(|l| {
                            let (n, p) = get(*y, l.0);
                            format!("{n}{}", if p { "*" } else { "" })
                        })
                        .collect();
                    context! { year => cat, cells => cells }
                })
                .collect();
            context! {
                code => c,
                label => commune_label(c),
                // Drawn by the `bar_chart` macro of templates/reports/chart.html.
                chart => Value::from_serialize(&chart),
                rows => table,
            }
        })
        .collect();
    let choices: Vec<Value> = communes
        .iter()
        .map(|c| context! { code => c, label => commune_label(c) })
        .collect();
    let levels: Vec<&str> = LEVELS.iter().map(level_name).collect();
    Page {
        lang,
        title: t(
            lang,
            "Dự báo nhập học theo xã",
            "Enrolment forecast by commune",
        ),
        staff: Some(&staff),
        path: "/staff/enrolment",
    }
    .respond(
        StatusCode::OK,
        asked,
        "enrolment",
        context! {
            communes => choices,
            commune => param(&pairs, "commune").unwrap_or(""),
            years => r.years,
            as_of => r.as_of.to_string(),
            first_year => r.first_year,
            last_year => r.first_year + r.years.max(1) as i32,
            levels => levels,
            sections => sections,
            xlsx => xlsx,
        },
    )
}
