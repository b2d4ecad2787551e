//! The audit trail: one row for every read or change of a person's data (key, role, time,
//! citizen, what). Written before the data leaves: a handler waits for its rows to be committed
//! and answers 503 if they cannot be, so nothing is read unrecorded. Rows from concurrent
//! requests are committed together (one transaction per batch, "group commit"), which keeps the
//! single SQLite writer from becoming the bottleneck of a busy API.

use super::auth::Caller;
use super::problem::{ApiResult, Problem};
use crate::store::access::AuditRow;
use crate::store::Store;
use axum::http::StatusCode;
use chrono::Utc;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

type Batch = (Vec<AuditRow>, oneshot::Sender<bool>);

#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Batch>,
}

/// Rows one commit takes at most.
const MAX_BATCH: usize = 5_000;

impl AuditSink {
    /// Starts the writer task (needs a Tokio runtime). It ends when every sink is dropped.
    pub fn start(store: Arc<Store>) -> AuditSink {
        let (tx, mut rx) = mpsc::channel::<Batch>(4_096);
        tokio::spawn(async move {
            while let Some((mut rows, ack)) = rx.recv().await {
                let mut acks = vec![ack];
                while rows.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok((more, ack)) => {
                            rows.extend(more);
                            acks.push(ack);
                        }
                        Err(_) => break,
                    }
                }
                let ok = match store.insert_audit(&rows).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(rows = rows.len(), error = %e, "audit rows not written; the reads were refused");
                        false
                    }
                };
                for a in acks {
                    let _ = a.send(ok);
                }
            }
        });
        AuditSink { tx }
    }

    /// Records rows and waits until they are committed.
    pub async fn record(&self, rows: Vec<AuditRow>) -> ApiResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let (ack, done) = oneshot::channel();
        let refused = || {
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "không ghi được nhật ký truy cập nên không trả dữ liệu / the access could not be recorded, so no data is returned; try again",
            )
            .retry(5)
        };
        self.tx.send((rows, ack)).await.map_err(|_| refused())?;
        match done.await {
            Ok(true) => Ok(()),
            _ => Err(refused()),
        }
    }

    /// One row per person, for one caller and one action.
    pub async fn persons<'a>(
        &self,
        caller: &Caller,
        action: &str,
        persons: impl IntoIterator<Item = (&'a str, Option<String>)>,
    ) -> ApiResult<()> {
        let at = Utc::now();
        let rows = persons
            .into_iter()
            .map(|(pin, detail)| AuditRow {
                at,
                key_name: caller.0.name.clone(),
                role: caller.0.role.as_str().to_string(),
                personal_id: pin.to_string(),
                action: action.to_string(),
                detail,
            })
            .collect();
        self.record(rows).await
    }

    /// One row for each person a list shows (`listed`, or `contact` for the guardian beside
    /// them), written as one batch.
    pub async fn shown(
        &self,
        caller: &Caller,
        action: &str,
        as_of: chrono::NaiveDate,
        people: &[(crate::registry::PersonalId, &'static str)],
    ) -> ApiResult<()> {
        let rows: Vec<(String, Option<String>)> = people
            .iter()
            .map(|(p, how)| (p.to_string(), Some(format!("{how} {as_of}"))))
            .collect();
        self.persons(
            caller,
            action,
            rows.iter().map(|(p, d)| (p.as_str(), d.clone())),
        )
        .await
    }

    /// One row for one person.
    pub async fn person(
        &self,
        caller: &Caller,
        pin: &str,
        action: &str,
        detail: Option<String>,
    ) -> ApiResult<()> {
        self.persons(caller, action, [(pin, detail)]).await
    }
}
