//! Zalo ZNS (docs/interface.md "Zalo ZNS"): an approved template message to the Zalo account of
//! the person's phone, with SMS behind it. `POST {VONGDOI_ZNS_URL}/message/template` with the
//! OA's access token (`zns_token`), `{phone, template_id, template_data, tracking_id}`; the
//! message id is the `tracking_id`, so a retry after a lost reply is the same request.
//!
//! Zalo's reply is classified (`classify`), because each kind of failure wants its own cure:
//! the person has no usable Zalo (−114, −118, −108) → SMS at once; out of quota (Zalo's or
//! `VONGDOI_ZNS_DAILY_QUOTA`) → held, SMS by a deadline; our template or app is wrong → a dead
//! letter for the operator (SMS would hide the fault on every message); −100, 5xx, timeouts →
//! retried; a rejected token → refreshed and tried once more, not a failure of the message.

use super::zns_token::{OAuthConfig, TokenError, Tokens};
use super::SendError;
use crate::store::outbox::OutboxMessage;
use crate::store::Store;
use std::time::Duration;

/// `VONGDOI_ZNS_*`.
#[derive(Clone)]
pub struct ZnsConfig {
    /// `https://business.openapi.zalo.me` (the send is `{url}/message/template`).
    pub url: String,
    pub oauth: OAuthConfig,
    pub timeout: Duration,
    /// ZNS per Vietnam day, all instances together.
    pub daily_quota: i64,
    /// A held ZNS goes by SMS this long after it was queued.
    pub hold: chrono::Duration,
    pub rate: Option<f64>,
    pub concurrency: usize,
    /// The OA secret key of Zalo's webhook signature (`X-ZEvent-Signature`).
    pub oa_secret: Option<String>,
}

// Never printed whole: it holds the secret key and the refresh token.
impl std::fmt::Debug for ZnsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZnsConfig")
            .field("url", &self.url)
            .field("daily_quota", &self.daily_quota)
            .finish_non_exhaustive()
    }
}

impl ZnsConfig {
    /// From the environment; required only when `zns` is among `VONGDOI_CHANNELS`.
    pub fn from_env() -> anyhow::Result<ZnsConfig> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let need = |k: &str| {
            var(k).ok_or_else(|| {
                anyhow::anyhow!("{k} chưa đặt / is not set: ZNS (in VONGDOI_CHANNELS) needs VONGDOI_ZNS_APP_ID, VONGDOI_ZNS_SECRET_KEY and VONGDOI_ZNS_REFRESH_TOKEN")
            })
        };
        let number = |k: &str, default: f64| -> anyhow::Result<f64> {
            match var(k) {
                None => Ok(default),
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|n| *n >= 0.0 && n.is_finite())
                    .ok_or_else(|| anyhow::anyhow!("{k} '{v}' is not a number")),
            }
        };
        let url = |k: &str, default: &str| -> anyhow::Result<String> {
            let u = var(k).unwrap_or_else(|| default.into());
            anyhow::ensure!(
                u.starts_with("http://") || u.starts_with("https://"),
                "{k} '{u}' must start with http:// or https://"
            );
            Ok(u.trim_end_matches('/').to_string())
        };
        let timeout = number("VONGDOI_ZNS_TIMEOUT_SECONDS", 10.0)?;
        anyhow::ensure!(
            timeout > 0.0,
            "VONGDOI_ZNS_TIMEOUT_SECONDS must be positive"
        );
        Ok(ZnsConfig {
            url: url("VONGDOI_ZNS_URL", "https://business.openapi.zalo.me")?,
            oauth: OAuthConfig {
                url: url(
                    "VONGDOI_ZNS_OAUTH_URL",
                    "https://oauth.zaloapp.com/v4/oa/access_token",
                )?,
                app_id: need("VONGDOI_ZNS_APP_ID")?,
                secret_key: need("VONGDOI_ZNS_SECRET_KEY")?,
                refresh_token: need("VONGDOI_ZNS_REFRESH_TOKEN")?,
            },
            timeout: Duration::from_secs_f64(timeout),
            daily_quota: number("VONGDOI_ZNS_DAILY_QUOTA", 5000.0)? as i64,
            hold: chrono::Duration::seconds(
                (number("VONGDOI_ZNS_HOLD_MINUTES", 120.0)? * 60.0) as i64,
            ),
            rate: var("VONGDOI_ZNS_RATE")
                .map(|_| number("VONGDOI_ZNS_RATE", 0.0))
                .transpose()?
                .filter(|r| *r > 0.0),
            concurrency: number("VONGDOI_ZNS_CONCURRENCY", 4.0)?.max(1.0) as usize,
            oa_secret: var("VONGDOI_ZNS_OA_SECRET"),
        })
    }
}

/// What a Zalo reply means for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZnsClass {
    Sent,
    /// Not this person by ZNS (−114 inactive or refusing, −118 no Zalo account, −108 invalid
    /// phone): SMS at once.
    NotReachable,
    /// Zalo's daily quota is used up: held, SMS by the deadline.
    Quota,
    /// Our template or app is wrong (−101…−106, −109, −111, −112, no permission to the
    /// template): a dead letter and an error for the operator.
    Config,
    /// −100 and the like: try again.
    Transient,
    /// The access token is invalid or expired.
    Token,
}

/// Zalo's out-of-quota code: Zalo's public pages give the text ("Out of quota") but no
/// confirmed number, so the text is matched too.
pub const QUOTA_CODE: i64 = -144;
/// Zalo's invalid-token codes seen in integrations (unconfirmed), matched with the text.
pub const TOKEN_CODES: [i64; 2] = [-124, -216];

pub fn classify(code: i64, message: &str) -> ZnsClass {
    let text = message.to_lowercase();
    match code {
        0 => ZnsClass::Sent,
        _ if TOKEN_CODES.contains(&code)
            || text.contains("access token")
            || text.contains("access_token") =>
        {
            ZnsClass::Token
        }
        _ if code == QUOTA_CODE || text.contains("quota") => ZnsClass::Quota,
        -114 | -118 | -108 => ZnsClass::NotReachable,
        -106..=-101 | -109 | -111 | -112 => ZnsClass::Config,
        _ if text.contains("permission") => ZnsClass::Config,
        -100 => ZnsClass::Transient,
        // An answer we do not know: not this time by ZNS, the family still hears by SMS.
        _ => ZnsClass::NotReachable,
    }
}

/// Reads a reply up to 64 KiB (a server that answers megabytes cannot fill the memory).
pub(super) async fn read_limited(mut reply: reqwest::Response) -> Result<String, String> {
    const LIMIT: usize = 64 * 1024;
    let mut bytes = Vec::new();
    while bytes.len() < LIMIT {
        match reply.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err(format!("reply: {}", super::gateway::without_url(&e))),
        }
    }
    bytes.truncate(LIMIT);
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub struct ZnsChannel {
    cfg: ZnsConfig,
    client: reqwest::Client,
    tokens: Tokens,
}

impl ZnsChannel {
    pub fn new(cfg: ZnsConfig) -> anyhow::Result<ZnsChannel> {
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .pool_max_idle_per_host(cfg.concurrency)
            .user_agent(concat!("vongdoi/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let tokens = Tokens::new(cfg.oauth.clone(), cfg.timeout)?;
        Ok(ZnsChannel {
            cfg,
            client,
            tokens,
        })
    }

    pub fn config(&self) -> &ZnsConfig {
        &self.cfg
    }

    /// Sends one ZNS; Zalo's `msg_id` on success. `SendError::Hold` when it was not attempted.
    pub async fn send(
        &self,
        store: &Store,
        m: &OutboxMessage,
    ) -> Result<Option<String>, SendError> {
        let hold = |e: TokenError| {
            if let TokenError::Refused(why) = &e {
                tracing::error!(error = %why, "ZNS: Zalo từ chối mã làm mới / Zalo refused the refresh token: re-authorise the OA and set VONGDOI_ZNS_REFRESH_TOKEN; ZNS messages are held, then sent by SMS");
            }
            SendError::Hold(format!("ZNS: chưa có access token / no access token: {e}"))
        };
        let token = self.tokens.access(store).await.map_err(hold)?;
        let day = crate::clock::today_in_vietnam();
        let counted = store
            .zns_take_quota(day, self.cfg.daily_quota)
            .await
            .map_err(|e| SendError::Transient(format!("ZNS quota: {e}")))?;
        if !counted {
            return Err(SendError::Hold(format!(
                "ZNS: hết hạn mức trong ngày / VONGDOI_ZNS_DAILY_QUOTA ({}) used today",
                self.cfg.daily_quota
            )));
        }
        // A rejected token is replaced (refreshed, or the newer one another sender stored)
        // and the same request sent again: not a failure of the message. Each rejection is of
        // a different token, so the rounds are few; a token rejected as soon as it is made
        // means something else is wrong, and the message is held.
        let mut token = token;
        let mut sent = Err(SendError::Hold(
            "ZNS: Zalo từ chối access token mới / Zalo keeps rejecting fresh access tokens".into(),
        ));
        for _ in 0..3 {
            match self.post(m, &token).await {
                Err(ZnsFailure::Token) => match self.tokens.after_rejection(store, &token).await {
                    Ok(t) => token = t,
                    Err(e) => {
                        sent = Err(hold(e));
                        break;
                    }
                },
                other => {
                    sent = other.map_err(ZnsFailure::into_send_error);
                    break;
                }
            }
        }
        if let Err(SendError::Hold(_)) = &sent {
            // Not handed to Zalo: the day's count is given back.
            let _ = store.zns_return_quota(day).await;
        }
        sent
    }

    async fn post(&self, m: &OutboxMessage, token: &str) -> Result<Option<String>, ZnsFailure> {
        let data: serde_json::Value = (m.template_data.as_deref())
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| ZnsFailure::Class(ZnsClass::Config, format!("template_data: {e}")))?
            .unwrap_or_else(|| serde_json::json!({}));
        let Some(template_id) = &m.zns_template_id else {
            return Err(ZnsFailure::Class(
                ZnsClass::Config,
                "no ZNS template id".into(),
            ));
        };
        let body = serde_json::json!({
            "phone": m.address.trim_start_matches('+'),
            "template_id": template_id,
            "template_data": data,
            "tracking_id": m.id,
        });
        let reply = self
            .client
            .post(format!("{}/message/template", self.cfg.url))
            .header("access_token", token)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                // No reply in time: Zalo may have it; the retry carries the same tracking_id.
                ZnsFailure::Class(
                    ZnsClass::Transient,
                    format!("Zalo: {}", super::gateway::without_url(&e)),
                )
            })?;
        let status = reply.status();
        let text = read_limited(reply)
            .await
            .map_err(|e| ZnsFailure::Class(ZnsClass::Transient, format!("Zalo {e}")))?;
        if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
            return Err(ZnsFailure::Class(
                ZnsClass::Transient,
                format!("Zalo HTTP {status}"),
            ));
        }
        let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        let Some(code) = json.as_ref().and_then(|j| j.get("error")?.as_i64()) else {
            return Err(ZnsFailure::Class(
                ZnsClass::Transient,
                format!("Zalo HTTP {status}: a reply without an error code"),
            ));
        };
        let message = (json.as_ref())
            .and_then(|j| j.get("message")?.as_str())
            .unwrap_or_default();
        // Zalo's words only, never the whole reply (which may echo the request).
        let words: String = message.chars().take(200).collect();
        match classify(code, message) {
            ZnsClass::Sent => Ok(json
                .as_ref()
                .and_then(|j| j.pointer("/data/msg_id"))
                .and_then(|v| match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })),
            ZnsClass::Token => Err(ZnsFailure::Token),
            class => Err(ZnsFailure::Class(class, format!("ZNS {code}: {words}"))),
        }
    }
}

enum ZnsFailure {
    Token,
    Class(ZnsClass, String),
}

impl ZnsFailure {
    fn into_send_error(self) -> SendError {
        match self {
            ZnsFailure::Token => SendError::Hold("ZNS: access token".into()),
            ZnsFailure::Class(class, e) => match class {
                ZnsClass::NotReachable => SendError::Permanent(e),
                ZnsClass::Quota => SendError::Hold(format!("{e} (Zalo: out of quota)")),
                ZnsClass::Config => SendError::Config(e),
                ZnsClass::Transient | ZnsClass::Sent | ZnsClass::Token => SendError::Transient(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zalo_answers_are_classified() {
        assert_eq!(classify(0, ""), ZnsClass::Sent);
        for c in [-114, -118, -108] {
            assert_eq!(classify(c, "x"), ZnsClass::NotReachable, "{c}");
        }
        for c in [-101, -104, -106, -109, -111, -112] {
            assert_eq!(classify(c, "x"), ZnsClass::Config, "{c}");
        }
        assert_eq!(
            classify(
                -1,
                "OA or App does not have permission to access this template"
            ),
            ZnsClass::Config
        );
        assert_eq!(classify(QUOTA_CODE, ""), ZnsClass::Quota);
        assert_eq!(classify(-1, "Out of quota"), ZnsClass::Quota);
        assert_eq!(classify(-124, ""), ZnsClass::Token);
        assert_eq!(classify(-1, "Access token is invalid"), ZnsClass::Token);
        assert_eq!(classify(-100, "unknown"), ZnsClass::Transient);
    }
}
