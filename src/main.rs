use clap::Parser;

fn main() {
    // At most two malloc arenas: glibc otherwise gives each thread that allocates (the tokio
    // workers, one per SQLite connection) an arena of its own, and at 1 M citizens those kept
    // ~55 MB of freed pages between them (issue #14 point 6); the allocations here are short
    // and the threads few, so contention costs nothing measurable. Set before any thread exists.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before other threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the async runtime")
        .block_on(run());
}

async fn run() {
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
