//! Published receipts logs: a background task, apart from the sync path, that fetches each settled
//! voucher's `logURI`, checks the log against the voucher ([`verify`]) and indexes its receipts, or marks
//! the settlement `MISSING` or `MISMATCH` with the reason. Hostile logs cost it time, never the syncer:
//! each fetch is bounded in time and size, a few run at once, a failing server is tried again with
//! exponential backoff a bounded number of times, and what is pending is in the store, so a restart
//! resumes it.

pub mod fetch;
pub mod record;
pub mod verify;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;

use crate::error::Result;
use crate::logs::fetch::{FetchError, FetchLimits};
use crate::logs::record::{Due, Outcome};
use crate::store::Store;

/// How the fetcher works.
#[derive(Debug, Clone, Copy)]
pub struct LogConfig {
    /// Each fetch's bounds.
    pub limits: FetchLimits,
    /// Tries before a log that could not be fetched is `MISSING`.
    pub max_attempts: u32,
    /// The wait after the first failed try; doubled after each next one.
    pub backoff: Duration,
    /// How often the store is asked for logs due.
    pub poll_interval: Duration,
    /// Logs fetched at once.
    pub concurrency: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            limits: FetchLimits {
                timeout: Duration::from_secs(20),
                max_bytes: 16 << 20,
            },
            max_attempts: 8,
            backoff: Duration::from_secs(30),
            poll_interval: Duration::from_secs(2),
            concurrency: 4,
        }
    }
}

/// The background task.
#[derive(Debug, Clone)]
pub struct LogFetcher {
    store: Store,
    client: reqwest::Client,
    config: LogConfig,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl LogFetcher {
    /// A fetcher over `store`.
    pub fn new(store: Store, config: LogConfig) -> Self {
        Self {
            store,
            client: fetch::client(),
            config,
        }
    }

    /// Runs until dropped: a store error is logged and the round tried again after the poll interval.
    pub async fn run(self) {
        loop {
            match self.round().await {
                Ok(0) => tokio::time::sleep(self.config.poll_interval).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "log fetcher");
                    tokio::time::sleep(self.config.poll_interval).await;
                }
            }
        }
    }

    /// Tries every log due now (up to a round's worth); returns how many outcomes were recorded.
    pub async fn round(&self) -> Result<usize> {
        let due = record::due(&self.store, now(), self.config.concurrency * 4).await?;
        let recorded = futures::stream::iter(due)
            .map(|due| async move {
                let outcome = self.attempt(&due).await;
                record::record(&self.store, &due, &outcome).await
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let mut count = 0;
        for outcome in recorded {
            count += usize::from(outcome?);
        }
        Ok(count)
    }

    /// One try at `due`'s log.
    async fn attempt(&self, due: &Due) -> Outcome {
        match fetch::fetch(&self.client, &due.log_uri, self.config.limits).await {
            Ok(body) => match verify::verify(&due.settled, &body) {
                Ok(log) => Outcome::Verified(log),
                Err(mismatch) => Outcome::Mismatch(mismatch.to_string()),
            },
            Err(e) if e.is_transient() && due.attempts + 1 < self.config.max_attempts => {
                Outcome::Retry {
                    problem: e.to_string(),
                    at: now() + self.backoff(due.attempts).as_secs(),
                }
            }
            Err(e) => Outcome::Missing(missing(&e, due.attempts + 1)),
        }
    }

    /// The wait after `attempts` failed tries and one more.
    fn backoff(&self, attempts: u32) -> Duration {
        self.config.backoff.saturating_mul(1 << attempts.min(16))
    }
}

fn missing(e: &FetchError, attempts: u32) -> String {
    if e.is_transient() {
        format!("{e} (after {attempts} tries)")
    } else {
        e.to_string()
    }
}
