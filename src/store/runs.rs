//! The scheduler's days (issue #14): one run per date, planned once as shards — personal-ID
//! ranges that instances lease one at a time (`shards.rs`) — and finished when its last shard
//! is. A day is a *full pass* (everyone is evaluated: the first run, changed rules, `run
//! --full`) or *incremental* (only the citizens whose `next_check` has come). Listed for
//! `GET /api/runs`. The SQL is written once for both backends (placeholders `$1…` in order of
//! first use, which SQLite reads too).

use super::{Result, RunStatus, Store};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// How a day was planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayPlan {
    /// Every citizen is evaluated (rather than those whose next check has come).
    pub full: bool,
    pub shards: i64,
    pub status: RunStatus,
}

/// Why a day is a full pass, or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassKind {
    /// Asked for (`run --full`).
    Full,
    /// Full only when the rules changed since the last finished day, a full pass was left
    /// unfinished since, or no day ever finished.
    Incremental,
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
    /// One of the instances holding a shard of the day now.
    pub lease_owner: Option<String>,
    /// Everyone was evaluated, not only the citizens whose next check had come.
    pub full_pass: bool,
    pub shards: i64,
    pub shards_finished: i64,
}

/// The smallest date: a citizen whose records changed waits for no particular day.
pub const MARKED: &str = "0001-01-01";

/// Shards of about this many citizens (`VONGDOI_SHARD_SIZE`): a shard is the unit instances
/// share, small enough that two instances split a 1,000,000-citizen pass evenly, large enough
/// that claiming costs nothing beside the scan.
pub const DEFAULT_SHARD_SIZE: i64 = 100_000;

/// The shard size from `VONGDOI_SHARD_SIZE`, or the default.
pub fn shard_size_from_env() -> anyhow::Result<i64> {
    match std::env::var("VONGDOI_SHARD_SIZE") {
        Err(_) => Ok(DEFAULT_SHARD_SIZE),
        Ok(v) => match v.trim().parse::<i64>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => anyhow::bail!(
                "VONGDOI_SHARD_SIZE={v}: cần một số nguyên dương (số công dân mỗi phần) / must be a positive whole number (citizens per shard)"
            ),
        },
    }
}

impl Store {
    /// Plans `as_of` if nobody has yet: decides full or incremental, counts the work and cuts
    /// it into shards, all in one transaction (two instances starting the day at once plan it
    /// once). A day already planned is returned as it is — unless a full pass is asked for on
    /// a day planned incrementally, which plans it again as a full pass.
    pub async fn open_day(
        &self,
        as_of: NaiveDate,
        kind: PassKind,
        rules: &str,
        shard_size: i64,
        now: DateTime<Utc>,
    ) -> Result<DayPlan> {
        const DAY: &str = "SELECT status, full_pass FROM runs WHERE as_of = $1";
        const LAST_FINISHED: &str = "SELECT as_of, rules FROM runs WHERE as_of < $1 AND status = 'finished' ORDER BY as_of DESC LIMIT 1";
        const SINCE: &str = "SELECT count(*) FROM runs WHERE as_of > $1 AND as_of < $2 AND (full_pass OR rules IS NULL OR rules <> $3)";
        const START: &str = "INSERT INTO runs (as_of, status, started_at, full_pass, rules) VALUES ($1, 'scanning', $2, $3, $4) ON CONFLICT (as_of) DO NOTHING";
        const REOPEN: &str = "UPDATE runs SET status = 'scanning', finished_at = NULL, full_pass = $1, rules = $2 WHERE as_of = $3";
        const DROP_SHARDS: &str = "DELETE FROM run_shards WHERE as_of = $1";
        const COUNT_ALL: &str = "SELECT count(*) FROM citizens";
        const COUNT_DUE: &str = "SELECT count(*) FROM citizens WHERE next_check <= $1";
        const SHARDS: &str = "SELECT count(*) FROM run_shards WHERE as_of = $1";
        // Two instances planning a new day at once: the second's insert finds the first's row
        // and it reads that plan instead (a row lock cannot guard a row that does not exist).
        loop {
            dispatch!(self, s => {
                let mut tx = s.write_tx().await?;
                let lock = format!("SELECT as_of FROM runs WHERE as_of = $1 {}", s.dialect().for_update);
                sqlx::query(&lock).bind(as_of).fetch_optional(&mut *tx).await?;
                let day: Option<(RunStatus, bool)> =
                    sqlx::query_as(DAY).bind(as_of).fetch_optional(&mut *tx).await?;
                // A day planned with other rules is carried on, not planned again: two
                // instances in the middle of an upgrade would otherwise take it from each other
                // in turn. The next day sees that the rules differ and makes a full pass.
                let replan = match &day {
                    None => true,
                    Some((_, full)) => kind == PassKind::Full && !full,
                };
                if !replan {
                    let (status, full) = day.expect("an unplanned day is replanned");
                    let shards: i64 = sqlx::query_scalar(SHARDS).bind(as_of).fetch_one(&mut *tx).await?;
                    tx.commit().await?;
                    return Ok(DayPlan { full, shards, status });
                }
                let full = kind == PassKind::Full || day.is_some() || {
                    let last: Option<(NaiveDate, Option<String>)> =
                        sqlx::query_as(LAST_FINISHED).bind(as_of).fetch_optional(&mut *tx).await?;
                    match last {
                        Some((last_day, Some(last_rules))) if last_rules == rules => {
                            let since: i64 = sqlx::query_scalar(SINCE)
                                .bind(last_day)
                                .bind(as_of)
                                .bind(rules)
                                .fetch_one(&mut *tx)
                                .await?;
                            since > 0
                        }
                        _ => true,
                    }
                };
                if day.is_some() {
                    sqlx::query(DROP_SHARDS).bind(as_of).execute(&mut *tx).await?;
                    sqlx::query(REOPEN).bind(full).bind(rules).bind(as_of).execute(&mut *tx).await?;
                } else {
                    let started = sqlx::query(START).bind(as_of).bind(now).bind(full).bind(rules).execute(&mut *tx).await?;
                    if started.rows_affected() == 0 {
                        tx.rollback().await?;
                        continue;
                    }
                }
                // Counting everyone costs a pass over an index (0.1 s at 1 M on PostgreSQL): an
            // ordinary day counts only its own work.
            let work: i64 = if full {
                sqlx::query_scalar(COUNT_ALL).fetch_one(&mut *tx).await?
            } else {
                sqlx::query_scalar(COUNT_DUE).bind(as_of).fetch_one(&mut *tx).await?
            };
            // Cut the ID index into ranges of equal registry size: a walk of it, step by step.
            let pieces = ((work + shard_size - 1) / shard_size).clamp(1, 1_000);
            let total: i64 = if full || pieces == 1 {
                work
            } else {
                sqlx::query_scalar(COUNT_ALL).fetch_one(&mut *tx).await?
            };
            let step = (total / pieces).max(1);
            let mut bounds = vec![String::new()];
                for _ in 1..pieces {
                    let next: Option<String> = sqlx::query_scalar(
                        "SELECT personal_id FROM citizens WHERE personal_id > $1 ORDER BY personal_id LIMIT 1 OFFSET $2",
                    )
                    .bind(bounds.last().expect("starts with one bound"))
                    .bind(step - 1)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match next {
                        Some(id) => bounds.push(id),
                        None => break,
                    }
                }
                bounds.push(String::new());
                let shards = (bounds.len() - 1) as i64;
                for (i, w) in bounds.windows(2).enumerate() {
                    sqlx::query("INSERT INTO run_shards (as_of, shard, first_id, end_id, status) VALUES ($1, $2, $3, $4, 'scanning')")
                        .bind(as_of)
                        .bind(i as i32)
                        .bind(&w[0])
                        .bind(&w[1])
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                tracing::info!(%as_of, full, work, shards, "day planned");
                return Ok(DayPlan { full, shards, status: RunStatus::Scanning });
            })
        }
    }

    /// Gives back every lease `owner` holds — shards and messages — when its work was abandoned
    /// (`serve` stopping past its deadline). The messages were attempted: they are queued again
    /// with that attempt counted, like a send that timed out. Returns the messages released.
    pub async fn release_all(&self, owner: &str, now: DateTime<Utc>) -> Result<u64> {
        const MESSAGES: &str = "UPDATE messages SET status = 'queued', next_attempt_at = $1, lease_owner = NULL, lease_until = NULL \
             WHERE lease_owner = $2 AND status = 'sending'";
        const SHARDS: &str =
            "UPDATE run_shards SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1";
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let released = sqlx::query(MESSAGES)
                .bind(now)
                .bind(owner)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(SHARDS).bind(owner).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(released)
        })
    }

    /// Queues again the messages left `sending` by processes that ended (`gone`), at once: the
    /// next run on this machine does not wait out their leases. Each was attempted, so each may
    /// go out once more (a send cut off before its answer was recorded). Returns how many.
    pub async fn release_gone_senders(
        &self,
        gone: impl Fn(&str) -> bool,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        const OWNERS: &str = "SELECT DISTINCT lease_owner FROM messages WHERE status = 'sending' AND lease_owner IS NOT NULL";
        const RELEASE: &str = "UPDATE messages SET status = 'queued', next_attempt_at = $1, lease_owner = NULL, lease_until = NULL \
             WHERE lease_owner = $2 AND status = 'sending'";
        let owners: Vec<String> =
            dispatch!(self, s => sqlx::query_scalar(OWNERS).fetch_all(s.write_pool()).await?);
        let mut released = 0;
        for owner in owners.iter().filter(|o| gone(o)) {
            released += dispatch!(self, s => sqlx::query(RELEASE)
                .bind(now)
                .bind(owner)
                .execute(s.write_pool())
                .await?
                .rows_affected());
            tracing::info!(owner = %owner, "messages of an ended process queued again");
        }
        Ok(released)
    }

    /// The latest scheduler runs, newest first.
    pub async fn runs(&self, limit: i64) -> Result<Vec<RunRow>> {
        const SQL: &str = "SELECT as_of, status, started_at, finished_at, evaluated, notices, \
             (SELECT min(s.lease_owner) FROM run_shards s WHERE s.as_of = runs.as_of AND s.status = 'scanning') AS lease_owner, \
             full_pass, \
             (SELECT count(*) FROM run_shards s WHERE s.as_of = runs.as_of) AS shards, \
             (SELECT count(*) FROM run_shards s WHERE s.as_of = runs.as_of AND s.status = 'finished') AS shards_finished \
             FROM runs ORDER BY as_of DESC LIMIT $1";
        Ok(dispatch!(self, s => sqlx::query_as::<_, RunRow>(SQL)
            .bind(limit)
            .fetch_all(s.read_pool())
            .await?))
    }
}
