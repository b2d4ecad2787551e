//! One citizen: facts, the contacts the caller may see, the forecast, the doses given, and a
//! form to record a dose.

use super::super::citizens::{self, citizen_in_area, ImmunizationInput};
use super::super::permissions::Permission;
use super::super::problem::Problem;
use super::super::reports::query_pairs;
use super::super::ApiState;
use super::{commune_label, error_page, lang_of, param, t, Page, Staff};
use crate::rules::{Lang, Status};
use crate::store::dossier::Linked;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::{context, Value};
use serde::Deserialize;
use std::sync::Arc;

pub async fn citizen_page(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    axum::extract::Path(pin): axum::extract::Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let (lang, asked) = lang_of(&headers, &pairs);
    let caller = staff.caller();
    let result = async {
        let (pin, stored) = citizen_in_area(&api, &caller, &pin, Permission::ReadCitizen).await?;
        let as_of = crate::clock::today_in_vietnam();
        let forecast = citizens::forecast_of_stored(&api, pin, &stored, as_of).await?;
        // The guardians as the dossier shows them to this caller: the same area test as a
        // direct read, so a link to someone outside the area shows nothing of them.
        let dossier = api
            .app
            .store
            .dossier(stored.clone(), &caller.0.scope)
            .await?;
        let guardians: Vec<(&'static str, crate::registry::Citizen)> = dossier
            .guardians
            .into_iter()
            .filter_map(|g| match g.person {
                Linked::Shown(p) => Some((g.role, p)),
                _ => None,
            })
            .collect();
        let immunizations = dossier.immunizations;
        let mut reads = vec![(pin.to_string(), Some("citizen page".to_string()))];
        reads.extend(guardians.iter().map(|(role, g)| {
            (
                g.personal_id.to_string(),
                Some(format!("{role} of {}", pin.masked())),
            )
        }));
        api.audit
            .persons(
                &caller,
                "page:citizen",
                reads.iter().map(|(p, d)| (p.as_str(), d.clone())),
            )
            .await?;
        Ok::<_, Problem>((pin, stored, forecast, immunizations, guardians, as_of))
    }
    .await;
    let (pin, stored, forecast, immunizations, guardians, as_of) = match result {
        Ok(x) => x,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let c = &stored.citizen;
    let contacts: Vec<Value> = guardians
        .iter()
        .map(|(role, g)| {
            let label = match (*role, lang) {
                ("mother", Lang::Vi) => "Mẹ",
                ("father", Lang::Vi) => "Cha",
                (_, Lang::Vi) => "Người giám hộ",
                ("mother", Lang::En) => "Mother",
                ("father", Lang::En) => "Father",
                _ => "Guardian",
            };
            context! { role => label, name => g.full_name, phone => g.phone.as_ref().map(|p| p.to_string()) }
        })
        .collect();
    let doc = serde_json::to_value(forecast.document(pin.as_str(), as_of)).unwrap_or_default();
    let s = |v: &serde_json::Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.as_u64().map(|n| n.to_string()).unwrap_or_default())
    };
    let items: Vec<Value> = doc["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let what = match s(&item["kind"]).as_str() {
                "vaccination" => format!(
                    "{} {} {}",
                    t(lang, "Tiêm", "Vaccine"),
                    s(&item["series"]),
                    s(&item["dose"])
                ),
                "id-card" => format!(
                    "{} {}",
                    t(lang, "Căn cước tuổi", "ID card at"),
                    s(&item["milestone"])
                ),
                "school" => format!("{} {}", t(lang, "Nhập học", "School"), s(&item["level"])),
                k => k.to_string(),
            };
            let status = s(&item["status"]);
            let label = [
                Status::Completed,
                Status::Upcoming,
                Status::Eligible,
                Status::Due,
                Status::Overdue,
                Status::Expired,
                Status::Waiting,
            ]
            .into_iter()
            .find(|x| x.as_str() == status)
            .map(|x| x.label(lang).to_string())
            .unwrap_or_else(|| status.clone());
            context! {
                what => what,
                status => label,
                overdue_status => status == "overdue",
                earliest => s(&item["earliest"]),
                due => s(&item["due"]),
                overdue => s(&item["overdue"]),
                completed_on => s(&item["completed_on"]),
            }
        })
        .collect();
    let doses: Vec<Value> = immunizations
        .iter()
        .map(|r| context! { date_given => r.date_given.to_string(), vaccine => r.vaccine, place => r.place })
        .collect();
    let dose_form = Permission::RecordDose.allows(staff.key.role).then(|| {
        let mut codes: Vec<&str> = api.app.rules.vaccine_codes().collect();
        codes.sort();
        context! { vaccines => codes }
    });
    let title = format!("{} — {}", c.full_name, pin.masked());
    let path = format!("/staff/citizens/{pin}");
    Page {
        lang,
        title: &title,
        staff: Some(&staff),
        path: &path,
    }
    .respond(
        StatusCode::OK,
        asked,
        "citizen",
        context! {
            recorded => param(&pairs, "recorded").is_some(),
            pin => pin.to_string(),
            born => c.date_of_birth.to_string(),
            sex => match lang { Lang::Vi => c.sex.label_vi().to_string(), Lang::En => c.sex.code().to_string() },
            commune => commune_label(c.commune_code.as_str()),
            contacts => contacts,
            as_of => as_of.to_string(),
            items => items,
            doses => doses,
            dose_form => dose_form,
        },
    )
}

#[derive(Deserialize)]
pub struct DoseForm {
    #[serde(default)]
    csrf: String,
    vaccine: String,
    date_given: String,
    #[serde(default)]
    place: String,
}

pub async fn record_dose(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    axum::extract::Path(pin): axum::extract::Path<String>,
    Form(form): Form<DoseForm>,
) -> Response {
    let (lang, _) = lang_of(&headers, &[]);
    let caller = staff.caller();
    let result = async {
        staff.check_csrf(&form.csrf)?;
        let (pin, stored) = citizen_in_area(&api, &caller, &pin, Permission::RecordDose).await?;
        let input = ImmunizationInput {
            vaccine: form.vaccine,
            date_given: form.date_given,
            place: Some(form.place),
            lot: None,
        };
        citizens::record_dose(&api, &caller, pin, &stored, input).await?;
        Ok::<_, Problem>(pin)
    }
    .await;
    match result {
        Ok(pin) => Redirect::to(&format!("/staff/citizens/{pin}?recorded=1")).into_response(),
        Err(p) => error_page(lang, Some(&staff), p),
    }
}
