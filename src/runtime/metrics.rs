//! Prometheus metrics, served on their own listener (ARCHITECTURE.md "Edges"): counters kept in
//! this process, the outbox backlog read from the database at scrape time (it is shared by
//! every instance). The text format is written by hand: a handful of series needs no crate.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct Metrics {
    runs_finished: AtomicU64,
    runs_failed: AtomicU64,
    /// The day a failed run is being retried for (0: none), and its error, for `/healthz`.
    retrying_day: AtomicI64,
    retry_error: Mutex<Option<String>>,
    citizens_evaluated: AtomicU64,
    notices: AtomicU64,
    /// Send attempts by (channel, outcome): sent, retry, dead, fallback.
    sends: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// Delivery reports received by status.
    reports: Mutex<BTreeMap<String, u64>>,
    /// Inbound SMS by what was done with them (opt-out, for-staff, duplicate…).
    inbound: Mutex<BTreeMap<String, u64>>,
    /// ZNS failures by class: unreachable (sent by SMS), held, config, transient.
    zns_errors: Mutex<BTreeMap<&'static str, u64>>,
    /// Unix seconds of the scheduled tick the current or last run started for, and when it did.
    last_tick: AtomicI64,
    last_run_started: AtomicI64,
    last_run_finished: AtomicI64,
}

impl Metrics {
    pub fn run_started(&self, tick: i64, now: i64) {
        self.last_tick.store(tick, Ordering::Relaxed);
        self.last_run_started.store(now, Ordering::Relaxed);
    }

    /// A run ended: `finished_at` is None when it stopped early (shutdown) and will resume.
    pub fn run_ended(&self, evaluated: u64, notices: u64, finished_at: Option<i64>) {
        if let Some(at) = finished_at {
            self.runs_finished.fetch_add(1, Ordering::Relaxed);
            self.last_run_finished.store(at, Ordering::Relaxed);
        }
        self.citizens_evaluated
            .fetch_add(evaluated, Ordering::Relaxed);
        self.notices.fetch_add(notices, Ordering::Relaxed);
    }

    pub fn run_failed(&self) {
        self.runs_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// A failed run of `day` (days since 1970) waits to be tried again after `error`; `None`
    /// once a run finishes.
    pub fn set_retrying(&self, retry: Option<(i64, String)>) {
        let (day, error) = retry.map_or((0, None), |(d, e)| (d, Some(e)));
        self.retrying_day.store(day, Ordering::Relaxed);
        *self.retry_error.lock().expect("metrics lock") = error;
    }

    /// The run being retried: (day as days since 1970, its last error).
    pub fn retrying(&self) -> Option<(i64, String)> {
        let day = self.retrying_day.load(Ordering::Relaxed);
        let error = self.retry_error.lock().expect("metrics lock").clone();
        (day != 0).then(|| (day, error.unwrap_or_default()))
    }

    pub fn send(&self, channel: &str, outcome: &'static str) {
        *self
            .sends
            .lock()
            .expect("metrics lock")
            .entry((channel.to_string(), outcome))
            .or_default() += 1;
    }

    pub fn zns_error(&self, class: &'static str) {
        *self
            .zns_errors
            .lock()
            .expect("metrics lock")
            .entry(class)
            .or_default() += 1;
    }

    pub fn delivery_report(&self, status: &str) {
        *self
            .reports
            .lock()
            .expect("metrics lock")
            .entry(status.to_string())
            .or_default() += 1;
    }

    pub fn inbound(&self, action: &str) {
        *self
            .inbound
            .lock()
            .expect("metrics lock")
            .entry(action.to_string())
            .or_default() += 1;
    }

    /// The exposition text; `outbox` is (channel, status, count) from the database.
    pub fn render(&self, outbox: &[(String, String, i64)], now: i64) -> String {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        header(
            &mut out,
            "vongdoi_runs_total",
            "counter",
            "Scheduler runs of this process by result.",
        );
        let _ = writeln!(
            out,
            "vongdoi_runs_total{{result=\"finished\"}} {}",
            load(&self.runs_finished)
        );
        let _ = writeln!(
            out,
            "vongdoi_runs_total{{result=\"failed\"}} {}",
            load(&self.runs_failed)
        );
        header(
            &mut out,
            "vongdoi_run_retrying",
            "gauge",
            "1 while a failed run waits to be tried again (see /healthz for its error).",
        );
        let _ = writeln!(
            out,
            "vongdoi_run_retrying {}",
            u8::from(self.retrying_day.load(Ordering::Relaxed) != 0)
        );
        header(
            &mut out,
            "vongdoi_citizens_evaluated_total",
            "counter",
            "Citizens whose lifecycle items this process evaluated.",
        );
        let _ = writeln!(
            out,
            "vongdoi_citizens_evaluated_total {}",
            load(&self.citizens_evaluated)
        );
        header(
            &mut out,
            "vongdoi_notices_total",
            "counter",
            "Notices recorded by this process's runs.",
        );
        let _ = writeln!(out, "vongdoi_notices_total {}", load(&self.notices));
        header(
            &mut out,
            "vongdoi_messages_total",
            "counter",
            "Send attempts of this process by channel and outcome (sent, retry, dead, fallback).",
        );
        for ((channel, outcome), n) in self.sends.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "vongdoi_messages_total{{channel=\"{channel}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        header(
            &mut out,
            "vongdoi_delivery_reports_total",
            "counter",
            "Delivery reports received from the SMS gateway, by status.",
        );
        for (status, n) in self.reports.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "vongdoi_delivery_reports_total{{status=\"{status}\"}} {n}"
            );
        }
        header(
            &mut out,
            "vongdoi_inbound_messages_total",
            "counter",
            "SMS families sent, by what was done with them (duplicate: a gateway's repeat).",
        );
        for (action, n) in self.inbound.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "vongdoi_inbound_messages_total{{action=\"{action}\"}} {n}"
            );
        }
        header(
            &mut out,
            "vongdoi_zns_errors_total",
            "counter",
            "Zalo ZNS sends that did not go, by class: unreachable (sent by SMS instead), held (quota or token), config (dead: fix the template id or app), transient (retried).",
        );
        for (class, n) in self.zns_errors.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "vongdoi_zns_errors_total{{class=\"{class}\"}} {n}");
        }
        header(
            &mut out,
            "vongdoi_outbox_messages",
            "gauge",
            "Messages in the outbox (all instances) by channel and status.",
        );
        for (channel, status, n) in outbox {
            let _ = writeln!(
                out,
                "vongdoi_outbox_messages{{channel=\"{channel}\",status=\"{status}\"}} {n}"
            );
        }
        // Lag: how long the latest scheduled tick has waited for its run to finish (0 once it
        // has); a stuck or failing scheduler shows as a growing number.
        let tick = self.last_tick.load(Ordering::Relaxed);
        let finished = self.last_run_finished.load(Ordering::Relaxed);
        let started = self.last_run_started.load(Ordering::Relaxed);
        let lag = if tick == 0 || (finished >= tick && finished >= started) {
            0
        } else {
            (now - tick).max(0)
        };
        header(
            &mut out,
            "vongdoi_scheduler_lag_seconds",
            "gauge",
            "Seconds since the latest scheduled run was due, while it has not finished.",
        );
        let _ = writeln!(out, "vongdoi_scheduler_lag_seconds {lag}");
        header(
            &mut out,
            "vongdoi_last_run_finished_timestamp_seconds",
            "gauge",
            "When this process last finished a run (Unix seconds).",
        );
        let _ = writeln!(
            out,
            "vongdoi_last_run_finished_timestamp_seconds {finished}"
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Outbreak alerts by status, and the messages of the alerts still sending by status (the
/// alerts in flight), from the database: the same on every instance.
pub fn render_alerts(alerts: &[(String, i64)], in_flight: &[(String, i64)]) -> String {
    let mut out = String::new();
    header(
        &mut out,
        "vongdoi_alerts",
        "gauge",
        "Outbreak alerts by status (draft, pending-approval, sending, completed, cancelled).",
    );
    for (status, n) in alerts {
        let _ = writeln!(out, "vongdoi_alerts{{status=\"{status}\"}} {n}");
    }
    header(
        &mut out,
        "vongdoi_alert_messages_in_flight",
        "gauge",
        "Messages of the alerts still sending, by status.",
    );
    for (status, n) in in_flight {
        let _ = writeln!(
            out,
            "vongdoi_alert_messages_in_flight{{status=\"{status}\"}} {n}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_grows_until_the_run_finishes() {
        let m = Metrics::default();
        let value = |text: &str, series: &str| -> String {
            text.lines()
                .find_map(|l| l.strip_prefix(series))
                .unwrap()
                .trim()
                .to_string()
        };
        assert_eq!(
            value(&m.render(&[], 1_000), "vongdoi_scheduler_lag_seconds "),
            "0",
            "no tick yet"
        );
        m.run_started(1_000, 1_001);
        assert_eq!(
            value(&m.render(&[], 1_060), "vongdoi_scheduler_lag_seconds "),
            "60"
        );
        m.run_ended(5, 2, None);
        assert_eq!(
            value(&m.render(&[], 1_090), "vongdoi_scheduler_lag_seconds "),
            "90",
            "an interrupted run still owes the day"
        );
        m.run_failed();
        m.run_ended(7, 1, Some(1_100));
        m.send("sms", "sent");
        m.send("sms", "sent");
        let text = m.render(&[("sms".into(), "queued".into(), 4)], 1_200);
        assert_eq!(value(&text, "vongdoi_scheduler_lag_seconds "), "0");
        assert_eq!(
            value(&text, "vongdoi_runs_total{result=\"finished\"} "),
            "1"
        );
        assert_eq!(value(&text, "vongdoi_runs_total{result=\"failed\"} "), "1");
        assert_eq!(value(&text, "vongdoi_citizens_evaluated_total "), "12");
        assert_eq!(
            value(
                &text,
                "vongdoi_messages_total{channel=\"sms\",outcome=\"sent\"} "
            ),
            "2"
        );
        assert_eq!(
            value(
                &text,
                "vongdoi_outbox_messages{channel=\"sms\",status=\"queued\"} "
            ),
            "4"
        );
    }
}
