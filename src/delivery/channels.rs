//! The channels a message can leave by, chosen by configuration (after crates.io's email
//! module): SMTP or `.eml` files for email, an HTTP gateway or `sms.jsonl` for SMS. Each
//! channel has its own concurrency and rate limit, so a slow SMTP server does not hold up SMS.
//! Zalo ZNS (`zns`) has no file stand-in: it is a channel only when configured.

use super::email;
use super::file::FileChannel;
use super::gateway::HttpGateway;
use super::smtp::SmtpChannel;
use super::zns::ZnsChannel;
use super::DeliveryConfig;
use crate::store::outbox::OutboxMessage;
use crate::store::{Channel, Store};
use lettre::message::Mailbox;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Why a send failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Timeouts, lost connections, HTTP 5xx/429, SMTP 4xx: retried with backoff.
    Transient(String),
    /// Invalid number or address, HTTP 4xx, SMTP 5xx, a refusal: never retried; the notices
    /// go by the recipient's next channel.
    Permanent(String),
    /// Our own configuration is wrong (a ZNS template id or app Zalo refuses): never retried
    /// and not sent another way, which would hide the fault on every message; the operator
    /// is told.
    Config(String),
    /// Not attempted (ZNS out of quota, no access token): tried again later, and by the next
    /// channel once it has waited past its deadline.
    Hold(String),
}

enum EmailTransport {
    File,
    Smtp(SmtpChannel),
}

// One per process: the size of the gateway variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum SmsTransport {
    File,
    Gateway(HttpGateway),
}

/// A channel's limits: at most `permits` sends at once, at most one per `interval`.
struct Limits {
    permits: Semaphore,
    pace: Option<(Duration, Mutex<Instant>)>,
}

impl Limits {
    fn new(concurrency: usize, rate: Option<f64>) -> Limits {
        Limits {
            permits: Semaphore::new(concurrency.max(1)),
            pace: rate.map(|r| (Duration::from_secs_f64(1.0 / r), Mutex::new(Instant::now()))),
        }
    }

    /// Waits for a free slot; the permit is held for the send.
    async fn acquire(&self) -> tokio::sync::SemaphorePermit<'_> {
        let permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        if let Some((interval, next)) = &self.pace {
            // Reserve the next free instant, then sleep until it: sends are spaced evenly.
            let at = {
                let mut next = next.lock().expect("pace lock");
                let at = (*next).max(Instant::now());
                *next = at + *interval;
                at
            };
            tokio::time::sleep_until(at).await;
        }
        permit
    }
}

pub struct Channels {
    file: FileChannel,
    email: EmailTransport,
    sms: SmsTransport,
    cfg: DeliveryConfig,
    email_limits: Limits,
    sms_limits: Limits,
    zns: Option<(ZnsChannel, Limits)>,
    concurrency: usize,
}

impl Channels {
    pub fn from_config(cfg: &DeliveryConfig) -> anyhow::Result<Channels> {
        for (key, from) in std::iter::once(("VONGDOI_MAIL_FROM".to_string(), &cfg.mail_from)).chain(
            (cfg.mail_from_by_sender.iter()).map(|(k, f)| {
                (
                    format!("VONGDOI_MAIL_FROM_{}", k.as_str().to_uppercase()),
                    f,
                )
            }),
        ) {
            from.parse::<Mailbox>()
                .map_err(|e| anyhow::anyhow!("{key} '{from}' is not an email address: {e}"))?;
        }
        let (email, email_concurrency) = match &cfg.smtp_url {
            Some(url) => (
                EmailTransport::Smtp(SmtpChannel::new(
                    url,
                    cfg.smtp_connections,
                    cfg.smtp_timeout,
                )?),
                cfg.smtp_connections as usize,
            ),
            // Files are written one at a time: appends and renames need no company.
            None => (EmailTransport::File, 1),
        };
        let (sms, sms_concurrency) = match &cfg.gateway {
            Some(g) => (
                SmsTransport::Gateway(HttpGateway::new(g.clone(), cfg.sms_concurrency)?),
                cfg.sms_concurrency,
            ),
            None => (SmsTransport::File, 1),
        };
        let zns = match &cfg.zns {
            Some(z) if cfg.channels.contains(&Channel::Zns) => Some((
                ZnsChannel::new(z.clone())?,
                Limits::new(z.concurrency, z.rate),
            )),
            _ => None,
        };
        let zns_concurrency = zns.as_ref().map_or(0, |(z, _)| z.config().concurrency);
        Ok(Channels {
            file: FileChannel::new(&cfg.outbox_dir).map_err(|e| {
                anyhow::anyhow!(
                    "cannot create the outbox folder {} (VONGDOI_OUTBOX_DIR): {e}",
                    cfg.outbox_dir.display()
                )
            })?,
            email,
            sms,
            cfg: cfg.clone(),
            email_limits: Limits::new(email_concurrency, cfg.email_rate),
            sms_limits: Limits::new(sms_concurrency, cfg.sms_rate),
            zns,
            concurrency: email_concurrency + sms_concurrency + zns_concurrency,
        })
    }

    /// How many sends may be under way at once, all channels together.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Whether a sent message may be marked with the rest of its batch: the file outbox finds
    /// a message it wrote before when it is claimed again, so a kill between writing and
    /// marking repeats nothing; a gateway or SMTP server is marked one message at a time.
    pub fn marks_in_batches(&self, m: &OutboxMessage) -> bool {
        match m.channel {
            Channel::Email => matches!(self.email, EmailTransport::File),
            Channel::Sms => matches!(self.sms, SmsTransport::File),
            Channel::Zns => false,
        }
    }

    /// Makes what the file outbox wrote durable (end of a delivery pass).
    pub fn sync(&self) -> std::io::Result<()> {
        self.file.sync()
    }

    /// Waits for the message's channel to have a free slot (its concurrency and rate limit);
    /// the send goes while the permit is held.
    pub async fn permit(&self, m: &OutboxMessage) -> tokio::sync::SemaphorePermit<'_> {
        match (m.channel, &self.zns) {
            (Channel::Email, _) => self.email_limits.acquire().await,
            (Channel::Zns, Some((_, limits))) => limits.acquire().await,
            _ => self.sms_limits.acquire().await,
        }
    }

    /// Sends one message; the provider's id (if the channel gives one) on success.
    pub async fn send(
        &self,
        store: &Store,
        m: &OutboxMessage,
    ) -> Result<Option<String>, SendError> {
        let _permit = self.permit(m).await;
        self.send_now(store, m).await
    }

    /// Sends one message without waiting for a slot (the caller holds [`Channels::permit`]).
    /// `store` keeps what ZNS shares between instances (its tokens and the day's count).
    pub async fn send_now(
        &self,
        store: &Store,
        m: &OutboxMessage,
    ) -> Result<Option<String>, SendError> {
        if m.channel == Channel::Zns {
            return match &self.zns {
                Some((zns, _)) => zns.send(store, m).await,
                None => Err(SendError::Hold(
                    "ZNS chưa cấu hình / zns is not in VONGDOI_CHANNELS or not configured".into(),
                )),
            };
        }
        if m.channel == Channel::Email {
            let from: Mailbox = (self.cfg.mail_from_of(&m.sender, &m.sender_name).parse())
                .or_else(|_| self.cfg.mail_from.parse())
                .map_err(|e| SendError::Permanent(format!("VONGDOI_MAIL_FROM: {e}")))?;
            let domain =
                (self.cfg.mail_domain.clone()).unwrap_or_else(|| from.email.domain().to_string());
            let unsubscribe = super::letter::unsubscribe_link(&self.cfg, &m.id);
            let envelope = email::Envelope {
                from: &from,
                domain: &domain,
                unsubscribe: &unsubscribe,
            };
            let message = email::build(m, &envelope)?;
            match &self.email {
                EmailTransport::Smtp(smtp) => smtp.send(message).await,
                EmailTransport::File => self
                    .file
                    .write_email(m, &message.formatted())
                    .map(|()| None)
                    .map_err(|e| SendError::Transient(format!("outbox/email: {e}"))),
            }
        } else {
            match &self.sms {
                SmsTransport::Gateway(g) => g.send(m).await,
                SmsTransport::File => self
                    .file
                    .append_sms(m)
                    .map(|()| None)
                    .map_err(|e| SendError::Transient(format!("outbox/sms.jsonl: {e}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rate_spaces_sends_and_concurrency_caps_them() {
        // 200 a second: the 11th send cannot start before 50 ms (a lower bound, never flaky).
        let limits = Limits::new(4, Some(200.0));
        let started = Instant::now();
        for _ in 0..11 {
            drop(limits.acquire().await);
        }
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "{:?}",
            started.elapsed()
        );
        let capped = Limits::new(2, None);
        let (_a, _b) = (capped.acquire().await, capped.acquire().await);
        assert_eq!(capped.permits.available_permits(), 0, "a third send waits");
    }
}
