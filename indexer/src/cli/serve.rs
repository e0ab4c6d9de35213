//! `soil-indexer serve`: the API alone (GraphQL, GraphiQL, the explorer, `/metrics`, `/health`,
//! `/ready`) over a PostgreSQL store that a `soil-indexer run` elsewhere writes, as one of any number
//! of read replicas.

use std::sync::Arc;

use crate::cli::http::{ops_router, serve, shutdown_signal};
use crate::cli::{ApiArgs, DatabaseArgs};
use crate::error::Result;
use crate::store::Store;
use crate::store::replica::Follower;

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The database (`postgres://…`), which a `soil-indexer run` writes.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// What to serve, and where.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Runs `serve` until Ctrl-C/SIGTERM.
pub async fn run(args: ServeArgs) -> Result<()> {
    let metrics = crate::metrics::install()?;
    let url = &args.database.database_url;
    let store = Store::open_replica(url).await?;
    // Listening before the first request, so every answer is retired by the writes after it.
    let follower = Arc::new(Follower::start(&store, url).await?);
    let following = follower.clone();
    let ready = move || {
        let text = format!("store version {}", following.version());
        if following.listening() {
            Ok(format!("ready: {text}"))
        } else {
            Err(format!("reconnecting: {text}"))
        }
    };
    let app = ops_router(metrics, ready).merge(crate::api::router(&store, args.api.api_config()));
    let server = serve(args.api.listen, app).await?;
    tracing::info!(
        version = follower.version(),
        "serving a store another process writes"
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.abort();
    drop(follower);
    store.close().await;
    Ok(())
}
