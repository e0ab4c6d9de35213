//! Backfill progress in the log: blocks/s, events/s and the time left.

use std::time::{Duration, Instant};

/// Progress of one backfill pass.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    last_log: Instant,
    interval: Duration,
    first_block: u64,
    target: u64,
    events: u64,
}

impl Progress {
    /// A pass from `first_block` to `target`, logged every `interval`.
    pub fn new(first_block: u64, target: u64, interval: Duration) -> Self {
        let now = Instant::now();
        Self {
            started: now,
            last_log: now,
            interval,
            first_block,
            target,
            events: 0,
        }
    }

    /// Records that blocks up to `block` are applied, with `events` more events; logs when due.
    pub fn advance(&mut self, block: u64, events: u64) {
        self.events += events;
        if self.last_log.elapsed() < self.interval && block < self.target {
            return;
        }
        self.last_log = Instant::now();
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let blocks = block.saturating_sub(self.first_block) + 1;
        let blocks_per_s = blocks as f64 / elapsed;
        let events_per_s = self.events as f64 / elapsed;
        let eta_s = self.target.saturating_sub(block) as f64 / blocks_per_s.max(1e-9);
        tracing::info!(
            block,
            target = self.target,
            blocks_per_s = format!("{blocks_per_s:.0}"),
            events_per_s = format!("{events_per_s:.0}"),
            eta_s = format!("{eta_s:.0}"),
            "backfilling"
        );
    }
}
