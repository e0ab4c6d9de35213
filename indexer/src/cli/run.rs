//! `soil-indexer run`: sync and serve.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use soil_bindings::Deployment;

use crate::cli::http::{ops_router, serve, shutdown_signal};
use crate::cli::{ApiArgs, DatabaseArgs};
use crate::config::{RpcConfig, SyncConfig};
use crate::error::Result;
use crate::logs::fetch::FetchLimits;
use crate::logs::{LogConfig, LogFetcher};
use crate::store::Store;
use crate::sync::Syncer;
use crate::sync::rpc::Rpc;
use crate::sync::status::SyncStatus;

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// JSON-RPC endpoint: `http(s)://…`, or `ws(s)://…` to be told of new heads.
    #[arg(long, env = "SOIL_RPC_URL", default_value = "http://127.0.0.1:8545", value_parser = rpc_url)]
    pub rpc_url: String,
    /// The deployment file (`deployments/<chainId>.json`) naming the contracts and their start block.
    #[arg(
        long,
        env = "SOIL_DEPLOYMENT",
        default_value = "deployments/31337.json"
    )]
    pub deployment: PathBuf,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// What to serve, and where.
    #[command(flatten)]
    pub api: ApiArgs,
    /// Blocks below head − depth are final; a deeper reorg stops the indexer.
    #[arg(long, default_value_t = 64)]
    pub finality_depth: u64,
    /// First eth_getLogs block range.
    #[arg(long, default_value_t = 500)]
    pub initial_range: u64,
    /// Largest eth_getLogs block range.
    #[arg(long, default_value_t = 50_000)]
    pub max_range: u64,
    /// Most events a backfill batch gathers from the ranges that arrive while the store is busy.
    #[arg(long, default_value_t = 50_000)]
    pub batch_events: u64,
    /// Most RPC requests in flight (halved on HTTP 429).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Timeout of one RPC call, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub rpc_timeout_ms: u64,
    /// How often to poll for new blocks, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    pub poll_interval_ms: u64,
    /// Timeout of one fetch of a settled voucher's published receipts log, in milliseconds.
    #[arg(long, default_value_t = 20_000)]
    pub log_timeout_ms: u64,
    /// Largest receipts log fetched, in bytes (a larger one is MISSING).
    #[arg(long, default_value_t = 16 << 20)]
    pub log_max_bytes: usize,
    /// Tries to fetch a log (unreachable, 5xx, 404: tried again, waiting 30 s, then twice as long
    /// each time) before it is MISSING.
    #[arg(long, default_value_t = 8)]
    pub log_attempts: u32,
    /// Exit once caught up with the chain head instead of following it.
    #[arg(long)]
    pub exit_when_caught_up: bool,
    /// A backfill at least this many blocks behind sets the secondary indexes aside and rebuilds them
    /// once caught up (queries are slower meanwhile); 0 never.
    #[arg(long, default_value_t = 10_000)]
    pub defer_indexes_from: u64,
    /// Do not serve HTTP (sync only).
    #[arg(long)]
    pub no_serve: bool,
}

/// An RPC endpoint the provider can connect to: an `http`, `https`, `ws` or `wss` URL with a host.
fn rpc_url(text: &str) -> std::result::Result<String, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https" | "ws" | "wss") {
        return Err(format!(
            "the scheme `{}` is not http, https, ws or wss",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL names no host".to_owned());
    }
    Ok(text.to_owned())
}

impl RunArgs {
    /// The RPC settings.
    pub fn rpc_config(&self) -> RpcConfig {
        RpcConfig {
            timeout: Duration::from_millis(self.rpc_timeout_ms),
            concurrency: self.concurrency,
            ..RpcConfig::default()
        }
    }

    /// The log fetcher's settings.
    pub fn log_config(&self) -> LogConfig {
        LogConfig {
            limits: FetchLimits {
                timeout: Duration::from_millis(self.log_timeout_ms),
                max_bytes: self.log_max_bytes,
            },
            max_attempts: self.log_attempts,
            ..LogConfig::default()
        }
    }

    /// The sync settings.
    pub fn sync_config(&self) -> SyncConfig {
        SyncConfig {
            finality_depth: self.finality_depth,
            initial_range: self.initial_range,
            max_range: self.max_range,
            batch_events: self.batch_events,
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            exit_when_caught_up: self.exit_when_caught_up,
            defer_indexes_from: self.defer_indexes_from,
            ..SyncConfig::default()
        }
    }
}

/// Runs `run` until a fatal error, Ctrl-C/SIGTERM, or (with `--exit-when-caught-up`) the head.
pub async fn run(args: RunArgs) -> Result<()> {
    let metrics = crate::metrics::install()?;
    let deployment = Deployment::load(&args.deployment)?;
    let store = Store::open(&args.database.database_url).await?;
    let status = Arc::new(SyncStatus::default());
    // Served from the start: /health answers and /ready says why not while the RPC is waited for.
    let server = if args.no_serve {
        None
    } else {
        let synced = status.clone();
        let ready = move || {
            let text = format!("checkpoint {} head {}", synced.checkpoint(), synced.head());
            if synced.ready() {
                Ok(format!("ready: {text}"))
            } else {
                Err(format!("syncing: {text}"))
            }
        };
        let app =
            ops_router(metrics, ready).merge(crate::api::router(&store, args.api.api_config()));
        Some(serve(args.api.listen, app).await?)
    };
    // Published receipts logs are fetched beside the sync, never on its path.
    let logs = tokio::spawn(LogFetcher::new(store.clone(), args.log_config()).run());
    let outcome = tokio::select! {
        outcome = sync(&args, &store, deployment, status) => outcome,
        () = shutdown_signal() => {
            tracing::info!("shutting down");
            Ok(())
        }
    };
    logs.abort();
    if let Some(server) = server {
        server.abort();
    }
    store.close().await;
    outcome
}

/// Starts the syncer, then runs it.
async fn sync(
    args: &RunArgs,
    store: &Store,
    deployment: Deployment,
    status: Arc<SyncStatus>,
) -> Result<()> {
    let mut syncer = start_syncer(args, store, deployment, status).await?;
    tracing::info!(
        chain_id = deployment.chain_id,
        from_block = syncer.checkpoint().block_number + 1,
        database = store.backend_name(),
        "indexing"
    );
    syncer.run().await
}

/// Connects to the RPC and checks the deployment against the chain. An RPC or database that cannot be
/// reached yet is waited for (each try logged with its error and the delay before the next, capped
/// backoff), so an outage at start-up is ridden out in one process instead of a crash loop under a
/// supervisor; a wrong chain, missing contracts or a bad URL stop at once.
async fn start_syncer(
    args: &RunArgs,
    store: &Store,
    deployment: Deployment,
    status: Arc<SyncStatus>,
) -> Result<Syncer> {
    let config = args.rpc_config();
    let mut failures = 0u32;
    loop {
        let started = async {
            let rpc = Arc::new(Rpc::connect(&args.rpc_url, config).await?);
            Syncer::new(
                rpc,
                store.clone(),
                deployment,
                &args.deployment,
                args.sync_config(),
                status.clone(),
            )
            .await
        }
        .await;
        match started {
            Err(error) if error.is_transient() => {
                failures += 1;
                let delay = config.backoff(failures);
                tracing::warn!(%error, ?delay, "cannot start syncing yet; retrying");
                tokio::time::sleep(delay).await;
            }
            started => return started,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rpc_url;

    #[test]
    fn an_rpc_url_needs_a_scheme_the_provider_speaks_and_a_host() {
        for good in [
            "http://127.0.0.1:8545",
            "https://rpc.example.org/v1/key",
            "ws://localhost:8546",
            "wss://rpc.example.org",
        ] {
            assert_eq!(rpc_url(good).as_deref(), Ok(good));
        }
        let scheme = rpc_url("ftp://127.0.0.1:8545").expect_err("ftp");
        assert!(scheme.contains("`ftp` is not http"), "{scheme}");
        let bare = rpc_url("localhost:8545").expect_err("no scheme");
        assert!(bare.contains("`localhost`"), "{bare}");
        let garbage = rpc_url("not a url").expect_err("garbage");
        assert!(garbage.starts_with("not a URL"), "{garbage}");
        assert!(rpc_url("http://").is_err(), "no host");
    }
}
