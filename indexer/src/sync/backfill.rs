//! Backfill of final blocks: `eth_getLogs` over adaptive block ranges (split on too-many-results,
//! grown when cheap, shrunk to the density seen), several ranges in flight, applied strictly in order;
//! the syncer commits them in batches of one range or more (`Syncer::backfill_ranges`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use alloy::rpc::types::{Header, Log};
use tokio::task::JoinHandle;

use crate::error::{IndexerError, Result};
use crate::projection::RawEvent;
use crate::sync::decode::Decoder;
use crate::sync::rpc::{Failure, Rpc};

/// The `eth_getLogs` range size, shared by the fetch tasks.
#[derive(Debug)]
pub struct RangeSizer {
    size: AtomicU64,
    max: u64,
    target_logs: usize,
}

impl RangeSizer {
    /// Starts at `initial` blocks, never above `max`; a range with fewer than `target_logs` / 2 logs
    /// doubles the size, one with more than twice `target_logs` scales it to what would have held
    /// `target_logs`, and a refused one halves it.
    pub fn new(initial: u64, max: u64, target_logs: usize) -> Self {
        Self {
            size: AtomicU64::new(initial.clamp(1, max.max(1))),
            max: max.max(1),
            target_logs,
        }
    }

    /// The size for the next range.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Relaxed)
    }

    fn succeeded(&self, span: u64, logs: usize) {
        if logs < self.target_logs / 2 && span >= self.size() {
            let max = self.max;
            let _ = self
                .size
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                    Some((s * 2).min(max))
                });
        } else if logs > self.target_logs * 2 {
            // The blocks that would have held `target_logs`, at this range's density.
            let fitting = span.saturating_mul(self.target_logs as u64) / logs as u64;
            let _ = self
                .size
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                    Some(fitting.min(s).max(1))
                });
        }
    }

    fn refused(&self, span: u64) {
        let _ = self
            .size
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some((span / 2).min(s).max(1))
            });
    }
}

/// The decoded events of a block range and the header of its last block.
#[derive(Debug)]
pub struct Fetched {
    /// First block.
    pub from: u64,
    /// Last block.
    pub to: u64,
    /// Events in chain order.
    pub events: Vec<RawEvent>,
    /// Header of `to` (its hash becomes the checkpoint).
    pub header: Header,
}

/// Fetches the logs of `[from, to]`, splitting the range while the node refuses it as too large.
pub async fn fetch_logs(
    rpc: &Rpc,
    decoder: &Decoder,
    sizer: &RangeSizer,
    from: u64,
    to: u64,
) -> Result<Vec<Log>> {
    let addresses = decoder.addresses();
    let mut pending = VecDeque::from([(from, to)]);
    let mut logs = Vec::new();
    let mut failures = 0u32;
    while let Some((a, b)) = pending.pop_front() {
        match rpc.logs_in_range(&addresses, a, b).await {
            Ok(found) => {
                failures = 0;
                sizer.succeeded(b - a + 1, found.len());
                logs.extend(found);
            }
            Err(Failure::TooManyResults(message)) if a < b => {
                tracing::debug!(from = a, to = b, message, "log range refused; splitting");
                sizer.refused(b - a + 1);
                let mid = a + (b - a) / 2;
                pending.push_front((mid + 1, b));
                pending.push_front((a, mid));
            }
            Err(failure) => {
                failures += 1;
                let message = format!("{failure:?}");
                if failures >= 8 {
                    return Err(IndexerError::Rpc {
                        method: "eth_getLogs",
                        message,
                    });
                }
                let delay = rpc.backoff(failures);
                tracing::warn!(
                    from = a,
                    to = b,
                    ?delay,
                    message,
                    "eth_getLogs failed; retrying"
                );
                tokio::time::sleep(delay).await;
                pending.push_front((a, b));
            }
        }
    }
    Ok(logs)
}

async fn fetch(
    rpc: Arc<Rpc>,
    decoder: Decoder,
    sizer: Arc<RangeSizer>,
    from: u64,
    to: u64,
) -> Result<Fetched> {
    let logs = fetch_logs(&rpc, &decoder, &sizer, from, to).await?;
    let header = rpc.header(to).await?;
    let mut events = Vec::with_capacity(logs.len());
    for log in &logs {
        if log.removed {
            continue;
        }
        if let Some(event) = decoder.decode(log)? {
            events.push(event);
        }
    }
    events.sort_by_key(|e| (e.block_number, e.log_index));
    Ok(Fetched {
        from,
        to,
        events,
        header,
    })
}

/// Fetch tasks in flight, in block order; aborted when dropped (e.g. when applying one failed).
#[derive(Debug, Default)]
pub struct InFlight(VecDeque<JoinHandle<Result<Fetched>>>);

impl InFlight {
    /// Starts fetching `[from, to]`.
    pub fn spawn(
        &mut self,
        rpc: &Arc<Rpc>,
        decoder: Decoder,
        sizer: &Arc<RangeSizer>,
        from: u64,
        to: u64,
    ) {
        self.0.push_back(tokio::spawn(fetch(
            rpc.clone(),
            decoder,
            sizer.clone(),
            from,
            to,
        )));
    }

    /// Tasks in flight.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is in flight.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The oldest range, once fetched.
    pub async fn next(&mut self) -> Option<Result<Fetched>> {
        let handle = self.0.pop_front()?;
        Some(handle.await.unwrap_or_else(|e| {
            Err(IndexerError::Rpc {
                method: "eth_getLogs",
                message: format!("fetch task failed: {e}"),
            })
        }))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizer_grows_when_cheap_and_shrinks_to_the_density_seen() {
        let sizer = RangeSizer::new(100, 1_000, 1_000);
        sizer.succeeded(100, 10);
        assert_eq!(sizer.size(), 200);
        sizer.succeeded(50, 10); // a short tail range says nothing about the size
        assert_eq!(sizer.size(), 200);
        sizer.refused(200);
        assert_eq!(sizer.size(), 100);
        // Five times the target: the next range is the fifth that would have held it.
        sizer.succeeded(100, 5_000);
        assert_eq!(sizer.size(), 20);
        // Denser than one block can hold: one block at a time.
        sizer.succeeded(20, 1_000_000);
        assert_eq!(sizer.size(), 1);
        // Within twice the target: kept.
        sizer.succeeded(1, 1_500);
        assert_eq!(sizer.size(), 1);
        for _ in 0..10 {
            sizer.succeeded(sizer.size(), 0);
        }
        assert_eq!(sizer.size(), 1_000);
    }
}
