//! Logs for operators: counts, durations and masked IDs (docs/domain.md §7). Never names, phone
//! numbers or full personal IDs: types that hold them print masked in `Debug`.

use tracing_subscriber::EnvFilter;

/// Logs to standard error at `info` unless `RUST_LOG`/`VONGDOI_LOG` says otherwise.
pub fn init() {
    let filter = std::env::var("VONGDOI_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "warn,sqlx=error,vongdoi=info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
