//! The sync loop: checks the RPC serves the deployment, backfills final blocks in log ranges, follows
//! the head block by block (parent hashes checked, reorgs reverted), and commits every batch with its
//! checkpoint in one transaction. RPC and database outages are retried from the checkpoint with
//! backoff; wrong data or configuration stops it with an error.

pub mod backfill;
pub mod decode;
pub mod progress;
pub mod rpc;
pub mod status;

use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use alloy::consensus::BlockHeader;
use alloy::providers::Provider;
use alloy::pubsub::Subscription;
use alloy::rpc::types::Header;
use soil_bindings::Deployment;

use crate::config::SyncConfig;
use crate::error::{IndexerError, Result};
use crate::projection::State;
use crate::projection::apply::{apply, record};
use crate::reorg;
use crate::store::{Batch, BlockRef, Checkpoint, Store};
use backfill::{Fetched, InFlight, RangeSizer};
use decode::Decoder;
use progress::Progress;
use rpc::Rpc;
use status::SyncStatus;

/// Follows one deployment into one store.
#[derive(Debug)]
pub struct Syncer {
    rpc: Arc<Rpc>,
    store: Store,
    decoder: Decoder,
    chain_id: u64,
    config: SyncConfig,
    state: State,
    checkpoint: Checkpoint,
    status: Arc<SyncStatus>,
    heads: Option<Subscription<Header>>,
}

impl Syncer {
    /// Checks that the RPC serves the deployment's chain with code at its addresses and that the store
    /// holds that chain, and resumes from the stored checkpoint (or the deployment's start block).
    pub async fn new(
        rpc: Arc<Rpc>,
        store: Store,
        deployment: Deployment,
        deployment_path: &Path,
        config: SyncConfig,
        status: Arc<SyncStatus>,
    ) -> Result<Self> {
        let chain_id = rpc.chain_id().await?;
        if chain_id != deployment.chain_id {
            return Err(IndexerError::WrongChain {
                path: deployment_path.to_owned(),
                expected: deployment.chain_id,
                found: chain_id,
            });
        }
        for (contract, address) in [
            ("DatanetRegistry", deployment.datanet_registry),
            ("ModelRegistry", deployment.model_registry),
            ("UsageEscrow", deployment.usage_escrow),
        ] {
            if rpc.code(address).await?.is_empty() {
                return Err(IndexerError::MissingContract {
                    contract,
                    address,
                    chain_id,
                });
            }
        }
        let stored = store.checkpoint().await?;
        let state = if stored.is_none() {
            State::for_empty_store(store.pool().clone())
        } else {
            State::new(store.pool().clone())
        };
        let checkpoint = match stored {
            Some(stored) if stored.chain_id != chain_id => {
                return Err(IndexerError::DatabaseChainMismatch {
                    stored: stored.chain_id,
                    found: chain_id,
                });
            }
            Some(stored) => stored,
            None => {
                // The block before the first one to index (genesis when the deployment starts at 0:
                // a genesis block holds no logs).
                let before = deployment.start_block.saturating_sub(1);
                let hash = rpc.header(before).await?.hash;
                Checkpoint {
                    chain_id,
                    block_number: before,
                    block_hash: hash,
                    finalized_block: before,
                    head_block: 0,
                }
            }
        };
        status.set_checkpoint(checkpoint.block_number);
        Ok(Self {
            decoder: Decoder::new(&deployment),
            state,
            rpc,
            store,
            chain_id,
            config,
            checkpoint,
            status,
            heads: None,
        })
    }

    /// The last block committed.
    pub fn checkpoint(&self) -> Checkpoint {
        self.checkpoint
    }

    /// Runs until a fatal error (or, with `exit_when_caught_up`, until caught up). Transient failures
    /// are logged and retried from the checkpoint with capped exponential backoff.
    pub async fn run(&mut self) -> Result<()> {
        let mut failures = 0u32;
        let mut verify_tip = true;
        loop {
            match self.step(verify_tip).await {
                Ok(caught_up) => {
                    failures = 0;
                    verify_tip = false;
                    self.status.set_ready(caught_up);
                    if caught_up {
                        if self.config.exit_when_caught_up {
                            return Ok(());
                        }
                        self.wait_for_head().await;
                    }
                }
                Err(error) if error.is_transient() => {
                    failures += 1;
                    self.state.clear();
                    verify_tip = true;
                    if let Ok(Some(stored)) = self.store.checkpoint().await {
                        self.checkpoint = stored;
                    }
                    let delay = self.rpc.backoff(failures);
                    tracing::warn!(%error, ?delay, "sync failed; resuming from the checkpoint");
                    tokio::time::sleep(delay).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// One pass: returns whether the checkpoint is at the head.
    async fn step(&mut self, verify_tip: bool) -> Result<bool> {
        let head = self.rpc.head().await?;
        self.status.set_head(head);
        let cp = self.checkpoint;
        let unfinalised = cp.block_number > cp.finalized_block;
        if (verify_tip || unfinalised || head < cp.block_number) && cp.head_block > 0 {
            let on_chain = if head >= cp.block_number {
                Some(self.rpc.header(cp.block_number).await?.hash)
            } else {
                None
            };
            if on_chain != Some(cp.block_hash) {
                self.reorg(head).await?;
                return Ok(false);
            }
        }
        let safe = head.saturating_sub(self.config.finality_depth);
        if cp.block_number < safe {
            self.backfill(safe, head).await?;
            Ok(false)
        } else if cp.block_number < head {
            self.follow(head).await?;
            Ok(self.checkpoint.block_number >= head)
        } else {
            Ok(true)
        }
    }

    async fn reorg(&mut self, head: u64) -> Result<()> {
        let result = reorg::handle(
            &self.store,
            &self.rpc,
            self.checkpoint,
            head,
            self.config.finality_depth,
        )
        .await;
        self.state.clear();
        self.checkpoint = result?;
        self.status.set_checkpoint(self.checkpoint.block_number);
        Ok(())
    }

    async fn commit(&mut self, mut batch: Batch, checkpoint: Checkpoint) -> Result<()> {
        self.state.flush(&mut batch);
        let events = batch.event_count;
        let started = Instant::now();
        if let Err(error) = self.store.commit(batch, checkpoint).await {
            self.state.clear();
            return Err(error);
        }
        metrics::histogram!("soil_indexer_flush_seconds").record(started.elapsed().as_secs_f64());
        metrics::counter!("soil_indexer_events_total").increment(events);
        self.checkpoint = checkpoint;
        self.status.set_checkpoint(checkpoint.block_number);
        Ok(())
    }

    /// Backfills the final blocks up to `safe` in ranges.
    async fn backfill(&mut self, safe: u64, head: u64) -> Result<()> {
        let sizer = Arc::new(RangeSizer::new(
            self.config.initial_range,
            self.config.max_range,
            self.config.target_logs,
        ));
        let mut next = self.checkpoint.block_number + 1;
        let mut progress = Progress::new(next, safe, self.config.progress_interval);
        let mut in_flight = InFlight::default();
        loop {
            while in_flight.len() < self.rpc.throttle.limit() && next <= safe {
                let to = (next + sizer.size() - 1).min(safe);
                in_flight.spawn(&self.rpc, self.decoder, &sizer, next, to);
                next = to + 1;
            }
            let Some(fetched) = in_flight.next().await else {
                return Ok(());
            };
            let fetched = fetched?;
            let (to, events) = (fetched.to, fetched.events.len() as u64);
            self.apply_range(fetched, head).await?;
            progress.advance(to, events);
        }
    }

    async fn apply_range(&mut self, fetched: Fetched, head: u64) -> Result<()> {
        let Fetched {
            from,
            to,
            events,
            header,
        } = fetched;
        debug_assert_eq!(
            from,
            self.checkpoint.block_number + 1,
            "ranges are applied in order"
        );
        let mut batch = Batch::default();
        for event in &events {
            self.state.begin_block(event.block_number, false);
            record(&mut batch, self.chain_id, event)?;
            apply(&mut self.state, &mut batch, event).await?;
        }
        batch.block(BlockRef {
            number: to,
            hash: header.hash,
            parent_hash: header.parent_hash(),
        })?;
        let checkpoint = Checkpoint {
            chain_id: self.chain_id,
            block_number: to,
            block_hash: header.hash,
            finalized_block: to,
            head_block: head,
        };
        self.commit(batch, checkpoint).await
    }

    /// Applies the unfinalised blocks up to `head` one by one, checking each one's parent hash.
    async fn follow(&mut self, head: u64) -> Result<()> {
        let safe = head.saturating_sub(self.config.finality_depth);
        for number in self.checkpoint.block_number + 1..=head {
            let header = self.rpc.header(number).await?;
            if header.parent_hash() != self.checkpoint.block_hash {
                return self.reorg(head).await;
            }
            let logs = self
                .rpc
                .logs_of_block(&self.decoder.addresses(), header.hash)
                .await?;
            let mut events = Vec::with_capacity(logs.len());
            for log in &logs {
                if !log.removed
                    && let Some(event) = self.decoder.decode(log)?
                {
                    events.push(event);
                }
            }
            events.sort_by_key(|e| e.log_index);
            let mut batch = Batch::default();
            self.state.begin_block(number, number > safe);
            for event in &events {
                record(&mut batch, self.chain_id, event)?;
                apply(&mut self.state, &mut batch, event).await?;
            }
            batch.block(BlockRef {
                number,
                hash: header.hash,
                parent_hash: header.parent_hash(),
            })?;
            let finalized = self.checkpoint.finalized_block.max(safe).min(number);
            let checkpoint = Checkpoint {
                chain_id: self.chain_id,
                block_number: number,
                block_hash: header.hash,
                finalized_block: finalized,
                head_block: head,
            };
            self.commit(batch, checkpoint).await?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            metrics::histogram!("soil_indexer_block_to_queryable_seconds")
                .record((now - header.timestamp() as f64).max(0.0));
        }
        Ok(())
    }

    /// Waits for a new head: a WebSocket subscription when the RPC is one, else the poll interval.
    async fn wait_for_head(&mut self) {
        if self.rpc.is_ws() && self.heads.is_none() {
            match self.rpc.provider().subscribe_blocks().await {
                Ok(subscription) => self.heads = Some(subscription),
                Err(error) => tracing::warn!(%error, "cannot subscribe to new heads; polling"),
            }
        }
        if let Some(heads) = &mut self.heads {
            match tokio::time::timeout(self.config.poll_interval * 10, heads.recv()).await {
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, "new-heads subscription ended; polling");
                    self.heads = None;
                }
            }
            return;
        }
        tokio::time::sleep(self.config.poll_interval).await;
    }
}
