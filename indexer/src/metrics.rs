//! Prometheus metrics: one process-wide recorder, rendered at `/metrics`.
//!
//! | metric | kind | meaning |
//! |---|---|---|
//! | `soil_indexer_events_total` | counter | events committed (rate = events/s) |
//! | `soil_indexer_head_block`, `soil_indexer_checkpoint_block`, `soil_indexer_blocks_behind` | gauges | chain head, last block committed, the gap |
//! | `soil_indexer_rpc_latency_seconds{method}` | histogram | RPC call latency |
//! | `soil_indexer_rpc_errors_total{method,kind}` | counter | failed RPC attempts (`too_many_results`, `rate_limited`, `transient`) |
//! | `soil_indexer_reorgs_total`, `soil_indexer_reorg_depth_blocks` | counter, histogram | reorgs handled and their depth |
//! | `soil_indexer_flush_seconds` | histogram | time to commit one batch |
//! | `soil_indexer_block_to_queryable_seconds` | histogram | head learned of (`eth_blockNumber` answer) → the block's rows committed, per block followed |
//! | `soil_indexer_replica_store_version` | gauge | `serve`: the last store version the replica has heard of |
//! | `soil_indexer_replica_listens_lost_total` | counter | `serve`: listening connections lost (each followed by listening again) |

use std::sync::Mutex;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::{IndexerError, Result};

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

const SECONDS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
const DEPTHS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

/// Installs the recorder (once per process) and returns the handle that renders it.
pub fn install() -> Result<PrometheusHandle> {
    let mut installed = HANDLE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let err = |e: metrics_exporter_prometheus::BuildError| IndexerError::Metrics(e.to_string());
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS)
        .map_err(err)?
        .set_buckets_for_metric(
            Matcher::Full("soil_indexer_reorg_depth_blocks".to_owned()),
            DEPTHS,
        )
        .map_err(err)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| {
        IndexerError::Metrics("another metrics recorder is already installed".to_owned())
    })?;
    *installed = Some(handle.clone());
    Ok(handle)
}
