//! Email through a real SMTP server (`VONGDOI_SMTP_URL`), with lettre's pooled async transport:
//! `smtp://host:25` (plain), `smtp://host:587?tls=required` (STARTTLS), `smtps://user:pass@host`
//! (TLS from the first byte). SMTP 4xx replies, timeouts and lost connections are transient;
//! 5xx replies (no such mailbox, rejected) are permanent.

use super::SendError;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

pub struct SmtpChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpChannel {
    pub fn new(url: &str, connections: u32, timeout: Duration) -> anyhow::Result<SmtpChannel> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| {
                anyhow::anyhow!(
                    "VONGDOI_SMTP_URL is not a usable SMTP address ({e}); \
                     e.g. smtp://host:25, smtp://user:pass@host:587?tls=required, smtps://user:pass@host"
                )
            })?
            .pool_config(PoolConfig::new().max_size(connections))
            .timeout(Some(timeout))
            .build();
        Ok(SmtpChannel { transport })
    }

    pub async fn send(&self, message: Message) -> Result<Option<String>, SendError> {
        match self.transport.send(message).await {
            Ok(reply) => Ok(reply
                .message()
                .next()
                .map(|l| l.chars().take(120).collect())),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(format!("SMTP: {e}"))),
            Err(e) => Err(SendError::Transient(format!("SMTP: {e}"))),
        }
    }
}
