//! Reorg handling over the persisted window of recent block hashes: find the newest stored block the
//! chain still agrees with, and revert the store to it. A reorg reaching below the finalized block
//! (deeper than `--finality-depth`) is fatal.

use alloy::primitives::B256;

use crate::error::{IndexerError, Result};
use crate::store::{Checkpoint, Store};
use crate::sync::rpc::Rpc;

/// The block a reorg is undone to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ancestor {
    /// Its number.
    pub number: u64,
    /// Its hash (unchanged on the chain).
    pub hash: B256,
}

/// The newest block of the stored window (at most `head`) whose hash the chain still has.
pub async fn find_ancestor(
    store: &Store,
    rpc: &Rpc,
    checkpoint: Checkpoint,
    head: u64,
    finality_depth: u64,
) -> Result<Ancestor> {
    let mut window = store
        .window(checkpoint.finalized_block, checkpoint.block_number)
        .await?;
    if window.first().map(|(n, _)| *n) != Some(checkpoint.block_number) {
        window.insert(0, (checkpoint.block_number, checkpoint.block_hash));
    }
    for (number, stored) in window {
        if number > head {
            continue;
        }
        if rpc.header(number).await?.hash == stored {
            return Ok(Ancestor {
                number,
                hash: stored,
            });
        }
    }
    Err(IndexerError::DeepReorg {
        block_number: checkpoint.block_number,
        stored_hash: checkpoint.block_hash,
        finality_depth,
    })
}

/// Reverts the store to the common ancestor with the chain; returns the new checkpoint.
pub async fn handle(
    store: &Store,
    rpc: &Rpc,
    checkpoint: Checkpoint,
    head: u64,
    finality_depth: u64,
) -> Result<Checkpoint> {
    let ancestor = find_ancestor(store, rpc, checkpoint, head, finality_depth).await?;
    let depth = checkpoint.block_number - ancestor.number;
    let undone = store
        .revert_to(checkpoint, ancestor.number, ancestor.hash)
        .await?;
    metrics::counter!("soil_indexer_reorgs_total").increment(1);
    metrics::histogram!("soil_indexer_reorg_depth_blocks").record(depth as f64);
    tracing::warn!(
        from = checkpoint.block_number,
        to = ancestor.number,
        depth,
        undone,
        "chain reorganised: orphaned blocks reverted"
    );
    Ok(Checkpoint {
        block_number: ancestor.number,
        block_hash: ancestor.hash,
        ..checkpoint
    })
}
