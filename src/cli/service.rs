//! `vongdoi run` and `vongdoi serve`: one scheduler pass for a day (scan → compose → deliver),
//! and the long-running service that does the same on a schedule beside its HTTP listeners.

use super::{mask_address, parse_date_arg};
use crate::clock::today_in_vietnam;
use crate::rules::RuleSet;
use crate::store::Store;
use anyhow::{bail, Result};
use chrono::NaiveDate;
use clap::Args;
use std::sync::Arc;

#[derive(Args)]
pub(super) struct RunArgs {
    /// The day to run for (default: today in Asia/Ho_Chi_Minh).
    #[arg(long, value_parser = parse_date_arg)]
    as_of: Option<NaiveDate>,
    /// Print what would be sent; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: `text` (a summary per template and sender, for people) or `json` (one
    /// object a line per notice, for scripts).
    #[arg(long, value_enum, default_value_t = DryRunFormat::Text)]
    format: DryRunFormat,
    /// Print the messages' text (children's names) and full addresses; by default the output
    /// names nobody, since it ends up in cron logs.
    #[arg(long)]
    show_names: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum DryRunFormat {
    Text,
    Json,
}

/// A planned notice as one JSON line (docs/interface.md): what it is about, who signs it and a
/// masked recipient; never a name.
fn planned_json(n: &crate::store::outbox::NoticeRow) -> serde_json::Value {
    let mut parts = n.item.split('/');
    let mut v = serde_json::json!({
        "template": n.template, "sender": n.sender,
        "personal_id": crate::registry::personal_id::mask_raw(&n.personal_id),
        "due": n.due, "overdue": n.overdue, "notice_date": n.notice_date,
        "channel": n.channel,
        "recipient": n.recipient_id.as_deref().map(crate::registry::personal_id::mask_raw),
    });
    let (kind, a, b) = (parts.next(), parts.next(), parts.next());
    match (kind, a, b) {
        (Some("vaccination"), Some(series), Some(dose)) => {
            v["kind"] = "vaccination".into();
            v["series"] = series.into();
            v["dose"] = dose
                .parse::<u32>()
                .map_or(serde_json::Value::Null, Into::into);
        }
        (Some("school"), Some(level), _) => {
            v["kind"] = "school".into();
            v["level"] = level.into();
        }
        (Some(kind), Some(age), _) => {
            v["kind"] = kind.into();
            v["milestone"] = age
                .parse::<u32>()
                .map_or(serde_json::Value::Null, Into::into);
        }
        _ => v["kind"] = n.item.clone().into(),
    }
    v
}

#[derive(Args)]
pub(super) struct ServeArgs {
    /// Address of the HTTP listener (health, delivery reports, API).
    #[arg(long, env = "VONGDOI_LISTEN", default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Address of the Prometheus /metrics listener.
    #[arg(long, env = "VONGDOI_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    metrics_listen: std::net::SocketAddr,
    /// When runs start: cron, six fields with seconds first, in Asia/Ho_Chi_Minh time.
    #[arg(long, env = "VONGDOI_SCHEDULE", default_value = "0 0 6 * * *")]
    schedule: crate::serve::Schedule,
    /// Seconds between delivery passes (SMS held for the window, retries).
    #[arg(long, env = "VONGDOI_DELIVER_EVERY", default_value_t = 10.0)]
    deliver_every: f64,
    /// Serve HTTP and deliver, but start no runs (an instance for the API only; another
    /// instance keeps the schedule).
    #[arg(long)]
    no_schedule: bool,
    /// HTTPS: the certificate chain (PEM), with --tls-key. Without it the main listener speaks
    /// plain HTTP (keep it on 127.0.0.1 behind a reverse proxy that does HTTPS).
    #[arg(long, env = "VONGDOI_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// HTTPS: the private key (PEM) of --tls-cert.
    #[arg(long, env = "VONGDOI_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Delivery reports must carry this token (?token= or the X-Vongdoi-Token header).
    #[arg(long, env = "VONGDOI_WEBHOOK_TOKEN", hide_env_values = true)]
    webhook_token: Option<String>,
}

impl RunArgs {
    pub(super) async fn run(self, store: Arc<Store>, rules: &RuleSet) -> Result<()> {
        let as_of = self.as_of.unwrap_or_else(today_in_vietnam);
        let delivery = crate::delivery::DeliveryConfig::from_env()?;
        let outbox = delivery.outbox_dir.clone();
        let scheduler = crate::schedule::Scheduler {
            store: store.clone(),
            rules,
            delivery,
            owner: crate::runtime::owner_name(),
            stop: crate::runtime::shutdown::Shutdown::never(),
            metrics: None,
        };
        let started = std::time::Instant::now();
        let (report, planned) = scheduler.run(as_of, self.dry_run).await?;
        if self.dry_run && self.format == DryRunFormat::Json {
            for p in &planned {
                println!("{}", planned_json(&p.notice));
            }
            return Ok(());
        }
        if self.dry_run {
            println!("chạy thử / dry run {as_of}: {} công dân/citizens, {} lời nhắc/notices (không ghi gì / nothing written); {} giữ lại cho cán bộ theo dõi / held back for staff follow-up (quá {} ngày, trước ngày bắt đầu, hoặc đã nhắc đủ / too old, before go-live, or reminded enough)", report.evaluated, report.notices, report.held_back, crate::rules::forecast::NoticePolicy::DEFAULT_HORIZON_DAYS);
            let mut by: std::collections::BTreeMap<(&str, &str), (u64, u64)> = Default::default();
            for p in &planned {
                let e = by
                    .entry((p.notice.sender.as_str(), p.notice.template.as_str()))
                    .or_default();
                e.0 += 1;
                e.1 += p.notice.recipient_id.is_none() as u64;
            }
            println!("  theo người gửi và mẫu / by sender and template:");
            for ((sender, template), (count, unreachable)) in &by {
                println!("    {sender:<7} {template:<24} {count:>7} (không liên lạc được / unreachable {unreachable})");
            }
            let window = scheduler.delivery.sms_window;
            if crate::delivery::next_sms_slot(chrono::Utc::now(), window) > chrono::Utc::now() {
                println!("  SMS: ngoài khung giờ gửi {}–{} bây giờ: sẽ chờ đến lần mở sau / outside the sending window now: they wait for its next opening", window.0.format("%H:%M"), window.1.format("%H:%M"));
            }
            for p in &planned {
                let n = &p.notice;
                let to = match (&n.channel, &n.recipient_id) {
                    (Some(c), Some(r)) => {
                        format!("{c} → {}", crate::registry::personal_id::mask_raw(r))
                    }
                    _ => "không liên lạc được / unreachable".into(),
                };
                // The message text names the child: only on request.
                let text = if self.show_names {
                    n.line_sms.as_str()
                } else {
                    "(--show-names)"
                };
                println!(
                    "  {} {:<24} {:<22} {to}: {text}",
                    crate::registry::personal_id::mask_raw(&n.personal_id),
                    n.item,
                    n.template,
                );
            }
            return Ok(());
        }
        if report.already_scanned {
            println!("ngày {as_of} đã quét xong / {as_of} was scanned already: only queued messages were delivered");
        }
        if report.scanned_elsewhere {
            println!("một phiên bản khác đang quét ngày {as_of} / another instance is scanning {as_of}: only delivered");
        }
        println!(
            "chạy/run {as_of}: {} công dân/citizens · sổ sự kiện/ledger changes {} · lời nhắc mới/new notices {} (không liên lạc được/unreachable {}) · tin nhắn/messages queued {} · đã gửi/sent {} · thử lại/retrying {} · hỏng/dead {} ({:.1} s)",
            report.evaluated,
            report.ledger_changes,
            report.notices,
            report.unreachable,
            report.messages_queued,
            report.delivery.sent,
            report.delivery.retried,
            report.delivery.dead,
            started.elapsed().as_secs_f64()
        );
        // Counts from one GROUP BY and three examples: the day may hold a million messages.
        let waiting: i64 = store
            .outbox_counts()
            .await?
            .iter()
            .filter(|(_, status, _)| status == "queued")
            .map(|(_, _, n)| n)
            .sum();
        if waiting > 0 {
            println!("{waiting} tin chờ gửi (khung giờ SMS hoặc thử lại) / waiting (SMS window or retry; VONGDOI_SMS_WINDOW)");
        }
        let mut hint = false;
        for m in store
            .messages_of_day(as_of, 50)
            .await?
            .iter()
            .filter(|m| m.status == crate::store::MessageStatus::Sent)
            .take(3)
        {
            if self.show_names {
                println!(
                    "  {} {} → {}: {}",
                    m.id,
                    m.channel,
                    m.address,
                    m.body.lines().next().unwrap_or("")
                );
            } else {
                // The body names the child and the address is a contact: masked, no text.
                println!("  {} {} → {}", m.id, m.channel, mask_address(&m.address));
                hint = true;
            }
        }
        if hint {
            println!("  (nội dung, địa chỉ đầy đủ / message text, full addresses: --show-names)");
        }
        println!("hộp thư đi / outbox: {}", outbox.display());
        Ok(())
    }
}

impl ServeArgs {
    pub(super) async fn run(self, store: Arc<Store>, rules: RuleSet) -> Result<()> {
        if !(self.deliver_every > 0.0 && self.deliver_every.is_finite()) {
            bail!("--deliver-every / VONGDOI_DELIVER_EVERY must be a positive number of seconds");
        }
        let state = crate::app::AppState {
            store,
            rules: Arc::new(rules),
            delivery: crate::delivery::DeliveryConfig::from_env()?,
            metrics: Arc::new(crate::runtime::metrics::Metrics::default()),
            owner: crate::runtime::owner_name(),
            webhook_token: self.webhook_token,
            webhook_allow_unsigned: crate::serve::webhook_allow_unsigned_from_env(),
        };
        crate::serve::serve(
            state,
            crate::serve::ServeSettings {
                listen: self.listen,
                metrics_listen: self.metrics_listen,
                schedule: (!self.no_schedule).then_some(self.schedule),
                deliver_every: std::time::Duration::from_secs_f64(self.deliver_every),
                stop_grace: crate::serve::stop_grace_from_env()?,
                tls: self.tls_cert.zip(self.tls_key),
            },
        )
        .await
    }
}
