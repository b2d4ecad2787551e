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

/// Why a notice that fell due is not messaged to the family: staff follow the item up instead
/// (issue #13). A reminder about a deadline long past is one nobody acts on, and reads like a
/// scam.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeldBack {
    /// Overdue for longer than the rule's `notice_horizon`.
    BeyondHorizon,
    /// Already overdue before the operator's go-live date.
    BeforeGoLive,
    /// The rule's `max_reminders` were sent and no record came.
    EnoughReminders,
}

impl HeldBack {
    pub fn as_str(self) -> &'static str {
        match self {
            HeldBack::BeyondHorizon => "beyond_horizon",
            HeldBack::BeforeGoLive => "before_go_live",
            HeldBack::EnoughReminders => "enough_reminders",
        }
    }
}

/// Whether `item`'s notice on `as_of` is held back by its horizon or the go-live date (the
/// reminder limit needs the notices already sent: see [`enough_reminders`]).
pub fn held_back(item: &Item, as_of: NaiveDate, go_live: Option<NaiveDate>) -> Option<HeldBack> {
    if item.status != Status::Overdue {
        return None;
    }
    if item.info.policy.beyond_horizon(item.overdue, as_of) {
        return Some(HeldBack::BeyondHorizon);
    }
    match (item.overdue, go_live) {
        (Some(overdue), Some(go_live)) if overdue < go_live => Some(HeldBack::BeforeGoLive),
        _ => None,
    }
}

/// Whether `earlier` (the dates of the reminders already sent about this item) reach the
/// item's limit, counting only those before this notice's `date` (re-running a day must not
/// hold back the notice it already sent).
pub fn enough_reminders(item: &Item, earlier: &[NaiveDate], date: NaiveDate) -> bool {
    earlier.iter().filter(|d| **d < date).count() as u32 >= item.info.policy.max_reminders
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
    fn stale_items_are_held_back_for_staff() {
        let rules = RuleSet::embedded();
        // dtp 1 overdue on 2026-04-10; the horizon is 90 days.
        let on = |as_of: &str| {
            let f = forecast(&rules, &[("HEPB", "2026-01-10")], as_of);
            let item = f
                .items
                .iter()
                .find(|i| i.key().stable_key() == "vaccination/dtp/1")
                .unwrap()
                .clone();
            item
        };
        let item = on("2026-07-09");
        assert_eq!(held_back(&item, d("2026-07-09"), None), None, "day 90");
        let item = on("2026-07-10");
        assert_eq!(
            held_back(&item, d("2026-07-10"), None),
            Some(HeldBack::BeyondHorizon)
        );
        let item = on("2026-05-01");
        assert_eq!(
            held_back(&item, d("2026-05-01"), Some(d("2026-05-01"))),
            Some(HeldBack::BeforeGoLive)
        );
        assert_eq!(
            held_back(&item, d("2026-05-01"), Some(d("2026-04-10"))),
            None
        );
        // Three reminders before this one: enough. The same day again: not counted.
        let earlier = [d("2026-03-07"), d("2026-04-10"), d("2026-04-20")];
        assert!(enough_reminders(&item, &earlier, d("2026-05-01")));
        assert!(!enough_reminders(&item, &earlier, d("2026-04-20")));
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
