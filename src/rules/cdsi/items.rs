//! A CDSi forecast in vongdoi's forecast: the next dose of each vaccine group as an item
//! (series = the group's id, `due` = recommended, `overdue` = past due), each group's status,
//! and every record's verdict. This is what `vongdoi forecast` shows with a converted
//! rules folder (docs/interface.md, "CDSi schedules").

use std::sync::Arc;

use chrono::{Days, NaiveDate};

use super::evaluate::{DoseStatus, Gender, Given, Patient};
use super::forecast::{forecast, GroupForecast, SeriesStatus};
use super::model::Schedule;
use crate::registry::{FacilityKind, Sex};
use crate::rules::duration::Duration;
use crate::rules::forecast::{
    Evaluation, Forecast, Item, ItemInfo, ItemKey, NoticePolicy, SeriesState, Status,
};
use crate::rules::{DoseRecord, Subject};

impl SeriesStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SeriesStatus::NotComplete => "not-complete",
            SeriesStatus::Complete => "complete",
            SeriesStatus::AgedOut => "aged-out",
            SeriesStatus::Immune => "immune",
            SeriesStatus::Contraindicated => "contraindicated",
            SeriesStatus::NotRecommended => "not-recommended",
        }
    }
}

impl DoseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DoseStatus::Valid => "valid",
            DoseStatus::NotValid => "not-valid",
            DoseStatus::Extraneous => "extraneous",
            DoseStatus::SubStandard => "sub-standard",
        }
    }
}

/// Adds the CDSi groups' forecast to `out`. `records` are the citizen's, dated up to the
/// as-of date (docs/domain.md §3 step 1).
pub(crate) fn add(
    schedule: &Schedule,
    subject: &Subject,
    records: &[&DoseRecord],
    as_of: NaiveDate,
    out: &mut Forecast,
) {
    let patient = Patient {
        dob: subject.date_of_birth,
        gender: match subject.sex {
            Sex::Female => Gender::Female,
            Sex::Male => Gender::Male,
        },
        observations: Vec::new(),
    };
    let given: Vec<Given> = (records.iter())
        .map(|r| Given {
            date: r.date_given,
            vaccine: r.vaccine.to_string(),
            mvx: None,
        })
        .collect();
    for g in forecast(schedule, &patient, &given, as_of) {
        // A group none of whose series applies and that nothing was given for says nothing.
        if g.considered.is_empty() {
            continue;
        }
        out.series_status.push(SeriesState {
            series: g.group.clone(),
            status: g.status.as_str(),
        });
        out.evaluations.extend(evaluations(&g, &given));
        if let Some(item) = next_item(schedule, &g, as_of) {
            out.items.push(item);
        }
    }
}

/// One verdict per record of the group: the selected series' (the first that did not count,
/// when the group's antigens disagree).
fn evaluations(g: &GroupForecast, given: &[Given]) -> Vec<Evaluation> {
    let mut records: Vec<usize> = g.evaluations.iter().map(|e| e.record).collect();
    records.sort_unstable();
    records.dedup();
    (records.into_iter())
        .filter_map(|r| {
            let of: Vec<_> = g.evaluations.iter().filter(|e| e.record == r).collect();
            let chosen: Vec<_> = of.iter().filter(|e| e.selected).collect();
            let pool = if chosen.is_empty() {
                of.iter().collect()
            } else {
                chosen
            };
            let verdict = (pool.iter())
                .find(|e| e.status != DoseStatus::Valid)
                .or_else(|| pool.first())?;
            Some(Evaluation {
                series: g.group.clone(),
                vaccine: given[r].vaccine.clone(),
                date_given: given[r].date,
                status: verdict.status.as_str(),
                reason: verdict.reason.map(|x| x.cdc().to_string()),
                reason_vi: verdict.reason.map(|x| x.vi()),
            })
        })
        .collect()
}

fn next_item(schedule: &Schedule, g: &GroupForecast, as_of: NaiveDate) -> Option<Item> {
    let next = g.next.as_ref()?;
    let group = schedule.vaccine_group.iter().find(|v| v.id == g.group)?;
    let expires = next.latest.and_then(|d| d.checked_add_days(Days::new(1)));
    let status = if expires.is_some_and(|e| as_of >= e) {
        Status::Expired
    } else if as_of < next.earliest {
        Status::Upcoming
    } else if as_of < next.recommended {
        Status::Eligible
    } else if next.past_due.is_none_or(|p| as_of < p) {
        Status::Due
    } else {
        Status::Overdue
    };
    // The vaccines the CDSi data names for forecasting this dose.
    let vaccines: Vec<Arc<str>> = g
        .forecast_vaccines
        .iter()
        .map(|v| Arc::from(v.as_str()))
        .collect();
    let info = ItemInfo {
        key: ItemKey::Vaccination {
            series: Arc::from(g.group.as_str()),
            dose: next.dose,
        },
        name_vi: group.name.clone(),
        name_en: group.name.clone(),
        vaccines,
        // No notices: a CDSi schedule is for forecasts until a deployment adds its wording.
        notices: Vec::new(),
        policy: NoticePolicy {
            sender: FacilityKind::Health,
            horizon: Duration::days(NoticePolicy::DEFAULT_HORIZON_DAYS as u32),
            max_reminders: NoticePolicy::DEFAULT_MAX_REMINDERS,
        },
        oral: false,
    };
    Some(Item {
        info: Arc::new(info),
        status,
        earliest: Some(next.earliest),
        due: Some(next.recommended),
        overdue: next.past_due,
        expires,
        completed_on: None,
    })
}
