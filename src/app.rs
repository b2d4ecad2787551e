//! The service's shared state and the one place that runs a day: scan → compose → deliver
//! (through [`Scheduler`]), counted in the metrics. The cron schedule (`serve`), `POST
//! /api/runs` and nothing else start runs through [`run_day`]; `vongdoi run` drives the same
//! scheduler directly and prints what it did.

use crate::delivery::DeliveryConfig;
use crate::rules::RuleSet;
use crate::runtime::metrics::Metrics;
use crate::runtime::shutdown::Shutdown;
use crate::schedule::{RunOptions, Scheduler};
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
    /// Citizens per shard of a day's run (`VONGDOI_SHARD_SIZE`).
    pub shard_size: i64,
    /// Wakes this process's delivery worker before its next pass (an approved alert must not
    /// wait `--deliver-every` seconds).
    pub deliver_now: Arc<tokio::sync::Notify>,
}

/// One run for `as_of` (due at `due_at`, for the lag metric), logged and counted. A run that
/// fails (database gone, disk full, a template error) has given its shard back; it is tried
/// again with a growing pause until it finishes or the service stops, and `/healthz` and the
/// metrics say so meanwhile. Shards other instances hold are waited for (and taken over when
/// their leases run out), so the day is composed once its last shard is done.
pub async fn run_day(state: &AppState, as_of: NaiveDate, due_at: DateTime<Utc>, stop: &Shutdown) {
    // One run at a time in this process (the schedule's and one asked for over the API): a
    // process may resume a shard it holds itself, and two of its tasks must not both do so.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _running = ONE_AT_A_TIME.lock().await;
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
        shard_size: state.shard_size,
    };
    let options = RunOptions {
        wait: true,
        ..RunOptions::default()
    };
    let mut pause = RETRY_FIRST;
    loop {
        match scheduler.run(as_of, options).await {
            Ok((report, _)) => {
                state.metrics.set_retrying(None);
                state.metrics.run_ended(
                    report.evaluated,
                    report.notices,
                    (!report.interrupted).then(|| Utc::now().timestamp()),
                );
                tracing::info!(%as_of, evaluated = report.evaluated, notices = report.notices, full = report.full_pass, queued = report.messages_queued, sent = report.delivery.sent, interrupted = report.interrupted, "run done");
                return;
            }
            // The schedule's owed tick after a later day was run by hand: nothing to do.
            Err(e)
                if e.downcast_ref::<crate::schedule::BehindTheLedger>()
                    .is_some() =>
            {
                tracing::info!(%as_of, reason = %e, "run skipped: a later day has been run");
                return;
            }
            Err(e) => {
                state.metrics.run_failed();
                let error = format!("{e:#}");
                let day = (as_of - NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date")).num_days();
                state.metrics.set_retrying(Some((day, error.clone())));
                tracing::error!(%as_of, error = %error, retry_in_s = pause.as_secs(), "run failed; it is tried again");
                tokio::select! {
                    _ = stop.wait() => return,
                    _ = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(RETRY_LONGEST);
            }
        }
    }
}

/// The pause before a failed run is tried again, doubled after each failure up to the longest.
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(2);
const RETRY_LONGEST: std::time::Duration = std::time::Duration::from_secs(300);
