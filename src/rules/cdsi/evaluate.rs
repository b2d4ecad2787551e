//! CDSi's evaluation steps: each dose a person was given, against each target dose of one
//! series, in date order (logic specification chapter 6).
//!
//! A dose is checked, in this order, for an inadvertent vaccine, its age, its intervals (the
//! preferable ones, else the allowable one), a live-virus conflict, and its vaccine
//! (preferable, else allowable). A valid dose satisfies the target dose and the series moves
//! on (a recurring dose stays); a dose that is not valid leaves the target dose open and is
//! still the "previous dose" later intervals count from. A target dose may be skipped by its
//! conditional skip (a dose not needed past an age, after enough doses, …).

use chrono::NaiveDate;
use serde::Serialize;

use super::model::*;
use super::span::Span;

const FAR_PAST: NaiveDate = NaiveDate::MIN;
const FAR_FUTURE: NaiveDate = NaiveDate::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Female,
    Male,
    Unknown,
}

impl Gender {
    fn name(self) -> &'static str {
        match self {
            Gender::Female => "Female",
            Gender::Male => "Male",
            Gender::Unknown => "Unknown",
        }
    }
}

/// The person as CDSi sees them.
#[derive(Debug, Clone)]
pub struct Patient {
    pub dob: NaiveDate,
    pub gender: Gender,
    /// Coded observations (CDSi codes, e.g. "055" for a lab-confirmed disease).
    pub observations: Vec<String>,
}

/// One vaccination record.
#[derive(Debug, Clone)]
pub struct Given {
    pub date: NaiveDate,
    /// `CVX<n>`.
    pub vaccine: String,
    pub mvx: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DoseStatus {
    Valid,
    NotValid,
    Extraneous,
    SubStandard,
}

impl DoseStatus {
    /// As the CDC's test cases write it.
    pub fn cdc(self) -> &'static str {
        match self {
            DoseStatus::Valid => "Valid",
            DoseStatus::NotValid => "Not Valid",
            DoseStatus::Extraneous => "Extraneous",
            DoseStatus::SubStandard => "Sub-standard",
        }
    }
}

/// Why a dose did not count, with what a person needs to act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Below the absolute minimum age; `days` before the minimum age.
    TooYoung {
        days: i64,
    },
    TooOld,
    /// Within the absolute minimum interval; `days` before the minimum interval.
    TooSoon {
        days: i64,
    },
    Inadvertent,
    LiveVirusConflict,
    NotAllowedVaccine,
    SeriesComplete,
}

impl Reason {
    /// The CDC's wording (the test cases' `Evaluation_Reason`).
    pub fn cdc(self) -> &'static str {
        match self {
            Reason::TooYoung { .. } => "Age: Too Young",
            Reason::TooOld => "Age: Too Old",
            Reason::TooSoon { .. } => "Interval: too Soon",
            Reason::Inadvertent => "Inadvertent Vaccine",
            Reason::LiveVirusConflict => "Live Virus Conflict",
            Reason::NotAllowedVaccine => "Not a preferable or allowable vaccine",
            Reason::SeriesComplete => "Series Already Complete",
        }
    }

    /// What a nurse reads: "quá sớm 6 ngày so với tuổi tối thiểu".
    pub fn vi(self) -> String {
        match self {
            Reason::TooYoung { days } => format!("quá sớm {days} ngày so với tuổi tối thiểu"),
            Reason::TooOld => "quá tuổi tối đa của mũi này".into(),
            Reason::TooSoon { days } => {
                format!("quá sớm {days} ngày so với khoảng cách tối thiểu từ mũi trước")
            }
            Reason::Inadvertent => "vắc xin này không dùng cho mũi này".into(),
            Reason::LiveVirusConflict => {
                "tiêm quá gần một vắc xin sống khác (cần cách 28 ngày)".into()
            }
            Reason::NotAllowedVaccine => "vắc xin không thuộc danh sách dùng cho mũi này".into(),
            Reason::SeriesComplete => "phác đồ đã đủ mũi, mũi này là thừa".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Open,
    /// Satisfied by the dose at this index of the series' doses.
    Satisfied(usize),
    Skipped,
}

/// One dose as this series judged it.
#[derive(Debug, Clone)]
pub struct Judged {
    /// Index into the person's records.
    pub record: usize,
    pub date: NaiveDate,
    pub vaccine: String,
    pub status: Option<DoseStatus>,
    pub reason: Option<Reason>,
    pub inadvertent: bool,
    /// The target dose (0-based) it satisfied.
    pub target: Option<usize>,
}

/// A series after evaluation: each dose's verdict and each target dose's state.
#[derive(Debug, Clone)]
pub struct Evaluated<'s> {
    pub series: &'s Series,
    pub doses: Vec<Judged>,
    pub targets: Vec<Target>,
    /// The next target dose (0-based); `targets.len()` when none is left.
    pub next: usize,
}

impl Evaluated<'_> {
    pub fn valid_count(&self) -> usize {
        (self.doses.iter())
            .filter(|d| d.status == Some(DoseStatus::Valid))
            .count()
    }

    pub fn satisfied_date(&self, target: usize) -> Option<NaiveDate> {
        match self.targets.get(target) {
            Some(Target::Satisfied(i)) => Some(self.doses[*i].date),
            _ => None,
        }
    }

    /// The last dose that counts as "the previous dose": valid or not valid, not inadvertent.
    pub fn previous(&self, before: usize) -> Option<&Judged> {
        self.doses[..before].iter().rev().find(|d| {
            matches!(d.status, Some(DoseStatus::Valid | DoseStatus::NotValid)) && !d.inadvertent
        })
    }

    pub fn last_satisfying(&self) -> Option<&Judged> {
        self.doses.iter().rev().find(|d| d.target.is_some())
    }
}

/// What evaluation and forecast both look at.
pub struct Context<'a> {
    pub schedule: &'a Schedule,
    pub antigen: &'a Antigen,
    pub patient: &'a Patient,
    pub given: &'a [Given],
    /// Series groups of this antigen already complete ("Completed Series" skips).
    pub completed_groups: &'a [u32],
    /// For each record of `given`, whether it carries this antigen ([`carrying`]): worked out
    /// once per antigen, not again for every series and every skip condition.
    pub carrying: &'a [bool],
}

/// For each record, whether it carries `antigen` (the vaccine carries it at that age).
pub fn carrying(s: &Schedule, p: &Patient, given: &[Given], antigen: &str) -> Vec<bool> {
    given.iter().map(|g| carries(s, p, g, antigen)).collect()
}

impl Context<'_> {
    pub fn at(&self, age: Option<Span>) -> Option<NaiveDate> {
        age.map(|a| a.add_to(self.patient.dob))
    }

    /// The records that carry this antigen, in date order (indices into `given`).
    pub fn antigen_records(&self) -> Vec<usize> {
        // A dose dated before birth is a data error: left out, its index kept for the rest.
        let mut out: Vec<usize> = (0..self.given.len())
            .filter(|&i| self.given[i].date >= self.patient.dob && self.carrying[i])
            .collect();
        out.sort_by_key(|&i| (self.given[i].date, i));
        out
    }

    /// Whether the series applies to this person at all (gender, indications).
    pub fn relevant(&self, s: &Series, as_of: NaiveDate) -> bool {
        if !s.required_gender.is_empty()
            && !s
                .required_gender
                .iter()
                .any(|g| g == self.patient.gender.name())
        {
            return false;
        }
        match s.kind {
            SeriesType::Standard | SeriesType::EvaluationOnly => true,
            SeriesType::Risk => s.indications.iter().any(|i| {
                self.patient.observations.contains(&i.code)
                    && self.at(i.begin_age).unwrap_or(FAR_PAST) <= as_of
                    && as_of < self.at(i.end_age).unwrap_or(FAR_FUTURE)
            }),
        }
    }
}

/// Whether record `g` counts for `antigen` (the vaccine carries it at that age).
pub fn carries(s: &Schedule, p: &Patient, g: &Given, antigen: &str) -> bool {
    (s.cvx.iter().find(|v| v.code == g.vaccine)).is_some_and(|v| {
        v.antigens.iter().any(|a| {
            a.antigen == antigen
                && a.begin_age.map(|x| x.add_to(p.dob)).unwrap_or(FAR_PAST) <= g.date
                && g.date < a.end_age.map(|x| x.add_to(p.dob)).unwrap_or(FAR_FUTURE)
        })
    })
}

/// The entry in force on `date` of several dated ones (the only one when there is one).
pub fn in_force<T>(
    items: &[T],
    date: NaiveDate,
    dates: impl Fn(&T) -> (Option<NaiveDate>, Option<NaiveDate>),
) -> Option<&T> {
    if items.len() == 1 {
        return items.first();
    }
    items.iter().find(|x| {
        let (from, until) = dates(x);
        from.unwrap_or(FAR_PAST) <= date && date <= until.unwrap_or(FAR_FUTURE)
    })
}

fn ages_on(d: &SeriesDose, date: NaiveDate) -> Option<&Ages> {
    in_force(&d.age, date, |a| (a.effective, a.cessation))
}

/// Intervals in force on `date`.
pub fn intervals_on(list: &[Interval], date: NaiveDate) -> impl Iterator<Item = &Interval> {
    list.iter().filter(move |i| {
        i.effective.unwrap_or(FAR_PAST) <= date && date <= i.cessation.unwrap_or(FAR_FUTURE)
    })
}

/// The date an interval counts from, for the dose at `at` (index into the series' doses),
/// or None when it does not apply (no previous dose, target dose never satisfied).
pub fn reference(
    c: &Context,
    e: &Evaluated,
    i: &Interval,
    at: usize,
    date: NaiveDate,
) -> Option<NaiveDate> {
    match &i.from {
        From::Previous => e.previous(at).map(|d| d.date),
        From::TargetDose(n) => e.satisfied_date((*n as usize).checked_sub(1)?),
        // This antigen's doses before this one (a same-day one listed earlier counts), never
        // an inadvertent one, and in a forecast only doses that were judged; other antigens'
        // records before this date.
        From::MostRecent(codes) => {
            let forecast = at >= e.doses.len();
            let own = (e.doses[..at.min(e.doses.len())].iter())
                .filter(|d| codes.contains(&d.vaccine) && !d.inadvertent)
                .filter(|d| {
                    !forecast || matches!(d.status, Some(DoseStatus::Valid | DoseStatus::NotValid))
                })
                .map(|d| d.date);
            let mine: Vec<usize> = e.doses.iter().map(|d| d.record).collect();
            let others = (c.given.iter().enumerate())
                .filter(|(i, g)| !mine.contains(i) && g.date < date && codes.contains(&g.vaccine))
                .map(|(_, g)| g.date);
            own.chain(others).max()
        }
        From::Observation(_) => None,
    }
}

fn days_between(a: NaiveDate, b: NaiveDate) -> i64 {
    (b - a).num_days()
}

/// Evaluates every record carrying the antigen against `series`.
pub fn evaluate<'s>(c: &Context, series: &'s Series) -> Evaluated<'s> {
    let mut e = Evaluated {
        series,
        doses: (c.antigen_records().into_iter())
            .map(|i| Judged {
                record: i,
                date: c.given[i].date,
                vaccine: c.given[i].vaccine.clone(),
                status: None,
                reason: None,
                inadvertent: false,
                target: None,
            })
            .collect(),
        targets: vec![Target::Open; series.dose.len()],
        next: 0,
    };
    for at in 0..e.doses.len() {
        // Skipped target doses pass; the dose is judged against the first one left.
        while let Some(target) = series.dose.get(e.next) {
            let date = e.doses[at].date;
            if skips(c, &e, target, SkipContext::Evaluation, date) {
                // A recurring dose already satisfied stays satisfied: the skip moves on.
                if e.targets[e.next] == Target::Open {
                    e.targets[e.next] = Target::Skipped;
                }
                e.next += 1;
                continue;
            }
            judge(c, &mut e, at, target);
            if e.doses[at].status == Some(DoseStatus::Valid) {
                e.doses[at].target = Some(e.next);
                e.targets[e.next] = Target::Satisfied(at);
                if !target.recurring {
                    e.next += 1;
                }
            }
            break;
        }
        if e.doses[at].status.is_none() {
            e.doses[at].status = Some(DoseStatus::Extraneous);
            e.doses[at].reason = Some(Reason::SeriesComplete);
        }
    }
    e
}

fn judge(c: &Context, e: &mut Evaluated, at: usize, target: &SeriesDose) {
    let (date, vaccine) = (e.doses[at].date, e.doses[at].vaccine.clone());
    let verdict = |e: &mut Evaluated, status, reason| {
        e.doses[at].status = Some(status);
        e.doses[at].reason = reason;
    };
    if target.inadvertent.contains(&vaccine) {
        e.doses[at].inadvertent = true;
        return verdict(e, DoseStatus::NotValid, Some(Reason::Inadvertent));
    }
    if let Some(ages) = ages_on(target, date) {
        let abs_min = c.at(ages.abs_min.or(ages.min)).unwrap_or(FAR_PAST);
        if date < abs_min {
            // Counted from the minimum age, the earliest date the forecast shows.
            let min = c.at(ages.min.or(ages.abs_min)).unwrap_or(abs_min);
            let days = days_between(date, min);
            return verdict(e, DoseStatus::NotValid, Some(Reason::TooYoung { days }));
        }
        if date >= c.at(ages.max).unwrap_or(FAR_FUTURE) {
            return verdict(e, DoseStatus::Extraneous, Some(Reason::TooOld));
        }
    }
    if let Some(days) = too_soon(c, e, at, target, date) {
        return verdict(e, DoseStatus::NotValid, Some(Reason::TooSoon { days }));
    }
    if live_virus_conflict(c, &vaccine, date) {
        return verdict(e, DoseStatus::NotValid, Some(Reason::LiveVirusConflict));
    }
    let mvx = c.given[e.doses[at].record].mvx.as_deref();
    let fits = |u: &VaccineUse| {
        u.vaccine == vaccine
            && u.mvx
                .as_deref()
                .is_none_or(|m| mvx.is_some_and(|x| x.eq_ignore_ascii_case(m)))
            && c.at(u.begin_age).unwrap_or(FAR_PAST) <= date
            && date < c.at(u.end_age).unwrap_or(FAR_FUTURE)
    };
    if target.preferable.iter().any(fits) || target.allowable.iter().any(fits) {
        verdict(e, DoseStatus::Valid, None)
    } else {
        verdict(e, DoseStatus::NotValid, Some(Reason::NotAllowedVaccine))
    }
}

/// How many days too soon the dose came, when no preferable interval set and no allowable
/// interval is met.
fn too_soon(
    c: &Context,
    e: &Evaluated,
    at: usize,
    target: &SeriesDose,
    date: NaiveDate,
) -> Option<i64> {
    let mut short = 0;
    for i in intervals_on(&target.interval, date) {
        let Some(from) = reference(c, e, i, at, date) else {
            continue;
        };
        let abs_min = (i.abs_min.or(i.min).map(|s| s.add_to(from))).unwrap_or(FAR_PAST);
        if date < abs_min {
            // Counted from the minimum interval, as the forecast's earliest date is.
            let min = i.min.map(|s| s.add_to(from)).unwrap_or(abs_min);
            short = short.max(days_between(date, min));
        }
    }
    if short == 0 {
        return None;
    }
    let allowed = intervals_on(&target.allowable_interval, date).any(|i| {
        reference(c, e, i, at, date)
            .is_some_and(|from| date >= i.abs_min.map(|s| s.add_to(from)).unwrap_or(FAR_PAST))
    });
    (!allowed).then_some(short)
}

fn live_virus_conflict(c: &Context, vaccine: &str, date: NaiveDate) -> bool {
    (c.schedule.live_virus_conflict.iter())
        .filter(|l| l.current == vaccine)
        .any(|l| {
            (c.given.iter())
                .filter(|g| g.date < date && g.vaccine == l.previous)
                .any(|g| l.begin.add_to(g.date) <= date && date < l.min_end.add_to(g.date))
        })
}

/// Whether `target`'s conditional skip applies in `context` on `date`.
pub fn skips(
    c: &Context,
    e: &Evaluated,
    target: &SeriesDose,
    context: SkipContext,
    date: NaiveDate,
) -> bool {
    target.skip.iter().any(|skip| {
        if skip.context != context && skip.context != SkipContext::Both {
            return false;
        }
        let mut sets = skip.set.iter().map(|set| set_met(c, e, set, context, date));
        match skip.logic {
            Logic::And => sets.all(|m| m),
            Logic::Or => sets.any(|m| m),
        }
    })
}

fn set_met(
    c: &Context,
    e: &Evaluated,
    set: &SkipSet,
    context: SkipContext,
    date: NaiveDate,
) -> bool {
    if date < set.effective.unwrap_or(FAR_PAST) || date > set.cessation.unwrap_or(FAR_FUTURE) {
        return false;
    }
    let mut met = set
        .condition
        .iter()
        .map(|k| condition_met(c, e, k, context, date));
    match set.logic {
        Logic::And => met.all(|m| m),
        Logic::Or => met.any(|m| m),
    }
}

fn condition_met(
    c: &Context,
    e: &Evaluated,
    k: &Condition,
    context: SkipContext,
    date: NaiveDate,
) -> bool {
    let age_from = c.at(k.begin_age).unwrap_or(FAR_PAST);
    let age_until = c.at(k.end_age).unwrap_or(FAR_FUTURE);
    let in_dates = |d: NaiveDate| {
        k.start_date.unwrap_or(FAR_PAST) <= d && d <= k.end_date.unwrap_or(FAR_FUTURE)
    };
    match k.kind {
        ConditionKind::Age => age_from <= date && date < age_until,
        ConditionKind::Interval => match (e.last_satisfying(), k.interval) {
            (Some(last), Some(span)) => date >= span.add_to(last.date),
            _ => false,
        },
        ConditionKind::CompletedSeries => k
            .series_groups
            .iter()
            .any(|g| c.completed_groups.contains(g)),
        ConditionKind::VaccineCountByAge
        | ConditionKind::VaccineCountByDate
        | ConditionKind::VaccineCountByDateAndAge => {
            let by_age = k.kind != ConditionKind::VaccineCountByDate;
            let by_date = k.kind != ConditionKind::VaccineCountByAge;
            let window = |d: NaiveDate| {
                (!by_age || (age_from <= d && d <= age_until)) && (!by_date || in_dates(d))
            };
            let of_type = |v: &str, record: usize| {
                if k.vaccines.is_empty() {
                    c.carrying[record]
                } else {
                    k.vaccines.iter().any(|x| x == v)
                }
            };
            // Evaluating a dose counts the doses before it; a forecast counts all to date.
            let before = |d: NaiveDate| match context {
                SkipContext::Evaluation => d < date,
                _ => d <= date,
            };
            let count = match k.dose_type.unwrap_or(DoseType::Total) {
                DoseType::Valid => (e.doses.iter())
                    .filter(|d| d.status == Some(DoseStatus::Valid) && before(d.date))
                    .filter(|d| window(d.date) && of_type(&d.vaccine, d.record))
                    .count(),
                DoseType::Total => (c.given.iter().enumerate())
                    .filter(|(_, g)| before(g.date))
                    .filter(|(i, g)| window(g.date) && of_type(&g.vaccine, *i))
                    .count(),
            } as u32;
            let n = k.dose_count.unwrap_or(0);
            match k.count_logic.unwrap_or(CountLogic::Greater) {
                CountLogic::Greater => count > n,
                CountLogic::Equal => count == n,
                CountLogic::Less => count < n,
            }
        }
    }
}
