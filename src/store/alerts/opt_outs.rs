//! Families who asked for no outbreak alerts (`alert_opt_outs`): separate from reminders'
//! channel opt-outs, so a family can refuse alerts and keep its reminders.

use crate::store::{Result, Store};
use chrono::{DateTime, Utc};

impl Store {
    /// Stops (or restarts) outbreak alerts for a person's family; routine reminders are not
    /// touched. True when something changed.
    pub async fn set_alert_opt_out(
        &self,
        pin: &str,
        opted_out: bool,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        dispatch!(self, s => {
            let q = if opted_out {
                sqlx::query("INSERT INTO alert_opt_outs (personal_id, at, source) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(pin).bind(now).bind(source)
            } else {
                sqlx::query("DELETE FROM alert_opt_outs WHERE personal_id = $1").bind(pin)
            };
            Ok(q.execute(s.write_pool()).await?.rows_affected() == 1)
        })
    }

    /// Which of these people asked for no alerts.
    pub async fn alert_opt_outs_of(
        &self,
        pins: &[crate::registry::PersonalId],
    ) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = self
            .rows_for_ids(pins, |list| {
                format!("SELECT personal_id FROM alert_opt_outs WHERE personal_id {list}")
            })
            .await?;
        Ok(rows.into_iter().map(|(p,)| p).collect())
    }
}
