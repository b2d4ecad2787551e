//! What an alert achieved, per commune: children targeted, without a contact, their
//! household's message pending, sent, delivered, failed or cancelled, and children with a dose
//! of the alert's series recorded from the day it was approved to `outcome_days` after.

use crate::rules::RuleSet;
use crate::store::alerts::{AlertRow, CommuneReach};
use crate::store::Store;
use chrono::{Duration, NaiveDate};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Reach {
    pub alert: i64,
    pub series: String,
    /// Doses given in `[outcome_from, outcome_until]` count.
    pub outcome_from: Option<NaiveDate>,
    pub outcome_until: Option<NaiveDate>,
    pub communes: Vec<CommuneReach>,
    pub total: CommuneReach,
}

pub async fn reach(store: &Store, rules: &RuleSet, alert: &AlertRow) -> anyhow::Result<Reach> {
    let series = rules
        .alert(&alert.template)
        .map(|w| w.series.clone())
        .unwrap_or_default();
    let vaccines = rules.vaccines_of_series(&series);
    let codes: Vec<&str> = vaccines.iter().map(|v| &**v).collect();
    // Before approval nothing was sent, so no dose can be its outcome yet.
    let window = alert.approved_at.map(|at| {
        let from = crate::clock::day_in_vietnam(at);
        (from, from + Duration::days(i64::from(alert.outcome_days)))
    });
    let communes = match window {
        Some(w) => store.alert_reach(alert.id, &codes, w).await?,
        None => {
            store
                .alert_reach(alert.id, &codes, (never(), never() - Duration::days(1)))
                .await?
        }
    };
    let mut total = CommuneReach {
        commune_code: "total".into(),
        ..Default::default()
    };
    for c in &communes {
        total.targeted += c.targeted;
        total.without_contact += c.without_contact;
        total.pending += c.pending;
        total.sent += c.sent;
        total.delivered += c.delivered;
        total.failed += c.failed;
        total.cancelled += c.cancelled;
        total.dosed += c.dosed;
        total.replied += c.replied;
    }
    Ok(Reach {
        alert: alert.id,
        series,
        outcome_from: window.map(|w| w.0),
        outcome_until: window.map(|w| w.1),
        communes,
        total,
    })
}

/// A day no dose is given on (an empty outcome window before approval).
fn never() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid date")
}
