//! Commits batches behind the projection: while one batch is written (on the store's connection, its
//! own thread for SQLite), the next range is decoded and applied. One batch is in flight at a time and
//! batches commit in order, so the store still moves from checkpoint to checkpoint, each with all of its
//! rows.
//!
//! What keeps the projection right while a batch is in flight: its rows stay in the projection cache
//! ([`State`]), which is authoritative, so nothing the next range needs is read from the store before
//! it lands. The cache is only dropped (above its size limit) once no batch is in flight.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::error::{IndexerError, Result};
use crate::projection::State;
use crate::store::{Batch, Checkpoint, Store};

/// A batch that landed.
#[derive(Debug, Clone, Copy)]
pub struct Committed {
    /// Its checkpoint, now the store's.
    pub checkpoint: Checkpoint,
    /// Its events.
    pub events: u64,
    /// How long its transaction took, from being handed over to its commit.
    pub took: Duration,
}

struct InFlight {
    checkpoint: Checkpoint,
    events: u64,
    started: Instant,
    task: JoinHandle<Result<()>>,
}

/// Hands batches to the store one behind the other. See the module docs.
pub struct Committer {
    store: Store,
    in_flight: Option<InFlight>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer")
            .field("in_flight", &self.in_flight.as_ref().map(|b| b.checkpoint))
            .finish()
    }
}

impl Committer {
    /// Commits into `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            in_flight: None,
        }
    }

    /// Flushes `state`'s changed rows into `batch` and starts committing it with `checkpoint`, after
    /// the batch before it has landed; returns the batches that landed meanwhile (that one, and this
    /// one too when the cache outgrew its limit and had to be dropped after it). If one fails,
    /// `state`'s cache is dropped (it held rows the store does not have) and the error is returned.
    pub async fn submit(
        &mut self,
        state: &mut State,
        mut batch: Batch,
        checkpoint: Checkpoint,
    ) -> Result<Vec<Committed>> {
        let mut landed: Vec<Committed> = self.wait(state).await?.into_iter().collect();
        state.flush(&mut batch);
        let events = batch.event_count;
        let store = self.store.clone();
        self.in_flight = Some(InFlight {
            checkpoint,
            events,
            started: Instant::now(),
            task: tokio::spawn(async move { store.commit(batch, checkpoint).await }),
        });
        if state.over_limit() {
            // Dropping the cache with a batch in flight would read that batch's rows back without it.
            landed.extend(self.wait(state).await?);
            state.clear();
        }
        Ok(landed)
    }

    /// Whether the store is free for the next batch: none in flight, or the one in flight has finished
    /// (it is collected by the next [`submit`](Self::submit) or [`wait`](Self::wait)).
    pub fn idle(&self) -> bool {
        self.in_flight
            .as_ref()
            .is_none_or(|batch| batch.task.is_finished())
    }

    /// Waits for the batch in flight, if any, to land.
    pub async fn wait(&mut self, state: &mut State) -> Result<Option<Committed>> {
        let Some(batch) = self.in_flight.take() else {
            return Ok(None);
        };
        let result = match batch.task.await {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(IndexerError::CommitAborted),
        };
        if let Err(error) = result {
            state.clear();
            return Err(error);
        }
        Ok(Some(Committed {
            checkpoint: batch.checkpoint,
            events: batch.events,
            took: batch.started.elapsed(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{Address, B256, U256};

    use super::*;
    use crate::projection::apply::{apply, record};
    use crate::projection::event::{Contract, RawEvent, SoilEvent};
    use crate::store::entity::Account;

    fn credit(block: u64, amount: u64) -> RawEvent {
        RawEvent {
            block_number: block,
            block_hash: B256::with_last_byte(block as u8),
            block_timestamp: None,
            tx_hash: B256::ZERO,
            tx_index: 0,
            log_index: 0,
            contract: Contract::UsageEscrow,
            address: Address::ZERO,
            event: SoilEvent::Credited {
                account: Address::with_last_byte(7),
                amount: U256::from(amount),
            },
        }
    }

    /// The batch of `event` (applied to `state`) and its checkpoint.
    async fn batch_of(state: &mut State, event: &RawEvent) -> Result<(Batch, Checkpoint)> {
        let mut batch = Batch::default();
        state.begin_block(event.block_number, false);
        record(&mut batch, 1, event)?;
        apply(state, &mut batch, event).await?;
        let checkpoint = Checkpoint {
            chain_id: 1,
            block_number: event.block_number,
            block_hash: event.block_hash,
            finalized_block: event.block_number,
            head_block: event.block_number,
        };
        Ok((batch, checkpoint))
    }

    async fn credited(store: &Store) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT credited FROM accounts")
            .fetch_optional(store.pool())
            .await
            .map_err(IndexerError::db("reading the test account"))
    }

    #[tokio::test]
    async fn a_cache_over_its_limit_is_dropped_only_after_its_batches_land() -> Result<()> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display())).await?;
        // One credit caches two rows (the account and the totals): over a limit of one.
        let mut state = State::for_empty_store(store.pool().clone()).with_cache_limit(1);
        let mut committer = Committer::new(store.clone());

        let (batch, first) = batch_of(&mut state, &credit(1, 5)).await?;
        let landed = committer.submit(&mut state, batch, first).await?;
        assert_eq!(landed.len(), 1, "waited for before the cache was dropped");
        assert_eq!(landed[0].checkpoint, first);
        assert!(
            committer.wait(&mut state).await?.is_none(),
            "nothing in flight"
        );
        assert!(!state.over_limit(), "dropped");
        assert_eq!(store.checkpoint().await?, Some(first));

        // The next credit reads the account back from the store and adds to it.
        let (batch, second) = batch_of(&mut state, &credit(2, 6)).await?;
        committer.submit(&mut state, batch, second).await?;
        committer.wait(&mut state).await?;
        assert_eq!(credited(&store).await?.as_deref(), Some("11"));
        Ok(())
    }

    #[tokio::test]
    async fn batches_land_in_order_one_behind_the_next_and_a_failure_drops_the_cache() -> Result<()>
    {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display())).await?;
        let mut state = State::for_empty_store(store.pool().clone());
        let mut committer = Committer::new(store.clone());

        let (batch, first) = batch_of(&mut state, &credit(1, 5)).await?;
        assert!(committer.submit(&mut state, batch, first).await?.is_empty());
        // Applied while the first batch may still be in flight: the account comes from the cache.
        let (batch, second) = batch_of(&mut state, &credit(2, 6)).await?;
        let landed = committer.submit(&mut state, batch, second).await?;
        assert_eq!(landed.len(), 1);
        assert_eq!(landed[0].checkpoint, first);
        assert_eq!(landed[0].events, 1);
        let last = committer.wait(&mut state).await?.expect("the second batch");
        assert_eq!(last.checkpoint, second);
        assert_eq!(store.checkpoint().await?, Some(second));
        assert_eq!(credited(&store).await?.as_deref(), Some("11"));
        assert!(
            committer.wait(&mut state).await?.is_none(),
            "nothing in flight"
        );

        // Block 2's raw event again: its unique key is taken, so the transaction fails as a whole.
        let (batch, third) = batch_of(&mut state, &credit(2, 100)).await?;
        committer.submit(&mut state, batch, third).await?;
        assert!(matches!(
            committer.wait(&mut state).await,
            Err(IndexerError::SqliteWrite { .. })
        ));
        assert_eq!(
            store.checkpoint().await?,
            Some(second),
            "nothing of it landed"
        );
        assert_eq!(credited(&store).await?.as_deref(), Some("11"));
        // The cache held the failed batch's credit: it was dropped, so the row is read again.
        let account = state.get::<Account>(&(Address::with_last_byte(7),)).await?;
        assert_eq!(account.map(|a| a.credited), Some(U256::from(11)));
        Ok(())
    }
}
