//! Which notices fall due for one citizen on a run's date: pure, from the rule engine's items.
//!
//! docs/domain.md and issue #4: a notice fires on its date; one whose date passed while the service
//! was down fires on the next run — only the latest missed notice of an item, once — and never
//! for an item already completed or expired. A citizen registered late therefore gets the
//! notice that fits their status now (an overdue child gets the overdue notice). "Once" is the
//! store's job: a notice's key (citizen, item, template, date) is unique.

use crate::rules::{Forecast, Item, Status};
use chrono::NaiveDate;

/// One notice to send about one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueNotice<'a> {
    pub item: &'a Item,
    pub template: &'a str,
    /// The notice's own date (its place in the unique key), on or before the run's date.
    pub date: NaiveDate,
}

/// Items that must be in the event ledger on `as_of`: the actionable ones.
pub fn is_actionable(status: Status) -> bool {
    matches!(status, Status::Eligible | Status::Due | Status::Overdue)
}

/// The latest notice on or before `as_of` of every open item.
pub fn notices_due(forecast: &Forecast, as_of: NaiveDate) -> Vec<DueNotice<'_>> {
    forecast
        .items
        .iter()
        .filter(|item| item.status.is_open())
        .filter_map(|item| {
            item.notice_dates()
                .filter(|(_, date)| *date <= as_of)
                .max_by_key(|(_, date)| *date)
                .map(|(rule, date)| DueNotice {
                    item,
                    template: &rule.template,
                    date,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Sex;
    use crate::rules::{DoseRecord, RuleSet, Subject};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn forecast(rules: &RuleSet, doses: &[(&str, &str)], as_of: &str) -> Forecast {
        let subject = Subject {
            date_of_birth: d("2026-01-10"),
            date_of_death: None,
            sex: Sex::Female,
            province_code: "01",
            commune_code: "00004",
        };
        let doses: Vec<DoseRecord> = doses
            .iter()
            .map(|(v, on)| DoseRecord {
                vaccine: v,
                date_given: d(on),
            })
            .collect();
        rules.evaluate(&subject, &doses, &[], d(as_of))
    }

    fn dtp1<'a>(notices: &'a [DueNotice<'a>]) -> Option<&'a DueNotice<'a>> {
        notices
            .iter()
            .find(|n| n.item.key().stable_key() == "vaccination/dtp/1")
    }

    #[test]
    fn the_due_soon_notice_then_the_overdue_one_then_nothing_once_given() {
        let rules = RuleSet::embedded();
        // dtp 1 is due at 2 months (2026-03-10): due-soon 3 days before, overdue a month later.
        let f = forecast(
            &rules,
            &[("HEPB", "2026-01-10"), ("BCG", "2026-01-12")],
            "2026-03-06",
        );
        assert!(
            dtp1(&notices_due(&f, d("2026-03-06"))).is_none(),
            "a day before the due-soon notice"
        );
        let f = forecast(
            &rules,
            &[("HEPB", "2026-01-10"), ("BCG", "2026-01-12")],
            "2026-03-07",
        );
        let n = notices_due(&f, d("2026-03-07"));
        assert_eq!(
            dtp1(&n).map(|n| (n.template, n.date)),
            Some(("vaccination-due-soon", d("2026-03-07")))
        );
        // Missed days: on 2026-04-20 the overdue notice (2026-04-10) is the latest, and the only one.
        let f = forecast(
            &rules,
            &[("HEPB", "2026-01-10"), ("BCG", "2026-01-12")],
            "2026-04-20",
        );
        let n = notices_due(&f, d("2026-04-20"));
        assert_eq!(
            dtp1(&n).map(|n| (n.template, n.date)),
            Some(("vaccination-overdue", d("2026-04-10")))
        );
        // Given: the item is completed, no notice.
        let f = forecast(
            &rules,
            &[("HEPB", "2026-01-10"), ("PENTA", "2026-04-15")],
            "2026-04-20",
        );
        assert!(dtp1(&notices_due(&f, d("2026-04-20"))).is_none());
    }

    #[test]
    fn expired_items_get_no_notice() {
        let rules = RuleSet::embedded();
        // hepb-birth expires at 7 days: on day 30 it is expired and silent.
        let f = forecast(&rules, &[], "2026-02-09");
        let n = notices_due(&f, d("2026-02-09"));
        assert!(n
            .iter()
            .all(|n| n.item.key().stable_key() != "vaccination/hepb-birth/1"));
        assert!(n.iter().all(|n| n.item.status.is_open()));
    }
}
