//! What an alert's pages and reports read: the preview's counts, the samples, reach and
//! outcome per commune, the worklist's pages, and what became of each message. Read-only
//! aggregates over the saved audience, its messages and the outbox.

use super::{AudienceRow, StagedMessage};
use crate::store::{Channel, MessageStatus, Result, Store};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// One commune of an alert's preview.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct CommuneAudience {
    pub commune_code: String,
    pub children: i64,
    pub without_contact: i64,
    pub households: i64,
}

/// The messages of one channel.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct ChannelSplit {
    pub channel: Channel,
    pub messages: i64,
    /// SMS parts in all (0 for email).
    pub segments: i64,
}

/// Reach and outcome of an alert in one commune, child by child.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct CommuneReach {
    pub commune_code: String,
    pub targeted: i64,
    pub without_contact: i64,
    /// Their message is waiting or being sent.
    pub pending: i64,
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    pub cancelled: i64,
    /// A dose of the alert's series recorded between approval and `outcome_days` after.
    pub dosed: i64,
    /// Their household answered the alert's message by SMS (issue #16).
    pub replied: i64,
}

/// One message of an alert with the children it names: who was and was not sent.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct AlertMessageStatus {
    pub id: String,
    pub recipient_id: String,
    pub channel: Channel,
    pub address: String,
    pub commune_code: String,
    pub children: i32,
    /// None: never queued (the alert was cancelled before approval).
    pub status: Option<MessageStatus>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Alerts by status, for the metrics.
    pub async fn alert_counts(&self) -> Result<Vec<(String, i64)>> {
        dispatch!(self, s => Ok(sqlx::query_as("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetch_all(s.read_pool()).await?))
    }

    /// The preview's counts per commune.
    pub async fn alert_audience_by_commune(&self, id: i64) -> Result<Vec<CommuneAudience>> {
        dispatch!(self, s => {
            Ok(sqlx::query_as("SELECT commune_code, COUNT(*) AS children, \
                 SUM(CASE WHEN recipient_id IS NULL THEN 1 ELSE 0 END) AS without_contact, \
                 COUNT(DISTINCT household) AS households \
                 FROM alert_audience WHERE alert_id = $1 GROUP BY commune_code ORDER BY commune_code")
                .bind(id)
                .fetch_all(s.read_pool())
                .await?)
        })
    }

    /// Households in all (a household is counted once even if its children live in two
    /// communes).
    pub async fn alert_households(&self, id: i64) -> Result<i64> {
        dispatch!(self, s => Ok(sqlx::query_scalar("SELECT COUNT(DISTINCT household) FROM alert_audience WHERE alert_id = $1").bind(id).fetch_one(s.read_pool()).await?))
    }

    /// The alert's messages per channel, with their SMS parts.
    pub async fn alert_channel_split(&self, id: i64) -> Result<Vec<ChannelSplit>> {
        dispatch!(self, s => {
            Ok(sqlx::query_as("SELECT channel, COUNT(*) AS messages, COALESCE(SUM(segments), 0) AS segments FROM alert_messages WHERE alert_id = $1 GROUP BY channel ORDER BY channel")
                .bind(id)
                .fetch_all(s.read_pool())
                .await?)
        })
    }

    /// A few of the alert's messages: the longest SMS, and one of each language and channel.
    pub async fn alert_samples(&self, id: i64) -> Result<Vec<StagedMessage>> {
        const COLUMNS: &str = "id, recipient_id, channel, address, language, subject, body, encoding, segments, sender_name, commune_code, children";
        dispatch!(self, s => {
            let mut out: Vec<StagedMessage> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM alert_messages WHERE alert_id = $1 ORDER BY COALESCE(segments, 0) DESC, LENGTH(body) DESC, id LIMIT 1"))
                .bind(id)
                .fetch_all(s.read_pool())
                .await?;
            for (channel, language) in [("sms", "vi"), ("sms", "en"), ("email", "vi"), ("email", "en")] {
                let more: Vec<StagedMessage> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM alert_messages WHERE alert_id = $1 AND channel = $2 AND language = $3 ORDER BY id LIMIT 1"))
                    .bind(id)
                    .bind(channel)
                    .bind(language)
                    .fetch_all(s.read_pool())
                    .await?;
                out.extend(more.into_iter().filter(|m| !out.iter().any(|o| o.id == m.id)).collect::<Vec<_>>());
            }
            Ok(out)
        })
    }

    /// Reach and outcome per commune. `dosed` counts children with a dose of one of
    /// `vaccines` given in `[from, until]`.
    pub async fn alert_reach(
        &self,
        id: i64,
        vaccines: &[&str],
        (from, until): (NaiveDate, NaiveDate),
    ) -> Result<Vec<CommuneReach>> {
        // Vaccine codes are capital letters and digits (`rules check` refuses any other), so
        // they are written into the statement; the quote strip is a second guard.
        let quoted: Vec<String> = vaccines
            .iter()
            .map(|v| format!("'{}'", v.replace('\'', "")))
            .collect();
        let list = if quoted.is_empty() {
            "''".to_string()
        } else {
            quoted.join(",")
        };
        let sql = format!(
            "SELECT a.commune_code, COUNT(*) AS targeted, \
             SUM(CASE WHEN a.recipient_id IS NULL THEN 1 ELSE 0 END) AS without_contact, \
             SUM(CASE WHEN m.status IN ('queued', 'sending') THEN 1 ELSE 0 END) AS pending, \
             SUM(CASE WHEN m.status IN ('sent', 'delivered') THEN 1 ELSE 0 END) AS sent, \
             SUM(CASE WHEN m.status = 'delivered' THEN 1 ELSE 0 END) AS delivered, \
             SUM(CASE WHEN m.status IN ('failed', 'dead') THEN 1 ELSE 0 END) AS failed, \
             SUM(CASE WHEN m.status = 'cancelled' OR (a.message_id IS NOT NULL AND m.id IS NULL AND al.status = 'cancelled') THEN 1 ELSE 0 END) AS cancelled, \
             SUM(CASE WHEN EXISTS (SELECT 1 FROM immunizations i WHERE i.personal_id = a.personal_id AND i.vaccine IN ({list}) AND i.date_given >= $2 AND i.date_given <= $3) THEN 1 ELSE 0 END) AS dosed, \
             SUM(CASE WHEN a.message_id IS NOT NULL AND EXISTS (SELECT 1 FROM inbound_messages r WHERE r.answers = a.message_id) THEN 1 ELSE 0 END) AS replied \
             FROM alert_audience a JOIN alerts al ON al.id = a.alert_id LEFT JOIN messages m ON m.id = a.message_id \
             WHERE a.alert_id = $1 GROUP BY a.commune_code ORDER BY a.commune_code"
        );
        dispatch!(self, s => {
            Ok(sqlx::query_as(&sql)
                .bind(id)
                .bind(from)
                .bind(until)
                .fetch_all(s.read_pool())
                .await?)
        })
    }

    /// A page of the audience in (commune, personal ID) order after `after`: the campaign's
    /// worklist.
    pub async fn alert_audience_page(
        &self,
        id: i64,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<AudienceRow>> {
        let (c, p) = after.unwrap_or(("", ""));
        dispatch!(self, s => {
            Ok(sqlx::query_as("SELECT personal_id, commune_code, date_of_birth, valid_doses, household, recipient_id, channel, message_id FROM alert_audience \
                 WHERE alert_id = $1 AND (commune_code > $2 OR (commune_code = $2 AND personal_id > $3)) ORDER BY commune_code, personal_id LIMIT $4")
                .bind(id)
                .bind(c)
                .bind(p)
                .bind(limit)
                .fetch_all(s.read_pool())
                .await?)
        })
    }

    /// The alert's messages with what became of each, in id order after `after`.
    pub async fn alert_message_statuses(
        &self,
        id: i64,
        after: &str,
        limit: i64,
    ) -> Result<Vec<AlertMessageStatus>> {
        dispatch!(self, s => {
            Ok(sqlx::query_as("SELECT a.id, a.recipient_id, a.channel, a.address, a.commune_code, a.children, m.status, m.sent_at \
                 FROM alert_messages a LEFT JOIN messages m ON m.id = a.id WHERE a.alert_id = $1 AND a.id > $2 ORDER BY a.id LIMIT $3")
                .bind(id)
                .bind(after)
                .bind(limit)
                .fetch_all(s.read_pool())
                .await?)
        })
    }

    /// The statuses of these messages (those in the outbox).
    pub async fn message_statuses(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, MessageStatus>> {
        let mut out = std::collections::HashMap::new();
        dispatch!(self, s => {
            let d = s.dialect();
            for chunk in ids.chunks(d.list_chunk) {
                let sql = format!("SELECT id, status FROM messages WHERE id {}", d.in_list(1, chunk.len()));
                for row in s.bind_list(sqlx::query(&sql), chunk).fetch_all(s.read_pool()).await? {
                    let (id, status): (String, MessageStatus) = sqlx::FromRow::from_row(&row)?;
                    out.insert(id, status);
                }
            }
        });
        Ok(out)
    }

    /// Messages of alerts still sending, by status (the metrics' alerts in flight).
    pub async fn alert_message_counts(&self) -> Result<Vec<(String, i64)>> {
        dispatch!(self, s => Ok(sqlx::query_as("SELECT status, COUNT(*) FROM messages WHERE alert_id IN (SELECT id FROM alerts WHERE status = 'sending') GROUP BY status").fetch_all(s.read_pool()).await?))
    }
}
