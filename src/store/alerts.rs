//! Outbreak alerts (issue #15): the alert and its steps, its saved audience (the cohort), the
//! messages it will send, and the outbox rows it becomes once a second person approves it.
//! Written once for both backends through `dispatch!`.
//!
//! What keeps an alert honest:
//! - the audience and the messages are saved when the alert is drafted, so the approver
//!   approves exactly what the preview counted, and approval copies them into the outbox in
//!   one statement with the status change (never half an alert);
//! - an alert's outbox rows carry its id, which is part of the outbox's unique key, so they are
//!   never merged with a routine notice and never sent twice;
//! - cancelling marks every still-queued message `cancelled` in the same transaction as the
//!   alert, and the sender checks the alert before each send (`delivery`), so what was and was
//!   not sent is read back from the outbox, message by message.

use super::{Channel, Result, Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

mod opt_outs;
mod views;
pub use views::{AlertMessageStatus, ChannelSplit, CommuneAudience, CommuneReach};

/// Where an alert is in its life: drafted → submitted for approval → approved and sending →
/// completed (every message ended), or cancelled at any step before completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    /// Its audience is being computed (a draft is only approvable once it is whole; one left
    /// here by a crash can only be cancelled).
    Building,
    Draft,
    PendingApproval,
    Sending,
    Completed,
    Cancelled,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 6] = [
        AlertStatus::Building,
        AlertStatus::Draft,
        AlertStatus::PendingApproval,
        AlertStatus::Sending,
        AlertStatus::Completed,
        AlertStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Building => "building",
            AlertStatus::Draft => "draft",
            AlertStatus::PendingApproval => "pending-approval",
            AlertStatus::Sending => "sending",
            AlertStatus::Completed => "completed",
            AlertStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<AlertStatus> {
        AlertStatus::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub fn label(self, lang: crate::rules::Lang) -> &'static str {
        use crate::rules::Lang::{En, Vi};
        match (self, lang) {
            (AlertStatus::Building, Vi) => "đang lập danh sách",
            (AlertStatus::Building, En) => "finding its audience",
            (AlertStatus::Draft, Vi) => "bản nháp",
            (AlertStatus::PendingApproval, Vi) => "chờ duyệt",
            (AlertStatus::Sending, Vi) => "đang gửi",
            (AlertStatus::Completed, Vi) => "đã gửi xong",
            (AlertStatus::Cancelled, Vi) => "đã huỷ",
            (AlertStatus::Draft, En) => "draft",
            (AlertStatus::PendingApproval, En) => "waiting for approval",
            (AlertStatus::Sending, En) => "sending",
            (AlertStatus::Completed, En) => "completed",
            (AlertStatus::Cancelled, En) => "cancelled",
        }
    }

    /// Not yet approved: it may still be approved or cancelled.
    pub fn awaits_approval(self) -> bool {
        matches!(self, AlertStatus::Draft | AlertStatus::PendingApproval)
    }
}

impl Serialize for AlertStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertRow {
    pub id: i64,
    pub name: String,
    pub template: String,
    pub as_of: NaiveDate,
    pub provinces: Vec<String>,
    pub communes: Vec<String>,
    pub age_from: String,
    pub age_to: String,
    /// The dose conditions as drafted (JSON).
    pub conditions: serde_json::Value,
    /// A dose of the alert's series recorded within this many days of approval is its outcome.
    pub outcome_days: i32,
    pub status: AlertStatus,
    /// Children targeted.
    pub audience: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct StoredAlert {
    id: i64,
    name: String,
    template: String,
    as_of: NaiveDate,
    provinces: String,
    communes: String,
    age_from: String,
    age_to: String,
    conditions: String,
    outcome_days: i32,
    status: String,
    audience: i64,
    created_by: String,
    created_at: DateTime<Utc>,
    submitted_by: Option<String>,
    submitted_at: Option<DateTime<Utc>>,
    approved_by: Option<String>,
    approved_at: Option<DateTime<Utc>>,
    cancelled_by: Option<String>,
    cancelled_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

const ALERT_COLUMNS: &str = "id, name, template, as_of, provinces, communes, age_from, age_to, conditions, outcome_days, status, audience, created_by, created_at, submitted_by, submitted_at, approved_by, approved_at, cancelled_by, cancelled_at, completed_at";

fn codes(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

impl StoredAlert {
    fn into_row(self) -> Result<AlertRow> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("alerts {}: {what}", self.id));
        Ok(AlertRow {
            status: AlertStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            conditions: serde_json::from_str(&self.conditions)
                .map_err(|_| corrupt("conditions"))?,
            provinces: codes(&self.provinces),
            communes: codes(&self.communes),
            id: self.id,
            name: self.name,
            template: self.template,
            as_of: self.as_of,
            age_from: self.age_from,
            age_to: self.age_to,
            outcome_days: self.outcome_days,
            audience: self.audience,
            created_by: self.created_by,
            created_at: self.created_at,
            submitted_by: self.submitted_by,
            submitted_at: self.submitted_at,
            approved_by: self.approved_by,
            approved_at: self.approved_at,
            cancelled_by: self.cancelled_by,
            cancelled_at: self.cancelled_at,
            completed_at: self.completed_at,
        })
    }
}

/// An alert as drafted, before it is stored.
#[derive(Debug, Clone)]
pub struct NewAlert<'a> {
    pub name: &'a str,
    pub template: &'a str,
    pub as_of: NaiveDate,
    pub provinces: &'a [String],
    pub communes: &'a [String],
    pub age_from: &'a str,
    pub age_to: &'a str,
    pub conditions: &'a serde_json::Value,
    pub outcome_days: i32,
}

/// Who takes a step: the username or key name, and the role.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub name: &'a str,
    pub role: &'a str,
}

/// One child of an alert's audience.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct AudienceRow {
    pub personal_id: String,
    pub commune_code: String,
    pub date_of_birth: NaiveDate,
    /// Valid doses of the alert's condition series on the alert's day.
    pub valid_doses: i32,
    /// The household the child was grouped in (its household id, or its recipient's ID).
    pub household: String,
    /// Who the message goes to (None: nobody to tell).
    pub recipient_id: Option<String>,
    pub channel: Option<Channel>,
    pub message_id: Option<String>,
}

/// A message an alert will send, rendered when it is drafted.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct StagedMessage {
    pub id: String,
    pub recipient_id: String,
    pub channel: Channel,
    pub address: String,
    pub language: String,
    pub subject: String,
    pub body: String,
    pub encoding: Option<String>,
    pub segments: Option<i32>,
    pub sender_name: String,
    pub commune_code: String,
    /// Children the message names.
    pub children: i32,
}

/// A step of an alert's life.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct AlertStep {
    pub at: DateTime<Utc>,
    pub who: String,
    pub role: String,
    pub action: String,
    pub detail: Option<String>,
}

/// One step of an alert's trail: (alert, at, who, role, action, detail).
const LOG_STEP: &str =
    "INSERT INTO alert_log (alert_id, at, who, role, action, detail) VALUES ($1, $2, $3, $4, $5, $6)";

impl Store {
    /// Stores a new draft and its first step; returns its id.
    pub async fn insert_alert(
        &self,
        a: &NewAlert<'_>,
        by: Actor<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        const SQL: &str = "INSERT INTO alerts (name, template, as_of, provinces, communes, age_from, age_to, conditions, outcome_days, status, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'building', $10, $11) RETURNING id";
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let id: i64 = sqlx::query_scalar(SQL)
                .bind(a.name)
                .bind(a.template)
                .bind(a.as_of)
                .bind(a.provinces.join(","))
                .bind(a.communes.join(","))
                .bind(a.age_from)
                .bind(a.age_to)
                .bind(a.conditions.to_string())
                .bind(a.outcome_days)
                .bind(by.name)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(LOG_STEP)
                .bind(id)
                .bind(now)
                .bind(by.name)
                .bind(by.role)
                .bind("draft")
                .bind(None::<&str>)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Saves a page of the audience and the messages it makes, in one transaction. A message
    /// whose recipient already has one in this alert (two households sharing a guardian in
    /// different communes) is kept once.
    pub async fn add_alert_audience(
        &self,
        alert: i64,
        children: &[AudienceRow],
        messages: &[StagedMessage],
    ) -> Result<()> {
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            for chunk in children.chunks(500) {
                let mut qb = sqlx::QueryBuilder::new("INSERT INTO alert_audience (alert_id, personal_id, commune_code, date_of_birth, valid_doses, household, recipient_id, channel, message_id) ");
                qb.push_values(chunk, |mut b, c| {
                    b.push_bind(alert)
                        .push_bind(c.personal_id.as_str())
                        .push_bind(c.commune_code.as_str())
                        .push_bind(c.date_of_birth)
                        .push_bind(c.valid_doses)
                        .push_bind(c.household.as_str())
                        .push_bind(c.recipient_id.as_deref())
                        .push_bind(c.channel.map(|c| c.as_str()))
                        .push_bind(c.message_id.as_deref());
                });
                qb.push(" ON CONFLICT DO NOTHING");
                qb.build().execute(&mut *tx).await?;
            }
            for chunk in messages.chunks(200) {
                let mut qb = sqlx::QueryBuilder::new("INSERT INTO alert_messages (alert_id, id, recipient_id, channel, address, language, subject, body, encoding, segments, sender_name, commune_code, children) ");
                qb.push_values(chunk, |mut b, m| {
                    b.push_bind(alert)
                        .push_bind(m.id.as_str())
                        .push_bind(m.recipient_id.as_str())
                        .push_bind(m.channel.as_str())
                        .push_bind(m.address.as_str())
                        .push_bind(m.language.as_str())
                        .push_bind(m.subject.as_str())
                        .push_bind(m.body.as_str())
                        .push_bind(m.encoding.as_deref())
                        .push_bind(m.segments)
                        .push_bind(m.sender_name.as_str())
                        .push_bind(m.commune_code.as_str())
                        .push_bind(m.children);
                });
                qb.push(" ON CONFLICT DO NOTHING");
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Records the audience's size once it is all saved, and makes the alert a draft (only
    /// then can it be approved).
    pub async fn set_alert_audience_size(&self, alert: i64) -> Result<i64> {
        dispatch!(self, s => {
            let n: i64 = sqlx::query_scalar("UPDATE alerts SET audience = (SELECT COUNT(*) FROM alert_audience WHERE alert_id = $1), status = CASE WHEN status = 'building' THEN 'draft' ELSE status END WHERE id = $1 RETURNING audience")
                .bind(alert)
                .fetch_one(s.write_pool())
                .await?;
            Ok(n)
        })
    }

    pub async fn alert(&self, id: i64) -> Result<Option<AlertRow>> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
        let row: Option<StoredAlert> = dispatch!(self, s => {
            sqlx::query_as(&sql).bind(id).fetch_optional(s.read_pool()).await?
        });
        row.map(StoredAlert::into_row).transpose()
    }

    /// The newest alerts first.
    pub async fn alerts(&self, limit: i64) -> Result<Vec<AlertRow>> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts ORDER BY id DESC LIMIT $1");
        let rows: Vec<StoredAlert> = dispatch!(self, s => {
            sqlx::query_as(&sql).bind(limit).fetch_all(s.read_pool()).await?
        });
        rows.into_iter().map(StoredAlert::into_row).collect()
    }

    /// Every step of an alert, oldest first.
    pub async fn alert_steps(&self, id: i64) -> Result<Vec<AlertStep>> {
        dispatch!(self, s => {
            Ok(sqlx::query_as("SELECT at, who, role, action, detail FROM alert_log WHERE alert_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(s.read_pool())
                .await?)
        })
    }

    /// Records a step that changed nothing (a refused approval, a read of the list of who was
    /// sent), so the alert's trail holds it too.
    pub async fn log_alert_step(
        &self,
        id: i64,
        by: Actor<'_>,
        action: &str,
        detail: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        dispatch!(self, s => {
            sqlx::query(LOG_STEP)
                .bind(id)
                .bind(now)
                .bind(by.name)
                .bind(by.role)
                .bind(action)
                .bind(detail)
                .execute(s.write_pool())
                .await?;
            Ok(())
        })
    }

    /// Draft → waiting for approval. False when the alert is not a draft.
    pub async fn submit_alert(&self, id: i64, by: Actor<'_>, now: DateTime<Utc>) -> Result<bool> {
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let done = sqlx::query("UPDATE alerts SET status = 'pending-approval', submitted_by = $2, submitted_at = $3 WHERE id = $1 AND status = 'draft'")
                .bind(id)
                .bind(by.name)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if done {
                sqlx::query(LOG_STEP)
                    .bind(id).bind(now).bind(by.name).bind(by.role).bind("submit").bind(None::<&str>)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(done)
        })
    }

    /// Approval: the alert starts sending and its messages join the outbox, in one
    /// transaction. `first_attempt` gives each channel's first send time (SMS wait for their
    /// window). None when the alert was no longer waiting for approval (approved or cancelled
    /// meanwhile); otherwise the messages queued.
    pub async fn approve_alert(
        &self,
        id: i64,
        by: Actor<'_>,
        now: DateTime<Utc>,
        first_attempt: &[(Channel, DateTime<Utc>)],
    ) -> Result<Option<u64>> {
        const QUEUE: &str = "INSERT INTO messages (id, recipient_id, channel, address, day, language, subject, body, encoding, segments, status, attempts, next_attempt_at, created_at, sender, sender_name, alert_id) \
             SELECT m.id, m.recipient_id, m.channel, m.address, a.as_of, m.language, m.subject, m.body, m.encoding, m.segments, 'queued', 0, $3, $4, 'health', m.sender_name, m.alert_id \
             FROM alert_messages m JOIN alerts a ON a.id = m.alert_id WHERE m.alert_id = $1 AND m.channel = $2 \
             ON CONFLICT DO NOTHING";
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let approved = sqlx::query("UPDATE alerts SET status = 'sending', approved_by = $2, approved_at = $3 WHERE id = $1 AND status IN ('draft', 'pending-approval')")
                .bind(id)
                .bind(by.name)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if !approved {
                return Ok(None);
            }
            let mut queued = 0;
            for (channel, at) in first_attempt {
                queued += sqlx::query(QUEUE)
                    .bind(id)
                    .bind(channel.as_str())
                    .bind(*at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            sqlx::query(LOG_STEP)
                .bind(id).bind(now).bind(by.name).bind(by.role).bind("approve")
                .bind(format!("{queued} messages queued"))
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(Some(queued))
        })
    }

    /// Cancels an alert that has not completed: every message still waiting is marked
    /// `cancelled` with it, at once. None when it was completed or cancelled already;
    /// otherwise how many messages were stopped, and how many a sender had already taken
    /// (each of those is sent if it was already on its way, or stopped by the sender's check
    /// before it goes: `delivery`'s alert gate).
    pub async fn cancel_alert(
        &self,
        id: i64,
        by: Actor<'_>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(u64, u64)>> {
        dispatch!(self, s => {
            let mut tx = s.write_tx().await?;
            let cancelled = sqlx::query("UPDATE alerts SET status = 'cancelled', cancelled_by = $2, cancelled_at = $3 WHERE id = $1 AND status IN ('building', 'draft', 'pending-approval', 'sending')")
                .bind(id)
                .bind(by.name)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if !cancelled {
                return Ok(None);
            }
            let stopped = sqlx::query("UPDATE messages SET status = 'cancelled', last_error = 'alert cancelled' WHERE alert_id = $1 AND status = 'queued'")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE alert_id = $1 AND status = 'sending'")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(LOG_STEP)
                .bind(id).bind(now).bind(by.name).bind(by.role).bind("cancel")
                .bind(format!("{stopped} messages stopped, {taken} in a sender's hands; {reason}"))
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(Some((stopped, taken as u64)))
        })
    }

    /// A message of a cancelled alert that a sender had already taken: marked `cancelled` by
    /// its lease holder instead of being sent.
    pub async fn mark_cancelled(&self, message: &str, owner: &str) -> Result<bool> {
        dispatch!(self, s => {
            Ok(sqlx::query("UPDATE messages SET status = 'cancelled', lease_owner = NULL, lease_until = NULL, last_error = 'alert cancelled' WHERE id = $1 AND lease_owner = $2 AND status = 'sending'")
                .bind(message)
                .bind(owner)
                .execute(s.write_pool())
                .await?
                .rows_affected()
                == 1)
        })
    }

    /// The alerts among `ids` that were cancelled: their messages must not go out. (A
    /// completed alert's message that staff queue again, after a failure, still may.)
    pub async fn alerts_cancelled(&self, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        let sql = format!(
            "SELECT id FROM alerts WHERE status = 'cancelled' AND id IN ({})",
            list.join(",")
        );
        dispatch!(self, s => Ok(sqlx::query_scalar(&sql).fetch_all(s.read_pool()).await?))
    }

    /// Alerts whose every message has ended become `completed`; returns their ids.
    pub async fn complete_finished_alerts(&self, now: DateTime<Utc>) -> Result<Vec<i64>> {
        dispatch!(self, s => {
            // Every delivery pass asks; most find no alert sending, and must not take the
            // (SQLite) writer's lock to learn it.
            let sending: Option<i64> = sqlx::query_scalar("SELECT id FROM alerts WHERE status = 'sending' LIMIT 1")
                .fetch_optional(s.read_pool())
                .await?;
            if sending.is_none() {
                return Ok(Vec::new());
            }
            let mut tx = s.write_tx().await?;
            let ids: Vec<i64> = sqlx::query_scalar("UPDATE alerts SET status = 'completed', completed_at = $1 WHERE status = 'sending' AND NOT EXISTS (SELECT 1 FROM messages WHERE messages.alert_id = alerts.id AND messages.status IN ('queued', 'sending')) RETURNING id")
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
            for id in &ids {
                sqlx::query(LOG_STEP)
                    .bind(*id).bind(now).bind("vongdoi").bind("service").bind("complete").bind(None::<&str>)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(ids)
        })
    }
}
