//! Start windows (issue #17): several versions of one series, chosen by the age at which the
//! child started it. This is CDSi's "several series per antigen, selected by the age at the
//! first valid dose" in vongdoi's rule language: Vietnam's `dtp` has the infant schedule
//! (`start_before = "12 months"`) and WHO's catch-up for late starters (`start_from`).
//!
//! Why start windows rather than CDSi's "conditional skip" on a dose: a late starter's plan
//! differs in more than one skipped dose (WHO's catch-up puts 6 months between doses 2 and 3,
//! where the infant schedule has 4 weeks), and with a window each version stays a plain list
//! of doses, evaluated exactly as before (docs/domain.md §3). Only which version applies is
//! new, and a series without a window is evaluated as it always was.
//!
//! The start date is the first record that any applicable version of the series counts as its
//! dose 1 (its vaccine in `counts`, given from earliest − grace and before the maximum age),
//! or, with no such record, the as-of date. It is taken over every applicable version, not
//! each version's own first dose, so that it is one date: `rules check` keeps the windows of
//! versions that may apply to one citizen apart, so at most one window contains it. Windows
//! that leave a gap leave the series out for a child who started in it, as `when` would.

use chrono::NaiveDate;
use toml::Spanned;

use super::check::Checker;
use super::duration::probe_births;
use super::model::SeriesEntry;
use super::{DoseRecord, Duration, RuleError, RuleSet, SeriesRule, Subject};

/// The ages at the start of a series that a version is for: `from` ≤ age < `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StartWindow {
    pub from: Option<Duration>,
    pub before: Option<Duration>,
}

impl StartWindow {
    fn contains(&self, dob: NaiveDate, started: NaiveDate) -> bool {
        self.from.is_none_or(|f| f.add_to(dob) <= started)
            && self.before.is_none_or(|b| started < b.add_to(dob))
    }

    /// The days an unstarted child's version can change: their age reaching a window's edge.
    pub fn edges(&self, dob: NaiveDate) -> impl Iterator<Item = NaiveDate> {
        [self.from, self.before]
            .into_iter()
            .flatten()
            .map(move |age| age.add_to(dob))
    }

    /// Could one child's start date fall in both? `None` is a version for every start.
    /// Conservative: compared from birth dates where calendar months differ most.
    pub fn may_overlap(a: Option<&StartWindow>, b: Option<&StartWindow>) -> bool {
        let (Some(a), Some(b)) = (a, b) else {
            return true;
        };
        probe_births().any(|dob| {
            let from = |w: &StartWindow| w.from.map_or(dob, |f| f.add_to(dob));
            let before = |w: &StartWindow| w.before.map_or(NaiveDate::MAX, |b| b.add_to(dob));
            from(a).max(from(b)) < before(a).min(before(b))
        })
    }
}

impl SeriesRule {
    /// The first record this version counts as its dose 1 (`records` in date order).
    fn first_dose(&self, dob: NaiveDate, records: &[&DoseRecord]) -> Option<NaiveDate> {
        let dose = self.doses.first()?;
        let window = dose.window(dob, None);
        let from = self.grace.sub_from(window.earliest);
        records
            .iter()
            .map(|r| (r.vaccine, r.date_given))
            .find(|&(vaccine, given)| {
                dose.counts(vaccine) && given >= from && window.expires.is_none_or(|e| given < e)
            })
            .map(|(_, given)| given)
    }

    /// Whether this version, whose `when` matches, is the one for this child's start.
    pub(super) fn starts_here(
        &self,
        rules: &RuleSet,
        subject: &Subject,
        records: &[&DoseRecord],
        as_of: NaiveDate,
    ) -> bool {
        let Some(window) = &self.start else {
            return true;
        };
        let dob = subject.date_of_birth;
        let started = (self.siblings.iter())
            .map(|&i| &rules.series[i])
            .filter(|v| v.when.matches(subject, as_of))
            .filter_map(|v| v.first_dose(dob, records))
            .min()
            .unwrap_or(as_of);
        window.contains(dob, started)
    }
}

/// Links each windowed version to the windowed versions of its id (itself included): the
/// ones whose first doses decide a child's start.
pub(super) fn link_siblings(series: &mut [SeriesRule]) {
    let ids: Vec<(std::sync::Arc<str>, bool)> = series
        .iter()
        .map(|s| (s.id.clone(), s.start.is_some()))
        .collect();
    for s in series.iter_mut().filter(|s| s.start.is_some()) {
        s.siblings = (ids.iter().enumerate())
            .filter(|(_, (id, windowed))| *windowed && *id == s.id)
            .map(|(i, _)| i)
            .collect();
    }
}

impl Checker<'_> {
    /// `start_from` / `start_before` of a series entry.
    pub(super) fn start_window(
        &self,
        entry: &SeriesEntry,
        errors: &mut Vec<RuleError>,
    ) -> Option<StartWindow> {
        let value = |d: &Option<Spanned<Duration>>| d.as_ref().map(|d| *d.get_ref());
        let window = StartWindow {
            from: value(&entry.start_from),
            before: value(&entry.start_before),
        };
        if let (Some(from), Some(before)) = (window.from, &entry.start_before) {
            let after = probe_births().all(|d| before.get_ref().add_to(d) > from.add_to(d));
            if !after {
                self.error(errors, before.span(), format!(
                    "series \"{}\": start_before ({}) is not after start_from ({from}); no child could start this version. Check both values",
                    entry.id.get_ref(), before.get_ref()));
            }
        }
        (window.from.is_some() || window.before.is_some()).then_some(window)
    }
}
