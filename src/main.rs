use clap::Parser;

#[tokio::main]
async fn main() {
    // Everything this process creates — the SQLite database and its -wal/-shm, the outbox,
    // exports, reports, error reports — holds personal data: owner only (0600 files, 0700
    // folders), whatever the caller's umask.
    #[cfg(unix)]
    // SAFETY: umask has no preconditions; it only sets the process's file-creation mask.
    unsafe {
        libc::umask(0o077);
    }
    vongdoi::logging::init();
    let cli = vongdoi::cli::Cli::parse();
    if let Err(e) = vongdoi::cli::run(cli).await {
        // One line on standard error, the chain of causes joined (docs/interface.md).
        eprintln!("vongdoi: {e:#}");
        std::process::exit(1);
    }
}
