//! `soil-indexer`: see `soil-indexer --help`.

use clap::Parser;
use soil_indexer::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's allocator: a backfill allocates millions of small values (decoded
/// events, row values) on the sync thread and frees them on the SQLite writer's, where glibc spent
/// about a third of the decode + write time (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(&cli.log)
        .map_err(|e| anyhow::anyhow!("invalid --log filter `{}`: {e}", cli.log))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Run(args) => soil_indexer::cli::run::run(args).await?,
        Command::Rebuild(args) => soil_indexer::cli::rebuild::run(args).await?,
        Command::Status(args) => soil_indexer::cli::status::run(args).await?,
        Command::Serve(args) => soil_indexer::cli::serve::run(args).await?,
    }
    Ok(())
}
