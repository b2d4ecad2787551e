//! CDSi's series selection (logic specification chapter 8): every relevant series of an
//! antigen is evaluated and forecast, the best of each series group is chosen — the complete
//! one, else the in-process one, else by score — and an antigen's best series are those of
//! its groups that no equivalent group already covers.

use chrono::NaiveDate;

use super::evaluate::{self, Context, DoseStatus, Target};
use super::forecast::{forecast_series, SeriesForecast, SeriesStatus};
use super::model::SeriesType;

/// Every antigen's series forecast, then the best per series group (CDSi 8.x).
pub(super) fn best_series<'s>(
    c: &Context<'s>,
    as_of: NaiveDate,
) -> (Vec<SeriesForecast<'s>>, Vec<usize>) {
    let antigen = c.antigen;
    let mut all: Vec<SeriesForecast<'s>> = Vec::new();
    let mut completed: Vec<u32> = Vec::new();
    for s in antigen.series.iter().filter(|s| c.relevant(s, as_of)) {
        let ctx = Context {
            completed_groups: &completed,
            ..*c
        };
        let f = forecast_series(&ctx, evaluate::evaluate(&ctx, s), as_of);
        if f.status == SeriesStatus::Complete && !completed.contains(&s.group) {
            completed.push(s.group);
        }
        all.push(f);
    }
    let mut groups: Vec<u32> = all.iter().map(|f| f.eval.series.group).collect();
    groups.sort();
    groups.dedup();
    let prioritized: Vec<(u32, usize)> = (groups.iter())
        .filter_map(|&g| {
            let members: Vec<usize> = (0..all.len())
                .filter(|&i| all[i].eval.series.group == g)
                .collect();
            select(&all, &members, c).map(|i| (g, i))
        })
        .collect();
    // The best series of the antigen (CDSi 8.14): one per series group, unless an
    // equivalent group already protects.
    let equivalent = |i: usize, pred: &dyn Fn(&SeriesForecast) -> bool| {
        let s = all[i].eval.series;
        (prioritized.iter())
            .any(|&(g, j)| j != i && s.equivalent_groups.contains(&g) && pred(&all[j]))
    };
    let mut best = Vec::new();
    for &(_, i) in &prioritized {
        let f = &all[i];
        let keep = match f.status {
            SeriesStatus::Complete | SeriesStatus::Immune => true,
            _ if equivalent(i, &|o| o.status == SeriesStatus::Complete) => false,
            _ if f.eval.series.kind == SeriesType::EvaluationOnly => false,
            SeriesStatus::AgedOut | SeriesStatus::NotRecommended => false,
            _ if f.eval.series.kind == SeriesType::Risk => true,
            _ => !equivalent(i, &|o| o.eval.series.kind == SeriesType::Risk),
        };
        if keep {
            best.push(i);
        }
    }
    if best.is_empty() {
        // Nothing to forecast from: report the status of the first group's choice (aged out,
        // not recommended) without dates.
        if let Some(&(_, i)) = prioritized.first() {
            if matches!(
                all[i].status,
                SeriesStatus::AgedOut | SeriesStatus::NotRecommended
            ) {
                best.push(i);
            }
        }
    }
    (all, best)
}

fn in_process(f: &SeriesForecast) -> bool {
    f.status == SeriesStatus::NotComplete
        && f.eval
            .targets
            .iter()
            .any(|t| matches!(t, Target::Satisfied(_)))
}

/// The prioritized series of one series group.
fn select(all: &[SeriesForecast], members: &[usize], c: &Context) -> Option<usize> {
    let dob = c.patient.dob;
    let kind = |i: usize| all[i].eval.series.kind;
    // Only the risk series of the best priority ("A" before "B") are candidates.
    let best_risk = (members.iter())
        .filter(|&&i| kind(i) == SeriesType::Risk)
        .map(|&i| all[i].eval.series.priority.as_str())
        .min();
    let mut scorable: Vec<usize> = (members.iter().copied())
        .filter(|&i| {
            let f = &all[i];
            let s = f.eval.series;
            match s.kind {
                SeriesType::Risk => Some(s.priority.as_str()) == best_risk,
                SeriesType::EvaluationOnly => f.status == SeriesStatus::Complete,
                SeriesType::Standard => {
                    let first_valid = (f.eval.doses.iter())
                        .find(|d| d.status == Some(DoseStatus::Valid))
                        .map(|d| d.date);
                    match first_valid {
                        Some(d) => s.max_age_to_start.is_none_or(|m| d < m.add_to(dob)),
                        None => false,
                    }
                }
            }
        })
        .collect();
    let default = (members.iter().copied()).find(|&i| all[i].eval.series.default_series);
    // No standard series begun and no default: every standard series is a candidate.
    let begun =
        (members.iter()).any(|&i| kind(i) == SeriesType::Standard && all[i].eval.valid_count() > 0);
    if !begun && default.is_none() {
        for &i in members {
            if kind(i) == SeriesType::Standard && !scorable.contains(&i) {
                scorable.push(i);
            }
        }
        scorable.sort_unstable();
    }
    let scorable = if scorable.is_empty() {
        let any_default = default.is_some();
        if any_default {
            return default;
        }
        members.to_vec()
    } else {
        scorable
    };
    if scorable.len() == 1 {
        return Some(scorable[0]);
    }
    let complete: Vec<usize> = (scorable.iter().copied())
        .filter(|&i| all[i].status == SeriesStatus::Complete)
        .collect();
    if complete.len() == 1 {
        return Some(complete[0]);
    }
    let process: Vec<usize> = (scorable.iter().copied())
        .filter(|&i| in_process(&all[i]))
        .collect();
    if complete.is_empty() && process.len() == 1 {
        return Some(process[0]);
    }
    if complete.is_empty() && process.is_empty() {
        if let Some(d) = (scorable.iter().copied()).find(|&i| all[i].eval.series.default_series) {
            return Some(d);
        }
    }
    // CDSi tables 8-5 to 8-11: score the complete series among themselves, else those in
    // progress, else (no valid dose anywhere) every candidate, each way by its own table.
    let (pool, kind) = if complete.len() >= 2 {
        (complete, Pool::Complete)
    } else if process.len() >= 2 {
        (process, Pool::InProcess)
    } else {
        (scorable, Pool::NoValidDose)
    };
    // +win alone at the best value, 0 tied there, −lose elsewhere.
    let rank = |mine: i64, best: i64, tied: usize, win: i32, lose: i32| {
        if mine != best {
            -lose
        } else if tied == 1 {
            win
        } else {
            0
        }
    };
    let measure = |f: &dyn Fn(usize) -> i64, i: usize, higher_wins: bool| {
        let values: Vec<i64> = pool.iter().map(|&j| f(j)).collect();
        let best = if higher_wins {
            *values.iter().max().unwrap_or(&0)
        } else {
            *values.iter().min().unwrap_or(&0)
        };
        (f(i), best, values.iter().filter(|&&v| v == best).count())
    };
    let valid = |j: usize| all[j].eval.valid_count() as i64;
    let remaining = |j: usize| {
        (all[j].eval.targets.iter())
            .filter(|t| matches!(t, Target::Open))
            .count() as i64
    };
    // The earliest the series could be finished, as days from the birth (never: i64::MAX).
    let finish = |j: usize| match finish_date(&all[j], c) {
        Some(d) => (d - dob).num_days(),
        None => i64::MAX,
    };
    let start = |j: usize| {
        (all[j].next.as_ref())
            .map(|n| (n.earliest - dob).num_days())
            .unwrap_or(i64::MAX)
    };
    let completable = |j: usize| finish_date(&all[j], c).is_some();
    let score = |i: usize| -> i32 {
        let f = &all[i];
        let product = f.eval.series.product_path;
        match kind {
            Pool::Complete => {
                let (m, b, t) = measure(&valid, i, true);
                rank(m, b, t, 1, 1)
            }
            Pool::InProcess => {
                let mut s = 0;
                if product {
                    let all_valid =
                        (f.eval.doses.iter()).all(|d| d.status == Some(DoseStatus::Valid));
                    s += if all_valid { 2 } else { -2 };
                }
                s += if completable(i) { 3 } else { -3 };
                let (m, b, t) = measure(&valid, i, true);
                s += rank(m, b, t, 2, 2);
                let (m, b, t) = measure(&remaining, i, false);
                s += rank(m, b, t, 2, 2);
                if completable(i) {
                    let (m, b, t) = measure(&finish, i, false);
                    s += rank(m, b, t, 1, 1);
                } else {
                    s -= 1;
                }
                s
            }
            Pool::NoValidDose => {
                let (m, b, t) = measure(&start, i, false);
                let mut s = rank(m, b, t, 1, 1);
                s += if completable(i) { 1 } else { -1 };
                s += if product { -1 } else { 1 };
                s
            }
        }
    };
    pool.iter().copied().max_by(|&a, &b| {
        let (sa, sb) = (score(a), score(b));
        sa.cmp(&sb)
            .then(
                all[b]
                    .eval
                    .series
                    .preference
                    .cmp(&all[a].eval.series.preference),
            )
            .then(b.cmp(&a))
    })
}

#[derive(Clone, Copy)]
enum Pool {
    Complete,
    InProcess,
    NoValidDose,
}

/// When the series could be finished: the next dose's earliest date plus the minimum
/// intervals of the doses after it; None when it cannot be finished before the last dose's
/// maximum age (or has nothing left to forecast).
fn finish_date(f: &SeriesForecast, c: &Context) -> Option<NaiveDate> {
    let next = f.next.as_ref()?;
    let doses = &f.eval.series.dose;
    let mut date = next.earliest;
    for d in doses.iter().skip(f.eval.next + 1) {
        let step = (d.interval.iter())
            .filter(|i| i.from == super::model::From::Previous)
            .filter_map(|i| i.min)
            .map(|m| m.add_to(date))
            .max();
        if let Some(s) = step {
            date = date.max(s);
        }
    }
    let max_age = (doses.iter())
        .flat_map(|d| d.age.iter().filter_map(|a| a.max))
        .map(|m| m.add_to(c.patient.dob))
        .max();
    match max_age {
        Some(m) if date >= m => None,
        _ => Some(date),
    }
}
