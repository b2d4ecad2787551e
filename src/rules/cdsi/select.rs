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
    let scorable: Vec<usize> = (members.iter().copied())
        .filter(|&i| {
            let f = &all[i];
            let s = f.eval.series;
            match s.kind {
                SeriesType::Risk => true,
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
    let pool = if complete.len() >= 2 {
        complete
    } else if process.len() >= 2 {
        process
    } else {
        if default.is_some() && scorable.iter().all(|&i| all[i].eval.valid_count() == 0) {
            return default;
        }
        scorable
    };
    let score = |i: usize| -> i32 {
        let f = &all[i];
        let mut s = 0;
        let valid = |j: usize| all[j].eval.valid_count();
        let most = pool.iter().map(|&j| valid(j)).max().unwrap_or(0);
        let tied = pool.iter().filter(|&&j| valid(j) == most).count();
        s += if valid(i) == most {
            if tied == 1 {
                2
            } else {
                0
            }
        } else {
            -2
        };
        let remaining = |j: usize| {
            (all[j].eval.targets.iter())
                .filter(|t| matches!(t, Target::Open))
                .count()
        };
        let fewest = pool.iter().map(|&j| remaining(j)).min().unwrap_or(0);
        let tied = pool.iter().filter(|&&j| remaining(j) == fewest).count();
        s += if remaining(i) == fewest {
            if tied == 1 {
                2
            } else {
                0
            }
        } else {
            -2
        };
        if f.eval.series.product_path {
            let all_valid = f
                .eval
                .doses
                .iter()
                .all(|d| d.status == Some(DoseStatus::Valid));
            s += if all_valid { 2 } else { -2 };
        }
        let finish = |j: usize| all[j].next.as_ref().map(|n| n.earliest);
        let soonest = pool.iter().filter_map(|&j| finish(j)).min();
        if let (Some(mine), Some(first)) = (finish(i), soonest) {
            s += if mine == first { 1 } else { -1 };
        }
        if f.status == SeriesStatus::AgedOut || f.status == SeriesStatus::NotRecommended {
            s -= 3;
        }
        s
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
