//! Fair use of the expensive requests: lists and reports evaluate a whole commune or province,
//! so one key firing them in parallel could take every core and starve `/healthz` and every
//! other key (issue #10: 200 connections of one key made another key's forecast take 8.8 s).
//!
//! Two limits, both cheap: a key has at most one expensive request in flight (a second one is
//! answered 429 at once, without queueing), and the whole service runs at most
//! `cores − 1` of them at a time (at least one), so a core stays free for the cheap requests.
//! A request that cannot get a slot within [`WAIT`] is answered 503 with a Retry-After.

use super::problem::{ApiResult, Problem};
use axum::http::StatusCode;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long an expensive request waits for a free slot before it is turned away.
/// Waiters are served in arrival order (the semaphore is fair), so a key that just finished
/// queues behind the others; 30 s covers a province's list and stays within the API's 60 s.
pub const WAIT: Duration = Duration::from_secs(30);

pub struct HeavyWork {
    slots: Semaphore,
    busy: Mutex<HashSet<String>>,
    wait: Duration,
}

/// Held while an expensive request runs; gives the key's and the service's slot back on drop.
pub struct HeavyPermit<'a> {
    _slot: SemaphorePermit<'a>,
    key: KeyBusy<'a>,
}

struct KeyBusy<'a> {
    work: &'a HeavyWork,
    key: String,
}

impl Drop for KeyBusy<'_> {
    fn drop(&mut self) {
        self.work.busy.lock().expect("heavy work").remove(&self.key);
    }
}

impl HeavyWork {
    /// `VONGDOI_API_HEAVY` slots (default: one less than the cores, at least one).
    pub fn from_env() -> HeavyWork {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let slots = std::env::var("VONGDOI_API_HEAVY")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(cores.saturating_sub(1).max(1));
        HeavyWork::new(slots, WAIT)
    }

    pub fn new(slots: usize, wait: Duration) -> HeavyWork {
        HeavyWork {
            slots: Semaphore::new(slots),
            busy: Mutex::new(HashSet::new()),
            wait,
        }
    }

    /// A slot for one expensive request of `key`.
    pub async fn begin(&self, key: &str) -> ApiResult<HeavyPermit<'_>> {
        if !self
            .busy
            .lock()
            .expect("heavy work")
            .insert(key.to_string())
        {
            return Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "khóa này đang có một danh sách hoặc báo cáo chưa xong; chờ nó xong rồi thử lại / this key already has a list or report running: wait for it, then retry",
            )
            .retry(1));
        }
        let key = KeyBusy {
            work: self,
            key: key.to_string(),
        };
        match tokio::time::timeout(self.wait, self.slots.acquire()).await {
            Ok(Ok(slot)) => Ok(HeavyPermit { _slot: slot, key }),
            _ => Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "máy chủ đang bận với các báo cáo khác; thử lại sau ít giây / the server is busy with other reports: retry in a few seconds",
            )
            .retry(5)),
        }
    }
}

impl HeavyPermit<'_> {
    pub fn key(&self) -> &str {
        &self.key.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_per_key_and_a_bounded_total() {
        let w = HeavyWork::new(1, Duration::from_millis(50));
        let a = w.begin("a").await.unwrap();
        assert_eq!(a.key(), "a");
        let again = w
            .begin("a")
            .await
            .err()
            .expect("a second one of the same key");
        assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
        // The one slot is taken: another key is turned away after the wait, not queued for ever.
        let busy = w.begin("b").await.err().expect("no free slot");
        assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
        drop(a);
        let b = w.begin("b").await.expect("the slot is free again");
        drop(b);
        assert!(w.begin("a").await.is_ok(), "the key may run again");
    }
}
