//! Personal staff accounts (issue #12): checking a password, slowing down and locking after
//! wrong ones, and the sessions a person signs in to. Keys stay for machines; an account gives
//! the same [`KeyInfo`] (a role and an area), so the pages and the API authorize a person and
//! a key by one path, and the audit trail names the person.
//!
//! Wrong passwords are counted twice: per account in the database (five in a row lock it for
//! [`LOCK_FOR`], across restarts and instances) and per address in memory (so one address
//! cannot try many accounts). Every wrong answer also waits a little longer than the last.

use super::keys::{sha256_hex, KeyInfo, Principal, Role, Scope};
use super::problem::{ApiResult, Problem};
use super::ApiState;
use crate::secret::{hash_password, random_hex, verify_password};
use crate::store::accounts::UserRow;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Wrong passwords in a row that lock an account.
pub const LOCK_AFTER: i32 = 5;
/// How long a locked account stays locked.
pub const LOCK_FOR: Duration = Duration::minutes(15);
/// Wrong passwords from one address, within [`ADDRESS_WINDOW`], before it must wait.
pub const ADDRESS_LIMIT: u32 = 20;
const ADDRESS_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// A session without "keep me signed in": a working day with some margin.
pub const SESSION_HOURS: i64 = 12;
/// "Keep me signed in on this phone".
pub const REMEMBER_DAYS: i64 = 30;
/// Shortest password a person may choose.
pub const MIN_PASSWORD: usize = 10;

impl KeyInfo {
    /// The caller an account is: None when disabled or its stored role is unknown.
    pub fn from_user(row: &UserRow) -> Option<KeyInfo> {
        if row.disabled_at.is_some() {
            return None;
        }
        Some(KeyInfo {
            name: row.username.clone(),
            role: Role::parse(&row.role)?,
            scope: Scope {
                provinces: Scope::split(&row.provinces),
                communes: Scope::split(&row.communes),
            },
            principal: Principal::Person {
                full_name: row.full_name.clone(),
                must_change: row.must_change,
            },
        })
    }
}

/// Wrong passwords per client address (in memory: an address's count may restart with the
/// service; the account's own count does not).
#[derive(Default)]
pub struct AddressThrottle {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl AddressThrottle {
    fn blocked(&self, addr: Option<IpAddr>) -> bool {
        let Some(addr) = addr else { return false };
        let map = self.failures.lock().expect("throttle");
        map.get(&addr)
            .is_some_and(|(n, at)| *n >= ADDRESS_LIMIT && at.elapsed() < ADDRESS_WINDOW)
    }

    /// Counts a failure; returns how many this address has had in the window.
    fn fail(&self, addr: Option<IpAddr>) -> u32 {
        let Some(addr) = addr else { return 1 };
        let mut map = self.failures.lock().expect("throttle");
        if map.len() > 100_000 {
            map.retain(|_, (_, at)| at.elapsed() < ADDRESS_WINDOW);
        }
        let entry = map.entry(addr).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= ADDRESS_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        entry.1 = Instant::now();
        entry.0
    }

    fn succeed(&self, addr: Option<IpAddr>) {
        if let Some(addr) = addr {
            self.failures.lock().expect("throttle").remove(&addr);
        }
    }
}

/// How a sign-in ended.
pub enum SignIn {
    Ok(UserRow),
    /// Wrong username or password (the same answer for both).
    Wrong,
    /// Too many wrong passwords: for the account, or from this address.
    Locked {
        until: DateTime<Utc>,
    },
}

/// Checks a username and password. Unknown usernames cost the same Argon2 work as known
/// ones, so timing does not tell which accounts exist.
pub async fn sign_in(
    api: &ApiState,
    username: &str,
    password: &str,
    addr: Option<IpAddr>,
) -> ApiResult<SignIn> {
    let now = Utc::now();
    if api.throttle.blocked(addr) {
        return Ok(SignIn::Locked {
            until: now + LOCK_FOR,
        });
    }
    let user = api.app.store.user(username.trim()).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let pw = password.to_string();
    let good = tokio::task::spawn_blocking(move || match stored {
        Some(h) => verify_password(&pw, &h),
        None => {
            let _ = verify_password(&pw, dummy_hash());
            false
        }
    })
    .await
    .map_err(|e| Problem::internal("password check", e))?;
    let live = user
        .as_ref()
        .filter(|u| u.disabled_at.is_none() && Role::parse(&u.role).is_some());
    if let Some(u) = live {
        if let Some(until) = u.locked_until.filter(|t| *t > now) {
            return Ok(SignIn::Locked { until });
        }
        if good {
            api.app.store.clear_failed_sign_ins(&u.username).await?;
            api.throttle.succeed(addr);
            return Ok(SignIn::Ok(u.clone()));
        }
        let n = api
            .app
            .store
            .record_failed_sign_in(&u.username, LOCK_AFTER, now + LOCK_FOR)
            .await?;
        tracing::info!(failures = n, "sign-in refused: wrong password");
        let from_address = api.throttle.fail(addr);
        slow_down(n.max(from_address as i32)).await;
        if n >= LOCK_AFTER {
            return Ok(SignIn::Locked {
                until: now + LOCK_FOR,
            });
        }
        return Ok(SignIn::Wrong);
    }
    tracing::info!("sign-in refused: no such enabled account");
    slow_down(api.throttle.fail(addr) as i32).await;
    Ok(SignIn::Wrong)
}

/// Each wrong answer in a row waits longer: 0.25 s, 0.5 s, … up to 2 s.
async fn slow_down(failures: i32) {
    let ms = (failures.clamp(1, 8) as u64) * 250;
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

/// A fixed hash to check unknown usernames against (same parameters as real ones).
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("vongdoi: no such account").unwrap_or_default())
}

/// Starts a session for a person; returns the session id for the cookie and its lifetime.
pub async fn start_session(
    api: &ApiState,
    user: &UserRow,
    remember: bool,
) -> ApiResult<(String, Duration)> {
    let session = random_hex().map_err(|e| Problem::internal("session", e))?;
    let lifetime = if remember {
        Duration::days(REMEMBER_DAYS)
    } else {
        Duration::hours(SESSION_HOURS)
    };
    let now = Utc::now();
    api.app
        .store
        .insert_user_session(&sha256_hex(&session), &user.username, now, now + lifetime)
        .await?;
    tracing::info!(user = %user.username, remember, "staff signed in");
    Ok((session, lifetime))
}

/// Is this password acceptable as a person's own? None when it is; else what is wrong.
pub fn weak_password(password: &str, username: &str) -> Option<&'static str> {
    if password.chars().count() < MIN_PASSWORD {
        Some("Mật khẩu cần ít nhất 10 ký tự. / A password needs at least 10 characters.")
    } else if password.eq_ignore_ascii_case(username) {
        Some("Mật khẩu không được trùng tên đăng nhập. / The password may not be the username.")
    } else {
        None
    }
}

/// Hashes a password off the async threads (Argon2 takes tens of milliseconds on purpose).
pub async fn hash(password: &str) -> ApiResult<String> {
    let pw = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|e| Problem::internal("password hash", e))?
        .map_err(|e| Problem::internal("password hash", e))
}

/// An account to create: what `vongdoi users create` and the admin page ask for.
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub full_name: &'a str,
    pub role: Role,
    pub provinces: &'a [String],
    pub communes: &'a [String],
    pub national: bool,
    /// The person's own password; None issues a one-time password to change at first sign-in.
    pub password: Option<String>,
}

/// Creates an account; returns it and the one-time password to hand over (if one was made).
/// Usernames and key names are one namespace, so the audit's "who" names one holder.
pub async fn create_user(
    store: &crate::store::Store,
    new: NewAccount<'_>,
) -> anyhow::Result<(UserRow, Option<String>)> {
    let g = super::keys::grant(
        new.username,
        new.role,
        new.provinces,
        new.communes,
        new.national,
    )?;
    let full_name = new.full_name.trim().to_string();
    crate::registry::text::check("full_name", &full_name, crate::registry::text::NAME)
        .map_err(|e| anyhow::anyhow!("họ tên / full name: {}", e.reason))?;
    if store.api_keys().await?.iter().any(|k| k.name == g.name) {
        anyhow::bail!(
            "'{}' đã là tên một khóa API; hãy chọn tên khác / '{}' is already an API key's name: choose another",
            g.name,
            g.name
        );
    }
    let (password, one_time) = match new.password {
        Some(p) => {
            if let Some(problem) = weak_password(&p, &g.name) {
                anyhow::bail!(problem);
            }
            (p, None)
        }
        None => {
            let p = crate::secret::one_time_password()?;
            (p.clone(), Some(p))
        }
    };
    let row = UserRow {
        username: g.name,
        full_name,
        role: g.role.as_str().to_string(),
        provinces: Scope::join(&g.scope.provinces),
        communes: Scope::join(&g.scope.communes),
        password_hash: hash(&password)
            .await
            .map_err(|p| anyhow::anyhow!(p.detail))?,
        must_change: one_time.is_some(),
        failed_count: 0,
        locked_until: None,
        created_at: Utc::now(),
        disabled_at: None,
    };
    store.insert_user(&row).await?;
    Ok((row, one_time))
}

/// Issues a new one-time password (the old one stops working, every session ends).
pub async fn reset_password(
    store: &crate::store::Store,
    username: &str,
) -> anyhow::Result<Option<String>> {
    let p = crate::secret::one_time_password()?;
    let h = hash(&p).await.map_err(|p| anyhow::anyhow!(p.detail))?;
    Ok(store.set_password(username, &h, true).await?.then_some(p))
}

/// `GET /api/session`: who is signed in, and the token unsafe `/api` calls on this session
/// send as `X-CSRF-Token`.
pub async fn get_session(
    caller: super::auth::Caller,
    headers: axum::http::HeaderMap,
) -> ApiResult<axum::Json<serde_json::Value>> {
    caller.may(super::permissions::Permission::SignedIn)?;
    let key = &caller.0;
    let name = match &key.principal {
        Principal::Person { full_name, .. } => full_name.as_str(),
        Principal::Key => "",
    };
    let csrf = super::pages::cookie(&headers, super::auth::SESSION_COOKIE)
        .filter(|_| !headers.contains_key(axum::http::header::AUTHORIZATION))
        .map(super::auth::csrf_of);
    Ok(axum::Json(serde_json::json!({
        "username": key.name,
        "name": name,
        "role": key.role.as_str(),
        "areas": {
            "provinces": key.scope.provinces.iter().collect::<Vec<_>>(),
            "communes": key.scope.communes.iter().collect::<Vec<_>>(),
        },
        "csrf_token": csrf,
    })))
}
