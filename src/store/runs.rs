//! The scheduler's runs: one per run date, scanned by one instance at a time under a lease,
//! committed page by page with a checkpoint (changed ledger rows and new notices together), and
//! listed for `GET /api/runs`. The SQL is written once for both backends (placeholders `$1…`
//! in order of first use, which SQLite reads too).

use super::outbox::NoticeRow;
use super::scan::EventRow;
use super::{Channel, Result, RunStatus, Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// What claiming a run date found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunClaim {
    /// This instance holds the lease; resume after the checkpoint (None: from the start).
    Claimed { checkpoint: Option<String> },
    /// The day was scanned to the end already.
    Finished,
    /// Another instance is scanning this day now.
    HeldByOther,
}

/// A scheduler run as `GET /api/runs` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct RunRow {
    pub as_of: NaiveDate,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub evaluated: i64,
    pub notices: i64,
    pub lease_owner: Option<String>,
}

/// Rows per multi-row statement (SQLite's variable limit, PostgreSQL's 65,535 parameters).
const ROWS: usize = 500;

impl Store {
    /// Takes (or resumes) the scan of a run date for `owner` until `lease_until`.
    pub async fn claim_run(
        &self,
        as_of: NaiveDate,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<RunClaim> {
        const START: &str = "INSERT INTO runs (as_of, status, started_at) VALUES ($1, 'scanning', $2) ON CONFLICT (as_of) DO NOTHING";
        const CLAIM: &str = "UPDATE runs SET lease_owner = $1, lease_until = $2 WHERE as_of = $3 AND status <> 'finished' \
             AND (lease_owner IS NULL OR lease_until < $4 OR lease_owner = $1) RETURNING checkpoint";
        const STATUS: &str = "SELECT status FROM runs WHERE as_of = $1";
        let (claimed, status): (Option<(Option<String>,)>, RunStatus) = dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            sqlx::query(START)
                .bind(as_of)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let claimed = sqlx::query_as(CLAIM)
                .bind(owner)
                .bind(lease_until)
                .bind(as_of)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let status = sqlx::query_scalar(STATUS).bind(as_of).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            (claimed, status)
        });
        Ok(match (claimed, status) {
            (Some((checkpoint,)), _) => RunClaim::Claimed { checkpoint },
            (None, RunStatus::Finished) => RunClaim::Finished,
            (None, RunStatus::Scanning) => RunClaim::HeldByOther,
        })
    }

    /// Commits one scanned page: changed ledger rows, new notices (duplicates skipped) and the
    /// checkpoint, in one transaction and only while this instance still holds the run's
    /// lease. Returns the new notices.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_page(
        &self,
        as_of: NaiveDate,
        owner: &str,
        lease_until: DateTime<Utc>,
        checkpoint: super::PersonalId,
        evaluated: i64,
        events: &[EventRow],
        notices: &[NoticeRow],
        now: DateTime<Utc>,
    ) -> Result<u64> {
        const EVENTS: &str = "INSERT INTO events (personal_id, item, status, earliest, due, overdue, expires, completed_on, changed_on, updated_at) ";
        const EVENTS_CONFLICT: &str = " ON CONFLICT (personal_id, item) DO UPDATE SET status = excluded.status, earliest = excluded.earliest, \
             due = excluded.due, overdue = excluded.overdue, expires = excluded.expires, completed_on = excluded.completed_on, \
             changed_on = excluded.changed_on, updated_at = excluded.updated_at";
        const NOTICES: &str = "INSERT INTO notices (personal_id, item, template, notice_date, run_date, recipient_id, channel, address, language, line_sms, line_email, subject, sender, commune_code, about, salutation, due, overdue, created_at) ";
        const NOTICES_CONFLICT: &str =
            " ON CONFLICT (personal_id, item, template, notice_date) DO NOTHING";
        const CHECKPOINT: &str = "UPDATE runs SET checkpoint = $1, evaluated = evaluated + $2, notices = notices + $3, lease_until = $4 \
             WHERE as_of = $5 AND lease_owner = $6";
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let mut inserted = 0;
            for chunk in events.chunks(ROWS) {
                let mut qb = sqlx::QueryBuilder::new(EVENTS);
                qb.push_values(chunk, |mut b, e| {
                    b.push_bind(&e.personal_id)
                        .push_bind(&e.item)
                        .push_bind(&e.status)
                        .push_bind(e.earliest)
                        .push_bind(e.due)
                        .push_bind(e.overdue)
                        .push_bind(e.expires)
                        .push_bind(e.completed_on)
                        .push_bind(e.changed_on)
                        .push_bind(now);
                });
                qb.push(EVENTS_CONFLICT);
                qb.build().execute(&mut *tx).await?;
            }
            for chunk in notices.chunks(ROWS) {
                let mut qb = sqlx::QueryBuilder::new(NOTICES);
                qb.push_values(chunk, |mut b, n| {
                    b.push_bind(&n.personal_id)
                        .push_bind(&n.item)
                        .push_bind(&n.template)
                        .push_bind(n.notice_date)
                        .push_bind(n.run_date)
                        .push_bind(&n.recipient_id)
                        .push_bind(n.channel.map(Channel::as_str))
                        .push_bind(&n.address)
                        .push_bind(&n.language)
                        .push_bind(&n.line_sms)
                        .push_bind(&n.line_email)
                        .push_bind(&n.subject)
                        .push_bind(&n.sender)
                        .push_bind(&n.commune_code)
                        .push_bind(&n.about)
                        .push_bind(&n.salutation)
                        .push_bind(n.due)
                        .push_bind(n.overdue)
                        .push_bind(now);
                });
                qb.push(NOTICES_CONFLICT);
                inserted += qb.build().execute(&mut *tx).await?.rows_affected();
            }
            let held = sqlx::query(CHECKPOINT)
                .bind(checkpoint.as_str())
                .bind(evaluated)
                .bind(inserted as i64)
                .bind(lease_until)
                .bind(as_of)
                .bind(owner)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if held == 0 {
                // Another instance took the day over; its pages win, ours is dropped whole.
                return Err(StoreError::Conflict(format!(
                    "lost the lease on the run of {as_of}"
                )));
            }
            tx.commit().await?;
            Ok(inserted)
        })
    }

    pub async fn finish_run(
        &self,
        as_of: NaiveDate,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        const SQL: &str = "UPDATE runs SET status = 'finished', finished_at = $1, lease_owner = NULL, lease_until = NULL WHERE as_of = $2 AND lease_owner = $3";
        dispatch!(self, s => {
            sqlx::query(SQL)
                .bind(now)
                .bind(as_of)
                .bind(owner)
                .execute(s.write_pool())
                .await?;
        });
        Ok(())
    }

    /// Gives the day back before the end (the service is stopping): the checkpoint stays, so
    /// the next instance resumes after the last committed page.
    pub async fn release_run(&self, as_of: NaiveDate, owner: &str) -> Result<()> {
        const SQL: &str = "UPDATE runs SET lease_owner = NULL, lease_until = NULL WHERE as_of = $1 AND lease_owner = $2";
        dispatch!(self, s => {
            sqlx::query(SQL)
                .bind(as_of)
                .bind(owner)
                .execute(s.write_pool())
                .await?;
        });
        Ok(())
    }

    /// Gives back every lease `owner` holds — runs and messages — when its work was abandoned
    /// (`serve` stopping past its deadline). The messages were attempted: they are queued again
    /// with that attempt counted, like a send that timed out. Returns the messages released.
    pub async fn release_all(&self, owner: &str, now: DateTime<Utc>) -> Result<u64> {
        const MESSAGES: &str = "UPDATE messages SET status = 'queued', next_attempt_at = $1, lease_owner = NULL, lease_until = NULL \
             WHERE lease_owner = $2 AND status = 'sending'";
        const RUNS: &str =
            "UPDATE runs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1";
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let released = sqlx::query(MESSAGES)
                .bind(now)
                .bind(owner)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(RUNS).bind(owner).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(released)
        })
    }

    /// The latest scheduler runs, newest first.
    pub async fn runs(&self, limit: i64) -> Result<Vec<RunRow>> {
        const SQL: &str = "SELECT as_of, status, started_at, finished_at, evaluated, notices, lease_owner FROM runs ORDER BY as_of DESC LIMIT $1";
        Ok(dispatch!(self, s => sqlx::query_as::<_, RunRow>(SQL)
            .bind(limit)
            .fetch_all(s.read_pool())
            .await?))
    }
}
