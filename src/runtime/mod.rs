//! What a running process needs whatever it does: a shutdown signal that every loop and send
//! watches, the Prometheus counters, and the name it gives itself in leases.

pub mod metrics;
pub mod shutdown;

/// The lease owner name of this process: host and process id.
pub fn owner_name() -> String {
    format!(
        "{}-{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "vongdoi".into()),
        std::process::id()
    )
}
