//! The citizen page's forms: the doses of one visit (with the confirmation a dose the child
//! does not need asks for), removing a wrong dose with its reason, and phones and opt-outs.

use super::*;

/// Where to go after a change: back where the nurse came from (one of our pages), else this
/// citizen's page with `done` saying what happened.
fn after_change(back: Option<&str>, pin: PersonalId, done: &str) -> Response {
    let to = match back {
        Some(b) => safe_next(b),
        None => format!("/staff/citizens/{pin}?{done}"),
    };
    Redirect::to(&to).into_response()
}

fn field(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// A form's checks before anything else: the page's token, and the citizen in the caller's
/// area for this permission.
async fn form_target(
    api: &ApiState,
    staff: &Staff,
    pin: &str,
    pairs: &[(String, String)],
    permission: Permission,
) -> Result<(PersonalId, StoredCitizen), Problem> {
    staff.check_csrf(&field(pairs, "csrf"))?;
    citizen_in_area(api, &staff.caller(), pin, permission).await
}

/// Why each chosen vaccine is not needed on `date`, from the forecast on that day: the series
/// is complete (a second BCG), the next dose is not yet due to count (too early), or it can no
/// longer be given.
fn not_needed(
    rules: &RuleSet,
    forecast: &Forecast,
    records: &[Immunization],
    lang: Lang,
) -> Vec<String> {
    let mut out = Vec::new();
    for r in records {
        let items: Vec<&Item> = forecast
            .items
            .iter()
            .filter(|i| i.info.vaccines.iter().any(|v| **v == *r.vaccine))
            .collect();
        if items
            .iter()
            .any(|i| matches!(i.status, Status::Eligible | Status::Due | Status::Overdue))
        {
            continue;
        }
        let v = vaccine_label(rules, &r.vaccine, lang);
        let why = if items.is_empty() {
            match lang {
                Lang::Vi => format!("{v}: không có trong lịch tiêm của trẻ này."),
                Lang::En => format!("{v}: not in this child's schedule."),
            }
        } else if items.iter().all(|i| i.status == Status::Completed) {
            let last = items.iter().filter_map(|i| i.completed_on).max();
            let series = items
                .last()
                .map(|i| {
                    let name = item_name(rules, i, lang);
                    name.split(" – ").next().unwrap_or(&name).to_string()
                })
                .unwrap_or_default();
            match lang {
                Lang::Vi => format!(
                    "{v}: trẻ đã tiêm đủ {series} (mũi cuối ngày {}); mũi này trẻ không cần và sẽ không được tính.",
                    opt_date(last)
                ),
                Lang::En => format!(
                    "{v}: {series} is complete (last dose on {}); the child does not need this dose and it will not count.",
                    opt_date(last)
                ),
            }
        } else if let Some(next) = items.iter().find(|i| i.status == Status::Upcoming) {
            match lang {
                Lang::Vi => format!(
                    "{v}: chưa đến lúc tiêm {} (sớm nhất từ {}); mũi tiêm sớm sẽ không được tính.",
                    item_name(rules, next, lang),
                    opt_date(next.earliest)
                ),
                Lang::En => format!(
                    "{v}: {} is not yet due (earliest {}); a dose this early will not count.",
                    item_name(rules, next, lang),
                    opt_date(next.earliest)
                ),
            }
        } else {
            match lang {
                Lang::Vi => format!("{v}: đã quá tuổi tiêm mũi này; mũi này sẽ không được tính."),
                Lang::En => {
                    format!("{v}: the child is past the age for this dose; it will not count.")
                }
            }
        };
        out.push(why);
    }
    out
}

/// `POST /staff/citizens/{pin}/immunizations`: the doses of one visit (`vaccine` repeated).
pub async fn record_dose(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    axum::extract::Path(pin): Path,
    body: String,
) -> Response {
    let pairs = query_pairs(Some(&body));
    let (lang, _) = lang_of(&headers, &[]);
    let target = form_target(&api, &staff, &pin, &pairs, Permission::RecordDose).await;
    let (pin, stored) = match target {
        Ok(x) => x,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let back = Some(field(&pairs, "return")).filter(|b| !b.is_empty());
    let mut chosen: Vec<String> = Vec::new();
    for (k, v) in &pairs {
        let v = v.trim().to_uppercase();
        if k == "vaccine" && !v.is_empty() && !chosen.contains(&v) {
            chosen.push(v);
        }
    }
    let other = field(&pairs, "other").trim().to_uppercase();
    if !other.is_empty() && !chosen.contains(&other) {
        chosen.push(other.clone());
    }
    let lot = field(&pairs, "lot");
    let lots: HashMap<String, String> = pairs
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("lot_")?.to_string(), v.clone())))
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    let mut state = DoseState {
        chosen: Some(chosen.clone()),
        other: other.clone(),
        date_given: field(&pairs, "date_given"),
        place: Some(field(&pairs, "place")),
        lot: lot.clone(),
        lots: lots.clone(),
        ..Default::default()
    };
    let inputs: Vec<ImmunizationInput> = chosen
        .iter()
        .map(|code| {
            let own = if *code == other {
                lots.get("other")
            } else {
                lots.get(code)
            };
            ImmunizationInput {
                vaccine: code.clone(),
                date_given: state.date_given.clone(),
                place: state.place.clone(),
                lot: Some(own.cloned().unwrap_or_else(|| lot.clone())),
            }
        })
        .collect();
    let checked = if inputs.is_empty() {
        Err(vec![crate::registry::citizen::FieldError::new(
            "vaccine",
            t(lang, "Chọn ít nhất một mũi.", "Choose at least one dose."),
        )])
    } else {
        check_doses(&api, pin, &stored, inputs)
    };
    let caller = staff.caller();
    let outcome: Result<usize, (StatusCode, DoseState)> = async {
        let records = match checked {
            Ok(r) => r,
            Err(errors) => {
                state.errors = errors
                    .into_iter()
                    .map(|e| (e.field.to_string(), e.reason))
                    .collect();
                return Err((StatusCode::BAD_REQUEST, state));
            }
        };
        if field(&pairs, "confirm").is_empty() {
            let date = records[0].date_given;
            let on_that_day =
                crate::schedule::forecast_of_stored(&api.app.store, &api.app.rules, &stored, date)
                    .await;
            match on_that_day {
                Ok(f) => {
                    let warnings = not_needed(&api.app.rules, &f, &records, lang);
                    if !warnings.is_empty() {
                        state.warnings = warnings;
                        return Err((StatusCode::CONFLICT, state));
                    }
                }
                Err(e) => {
                    state
                        .errors
                        .push(("form".into(), Problem::internal("forecast", e).detail));
                    return Err((StatusCode::SERVICE_UNAVAILABLE, state));
                }
            }
        }
        match record_doses(&api, &caller, pin, &records).await {
            Ok(()) => Ok(records.len()),
            Err(p) => {
                let field = match p.status.as_u16() {
                    409 => "vaccine",
                    _ => "form",
                };
                state.errors.push((field.into(), p.detail.clone()));
                Err((p.status, state))
            }
        }
    }
    .await;
    match outcome {
        Ok(n) => after_change(back.as_deref(), pin, &format!("recorded={n}")),
        Err((status, dose)) => {
            let l = match load(&api, &staff, pin.as_str()).await {
                Ok(l) => l,
                Err(p) => return error_page(lang, Some(&staff), p),
            };
            let forms = Forms {
                dose,
                back: back.map(|b| safe_next(&b)),
                ..Default::default()
            };
            let notice = None;
            render(&api, &staff, (lang, None), status, &l, &forms, notice)
        }
    }
}

/// `POST /staff/citizens/{pin}/immunizations/remove`: a wrong dose out, with its reason.
pub async fn remove_dose_form(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    axum::extract::Path(pin): Path,
    body: String,
) -> Response {
    let pairs = query_pairs(Some(&body));
    let (lang, _) = lang_of(&headers, &[]);
    let (pin, _) = match form_target(&api, &staff, &pin, &pairs, Permission::RecordDose).await {
        Ok(x) => x,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let back = Some(field(&pairs, "return")).filter(|b| !b.is_empty());
    let vaccine = field(&pairs, "vaccine").trim().to_uppercase();
    let date = match citizens::parse_date_field("date_given", &field(&pairs, "date_given")) {
        Ok(d) => d,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let reason = field(&pairs, "reason");
    let problem = match check_reason(&reason) {
        Err(e) => e.reason,
        Ok(_) => match remove_dose(&api, &staff.caller(), pin, &vaccine, date, &reason).await {
            Ok(_) => return after_change(back.as_deref(), pin, "removed=1"),
            Err(p) if p.status == StatusCode::NOT_FOUND || p.status == StatusCode::BAD_REQUEST => p
                .errors
                .first()
                .map(|e| e.reason.clone())
                .unwrap_or(p.detail),
            Err(p) => return error_page(lang, Some(&staff), p),
        },
    };
    let l = match load(&api, &staff, pin.as_str()).await {
        Ok(l) => l,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let forms = Forms {
        remove: Some(RemoveState {
            vaccine,
            date_given: date,
            reason,
            error: problem,
        }),
        back: back.map(|b| safe_next(&b)),
        ..Default::default()
    };
    render(
        &api,
        &staff,
        (lang, None),
        StatusCode::BAD_REQUEST,
        &l,
        &forms,
        None,
    )
}

/// `POST /staff/citizens/{pin}/contacts`: a guardian's phone corrected (`guardian`, `phone`),
/// or the family's messages on one channel stopped or restarted (`channel`, `stop`).
pub async fn contacts_form(
    State(api): State<Arc<ApiState>>,
    staff: Staff,
    headers: HeaderMap,
    axum::extract::Path(pin): Path,
    body: String,
) -> Response {
    let pairs = query_pairs(Some(&body));
    let (lang, _) = lang_of(&headers, &[]);
    let (pin, _) = match form_target(&api, &staff, &pin, &pairs, Permission::EditContacts).await {
        Ok(x) => x,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let back = Some(field(&pairs, "return")).filter(|b| !b.is_empty());
    let l = match load(&api, &staff, pin.as_str()).await {
        Ok(l) => l,
        Err(p) => return error_page(lang, Some(&staff), p),
    };
    let caller = staff.caller();
    let source = format!("api:{}", caller.0.name);
    let now = Utc::now();
    let channel = field(&pairs, "channel");
    if !channel.is_empty() {
        let Some(ch) = Channel::parse(&channel) else {
            return error_page(lang, Some(&staff), Problem::field("channel", "sms | email"));
        };
        let stop = field(&pairs, "stop") == "1";
        let family = family_of(&l);
        let result = async {
            for m in &family {
                api.app
                    .store
                    .set_opt_out(m.pin, ch, stop, &source, now)
                    .await?;
            }
            let detail = format!("{} {}", ch.as_str(), if stop { "stop" } else { "restart" });
            api.audit
                .persons(
                    &caller,
                    "opt-out",
                    family
                        .iter()
                        .map(|m| (m.pin.as_str(), Some(detail.clone())))
                        .collect::<Vec<_>>(),
                )
                .await?;
            Ok::<_, Problem>(())
        }
        .await;
        return match result {
            Ok(()) => after_change(back.as_deref(), pin, "saved=opt-out"),
            Err(p) => error_page(lang, Some(&staff), p),
        };
    }
    // A phone: only of a guardian this page shows (inside the caller's area).
    let guardian = field(&pairs, "guardian");
    let Some((_, g)) = l
        .guardians()
        .find(|(_, g)| g.personal_id.as_str() == guardian)
    else {
        return error_page(
            lang,
            Some(&staff),
            Problem::field(
                "guardian",
                "không phải người giám hộ trong địa bàn của bạn / not a guardian of this citizen in your area",
            ),
        );
    };
    let raw = field(&pairs, "phone");
    let phone = if raw.trim().is_empty() {
        Ok(None)
    } else {
        Phone::parse(&raw).map(Some)
    };
    let phone = match phone {
        Ok(p) => p,
        Err(reason) => {
            let forms = Forms {
                contact: Some(ContactState {
                    guardian,
                    phone: raw,
                    error: reason,
                }),
                back: back.map(|b| safe_next(&b)),
                ..Default::default()
            };
            return render(
                &api,
                &staff,
                (lang, None),
                StatusCode::BAD_REQUEST,
                &l,
                &forms,
                None,
            );
        }
    };
    let mut changed = g.clone();
    changed.phone = phone;
    let result = async {
        api.app
            .store
            .upsert_citizens(std::slice::from_ref(&changed), &source, now)
            .await?;
        api.audit
            .person(
                &caller,
                changed.personal_id.as_str(),
                "contact",
                Some(format!("phone, guardian of {}", pin.masked())),
            )
            .await?;
        Ok::<_, Problem>(())
    }
    .await;
    match result {
        Ok(()) => after_change(back.as_deref(), pin, "saved=phone"),
        Err(p) => error_page(lang, Some(&staff), p),
    }
}
