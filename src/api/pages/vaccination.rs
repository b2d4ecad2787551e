//! The nurse's worklist of a commune: one card per child with every dose that child is due or
//! overdue for ([`crate::reports::worklist`]), this week's calls apart from the follow-up list,
//! ordered by due date; filters by age, vaccine, status and the session day; a search by name,
//! personal ID or phone; [`PAGE_ROWS`] children a page; the outcome of each call recorded
//! from the card; a print view of the session list. Only the children shown are audited, and
//! the list is one of the expensive requests ([`crate::api::fair`]).

use super::super::citizens::citizen_in_area;
use super::super::permissions::Permission;
use super::super::problem::Problem;
use super::super::reports::{query_pairs, ReportQuery};
use super::super::ApiState;
use super::session::safe_next;
use super::{commune_label, error_page, lang_of, param, t, urlencode, xlsx_href, Page, Staff};
use crate::reports::worklist::{self, Annotations, Child, ListKind};
use crate::rules::{Lang, Status};
use crate::store::outcomes::OutcomeRow;
use crate::store::CallOutcome;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{NaiveDate, Utc};
use minijinja::{context, Value};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Children on one page of the list: what a nurse reads on a phone, and a bound on what one
/// request shows and audits.
pub const PAGE_ROWS: usize = 50;
/// The most children one printed session list holds (a 33,000-resident commune has about 400
/// on this week's list; the bound keeps one request's audit batch finite).
pub const PRINT_ROWS: usize = 2000;

/// Age bands of the filter: (code, from month, to month exclusive, Vietnamese, English).
const AGE_BANDS: [(&str, u32, u32, &str, &str); 4] = [
    ("0-11m", 0, 12, "Dưới 1 tuổi", "Under 1"),
    ("12-23m", 12, 24, "1 tuổi", "1 year"),
    ("2-5y", 24, 72, "2–5 tuổi", "2–5 years"),
    ("6y+", 72, u32::MAX, "Từ 6 tuổi", "6 and over"),
];

/// What the nurse asked to see.
struct Wanted<'a> {
    list: ListKind,
    status: Option<Status>,
    series: Option<&'a str>,
    village: Option<&'a str>,
    age: Option<(u32, u32)>,
    search: Option<String>,
}

impl Wanted<'_> {
    fn keeps(&self, c: &Child, as_of: NaiveDate) -> bool {
        if c.list != self.list {
            return false;
        }
        if let Some(s) = self.status {
            if !c.doses.iter().any(|d| d.status == s) {
                return false;
            }
        }
        if let Some(series) = self.series {
            if !c.doses.iter().any(|d| d.series == series) {
                return false;
            }
        }
        if let Some(v) = self.village {
            if c.village.as_deref() != Some(v) {
                return false;
            }
        }
        if let Some((from, to)) = self.age {
            let m = c.age_months(as_of);
            if m < from || m >= to {
                return false;
            }
        }
        match &self.search {
            Some(q) => matches_search(c, q),
            None => true,
        }
    }
}

/// Folded for searching: no diacritics, lower case, single spaces ("Nguyễn  Thị" → "nguyen thi").
fn fold(s: &str) -> String {
    crate::text::unaccent(s)
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A name (folded, any part), the personal ID, or the phone (0912 345 678 or +84912345678)
/// of the child or the guardian beside them.
fn matches_search(c: &Child, q: &str) -> bool {
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 3 && digits.len() * 2 >= q.chars().filter(|c| !c.is_whitespace()).count() {
        let national = digits.trim_start_matches("84").trim_start_matches('0');
        return c.personal_id.as_str().contains(&digits)
            || c.guardian_phone
                .as_deref()
                .is_some_and(|p| !national.is_empty() && p.contains(national));
    }
    let q = fold(q);
    fold(&c.full_name).contains(&q)
        || c.guardian_name
            .as_deref()
            .is_some_and(|g| fold(g).contains(&q))
}

/// The series' name without its dose ("Bạch hầu, ho gà, uốn ván – mũi 2" → "Bạch hầu, ho gà, uốn ván").
fn series_label(item: &str) -> &str {
    item.split(" – ").next().unwrap_or(item)
}

fn outcome_text(o: &OutcomeRow, lang: Lang) -> String {
    let label = match lang {
        Lang::Vi => o.outcome.label_vi(),
        Lang::En => o.outcome.label_en(),
    };
    let mut text = label.to_string();
    if let Some(d) = o.appointment {
        text.push(' ');
        text.push_str(&crate::clock::vn_date(d));
    }
    if !o.note.is_empty() {
        text.push_str(" — ");
        text.push_str(&o.note);
    }
    let when = crate::clock::day_in_vietnam(o.recorded_at);
    format!(
        "{text} ({}, {})",
        crate::clock::vn_date(when),
        o.recorded_by
    )
}

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
    let query_without = |skip: &[&str]| -> String {
        raw.as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty() && !skip.iter().any(|s| p.starts_with(&format!("{s}="))))
            .map(|p| format!("{p}&"))
            .collect()
    };
    let here = format!("/staff/vaccination?{}", query_without(&["lang"]));
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
    let list = param(&pairs, "list")
        .and_then(ListKind::parse)
        .unwrap_or(ListKind::Routine);
    let ages: Vec<Value> = AGE_BANDS
        .iter()
        .map(|(code, _, _, vi, en)| context! { code => code, label => t(lang, vi, en) })
        .collect();
    let filters = context! {
        communes => communes,
        commune => commune,
        list => list.as_str(),
        status => param(&pairs, "status").unwrap_or(""),
        series => param(&pairs, "series").unwrap_or(""),
        village => param(&pairs, "village").unwrap_or(""),
        age => param(&pairs, "age").unwrap_or(""),
        ages => ages,
        session => param(&pairs, "session").unwrap_or(""),
        search => param(&pairs, "q").unwrap_or(""),
        as_of_field => param(&pairs, "as_of").unwrap_or(""),
    };
    let Some(commune) = commune else {
        return page.respond(StatusCode::OK, asked, "vaccination", filters);
    };
    let result = async {
        let mut q = vec![("commune".to_string(), commune.clone())];
        if let Some(v) = param(&pairs, "as_of") {
            q.push(("as_of".into(), v.into()));
        }
        let rq = ReportQuery::parse(&q, &[])?;
        // "Due by the session day": doses coming due by then are called now too.
        let session = match param(&pairs, "session") {
            None => None,
            Some(s) => Some(
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .filter(|d| *d >= rq.as_of && (*d - rq.as_of).num_days() <= 365)
                    .ok_or_else(|| Problem::field("session", "ngày buổi tiêm trong 365 ngày tới (YYYY-MM-DD) / a session day within the next 365 days"))?,
            ),
        };
        let status = match param(&pairs, "status") {
            None => None,
            Some("due") => Some(Status::Due),
            Some("overdue") => Some(Status::Overdue),
            Some(_) => return Err(Problem::field("status", "due | overdue")),
        };
        let age = match param(&pairs, "age") {
            None => None,
            Some(a) => Some(
                AGE_BANDS
                    .iter()
                    .find(|b| b.0 == a)
                    .map(|b| (b.1, b.2))
                    .ok_or_else(|| Problem::field("age", "0-11m | 12-23m | 2-5y | 6y+"))?,
            ),
        };
        let mut filter = rq.filter();
        filter.due_within = session.map(|d| (d - rq.as_of).num_days() as u32);
        let area = rq.area(&caller)?;
        let _slot = api.heavy.begin(&caller.0.name).await?;
        let report = crate::reports::vaccination::build(
            api.app.store.clone(),
            &api.app.rules,
            area,
            rq.as_of,
            filter,
            &caller.0.scope,
        )
        .await
        .map_err(|e| Problem::internal("vaccination page", format!("{e:#}")))?;
        let wanted = Wanted {
            list,
            status,
            series: param(&pairs, "series"),
            village: param(&pairs, "village"),
            age,
            search: param(&pairs, "q").map(str::to_string),
        };
        Ok::<_, Problem>((report, wanted, rq))
    }
    .await;
    let (report, wanted, rq) = match result {
        Ok(x) => x,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let all = worklist::by_child(&report);
    let counts =
        [ListKind::Routine, ListKind::FollowUp].map(|l| all.iter().filter(|c| c.list == l).count());
    // The vaccines on offer in the filter: those the commune's children are due for.
    let series: BTreeMap<String, String> = all
        .iter()
        .flat_map(|c| c.doses.iter())
        .map(|d| {
            let name = match lang {
                Lang::Vi => &d.item_vi,
                Lang::En => &d.item_en,
            };
            (d.series.clone(), series_label(name).to_string())
        })
        .collect();
    let villages: std::collections::BTreeSet<String> =
        all.iter().filter_map(|c| c.village.clone()).collect();
    let matching: Vec<Child> = all
        .into_iter()
        .filter(|c| wanted.keeps(c, report.as_of))
        .collect();
    let total = matching.len();
    let printing = param(&pairs, "print").is_some();
    let (shown, current, pages) = if printing {
        (
            matching.into_iter().take(PRINT_ROWS).collect::<Vec<_>>(),
            1,
            1,
        )
    } else {
        let pages = total.div_ceil(PAGE_ROWS).max(1);
        let current = param(&pairs, "page")
            .and_then(|p| p.parse().ok())
            .filter(|p: &usize| *p >= 1)
            .unwrap_or(1)
            .min(pages);
        let shown = matching
            .into_iter()
            .skip((current - 1) * PAGE_ROWS)
            .take(PAGE_ROWS)
            .collect();
        (shown, current, pages)
    };
    // Only the children shown (and the guardians beside them) are audited, in one batch.
    if let Err(p) = api
        .audit
        .shown(
            &caller,
            "page:vaccination",
            rq.as_of,
            &worklist::people_shown(&shown),
        )
        .await
    {
        return error_page(lang, Some(&staff), p);
    }
    let ids: Vec<String> = shown.iter().map(|c| c.personal_id.to_string()).collect();
    let outcomes: HashMap<String, OutcomeRow> = match api.app.store.latest_call_outcomes(&ids).await
    {
        Ok(rows) => rows
            .into_iter()
            .map(|o| (o.personal_id.clone(), o))
            .collect(),
        Err(e) => return error_page(lang, Some(&staff), e.into()),
    };
    let back = format!("/staff/vaccination?{}", query_without(&["lang", "print"]));
    if printing {
        let notes = Annotations {
            back: Some(back),
            outcomes: shown
                .iter()
                .filter_map(|c| {
                    outcomes
                        .get(c.personal_id.as_str())
                        .map(|o| (c.personal_id, outcome_text(o, lang)))
                })
                .collect(),
        };
        return match worklist::to_html(&report, &shown, lang, &notes) {
            Ok(html) => Html(html).into_response(),
            Err(e) => error_page(
                lang,
                Some(&staff),
                Problem::internal("session list", format!("{e:#}")),
            ),
        };
    }
    let as_of = report.as_of;
    let cards: Vec<Value> = shown
        .iter()
        .map(|c| {
            let doses: Vec<Value> = c
                .doses
                .iter()
                .map(|d| {
                    let overdue = d.status == Status::Overdue;
                    context! {
                        name => match lang { Lang::Vi => &d.item_vi, Lang::En => &d.item_en },
                        status => d.status.label(lang),
                        overdue => overdue,
                        due => d.due.map(crate::clock::vn_date),
                        overdue_for => d.overdue.filter(|_| overdue).map(|o| worklist::elapsed_words(o, as_of, lang)),
                    }
                })
                .collect();
            context! {
                personal_id => c.personal_id.to_string(),
                full_name => c.full_name,
                born => crate::clock::vn_date(c.date_of_birth),
                age => worklist::elapsed_words(c.date_of_birth, as_of, lang),
                sex => worklist::sex_for_people(c.sex, lang),
                village => c.village,
                guardian => c.guardian_name,
                phone => c.guardian_phone.as_deref().map(worklist::phone_for_people),
                tel => c.guardian_phone,
                outcome => outcomes.get(c.personal_id.as_str()).map(|o| outcome_text(o, lang)),
                doses => doses,
            }
        })
        .collect();
    let outcome_choices: Vec<Value> = CallOutcome::ALL
        .iter()
        .map(|o| context! { code => o.as_str(), label => match lang { Lang::Vi => o.label_vi(), Lang::En => o.label_en() } })
        .collect();
    let series: Vec<Value> = series
        .into_iter()
        .map(|(code, label)| context! { code => code, label => label })
        .collect();
    let tabs: Vec<Value> = [ListKind::Routine, ListKind::FollowUp]
        .iter()
        .zip(counts)
        .map(|(l, n)| {
            context! {
                href => format!("/staff/vaccination?{}list={}", query_without(&["lang", "list", "page", "print"]), l.as_str()),
                label => worklist::list_label(*l, lang), count => n, current => *l == list,
            }
        })
        .collect();
    let download: Vec<(String, String)> = vec![
        ("commune".into(), commune.clone()),
        ("by".into(), "child".into()),
        ("as_of".into(), as_of.to_string()),
    ];
    // Remembered for the menu's link: the filters, never the search words (they may be a name).
    let remembered = query_without(&["lang", "page", "print", "q"]);
    let remembered = remembered.trim_end_matches('&');
    // Doses families reported by SMS (issue #16) wait for this nurse: a count and a link.
    let reported = (api.app.store)
        .reported_doses(
            Some(std::slice::from_ref(&commune)),
            crate::store::inbound::ReportStatus::Pending,
            500,
        )
        .await
        .map_or(0, |r| r.len());
    let mut res = page.respond(
        StatusCode::OK,
        asked,
        "vaccination",
        context! {
            reported => reported,
            list_view => context! {
                xlsx => xlsx_href("vaccination", &download, lang),
                print => format!("/staff/vaccination?{}print=1", query_without(&["lang", "print", "page"])),
                commune_label => commune_label(&commune),
                as_of => crate::clock::vn_date(as_of),
                total => total,
                cards => cards,
                tabs => tabs,
            },
            series_choices => series,
            villages => villages,
            outcomes => outcome_choices,
            csrf => staff.csrf(),
            back => back,
            page => current,
            pages => pages,
            pager_path => "/staff/vaccination",
            pager_query => query_without(&["lang", "page", "print"]),
            ..filters
        },
    );
    if super::cookie_safe_query(remembered) {
        let v = format!(
            "{}={remembered}; Path=/staff; HttpOnly; SameSite=Strict; Max-Age=2592000",
            super::LIST_COOKIE
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&v) {
            res.headers_mut().append(axum::http::header::SET_COOKIE, v);
        }
    }
    res
}

#[derive(Deserialize)]
pub struct OutcomeForm {
    #[serde(default)]
    pin: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    appointment: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: String,
}

/// Records what came of a call, from the child's card; back to the same list afterwards.
/// "Đã tiêm nơi khác" goes on to the child's dose form with the place to fill in.
pub async fn record_outcome(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    Form(form): Form<OutcomeForm>,
) -> Response {
    let (lang, _) = lang_of(&headers, &[]);
    let caller = staff.caller();
    let result = async {
        staff.check_csrf(&form.csrf)?;
        let (pin, _) =
            citizen_in_area(&api, &caller, form.pin.trim(), Permission::RecordDose).await?;
        let outcome = CallOutcome::parse(form.outcome.trim()).ok_or_else(|| {
            Problem::field(
                "outcome",
                "appointment | unreachable | moved | refused | elsewhere",
            )
        })?;
        let appointment = match form.appointment.trim() {
            "" => None,
            s => Some(
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|_| Problem::field("appointment", "YYYY-MM-DD"))?,
            ),
        };
        if outcome == CallOutcome::Appointment && appointment.is_none() {
            return Err(Problem::field(
                "appointment",
                "hãy chọn ngày hẹn / choose the day agreed",
            ));
        }
        let note = form.note.trim();
        crate::registry::text::check("note", note, crate::registry::text::PLACE)
            .map_err(|e| Problem::field("note", e.reason))?;
        let row = OutcomeRow {
            personal_id: pin.to_string(),
            outcome,
            appointment: appointment.filter(|_| outcome == CallOutcome::Appointment),
            note: note.to_string(),
            recorded_by: caller.0.name.clone(),
            recorded_at: Utc::now(),
        };
        api.app.store.insert_call_outcome(&row).await?;
        api.audit
            .persons(
                &caller,
                "call-outcome",
                [(pin.as_str(), Some(outcome.as_str().to_string()))],
            )
            .await?;
        Ok::<_, Problem>((pin, outcome))
    }
    .await;
    let back = safe_next(&form.back);
    match result {
        Ok((pin, CallOutcome::Elsewhere)) => Redirect::to(&format!(
            "/staff/citizens/{pin}?place=elsewhere&return={}#dose-form",
            urlencode(&back)
        ))
        .into_response(),
        Ok(_) => Redirect::to(&back).into_response(),
        Err(p) => error_page(lang, Some(&staff), p),
    }
}
