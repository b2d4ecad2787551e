//! Storage for scheduling and delivery: runs with leases and checkpoints, the event ledger,
//! notices and the outbox. The SQL is the same on both backends (placeholders `$1…` in order of
//! first use, which SQLite reads too), so one macro stamps the methods onto each; only the
//! write transaction and the row-lock clause differ.

pub use super::scan::EventRow;
use super::{Channel, MessageStatus, Result, RunStatus, StoreError};
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

/// A notice, with its recipient resolved and its sentence rendered.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NoticeRow {
    pub personal_id: String,
    pub item: String,
    pub template: String,
    pub notice_date: NaiveDate,
    pub run_date: NaiveDate,
    pub recipient_id: Option<String>,
    pub channel: Option<Channel>,
    pub address: Option<String>,
    pub language: String,
    pub line_sms: String,
    pub line_email: String,
    pub subject: String,
}

/// A row of the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OutboxMessage {
    pub id: String,
    pub recipient_id: String,
    pub channel: Channel,
    pub address: String,
    pub day: NaiveDate,
    pub language: String,
    pub subject: String,
    pub body: String,
    pub encoding: Option<String>,
    pub segments: Option<i32>,
    pub status: MessageStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub provider_id: Option<String>,
}

/// Which messages `list_messages` returns.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub status: Option<MessageStatus>,
    pub channel: Option<Channel>,
    pub day: Option<NaiveDate>,
    pub limit: i64,
}

pub(crate) const MESSAGE_COLUMNS: &str = "id, recipient_id, channel, address, day, language, subject, body, encoding, segments, status, attempts, next_attempt_at, last_error, provider_id";

/// Text from the outside world (an SMTP server's or gateway's reply, a delivery report) made
/// safe to store and show: control characters (NUL included, which PostgreSQL refuses in
/// text) and bidirectional overrides become spaces, runs of spaces collapse, and the result
/// is cut at 500 characters. Every error and provider id the outbox stores goes through here.
pub fn outside_text(s: &str) -> String {
    const MAX: usize = 500;
    let mut out = String::with_capacity(s.len().min(MAX + 3));
    let mut chars = 0;
    for c in s.chars() {
        // Controls, bidi embeddings/overrides/isolates and marks (LRM, RLM, ALM), zero-width
        // characters: none of them belongs in an error text, and each can disguise one.
        let c = if c.is_control()
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200f}' | '\u{061c}' | '\u{2060}' | '\u{feff}')
        {
            ' '
        } else {
            c
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        if chars == MAX {
            out.push('…');
            break;
        }
        out.push(c);
        chars += 1;
    }
    out.trim_end().to_string()
}

/// Rows per multi-row statement (SQLite's variable limit, PostgreSQL's 65,535 parameters).
const ROWS: usize = 500;

macro_rules! schedule_queries {
    ($store:ty, $db:ty, $skip_locked:expr) => {
        impl $store {
            pub(crate) async fn claim_run(&self, as_of: NaiveDate, owner: &str, lease_until: DateTime<Utc>, now: DateTime<Utc>) -> Result<RunClaim> {
                let mut tx = self.write_tx().await?;
                sqlx::query("INSERT INTO runs (as_of, status, started_at) VALUES ($1, 'scanning', $2) ON CONFLICT (as_of) DO NOTHING")
                    .bind(as_of)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let claimed: Option<(Option<String>,)> = sqlx::query_as(
                    "UPDATE runs SET lease_owner = $1, lease_until = $2 WHERE as_of = $3 AND status <> 'finished' \
                     AND (lease_owner IS NULL OR lease_until < $4 OR lease_owner = $1) RETURNING checkpoint",
                )
                .bind(owner)
                .bind(lease_until)
                .bind(as_of)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let status: RunStatus = sqlx::query_scalar("SELECT status FROM runs WHERE as_of = $1").bind(as_of).fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok(match (claimed, status) {
                    (Some((checkpoint,)), _) => RunClaim::Claimed { checkpoint },
                    (None, RunStatus::Finished) => RunClaim::Finished,
                    (None, RunStatus::Scanning) => RunClaim::HeldByOther,
                })
            }

            /// Writes one scanned page — changed ledger rows, new notices, the checkpoint — in one
            /// transaction, and only while this instance still holds the run's lease.
            #[allow(clippy::too_many_arguments)]
            pub(crate) async fn commit_page(
                &self,
                as_of: NaiveDate,
                owner: &str,
                lease_until: DateTime<Utc>,
                checkpoint: &str,
                evaluated: i64,
                events: &[EventRow],
                notices: &[NoticeRow],
                now: DateTime<Utc>,
            ) -> Result<u64> {
                let mut tx = self.write_tx().await?;
                let mut inserted = 0;
                for chunk in events.chunks(ROWS) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO events (personal_id, item, status, earliest, due, overdue, expires, completed_on, changed_on, updated_at) ",
                    );
                    qb.push_values(chunk, |mut b, e| {
                        b.push_bind(&e.personal_id).push_bind(&e.item).push_bind(&e.status).push_bind(e.earliest).push_bind(e.due)
                            .push_bind(e.overdue).push_bind(e.expires).push_bind(e.completed_on).push_bind(e.changed_on).push_bind(now);
                    });
                    qb.push(
                        " ON CONFLICT (personal_id, item) DO UPDATE SET status = excluded.status, earliest = excluded.earliest, \
                         due = excluded.due, overdue = excluded.overdue, expires = excluded.expires, completed_on = excluded.completed_on, \
                         changed_on = excluded.changed_on, updated_at = excluded.updated_at",
                    );
                    qb.build().execute(&mut *tx).await?;
                }
                for chunk in notices.chunks(ROWS) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO notices (personal_id, item, template, notice_date, run_date, recipient_id, channel, address, language, line_sms, line_email, subject, created_at) ",
                    );
                    qb.push_values(chunk, |mut b, n| {
                        b.push_bind(&n.personal_id).push_bind(&n.item).push_bind(&n.template).push_bind(n.notice_date).push_bind(n.run_date)
                            .push_bind(&n.recipient_id).push_bind(n.channel.map(Channel::as_str)).push_bind(&n.address).push_bind(&n.language)
                            .push_bind(&n.line_sms).push_bind(&n.line_email).push_bind(&n.subject).push_bind(now);
                    });
                    qb.push(" ON CONFLICT (personal_id, item, template, notice_date) DO NOTHING");
                    inserted += qb.build().execute(&mut *tx).await?.rows_affected();
                }
                let held = sqlx::query(
                    "UPDATE runs SET checkpoint = $1, evaluated = evaluated + $2, notices = notices + $3, lease_until = $4 \
                     WHERE as_of = $5 AND lease_owner = $6",
                )
                .bind(checkpoint)
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
                    return Err(StoreError::Conflict(format!("lost the lease on the run of {as_of}")));
                }
                tx.commit().await?;
                Ok(inserted)
            }

            pub(crate) async fn finish_run(&self, as_of: NaiveDate, owner: &str, now: DateTime<Utc>) -> Result<()> {
                sqlx::query("UPDATE runs SET status = 'finished', finished_at = $1, lease_owner = NULL, lease_until = NULL WHERE as_of = $2 AND lease_owner = $3")
                    .bind(now)
                    .bind(as_of)
                    .bind(owner)
                    .execute(self.write_pool())
                    .await?;
                Ok(())
            }

            /// Notices with a recipient and no message yet, from this day or earlier ones, for
            /// recipients after `after` (in recipient order), at most `limit` rows.
            pub(crate) async fn unmessaged_notices(&self, day: NaiveDate, after: &str, limit: i64) -> Result<Vec<NoticeRow>> {
                Ok(sqlx::query_as::<_, NoticeRow>(
                    "SELECT personal_id, item, template, notice_date, run_date, recipient_id, channel, address, language, line_sms, line_email, subject \
                     FROM notices WHERE message_id IS NULL AND recipient_id IS NOT NULL AND run_date <= $1 AND recipient_id > $2 \
                     ORDER BY recipient_id, channel, personal_id, item LIMIT $3",
                )
                .bind(day)
                .bind(after)
                .bind(limit)
                .fetch_all(self.read_pool())
                .await?)
            }

            /// Inserts a queued message; false when its (recipient, channel, day) has one.
            async fn insert_message(tx: &mut sqlx::Transaction<'_, $db>, m: &OutboxMessage, now: DateTime<Utc>) -> Result<bool> {
                Ok(sqlx::query(
                    "INSERT INTO messages (id, recipient_id, channel, address, day, language, subject, body, encoding, segments, status, attempts, next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', 0, $11, $12) ON CONFLICT DO NOTHING",
                )
                .bind(&m.id).bind(&m.recipient_id).bind(m.channel.as_str()).bind(&m.address).bind(m.day).bind(&m.language)
                .bind(&m.subject).bind(&m.body).bind(&m.encoding).bind(m.segments).bind(m.next_attempt_at).bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected() == 1)
            }

            /// Queues messages and links their notices, in one transaction (a page of a day's
            /// messages: one commit, not one per message). A message whose recipient already
            /// has one on that channel that day is skipped, and its notices wait a day.
            /// Returns how many were queued.
            pub(crate) async fn queue_messages(&self, batch: &[(OutboxMessage, Vec<&NoticeRow>)], now: DateTime<Utc>) -> Result<u64> {
                let mut tx = self.write_tx().await?;
                let mut queued = 0;
                for (m, notices) in batch {
                    let inserted = Self::insert_message(&mut tx, m, now).await?;
                    if !inserted {
                        continue;
                    }
                    queued += 1;
                    for n in notices {
                        sqlx::query("UPDATE notices SET message_id = $1 WHERE personal_id = $2 AND item = $3 AND template = $4 AND notice_date = $5")
                            .bind(&m.id).bind(&n.personal_id).bind(&n.item).bind(&n.template).bind(n.notice_date)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(queued)
            }

            /// Leases up to `limit` messages ready to send: ones left `sending` by an instance
            /// whose lease ran out (it died mid-send), then queued ones whose time has come, in
            /// that order. Two statements rather than one with OR: each walks `messages_ready`
            /// (status, next_attempt_at, id) in order and stops at the limit, where the OR made
            /// every claim sort the whole backlog (77 s of a 173,000-message catch-up run).
            pub(crate) async fn claim_messages(&self, owner: &str, lease_until: DateTime<Utc>, now: DateTime<Utc>, limit: i64) -> Result<Vec<OutboxMessage>> {
                let mut tx = self.write_tx().await?;
                let mut rows: Vec<OutboxMessage> = Vec::new();
                for (ready, order) in [
                    ("status = 'sending' AND lease_until < $3", "lease_until, id"),
                    ("status = 'queued' AND next_attempt_at <= $3", "next_attempt_at, id"),
                ] {
                    let want = limit - rows.len() as i64;
                    if want <= 0 {
                        break;
                    }
                    let claimed = sqlx::query_as::<_, OutboxMessage>(&format!(
                        "UPDATE messages SET status = 'sending', lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
                         WHERE id IN (SELECT id FROM messages WHERE {ready} ORDER BY {order} LIMIT $4 {}) \
                         RETURNING {MESSAGE_COLUMNS}",
                        $skip_locked
                    ))
                    .bind(owner)
                    .bind(lease_until)
                    .bind(now)
                    .bind(want)
                    .fetch_all(&mut *tx)
                    .await?;
                    rows.extend(claimed);
                }
                tx.commit().await?;
                Ok(rows)
            }

            /// Records a send; only the lease holder may (a late worker whose lease expired
            /// cannot overwrite what a newer holder did).
            pub(crate) async fn mark_sent(&self, id: &str, owner: &str, provider_id: Option<&str>, now: DateTime<Utc>) -> Result<bool> {
                Ok(sqlx::query(
                    "UPDATE messages SET status = 'sent', provider_id = $1, sent_at = $2, lease_owner = NULL, lease_until = NULL, last_error = NULL \
                     WHERE id = $3 AND lease_owner = $4 AND status = 'sending'",
                )
                .bind(provider_id).bind(now).bind(id).bind(owner)
                .execute(self.write_pool())
                .await?
                .rows_affected() == 1)
            }

            /// Records sends of the file outbox a batch at a time (see `delivery::file`).
            pub(crate) async fn mark_sent_many(&self, ids: &[String], owner: &str, now: DateTime<Utc>) -> Result<u64> {
                let mut tx = self.write_tx().await?;
                let mut marked = 0;
                for chunk in ids.chunks(ROWS) {
                    let list = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", ");
                    let sql = format!(
                        "UPDATE messages SET status = 'sent', sent_at = $1, lease_owner = NULL, lease_until = NULL, last_error = NULL \
                         WHERE lease_owner = $2 AND status = 'sending' AND id IN ({list})"
                    );
                    let mut q = sqlx::query(&sql).bind(now).bind(owner);
                    for id in chunk {
                        q = q.bind(id);
                    }
                    marked += q.execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                Ok(marked)
            }

            /// Records a failed attempt: retried at `retry_at`, or dead when None.
            pub(crate) async fn mark_failed(&self, id: &str, owner: &str, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<bool> {
                let (status, next) = match retry_at {
                    Some(at) => ("queued", Some(at)),
                    None => ("dead", None),
                };
                Ok(sqlx::query(
                    "UPDATE messages SET status = $1, last_error = $2, next_attempt_at = COALESCE($3, next_attempt_at), lease_owner = NULL, lease_until = NULL \
                     WHERE id = $4 AND lease_owner = $5 AND status = 'sending'",
                )
                .bind(status).bind(error).bind(next).bind(id).bind(owner)
                .execute(self.write_pool())
                .await?
                .rows_affected() == 1)
            }

            pub(crate) async fn messages_of_day(&self, day: NaiveDate, limit: i64) -> Result<Vec<OutboxMessage>> {
                Ok(sqlx::query_as::<_, OutboxMessage>(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE day = $1 ORDER BY channel, id LIMIT $2"))
                    .bind(day)
                    .bind(limit)
                    .fetch_all(self.read_pool())
                    .await?)
            }

            /// Gives the day back before the end (the service is stopping): the checkpoint
            /// stays, so the next instance resumes after the last committed page.
            pub(crate) async fn release_run(&self, as_of: NaiveDate, owner: &str) -> Result<()> {
                sqlx::query("UPDATE runs SET lease_owner = NULL, lease_until = NULL WHERE as_of = $1 AND lease_owner = $2")
                    .bind(as_of)
                    .bind(owner)
                    .execute(self.write_pool())
                    .await?;
                Ok(())
            }

            /// Puts claimed messages that were never attempted back in the queue (stopping):
            /// the claim's attempt is not counted.
            pub(crate) async fn release_message(&self, id: &str, owner: &str) -> Result<bool> {
                Ok(sqlx::query(
                    "UPDATE messages SET status = 'queued', attempts = attempts - 1, lease_owner = NULL, lease_until = NULL \
                     WHERE id = $1 AND lease_owner = $2 AND status = 'sending'",
                )
                .bind(id)
                .bind(owner)
                .execute(self.write_pool())
                .await?
                .rows_affected() == 1)
            }

            pub(crate) async fn release_all(&self, owner: &str, now: DateTime<Utc>) -> Result<u64> {
                let mut tx = self.write_tx().await?;
                let released = sqlx::query(
                    "UPDATE messages SET status = 'queued', next_attempt_at = $1, lease_owner = NULL, lease_until = NULL \
                     WHERE lease_owner = $2 AND status = 'sending'",
                )
                .bind(now)
                .bind(owner)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                sqlx::query("UPDATE runs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1")
                    .bind(owner)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(released)
            }

            pub(crate) async fn message_id_secret(&self, fresh: &str) -> Result<String> {
                // Insert-if-absent, then read: two instances starting at once agree on one.
                sqlx::query("INSERT INTO app_meta (key, value) VALUES ('message_id_secret', $1) ON CONFLICT (key) DO NOTHING")
                    .bind(fresh)
                    .execute(self.write_pool())
                    .await?;
                Ok(sqlx::query_scalar("SELECT value FROM app_meta WHERE key = 'message_id_secret'")
                    .fetch_one(self.write_pool())
                    .await?)
            }

            /// A delivery report from the gateway, found by our message id or the provider's.
            /// Only a sent message can become delivered or failed; false when none matched.
            pub(crate) async fn record_delivery_report(&self, key: &str, delivered: bool, error: Option<&str>, now: DateTime<Utc>) -> Result<bool> {
                let status = if delivered { "delivered" } else { "failed" };
                Ok(sqlx::query(
                    "UPDATE messages SET status = $1, last_error = COALESCE($2, last_error), delivered_at = $3 \
                     WHERE (id = $4 OR provider_id = $4) AND status IN ('sent', 'delivered', 'failed')",
                )
                .bind(status)
                .bind(error)
                .bind(now)
                .bind(key)
                .execute(self.write_pool())
                .await?
                .rows_affected() > 0)
            }

            /// The notices a message carries (to send them again on another channel).
            pub(crate) async fn notices_of_message(&self, id: &str) -> Result<Vec<NoticeRow>> {
                Ok(sqlx::query_as::<_, NoticeRow>(
                    "SELECT personal_id, item, template, notice_date, run_date, recipient_id, channel, address, language, line_sms, line_email, subject \
                     FROM notices WHERE message_id = $1 ORDER BY personal_id, item",
                )
                .bind(id)
                .fetch_all(self.read_pool())
                .await?)
            }

            /// Moves a message's notices to another message (the fallback channel) and queues
            /// it, atomically; the failed message keeps its dead-letter row and the reason.
            pub(crate) async fn queue_fallback(&self, failed: &str, m: &OutboxMessage, now: DateTime<Utc>) -> Result<bool> {
                let mut tx = self.write_tx().await?;
                let inserted = Self::insert_message(&mut tx, m, now).await?;
                if !inserted {
                    return Ok(false);
                }
                sqlx::query("UPDATE notices SET message_id = $1, channel = $2, address = $3 WHERE message_id = $4")
                    .bind(&m.id).bind(m.channel.as_str()).bind(&m.address).bind(failed)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            /// Messages, newest day first, filtered; for officials' "what was sent, what failed".
            pub(crate) async fn list_messages(&self, f: &MessageFilter) -> Result<Vec<OutboxMessage>> {
                Ok(sqlx::query_as::<_, OutboxMessage>(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR channel = $2) \
                     AND ($3 IS NULL OR day = $3) ORDER BY day DESC, id LIMIT $4"
                ))
                .bind(f.status.map(MessageStatus::as_str))
                .bind(f.channel.map(Channel::as_str))
                .bind(f.day)
                .bind(f.limit)
                .fetch_all(self.read_pool())
                .await?)
            }

            /// A message by id.
            pub(crate) async fn message(&self, id: &str) -> Result<Option<OutboxMessage>> {
                Ok(sqlx::query_as::<_, OutboxMessage>(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.read_pool())
                    .await?)
            }

            /// Sends a failed or dead message again now (staff "retry"); false when the message
            /// is not failed or dead.
            pub(crate) async fn retry_message(&self, id: &str, now: DateTime<Utc>) -> Result<bool> {
                Ok(sqlx::query(
                    "UPDATE messages SET status = 'queued', attempts = 0, next_attempt_at = $1 WHERE id = $2 AND status IN ('dead', 'failed')",
                )
                .bind(now)
                .bind(id)
                .execute(self.write_pool())
                .await?
                .rows_affected() == 1)
            }

            pub(crate) async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(self.read_pool()).await?;
                Ok(())
            }

            pub(crate) async fn outbox_counts(&self) -> Result<Vec<(String, String, i64)>> {
                Ok(sqlx::query_as("SELECT channel, status, count(*) FROM messages GROUP BY channel, status ORDER BY channel, status")
                    .fetch_all(self.read_pool())
                    .await?)
            }
        }
    };
}

schedule_queries!(super::SqliteStore, sqlx::Sqlite, "");
schedule_queries!(super::PgStore, sqlx::Postgres, "FOR UPDATE SKIP LOCKED");

#[cfg(test)]
mod tests {
    use super::outside_text;

    #[test]
    fn outside_text_has_no_control_characters_and_a_bounded_length() {
        assert_eq!(
            outside_text("ok\0 \u{1b}[31mred\r\n\tend "),
            "ok [31mred end"
        );
        assert_eq!(outside_text("a\u{202e}b"), "a b");
        assert_eq!(outside_text("Lỗi: số không hợp lệ"), "Lỗi: số không hợp lệ");
        let long = outside_text(&"x".repeat(3_000_000));
        assert_eq!(long.chars().count(), 501);
        assert!(long.ends_with('…'));
        assert_eq!(outside_text("\0\0"), "");
    }
}
