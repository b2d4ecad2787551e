//! When a citizen's forecast can next change (issue #14): the engine's output is a step
//! function of the as-of date, and its steps are dates it already knows — each item's window
//! edges and notice days, a record or death dated in the future, and the days a rule version
//! starts or stops applying. Between two steps, evaluating again gives the same items and the
//! same notices, so the scheduler need not look at the citizen until the next step (or until
//! their records change, which marks them in the database).
//!
//! The one property that matters — nothing changes strictly between `as_of` and the date
//! returned — is checked against the shipped rules by the test below, day by day.

use chrono::NaiveDate;

use super::{DoseRecord, Duration, Forecast, RuleSet, Subject};

impl RuleSet {
    /// The first day after `as_of` on which [`RuleSet::evaluate`] of this citizen can give
    /// other items, or a notice can fall due; `None` when nothing ever changes again without
    /// new records (a citizen past every rule, or deceased).
    pub fn next_change(
        &self,
        subject: &Subject,
        doses: &[DoseRecord],
        id_cards: &[NaiveDate],
        as_of: NaiveDate,
        forecast: &Forecast,
    ) -> Option<NaiveDate> {
        let mut next: Option<NaiveDate> = None;
        let mut consider = |d: Option<NaiveDate>| {
            if let Some(d) = d.filter(|d| *d > as_of) {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
        };
        // Records dated after the as-of date are ignored until their day; so is a death.
        doses.iter().for_each(|r| consider(Some(r.date_given)));
        id_cards.iter().for_each(|c| consider(Some(*c)));
        consider(subject.date_of_death);
        if forecast.deceased {
            // Only completed items are kept from the day of death: nothing moves any more.
            return next;
        }
        for item in &forecast.items {
            for d in [item.earliest, item.due, item.overdue, item.expires] {
                consider(d);
            }
            for (_, day) in item.notice_dates() {
                consider(Some(day));
            }
        }
        // A rule version that starts or stops applying changes which items exist.
        let whens = (self.series.iter().map(|s| &s.when))
            .chain(self.milestones.iter().map(|m| &m.when))
            .chain(self.cohorts.iter().map(|c| &c.when));
        for when in whens {
            consider(when.active.from);
            consider(when.active.until.map(|u| Duration::days(1).add_to(u)));
        }
        // A child who has not started a series with start windows moves from one version to
        // the next as their age reaches a window's edge.
        for window in self.series.iter().filter_map(|s| s.start.as_ref()) {
            window
                .edges(subject.date_of_birth)
                .for_each(|d| consider(Some(d)));
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Sex;
    use chrono::Duration as Days;
    use rand::{Rng, SeedableRng};

    /// What the scheduler stores from an evaluation: items with their dates, and the notices
    /// due (the latest on or before the day, per open item).
    fn signature(f: &Forecast, as_of: NaiveDate) -> String {
        let mut out = format!("{}|", f.deceased);
        for i in &f.items {
            out += &format!(
                "{}:{}:{:?}:{:?}:{:?}:{:?}:{:?};",
                i.key().stable_key(),
                i.status.as_str(),
                i.earliest,
                i.due,
                i.overdue,
                i.expires,
                i.completed_on
            );
            if i.status.is_open() {
                let latest = i
                    .notice_dates()
                    .filter(|(_, d)| *d <= as_of)
                    .max_by_key(|(_, d)| *d);
                if let Some((rule, d)) = latest {
                    out += &format!("notice {} {d};", rule.template);
                }
            }
        }
        out
    }

    #[test]
    fn nothing_changes_before_the_next_change() {
        let rules = RuleSet::embedded();
        let codes: Vec<&str> = rules.vaccine_codes().collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
        let day0 = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
        let mut checked_days = 0;
        for _ in 0..150 {
            let dob = day0 + Days::days(rng.gen_range(0..27 * 365));
            let death = rng
                .gen_bool(0.1)
                .then(|| dob + Days::days(rng.gen_range(0..9000)));
            let doses: Vec<(String, NaiveDate)> = (0..rng.gen_range(0..12))
                .map(|_| {
                    let code = codes[rng.gen_range(0..codes.len())].to_string();
                    (code, dob + Days::days(rng.gen_range(0..3000)))
                })
                .collect();
            let cards: Vec<NaiveDate> = (0..rng.gen_range(0..2))
                .map(|_| dob + Days::days(rng.gen_range(13 * 365..26 * 365)))
                .collect();
            let records: Vec<DoseRecord> = doses
                .iter()
                .map(|(v, d)| DoseRecord {
                    vaccine: v,
                    date_given: *d,
                })
                .collect();
            let subject = Subject {
                date_of_birth: dob,
                date_of_death: death,
                sex: if rng.gen_bool(0.5) {
                    Sex::Male
                } else {
                    Sex::Female
                },
                province_code: "01",
                commune_code: "00004",
            };
            let mut as_of = dob + Days::days(rng.gen_range(-30..4000));
            // Walk from step to step over a few years of this citizen's life.
            for _ in 0..12 {
                let f = rules.evaluate(&subject, &records, &cards, as_of);
                let next = rules.next_change(&subject, &records, &cards, as_of, &f);
                let want = signature(&f, as_of);
                let until = next
                    .unwrap_or(as_of + Days::days(800))
                    .min(as_of + Days::days(800));
                let mut d = as_of + Days::days(1);
                while d < until {
                    let g = rules.evaluate(&subject, &records, &cards, d);
                    assert_eq!(
                        signature(&g, d),
                        want,
                        "born {dob}, evaluated {as_of}, next change said {next:?}, but {d} differs"
                    );
                    checked_days += 1;
                    d += Days::days(1);
                }
                match next {
                    Some(n) => as_of = n,
                    None => break,
                }
            }
        }
        assert!(checked_days > 40_000, "{checked_days}");
    }
}
