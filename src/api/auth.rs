//! Who is calling: `Authorization: Bearer KEY` → the key's name, role and area. Keys are looked
//! up by their SHA-256 hash; a found key is cached for a few seconds (a revocation takes
//! effect within [`KEY_CACHE_TTL`]). Each key has a token bucket: over its rate, 429.

use super::keys::{sha256_hex, KeyInfo};
use super::permissions::Permission;
use super::problem::{ApiResult, Problem};
use super::ApiState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a looked-up key is trusted without asking the database again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Keys seen recently, by hash.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (KeyInfo, Instant)>>,
}

impl KeyCache {
    fn get(&self, hash: &str) -> Option<KeyInfo> {
        let entries = self.entries.lock().expect("key cache");
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < KEY_CACHE_TTL)
            .map(|(k, _)| k.clone())
    }

    fn put(&self, hash: String, key: KeyInfo) {
        let mut entries = self.entries.lock().expect("key cache");
        // Bounded: only valid keys enter, and stale ones are dropped when it grows.
        if entries.len() > 10_000 {
            entries.retain(|_, (_, at)| at.elapsed() < KEY_CACHE_TTL);
        }
        entries.insert(hash, (key, Instant::now()));
    }
}

/// A token bucket per key name: `rate` requests a second, bursts up to `burst`.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// From `VONGDOI_API_RATE` (requests per second per key, default 50) and
    /// `VONGDOI_API_BURST` (default twice the rate).
    pub fn from_env() -> RateLimiter {
        let num = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| *v > 0.0 && v.is_finite())
        };
        let rate = num("VONGDOI_API_RATE").unwrap_or(50.0);
        let burst = num("VONGDOI_API_BURST").unwrap_or(rate * 2.0).max(1.0);
        RateLimiter {
            rate,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token; Err(seconds to wait) when the bucket is empty.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().expect("rate limiter");
        let now = Instant::now();
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

/// The caller of an API request, authenticated and within its rate.
#[derive(Debug, Clone)]
pub struct Caller(pub KeyInfo);

impl Caller {
    /// 403 unless the caller's role may do this ([`Permission`]'s table; admin may do
    /// everything).
    pub fn may(&self, permission: Permission) -> ApiResult<()> {
        if permission.allows(self.0.role) {
            Ok(())
        } else {
            let what = permission.what();
            Err(Problem::forbidden(format!(
                "vai trò '{}' không được {what} / the '{}' role may not {what}",
                self.0.role.as_str(),
                self.0.role.as_str()
            )))
        }
    }

    /// May this caller be shown this person? The one test (see [`crate::registry::Scope`]).
    pub fn may_see(&self, person: &crate::registry::Citizen) -> bool {
        self.0.scope.may_see(person)
    }

    /// 403 unless the commune is in the key's area.
    pub fn require_commune(&self, commune: &str) -> ApiResult<()> {
        if self.0.scope.contains_commune(commune) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "ngoài địa bàn của khóa ({}) / outside the key's area ({})",
                self.0.scope.describe(),
                self.0.scope.describe()
            )))
        }
    }
}

/// Looks a presented key up (cache, then store); None when unknown or revoked.
pub async fn key_of(api: &ApiState, presented: &str) -> ApiResult<Option<KeyInfo>> {
    let hash = sha256_hex(presented);
    if let Some(k) = api.keys.get(&hash) {
        return Ok(Some(k));
    }
    let row = api.app.store.api_key_by_hash(&hash).await?;
    let key = row.as_ref().and_then(KeyInfo::from_row);
    if let Some(k) = &key {
        api.keys.put(hash, k.clone());
    }
    Ok(key)
}

/// Applies the key's rate limit.
pub fn within_rate(api: &ApiState, key: &KeyInfo) -> ApiResult<()> {
    api.limiter.take(&key.name).map_err(|wait| {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("quá nhiều yêu cầu, thử lại sau {wait} giây / too many requests for this key, retry in {wait} s"),
        )
        .retry(wait)
    })
}

/// The browser session cookie of the staff pages (a person's or a key's).
pub const SESSION_COOKIE: &str = "vongdoi_session";
/// The header that unsafe `/api` requests on a session must carry (`GET /api/session`).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The caller behind a session id: a person's account or a key signed in on the pages. None
/// when the session has ended, expired, or its account or key is disabled or revoked.
pub async fn session_of(api: &ApiState, session: &str) -> ApiResult<Option<KeyInfo>> {
    if session.len() != 64 {
        return Ok(None);
    }
    let hash = sha256_hex(session);
    let now = chrono::Utc::now();
    if let Some(user) = api.app.store.session_user(&hash, now).await? {
        return Ok(KeyInfo::from_user(&user));
    }
    let row = api.app.store.session_key(&hash, now).await?;
    Ok(row.as_ref().and_then(KeyInfo::from_row))
}

/// The form and header token of a session: bound to it, unknown to other sites.
pub fn csrf_of(session: &str) -> String {
    sha256_hex(&format!("csrf:{session}"))
}

/// A person who signed in with a one-time password may do nothing else until it is changed.
pub fn refuse_until_password_changed(key: &KeyInfo) -> ApiResult<()> {
    match key.principal {
        super::keys::Principal::Person {
            must_change: true, ..
        } => Err(Problem::forbidden(
            "hãy đổi mật khẩu dùng một lần trước (/staff/password) / change the one-time password first (/staff/password)",
        )),
        _ => Ok(()),
    }
}

impl FromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = Problem;

    /// A key (`Authorization: Bearer`) or a staff session (the cookie; unsafe methods also
    /// need `X-CSRF-Token`): one authorization path for the pages and the API.
    async fn from_request_parts(parts: &mut Parts, api: &Arc<ApiState>) -> ApiResult<Caller> {
        let authorization = parts.headers.get(header::AUTHORIZATION);
        let session = super::pages::cookie(&parts.headers, SESSION_COOKIE);
        let key = match (authorization, session) {
            (None, Some(session)) => {
                let key = session_of(api, session)
                    .await?
                    .ok_or_else(Problem::unauthorized)?;
                if !parts.method.is_safe() {
                    let given = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
                    if given != Some(csrf_of(session).as_str()) {
                        return Err(Problem::forbidden(
                            "thiếu hoặc sai X-CSRF-Token (xem GET /api/session) / missing or wrong X-CSRF-Token (see GET /api/session)",
                        ));
                    }
                }
                refuse_until_password_changed(&key)?;
                key
            }
            _ => {
                let presented = authorization
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        let (scheme, key) = v.trim().split_once(' ')?;
                        scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
                    })
                    .filter(|k| !k.is_empty() && k.len() <= 200)
                    .ok_or_else(Problem::unauthorized)?;
                key_of(api, presented)
                    .await?
                    .ok_or_else(Problem::unauthorized)?
            }
        };
        within_rate(api, &key)?;
        parts.extensions.insert(key.clone());
        Ok(Caller(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refuses_past_the_burst() {
        let l = RateLimiter {
            rate: 1.0,
            burst: 3.0,
            buckets: Mutex::new(HashMap::new()),
        };
        for _ in 0..3 {
            assert!(l.take("k").is_ok());
        }
        assert_eq!(l.take("k"), Err(1));
        assert!(l.take("other").is_ok(), "buckets are per key");
    }
}
