//! One transaction of the store contract: the raw events, projection rows, aggregate rows and undo
//! journal of a run of blocks, together with the checkpoint that says they were applied.

use alloy::primitives::B256;
use sqlx::Row;

use crate::error::{IndexerError, Result};
use crate::store::changes::Changes;
use crate::store::fact::{Facts, RAW_EVENT_COLUMNS};
use crate::store::rows::RowSet;
use crate::store::value::{Column, Val, int};
use crate::store::{Backend, Bulk, Store, version};

/// Where the indexer stands: the last block applied and how far reverts may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The chain indexed.
    pub chain_id: u64,
    /// The last block fully applied.
    pub block_number: u64,
    /// Its hash.
    pub block_hash: B256,
    /// The highest block applied without an undo journal: reverts cannot go below it.
    pub finalized_block: u64,
    /// The chain head when the checkpoint was written.
    pub head_block: u64,
}

/// A recent block's identity, for reorg detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: B256,
    /// Its parent's hash.
    pub parent_hash: B256,
}

/// Everything one transaction writes.
#[derive(Debug)]
pub struct Batch {
    /// `raw_events` rows.
    pub raw_events: RowSet,
    /// Fact rows.
    pub facts: Facts,
    /// Entity rows to upsert (filled by the projection state's flush).
    pub entities: Vec<RowSet>,
    /// Not written: the rows of `entities` that existed, as they were before the batch, for tables
    /// whose changes were journaled (what readers who selected rows by a column's old value need to
    /// learn, see [`Changes`]).
    pub replaced: Vec<RowSet>,
    /// Not written: entity tables whose changed rows' images before the batch were not kept (blocks
    /// applied without journaling, as in a backfill).
    pub replaced_unknown: Vec<&'static str>,
    /// `undo_journal` rows.
    pub journal: RowSet,
    /// `block_hashes` rows.
    pub blocks: RowSet,
    /// Events in the batch.
    pub event_count: u64,
    /// The checkpoint the batch continues from, checked when it commits by COPY (`None`: unchecked).
    pub follows: Option<Follows>,
}

/// The checkpoint a batch continues from: the store must hold `block` as its checkpoint, or hold none
/// when `block` is `origin` (the block before the deployment's first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Follows {
    /// The checkpoint block the batch follows.
    pub block: u64,
    /// The checkpoint of a store that holds nothing yet.
    pub origin: u64,
}

impl Follows {
    /// Fails with [`IndexerError::CheckpointMoved`] unless `stored` is the checkpoint followed.
    fn check(self, stored: Option<u64>) -> Result<()> {
        let expected = stored.map_or(self.block == self.origin, |block| block == self.block);
        if expected {
            Ok(())
        } else {
            Err(IndexerError::CheckpointMoved {
                expected: self.block,
                found: stored,
            })
        }
    }
}

impl Default for Batch {
    fn default() -> Self {
        Self {
            raw_events: RowSet::insert("raw_events", RAW_EVENT_COLUMNS),
            facts: Facts::default(),
            entities: Vec::new(),
            replaced: Vec::new(),
            replaced_unknown: Vec::new(),
            journal: RowSet::insert(
                "undo_journal",
                &[
                    "block_number",
                    "seq",
                    "table_name",
                    "row_key",
                    "before_image",
                ],
            ),
            blocks: RowSet {
                table: "block_hashes",
                columns: vec!["block_number", "block_hash", "parent_hash"],
                upsert_key: Some(1),
                rows: Vec::new(),
            },
            event_count: 0,
            follows: None,
        }
    }
}

impl Batch {
    /// The row sets to write, in order.
    pub(crate) fn into_sets(self) -> impl Iterator<Item = RowSet> {
        std::iter::once(self.raw_events)
            .chain(self.facts.into_sets())
            .chain(self.entities)
            .chain([self.journal, self.blocks])
    }

    /// Writes every row through `conn`, a `backend` connection (inside the caller's transaction).
    pub async fn write(self, conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<()> {
        for set in self.into_sets() {
            set.write(conn, backend).await?;
        }
        Ok(())
    }

    /// Writes every row through `conn` by COPY (inside the caller's transaction).
    pub async fn copy(self, conn: &mut sqlx::PgConnection) -> Result<()> {
        for set in self.into_sets() {
            set.copy(conn).await?;
        }
        Ok(())
    }

    /// Records a block's identity for reorg detection.
    pub fn block(&mut self, block: BlockRef) -> Result<()> {
        self.blocks.push(vec![
            Val::Int(int("block number", block.number)?),
            block.hash.to_val(),
            block.parent_hash.to_val(),
        ]);
        Ok(())
    }
}

/// Deletes the undo journal at or below the finalized block (`$1`).
pub(crate) const PRUNE_JOURNAL: &str = "DELETE FROM undo_journal WHERE block_number <= $1";

/// Deletes the block window below the finalized block (`$1`).
pub(crate) const PRUNE_BLOCKS: &str = "DELETE FROM block_hashes WHERE block_number < $1";

impl Checkpoint {
    /// The `sync_state` row (id 1) that records it, as an upsert.
    pub(crate) fn row_set(&self) -> Result<RowSet> {
        let mut set = RowSet {
            table: "sync_state",
            columns: vec![
                "id",
                "chain_id",
                "block_number",
                "block_hash",
                "finalized_block",
                "head_block",
                "updated_at",
            ],
            upsert_key: Some(1),
            rows: Vec::new(),
        };
        set.push(vec![
            Val::Int(1),
            Val::Int(int("chain id", self.chain_id)?),
            Val::Int(int("block number", self.block_number)?),
            self.block_hash.to_val(),
            Val::Int(int("finalized block", self.finalized_block)?),
            Val::Int(int("head block", self.head_block)?),
            Val::Int(unix_now()),
        ]);
        Ok(set)
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Store {
    /// Commits `batch` and `checkpoint` in one transaction, and prunes the undo journal and block
    /// window at or below the new finalized block; a batch with events raises the stored version in
    /// the same transaction (`store/version.rs`). On SQLite the batch writer thread commits it
    /// (`store/writer.rs`), on PostgreSQL the rows go in by COPY.
    pub async fn commit(&self, batch: Batch, checkpoint: Checkpoint) -> Result<()> {
        let changes = Changes::of(&batch);
        let begun = IndexerError::db("starting a batch");
        let committed = IndexerError::db("committing a batch");
        match self.bulk() {
            Bulk::Writer(writer) => {
                let publish = !changes.is_empty();
                writer.commit(batch, checkpoint, publish).await?;
            }
            Bulk::Copy(pool) => {
                let mut tx = pool.begin().await.map_err(begun)?;
                if let Some(follows) = batch.follows {
                    follows.check(stored_block(&mut tx).await?)?;
                }
                batch.copy(&mut tx).await?;
                seal(&mut tx, checkpoint).await?;
                version::publish_copied(&mut tx, &changes).await?;
                tx.commit().await.map_err(committed)?;
            }
            Bulk::Replica => return Err(IndexerError::ReadOnlyStore),
        }
        self.changed(changes);
        Ok(())
    }

    /// The checkpoint, or `None` before the first batch.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>> {
        let row = sqlx::query(
            "SELECT chain_id, block_number, block_hash, finalized_block, head_block FROM sync_state WHERE id = 1",
        )
        .fetch_optional(self.pool())
        .await
        .map_err(IndexerError::db("reading the checkpoint"))?;
        let Some(row) = row else { return Ok(None) };
        let number = |name: &str| -> Result<u64> {
            let v = i64::decode(&row, name, "sync_state")?;
            u64::try_from(v).map_err(|_| IndexerError::CorruptRow {
                table: "sync_state",
                reason: format!("{name} = {v}"),
            })
        };
        Ok(Some(Checkpoint {
            chain_id: number("chain_id")?,
            block_number: number("block_number")?,
            block_hash: B256::decode(&row, "block_hash", "sync_state")?,
            finalized_block: number("finalized_block")?,
            head_block: number("head_block")?,
        }))
    }

    /// The stored hash of block `number`, if it is in the recent window.
    pub async fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        let row = sqlx::query("SELECT block_hash FROM block_hashes WHERE block_number = $1")
            .bind(int("block number", number)?)
            .fetch_optional(self.pool())
            .await
            .map_err(IndexerError::db("reading the block window"))?;
        row.map(|row| B256::decode(&row, "block_hash", "block_hashes"))
            .transpose()
    }

    /// The stored block numbers of the recent window in `[from, to]`, highest first.
    pub async fn window(&self, from: u64, to: u64) -> Result<Vec<(u64, B256)>> {
        let rows = sqlx::query(
            "SELECT block_number, block_hash FROM block_hashes WHERE block_number >= $1 AND block_number <= $2 \
             ORDER BY block_number DESC",
        )
        .bind(int("block number", from)?)
        .bind(int("block number", to)?)
        .fetch_all(self.pool())
        .await
        .map_err(IndexerError::db("reading the block window"))?;
        rows.iter()
            .map(|row| {
                let n = i64::decode(row, "block_number", "block_hashes")?;
                let n = u64::try_from(n).map_err(|_| IndexerError::CorruptRow {
                    table: "block_hashes",
                    reason: format!("block {n}"),
                })?;
                Ok((n, B256::decode(row, "block_hash", "block_hashes")?))
            })
            .collect()
    }
}

/// The stored checkpoint's block, its row locked until the transaction ends (PostgreSQL).
async fn stored_block(conn: &mut sqlx::PgConnection) -> Result<Option<u64>> {
    let block: Option<i64> =
        sqlx::query_scalar("SELECT block_number FROM sync_state WHERE id = 1 FOR UPDATE")
            .fetch_optional(&mut *conn)
            .await
            .map_err(IndexerError::db("reading the checkpoint"))?;
    block
        .map(|b| {
            u64::try_from(b).map_err(|_| IndexerError::CorruptRow {
                table: "sync_state",
                reason: format!("block_number = {b}"),
            })
        })
        .transpose()
}

/// Ends a batch's transaction: writes `checkpoint`, and prunes the undo journal and the block window
/// at or below its finalized block.
/// On PostgreSQL (the COPY path; the SQLite writer seals its own).
async fn seal(conn: &mut sqlx::PgConnection, checkpoint: Checkpoint) -> Result<()> {
    write_checkpoint::<sqlx::Postgres>(&mut *conn, checkpoint).await?;
    let finalized = int("finalized block", checkpoint.finalized_block)?;
    sqlx::query(PRUNE_JOURNAL)
        .bind(finalized)
        .execute(&mut *conn)
        .await
        .map_err(IndexerError::db("pruning the undo journal"))?;
    sqlx::query(PRUNE_BLOCKS)
        .bind(finalized)
        .execute(&mut *conn)
        .await
        .map_err(IndexerError::db("pruning the block window"))?;
    Ok(())
}

/// Upserts the single `sync_state` row, as [`Checkpoint::row_set`] lays it out (the SQLite writer
/// writes that set itself), through sqlx's `Any` connections or a PostgreSQL one for a batch
/// committed by COPY.
pub(crate) async fn write_checkpoint<DB: sqlx::Database>(
    conn: &mut DB::Connection,
    checkpoint: Checkpoint,
) -> Result<()>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    Option<i64>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let set = checkpoint.row_set()?;
    // `$n` placeholders, which SQLite reads too (as parameters named `$1`, `$2`… in that order).
    let sql = RowSet::statement_for(
        Backend::Postgres,
        set.table,
        &set.columns,
        set.upsert_key,
        1,
    );
    let mut query = sqlx::query::<DB>(&sql);
    for value in set.rows.into_iter().flatten() {
        query = match value {
            Val::Int(v) => query.bind(v),
            Val::Text(v) => query.bind(v),
            Val::NullInt => query.bind(None::<i64>),
            Val::NullText => query.bind(None::<String>),
        };
    }
    query
        .execute(&mut *conn)
        .await
        .map_err(IndexerError::db("writing the checkpoint"))?;
    Ok(())
}

/// Reads an integer column as `u64`.
pub(crate) fn row_u64(row: &sqlx::any::AnyRow, name: &str, table: &'static str) -> Result<u64> {
    let v: i64 = row.try_get(name).map_err(|e| IndexerError::CorruptRow {
        table,
        reason: format!("{name}: {e}"),
    })?;
    u64::try_from(v).map_err(|_| IndexerError::CorruptRow {
        table,
        reason: format!("{name} = {v}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_commits_only_on_the_checkpoint_it_follows() {
        let follows = Follows {
            block: 10,
            origin: 4,
        };
        assert!(follows.check(Some(10)).is_ok());
        let lost = follows.check(Some(8)).expect_err("two batches lost");
        assert!(matches!(
            lost,
            IndexerError::CheckpointMoved {
                expected: 10,
                found: Some(8)
            }
        ));
        assert!(lost.is_transient(), "the syncer resumes from the store");
        assert!(lost.to_string().contains("checkpoint is block 8"), "{lost}");
        let emptied = follows.check(None).expect_err("every batch lost");
        assert!(
            emptied.to_string().contains("checkpoint is missing"),
            "{emptied}"
        );
        let first = Follows {
            block: 4,
            origin: 4,
        };
        assert!(
            first.check(None).is_ok(),
            "the first batch of an empty store"
        );
        assert!(first.check(Some(9)).is_err(), "a store already ahead");
    }
}
