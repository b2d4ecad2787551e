//! What a running process needs whatever it does: a shutdown signal that every loop and send
//! watches, the Prometheus counters, and the name it gives itself in leases.

pub mod metrics;
pub mod shutdown;

pub mod liveness;

/// The lease owner name of this process: host, process id, a random part, and the process
/// table it lives in (see [`liveness`]): `HOST-PID-RANDOM@TABLE`.
/// Made once per process, with a random part: two containers may both be PID 1 under the same
/// (or no) HOSTNAME, and one's shutdown must never give back the other's leases.
pub fn owner_name() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let random = crate::secret::random_hex().unwrap_or_default();
        let name = format!(
            "{}-{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "vongdoi".into()),
            std::process::id(),
            &random[..random.len().min(8)]
        );
        match liveness::process_table() {
            Some(table) => format!("{name}@{table}"),
            None => name,
        }
    })
    .clone()
}
