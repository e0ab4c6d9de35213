//! The sync loop: checks the RPC serves the deployment, backfills final blocks in log ranges, follows
//! the head block by block (parent hashes checked, reorgs reverted), and commits every batch with its
//! checkpoint in one transaction. RPC and database outages are retried from the checkpoint with
//! backoff; wrong data or configuration stops it with an error.

pub mod backfill;
pub mod commit;
pub mod decode;
pub mod progress;
pub mod rpc;
pub mod status;
mod wire;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

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
use crate::store::{Batch, BlockRef, Checkpoint, Follows, Store};
use backfill::{Fetched, InFlight, RangeSizer};
use commit::{Committed, Committer};
use decode::Decoder;
use progress::Progress;
use rpc::Rpc;
use status::SyncStatus;

/// A backfill is cut into at least this many ranges, however few its blocks, so that fetching,
/// applying and committing overlap even when a few blocks hold most of its events.
const MIN_RANGES: u64 = 64;

/// Follows one deployment into one store.
#[derive(Debug)]
pub struct Syncer {
    rpc: Arc<Rpc>,
    store: Store,
    decoder: Decoder,
    chain_id: u64,
    config: SyncConfig,
    state: State,
    committer: Committer,
    checkpoint: Checkpoint,
    status: Arc<SyncStatus>,
    heads: Option<Subscription<Header>>,
    /// Whether the secondary indexes are set aside for a backfill (by this run or a killed one).
    indexes_deferred: bool,
    /// The deployment's first block.
    start_block: u64,
    /// Whether the next step must first read the checkpoint back from the store: set after a failure,
    /// since a database server that crashed may have lost commits it had acknowledged (PostgreSQL
    /// batches commit without waiting for their WAL flush), and resuming from the checkpoint held in
    /// memory would then skip the lost blocks.
    reload: bool,
}

/// The checkpoint of a store that holds nothing: the block before the first one to index (genesis
/// when the deployment starts at 0: a genesis block holds no logs).
async fn origin(rpc: &Rpc, chain_id: u64, start_block: u64) -> Result<Checkpoint> {
    let before = start_block.saturating_sub(1);
    let hash = rpc.header(before).await?.hash;
    Ok(Checkpoint {
        chain_id,
        block_number: before,
        block_hash: hash,
        finalized_block: before,
        head_block: 0,
    })
}

/// Where a run resumes, as the store says.
struct Resume {
    /// The stored checkpoint, or the block before the deployment's first when there is none.
    checkpoint: Checkpoint,
    /// Whether the store holds no checkpoint yet.
    empty_store: bool,
    /// Whether a run killed during a long backfill left the secondary indexes aside.
    indexes_deferred: bool,
}

impl Resume {
    /// Reads it from `store`, which must hold `chain_id`'s data if any.
    async fn read(store: &Store, rpc: &Rpc, chain_id: u64, start_block: u64) -> Result<Self> {
        let stored = store.checkpoint().await?;
        let checkpoint = match stored {
            Some(stored) if stored.chain_id != chain_id => {
                return Err(IndexerError::DatabaseChainMismatch {
                    stored: stored.chain_id,
                    found: chain_id,
                });
            }
            Some(stored) => stored,
            None => origin(rpc, chain_id, start_block).await?,
        };
        Ok(Self {
            checkpoint,
            empty_store: stored.is_none(),
            indexes_deferred: store.deferred_indexes().await? > 0,
        })
    }
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
            ("UsageChannels", deployment.usage_channels),
        ] {
            if rpc.code(address).await?.is_empty() {
                return Err(IndexerError::MissingContract {
                    contract,
                    address,
                    chain_id,
                });
            }
        }
        let resume = Resume::read(&store, &rpc, chain_id, deployment.start_block).await?;
        let state = if resume.empty_store {
            State::for_empty_store(store.pool().clone())
        } else {
            State::new(store.pool().clone())
        };
        status.set_checkpoint(resume.checkpoint.block_number);
        Ok(Self {
            start_block: deployment.start_block,
            reload: false,
            decoder: Decoder::new(&deployment),
            state,
            committer: Committer::new(store.clone()),
            rpc,
            store,
            chain_id,
            config,
            checkpoint: resume.checkpoint,
            status,
            heads: None,
            indexes_deferred: resume.indexes_deferred,
        })
    }

    /// The last block committed.
    pub fn checkpoint(&self) -> Checkpoint {
        self.checkpoint
    }

    /// Runs until a fatal error (or, with `exit_when_caught_up`, until caught up). Transient failures
    /// are logged and retried from the checkpoint with capped exponential backoff.
    pub async fn run(&mut self) -> Result<()> {
        // Until caught up this is a backfill (see `allocator`).
        crate::allocator::set_backfilling(!self.status.ready());
        let mut failures = 0u32;
        let mut verify_tip = true;
        loop {
            match self.step(verify_tip).await {
                Ok(caught_up) => {
                    failures = 0;
                    verify_tip = false;
                    if caught_up != self.status.ready() {
                        crate::allocator::set_backfilling(!caught_up);
                    }
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
                    // Not ready while the chain or the database cannot be followed.
                    self.status.set_ready(false);
                    self.state.clear();
                    verify_tip = true;
                    self.reload = true;
                    let delay = self.rpc.backoff(failures);
                    tracing::warn!(%error, ?delay, "sync failed; resuming from the checkpoint");
                    tokio::time::sleep(delay).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Reads the checkpoint, and whether the secondary indexes are set aside, back from the store.
    async fn reload(&mut self) -> Result<()> {
        let resume = Resume::read(&self.store, &self.rpc, self.chain_id, self.start_block).await?;
        self.checkpoint = resume.checkpoint;
        self.indexes_deferred = resume.indexes_deferred;
        self.status.set_checkpoint(self.checkpoint.block_number);
        self.reload = false;
        Ok(())
    }

    /// What a batch continuing from checkpoint block `block` must find in the store.
    fn follows(&self, block: u64) -> Follows {
        Follows {
            block,
            origin: self.start_block.saturating_sub(1),
        }
    }

    /// One pass: returns whether the checkpoint is at the head.
    async fn step(&mut self, verify_tip: bool) -> Result<bool> {
        if self.reload {
            self.reload().await?;
        }
        let head = self.rpc.head().await?;
        let arrived = Instant::now();
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
            let behind = safe - cp.block_number;
            if !self.indexes_deferred
                && self.config.defer_indexes_from > 0
                && behind >= self.config.defer_indexes_from
            {
                self.store.defer_indexes().await?;
                self.indexes_deferred = true;
            }
            self.backfill(safe, head).await?;
            return Ok(false);
        }
        if self.indexes_deferred {
            self.store.restore_indexes().await?;
            self.indexes_deferred = false;
        }
        if cp.block_number < head {
            self.follow(head, arrived).await?;
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

    /// Follows the batches that landed: the checkpoint, the status and the metrics.
    fn landed(&mut self, batches: impl IntoIterator<Item = Committed>) {
        for batch in batches {
            metrics::histogram!("soil_indexer_flush_seconds").record(batch.took.as_secs_f64());
            metrics::counter!("soil_indexer_events_total").increment(batch.events);
            self.checkpoint = batch.checkpoint;
            self.status.set_checkpoint(batch.checkpoint.block_number);
        }
    }

    /// Commits `batch` and waits for it to land.
    async fn commit(&mut self, batch: Batch, checkpoint: Checkpoint) -> Result<()> {
        self.submit(batch, checkpoint).await?;
        let landed = self.committer.wait(&mut self.state).await?;
        self.landed(landed);
        Ok(())
    }

    /// Backfills the final blocks up to `safe` in ranges, each committed while the next is applied;
    /// returns once the last one has landed (or failed).
    async fn backfill(&mut self, safe: u64, head: u64) -> Result<()> {
        let applied = self.backfill_ranges(safe, head).await;
        let last = self.committer.wait(&mut self.state).await;
        if let Ok(last) = &last {
            self.landed(*last);
        }
        applied.and(last.map(drop))
    }

    /// Fetches `[checkpoint + 1, safe]` in ranges, several in flight, and applies them in order. While
    /// the store is busy with a batch, the ranges that arrive are applied into the next one (up to
    /// [`SyncConfig::batch_events`]), which is handed over as soon as the store is free.
    async fn backfill_ranges(&mut self, safe: u64, head: u64) -> Result<()> {
        let blocks = safe.saturating_sub(self.checkpoint.block_number);
        let sizer = Arc::new(RangeSizer::new(
            self.config.initial_range,
            self.config.max_range.min(blocks.div_ceil(MIN_RANGES)),
            self.config.target_logs,
        ));
        let mut next = self.checkpoint.block_number + 1;
        let mut applied = self.checkpoint.block_number;
        let mut progress = Progress::new(next, safe, self.config.progress_interval);
        let mut in_flight = InFlight::default();
        let mut gathered: Option<(Batch, Checkpoint)> = None;
        loop {
            while in_flight.len() < self.rpc.throttle.limit() && next <= safe {
                let to = (next + sizer.size() - 1).min(safe);
                in_flight.spawn(&self.rpc, self.decoder, &sizer, next, to);
                next = to + 1;
            }
            // Whatever was gathered goes to a free store before waiting on the network.
            if self.committer.idle()
                && let Some((batch, checkpoint)) = gathered.take()
            {
                self.submit(batch, checkpoint).await?;
            }
            let Some(fetched) = in_flight.next().await else {
                if let Some((batch, checkpoint)) = gathered.take() {
                    self.submit(batch, checkpoint).await?;
                }
                return Ok(());
            };
            let fetched = fetched?;
            debug_assert_eq!(fetched.from, applied + 1, "ranges are applied in order");
            let (to, events) = (fetched.to, fetched.events.len() as u64);
            let batch = match gathered.take() {
                Some((batch, _)) => batch,
                None => Batch {
                    follows: Some(self.follows(fetched.from - 1)),
                    ..Batch::default()
                },
            };
            let (batch, checkpoint) = self.apply_range(batch, fetched, head).await?;
            if self.committer.idle() || batch.event_count >= self.config.batch_events {
                self.submit(batch, checkpoint).await?;
            } else {
                gathered = Some((batch, checkpoint));
            }
            applied = to;
            progress.advance(to, events);
        }
    }

    /// Hands `batch` to the committer (after the batch in flight has landed).
    async fn submit(&mut self, batch: Batch, checkpoint: Checkpoint) -> Result<()> {
        let landed = self
            .committer
            .submit(&mut self.state, batch, checkpoint)
            .await?;
        self.landed(landed);
        Ok(())
    }

    /// Applies a fetched range into `batch`: the batch and the checkpoint it now commits with.
    async fn apply_range(
        &mut self,
        mut batch: Batch,
        fetched: Fetched,
        head: u64,
    ) -> Result<(Batch, Checkpoint)> {
        let Fetched {
            to, events, header, ..
        } = fetched;
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
        Ok((batch, checkpoint))
    }

    /// Applies the unfinalised blocks up to `head` one by one, checking each one's parent hash;
    /// `arrived` is when the head was learned of.
    async fn follow(&mut self, head: u64, arrived: Instant) -> Result<()> {
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
            let mut batch = Batch {
                follows: Some(self.follows(number - 1)),
                ..Batch::default()
            };
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
            metrics::histogram!("soil_indexer_block_to_queryable_seconds")
                .record(arrived.elapsed().as_secs_f64());
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
