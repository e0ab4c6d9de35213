//! The `soil-indexer` command line: one file per subcommand.

pub mod rebuild;
pub mod run;
pub mod status;

use clap::{Parser, Subcommand};

/// Follows Soil's contracts and serves the attribution graph over GraphQL.
#[derive(Debug, Parser)]
#[command(name = "soil-indexer", version, about)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `soil_indexer=debug`.
    #[arg(long, global = true, env = "SOIL_INDEXER_LOG", default_value = "info")]
    pub log: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sync from the chain and serve GraphQL, the explorer, /metrics, /health and /ready.
    Run(run::RunArgs),
    /// Re-derive every projection and aggregate from the stored raw events (no RPC needed).
    Rebuild(rebuild::RebuildArgs),
    /// Print the checkpoint and totals (and how far behind the chain head, given --rpc-url).
    Status(status::StatusArgs),
}

/// The `--database-url` flag, shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// `sqlite://path/to/soil.db` (created if missing) or `postgres://user@host:port/db`.
    #[arg(
        long,
        env = "SOIL_INDEXER_DATABASE_URL",
        default_value = "sqlite://soil-indexer.db"
    )]
    pub database_url: String,
}
