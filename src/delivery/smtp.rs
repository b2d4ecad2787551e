//! Email through a real SMTP server (`VONGDOI_SMTP_URL`): `smtp://host:25` (plain),
//! `smtp://host:587?tls=required` (STARTTLS), `smtps://user:pass@host` (TLS from the first
//! byte). SMTP 4xx replies, timeouts and lost connections are transient; 5xx replies (no such
//! mailbox, rejected) are permanent.
//!
//! Connections are lettre's `AsyncSmtpConnection`, pooled here rather than by lettre's
//! `AsyncSmtpTransport`, because of deadlines (issue #10): the async transport's `timeout`
//! bounds only the TCP connect — the greeting, every command and the data wait for ever on a
//! server that stops answering (the blocking transport sets socket read timeouts; the async
//! one sets none). So every send, connect and greeting included, runs under one
//! `tokio::time::timeout`; a connection whose send did not end cleanly is dropped, never
//! reused. Lettre's pool cannot do that: a send cancelled half-way returns its connection to
//! the pool, where the next message would read the previous one's late replies.

use super::SendError;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;
use std::sync::Mutex;
use std::time::Duration;

/// Where and how to connect, from the URL.
struct Server {
    host: String,
    port: u16,
    tls: Tls,
    hello: ClientId,
    credentials: Option<Credentials>,
}

pub struct SmtpChannel {
    server: Server,
    /// Connections that ended their last send cleanly, ready for the next.
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    max_idle: usize,
    /// The whole of one send: connect, greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA.
    timeout: Duration,
}

const URL_HELP: &str =
    "e.g. smtp://host:25, smtp://user:pass@host:587?tls=required, smtps://user:pass@host";

impl SmtpChannel {
    pub fn new(url: &str, connections: u32, timeout: Duration) -> anyhow::Result<SmtpChannel> {
        let server = parse_url(url).map_err(|e| {
            anyhow::anyhow!(
                "VONGDOI_SMTP_URL không dùng được / is not a usable SMTP address ({e}); {URL_HELP}"
            )
        })?;
        Ok(SmtpChannel {
            server,
            idle: Mutex::new(Vec::new()),
            max_idle: connections.max(1) as usize,
            timeout,
        })
    }

    pub async fn send(&self, message: Message) -> Result<Option<String>, SendError> {
        let envelope = message.envelope().clone();
        let bytes = message.formatted();
        match tokio::time::timeout(self.timeout, self.send_on_a_connection(&envelope, &bytes))
            .await
        {
            Ok(result) => result,
            // The future, and the connection inside it, is dropped here: the socket closes.
            // Transient: the server may come back; if it did take the message before hanging,
            // the retry carries the same Message-ID.
            Err(_) => Err(SendError::Transient(format!(
                "SMTP: máy chủ không trả lời trong {} giây / no answer within {} s (VONGDOI_SMTP_TIMEOUT_SECONDS)",
                self.timeout.as_secs_f64(),
                self.timeout.as_secs_f64()
            ))),
        }
    }

    async fn send_on_a_connection(
        &self,
        envelope: &Envelope,
        bytes: &[u8],
    ) -> Result<Option<String>, SendError> {
        let mut conn = match self.reuse().await {
            Some(conn) => conn,
            None => self.connect().await.map_err(smtp_error)?,
        };
        let reply = conn.send(envelope, bytes).await.map_err(smtp_error)?;
        // Only a connection whose send ended with the server's reply goes back to the pool.
        if !conn.has_broken() {
            let mut idle = self.idle.lock().expect("smtp pool lock");
            if idle.len() < self.max_idle {
                idle.push(conn);
            }
        }
        let first = reply
            .message()
            .next()
            .map(|l| l.chars().take(120).collect());
        Ok(first)
    }

    /// An idle connection that still answers (NOOP), if there is one.
    async fn reuse(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let mut conn = self.idle.lock().expect("smtp pool lock").pop()?;
            if conn.test_connected().await {
                return Some(conn);
            }
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, lettre::transport::smtp::Error> {
        let s = &self.server;
        let wrapper = match &s.tls {
            Tls::Wrapper(p) => Some(p.clone()),
            _ => None,
        };
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (s.host.as_str(), s.port),
            Some(self.timeout),
            &s.hello,
            wrapper,
            None,
        )
        .await?;
        match &s.tls {
            Tls::Opportunistic(p) if conn.can_starttls() => {
                conn.starttls(p.clone(), &s.hello).await?
            }
            Tls::Required(p) => conn.starttls(p.clone(), &s.hello).await?,
            _ => {}
        }
        if let Some(credentials) = &s.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(conn)
    }
}

fn smtp_error(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(format!("SMTP: {e}"))
    } else {
        SendError::Transient(format!("SMTP: {e}"))
    }
}

/// The URL forms lettre's `from_url` reads, with the same default ports (25, 587, 465).
fn parse_url(url: &str) -> Result<Server, String> {
    let u = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = u
        .host_str()
        .ok_or("no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tls_param = u
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let params = || TlsParameters::new(host.clone()).map_err(|e| e.to_string());
    let (tls, default_port) = match (u.scheme(), tls_param.as_deref()) {
        ("smtp", None) => (Tls::None, 25),
        ("smtp", Some("required")) => (Tls::Required(params()?), 587),
        ("smtp", Some("opportunistic")) => (Tls::Opportunistic(params()?), 587),
        ("smtps", _) => (Tls::Wrapper(params()?), 465),
        (scheme, tls) => {
            return Err(format!(
                "scheme '{scheme}' or tls={} not understood",
                tls.unwrap_or("")
            ))
        }
    };
    let hello = match u.path().trim_matches('/') {
        "" => ClientId::default(),
        name => ClientId::Domain(name.to_string()),
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|e| e.to_string())
    };
    let credentials = match u.password() {
        Some(password) => Some(Credentials::new(decode(u.username())?, decode(password)?)),
        None => None,
    };
    Ok(Server {
        port: u.port().unwrap_or(default_port),
        host,
        tls,
        hello,
        credentials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_read_as_lettre_reads_them() {
        let s = parse_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 2525));
        assert!(matches!(s.tls, Tls::None) && s.credentials.is_none());
        let s = parse_url("smtp://u%40x:p%3Aw@mail.example.vn?tls=required").unwrap();
        assert_eq!(s.port, 587);
        assert!(matches!(s.tls, Tls::Required(_)));
        assert!(s.credentials == Some(Credentials::new("u@x".into(), "p:w".into())));
        assert_eq!(parse_url("smtps://mail.example.vn").unwrap().port, 465);
        assert!(parse_url("http://mail.example.vn").is_err());
        assert!(parse_url("smtp://mail.example.vn?tls=sometimes").is_err());
    }
}
