//! The inbox as staff read it: replies per commune, the answers sent, reported doses waiting
//! for a nurse, and how fast the commune answers.

use super::super::{Result, Store};
use super::{InboundAction, InboxStatus, ReportStatus};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// Which replies to list.
#[derive(Debug, Clone, Default)]
pub struct InboundFilter {
    /// None: every commune (a national account, the command line).
    pub communes: Option<Vec<String>>,
    pub status: Option<InboxStatus>,
    pub limit: i64,
}

/// A reply as stored (the number is masked by whoever shows it).
#[derive(Debug, Clone, Serialize)]
pub struct InboundRow {
    pub id: i64,
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
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
    /// The answers sent: (kind, text, when, the message's status).
    pub replies: Vec<ReplyRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplyRow {
    pub kind: String,
    pub body: String,
    pub by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub message_id: String,
    pub message_status: Option<String>,
}

/// A dose a family reported.
#[derive(Debug, Clone, Serialize)]
pub struct ReportedDoseRow {
    pub id: i64,
    pub inbound_id: i64,
    pub personal_id: String,
    pub commune_code: String,
    pub item: String,
    pub series: String,
    pub reported_at: DateTime<Utc>,
    pub status: ReportStatus,
    pub decided_by: Option<String>,
    pub vaccine: Option<String>,
    pub date_given: Option<NaiveDate>,
    /// What the family wrote.
    pub text: String,
}

/// How a commune's inbox is doing.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct InboxFigures {
    pub open: i64,
    pub done: i64,
    /// Replies that needed staff over the last 30 days, and how long the first answer took.
    pub answered_30d: i64,
    pub median_hours: Option<f64>,
    pub within_24h: i64,
    pub reported_doses_pending: i64,
}

type InboundDbRow = (
    i64,
    String,
    String,
    DateTime<Utc>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<DateTime<Utc>>,
    Option<String>,
);

const REPORTED_SELECT: &str = "SELECT d.id, d.inbound_id, d.personal_id, d.commune_code, d.item, d.series, d.reported_at, d.status, d.decided_by, d.vaccine, d.date_given, i.body \
     FROM reported_doses d JOIN inbound_messages i ON i.id = d.inbound_id";

type ReportedDbRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    String,
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
    String,
);

fn reported_row(r: ReportedDbRow) -> Option<ReportedDoseRow> {
    Some(ReportedDoseRow {
        id: r.0,
        inbound_id: r.1,
        personal_id: r.2,
        commune_code: r.3,
        item: r.4,
        series: r.5,
        reported_at: r.6,
        status: ReportStatus::parse(&r.7)?,
        decided_by: r.8,
        vaccine: r.9,
        date_given: r.10,
        text: r.11,
    })
}

const INBOUND_COLUMNS: &str = "id, from_number, body, received_at, action, keyword, citizen_id, child_id, answers, commune_code, status, done_at, done_by";

fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn inbound_row(r: InboundDbRow) -> Option<InboundRow> {
    Some(InboundRow {
        id: r.0,
        from_number: r.1,
        body: r.2,
        received_at: r.3,
        action: InboundAction::parse(&r.4)?,
        keyword: r.5,
        citizen_id: r.6,
        child_id: r.7,
        answers: r.8,
        commune_code: r.9,
        status: InboxStatus::parse(&r.10)?,
        done_at: r.11,
        done_by: r.12,
        replies: Vec::new(),
    })
}

impl Store {
    /// Replies, newest first, with the answers sent to each.
    pub async fn inbound_list(&self, f: &InboundFilter) -> Result<Vec<InboundRow>> {
        let mut sql = format!("SELECT {INBOUND_COLUMNS} FROM inbound_messages WHERE 1 = 1");
        let mut n = 0;
        if let Some(c) = &f.communes {
            if c.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(
                " AND commune_code IN ({})",
                placeholders(1, c.len())
            ));
            n = c.len();
        }
        if f.status.is_some() {
            n += 1;
            sql.push_str(&format!(" AND status = ${n}"));
        }
        sql.push_str(&format!(
            " ORDER BY received_at DESC, id DESC LIMIT ${}",
            n + 1
        ));
        let rows: Vec<InboundDbRow> = dispatch!(self, s => {
            let mut q = sqlx::query_as(&sql);
            for c in f.communes.iter().flatten() {
                q = q.bind(c);
            }
            if let Some(st) = f.status {
                q = q.bind(st.as_str());
            }
            q.bind(f.limit).fetch_all(s.read_pool()).await?
        });
        let mut out: Vec<InboundRow> = rows.into_iter().filter_map(inbound_row).collect();
        self.attach_replies(&mut out).await?;
        Ok(out)
    }

    pub async fn inbound(&self, id: i64) -> Result<Option<InboundRow>> {
        let sql = format!("SELECT {INBOUND_COLUMNS} FROM inbound_messages WHERE id = $1");
        let row: Option<InboundDbRow> = dispatch!(self, s => {
            sqlx::query_as(&sql).bind(id).fetch_optional(s.read_pool()).await?
        });
        let mut out: Vec<InboundRow> = row.into_iter().filter_map(inbound_row).collect();
        self.attach_replies(&mut out).await?;
        Ok(out.pop())
    }

    async fn attach_replies(&self, rows: &mut [InboundRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT r.inbound_id, r.kind, r.body, r.by_account, r.created_at, r.message_id, m.status \
             FROM inbound_replies r LEFT JOIN messages m ON m.id = r.message_id \
             WHERE r.inbound_id IN ({}) ORDER BY r.id",
            placeholders(1, rows.len())
        );
        type Row = (
            i64,
            String,
            String,
            Option<String>,
            DateTime<Utc>,
            String,
            Option<String>,
        );
        let replies: Vec<Row> = dispatch!(self, s => {
            let mut q = sqlx::query_as(&sql);
            for r in rows.iter() {
                q = q.bind(r.id);
            }
            q.fetch_all(s.read_pool()).await?
        });
        for (inbound_id, kind, body, by, created_at, message_id, message_status) in replies {
            if let Some(row) = rows.iter_mut().find(|r| r.id == inbound_id) {
                row.replies.push(ReplyRow {
                    kind,
                    body,
                    by,
                    created_at,
                    message_id,
                    message_status,
                });
            }
        }
        Ok(())
    }

    /// Reported doses of some communes, oldest first (a nurse works down the list).
    pub async fn reported_doses(
        &self,
        communes: Option<&[String]>,
        status: ReportStatus,
        limit: i64,
    ) -> Result<Vec<ReportedDoseRow>> {
        let mut sql = format!("{REPORTED_SELECT} WHERE d.status = $1");
        let n = communes.map_or(0, <[String]>::len);
        if let Some(c) = communes {
            if c.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(" AND d.commune_code IN ({})", placeholders(2, n)));
        }
        sql.push_str(&format!(" ORDER BY d.id LIMIT ${}", n + 2));
        let rows: Vec<ReportedDbRow> = dispatch!(self, s => {
            let mut q = sqlx::query_as(&sql).bind(status.as_str());
            for c in communes.into_iter().flatten() {
                q = q.bind(c);
            }
            q.bind(limit).fetch_all(s.read_pool()).await?
        });
        Ok(rows.into_iter().filter_map(reported_row).collect())
    }

    pub async fn reported_dose(&self, id: i64) -> Result<Option<ReportedDoseRow>> {
        let sql = format!("{REPORTED_SELECT} WHERE d.id = $1");
        let row: Option<ReportedDbRow> = dispatch!(self, s => {
            sqlx::query_as(&sql).bind(id).fetch_optional(s.read_pool()).await?
        });
        Ok(row.and_then(reported_row))
    }

    /// The inbox's figures for some communes (None: all), counted by the database: how many
    /// replies wait and are done, and how fast the last 30 days' were answered.
    pub async fn inbox_figures(
        &self,
        communes: Option<&[String]>,
        now: DateTime<Utc>,
    ) -> Result<InboxFigures> {
        let n = communes.map_or(0, <[String]>::len);
        if communes.is_some_and(<[String]>::is_empty) {
            return Ok(InboxFigures::default());
        }
        let area = |column: &str, first: usize| match communes {
            Some(_) => format!(" AND {column} IN ({})", placeholders(first, n)),
            None => String::new(),
        };
        let by_status = format!(
            "SELECT status, COUNT(*) FROM inbound_messages WHERE 1 = 1{} GROUP BY status",
            area("commune_code", 1)
        );
        let pending = format!(
            "SELECT COUNT(*) FROM reported_doses WHERE status = 'pending'{}",
            area("commune_code", 1)
        );
        // The first staff answer of each reply of the last 30 days that needed one (or when
        // it was closed without one). A month of one area's replies, not the whole history.
        let answered = format!(
            "SELECT i.received_at, MIN(r.created_at), i.done_at FROM inbound_messages i \
             LEFT JOIN inbound_replies r ON r.inbound_id = i.id AND r.kind = 'staff' \
             WHERE i.action = 'for-staff' AND i.received_at >= ${}{} \
             GROUP BY i.id, i.received_at, i.done_at LIMIT 100000",
            n + 1,
            area("i.commune_code", 1)
        );
        let since = now - chrono::Duration::days(30);
        type Answered = (DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
        let (statuses, pending, answered): (Vec<(String, i64)>, i64, Vec<Answered>) = dispatch!(self, s => {
            let mut q1 = sqlx::query_as(&by_status);
            let mut q2 = sqlx::query_scalar(&pending);
            let mut q3 = sqlx::query_as(&answered);
            for c in communes.into_iter().flatten() {
                q1 = q1.bind(c);
                q2 = q2.bind(c);
                q3 = q3.bind(c);
            }
            (
                q1.fetch_all(s.read_pool()).await?,
                q2.fetch_one(s.read_pool()).await?,
                q3.bind(since).fetch_all(s.read_pool()).await?,
            )
        });
        let mut f = InboxFigures {
            reported_doses_pending: pending,
            ..Default::default()
        };
        for (status, count) in statuses {
            match InboxStatus::parse(&status) {
                Some(InboxStatus::Open) => f.open = count,
                Some(InboxStatus::Done) => f.done = count,
                _ => {}
            }
        }
        let mut hours: Vec<f64> = (answered.into_iter())
            .filter_map(|(received, first, done)| {
                let at = first.or(done)?;
                Some((at - received).num_seconds().max(0) as f64 / 3600.0)
            })
            .collect();
        hours.sort_by(f64::total_cmp);
        f.answered_30d = hours.len() as i64;
        f.within_24h = hours.iter().filter(|h| **h <= 24.0).count() as i64;
        f.median_hours = (!hours.is_empty()).then(|| hours[hours.len() / 2]);
        Ok(f)
    }
}
