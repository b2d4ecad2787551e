//! One citizen: facts, the contacts the caller may see (phones corrected and a family's
//! messages stopped or restarted here), the forecast (what is due first, the rest folded), the
//! doses given (each with a button to remove a wrong one, with its reason), the history, and
//! the form of one visit: the doses due, pre-selected, several at once.
//!
//! Every form posts back to this page's own handlers; a problem re-renders the page with the
//! nurse's input kept and the reason next to the field. A dose the child does not need (a
//! second BCG, a dose too early to count) needs a confirmation ticked first. After a change
//! the nurse goes back where she came from (`return`, only ever one of our pages).

use super::super::citizens::{
    self, check_doses, check_reason, citizen_in_area, record_doses, remove_dose, ImmunizationInput,
};
use super::super::permissions::Permission;
use super::super::problem::Problem;
use super::super::reports::query_pairs;
use super::super::ApiState;
use super::session::safe_next;
use super::{error_page, lang_of, param, t, Page, Staff};
use crate::registry::{AdminUnits, Citizen, Immunization, PersonalId, Phone, Sex};
use crate::rules::{Forecast, Item, ItemKey, Lang, RuleSet, Status};
use crate::store::dossier::{Dossier, Linked};
use crate::store::{Channel, HistoryEntry, StoredCitizen};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use minijinja::{context, Value};
use std::collections::HashMap;
use std::sync::Arc;

mod forms;
pub use forms::*;

type Path = axum::extract::Path<String>;

fn opt_date(d: Option<NaiveDate>) -> String {
    d.map(crate::clock::vn_date).unwrap_or_default()
}

/// The station of the child's commune, the default place of a dose.
fn station_of(c: &Citizen) -> String {
    let name = AdminUnits::get()
        .commune(c.commune_code.as_str())
        .map(|u| u.name.clone())
        .unwrap_or_else(|| c.commune_code.to_string());
    format!("Trạm Y tế {name}")
}

/// Whether every vaccine that counts for this dose is given by mouth (drops).
fn is_oral(rules: &RuleSet, item: &Item) -> bool {
    !item.info.vaccines.is_empty()
        && item
            .info
            .vaccines
            .iter()
            .all(|v| rules.vaccine(v).is_some_and(|v| v.oral))
}

/// An item's name for people: the rule's name ("Bạch hầu, ho gà, uốn ván – mũi 2"), with
/// "liều" for drops ("Bại liệt uống – liều 1"), never an internal id.
fn item_name(rules: &RuleSet, item: &Item, lang: Lang) -> String {
    let name = item.info.name(lang);
    if lang == Lang::Vi && is_oral(rules, item) {
        name.replace(" – mũi ", " – liều ")
    } else {
        name.to_string()
    }
}

/// A vaccine for people: its catalogue name and code ("5 trong 1 (…) — PENTA").
fn vaccine_label(rules: &RuleSet, code: &str, lang: Lang) -> String {
    match rules.vaccine(code) {
        Some(v) => {
            let name = match lang {
                Lang::Vi => &v.name_vi,
                Lang::En => &v.name_en,
            };
            format!("{name} — {code}")
        }
        None => code.to_string(),
    }
}

fn verb(rules: &RuleSet, code: &str, lang: Lang) -> &'static str {
    let oral = rules.vaccine(code).is_some_and(|v| v.oral);
    match (oral, lang) {
        (true, Lang::Vi) => "uống",
        (false, Lang::Vi) => "tiêm",
        (true, Lang::En) => "oral",
        (false, Lang::En) => "injection",
    }
}

/// What the nurse typed into the visit form, kept when the page comes back with a problem.
#[derive(Default)]
struct DoseState {
    /// The vaccines ticked; None: the page's defaults (what is due, pre-selected).
    chosen: Option<Vec<String>>,
    other: String,
    date_given: String,
    place: Option<String>,
    lot: String,
    lots: HashMap<String, String>,
    /// field → reason, shown beside the field.
    errors: Vec<(String, String)>,
    /// Doses the child does not need: recorded only once the nurse ticks the confirmation.
    warnings: Vec<String>,
}

/// A removal that went wrong (no reason given), shown beside that dose.
struct RemoveState {
    vaccine: String,
    date_given: NaiveDate,
    reason: String,
    error: String,
}

/// A contact form that went wrong, shown beside that guardian.
struct ContactState {
    guardian: String,
    phone: String,
    error: String,
}

#[derive(Default)]
struct Forms {
    dose: DoseState,
    remove: Option<RemoveState>,
    contact: Option<ContactState>,
    /// Where to go back to after a change (kept through the forms).
    back: Option<String>,
}

/// What the page shows of one citizen, read once per request.
struct Loaded {
    pin: PersonalId,
    stored: StoredCitizen,
    forecast: Forecast,
    dossier: Dossier,
    as_of: NaiveDate,
    /// What came of calls about this child, newest first (from the worklist).
    calls: Vec<crate::store::outcomes::OutcomeRow>,
}

impl Loaded {
    /// The mother, father or guardian the caller may see, with their role.
    fn guardians(&self) -> impl Iterator<Item = (&'static str, &Citizen)> {
        self.dossier
            .guardians
            .iter()
            .filter_map(|g| g.person.shown().map(|p| (g.role, p)))
    }
}

/// Reads the citizen (checking role and area), the forecast on today and the dossier, and
/// audits the people the page shows.
async fn load(api: &ApiState, staff: &Staff, raw_pin: &str) -> Result<Loaded, Problem> {
    let caller = staff.caller();
    let (pin, stored) = citizen_in_area(api, &caller, raw_pin, Permission::ReadCitizen).await?;
    let as_of = crate::clock::today_in_vietnam();
    let forecast = citizens::forecast_of_stored(api, pin, &stored, as_of).await?;
    // The guardians as the dossier shows them to this caller: the same area test as a direct
    // read, so a link to someone outside the area shows nothing of them.
    let dossier = api
        .app
        .store
        .dossier(stored.clone(), &caller.0.scope)
        .await?;
    let mut reads = vec![(pin.to_string(), Some("citizen page".to_string()))];
    reads.extend(dossier.guardians.iter().filter_map(|g| {
        g.person.shown().map(|p| {
            (
                p.personal_id.to_string(),
                Some(format!("{} of {}", g.role, pin.masked())),
            )
        })
    }));
    api.audit
        .persons(
            &caller,
            "page:citizen",
            reads.iter().map(|(p, d)| (p.as_str(), d.clone())),
        )
        .await?;
    let calls = api.app.store.call_outcomes_of(pin.as_str()).await?;
    Ok(Loaded {
        calls,
        pin,
        stored,
        forecast,
        dossier,
        as_of,
    })
}

fn role_label(role: &str, lang: Lang) -> &'static str {
    match (role, lang) {
        ("mother", Lang::Vi) => "Mẹ",
        ("father", Lang::Vi) => "Cha",
        (_, Lang::Vi) => "Người giám hộ",
        ("mother", Lang::En) => "Mother",
        ("father", Lang::En) => "Father",
        _ => "Guardian",
    }
}

/// Words for a history line's field.
fn field_label(field: &str, lang: Lang) -> String {
    let (vi, en) = match field {
        "immunization" => ("Mũi tiêm", "Dose"),
        "phone" => ("Điện thoại", "Phone"),
        "email" => ("Email", "Email"),
        "sms_opt_out" => ("Từ chối SMS", "SMS opt-out"),
        "email_opt_out" => ("Từ chối email", "Email opt-out"),
        "village" => ("Thôn / tổ dân phố", "Village"),
        "address" => ("Địa chỉ", "Address"),
        "full_name" => ("Họ tên", "Name"),
        "household_id" => ("Hộ", "Household"),
        "personal_id" => ("Số định danh", "Personal ID"),
        other => (other, other),
    };
    match lang {
        Lang::Vi => vi.to_string(),
        Lang::En => en.to_string(),
    }
}

fn history_rows(history: &[HistoryEntry], lang: Lang) -> Vec<Value> {
    let tz = crate::clock::vietnam();
    history
        .iter()
        .rev()
        .map(|h| {
            let shown = |v: &Option<String>| match v.as_deref() {
                Some("true") => t(lang, "có", "yes").to_string(),
                Some("false") => t(lang, "không", "no").to_string(),
                Some(v) => v.to_string(),
                None => "—".to_string(),
            };
            context! {
                at => h.changed_at.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string(),
                field => field_label(&h.field, lang),
                old => shown(&h.old_value),
                new => shown(&h.new_value),
                reason => h.reason,
                source => h.source,
            }
        })
        .collect()
}

/// `langs`: the page's language, and the one `?lang=` asked for (remembered in a cookie).
fn render(
    api: &ApiState,
    staff: &Staff,
    (lang, asked): (Lang, Option<Lang>),
    status: StatusCode,
    l: &Loaded,
    forms: &Forms,
    notice: Option<String>,
) -> Response {
    let rules = &api.app.rules;
    let c = &l.stored.citizen;
    let role = staff.key.role;
    let may_contacts = Permission::EditContacts.allows(role);
    // Contacts: the guardians shown, phones as Vietnamese write them.
    let contacts: Vec<Value> = l
        .guardians()
        .map(|(r, g)| {
            let failed = forms
                .contact
                .as_ref()
                .filter(|s| s.guardian == g.personal_id.as_str());
            context! {
                role => role_label(r, lang),
                name => g.full_name,
                pin => g.personal_id.to_string(),
                phone => g.phone.as_ref().map(|p| p.national()),
                tel => g.phone.as_ref().map(|p| p.e164().to_string()),
                email => g.email.as_ref().map(|e| e.to_string()),
                phone_field => failed.map(|s| s.phone.clone()).unwrap_or_else(|| g.phone.as_ref().map(|p| p.national()).unwrap_or_default()),
                error => failed.map(|s| s.error.clone()),
            }
        })
        .collect();
    // The family's messages: stopped when every member with the channel has opted out.
    let family = family_of(l);
    let opt_outs: Vec<Value> = [Channel::Sms, Channel::Email]
        .into_iter()
        .map(|ch| {
            let stopped = !family.is_empty()
                && family.iter().all(|p| match ch {
                    Channel::Sms | Channel::Zns => p.sms_opt_out,
                    Channel::Email => p.email_opt_out,
                });
            context! {
                channel => ch.as_str(),
                label => match ch { Channel::Sms | Channel::Zns => "SMS", Channel::Email => "Email" },
                stopped => stopped,
            }
        })
        .collect();

    // The forecast: what is due or overdue first, the rest folded away.
    let item_row = |i: &Item| {
        let what = match i.key() {
            ItemKey::Vaccination { .. } => item_name(rules, i, lang),
            _ => i.info.name(lang).to_string(),
        };
        context! {
            what => what,
            status => i.status.label(lang),
            overdue_status => i.status == Status::Overdue,
            earliest => opt_date(i.earliest),
            due => opt_date(i.due),
            overdue => opt_date(i.overdue),
            completed_on => opt_date(i.completed_on),
        }
    };
    let (now, rest): (Vec<&Item>, Vec<&Item>) = l
        .forecast
        .items
        .iter()
        .partition(|i| matches!(i.status, Status::Due | Status::Overdue));
    let now: Vec<Value> = now.into_iter().map(item_row).collect();
    let rest: Vec<Value> = rest.into_iter().map(item_row).collect();

    let back = forms.back.clone().unwrap_or_default();
    let doses: Vec<Value> = l
        .dossier
        .immunizations
        .iter()
        .map(|r| {
            let failed = forms
                .remove
                .as_ref()
                .filter(|s| s.vaccine == r.vaccine && s.date_given == r.date_given);
            context! {
                date => crate::clock::vn_date(r.date_given),
                date_given => r.date_given.to_string(),
                code => r.vaccine,
                vaccine => vaccine_label(rules, &r.vaccine, lang),
                verb => verb(rules, &r.vaccine, lang),
                place => r.place,
                lot => r.lot,
                reason => failed.map(|s| s.reason.clone()),
                error => failed.map(|s| s.error.clone()),
                not_counted => l.forecast.why_not_counted(&r.vaccine, r.date_given, lang),
            }
        })
        .collect();
    let may_dose = Permission::RecordDose.allows(role);
    let dose_form = may_dose.then(|| dose_form(rules, l, &forms.dose, lang));
    let title = format!("{} — {}", c.full_name, l.pin);
    let path = format!("/staff/citizens/{}", l.pin);
    let commune = AdminUnits::get()
        .commune(c.commune_code.as_str())
        .map(|u| format!("{} ({})", u.name, u.code))
        .unwrap_or_else(|| c.commune_code.to_string());
    Page {
        lang,
        title: &title,
        staff: Some(staff),
        path: &path,
    }
    .respond(
        status,
        asked,
        "citizen",
        context! {
            notice => notice,
            pin => l.pin.to_string(),
            full_name => c.full_name,
            born => crate::clock::vn_date(c.date_of_birth),
            died => c.date_of_death.map(crate::clock::vn_date),
            sex => match (c.sex, lang) {
                (Sex::Male, Lang::Vi) => "Nam",
                (Sex::Female, Lang::Vi) => "Nữ",
                (Sex::Male, Lang::En) => "Male",
                (Sex::Female, Lang::En) => "Female",
            },
            commune => commune,
            village => c.village,
            address => c.address,
            contacts => contacts,
            may_contacts => may_contacts,
            opt_outs => opt_outs,
            has_family => !family.is_empty(),
            as_of => crate::clock::vn_date(l.as_of),
            now => now,
            rest => rest,
            doses => doses,
            may_remove => may_dose,
            history => history_rows(&l.dossier.history, lang),
            calls => l.calls.iter().map(|o| {
                context! {
                    at => crate::clock::vn_date(crate::clock::day_in_vietnam(o.recorded_at)),
                    outcome => match lang { Lang::Vi => o.outcome.label_vi(), Lang::En => o.outcome.label_en() },
                    appointment => o.appointment.map(crate::clock::vn_date),
                    note => o.note,
                    by => o.recorded_by,
                }
            }).collect::<Vec<Value>>(),
            dose_form => dose_form,
            back => back,
        },
    )
}

/// The people whose messages a family opt-out stops: the child and the guardians shown.
fn family_of(l: &Loaded) -> Vec<FamilyMember> {
    let mut out = vec![FamilyMember {
        pin: l.pin,
        sms_opt_out: l.stored.sms_opt_out,
        email_opt_out: l.stored.email_opt_out,
    }];
    out.extend(l.dossier.guardians.iter().filter_map(|g| match &g.person {
        Linked::Shown(_) => g.opt_outs.map(|(sms, email)| FamilyMember {
            pin: g.personal_id,
            sms_opt_out: sms,
            email_opt_out: email,
        }),
        _ => None,
    }));
    out
}

struct FamilyMember {
    pin: PersonalId,
    sms_opt_out: bool,
    email_opt_out: bool,
}

/// The visit form: the doses open now (due and overdue ticked, ones that may be given early
/// offered), any other vaccine, the date, the place (the station), lot numbers.
fn dose_form(rules: &RuleSet, l: &Loaded, s: &DoseState, lang: Lang) -> Value {
    let mut offered: Vec<String> = Vec::new();
    let offers: Vec<Value> = l
        .forecast
        .items
        .iter()
        .filter(|i| matches!(i.key(), ItemKey::Vaccination { .. }))
        .filter(|i| matches!(i.status, Status::Eligible | Status::Due | Status::Overdue))
        .filter_map(|i| {
            let code = i
                .info
                .vaccines
                .iter()
                .find(|v| rules.is_known_vaccine(v))?
                .to_string();
            if offered.contains(&code) {
                return None;
            }
            offered.push(code.clone());
            let checked = match &s.chosen {
                Some(chosen) => chosen.contains(&code),
                None => matches!(i.status, Status::Due | Status::Overdue),
            };
            Some(context! {
                code => code,
                name => item_name(rules, i, lang),
                vaccine => vaccine_label(rules, &code, lang),
                verb => verb(rules, &code, lang),
                status => i.status.label(lang),
                overdue => i.status == Status::Overdue,
                checked => checked,
                lot => s.lots.get(&code).cloned().unwrap_or_default(),
            })
        })
        .collect();
    let others: Vec<Value> = rules
        .vaccines()
        .iter()
        .filter(|v| !offered.iter().any(|o| o == &*v.code))
        .map(|v| {
            context! {
                code => &*v.code,
                label => vaccine_label(rules, &v.code, lang),
                selected => s.other == *v.code,
            }
        })
        .collect();
    let error = |field: &str| -> Option<String> {
        let found: Vec<&str> = s
            .errors
            .iter()
            .filter(|(f, _)| f == field)
            .map(|(_, r)| r.as_str())
            .collect();
        (!found.is_empty()).then(|| found.join(" "))
    };
    context! {
        offers => offers,
        others => others,
        date_given => if s.date_given.is_empty() { l.as_of.to_string() } else { s.date_given.clone() },
        max_date => l.as_of.to_string(),
        place => s.place.clone().unwrap_or_else(|| station_of(&l.stored.citizen)),
        lot => s.lot,
        error_vaccine => error("vaccine"),
        error_date => error("date_given"),
        error_place => error("place"),
        error_lot => error("lot"),
        error_other => error("form"),
        warnings => s.warnings,
    }
}

pub async fn citizen_page(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    axum::extract::Path(pin): Path,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let l = match load(&api, &staff, &pin).await {
        Ok(l) => l,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let elsewhere = param(&pairs, "place") == Some("elsewhere");
    let notice = if let Some(n) = param(&pairs, "recorded") {
        Some(match (n.parse::<usize>().unwrap_or(1), lang) {
            (1, Lang::Vi) => "Đã ghi mũi tiêm.".to_string(),
            (n, Lang::Vi) => format!("Đã ghi {n} mũi."),
            (1, Lang::En) => "Dose recorded.".to_string(),
            (n, Lang::En) => format!("{n} doses recorded."),
        })
    } else if param(&pairs, "removed").is_some() {
        Some(
            t(
                lang,
                "Đã xóa mũi ghi sai; việc xóa được giữ trong lịch sử.",
                "The wrong dose was removed; the removal is kept in the history.",
            )
            .to_string(),
        )
    } else if param(&pairs, "saved").is_some() {
        Some(t(lang, "Đã lưu.", "Saved.").to_string())
    } else if elsewhere {
        Some(
            t(
                lang,
                "Gia đình báo đã tiêm nơi khác: hãy ghi mũi đó với ngày và nơi tiêm.",
                "The family says the child was vaccinated elsewhere: record that dose with its date and place.",
            )
            .to_string(),
        )
    } else {
        None
    };
    let forms = Forms {
        back: param(&pairs, "return").map(safe_next),
        // From the worklist's "đã tiêm nơi khác": the place is not the station.
        dose: DoseState {
            place: elsewhere.then(String::new),
            ..Default::default()
        },
        ..Default::default()
    };
    render(
        &api,
        &staff,
        (lang, asked),
        StatusCode::OK,
        &l,
        &forms,
        notice,
    )
}
