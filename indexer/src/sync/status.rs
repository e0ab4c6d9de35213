//! What the sync loop shares with the HTTP endpoints: the head, the checkpoint and readiness.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Live sync progress (cheap to read from any task).
#[derive(Debug, Default)]
pub struct SyncStatus {
    head: AtomicU64,
    checkpoint: AtomicU64,
    ready: AtomicBool,
}

impl SyncStatus {
    /// Records the chain head last seen.
    pub fn set_head(&self, head: u64) {
        self.head.store(head, Ordering::Relaxed);
        self.publish();
    }

    /// Records the last block committed.
    pub fn set_checkpoint(&self, block: u64) {
        self.checkpoint.store(block, Ordering::Relaxed);
        self.publish();
    }

    /// Marks whether the indexer has caught up with the head.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// The chain head last seen.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Relaxed)
    }

    /// The last block committed.
    pub fn checkpoint(&self) -> u64 {
        self.checkpoint.load(Ordering::Relaxed)
    }

    /// Whether the indexer has caught up with the head.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    fn publish(&self) {
        let (head, checkpoint) = (self.head(), self.checkpoint());
        metrics::gauge!("soil_indexer_head_block").set(head as f64);
        metrics::gauge!("soil_indexer_checkpoint_block").set(checkpoint as f64);
        metrics::gauge!("soil_indexer_blocks_behind").set(head.saturating_sub(checkpoint) as f64);
    }
}
