//! `soil-indexer status`: where the indexer stands.

use sqlx::Row;

use crate::cli::DatabaseArgs;
use crate::config::RpcConfig;
use crate::error::{IndexerError, Result};
use crate::store::{Store, version};
use crate::sync::rpc::Rpc;

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// An RPC endpoint, to show how far behind the chain head the indexer is.
    #[arg(long, env = "SOIL_RPC_URL")]
    pub rpc_url: Option<String>,
}

/// Runs `status`.
pub async fn run(args: StatusArgs) -> Result<()> {
    let store = Store::open(&args.database.database_url).await?;
    let Some(checkpoint) = store.checkpoint().await? else {
        println!("empty: nothing indexed yet");
        return Ok(());
    };
    println!("chain id:        {}", checkpoint.chain_id);
    println!(
        "checkpoint:      block {} ({})",
        checkpoint.block_number, checkpoint.block_hash
    );
    println!("finalized:       block {}", checkpoint.finalized_block);
    println!(
        "store version:   {} (replicas' /ready names the one they have seen)",
        version::read(store.pool()).await?
    );
    if let Some(url) = &args.rpc_url {
        let rpc = Rpc::connect(
            url,
            RpcConfig {
                attempts: 3,
                ..RpcConfig::default()
            },
        )
        .await?;
        let head = rpc.head().await?;
        println!(
            "chain head:      block {head} ({} behind)",
            head.saturating_sub(checkpoint.block_number)
        );
    } else {
        println!("head when saved: block {}", checkpoint.head_block);
    }
    let totals = sqlx::query(
        "SELECT event_count, datanet_count, contribution_count, release_count, model_count, receipt_count, fees \
         FROM totals WHERE id = 1",
    )
    .fetch_optional(store.pool())
    .await
    .map_err(IndexerError::db("reading totals"))?;
    if let Some(t) = totals {
        let n = |c: &str| t.try_get::<i64, _>(c).unwrap_or_default();
        println!("events:          {}", n("event_count"));
        println!(
            "datanets {} · contributions {} · releases {} · models {} · receipts {}",
            n("datanet_count"),
            n("contribution_count"),
            n("release_count"),
            n("model_count"),
            n("receipt_count")
        );
        println!(
            "fees settled:    {}",
            t.try_get::<String, _>("fees").unwrap_or_default()
        );
    }
    store.close().await;
    Ok(())
}
