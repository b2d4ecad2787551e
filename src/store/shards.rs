//! A day's shards (issue #14): claimed one at a time under a short lease, renewed with every
//! committed page; a page's ledger rows, notices, the citizens' next checks and the shard's
//! progress commit in one transaction, only while the lease is held. A lease whose owner ended
//! on this machine is taken over at once; anyone else's must run out (see
//! `runtime::liveness`). On PostgreSQL the claim skips rows another instance is claiming
//! (`FOR UPDATE SKIP LOCKED`), so N instances take N shards at once.

use super::outbox::NoticeRow;
use super::scan::EventRow;
use super::{Channel, PersonalId, Result, Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};

/// A shard this instance holds: citizens with IDs in `[first_id, end_id)` (`""` = no bound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub as_of: NaiveDate,
    pub shard: i32,
    pub first_id: String,
    pub end_id: String,
    /// A full pass's last committed personal ID (resume after it).
    pub checkpoint: Option<String>,
    /// Everyone in the range is evaluated, not only those whose next check has come.
    pub full: bool,
}

/// What claiming a shard of a day found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardClaim {
    Claimed(Shard),
    /// Every shard is finished: the day's scan is done.
    Finished,
    /// The shards left are held by these live instances.
    HeldByOthers(Vec<String>),
}

/// A citizen's next check, written only if their records did not change since the scan read
/// them (`revision`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextCheck {
    pub personal_id: PersonalId,
    pub revision: i64,
    pub on: NaiveDate,
}

/// What a committed page carries.
pub struct PageWrite<'a> {
    pub checkpoint: Option<PersonalId>,
    pub events: &'a [EventRow],
    pub notices: &'a [NoticeRow],
    pub next_checks: &'a [NextCheck],
}

/// Another instance took the shard over (this one's lease ran out): its work wins, and what
/// this one was about to write is dropped whole.
fn lost(shard: &Shard) -> StoreError {
    StoreError::Conflict(format!(
        "lost the lease on shard {} of the run of {}",
        shard.shard, shard.as_of
    ))
}

/// Rows per multi-row statement (SQLite's variable limit, PostgreSQL's 65,535 parameters).
const ROWS: usize = 500;

impl Store {
    /// Takes a shard of `as_of` for `owner` until `lease_until`: a free one, one whose lease
    /// ran out, one `owner` held already, or one whose owner ended (`gone`).
    pub async fn claim_shard(
        &self,
        as_of: NaiveDate,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
        gone: impl Fn(&str) -> bool,
    ) -> Result<ShardClaim> {
        type Open = (
            i32,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<DateTime<Utc>>,
        );
        const TAKE: &str = "UPDATE run_shards SET lease_owner = $1, lease_until = $2 WHERE as_of = $3 AND shard = $4 AND status = 'scanning' \
             AND coalesce(lease_owner, '') = $5";
        const FULL: &str = "SELECT full_pass FROM runs WHERE as_of = $1";
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let open: Vec<Open> = sqlx::query_as(&format!(
                "SELECT shard, first_id, end_id, checkpoint, lease_owner, lease_until FROM run_shards \
                 WHERE as_of = $1 AND status = 'scanning' ORDER BY shard {}",
                s.dialect().skip_locked
            ))
            .bind(as_of)
            .fetch_all(&mut *tx)
            .await?;
            let mut held = Vec::new();
            for (shard, first_id, end_id, checkpoint, lease_owner, until) in open {
                let free = match (&lease_owner, until) {
                    (None, _) => true,
                    (Some(o), _) if o == owner => true,
                    (Some(_), Some(u)) if u < now => true,
                    (Some(o), _) => gone(o),
                };
                if !free {
                    held.extend(lease_owner);
                    continue;
                }
                let taken = sqlx::query(TAKE)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(as_of)
                    .bind(shard)
                    .bind(lease_owner.as_deref().unwrap_or(""))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if taken == 1 {
                    let full: bool = sqlx::query_scalar(FULL).bind(as_of).fetch_one(&mut *tx).await?;
                    tx.commit().await?;
                    if let Some(previous) = lease_owner.filter(|o| o != owner) {
                        tracing::info!(%as_of, shard, previous = %previous, "shard taken over");
                    }
                    return Ok(ShardClaim::Claimed(Shard { as_of, shard, first_id, end_id, checkpoint, full }));
                }
            }
            tx.commit().await?;
            if held.is_empty() {
                // Nothing open (or only rows another instance is locking this instant, which
                // the next look sees): the day is done once its row says so.
                let done: Option<super::RunStatus> = sqlx::query_scalar("SELECT status FROM runs WHERE as_of = $1")
                    .bind(as_of)
                    .fetch_optional(s.write_pool())
                    .await?;
                if done == Some(super::RunStatus::Finished) {
                    return Ok(ShardClaim::Finished);
                }
                return Ok(ShardClaim::HeldByOthers(Vec::new()));
            }
            held.sort();
            held.dedup();
            Ok(ShardClaim::HeldByOthers(held))
        })
    }

    /// Commits one scanned page of `shard`: changed ledger rows, new notices (duplicates
    /// skipped), the citizens' next checks and the shard's progress, in one transaction and only
    /// while `owner` still holds the shard. Renews the lease. Returns the new notices.
    pub async fn commit_page(
        &self,
        shard: &Shard,
        owner: &str,
        lease_until: DateTime<Utc>,
        page: PageWrite<'_>,
        evaluated: i64,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        const EVENTS: &str = "INSERT INTO events (personal_id, item, status, earliest, due, overdue, expires, completed_on, changed_on, updated_at) ";
        const EVENTS_CONFLICT: &str = " ON CONFLICT (personal_id, item) DO UPDATE SET status = excluded.status, earliest = excluded.earliest, \
             due = excluded.due, overdue = excluded.overdue, expires = excluded.expires, completed_on = excluded.completed_on, \
             changed_on = excluded.changed_on, updated_at = excluded.updated_at";
        const NOTICES: &str = "INSERT INTO notices (personal_id, item, template, notice_date, run_date, recipient_id, channel, address, language, line_sms, line_email, subject, sender, commune_code, about, salutation, due, overdue, zns_data, created_at) ";
        const NOTICES_CONFLICT: &str =
            " ON CONFLICT (personal_id, item, template, notice_date) DO NOTHING";
        // Only where the check moves and nothing changed since the scan read the citizen: a
        // change made meanwhile keeps its mark, and the next run evaluates it.
        const NEXT: &str = "UPDATE citizens SET next_check = v.column2 FROM (";
        const NEXT_WHERE: &str = ") AS v WHERE citizens.personal_id = v.column1 AND citizens.revision = v.column3 AND citizens.next_check <> v.column2";
        const PROGRESS: &str = "UPDATE run_shards SET checkpoint = coalesce($1, checkpoint), evaluated = evaluated + $2, notices = notices + $3, lease_until = $4 \
             WHERE as_of = $5 AND shard = $6 AND lease_owner = $7 AND status = 'scanning'";
        const DAY: &str =
            "UPDATE runs SET evaluated = evaluated + $1, notices = notices + $2 WHERE as_of = $3";
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            for chunk in page.events.chunks(ROWS) {
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
            let mut inserted = 0;
            for chunk in page.notices.chunks(ROWS) {
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
                        .push_bind(&n.zns_data)
                        .push_bind(now);
                });
                qb.push(NOTICES_CONFLICT);
                inserted += qb.build().execute(&mut *tx).await?.rows_affected();
            }
            for chunk in page.next_checks.chunks(ROWS) {
                let mut qb = sqlx::QueryBuilder::new(NEXT);
                qb.push_values(chunk, |mut b, n| {
                    b.push_bind(n.personal_id.as_str()).push_bind(n.on).push_bind(n.revision);
                });
                qb.push(NEXT_WHERE);
                qb.build().execute(&mut *tx).await?;
            }
            // The lease is checked with the progress, last: a page of an instance that lost its
            // shard is rolled back whole (the transaction is dropped uncommitted).
            let held = sqlx::query(PROGRESS)
                .bind(page.checkpoint.as_ref().map(|p| p.as_str()))
                .bind(evaluated)
                .bind(inserted as i64)
                .bind(lease_until)
                .bind(shard.as_of)
                .bind(shard.shard)
                .bind(owner)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if held == 0 {
                return Err(lost(shard));
            }
            // The day's totals last: the one row every instance writes is locked only briefly.
            sqlx::query(DAY)
                .bind(evaluated)
                .bind(inserted as i64)
                .bind(shard.as_of)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(inserted)
        })
    }

    /// Marks `shard` finished, and the day with it when it was the last. Returns whether the
    /// day is finished.
    pub async fn finish_shard(
        &self,
        shard: &Shard,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        const SHARD: &str = "UPDATE run_shards SET status = 'finished', finished_at = $1, lease_owner = NULL, lease_until = NULL \
             WHERE as_of = $2 AND shard = $3 AND lease_owner = $4 AND status = 'scanning'";
        const DAY: &str = "UPDATE runs SET status = 'finished', finished_at = $1 WHERE as_of = $2 AND status <> 'finished' \
             AND NOT EXISTS (SELECT 1 FROM run_shards WHERE as_of = $2 AND status <> 'finished')";
        const STATUS: &str = "SELECT status FROM runs WHERE as_of = $1";
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            // The day's row locked first: two instances finishing the last two shards at once
            // would each see the other's still open and neither finish the day.
            let lock = format!("SELECT as_of FROM runs WHERE as_of = $1 {}", s.dialect().for_update);
            sqlx::query(&lock).bind(shard.as_of).fetch_optional(&mut *tx).await?;
            let done = sqlx::query(SHARD)
                .bind(now)
                .bind(shard.as_of)
                .bind(shard.shard)
                .bind(owner)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 0 {
                return Err(lost(shard));
            }
            sqlx::query(DAY).bind(now).bind(shard.as_of).execute(&mut *tx).await?;
            let status: super::RunStatus = sqlx::query_scalar(STATUS).bind(shard.as_of).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(status == super::RunStatus::Finished)
        })
    }

    /// Gives a shard back before its end (stopping, or a failure): its progress stays, so the
    /// next claim resumes after the last committed page.
    pub async fn release_shard(&self, shard: &Shard, owner: &str) -> Result<()> {
        const SQL: &str = "UPDATE run_shards SET lease_owner = NULL, lease_until = NULL WHERE as_of = $1 AND shard = $2 AND lease_owner = $3";
        dispatch!(self, s => {
            sqlx::query(SQL)
                .bind(shard.as_of)
                .bind(shard.shard)
                .bind(owner)
                .execute(s.write_pool())
                .await?;
        });
        Ok(())
    }
}
