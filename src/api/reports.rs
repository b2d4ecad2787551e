//! `/api/reports/{kind}`: the CLI's `vongdoi report …` over HTTP, with its options as query
//! parameters (`province` and `commune` repeatable), limited to the key's area: a report that
//! asks for nothing gets the key's whole area; one that asks outside it gets 403. Lists that
//! name people (vaccination, ID cards) leave an audit row per person listed.

use super::auth::Caller;
use super::citizens::parse_date_field;
use super::permissions::Permission;
use super::problem::{ApiResult, Problem};
use super::ApiState;
use crate::registry::{AdminUnits, CommuneCode};
use crate::reports::{self, coverage::CohortBy, Area, ItemFilter};
use crate::rules::{Lang, Status};
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use std::collections::BTreeSet;
use std::sync::Arc;

/// `a=1&b=2&a=3` → pairs, percent- and plus-decoded.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(v) => {
                            out.push(v);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The report options, parsed and checked.
pub struct ReportQuery {
    pub provinces: Vec<String>,
    pub communes: Vec<String>,
    pub as_of: NaiveDate,
    pub format: String,
    pub lang: Lang,
    pub statuses: Vec<Status>,
    pub due_within: Option<u32>,
    pub years: u32,
    pub cohort: CohortBy,
    pub cohorts: Option<u32>,
    pub explain: bool,
    /// `by=child`: the vaccination list one entry per child (the worklist).
    pub by_child: bool,
}

impl ReportQuery {
    pub fn parse(pairs: &[(String, String)], allowed: &[&str]) -> ApiResult<ReportQuery> {
        let mut q = ReportQuery {
            provinces: Vec::new(),
            communes: Vec::new(),
            as_of: crate::clock::today_in_vietnam(),
            format: "json".into(),
            lang: Lang::Vi,
            statuses: Vec::new(),
            due_within: None,
            years: 6,
            cohort: CohortBy::Year,
            cohorts: None,
            explain: false,
            by_child: false,
        };
        let units = AdminUnits::get();
        let number = |k: &str, v: &str, max: u32| -> ApiResult<u32> {
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| {
                    Problem::field(k, format!("cần số nguyên 0–{max} / a whole number 0–{max}"))
                })
        };
        for (k, v) in pairs {
            if !allowed.contains(&k.as_str())
                && !["province", "commune", "as_of", "format", "lang"].contains(&k.as_str())
            {
                return Err(Problem::field(
                    k,
                    "tham số không dùng cho báo cáo này / not a parameter of this report",
                ));
            }
            for v in v.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                match k.as_str() {
                    "province" => {
                        let code = if v.len() == 1 {
                            format!("0{v}")
                        } else {
                            v.to_string()
                        };
                        if units.province(&code).is_none() {
                            return Err(Problem::field("province", format!("mã tỉnh '{v}' không tồn tại / province code '{v}' does not exist")));
                        }
                        q.provinces.push(code);
                    }
                    "commune" => {
                        let c = CommuneCode::parse(v).map_err(|e| Problem::field("commune", e))?;
                        q.communes.push(c.as_str().to_string());
                    }
                    "as_of" => q.as_of = parse_date_field("as_of", v)?,
                    "format" => {
                        if !["json", "csv", "xlsx", "html"].contains(&v) {
                            return Err(Problem::field("format", "json, csv, xlsx hoặc/or html"));
                        }
                        q.format = v.to_string();
                    }
                    "lang" => {
                        q.lang = match v {
                            "vi" => Lang::Vi,
                            "en" => Lang::En,
                            _ => return Err(Problem::field("lang", "vi hoặc/or en")),
                        }
                    }
                    "status" => q.statuses.push(match v {
                        "due" => Status::Due,
                        "overdue" => Status::Overdue,
                        _ => return Err(Problem::field("status", "due hoặc/or overdue")),
                    }),
                    "due_within" => q.due_within = Some(number(k, v, 3660)?),
                    "years" => q.years = number(k, v, 20)?.max(1),
                    "cohorts" => q.cohorts = Some(number(k, v, 240)?.max(1)),
                    "cohort" => {
                        q.cohort = match v {
                            "year" => CohortBy::Year,
                            "month" => CohortBy::Month,
                            _ => return Err(Problem::field("cohort", "year hoặc/or month")),
                        }
                    }
                    "explain" => q.explain = matches!(v, "true" | "1" | "yes"),
                    "by" => {
                        q.by_child = match v {
                            "dose" => false,
                            "child" => true,
                            _ => return Err(Problem::field("by", "dose | child")),
                        }
                    }
                    _ => unreachable!("checked above"),
                }
            }
        }
        Ok(q)
    }

    pub fn filter(&self) -> ItemFilter {
        let mut statuses = self.statuses.clone();
        if statuses.is_empty() {
            statuses = vec![Status::Due, Status::Overdue];
        }
        statuses.dedup();
        ItemFilter {
            statuses,
            due_within: self.due_within,
        }
    }

    /// The report's area within the key's: asked for and allowed, or the key's own area.
    pub fn area(&self, caller: &Caller) -> ApiResult<Area> {
        let scope = &caller.0.scope;
        let resolve = |p: &[String], c: &[String]| {
            Area::resolve(p, c).map_err(|e| Problem::field("commune", e.to_string()))
        };
        if scope.everywhere() {
            return resolve(&self.provinces, &self.communes);
        }
        if self.provinces.is_empty() && self.communes.is_empty() {
            let p: Vec<String> = scope.provinces.iter().cloned().collect();
            let c: Vec<String> = scope.communes.iter().cloned().collect();
            return resolve(&p, &c);
        }
        let outside: BTreeSet<&String> = self
            .provinces
            .iter()
            .filter(|p| !scope.contains_province(p))
            .chain(self.communes.iter().filter(|c| !scope.contains_commune(c)))
            .collect();
        if !outside.is_empty() {
            return Err(Problem::forbidden(format!(
                "ngoài địa bàn của khóa ({}): {} / outside the key's area",
                scope.describe(),
                outside.into_iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        resolve(&self.provinces, &self.communes)
    }
}

/// The xlsx media type.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The forms of a report (see [`render`]).
pub struct Forms<C, X, J, H> {
    pub csv: C,
    pub xlsx: X,
    pub json: J,
    pub html: H,
}

/// One of the forms of a report, as `format=` asks.
pub fn render<C, X, J, H>(
    q: &ReportQuery,
    name: &str,
    forms: Forms<C, X, J, H>,
) -> ApiResult<Response>
where
    C: FnOnce(&mut Vec<u8>, Lang) -> anyhow::Result<()>,
    X: FnOnce(Lang) -> anyhow::Result<Vec<u8>>,
    J: FnOnce(Lang) -> serde_json::Value,
    H: FnOnce(Lang) -> anyhow::Result<String>,
{
    let Forms {
        csv,
        xlsx,
        json,
        html,
    } = forms;
    Ok(match q.format.as_str() {
        "xlsx" => {
            let out = xlsx(q.lang).map_err(|e| Problem::internal("report xlsx", e))?;
            (
                [
                    (header::CONTENT_TYPE, XLSX.to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}-{}.xlsx\"", q.as_of),
                    ),
                ],
                out,
            )
                .into_response()
        }
        "csv" => {
            let mut out = Vec::new();
            csv(&mut out, q.lang).map_err(|e| Problem::internal("report csv", e))?;
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}-{}.csv\"", q.as_of),
                    ),
                ],
                out,
            )
                .into_response()
        }
        "html" => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html(q.lang).map_err(|e| Problem::internal("report html", e))?,
        )
            .into_response(),
        _ => axum::Json(json(q.lang)).into_response(),
    })
}

fn failed(e: anyhow::Error) -> Problem {
    Problem::internal("report", format!("{e:#}"))
}

/// The reports and who may read each: the handler checks this table, and `/openapi.json`
/// documents it (`x-roles-by-kind`).
pub const KINDS: &[(&str, Permission)] = &[
    ("vaccination", Permission::VaccinationList),
    ("id-cards", Permission::IdCardList),
    ("enrolment", Permission::Enrolment),
    ("coverage", Permission::Coverage),
];

pub async fn report(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    axum::extract::Path(kind): axum::extract::Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = query_pairs(raw.as_deref());
    let store = api.app.store.clone();
    let rules = &api.app.rules;
    let no_such = || {
        Problem::not_found(
            "không có báo cáo này; dùng vaccination, coverage, enrolment hoặc id-cards / no such report: vaccination, coverage, enrolment or id-cards",
        )
    };
    let (_, permission) = KINDS.iter().find(|(k, _)| *k == kind).ok_or_else(no_such)?;
    caller.may(*permission)?;
    // A report reads a whole area: one at a time per key, a bounded number in all.
    let _slot = api.heavy.begin(&caller.0.name).await?;
    match kind.as_str() {
        "vaccination" => {
            let q = ReportQuery::parse(&pairs, &["status", "due_within", "by"])?;
            let r = reports::vaccination::build(
                store,
                rules,
                q.area(&caller)?,
                q.as_of,
                q.filter(),
                &caller.0.scope,
            )
            .await
            .map_err(failed)?;
            api.audit
                .shown(&caller, "report:vaccination", q.as_of, &r.people_shown())
                .await?;
            if q.by_child {
                use reports::worklist;
                let children = worklist::by_child(&r);
                let notes = worklist::Annotations::default();
                return render(
                    &q,
                    "vaccination-by-child",
                    Forms {
                        csv: |w: &mut Vec<u8>, l| worklist::write_csv(&children, w, l),
                        xlsx: |l| worklist::to_xlsx(&children, r.as_of, l),
                        json: |l| worklist::to_json(&r, &children, l),
                        html: |l| worklist::to_html(&r, &children, l, &notes),
                    },
                );
            }
            render(
                &q,
                "vaccination",
                Forms {
                    csv: |w: &mut Vec<u8>, l| r.write_csv(w, l),
                    xlsx: |l| r.to_xlsx(l),
                    json: |l| r.to_json(l),
                    html: |l| r.to_html(l),
                },
            )
        }
        "id-cards" => {
            let q = ReportQuery::parse(&pairs, &["status", "due_within"])?;
            let r = reports::id_cards::build(
                store,
                rules,
                q.area(&caller)?,
                q.as_of,
                q.filter(),
                &caller.0.scope,
            )
            .await
            .map_err(failed)?;
            api.audit
                .shown(&caller, "report:id-cards", q.as_of, &r.people_shown())
                .await?;
            render(
                &q,
                "id-cards",
                Forms {
                    csv: |w: &mut Vec<u8>, l| r.write_csv(w, l),
                    xlsx: |l| r.to_xlsx(l),
                    json: |l| r.to_json(l),
                    html: |l| r.to_html(l),
                },
            )
        }
        "enrolment" => {
            let q = ReportQuery::parse(&pairs, &["years"])?;
            let area = q.area(&caller)?;
            let places = reports::enrolment::stored_places(&store, &area)
                .await
                .map_err(failed)?;
            let r = reports::enrolment::build(&store, area, q.as_of, q.years, places)
                .await
                .map_err(failed)?;
            render(
                &q,
                "enrolment",
                Forms {
                    csv: |w: &mut Vec<u8>, l| r.write_csv(w, l),
                    xlsx: |l| r.to_xlsx(l),
                    json: |l| r.to_json(l),
                    html: |l| r.to_html(l),
                },
            )
        }
        "coverage" => {
            let q = ReportQuery::parse(&pairs, &["cohort", "cohorts", "explain"])?;
            if q.explain {
                // The explanation lists each child counted: a health matter.
                caller.may(Permission::CoverageExplain)?;
            }
            let default = match q.cohort {
                CohortBy::Year => 3,
                CohortBy::Month => 12,
            };
            let r = reports::coverage::build(
                store,
                rules,
                q.area(&caller)?,
                q.as_of,
                q.cohort,
                q.cohorts.unwrap_or(default),
                q.explain,
            )
            .await
            .map_err(failed)?;
            if q.explain {
                // Each child counted is shown (masked ID, date of birth): audited like a list.
                let counted: Vec<(crate::registry::PersonalId, &'static str)> = r
                    .cells
                    .values()
                    .flat_map(|c| c.counted.iter().map(|k| (k.pin, "counted")))
                    .collect();
                api.audit
                    .shown(&caller, "report:coverage", q.as_of, &counted)
                    .await?;
            }
            render(
                &q,
                "coverage",
                Forms {
                    csv: |w: &mut Vec<u8>, l| r.write_csv(w, l),
                    xlsx: |l| r.to_xlsx(l),
                    json: |l| r.to_json(l),
                    html: |l| r.to_html(l),
                },
            )
        }
        _ => Err(no_such()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_decode_and_repeat() {
        let p = query_pairs(Some(
            "commune=00004&commune=00008&as_of=2026-01-02&x=a%20b+c&y=%zz",
        ));
        assert_eq!(p[0], ("commune".into(), "00004".into()));
        assert_eq!(p[1], ("commune".into(), "00008".into()));
        assert_eq!(p[3], ("x".into(), "a b c".into()));
        assert_eq!(p[4], ("y".into(), "%zz".into()));
        assert!(query_pairs(None).is_empty());
    }
}
