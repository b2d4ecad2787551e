//! Call outcomes recorded from the worklist (issue #12): a history per child; the list shows
//! the latest of each child it lists. Each query written once, run through `dispatch!`.

use super::{CallOutcome, Result, Store};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OutcomeRow {
    pub personal_id: String,
    pub outcome: CallOutcome,
    pub appointment: Option<NaiveDate>,
    pub note: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

const COLUMNS: &str = "personal_id, outcome, appointment, note, recorded_by, recorded_at";

impl Store {
    pub async fn insert_call_outcome(&self, o: &OutcomeRow) -> Result<()> {
        const SQL: &str = "INSERT INTO call_outcomes (personal_id, outcome, appointment, note, \
             recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6)";
        dispatch!(self, s => sqlx::query(SQL)
            .bind(&o.personal_id)
            .bind(o.outcome.as_str())
            .bind(o.appointment)
            .bind(&o.note)
            .bind(&o.recorded_by)
            .bind(o.recorded_at)
            .execute(s.write_pool())
            .await?
            .rows_affected());
        Ok(())
    }

    /// Every outcome of one child, newest first.
    pub async fn call_outcomes_of(&self, personal_id: &str) -> Result<Vec<OutcomeRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM call_outcomes WHERE personal_id = $1 ORDER BY recorded_at DESC, id DESC"
        );
        Ok(dispatch!(self, s => sqlx::query_as::<_, OutcomeRow>(&sql)
            .bind(personal_id)
            .fetch_all(s.read_pool())
            .await?))
    }

    /// The latest outcome of each of these children (a page of the list: at most a few dozen).
    pub async fn latest_call_outcomes(&self, personal_ids: &[String]) -> Result<Vec<OutcomeRow>> {
        if personal_ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=personal_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM call_outcomes o WHERE personal_id IN ({}) AND NOT EXISTS \
             (SELECT 1 FROM call_outcomes n WHERE n.personal_id = o.personal_id \
              AND (n.recorded_at > o.recorded_at OR (n.recorded_at = o.recorded_at AND n.id > o.id)))",
            marks.join(", ")
        );
        Ok(dispatch!(self, s => {
            let mut q = sqlx::query_as::<_, OutcomeRow>(&sql);
            for p in personal_ids {
                q = q.bind(p);
            }
            q.fetch_all(s.read_pool()).await?
        }))
    }
}
