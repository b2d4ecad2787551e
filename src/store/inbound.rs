//! What families text back (issue #16), stored: one row per inbound SMS (the gateway's id
//! keeps a retried webhook from adding a second), the answers sent (each a message of the
//! outbox with its own `reply_id`, so it never merges with the day's reminder), and the doses
//! families report, which count only once a nurse confirms them.
//!
//! Everything one reply does — the row, an opt-out, the reported doses, the confirmation —
//! is written in one transaction: a crash leaves either all of it or none, and the gateway's
//! retry of a message that was not stored is handled as new.

use super::outbox::OutboxMessage;
use super::{Result, Store, StoredCitizen};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

mod views;
pub use views::{InboundFilter, InboundRow, InboxFigures, ReportedDoseRow};

/// What vongdoi did with a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InboundAction {
    OptOut,
    OptIn,
    /// A dose the family reports, waiting for a nurse.
    ReportedDose,
    /// Several children could be meant: the family was asked which.
    AskChild,
    /// Free text (or a keyword that needs a person): the commune's inbox.
    ForStaff,
    /// A number nobody in the registry has: kept, nothing done.
    UnknownNumber,
}

impl InboundAction {
    pub const ALL: [InboundAction; 6] = [
        InboundAction::OptOut,
        InboundAction::OptIn,
        InboundAction::ReportedDose,
        InboundAction::AskChild,
        InboundAction::ForStaff,
        InboundAction::UnknownNumber,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InboundAction::OptOut => "opt-out",
            InboundAction::OptIn => "opt-in",
            InboundAction::ReportedDose => "reported-dose",
            InboundAction::AskChild => "ask-child",
            InboundAction::ForStaff => "for-staff",
            InboundAction::UnknownNumber => "unknown-number",
        }
    }

    pub fn parse(s: &str) -> Option<InboundAction> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub fn label(self, lang: crate::rules::Lang) -> &'static str {
        use crate::rules::Lang::{En, Vi};
        match (self, lang) {
            (InboundAction::OptOut, Vi) => "dừng nhận tin",
            (InboundAction::OptIn, Vi) => "nhận tin lại",
            (InboundAction::ReportedDose, Vi) => "báo đã tiêm",
            (InboundAction::AskChild, Vi) => "đã hỏi cháu nào",
            (InboundAction::ForStaff, Vi) => "cần cán bộ trả lời",
            (InboundAction::UnknownNumber, Vi) => "số không có trong sổ",
            (InboundAction::OptOut, En) => "opted out",
            (InboundAction::OptIn, En) => "opted in",
            (InboundAction::ReportedDose, En) => "reported a dose",
            (InboundAction::AskChild, En) => "asked which child",
            (InboundAction::ForStaff, En) => "for staff",
            (InboundAction::UnknownNumber, En) => "unknown number",
        }
    }
}

/// Where a reply stands in the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InboxStatus {
    /// Waits for staff.
    Open,
    /// Answered or closed by staff.
    Done,
    /// A keyword did what it asked; nobody needs to act.
    Handled,
}

impl InboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::Open => "open",
            InboxStatus::Done => "done",
            InboxStatus::Handled => "handled",
        }
    }

    pub fn parse(s: &str) -> Option<InboxStatus> {
        [InboxStatus::Open, InboxStatus::Done, InboxStatus::Handled]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// A reported dose's state: pending until a nurse decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    Pending,
    Confirmed,
    Rejected,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Pending => "pending",
            ReportStatus::Confirmed => "confirmed",
            ReportStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<ReportStatus> {
        [
            ReportStatus::Pending,
            ReportStatus::Confirmed,
            ReportStatus::Rejected,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// A reply and everything it does, written at once by [`Store::record_inbound`].
#[derive(Debug, Clone)]
pub struct NewInbound {
    /// `generic:ID`, `esms:SMSID`: unique.
    pub provider_key: String,
    /// E.164.
    pub from_number: String,
    pub body: String,
    pub received_at: DateTime<Utc>,
    pub action: InboundAction,
    pub keyword: Option<String>,
    pub citizen_id: Option<String>,
    pub child_id: Option<String>,
    pub answers: Option<String>,
    pub commune_code: String,
    pub status: InboxStatus,
    /// Opt these people out of SMS (true) or back in (false).
    pub opt: Option<(Vec<String>, bool)>,
    pub reported: Vec<NewReportedDose>,
    /// The one confirmation or question sent back.
    pub reply: Option<OutboxMessage>,
}

#[derive(Debug, Clone)]
pub struct NewReportedDose {
    pub personal_id: String,
    pub commune_code: String,
    pub item: String,
    pub series: String,
}

/// A child a message was about: from its notices, or from its outbreak alert's audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageChild {
    pub personal_id: String,
    pub commune_code: String,
    /// The notice's item (`dtp/2`); '' for an alert.
    pub item: String,
    /// The alert's template, for an alert's message.
    pub alert_template: Option<String>,
}

/// The message a reply answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub id: String,
    pub language: String,
    pub sent_at: DateTime<Utc>,
}

const INSERT_INBOUND: &str = "INSERT INTO inbound_messages (provider_key, from_number, body, received_at, stored_at, action, keyword, citizen_id, child_id, answers, commune_code, status) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (provider_key) DO NOTHING RETURNING id";
const INSERT_REPORTED: &str = "INSERT INTO reported_doses (inbound_id, personal_id, commune_code, item, series, reported_at, status) VALUES ($1, $2, $3, $4, $5, $6, 'pending') ON CONFLICT DO NOTHING";
const INSERT_REPLY: &str = "INSERT INTO inbound_replies (inbound_id, kind, body, message_id, by_account, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
/// An answer is a message of its own (`reply_id`): it never merges with the day's reminder.
const INSERT_MESSAGE: &str = "INSERT INTO messages (id, recipient_id, channel, address, day, language, subject, body, encoding, segments, status, attempts, next_attempt_at, created_at, sender, sender_name, reply_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', 0, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING";
/// An opted-out family's SMS (and ZNS, which reach the same phone) not yet sent stop too: its people's queued messages to the
/// number are cancelled and their unsent notices lose their recipient (the next notice is
/// resolved afresh). By recipient, so both walk an index (the outbox's key, `notices_unsent`)
/// rather than every queued message or notice.
const CANCEL_QUEUED: &str = "UPDATE messages SET status = 'cancelled', last_error = 'gia đình nhắn dừng nhận tin / the family opted out', lease_owner = NULL, lease_until = NULL \
     WHERE recipient_id = $1 AND channel IN ('sms', 'zns') AND status = 'queued' AND reply_id = 0 AND address = $2";
const DETACH_NOTICES: &str = "UPDATE notices SET recipient_id = NULL, channel = NULL, address = NULL WHERE message_id IS NULL AND recipient_id = $1 AND channel IN ('sms', 'zns') AND address = $2";

macro_rules! bind_message {
    ($q:expr, $m:expr, $now:expr, $reply_id:expr) => {
        $q.bind($m.id.as_str())
            .bind($m.recipient_id.as_str())
            .bind($m.channel.as_str())
            .bind($m.address.as_str())
            .bind($m.day)
            .bind($m.language.as_str())
            .bind($m.subject.as_str())
            .bind($m.body.as_str())
            .bind($m.encoding.as_deref())
            .bind($m.segments)
            .bind($m.next_attempt_at)
            .bind($now)
            .bind($m.sender.as_str())
            .bind($m.sender_name.as_str())
            .bind($reply_id)
    };
}

impl Store {
    /// Everyone registered with this number (E.164): a parent's phone is often the family's.
    pub async fn citizens_with_phone(&self, e164: &str) -> Result<Vec<StoredCitizen>> {
        use super::registry::STORED_COLUMNS;
        use super::rows::CITIZEN_SELECT;
        let sql = format!(
            "SELECT {CITIZEN_SELECT}, {STORED_COLUMNS} FROM citizens WHERE phone = $1 ORDER BY date_of_birth, personal_id LIMIT 50"
        );
        let rows: Vec<super::rows::StoredCitizenDbRow> = dispatch!(self, s => {
            sqlx::query_as(&sql).bind(e164).fetch_all(s.read_pool()).await?
        });
        rows.into_iter().map(StoredCitizen::try_from).collect()
    }

    /// The latest reminder or alert sent to `address` since `since` (answers to replies are
    /// passed over: a reply answers what vongdoi said first, not its "thank you").
    pub async fn last_message_to(
        &self,
        address: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Answered>> {
        const SQL: &str = "SELECT id, language, sent_at FROM messages WHERE address = $1 AND sent_at >= $2 AND reply_id = 0 \
             AND status IN ('sent', 'delivered') ORDER BY sent_at DESC, id LIMIT 1";
        let row: Option<(String, String, DateTime<Utc>)> = dispatch!(self, s => {
            sqlx::query_as(SQL).bind(address).bind(since).fetch_optional(s.read_pool()).await?
        });
        Ok(row.map(|(id, language, sent_at)| Answered {
            id,
            language,
            sent_at,
        }))
    }

    /// The children a message was about, each once, in the order the message names them.
    pub async fn children_of_message(&self, id: &str) -> Result<Vec<MessageChild>> {
        const ALERT: &str = "SELECT a.personal_id, a.commune_code, l.template FROM alert_audience a JOIN alerts l ON l.id = a.alert_id \
             WHERE a.message_id = $1 ORDER BY a.date_of_birth, a.personal_id";
        // A reminder's children are its notices' (the fallback's read, in the same order).
        let notices = self.notices_of_message(id).await?;
        let alert: Vec<(String, String, String)> = dispatch!(self, s => {
            sqlx::query_as(ALERT).bind(id).fetch_all(s.read_pool()).await?
        });
        let mut out: Vec<MessageChild> = Vec::new();
        for n in notices {
            if !out.iter().any(|c| c.personal_id == n.personal_id) {
                out.push(MessageChild {
                    personal_id: n.personal_id,
                    commune_code: n.commune_code,
                    item: n.item,
                    alert_template: None,
                });
            }
        }
        for (personal_id, commune_code, template) in alert {
            if !out.iter().any(|c| c.personal_id == personal_id) {
                out.push(MessageChild {
                    personal_id,
                    commune_code,
                    item: String::new(),
                    alert_template: Some(template),
                });
            }
        }
        Ok(out)
    }

    /// Stores a reply and does what it asks, in one transaction; None when the gateway's id
    /// was stored before (the same message posted twice changes nothing).
    pub async fn record_inbound(&self, r: &NewInbound, now: DateTime<Utc>) -> Result<Option<i64>> {
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let id: Option<i64> = sqlx::query_scalar(INSERT_INBOUND)
                .bind(&r.provider_key)
                .bind(&r.from_number)
                .bind(&r.body)
                .bind(r.received_at)
                .bind(now)
                .bind(r.action.as_str())
                .bind(r.keyword.as_deref())
                .bind(r.citizen_id.as_deref())
                .bind(r.child_id.as_deref())
                .bind(r.answers.as_deref())
                .bind(&r.commune_code)
                .bind(r.status.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let Some(id) = id else {
                return Ok(None);
            };
            if let Some((pins, opt_out)) = &r.opt {
                for pin in pins {
                    let before: Option<bool> = sqlx::query_scalar("SELECT sms_opt_out FROM citizens WHERE personal_id = $1")
                        .bind(pin)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if before.is_some_and(|b| b != *opt_out) {
                        sqlx::query("UPDATE citizens SET sms_opt_out = $1, updated_at = $2 WHERE personal_id = $3")
                            .bind(*opt_out)
                            .bind(now)
                            .bind(pin)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(super::registry::HISTORY_INSERT)
                            .bind(pin)
                            .bind(now)
                            .bind(format!("sms-reply:{id}"))
                            .bind("sms_opt_out")
                            .bind((!*opt_out).to_string())
                            .bind(opt_out.to_string())
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                if *opt_out {
                    for pin in pins {
                        for sql in [CANCEL_QUEUED, DETACH_NOTICES] {
                            sqlx::query(sql).bind(pin).bind(&r.from_number).execute(&mut *tx).await?;
                        }
                    }
                }
            }
            for d in &r.reported {
                sqlx::query(INSERT_REPORTED)
                    .bind(id)
                    .bind(&d.personal_id)
                    .bind(&d.commune_code)
                    .bind(&d.item)
                    .bind(&d.series)
                    .bind(r.received_at)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(m) = &r.reply {
                let reply_id: i64 = sqlx::query_scalar(INSERT_REPLY)
                    .bind(id)
                    .bind("confirmation")
                    .bind(m.body.as_str())
                    .bind(m.id.as_str())
                    .bind(None::<&str>)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                bind_message!(sqlx::query(INSERT_MESSAGE), m, now, reply_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(Some(id))
        })
    }

    /// A staff member's answer from the inbox: queued through the outbox (the same SMS window
    /// and limits as every message), and the reply marked done. False when there is no such
    /// reply.
    pub async fn answer_inbound(
        &self,
        inbound_id: i64,
        m: &OutboxMessage,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let done = sqlx::query("UPDATE inbound_messages SET status = 'done', done_at = COALESCE(done_at, $1), done_by = COALESCE(done_by, $2) WHERE id = $3")
                .bind(now)
                .bind(by)
                .bind(inbound_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 0 {
                return Ok(false);
            }
            let reply_id: i64 = sqlx::query_scalar(INSERT_REPLY)
                .bind(inbound_id)
                .bind("staff")
                .bind(m.body.as_str())
                .bind(m.id.as_str())
                .bind(Some(by))
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            bind_message!(sqlx::query(INSERT_MESSAGE), m, now, reply_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Marks a reply done (or open again) without answering it. False when there is none.
    pub async fn set_inbound_done(
        &self,
        inbound_id: i64,
        done: bool,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        const DONE: &str = "UPDATE inbound_messages SET status = 'done', done_at = $1, done_by = $2 WHERE id = $3 AND status = 'open'";
        const OPEN: &str = "UPDATE inbound_messages SET status = 'open', done_at = NULL, done_by = NULL WHERE id = $1 AND status = 'done'";
        let n = dispatch!(self, s => {
            let q = if done {
                sqlx::query(DONE).bind(now).bind(by).bind(inbound_id)
            } else {
                sqlx::query(OPEN).bind(inbound_id)
            };
            q.execute(s.write_pool()).await?.rows_affected()
        });
        Ok(n > 0)
    }

    /// A nurse's decision on a reported dose (the dose itself is recorded by the caller, as
    /// any dose is, before it is confirmed here). False when the report is not pending any
    /// more (decided by someone else first).
    pub async fn decide_reported_dose(
        &self,
        id: i64,
        confirmed: Option<(&str, NaiveDate)>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        const DECIDE: &str = "UPDATE reported_doses SET status = $1, decided_by = $2, decided_at = $3, vaccine = $4, date_given = $5 WHERE id = $6 AND status = 'pending'";
        let status = if confirmed.is_some() {
            ReportStatus::Confirmed
        } else {
            ReportStatus::Rejected
        };
        let decided = dispatch!(self, s => {
            sqlx::query(DECIDE)
                .bind(status.as_str())
                .bind(by)
                .bind(now)
                .bind(confirmed.map(|c| c.0))
                .bind(confirmed.map(|c| c.1))
                .bind(id)
                .execute(s.write_pool())
                .await?
                .rows_affected()
                > 0
        });
        Ok(decided)
    }
}

/// The E.164 number of a generic inbound (`+84…` or `0…`), if it is a Vietnamese mobile one.
pub fn e164(raw: &str) -> Option<String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-'))
        .collect();
    let candidate = if let Some(rest) = digits.strip_prefix("84") {
        format!("+84{rest}")
    } else {
        digits
    };
    crate::registry::Phone::parse(&candidate)
        .ok()
        .map(|p| p.e164().to_string())
}
