//! Tuning of the RPC client and the sync loop (set from the command line, see `cli/run.rs`).

use std::time::Duration;

use rand::Rng;

/// The RPC client's limits.
#[derive(Debug, Clone, Copy)]
pub struct RpcConfig {
    /// Longest wait for one call.
    pub timeout: Duration,
    /// First retry delay.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_cap: Duration,
    /// Most requests in flight (halved on HTTP 429).
    pub concurrency: usize,
    /// Attempts per call before its failure is reported.
    pub attempts: u32,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(30),
            concurrency: 4,
            attempts: 8,
        }
    }
}

impl RpcConfig {
    /// The delay before retry `attempt` (1-based): exponential from `backoff_base`, capped at
    /// `backoff_cap`, with full jitter over its upper half.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let base = self.backoff_base.as_millis() as u64;
        let cap = self.backoff_cap.as_millis() as u64;
        let full = base.saturating_mul(1u64 << attempt.min(20)).min(cap).max(1);
        Duration::from_millis(rand::rng().random_range(full / 2..=full))
    }
}

/// The sync loop's settings.
#[derive(Debug, Clone, Copy)]
pub struct SyncConfig {
    /// Blocks below `head - finality_depth` are final: fetched in ranges and never journalled. A reorg
    /// deeper than this stops the indexer.
    pub finality_depth: u64,
    /// First `eth_getLogs` range, in blocks.
    pub initial_range: u64,
    /// Largest `eth_getLogs` range.
    pub max_range: u64,
    /// A range returning fewer logs than this grows the next one.
    pub target_logs: usize,
    /// While the store is busy with a batch, the backfill ranges that arrive are applied into the
    /// next one until it holds this many events (each batch upserts every entity it touched once, so
    /// a slow store gets fewer, larger batches).
    pub batch_events: u64,
    /// How often to look for new blocks when not subscribed (or as a fallback when subscribed).
    pub poll_interval: Duration,
    /// How often backfill progress is logged.
    pub progress_interval: Duration,
    /// Stop (successfully) once caught up with the head instead of following it.
    pub exit_when_caught_up: bool,
    /// A backfill starting at least this many blocks behind the final head sets the secondary indexes
    /// aside and rebuilds them once caught up ([`Store::defer_indexes`](crate::store::Store)); 0 never.
    pub defer_indexes_from: u64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            finality_depth: 64,
            initial_range: 500,
            max_range: 50_000,
            target_logs: 5_000,
            batch_events: 50_000,
            poll_interval: Duration::from_millis(1_000),
            progress_interval: Duration::from_secs(5),
            exit_when_caught_up: false,
            defer_indexes_from: 10_000,
        }
    }
}
