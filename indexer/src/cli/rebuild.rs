//! `soil-indexer rebuild`: re-derive the projections from `raw_events` without the RPC.

use crate::cli::DatabaseArgs;
use crate::error::Result;
use crate::projection::rebuild::rebuild;
use crate::store::Store;

/// Arguments of `rebuild`.
#[derive(Debug, clap::Args)]
pub struct RebuildArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs `rebuild`.
pub async fn run(args: RebuildArgs) -> Result<()> {
    let store = Store::open(&args.database.database_url).await?;
    let rebuilt = rebuild(&store).await?;
    println!(
        "rebuilt projections from {} raw events up to block {}",
        rebuilt.events, rebuilt.block_number
    );
    store.close().await;
    Ok(())
}
