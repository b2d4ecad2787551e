//! The enrolment forecast of the caller's area (or a part of it): per commune a chart of the
//! children entering, with the school places drawn as a line over the bars, a table of the
//! children, and one of children against places (and the gap) per school year; from the same
//! report as `vongdoi report enrolment`. Counts only, never a person.
//!
//! Education staff (and admins) upload school places here, a CSV or xlsx file in a multipart
//! form (`POST /staff/enrolment/places`, see [`crate::reports::places`]): the page comes back
//! with what was stored and the bad rows at their line and field.

use super::super::permissions::Permission;
use super::super::places::store_upload;
use super::super::problem::Problem;
use super::super::reports::{query_pairs, ReportQuery};
use super::super::ApiState;
use super::{commune_label, error_page, lang_of, param, t, xlsx_href, Page, Staff};
use crate::exchange::table::RowProblem;
use crate::reports::enrolment::{
    school_year_name, school_years_span, Capacity, PlacesSource, Row, LEVELS,
};
use crate::reports::output::{bar_chart_with_lines, Bars, Line, FILLS};
use crate::rules::Lang;
use crate::store::schools::SchoolPlaceRow;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::{context, Value};
use std::sync::Arc;

/// A row of [`LEVELS`]: code, years after birth, Vietnamese, English.
type Level = (&'static str, i32, &'static str, &'static str);

pub async fn enrolment(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    render(&api, &staff, lang, asked, &pairs, None, StatusCode::OK).await
}

/// `POST /staff/enrolment/places`: a multipart form with `csrf` and `file`.
pub async fn upload_places(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let (lang, _) = lang_of(&headers, &[]);
    let caller = staff.caller();
    if let Err(p) = caller.may(Permission::UploadPlaces) {
        return error_page(lang, Some(&staff), p);
    }
    let choose = "chọn một tệp CSV hoặc xlsx / choose a CSV or xlsx file";
    let (csrf, file) = match read_form(form, crate::reports::places::MAX_FILE_BYTES, choose).await {
        Ok(x) => x,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    if let Err(p) = staff.check_csrf(&csrf) {
        return error_page(lang, Some(&staff), p);
    }
    let (status, outcome) = match store_upload(&api, &caller, &file).await {
        Ok(up) => (
            StatusCode::OK,
            context! {
                stored => up.stored,
                communes => up.communes.iter().map(|c| commune_label(c)).collect::<Vec<_>>(),
                errors => problems(&up.problems),
            },
        ),
        Err((p, rows)) => (
            p.status,
            context! {
                stored => 0,
                failed => p.detail,
                errors => refusal(&p, &rows),
            },
        ),
    };
    render(&api, &staff, lang, None, &[], Some(outcome), status).await
}

/// An upload's bad rows as the page lists them (the places and facilities pages alike).
pub(super) fn problems(rows: &[RowProblem]) -> Vec<Value> {
    rows.iter()
        .map(|p| context! { line => p.line, field => p.field, reason => p.reason })
        .collect()
}

/// What the page lists for an upload refused: the rows' problems, or else the problem's own
/// fields (the file as a whole), at no line.
pub(super) fn refusal(p: &Problem, rows: &[RowProblem]) -> Vec<Value> {
    if rows.is_empty() {
        p.errors
            .iter()
            .map(|e| context! { line => "", field => e.field, reason => e.reason })
            .collect()
    } else {
        problems(rows)
    }
}

/// The token and file of an upload form (files up to `max` bytes; `choose` says which when
/// none was chosen). The facilities page's upload reads its form with it too.
pub(super) async fn read_form(
    form: Result<Multipart, MultipartRejection>,
    max: usize,
    choose: &'static str,
) -> Result<(String, Vec<u8>), Problem> {
    let unreadable = |e: &dyn std::fmt::Display| {
        Problem::bad_request(format!(
            "không đọc được biểu mẫu tải lên (tệp tối đa {} MiB) / cannot read the upload form (files up to {} MiB): {e}",
            max >> 20,
            max >> 20
        ))
    };
    let mut form = form.map_err(|e| unreadable(&e))?;
    let (mut csrf, mut file) = (String::new(), None);
    while let Some(field) = form.next_field().await.map_err(|e| unreadable(&e))? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(|e| unreadable(&e))?,
            Some("file") => file = Some(field.bytes().await.map_err(|e| unreadable(&e))?),
            _ => {}
        }
    }
    let file = file
        .filter(|f| !f.is_empty())
        .ok_or_else(|| Problem::field("file", choose))?;
    Ok((csrf, file.to_vec()))
}

/// The page, with the outcome of an upload when there was one.
async fn render(
    api: &ApiState,
    staff: &Staff,
    lang: Lang,
    asked: Option<Lang>,
    pairs: &[(String, String)],
    upload: Option<Value>,
    status: StatusCode,
) -> Response {
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
        let area = rq.area(&caller)?;
        let stored = api.app.store.school_places(area.communes()).await?;
        let capacity = Capacity::from_stored(&stored);
        let places = (!capacity.is_empty()).then_some((PlacesSource::Stored, capacity));
        let r = crate::reports::enrolment::build(&api.app.store, area, rq.as_of, rq.years, places)
            .await
            .map_err(|e| Problem::internal("enrolment page", format!("{e:#}")))?;
        Ok::<_, Problem>((r, stored, xlsx_href("enrolment", &q, lang)))
    }
    .await;
    let (r, stored, xlsx) = match result {
        Ok(r) => r,
        Err(p) => return error_page(lang, Some(staff), p),
    };
    let mut communes: Vec<&str> = r.rows.iter().map(|r| r.commune_code.as_str()).collect();
    communes.dedup();
    let years: Vec<i32> = (r.first_year..r.first_year + r.years.max(1) as i32).collect();
    let cats: Vec<String> = years.iter().map(|y| school_year_name(*y)).collect();
    let level_name = |l: &Level| -> &'static str {
        match lang {
            Lang::Vi => l.2,
            Lang::En => l.3,
        }
    };
    let sections: Vec<Value> = communes
        .iter()
        .map(|c| section(c, &r.rows, &stored, &years, &cats, lang, &level_name))
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
        staff: Some(staff),
        path: "/staff/enrolment",
    }
    .respond(
        status,
        asked,
        "enrolment",
        context! {
            communes => choices,
            commune => param(pairs, "commune").unwrap_or(""),
            years => r.years,
            as_of => r.as_of.to_string(),
            school_years => school_years_span(r.first_year, r.years, lang),
            levels => levels,
            sections => sections,
            xlsx => xlsx,
            may_upload => Permission::UploadPlaces.allows(staff.key.role),
            upload => upload,
        },
    )
}

/// One commune's part of the page: chart (places as lines), children, places against children.
#[allow(clippy::too_many_arguments)]
fn section(
    c: &str,
    all: &[Row],
    stored: &[SchoolPlaceRow],
    years: &[i32],
    cats: &[String],
    lang: Lang,
    level_name: &dyn Fn(&Level) -> &'static str,
) -> Value {
    let rows: Vec<&Row> = all.iter().filter(|x| x.commune_code == c).collect();
    let get = |y: i32, level: &str| rows.iter().find(|x| x.school_year == y && x.level == level);
    let series: Vec<Bars> = LEVELS
        .iter()
        .enumerate()
        .map(|(i, l)| Bars {
            label: level_name(l).to_string(),
            fill: FILLS[i],
            values: years
                .iter()
                .map(|y| {
                    get(*y, l.0)
                        .map(|x| (x.children as f64, x.projected))
                        .unwrap_or((0.0, false))
                })
                .collect(),
        })
        .collect();
    let lines: Vec<Line> = LEVELS
        .iter()
        .enumerate()
        .map(|(i, l)| Line {
            label: t(lang, "Số chỗ học", "School places").to_string(),
            over: i,
            values: years
                .iter()
                .map(|y| get(*y, l.0).and_then(|x| x.capacity).map(|n| n as f64))
                .collect(),
        })
        .filter(|l| l.values.iter().any(Option::is_some))
        .collect();
    let chart = bar_chart_with_lines(
        if lines.is_empty() {
            t(
                lang,
                "Số trẻ vào lớp theo năm học (gạch chéo: dự báo)",
                "Children entering by school year (hatched: projected)",
            )
        } else {
            t(
                lang,
                "Số trẻ vào lớp theo năm học (gạch chéo: dự báo); đường đỏ: số chỗ học",
                "Children entering by school year (hatched: projected); red line: school places",
            )
        },
        cats,
        &series,
        &lines,
        None,
        "",
    );
    let star = |x: &Row| format!("{}{}", x.children, if x.projected { "*" } else { "" });
    let table: Vec<Value> = years
        .iter()
        .zip(cats)
        .map(|(y, cat)| {
            let cells: Vec<String> = LEVELS
                .iter()
                .map(|l| get(*y, l.0).map(|x| star(x)).unwrap_or_else(|| "0".into()))
                .collect();
            context! { year => cat, cells => cells }
        })
        .collect();
    let against: Vec<Value> = years
        .iter()
        .zip(cats)
        .flat_map(|(y, cat)| {
            LEVELS.iter().filter_map(move |l| {
                let x = get(*y, l.0)?;
                let places = x.capacity?;
                Some(context! {
                    id => format!("places-{c}-{}-{y}", l.0),
                    year => cat,
                    level => level_name(l),
                    children => star(x),
                    places => places,
                    gap => x.gap.map(|g| if g > 0 { format!("+{g}") } else { g.to_string() }),
                    short => x.gap.is_some_and(|g| g < 0),
                })
            })
        })
        .collect();
    let schools: Vec<Value> = stored
        .iter()
        .filter(|s| s.commune_code == c)
        .map(|s| {
            context! {
                school => if s.school.is_empty() { t(lang, "(không tên)", "(unnamed)").to_string() } else { s.school.clone() },
                level => LEVELS.iter().find(|l| l.0 == s.level).map(level_name).unwrap_or(&s.level),
                year => s.school_year.map(school_year_name).unwrap_or_else(|| t(lang, "mọi năm", "every year").to_string()),
                places => s.places,
                by => s.uploaded_by,
                at => s.uploaded_at.with_timezone(&crate::clock::vietnam()).format("%d/%m/%Y %H:%M").to_string(),
            }
        })
        .collect();
    context! {
        code => c,
        label => commune_label(c),
        // Drawn by the `bar_chart` macro of templates/reports/chart.html.
        chart => Value::from_serialize(&chart),
        rows => table,
        against => against,
        schools => schools,
    }
}
