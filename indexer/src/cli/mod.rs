//! The `soil-indexer` command line: one file per subcommand.

pub mod http;
pub mod rebuild;
pub mod run;
pub mod serve;
pub mod status;

use clap::{Parser, Subcommand};

use crate::api::{ApiConfig, Token};

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
    /// Serve GraphQL, the explorer, /metrics, /health and /ready over a PostgreSQL store that a
    /// `soil-indexer run` elsewhere writes (a read replica; no sync, no migrations).
    Serve(serve::ServeArgs),
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

/// The API's flags, shared by `run` and `serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// Address for GraphQL, the explorer, /metrics, /health and /ready.
    #[arg(long, env = "SOIL_INDEXER_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: std::net::SocketAddr,
    /// MiB of GraphQL answers kept until a write changes what they were read from; 0 turns the
    /// response cache off.
    #[arg(long, env = "SOIL_RESPONSE_CACHE_MIB", default_value_t = 256)]
    pub response_cache_mib: usize,
    /// Symbol of the deployment's payment token (GraphQL `token`; the explorer shows amounts with it).
    #[arg(long, env = "SOIL_TOKEN_SYMBOL", default_value = "SOIL")]
    pub token_symbol: String,
    /// Decimals of the deployment's payment token: one token is 10^decimals base units.
    #[arg(long, env = "SOIL_TOKEN_DECIMALS", default_value_t = 18)]
    pub token_decimals: u8,
}

impl ApiArgs {
    /// The API settings.
    pub fn api_config(&self) -> ApiConfig {
        ApiConfig {
            response_cache_bytes: self.response_cache_mib.saturating_mul(1 << 20),
            token: Token {
                symbol: self.token_symbol.clone(),
                decimals: self.token_decimals,
            },
            ..ApiConfig::default()
        }
    }
}
