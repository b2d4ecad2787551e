//! The Zalo OA access token (docs/interface.md "Zalo ZNS"): kept in the database (one row,
//! `store::zns`), refreshed before it expires and when Zalo rejects it, at
//! `POST {VONGDOI_ZNS_OAUTH_URL}` with the app's secret key and the refresh token. Zalo hands
//! back a new refresh token with each access token and the old one is spent, so the rotation
//! is the dangerous moment: one instance at a time takes a lease on the old refresh token, and
//! the new pair is stored (compare-and-swap on the old one) before the new access token is
//! used. An instance that finds the lease taken waits and reads what the other stored.
//!
//! No token is ever written to a log line or an error: errors name what failed, and reqwest's
//! errors lose their URL (`without_url`).

use crate::store::Store;
use chrono::{DateTime, Duration, Utc};
use std::sync::Mutex;

/// Refresh when less than this is left (Zalo's access tokens last about 25 hours).
const MARGIN: Duration = Duration::hours(1);
/// How long an instance may take to rotate before another may try.
const LEASE: Duration = Duration::seconds(30);

#[derive(Clone)]
pub struct OAuthConfig {
    pub url: String,
    pub app_id: String,
    pub secret_key: String,
    /// The first refresh token (`VONGDOI_ZNS_REFRESH_TOKEN`), seeded into the database.
    pub refresh_token: String,
}

/// Why no token could be had.
#[derive(Debug)]
pub enum TokenError {
    /// Zalo's OAuth server could not be reached, or another instance is still rotating: try
    /// again in a while.
    Unavailable(String),
    /// Zalo refused the refresh token (spent, revoked, wrong app or secret): the operator must
    /// re-authorise the OA and set a new `VONGDOI_ZNS_REFRESH_TOKEN`.
    Refused(String),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Unavailable(e) | TokenError::Refused(e) => f.write_str(e),
        }
    }
}

pub struct Tokens {
    cfg: OAuthConfig,
    client: reqwest::Client,
    /// This process's name on the rotation lease.
    owner: String,
    cached: Mutex<Option<(String, DateTime<Utc>)>>,
    /// One refresh at a time in this process (the lease is for other processes); true once
    /// the database was seeded.
    seeded: tokio::sync::Mutex<bool>,
}

impl Tokens {
    pub fn new(cfg: OAuthConfig, timeout: std::time::Duration) -> anyhow::Result<Tokens> {
        Ok(Tokens {
            cfg,
            client: reqwest::Client::builder()
                .timeout(timeout)
                .user_agent(concat!("vongdoi/", env!("CARGO_PKG_VERSION")))
                .build()?,
            owner: format!("zns-{}", &crate::secret::random_hex()?[..16]),
            cached: Mutex::new(None),
            seeded: tokio::sync::Mutex::new(false),
        })
    }

    fn fresh(
        token: &Option<String>,
        expires: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let token = token.as_ref()?;
        (expires? - now > MARGIN).then(|| token.clone())
    }

    /// A usable access token: this process's copy, else the database's, else a new one.
    pub async fn access(&self, store: &Store) -> Result<String, TokenError> {
        let cached = self.cached.lock().expect("token lock").clone();
        if let Some((token, expires)) = cached {
            if let Some(t) = Self::fresh(&Some(token), Some(expires), Utc::now()) {
                return Ok(t);
            }
        }
        self.renew(store, None).await
    }

    /// Zalo rejected `used`: a newer token if another instance stored one, else a refresh.
    pub async fn after_rejection(&self, store: &Store, used: &str) -> Result<String, TokenError> {
        *self.cached.lock().expect("token lock") = None;
        self.renew(store, Some(used)).await
    }

    async fn renew(&self, store: &Store, rejected: Option<&str>) -> Result<String, TokenError> {
        let mut seeded = self.seeded.lock().await;
        let db = |e: crate::store::StoreError| TokenError::Unavailable(format!("database: {e}"));
        if !*seeded {
            use sha2::{Digest, Sha256};
            let hash: String = Sha256::digest(self.cfg.refresh_token.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            store
                .zns_seed(&self.cfg.refresh_token, &hash, Utc::now())
                .await
                .map_err(db)?;
            *seeded = true;
        }
        // Another instance may hold the lease: wait for what it stores (up to the lease).
        for _ in 0..(LEASE.num_milliseconds() / 250 + 4) {
            let now = Utc::now();
            let Some(row) = store.zns_tokens().await.map_err(db)? else {
                return Err(TokenError::Refused(
                    "no refresh token stored (VONGDOI_ZNS_REFRESH_TOKEN)".into(),
                ));
            };
            let usable = Self::fresh(&row.access_token, row.expires_at, now)
                .filter(|t| Some(t.as_str()) != rejected);
            if let (Some(token), Some(expires)) = (usable, row.expires_at) {
                *self.cached.lock().expect("token lock") = Some((token.clone(), expires));
                return Ok(token);
            }
            if !store
                .zns_begin_refresh(&row.refresh_token, &self.owner, now + LEASE, now)
                .await
                .map_err(db)?
            {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                continue;
            }
            let rotated = match self.call(&row.refresh_token).await {
                Ok(r) => r,
                Err(e) => {
                    let _ = store.zns_end_refresh(&self.owner).await;
                    return Err(e);
                }
            };
            let (access, refresh, expires_in) = rotated;
            let expires = now + Duration::seconds(expires_in);
            // Stored before use: if this instance dies now, the next finds the new pair.
            if !store
                .zns_store_tokens(
                    &row.refresh_token,
                    &self.owner,
                    &access,
                    &refresh,
                    expires,
                    now,
                )
                .await
                .map_err(db)?
            {
                tracing::error!(
                    "ZNS: mã làm mới đã đổi mà không lưu được / the rotated Zalo refresh token could not be \
                     stored (the lease was lost); re-authorise the OA if ZNS sends keep failing"
                );
                return Err(TokenError::Unavailable("rotated token not stored".into()));
            }
            tracing::info!(expires_in, "ZNS access token refreshed");
            *self.cached.lock().expect("token lock") = Some((access.clone(), expires));
            return Ok(access);
        }
        Err(TokenError::Unavailable(
            "another instance is refreshing the Zalo token".into(),
        ))
    }

    /// One refresh at Zalo: (access token, refresh token, seconds to expiry).
    async fn call(&self, refresh: &str) -> Result<(String, String, i64), TokenError> {
        let reply = self
            .client
            .post(&self.cfg.url)
            .header("secret_key", &self.cfg.secret_key)
            .form(&[
                ("app_id", self.cfg.app_id.as_str()),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
            ])
            .send()
            .await
            .map_err(|e| {
                TokenError::Unavailable(format!("Zalo OAuth: {}", super::gateway::without_url(&e)))
            })?;
        let status = reply.status();
        let text = super::zns::read_limited(reply)
            .await
            .map_err(TokenError::Unavailable)?;
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(TokenError::Unavailable(format!("Zalo OAuth HTTP {status}")));
        }
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let field = |k: &str| match json.get(k) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        match (field("access_token"), field("refresh_token")) {
            (Some(access), Some(refresh)) => {
                let expires_in = field("expires_in")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(90_000);
                Ok((access, refresh, expires_in))
            }
            // Only the error's code and name: never the reply as a whole.
            _ => Err(TokenError::Refused(format!(
                "Zalo OAuth HTTP {status} refused the refresh token: error {} {}",
                field("error").unwrap_or_default(),
                crate::store::outbox::outside_text(
                    &field("error_name")
                        .or_else(|| field("message"))
                        .unwrap_or_default()
                )
                .chars()
                .take(100)
                .collect::<String>()
            ))),
        }
    }
}
