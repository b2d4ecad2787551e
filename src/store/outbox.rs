//! The outbox: notices waiting for a message, messages queued, leased to a sender, sent,
//! delivered or dead, and the staff's view of them. Every error and provider id stored from the
//! outside world goes through [`outside_text`]. The SQL is written once for both backends
//! (placeholders `$1…` in order of first use, which SQLite reads too); the claim's row lock is
//! the one dialect difference.

use super::{Channel, MessageStatus, Result, Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::query::Query;

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
    /// `health`, `police`, `school`: who signs it; notices of different senders never share
    /// a message.
    pub sender: String,
    /// The commune whose facility signs it (the citizen's).
    pub commune_code: String,
    /// The person it is about, as a message names them ("bé Nguyễn Văn An").
    pub about: String,
    /// How the recipient is greeted ("chị Trần Thị Bình"; in English the full name).
    pub salutation: String,
    /// The item's due and overdue dates.
    pub due: Option<NaiveDate>,
    pub overdue: Option<NaiveDate>,
    /// A ZNS notice's payload (`rules::zns::ZnsPayload` as JSON), rendered with its sentence.
    pub zns_data: Option<String>,
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
    /// `health`, `police`, `school`.
    pub sender: String,
    /// The facility's name as the family reads it ("Trạm Y tế phường Ngọc Hà").
    pub sender_name: String,
    /// The outbreak alert it belongs to (`store::alerts`); 0 for a routine message.
    pub alert_id: i64,
    /// A ZNS message's approved template id and its parameters (JSON object); `body` keeps
    /// the SMS text, for staff to read.
    pub zns_template_id: Option<String>,
    pub template_data: Option<String>,
}

/// Which messages `list_messages` returns.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub status: Option<MessageStatus>,
    pub channel: Option<Channel>,
    pub day: Option<NaiveDate>,
    pub limit: i64,
}

pub(crate) const MESSAGE_COLUMNS: &str = "id, recipient_id, channel, address, day, language, subject, body, encoding, segments, status, attempts, next_attempt_at, last_error, provider_id, sender, sender_name, alert_id, zns_template_id, template_data";

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

/// Ids per `mark_sent_many` statement (SQLite's variable limit).
const IDS: usize = 500;

pub(crate) const NOTICE_COLUMNS: &str = "personal_id, item, template, notice_date, run_date, recipient_id, channel, address, language, line_sms, line_email, subject, sender, commune_code, about, salutation, due, overdue, zns_data";

/// Inserts a queued message; nothing when its (recipient, channel, sender, day) has one already.
const INSERT_MESSAGE: &str = "INSERT INTO messages (id, recipient_id, channel, address, day, language, subject, body, encoding, segments, status, attempts, next_attempt_at, created_at, sender, sender_name, zns_template_id, template_data) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', 0, $11, $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING";

/// [`INSERT_MESSAGE`] bound to `m`, on either backend: the one insert of `queue_messages` and
/// `queue_fallback`.
fn insert_message<'q, DB>(
    m: &'q OutboxMessage,
    now: DateTime<Utc>,
) -> Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i32>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    NaiveDate: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(INSERT_MESSAGE)
        .bind(m.id.as_str())
        .bind(m.recipient_id.as_str())
        .bind(m.channel.as_str())
        .bind(m.address.as_str())
        .bind(m.day)
        .bind(m.language.as_str())
        .bind(m.subject.as_str())
        .bind(m.body.as_str())
        .bind(m.encoding.as_deref())
        .bind(m.segments)
        .bind(m.next_attempt_at)
        .bind(now)
        .bind(m.sender.as_str())
        .bind(m.sender_name.as_str())
        .bind(m.zns_template_id.as_deref())
        .bind(m.template_data.as_deref())
}

impl Store {
    /// A page of notices waiting for a message: with a recipient and no message yet, from this
    /// day or earlier ones, for recipients after `after` (in recipient order), at most `limit`.
    pub async fn unmessaged_notices(
        &self,
        day: NaiveDate,
        after: &str,
        limit: i64,
    ) -> Result<Vec<NoticeRow>> {
        let sql = format!(
            "SELECT {NOTICE_COLUMNS} FROM notices WHERE message_id IS NULL AND recipient_id IS NOT NULL \
             AND run_date <= $1 AND recipient_id > $2 ORDER BY recipient_id, channel, sender, personal_id, item LIMIT $3"
        );
        Ok(dispatch!(self, s => sqlx::query_as::<_, NoticeRow>(&sql)
            .bind(day)
            .bind(after)
            .bind(limit)
            .fetch_all(s.read_pool())
            .await?))
    }

    /// The reminders recorded for these citizens that reached somebody: (personal ID, item,
    /// notice date), like [`Store::reminders_between`] for a scattered page.
    pub async fn reminders_of(
        &self,
        pins: &[super::PersonalId],
    ) -> Result<Vec<(String, String, NaiveDate)>> {
        self.rows_for_ids(pins, |list| {
            format!("SELECT personal_id, item, notice_date FROM notices WHERE personal_id {list} AND recipient_id IS NOT NULL")
        })
        .await
    }

    /// The reminders recorded for the citizens `first..=last` that reached somebody:
    /// (personal ID, item, notice date), for the limit on reminders per item.
    pub async fn reminders_between(
        &self,
        first: super::PersonalId,
        last: super::PersonalId,
    ) -> Result<Vec<(String, String, NaiveDate)>> {
        const SQL: &str = "SELECT personal_id, item, notice_date FROM notices \
             WHERE personal_id >= $1 AND personal_id <= $2 AND recipient_id IS NOT NULL";
        Ok(dispatch!(self, s => sqlx::query_as(SQL)
            .bind(first.as_str())
            .bind(last.as_str())
            .fetch_all(s.read_pool())
            .await?))
    }

    /// Queues messages and links their notices, in one transaction (a page of a day's
    /// messages: one commit, not one per message). A message whose recipient already has one
    /// on that channel that day is skipped, and its notices wait a day. Returns how many were
    /// queued.
    pub async fn queue_messages(
        &self,
        batch: &[(OutboxMessage, Vec<&NoticeRow>)],
        now: DateTime<Utc>,
    ) -> Result<u64> {
        // Multi-row statements, not one per message and notice: a day of a thousand messages
        // was two thousand round trips, most of an ordinary day's run on PostgreSQL.
        const INSERT: &str = "INSERT INTO messages (id, recipient_id, channel, address, day, language, subject, body, encoding, segments, status, attempts, next_attempt_at, created_at, sender, sender_name, zns_template_id, template_data) ";
        // The channel too: a ZNS notice composed into an SMS (no ZNS for several) says so.
        const LINK: &str = "UPDATE notices SET message_id = v.column1, channel = v.column6 FROM (";
        const LINK_WHERE: &str =
            ") AS v WHERE notices.personal_id = v.column2 AND notices.item = v.column3 \
             AND notices.template = v.column4 AND notices.notice_date = v.column5";
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let mut queued = 0;
            for chunk in batch.chunks(200) {
                let mut qb = sqlx::QueryBuilder::new(INSERT);
                qb.push_values(chunk, |mut b, (m, _)| {
                    b.push_bind(m.id.as_str())
                        .push_bind(m.recipient_id.as_str())
                        .push_bind(m.channel.as_str())
                        .push_bind(m.address.as_str())
                        .push_bind(m.day)
                        .push_bind(m.language.as_str())
                        .push_bind(m.subject.as_str())
                        .push_bind(m.body.as_str())
                        .push_bind(m.encoding.as_deref())
                        .push_bind(m.segments)
                        .push("'queued'")
                        .push("0")
                        .push_bind(m.next_attempt_at)
                        .push_bind(now)
                        .push_bind(m.sender.as_str())
                        .push_bind(m.sender_name.as_str())
                        .push_bind(m.zns_template_id.as_deref())
                        .push_bind(m.template_data.as_deref());
                });
                // A message whose recipient already has one on that channel that day is
                // skipped: its notices stay unlinked and wait a day.
                qb.push(" ON CONFLICT DO NOTHING RETURNING id");
                let inserted: std::collections::HashSet<String> =
                    qb.build_query_scalar().fetch_all(&mut *tx).await?.into_iter().collect();
                queued += inserted.len() as u64;
                let links: Vec<(&OutboxMessage, &NoticeRow)> = chunk
                    .iter()
                    .filter(|(m, _)| inserted.contains(&m.id))
                    .flat_map(|(m, notices)| notices.iter().map(move |n| (m, *n)))
                    .collect();
                for part in links.chunks(500) {
                    let mut qb = sqlx::QueryBuilder::new(LINK);
                    qb.push_values(part, |mut b, (m, n)| {
                        b.push_bind(m.id.as_str())
                            .push_bind(n.personal_id.as_str())
                            .push_bind(n.item.as_str())
                            .push_bind(n.template.as_str())
                            .push_bind(n.notice_date)
                            .push_bind(m.channel.as_str());
                    });
                    qb.push(LINK_WHERE);
                    qb.build().execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(queued)
        })
    }

    /// Leases up to `limit` messages ready to send: ones left `sending` by an instance whose
    /// lease ran out (it died mid-send), then queued ones whose time has come, in that order.
    /// Two statements rather than one with OR: each walks `messages_ready` (status,
    /// next_attempt_at, id) in order and stops at the limit, where the OR made every claim sort
    /// the whole backlog (77 s of a 173,000-message catch-up run).
    pub async fn claim_messages(
        &self,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>> {
        // Outbreak alerts' messages go first (`messages_alert_ready`): a campaign's warning
        // must not wait behind a day's routine reminders.
        const READY: [(&str, &str); 3] = [
            ("status = 'sending' AND lease_until < $3", "lease_until, id"),
            (
                "status = 'queued' AND alert_id > 0 AND next_attempt_at <= $3",
                "next_attempt_at, id",
            ),
            (
                "status = 'queued' AND next_attempt_at <= $3",
                "next_attempt_at, id",
            ),
        ];
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let mut rows: Vec<OutboxMessage> = Vec::new();
            for (ready, order) in READY {
                let want = limit - rows.len() as i64;
                if want <= 0 {
                    break;
                }
                let sql = format!(
                    "UPDATE messages SET status = 'sending', lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
                     WHERE id IN (SELECT id FROM messages WHERE {ready} ORDER BY {order} LIMIT $4 {}) \
                     RETURNING {MESSAGE_COLUMNS}",
                    s.dialect().skip_locked
                );
                let claimed = sqlx::query_as::<_, OutboxMessage>(&sql)
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
        })
    }

    /// Records a send; only the lease holder may (a late worker whose lease expired cannot
    /// overwrite what a newer holder did).
    pub async fn mark_sent(
        &self,
        id: &str,
        owner: &str,
        provider_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE messages SET status = 'sent', provider_id = $1, sent_at = $2, lease_owner = NULL, lease_until = NULL, last_error = NULL \
             WHERE id = $3 AND lease_owner = $4 AND status = 'sending'";
        let provider_id = provider_id.map(outside_text);
        let done = dispatch!(self, s => sqlx::query(SQL)
            .bind(provider_id.as_deref())
            .bind(now)
            .bind(id)
            .bind(owner)
            .execute(s.write_pool())
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Marks many leased messages sent in one transaction (the file outbox records its sends
    /// a batch at a time, see `delivery::file`).
    pub async fn mark_sent_many(
        &self,
        ids: &[String],
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let mut marked = 0;
            for chunk in ids.chunks(IDS) {
                let list = (0..chunk.len())
                    .map(|i| format!("${}", i + 3))
                    .collect::<Vec<_>>()
                    .join(", ");
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
        })
    }

    /// Records a failed attempt: retried at `retry_at`, or dead when None.
    pub async fn mark_failed(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE messages SET status = $1, last_error = $2, next_attempt_at = COALESCE($3, next_attempt_at), lease_owner = NULL, lease_until = NULL \
             WHERE id = $4 AND lease_owner = $5 AND status = 'sending'";
        let error = outside_text(error);
        let (status, next) = match retry_at {
            Some(at) => (MessageStatus::Queued, Some(at)),
            None => (MessageStatus::Dead, None),
        };
        let done = dispatch!(self, s => sqlx::query(SQL)
            .bind(status.as_str())
            .bind(&error)
            .bind(next)
            .bind(id)
            .bind(owner)
            .execute(s.write_pool())
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Puts a claimed message that was never attempted back in the queue (stopping): the
    /// claim's attempt is not counted.
    pub async fn release_message(&self, id: &str, owner: &str) -> Result<bool> {
        const SQL: &str = "UPDATE messages SET status = 'queued', attempts = attempts - 1, lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND lease_owner = $2 AND status = 'sending'";
        let done = dispatch!(self, s => sqlx::query(SQL)
            .bind(id)
            .bind(owner)
            .execute(s.write_pool())
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// The installation's secret (32 random bytes, hex) for message ids: made once, by
    /// whichever instance asks first, and read by all the others from the database, so every
    /// instance composes the same id for the same message.
    pub async fn message_id_secret(&self) -> Result<String> {
        const INSERT: &str = "INSERT INTO app_meta (key, value) VALUES ('message_id_secret', $1) ON CONFLICT (key) DO NOTHING";
        const SELECT: &str = "SELECT value FROM app_meta WHERE key = 'message_id_secret'";
        let fresh = crate::secret::random_hex()
            .map_err(|e| StoreError::Corrupt(format!("cannot read random bytes: {e}")))?;
        // Insert-if-absent, then read: two instances starting at once agree on one.
        Ok(dispatch!(self, s => {
            sqlx::query(INSERT).bind(&fresh).execute(s.write_pool()).await?;
            sqlx::query_scalar(SELECT).fetch_one(s.write_pool()).await?
        }))
    }

    /// A gateway's delivery report, found by our message id or the provider's id. Only a sent
    /// message can become delivered or failed; false when none matched.
    pub async fn record_delivery_report(
        &self,
        key: &str,
        delivered: bool,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE messages SET status = $1, last_error = COALESCE($2, last_error), delivered_at = $3 \
             WHERE (id = $4 OR provider_id = $4) AND status IN ('sent', 'delivered', 'failed')";
        // A key with control characters matches no message (and PostgreSQL refuses NUL).
        if key.chars().any(char::is_control) {
            return Ok(false);
        }
        let error = error.map(outside_text);
        let status = if delivered {
            MessageStatus::Delivered
        } else {
            MessageStatus::Failed
        };
        let done = dispatch!(self, s => sqlx::query(SQL)
            .bind(status.as_str())
            .bind(error.as_deref())
            .bind(now)
            .bind(key)
            .execute(s.write_pool())
            .await?
            .rows_affected());
        Ok(done > 0)
    }

    /// The notices a message carries (to send them again on another channel).
    pub async fn notices_of_message(&self, id: &str) -> Result<Vec<NoticeRow>> {
        let sql = format!(
            "SELECT {NOTICE_COLUMNS} FROM notices WHERE message_id = $1 ORDER BY personal_id, item"
        );
        Ok(dispatch!(self, s => sqlx::query_as::<_, NoticeRow>(&sql)
            .bind(id)
            .fetch_all(s.read_pool())
            .await?))
    }

    /// Moves a message's notices to another message (the fallback channel) and queues it,
    /// atomically; the failed message keeps its dead-letter row and the reason.
    pub async fn queue_fallback(
        &self,
        failed: &str,
        m: &OutboxMessage,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        const MOVE: &str =
            "UPDATE notices SET message_id = $1, channel = $2, address = $3 WHERE message_id = $4";
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let inserted =
                insert_message(m, now).execute(&mut *tx).await?.rows_affected() == 1;
            if !inserted {
                return Ok(false);
            }
            sqlx::query(MOVE)
                .bind(&m.id)
                .bind(m.channel.as_str())
                .bind(&m.address)
                .bind(failed)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The first `limit` messages of a day, by channel and id.
    pub async fn messages_of_day(&self, day: NaiveDate, limit: i64) -> Result<Vec<OutboxMessage>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE day = $1 ORDER BY channel, id LIMIT $2"
        );
        Ok(
            dispatch!(self, s => sqlx::query_as::<_, OutboxMessage>(&sql)
            .bind(day)
            .bind(limit)
            .fetch_all(s.read_pool())
            .await?),
        )
    }

    /// Messages, newest day first, filtered; for officials' "what was sent, what failed".
    pub async fn list_messages(&self, f: &MessageFilter) -> Result<Vec<OutboxMessage>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR channel = $2) \
             AND ($3 IS NULL OR day = $3) ORDER BY day DESC, id LIMIT $4"
        );
        Ok(
            dispatch!(self, s => sqlx::query_as::<_, OutboxMessage>(&sql)
            .bind(f.status.map(MessageStatus::as_str))
            .bind(f.channel.map(Channel::as_str))
            .bind(f.day)
            .bind(f.limit)
            .fetch_all(s.read_pool())
            .await?),
        )
    }

    /// A message by id.
    pub async fn message(&self, id: &str) -> Result<Option<OutboxMessage>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1");
        Ok(
            dispatch!(self, s => sqlx::query_as::<_, OutboxMessage>(&sql)
            .bind(id)
            .fetch_optional(s.read_pool())
            .await?),
        )
    }

    /// Queues a failed or dead message again now (staff "retry"); false when it is neither.
    pub async fn retry_message(&self, id: &str, now: DateTime<Utc>) -> Result<bool> {
        const SQL: &str = "UPDATE messages SET status = 'queued', attempts = 0, next_attempt_at = $1 WHERE id = $2 AND status IN ('dead', 'failed')";
        let done = dispatch!(self, s => sqlx::query(SQL)
            .bind(now)
            .bind(id)
            .execute(s.write_pool())
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// (channel, status, count) over the whole outbox.
    pub async fn outbox_counts(&self) -> Result<Vec<(String, String, i64)>> {
        const SQL: &str = "SELECT channel, status, count(*) FROM messages GROUP BY channel, status ORDER BY channel, status";
        Ok(dispatch!(self, s => sqlx::query_as(SQL).fetch_all(s.read_pool()).await?))
    }
}

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
