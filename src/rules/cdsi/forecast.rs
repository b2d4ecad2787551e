//! CDSi's forecast steps (chapters 7–9): what each series says next, the best series of each
//! antigen, and one forecast per vaccine group.

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::evaluate::{self, Context, DoseStatus, Evaluated, Given, Patient, Reason, Target};
use super::model::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeriesStatus {
    NotComplete,
    Complete,
    AgedOut,
    Immune,
    Contraindicated,
    NotRecommended,
}

impl SeriesStatus {
    pub fn cdc(self) -> &'static str {
        match self {
            SeriesStatus::NotComplete => "Not complete",
            SeriesStatus::Complete => "Complete",
            SeriesStatus::AgedOut => "Aged out",
            SeriesStatus::Immune => "Immune",
            SeriesStatus::Contraindicated => "Contraindicated",
            SeriesStatus::NotRecommended => "Not recommended",
        }
    }
}

/// The next dose: its number (1-based) and dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextDose {
    pub dose: u32,
    pub earliest: NaiveDate,
    pub recommended: NaiveDate,
    pub past_due: Option<NaiveDate>,
    pub latest: Option<NaiveDate>,
}

/// One series after evaluation and forecast.
#[derive(Debug, Clone)]
pub struct SeriesForecast<'s> {
    pub eval: Evaluated<'s>,
    pub status: SeriesStatus,
    pub next: Option<NextDose>,
    /// The next target dose has intervals that all override (CDSi "interval priority").
    pub priority: bool,
}

/// One dose's verdict in one series, for the forecast's `evaluations`.
#[derive(Debug, Clone, Serialize)]
pub struct DoseEvaluation {
    pub record: usize,
    pub antigen: String,
    pub series: String,
    pub status: DoseStatus,
    #[serde(skip)]
    pub reason: Option<Reason>,
    /// True in the series the forecast was chosen from.
    pub selected: bool,
}

/// A vaccine group's forecast.
#[derive(Debug, Clone)]
pub struct GroupForecast {
    /// "dtap", "mmr", …
    pub group: String,
    pub status: SeriesStatus,
    pub next: Option<NextDose>,
    pub evaluations: Vec<DoseEvaluation>,
    /// The vaccines the data names for forecasting the next dose (`forecastVaccineType`).
    pub forecast_vaccines: Vec<String>,
    /// Every series considered, with what it said (for explaining a choice).
    pub considered: Vec<Considered>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Considered {
    pub antigen: String,
    pub series: String,
    pub status: SeriesStatus,
    pub next: Option<NextDose>,
    pub selected: bool,
}

fn minus_day(d: NaiveDate) -> NaiveDate {
    d.checked_sub_days(Days::new(1)).unwrap_or(d)
}

/// Forecast one evaluated series on `as_of`.
pub(super) fn forecast_series<'s>(
    c: &Context,
    mut e: Evaluated<'s>,
    as_of: NaiveDate,
) -> SeriesForecast<'s> {
    let series = e.series;
    let done = |e: Evaluated<'s>, status| SeriesForecast {
        eval: e,
        status,
        next: None,
        priority: false,
    };
    if let Some(min) = series.min_age_to_start {
        if e.valid_count() == 0 && as_of < min.add_to(c.patient.dob) {
            return done(e, SeriesStatus::NotRecommended);
        }
    }
    let mut reference = as_of;
    for _round in 0..series.dose.len() + 2 {
        // Skip what the forecast does not need, on the reference date.
        while let Some(target) = series.dose.get(e.next) {
            match e.targets[e.next] {
                Target::Satisfied(_) if !target.recurring => e.next += 1,
                Target::Skipped => e.next += 1,
                _ if evaluate::skips(c, &e, target, SkipContext::Forecast, reference) => {
                    e.targets[e.next] = match e.targets[e.next] {
                        Target::Open => Target::Skipped,
                        t => t,
                    };
                    e.next += 1;
                }
                _ => break,
            }
        }
        let Some(target) = series.dose.get(e.next) else {
            let any = e.targets.iter().any(|t| matches!(t, Target::Satisfied(_)));
            let status = if any {
                SeriesStatus::Complete
            } else {
                SeriesStatus::NotRecommended
            };
            return SeriesForecast {
                eval: e,
                status,
                next: None,
                priority: false,
            };
        };
        if let Some(end) = target.season.as_ref().and_then(|s| s.end) {
            if as_of > end {
                return done(e, SeriesStatus::NotRecommended);
            }
        }
        let (status, next, priority) = dates(c, &e, target, as_of);
        if status != SeriesStatus::NotComplete {
            return SeriesForecast {
                eval: e,
                status,
                next: None,
                priority: false,
            };
        }
        let next = next.expect("dates for a series not complete");
        // CDSi checks the skip again on the earliest date: a dose not needed by then is not
        // forecast.
        if next.earliest != reference
            && evaluate::skips(c, &e, target, SkipContext::Forecast, next.earliest)
        {
            reference = next.earliest;
            continue;
        }
        let dose = 1 + count_satisfied(&e) as u32;
        return SeriesForecast {
            eval: e,
            status,
            next: Some(NextDose { dose, ..next }),
            priority,
        };
    }
    done(e, SeriesStatus::NotRecommended)
}

/// Target doses satisfied (a recurring one once); a seasonal one only by a dose in season.
fn count_satisfied(e: &Evaluated) -> usize {
    (e.targets.iter().enumerate())
        .filter(|(i, t)| match t {
            Target::Satisfied(at) => {
                let start = e.series.dose[*i].season.as_ref().and_then(|s| s.start);
                start.is_none_or(|s| e.doses[*at].date >= s)
            }
            _ => false,
        })
        .count()
}

/// The next dose's status and dates (CDSi 7.x).
fn dates(
    c: &Context,
    e: &Evaluated,
    target: &SeriesDose,
    as_of: NaiveDate,
) -> (SeriesStatus, Option<NextDose>, bool) {
    let dob = c.patient.dob;
    let ages = evaluate::in_force(&target.age, as_of, |a| (a.effective, a.cessation));
    let max = ages.and_then(|a| a.max).map(|m| m.add_to(dob));
    if max.is_some_and(|m| as_of >= m) {
        return (SeriesStatus::AgedOut, None, false);
    }
    let at = e.doses.len();
    let mut earliest = ages
        .and_then(|a| a.min)
        .map(|m| m.add_to(dob))
        .unwrap_or(dob);
    let mut rec_interval: Option<NaiveDate> = None;
    let mut due_interval: Option<NaiveDate> = None;
    let intervals: Vec<&Interval> = evaluate::intervals_on(&target.interval, as_of).collect();
    let priority = !intervals.is_empty() && intervals.iter().all(|i| i.priority.is_some());
    for i in &intervals {
        let Some(from) = evaluate::reference(c, e, i, at, NaiveDate::MAX) else {
            continue;
        };
        if let Some(min) = i.min {
            earliest = earliest.max(min.add_to(from));
        }
        if let Some(r) = i.earliest_rec {
            let d = r.add_to(from);
            rec_interval = Some(rec_interval.map_or(d, |x| x.max(d)));
        }
        if let Some(r) = i.latest_rec {
            let d = minus_day(r.add_to(from));
            due_interval = Some(due_interval.map_or(d, |x| x.max(d)));
        }
    }
    // A live vaccine not before the end of a conflict with one already given.
    for l in &c.schedule.live_virus_conflict {
        if target.preferable.iter().any(|p| p.vaccine == l.current) {
            for g in c.given.iter().filter(|g| g.vaccine == l.previous) {
                earliest = earliest.max(l.end.add_to(g.date));
            }
        }
    }
    if let Some(start) = target.season.as_ref().and_then(|s| s.start) {
        earliest = earliest.max(start);
    }
    if let Some(last) = e.doses.iter().rev().find(|d| d.inadvertent) {
        earliest = earliest.max(last.date);
    }
    if let Some(prev) = e.previous(at) {
        earliest = earliest.max(prev.date);
    }
    if max.is_some_and(|m| earliest >= m) {
        return (SeriesStatus::AgedOut, None, false);
    }
    let recommended = (ages.and_then(|a| a.earliest_rec).map(|r| r.add_to(dob)))
        .or(rec_interval)
        .unwrap_or(earliest)
        .max(earliest);
    let past_due = (ages
        .and_then(|a| a.latest_rec)
        .map(|r| minus_day(r.add_to(dob))))
    .or(due_interval)
    .map(|d| d.max(earliest));
    let next = NextDose {
        dose: 0,
        earliest,
        recommended,
        past_due,
        latest: max.map(minus_day),
    };
    (SeriesStatus::NotComplete, Some(next), priority)
}

/// The forecast of every vaccine group on `as_of`.
pub fn forecast(
    schedule: &Schedule,
    patient: &Patient,
    given: &[Given],
    as_of: NaiveDate,
) -> Vec<GroupForecast> {
    let mut out = Vec::new();
    for group in &schedule.vaccine_group {
        let mut parts: Vec<(SeriesStatus, Option<NextDose>, bool)> = Vec::new();
        let mut evaluations = Vec::new();
        let mut considered = Vec::new();
        let mut forecast_vaccines: Vec<String> = Vec::new();
        let mut last_given: Option<NaiveDate> = None;
        for name in &group.antigens {
            let Some(antigen) = schedule.antigen.iter().find(|a| &a.name == name) else {
                continue;
            };
            let carrying = evaluate::carrying(schedule, patient, given, &antigen.name);
            let c = Context {
                schedule,
                antigen,
                patient,
                given,
                completed_groups: &[],
                carrying: &carrying,
            };
            if let Some(status) = immune_or_contraindicated(&c) {
                parts.push((status, None, false));
                continue;
            }
            let (all, best) = super::select::best_series(&c, as_of);
            for (i, f) in all.iter().enumerate() {
                considered.push(Considered {
                    antigen: antigen.name.clone(),
                    series: f.eval.series.name.clone(),
                    status: f.status,
                    next: f.next.clone(),
                    selected: best.contains(&i),
                });
                for d in &f.eval.doses {
                    last_given = last_given.max(Some(d.date));
                    evaluations.push(DoseEvaluation {
                        record: d.record,
                        antigen: antigen.name.clone(),
                        series: f.eval.series.name.clone(),
                        status: d.status.unwrap_or(DoseStatus::Extraneous),
                        reason: d.reason,
                        selected: best.contains(&i),
                    });
                }
            }
            let chosen: Vec<&SeriesForecast> = best.iter().map(|&i| &all[i]).collect();
            let mut usable: Vec<&&SeriesForecast> = (chosen.iter())
                .filter(|f| {
                    !matches!(
                        f.status,
                        SeriesStatus::AgedOut | SeriesStatus::NotRecommended
                    )
                })
                .collect();
            // A risk series forecasts apart from the others, and is the one reported.
            if usable
                .iter()
                .any(|f| f.eval.series.kind == SeriesType::Risk)
            {
                usable.retain(|f| f.eval.series.kind == SeriesType::Risk);
            }
            if usable.is_empty() {
                let status = chosen
                    .first()
                    .map(|f| f.status)
                    .unwrap_or(SeriesStatus::NotRecommended);
                parts.push((status, None, false));
            } else {
                for f in &usable {
                    let Some(target) = f.eval.series.dose.get(f.eval.next) else {
                        continue;
                    };
                    for v in target.preferable.iter().filter(|v| v.forecast) {
                        if !forecast_vaccines.contains(&v.vaccine) {
                            forecast_vaccines.push(v.vaccine.clone());
                        }
                    }
                }
                let status = combine(usable.iter().map(|f| f.status));
                let next = min_dates(usable.iter().filter_map(|f| f.next.clone()));
                parts.push((status, next, usable.iter().any(|f| f.priority)));
            }
        }
        if parts.is_empty() {
            continue;
        }
        let status = combine(parts.iter().map(|p| p.0));
        let nexts: Vec<&NextDose> = parts.iter().filter_map(|p| p.1.as_ref()).collect();
        let next = if status == SeriesStatus::NotComplete && !nexts.is_empty() {
            let priority = parts.iter().any(|p| p.2);
            let earliest = if priority {
                let min = nexts.iter().map(|n| n.earliest).min().unwrap();
                last_given.map_or(min, |l| min.max(l))
            } else {
                nexts.iter().map(|n| n.earliest).max().unwrap()
            };
            let recommended = nexts
                .iter()
                .map(|n| n.recommended)
                .min()
                .unwrap()
                .max(earliest);
            let past_due = nexts
                .iter()
                .filter_map(|n| n.past_due)
                .min()
                .map(|d| d.max(earliest));
            let latest = nexts.iter().filter_map(|n| n.latest).min();
            let dose = if group.administer_full_group {
                nexts.iter().map(|n| n.dose).min().unwrap()
            } else {
                nexts.iter().map(|n| n.dose).max().unwrap()
            };
            Some(NextDose {
                dose,
                earliest,
                recommended,
                past_due,
                latest,
            })
        } else {
            None
        };
        out.push(GroupForecast {
            group: group.id.clone(),
            status,
            next,
            evaluations,
            forecast_vaccines,
            considered,
        });
    }
    out
}

fn combine(statuses: impl Iterator<Item = SeriesStatus>) -> SeriesStatus {
    let all: Vec<SeriesStatus> = statuses.collect();
    for s in [
        SeriesStatus::Contraindicated,
        SeriesStatus::AgedOut,
        SeriesStatus::NotRecommended,
        SeriesStatus::NotComplete,
    ] {
        if all.contains(&s) {
            return s;
        }
    }
    if !all.is_empty() && all.iter().all(|s| *s == SeriesStatus::Immune) {
        SeriesStatus::Immune
    } else {
        SeriesStatus::Complete
    }
}

fn min_dates(nexts: impl Iterator<Item = NextDose>) -> Option<NextDose> {
    nexts.reduce(|a, b| NextDose {
        dose: a.dose.max(b.dose),
        earliest: a.earliest.min(b.earliest),
        recommended: a.recommended.min(b.recommended),
        past_due: match (a.past_due, b.past_due) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        },
        latest: match (a.latest, b.latest) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        },
    })
}

fn immune_or_contraindicated(c: &Context) -> Option<SeriesStatus> {
    let obs = &c.patient.observations;
    let a = c.antigen;
    if a.immunity_codes.iter().any(|x| obs.contains(x))
        || (a.immunity_birth_before.iter())
            .any(|b| c.patient.dob < b.date && !b.exclusion_codes.iter().any(|x| obs.contains(x)))
    {
        return Some(SeriesStatus::Immune);
    }
    if a.contraindication_codes.iter().any(|x| obs.contains(x)) {
        return Some(SeriesStatus::Contraindicated);
    }
    None
}
