//! `vongdoi run` and `vongdoi serve`: one scheduler pass for a day (scan → compose → deliver),
//! and the long-running service that does the same on a schedule beside its HTTP listeners.

use super::dry_run::DryRunFormat;
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
    /// Evaluate every citizen, not only those whose lifecycle can have changed (a day already
    /// done incrementally is done again in full). Gives the same ledger, notices and messages.
    #[arg(long)]
    full: bool,
    /// When another instance holds part of the day, wait for it instead of exiting with
    /// status 3 (and take its part over if its lease runs out).
    #[arg(long)]
    wait: bool,
}

/// `vongdoi run`'s exit status when another live instance holds part of the day.
pub const EXIT_HELD_ELSEWHERE: i32 = 3;

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
            shard_size: crate::store::runs::shard_size_from_env()?,
        };
        let started = std::time::Instant::now();
        let options = crate::schedule::RunOptions {
            dry_run: self.dry_run,
            full: self.full,
            wait: self.wait,
        };
        let (report, planned) = scheduler.run(as_of, options).await?;
        if self.dry_run {
            let store = &scheduler.store;
            super::dry_run::print(
                store,
                &scheduler.delivery,
                rules,
                (as_of, &report, &planned),
                (self.format, self.show_names),
            )
            .await?;
            return Ok(());
        }
        if report.already_scanned {
            println!("ngày {as_of} đã quét xong / {as_of} was scanned already: only queued messages were delivered");
        }
        if let Some(owners) = &report.held_elsewhere {
            let who = if owners.is_empty() {
                String::from("?")
            } else {
                owners.join(", ")
            };
            println!("một phiên bản khác đang chạy ngày {as_of} ({who}); chưa quét xong nên chưa gửi gì. Chạy lại sau, hoặc thêm --wait để chờ / another instance is running {as_of} ({who}): the day is not scanned to the end, so nothing was sent; run again later, or add --wait to wait for it");
            std::process::exit(EXIT_HELD_ELSEWHERE);
        }
        let pass = if report.full_pass {
            "toàn bộ/full pass"
        } else {
            "phần thay đổi/incremental"
        };
        println!(
            "chạy/run {as_of} ({pass}): {} công dân/citizens · sổ sự kiện/ledger changes {} · lời nhắc mới/new notices {} (không liên lạc được/unreachable {}) · tin nhắn/messages queued {} · đã gửi/sent {} · thử lại/retrying {} · hỏng/dead {} ({:.1} s)",
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
            shard_size: crate::store::runs::shard_size_from_env()?,
            deliver_now: Default::default(),
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
