use clap::Parser;

#[tokio::main]
async fn main() {
    vongdoi::logging::init();
    let cli = vongdoi::cli::Cli::parse();
    if let Err(e) = vongdoi::cli::run(cli).await {
        // One line on standard error, the chain of causes joined (SPEC.md).
        eprintln!("vongdoi: {e:#}");
        std::process::exit(1);
    }
}
