//! Doses over the API: recording one or several, checked against the registry and the
//! rules, and removing a wrong one with its reason (kept in the history and the audit).

use super::*;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImmunizationInput {
    pub vaccine: String,
    pub date_given: String,
    #[serde(default)]
    pub place: Option<String>,
    /// The vaccine's lot (batch) number.
    #[serde(default)]
    pub lot: Option<String>,
}

/// Checks doses given at one visit as the importer checks a row (known vaccine, a date that
/// is not in the future and inside the citizen's life, sane text), every problem reported.
pub fn check_doses(
    api: &ApiState,
    pin: PersonalId,
    stored: &StoredCitizen,
    inputs: Vec<ImmunizationInput>,
) -> Result<Vec<Immunization>, Vec<FieldError>> {
    let rules = &api.app.rules;
    let today = crate::clock::today_in_vietnam();
    let life = (stored.citizen.date_of_birth, stored.citizen.date_of_death);
    let mut records: Vec<Immunization> = Vec::new();
    let mut errors = Vec::new();
    for input in inputs {
        let row = ImmunizationRow {
            personal_id: pin.to_string(),
            vaccine: input.vaccine,
            date_given: input.date_given,
            place: input.place.unwrap_or_default(),
            lot: input.lot.unwrap_or_default(),
        };
        match row.validate(today, &|v| rules.is_known_vaccine(v)) {
            Err(e) => errors.extend(e),
            Ok(record) => match check_within_life("date_given", record.date_given, Some(life)) {
                Err(e) => errors.push(e),
                // The same vaccine twice in one visit is one dose.
                Ok(()) if records.contains(&record) => {}
                Ok(()) => records.push(record),
            },
        }
    }
    errors.dedup();
    if errors.is_empty() {
        Ok(records)
    } else {
        Err(errors)
    }
}

/// Records the doses of one visit, all or none: 409 when one is recorded already. Each dose is
/// a line of the citizen's history and of the audit trail.
pub async fn record_doses(
    api: &ApiState,
    caller: &Caller,
    pin: PersonalId,
    records: &[Immunization],
) -> ApiResult<()> {
    let source = format!("api:{}", caller.0.name);
    let present = api
        .app
        .store
        .record_doses(records, &source, Utc::now())
        .await?;
    if !present.is_empty() {
        let list: Vec<String> = present
            .iter()
            .map(|r| format!("{} {}", r.vaccine, r.date_given))
            .collect();
        return Err(Problem::conflict(format!(
            "đã ghi từ trước: {list} / recorded already: {list}",
            list = list.join(", ")
        )));
    }
    api.audit
        .persons(
            caller,
            "immunization",
            records.iter().map(|r| {
                (
                    pin.as_str(),
                    Some(format!("{} {}", r.vaccine, r.date_given)),
                )
            }),
        )
        .await
}

/// Records one dose after the same checks as the importer; 409 when it is recorded already.
pub async fn record_dose(
    api: &ApiState,
    caller: &Caller,
    pin: PersonalId,
    stored: &StoredCitizen,
    input: ImmunizationInput,
) -> ApiResult<()> {
    let records = check_doses(api, pin, stored, vec![input]).map_err(field_problems)?;
    record_doses(api, caller, pin, &records).await
}

/// The `reason` of a removal: required, one line of sane text.
pub fn check_reason(raw: &str) -> Result<String, FieldError> {
    let reason = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::registry::text::check("reason", raw.trim(), crate::registry::text::REASON)?;
    if reason.is_empty() {
        return Err(FieldError::new(
            "reason",
            "cần ghi lý do xóa (ví dụ: ghi nhầm trẻ, nhầm ngày) / give the reason for the removal (e.g. recorded for the wrong child, wrong date)",
        ));
    }
    Ok(reason)
}

/// Removes a wrong dose with its reason: gone from forecasts, lists and runs, kept in the
/// citizen's history (with the reason) and in the audit trail. 404 when there is no such dose.
pub async fn remove_dose(
    api: &ApiState,
    caller: &Caller,
    pin: PersonalId,
    vaccine: &str,
    date_given: NaiveDate,
    reason: &str,
) -> ApiResult<Immunization> {
    let reason = check_reason(reason).map_err(|e| field_problems(vec![e]))?;
    let vaccine = vaccine.trim().to_uppercase();
    let source = format!("api:{}", caller.0.name);
    let removed = api
        .app
        .store
        .remove_dose(pin, &vaccine, date_given, &reason, &source, Utc::now())
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!(
                "không có mũi {vaccine} ngày {date_given} trong hồ sơ / no {vaccine} dose given on {date_given} is recorded"
            ))
        })?;
    api.audit
        .person(
            caller,
            pin.as_str(),
            "remove-dose",
            Some(format!("{vaccine} {date_given}: {reason}")),
        )
        .await?;
    tracing::info!(citizen = %pin.masked(), key = %caller.0.name, "dose removed");
    Ok(removed)
}

pub async fn post_immunization(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(pin): ApiPath<String>,
    ApiJson(input): ApiJson<ImmunizationInput>,
) -> ApiResult<Response> {
    let (pin, stored) = citizen_in_area(&api, &caller, &pin, Permission::RecordDose).await?;
    record_dose(&api, &caller, pin, &stored, input).await?;
    let immunizations = api.app.store.immunizations_of(pin).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"personal_id": pin, "immunizations": immunizations})),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonQuery {
    #[serde(default)]
    pub reason: String,
}

/// `DELETE /api/citizens/{pin}/immunizations/{vaccine}/{date}?reason=…`
pub async fn delete_immunization(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath((pin, vaccine, date)): ApiPath<(String, String, String)>,
    ApiQuery(q): ApiQuery<ReasonQuery>,
) -> ApiResult<Response> {
    let (pin, _) = citizen_in_area(&api, &caller, &pin, Permission::RecordDose).await?;
    let date = parse_date_field("date", &date)?;
    let removed = remove_dose(&api, &caller, pin, &vaccine, date, &q.reason).await?;
    let immunizations = api.app.store.immunizations_of(pin).await?;
    Ok(Json(json!({
        "personal_id": pin,
        "removed": removed,
        "reason": check_reason(&q.reason).unwrap_or_default(),
        "immunizations": immunizations,
    }))
    .into_response())
}
