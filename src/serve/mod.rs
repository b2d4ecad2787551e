//! `vongdoi serve`: the long-running service (docs/interface.md). A cron schedule in Asia/Ho_Chi_Minh
//! starts a scheduler run for the day; a delivery worker sends what is ready (SMS held for
//! their window, retries); an HTTP listener answers `/healthz`, delivery reports and the API;
//! Prometheus metrics have their own listener. SIGTERM stops all of it cleanly.

pub mod http;
mod inbound;
pub mod tls;
mod unsubscribe;
mod zalo;

use crate::app::{run_day, AppState};
use crate::clock::vietnam;
use crate::delivery;
use crate::runtime::shutdown::Shutdown;
use anyhow::{Context, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::net::SocketAddr;
use std::str::FromStr;

pub struct ServeSettings {
    pub listen: SocketAddr,
    pub metrics_listen: SocketAddr,
    /// None: this instance starts no runs.
    pub schedule: Option<Schedule>,
    /// How often the delivery worker looks for messages that became ready.
    pub deliver_every: std::time::Duration,
    /// After SIGTERM, how long in-flight work may take before it is abandoned.
    pub stop_grace: std::time::Duration,
    /// HTTPS on the main listener: the certificate chain and the private key (PEM files).
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

/// A cron schedule (six fields, seconds first; ARCHITECTURE.md) read in Vietnam's time.
#[derive(Debug, Clone)]
pub struct Schedule(cron::Schedule);

impl FromStr for Schedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Schedule, String> {
        cron::Schedule::from_str(s).map(Schedule).map_err(|e| {
            format!(
                "lịch cron không hợp lệ / bad cron schedule '{s}': {e}; six fields, seconds first, \
                 e.g. '0 0 6 * * *' for 06:00 every day (Asia/Ho_Chi_Minh)"
            )
        })
    }
}

impl Schedule {
    /// The next tick after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0
            .after(&now.with_timezone(&vietnam()))
            .next()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The latest tick at or before `now` within the last day: the run a service that was down
    /// at that moment still owes.
    pub fn latest_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let from = (now - Duration::days(1)).with_timezone(&vietnam());
        self.0
            .after(&from)
            .take_while(|t| t.with_timezone(&Utc) <= now)
            .last()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// The run date of a tick: its calendar day in Vietnam.
pub fn run_date(tick: DateTime<Utc>) -> NaiveDate {
    tick.with_timezone(&vietnam()).date_naive()
}

pub async fn serve(state: AppState, settings: ServeSettings) -> Result<()> {
    let (trigger, stop) = Shutdown::new();
    // A wrong certificate stops the start, before anything listens.
    let tls = match &settings.tls {
        Some((cert, key)) => Some(tls::acceptor(cert, key)?),
        None => None,
    };
    let app = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (VONGDOI_LISTEN / --listen)",
                settings.listen
            )
        })?;
    let metrics = tokio::net::TcpListener::bind(settings.metrics_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (VONGDOI_METRICS_LISTEN / --metrics-listen)",
                settings.metrics_listen
            )
        })?;
    // Printed, not only logged: scripts and tests that ask for port 0 read the real address.
    println!("http: {}", app.local_addr()?);
    if tls.is_some() {
        tracing::info!("the main listener speaks HTTPS only");
    }
    println!("metrics: {}", metrics.local_addr()?);
    if state.webhook_token.is_none() {
        if state.webhook_allow_unsigned {
            tracing::warn!("VONGDOI_WEBHOOK_ALLOW_UNSIGNED: /webhooks/sms accepts delivery reports from anyone; set VONGDOI_WEBHOOK_TOKEN instead");
        } else {
            tracing::info!(
                "no VONGDOI_WEBHOOK_TOKEN: /webhooks/sms refuses every delivery report (401)"
            );
        }
    }
    tracing::info!(schedule = ?settings.schedule.as_ref().map(|s| s.0.to_string()), "serving");

    let http_task = tokio::spawn(http::serve_app(app, tls, state.clone(), stop.clone()));
    let metrics_task = tokio::spawn(http::serve_metrics(metrics, state.clone(), stop.clone()));
    let delivery_task = tokio::spawn(delivery_worker(
        state.clone(),
        settings.deliver_every,
        stop.clone(),
    ));
    let scheduler_task = tokio::spawn({
        let (state, stop) = (state.clone(), stop.clone());
        async move {
            match settings.schedule {
                Some(schedule) => scheduler_loop(state, schedule, stop).await,
                None => Ok(()),
            }
        }
    });

    crate::runtime::shutdown::termination().await;
    let grace = settings.stop_grace;
    tracing::info!(
        grace_seconds = grace.as_secs_f64(),
        "stopping: finishing in-flight sends and releasing leases"
    );
    trigger.fire();
    // A hard deadline (issue #10): whatever hangs — an SMTP server that stopped answering, a
    // statement waiting on a lock, a slow request — the process ends within `grace` plus the
    // few seconds the lease release may take, inside the 30 s a supervisor usually allows.
    let deadline = tokio::time::Instant::now() + grace;
    let mut abandoned = Vec::new();
    for (name, mut task) in [
        ("scheduler", scheduler_task),
        ("delivery", delivery_task),
        ("http", http_task),
        ("metrics", metrics_task),
    ] {
        match tokio::time::timeout_at(deadline, &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                tracing::error!(task = name, error = %format!("{e:#}"), "task failed")
            }
            Ok(Err(e)) => tracing::error!(task = name, error = %e, "task panicked"),
            Err(_) => {
                // Dropping the task's future closes its connections (the SMTP connection of an
                // in-flight send among them).
                task.abort();
                abandoned.push(name);
            }
        }
    }
    if !abandoned.is_empty() {
        tracing::warn!(tasks = ?abandoned, grace_seconds = grace.as_secs_f64(), "tasks did not stop in time: abandoned; giving their leases back");
        let released = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            state.store.release_all(&state.owner, Utc::now()),
        )
        .await;
        match released {
            Ok(Ok(n)) => tracing::warn!(messages = n, "abandoned sends queued again"),
            Ok(Err(e)) => tracing::error!(error = %e, "cannot give the leases back; they expire on their own (5 min messages, 10 min runs)"),
            Err(_) => tracing::error!("the database did not answer within 5 s; leases expire on their own (5 min messages, 10 min runs)"),
        }
    }
    println!("đã dừng / stopped");
    Ok(())
}

/// `VONGDOI_WEBHOOK_ALLOW_UNSIGNED=1` (or `true`): delivery reports without a token are
/// accepted — for a gateway that cannot send one, on a listener nobody else reaches.
pub fn webhook_allow_unsigned_from_env() -> bool {
    matches!(
        std::env::var("VONGDOI_WEBHOOK_ALLOW_UNSIGNED").as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// How long `serve` waits for its tasks after SIGTERM before abandoning them
/// (`VONGDOI_STOP_GRACE_SECONDS`, default 20; at most 25, so that the process is gone within
/// the 30 s systemd and container runtimes give before SIGKILL).
pub fn stop_grace_from_env() -> Result<std::time::Duration> {
    let key = "VONGDOI_STOP_GRACE_SECONDS";
    match std::env::var(key).ok().filter(|v| !v.is_empty()) {
        None => Ok(std::time::Duration::from_secs(20)),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|s| *s >= 0.0 && *s <= 25.0)
            .map(std::time::Duration::from_secs_f64)
            .ok_or_else(|| anyhow::anyhow!("{key} '{v}' is not a number of seconds from 0 to 25")),
    }
}

/// Runs the day at every tick; on start, the tick it missed while down (a run for a day already
/// done only delivers what is waiting, so starting twice costs nothing).
async fn scheduler_loop(state: AppState, schedule: Schedule, stop: Shutdown) -> Result<()> {
    let mut due = schedule.latest_until(Utc::now());
    loop {
        if let Some(tick) = due.take() {
            run_tick(&state, tick, &stop).await;
        }
        if stop.is_set() {
            return Ok(());
        }
        let Some(next) = schedule.next_after(Utc::now()) else {
            tracing::warn!("the cron schedule has no further ticks; no more runs");
            stop.wait().await;
            return Ok(());
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => due = Some(next),
            _ = stop.wait() => return Ok(()),
        }
    }
}

async fn run_tick(state: &AppState, tick: DateTime<Utc>, stop: &Shutdown) {
    run_day(state, run_date(tick), tick, stop).await;
}

/// Sends what becomes ready between runs: SMS held for the morning window, retries.
async fn delivery_worker(
    state: AppState,
    every: std::time::Duration,
    stop: Shutdown,
) -> Result<()> {
    let channels = delivery::Channels::from_config(&state.delivery)?;
    loop {
        if let Err(e) = delivery::deliver_ready(
            &state.store,
            &state.delivery,
            &state.rules,
            &channels,
            &state.owner,
            &stop,
            Some(&state.metrics),
        )
        .await
        {
            tracing::error!(error = %format!("{e:#}"), "delivery pass failed; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = state.deliver_now.notified() => {}
            _ = stop.wait() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn daily_six_oclock_is_vietnam_time() {
        let s: Schedule = "0 0 6 * * *".parse().unwrap();
        // 2026-11-21 23:05 UTC is 06:05 on the 22nd in Vietnam: the tick was 23:00 UTC.
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 23, 5, 0).unwrap();
        let latest = s.latest_until(now).unwrap();
        assert_eq!(
            latest,
            Utc.with_ymd_and_hms(2026, 11, 21, 23, 0, 0).unwrap()
        );
        assert_eq!(
            run_date(latest),
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
        );
        assert_eq!(
            s.next_after(now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 22, 23, 0, 0).unwrap()
        );
        // Before 06:00 local the owed tick is yesterday's.
        let early = Utc.with_ymd_and_hms(2026, 11, 21, 22, 0, 0).unwrap();
        assert_eq!(
            run_date(s.latest_until(early).unwrap()),
            NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
        );
        assert!(
            "0 6 * * *".parse::<Schedule>().is_err(),
            "five fields are refused"
        );
    }
}
