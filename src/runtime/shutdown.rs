//! One stop signal for every task of `vongdoi serve` (after tokio-rs/mini-redis's shutdown):
//! SIGTERM or Ctrl-C sets it; the scan stops after its current page, delivery after its
//! in-flight sends, and each gives back the leases it holds so another instance can go on.

use tokio::sync::watch;

#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// The sending side, held by whoever decides to stop.
pub struct Trigger(watch::Sender<bool>);

impl Shutdown {
    pub fn new() -> (Trigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (Trigger(tx), Shutdown { rx })
    }

    /// A signal that never fires: one-shot commands (`vongdoi run`) run to the end.
    pub fn never() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        // The receiver keeps reporting `false` once the sender is gone.
        drop(tx);
        Shutdown { rx }
    }

    pub fn is_set(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once the signal is set (never, for `never()`).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Trigger {
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

/// Resolves on SIGTERM (what systemd and container runtimes send) or Ctrl-C.
pub async fn termination() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_once_for_every_clone() {
        let (trigger, stop) = Shutdown::new();
        let other = stop.clone();
        assert!(!stop.is_set());
        trigger.fire();
        other.wait().await;
        assert!(stop.is_set() && other.is_set());
        assert!(!Shutdown::never().is_set());
    }
}
