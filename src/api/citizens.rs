//! `/api/citizens/…`: one person's registry entry, records, forecast and access log. Every
//! handler checks role and area before reading anything else, and records the read or change
//! in the audit trail before answering.

use super::audit::AuditSink;
use super::auth::Caller;
use super::permissions::Permission;
use super::problem::{ApiJson, ApiPath, ApiQuery, ApiResult, FieldProblem, Problem};
use super::ApiState;
use crate::registry::citizen::{CitizenRow, FieldError, CITIZEN_COLUMNS};
use crate::registry::records::{check_within_life, IdCardRow, ImmunizationRow};
use crate::registry::{Citizen, Immunization, PersonalId};
use crate::store::access::AuditFilter;
use crate::store::StoredCitizen;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub mod doses;
pub use doses::*;

pub fn field_problems(errors: Vec<FieldError>) -> Problem {
    Problem::fields(
        errors
            .into_iter()
            .map(|e| FieldProblem {
                field: e.field.to_string(),
                reason: e.reason,
            })
            .collect(),
    )
}

pub fn parse_pin(raw: &str) -> ApiResult<PersonalId> {
    PersonalId::parse(raw).map_err(|e| Problem::field("personal_id", e.to_string()))
}

pub fn parse_date_field(field: &str, raw: &str) -> ApiResult<NaiveDate> {
    crate::registry::dates::parse_date(raw).map_err(|e| Problem::field(field, e))
}

/// Parses the ID, checks the role, finds the citizen and checks the area. To a caller bound to
/// an area, an ID outside it and an ID registered nowhere get the same 403, so answers never
/// tell whether someone exists elsewhere; national callers get 404 for an unknown ID.
pub async fn citizen_in_area(
    api: &ApiState,
    caller: &Caller,
    raw_pin: &str,
    permission: Permission,
) -> ApiResult<(PersonalId, StoredCitizen)> {
    caller.may(permission)?;
    let pin = parse_pin(raw_pin)?;
    match api.app.store.citizen(pin).await? {
        Some(stored) if caller.may_see(&stored.citizen) => Ok((pin, stored)),
        _ if caller.0.scope.everywhere() => Err(no_citizen(pin)),
        _ => Err(not_in_area(caller, pin)),
    }
}

pub fn no_citizen(pin: PersonalId) -> Problem {
    Problem::not_found(format!(
        "không có công dân {} / no citizen with personal ID {}",
        pin.masked(),
        pin.masked()
    ))
}

/// The answer for an ID outside the caller's area or not registered at all: the same words
/// either way.
pub fn not_in_area(caller: &Caller, pin: PersonalId) -> Problem {
    let area = caller.0.scope.describe();
    Problem::forbidden(format!(
        "không có công dân {} trong địa bàn của bạn ({area}) / no citizen {} in your area ({area})",
        pin.masked(),
        pin.masked()
    ))
}

/// A strong validator of the stored version: when it was last changed.
pub fn etag(stored: &StoredCitizen) -> String {
    format!("\"{}\"", stored.updated_at.timestamp_micros())
}

/// The citizen with guardians, household and records, as `vongdoi citizen show --format json`
/// but only with the people the caller may see; records a read for the citizen and for every
/// other person it shows.
pub async fn citizen_document(
    api: &ApiState,
    audit: &AuditSink,
    caller: &Caller,
    pin: PersonalId,
    stored: &StoredCitizen,
) -> ApiResult<Value> {
    let dossier = api
        .app
        .store
        .dossier(stored.clone(), &caller.0.scope)
        .await?;
    let mut reads: Vec<(String, Option<String>)> = vec![(pin.to_string(), Some("citizen".into()))];
    reads.extend(dossier.linked_people().map(|(p, how)| {
        (
            p.personal_id.to_string(),
            Some(format!("{how} of {}", pin.masked())),
        )
    }));
    audit
        .persons(
            caller,
            "read",
            reads.iter().map(|(p, d)| (p.as_str(), d.clone())),
        )
        .await?;
    Ok(dossier.to_json())
}

pub async fn get_citizen(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(pin): ApiPath<String>,
) -> ApiResult<Response> {
    let (pin, stored) = citizen_in_area(&api, &caller, &pin, Permission::ReadCitizen).await?;
    let doc = citizen_document(&api, &api.audit, &caller, pin, &stored).await?;
    let mut res = Json(doc).into_response();
    res.headers_mut().insert(
        header::ETAG,
        HeaderValue::from_str(&etag(&stored)).expect("digits"),
    );
    Ok(res)
}

/// A citizen as JSON: the CSV fields, strings or null.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitizenInput {
    pub personal_id: Option<String>,
    pub full_name: Option<String>,
    pub sex: Option<String>,
    pub date_of_birth: Option<String>,
    pub date_of_death: Option<String>,
    pub commune_code: Option<String>,
    pub household_id: Option<String>,
    pub mother_id: Option<String>,
    pub father_id: Option<String>,
    pub guardian_id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub language: Option<String>,
    pub village: Option<String>,
    pub address: Option<String>,
}

impl CitizenInput {
    fn row(self) -> CitizenRow {
        let s = |v: Option<String>| v.unwrap_or_default();
        CitizenRow {
            personal_id: s(self.personal_id),
            full_name: s(self.full_name),
            sex: s(self.sex),
            date_of_birth: s(self.date_of_birth),
            date_of_death: s(self.date_of_death),
            commune_code: s(self.commune_code),
            household_id: s(self.household_id),
            mother_id: s(self.mother_id),
            father_id: s(self.father_id),
            guardian_id: s(self.guardian_id),
            phone: s(self.phone),
            email: s(self.email),
            language: s(self.language),
            village: s(self.village),
            address: s(self.address),
        }
    }
}

/// Validates a citizen row fully: fields, then the links the caller writes. A mother, father or
/// guardian must be registered in the caller's area, and a household must not have members
/// outside it: otherwise a registrar could link their resident to anyone in the country and read
/// them through the link (issue #10). Links already on the record (`before`, e.g. from the
/// operator's import) are left as they are. An unknown ID and one outside the area get the same
/// words, so the answer does not tell whether someone exists elsewhere.
async fn validate_citizen(
    api: &ApiState,
    caller: &Caller,
    row: &CitizenRow,
    before: Option<&Citizen>,
) -> ApiResult<Citizen> {
    let c = row
        .validate(crate::clock::today_in_vietnam())
        .map_err(field_problems)?;
    let unchanged = |role: &str, id: PersonalId| {
        before.is_some_and(|b| b.guardian_links().any(|(r, i)| r == role && i == id))
    };
    let links: Vec<(&'static str, PersonalId)> = c
        .guardian_links()
        .filter(|(role, id)| !unchanged(role, *id))
        .collect();
    let mut problems = Vec::new();
    if !links.is_empty() {
        let ids: Vec<PersonalId> = links.iter().map(|(_, id)| *id).collect();
        let visible: Vec<PersonalId> = api
            .app
            .store
            .citizens_by_ids(&ids)
            .await?
            .into_iter()
            .filter(|p| caller.may_see(&p.citizen))
            .map(|p| p.citizen.personal_id)
            .collect();
        problems.extend(
            links
                .iter()
                .filter(|(_, id)| !visible.contains(id))
                .map(|(role, _)| FieldProblem {
                    field: format!("{role}_id"),
                    reason: "không có trong sổ dân cư thuộc địa bàn của bạn / not registered in your area".into(),
                }),
        );
    }
    let household_changed =
        c.household_id.is_some() && before.map(|b| &b.household_id) != Some(&c.household_id);
    if let (true, Some(h)) = (household_changed, &c.household_id) {
        // A household book number names its commune (`HK` + commune + sequence): one of
        // another commune is not this caller's to use, whether or not it exists yet (so the
        // answer tells nothing of which households exist elsewhere).
        let names_another_commune = h
            .strip_prefix("HK")
            .and_then(|rest| rest.get(..5))
            .filter(|code| code.bytes().all(|b| b.is_ascii_digit()))
            .is_some_and(|code| !caller.0.scope.contains_commune(code));
        let members = if names_another_commune {
            Vec::new()
        } else {
            api.app.store.household(h).await?
        };
        if names_another_commune
            || members
                .iter()
                .any(|m| m.personal_id != c.personal_id && !caller.may_see(m))
        {
            problems.push(FieldProblem {
                field: "household_id".into(),
                reason: "mã hộ này là của một hộ ngoài địa bàn của bạn; dùng mã hộ của xã mình / this household id belongs to a household outside your area: use one of your commune's households".into(),
            });
        }
    }
    if !problems.is_empty() {
        return Err(Problem::fields(problems));
    }
    Ok(c)
}

pub async fn create_citizen(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiJson(input): ApiJson<CitizenInput>,
) -> ApiResult<Response> {
    caller.may(Permission::EditRegistry)?;
    let c = validate_citizen(&api, &caller, &input.row(), None).await?;
    caller.require_commune(c.commune_code.as_str())?;
    // Personal IDs are unique, so a refused registration always tells that the ID is in use;
    // it never tells where, or whose it is.
    if api.app.store.citizen(c.personal_id).await?.is_some() {
        return Err(Problem::conflict(format!(
            "số định danh {} đã có trong sổ: nếu là người của địa bàn bạn, dùng PATCH để sửa; nếu người này chuyển đến, đề nghị quản trị viên chuyển hồ sơ / personal ID {} is registered already: if the person is in your area, use PATCH; if they moved in, ask an administrator to move the record",
            c.personal_id.masked(),
            c.personal_id.masked()
        )));
    }
    let source = format!("api:{}", caller.0.name);
    api.app
        .store
        .upsert_citizens(std::slice::from_ref(&c), &source, Utc::now())
        .await?;
    api.audit
        .person(&caller, c.personal_id.as_str(), "create", None)
        .await?;
    tracing::info!(citizen = %c.personal_id.masked(), key = %caller.0.name, "citizen registered");
    let stored = api
        .app
        .store
        .citizen(c.personal_id)
        .await?
        .ok_or_else(|| no_citizen(c.personal_id))?;
    let mut res = (StatusCode::CREATED, Json(json!({"citizen": stored}))).into_response();
    let h = res.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(&format!("/api/citizens/{}", c.personal_id)).expect("digits"),
    );
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&etag(&stored)).expect("digits"),
    );
    Ok(res)
}

pub async fn patch_citizen(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(pin): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(changes): ApiJson<Map<String, Value>>,
) -> ApiResult<Response> {
    let (pin, stored) = citizen_in_area(&api, &caller, &pin, Permission::EditRegistry).await?;
    if let Some(expected) = headers.get(header::IF_MATCH) {
        if expected.as_bytes() != etag(&stored).as_bytes() && expected.as_bytes() != b"*" {
            return Err(Problem::conflict(
                "hồ sơ đã bị người khác sửa sau lần đọc của bạn; đọc lại rồi sửa / the record changed since you read it (If-Match): read it again and re-apply your change",
            ));
        }
    }
    let mut record = stored.citizen.to_record();
    let mut problems = Vec::new();
    for (field, value) in &changes {
        let Some(i) = CITIZEN_COLUMNS.iter().position(|c| c == field) else {
            problems.push(FieldProblem {
                field: field.clone(),
                reason: "trường không có / unknown field".into(),
            });
            continue;
        };
        if i == 0 {
            problems.push(FieldProblem {
                field: field.clone(),
                reason: "đổi số định danh bằng `vongdoi citizen change-id` / change a personal ID with `vongdoi citizen change-id`".into(),
            });
            continue;
        }
        match value {
            Value::Null => record[i] = String::new(),
            Value::String(s) => record[i] = s.clone(),
            _ => problems.push(FieldProblem {
                field: field.clone(),
                reason: "cần chuỗi hoặc null / a string or null".into(),
            }),
        }
    }
    if !problems.is_empty() {
        return Err(Problem::fields(problems));
    }
    let [personal_id, full_name, sex, date_of_birth, date_of_death, commune_code, household_id, mother_id, father_id, guardian_id, phone, email, language, village, address] =
        record;
    let row = CitizenRow {
        personal_id,
        full_name,
        sex,
        date_of_birth,
        date_of_death,
        commune_code,
        household_id,
        mother_id,
        father_id,
        guardian_id,
        phone,
        email,
        language,
        village,
        address,
    };
    let c = validate_citizen(&api, &caller, &row, Some(&stored.citizen)).await?;
    // Moving someone out of the key's area is not this key's to decide.
    caller.require_commune(c.commune_code.as_str())?;
    let source = format!("api:{}", caller.0.name);
    let counts = api
        .app
        .store
        .upsert_citizens(std::slice::from_ref(&c), &source, Utc::now())
        .await?;
    let fields: Vec<&str> = changes.keys().map(String::as_str).collect();
    api.audit
        .person(&caller, pin.as_str(), "update", Some(fields.join(",")))
        .await?;
    let after = api
        .app
        .store
        .citizen(pin)
        .await?
        .ok_or_else(|| no_citizen(pin))?;
    let history = api.app.store.history_of(pin).await?;
    let mut res =
        Json(json!({"citizen": after, "changed": counts.updated == 1, "history": history}))
            .into_response();
    res.headers_mut().insert(
        header::ETAG,
        HeaderValue::from_str(&etag(&after)).expect("digits"),
    );
    Ok(res)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdCardInput {
    pub issued_on: String,
}

pub async fn post_id_card(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(pin): ApiPath<String>,
    ApiJson(input): ApiJson<IdCardInput>,
) -> ApiResult<Response> {
    let (pin, stored) = citizen_in_area(&api, &caller, &pin, Permission::RecordIdCard).await?;
    let row = IdCardRow {
        personal_id: pin.to_string(),
        issued_on: input.issued_on,
    };
    let record = row
        .validate(crate::clock::today_in_vietnam())
        .map_err(field_problems)?;
    let life = (stored.citizen.date_of_birth, stored.citizen.date_of_death);
    check_within_life("issued_on", record.issued_on, Some(life))
        .map_err(|e| field_problems(vec![e]))?;
    let source = format!("api:{}", caller.0.name);
    if api
        .app
        .store
        .insert_id_cards(std::slice::from_ref(&record), &source, Utc::now())
        .await?
        == 0
    {
        return Err(Problem::conflict(format!(
            "thẻ cấp ngày {} đã được ghi / a card issued on {} is recorded already",
            record.issued_on, record.issued_on
        )));
    }
    api.audit
        .person(
            &caller,
            pin.as_str(),
            "id-card",
            Some(record.issued_on.to_string()),
        )
        .await?;
    let cards = api.app.store.id_cards_of(pin).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"personal_id": pin, "id_cards": cards})),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    pub as_of: Option<String>,
}

/// The forecast of one citizen: the JSON of `vongdoi forecast PIN --format json`.
pub async fn get_forecast(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(pin): ApiPath<String>,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> ApiResult<Response> {
    let as_of = match q.as_of.as_deref() {
        Some(d) => parse_date_field("as_of", d)?,
        None => crate::clock::today_in_vietnam(),
    };
    let (pin, stored) = citizen_in_area(&api, &caller, &pin, Permission::ReadForecast).await?;
    let forecast = forecast_of_stored(&api, pin, &stored, as_of).await?;
    api.audit
        .person(&caller, pin.as_str(), "forecast", Some(as_of.to_string()))
        .await?;
    // The document of `vongdoi forecast --format json`, without the indentation.
    let body = serde_json::to_vec(&forecast.document(pin.as_str(), as_of))
        .map_err(|e| Problem::internal("forecast json", e))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The forecast of a citizen already read (for the area check): what `cli::forecast_of` does
/// after its own read of the citizen, so the hot endpoint reads the citizen once and the two
/// record lists side by side. `tests/api.rs` holds the result equal to `vongdoi forecast`.
pub async fn forecast_of_stored(
    api: &ApiState,
    pin: PersonalId,
    stored: &StoredCitizen,
    as_of: NaiveDate,
) -> ApiResult<crate::rules::Forecast> {
    debug_assert_eq!(stored.citizen.personal_id, pin);
    Ok(crate::schedule::forecast_of_stored(&api.app.store, &api.app.rules, stored, as_of).await?)
}

/// Who read or changed this person's data (a data-subject request, Law 91/2025 Art. 14).
pub async fn get_access_log(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(pin): ApiPath<String>,
) -> ApiResult<Response> {
    caller.may(Permission::ReadAccessLog)?;
    let pin = parse_pin(&pin)?;
    // The registrar answers requests at the commune office: only for its own residents. A
    // person no longer registered can still ask; the national roles answer that.
    match api.app.store.citizen(pin).await? {
        Some(s) if caller.may_see(&s.citizen) => {}
        None if caller.0.role.is_national() => {}
        _ => return Err(not_in_area(&caller, pin)),
    }
    let rows = api
        .app
        .store
        .audit_rows(&AuditFilter {
            personal_id: Some(pin.to_string()),
            limit: 10_000,
            ..Default::default()
        })
        .await?;
    api.audit
        .person(&caller, pin.as_str(), "access-log", None)
        .await?;
    Ok(Json(json!({
        "personal_id": pin,
        "reads": rows.iter().map(|r| json!({"at": r.at, "key_name": r.key_name, "role": r.role, "action": r.action, "detail": r.detail})).collect::<Vec<_>>(),
    }))
    .into_response())
}
