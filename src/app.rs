//! The service's shared state and the one place that runs a day: scan → compose → deliver
//! (through [`Scheduler`]), counted in the metrics. The cron schedule (`serve`), `POST
//! /api/runs` and nothing else start runs through [`run_day`]; `vongdoi run` drives the same
//! scheduler directly and prints what it did.

use crate::delivery::DeliveryConfig;
use crate::rules::RuleSet;
use crate::runtime::metrics::Metrics;
use crate::runtime::shutdown::Shutdown;
use crate::schedule::Scheduler;
use crate::store::Store;
use chrono::{DateTime, NaiveDate, Utc};
use std::sync::Arc;

/// What every HTTP handler and background task shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub rules: Arc<RuleSet>,
    pub delivery: DeliveryConfig,
    pub metrics: Arc<Metrics>,
    /// Names this process in leases.
    pub owner: String,
    /// When set, delivery reports must carry it (`?token=` or `X-Vongdoi-Token`).
    pub webhook_token: Option<String>,
    /// Without a token, delivery reports are refused unless the operator opted in
    /// (`VONGDOI_WEBHOOK_ALLOW_UNSIGNED=1`).
    pub webhook_allow_unsigned: bool,
}

/// One run for `as_of` (due at `due_at`, for the lag metric), logged and counted; a failure is
/// logged, not returned: the next tick, a restart or `POST /api/runs` resumes the day.
pub async fn run_day(state: &AppState, as_of: NaiveDate, due_at: DateTime<Utc>, stop: &Shutdown) {
    state
        .metrics
        .run_started(due_at.timestamp(), Utc::now().timestamp());
    let scheduler = Scheduler {
        store: state.store.clone(),
        rules: &state.rules,
        delivery: state.delivery.clone(),
        owner: state.owner.clone(),
        stop: stop.clone(),
        metrics: Some(state.metrics.clone()),
    };
    match scheduler.run(as_of, false).await {
        Ok((report, _)) => {
            state.metrics.run_ended(
                report.evaluated,
                report.notices,
                (!report.interrupted).then(|| Utc::now().timestamp()),
            );
            tracing::info!(%as_of, evaluated = report.evaluated, notices = report.notices, queued = report.messages_queued, sent = report.delivery.sent, interrupted = report.interrupted, "run done");
        }
        // The schedule's owed tick after a later day was run by hand: nothing to do.
        Err(e)
            if e.downcast_ref::<crate::schedule::BehindTheLedger>()
                .is_some() =>
        {
            tracing::info!(%as_of, reason = %e, "run skipped: a later day has been run");
        }
        Err(e) => {
            state.metrics.run_failed();
            tracing::error!(%as_of, error = %format!("{e:#}"), "run failed; the next tick or a restart resumes it");
        }
    }
}
