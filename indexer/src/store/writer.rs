//! SQLite's bulk path: batches are committed on a thread of their own, through a connection of its
//! own, with one prepared single-row statement per table stepped once per row.
//!
//! Through sqlx a batch goes in as multi-row `INSERT`s of up to 30,000 bound values, each value copied
//! into sqlx's arguments, again into the SQLite driver's, then into SQLite, and freed again at every
//! statement. Here each value is bound straight from the batch, and SQLite keeps its value buffers from
//! one row to the next. Reads, reverts, rebuilds and the migrations stay on the sqlx pools: SQLite lets
//! one writer in at a time, and the busy timeout makes the others wait their turn.

use std::path::Path;
use std::sync::mpsc;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use crate::error::{IndexerError, Result};
use crate::store::Backend;
use crate::store::batch::{Batch, Checkpoint, PRUNE_BLOCKS, PRUNE_JOURNAL};
use crate::store::rows::RowSet;
use crate::store::value::{Val, int};
use crate::store::version;

/// Set on the writer's connection, as on the sqlx pool's (see `Store::open`).
const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                       PRAGMA foreign_keys = OFF; PRAGMA cache_size = -65536;";

/// How long the writer waits for another writer (a revert, a rebuild) to let go of the file.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A batch to commit, and where to say how it went.
struct Job {
    batch: Batch,
    checkpoint: Checkpoint,
    /// Whether to raise the stored version (the batch changes the projections).
    publish: bool,
    done: oneshot::Sender<Outcome>,
}

/// How a commit went, and the batch's rows, handed back to be freed by the committer: the writer
/// thread is the backfill's bottleneck, and a thread-local free (where the rows were allocated) is
/// cheaper than the writer's cross-thread one.
struct Outcome {
    result: Result<()>,
    _spent: Vec<RowSet>,
}

/// The handle of the writer thread; the thread ends when the last handle is dropped.
#[derive(Debug)]
pub(crate) struct SqliteWriter {
    jobs: mpsc::Sender<Job>,
}

impl SqliteWriter {
    /// Opens a connection to the (migrated) database file at `path` and starts the writer thread.
    pub(crate) fn start(path: &Path) -> Result<Self> {
        let failed = |source| IndexerError::SqliteWrite {
            context: "opening the batch writer's connection",
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(failed)?;
        conn.execute_batch(PRAGMAS).map_err(failed)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(failed)?;
        // One statement per table written, and the checkpoint.
        conn.set_prepared_statement_cache_capacity(64);
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("soil-sqlite-writer".into())
            .spawn(move || {
                let mut writer = Writer { conn };
                for job in queue {
                    let outcome = writer.commit(job.batch, job.checkpoint, job.publish);
                    // The committer may have stopped waiting (its task was cancelled): the rows are
                    // then freed here.
                    let _ = job.done.send(outcome);
                }
            })
            .map_err(|source| IndexerError::Thread {
                name: "SQLite batch writer",
                source,
            })?;
        Ok(Self { jobs })
    }

    /// Commits `batch` and `checkpoint` in one transaction on the writer thread, raising the stored
    /// version in it if `publish`.
    pub(crate) async fn commit(
        &self,
        batch: Batch,
        checkpoint: Checkpoint,
        publish: bool,
    ) -> Result<()> {
        let (done, outcome) = oneshot::channel();
        self.jobs
            .send(Job {
                batch,
                checkpoint,
                publish,
                done,
            })
            .map_err(|_| IndexerError::WriterStopped)?;
        outcome
            .await
            .map_err(|_| IndexerError::WriterStopped)?
            .result
    }
}

/// The writer thread's connection (its statements are prepared once each and cached by it).
struct Writer {
    conn: Connection,
}

impl Writer {
    /// Writes `batch` and `checkpoint` in one transaction (raising the stored version if `publish`),
    /// and hands the batch's rows back with how it went.
    fn commit(&mut self, batch: Batch, checkpoint: Checkpoint, publish: bool) -> Outcome {
        let sets = checkpoint
            .row_set()
            .map(|row| batch.into_sets().chain([row]).collect::<Vec<_>>());
        match sets {
            Ok(sets) => Outcome {
                result: self.write(&sets, checkpoint.finalized_block, publish),
                _spent: sets,
            },
            Err(e) => Outcome {
                result: Err(e),
                _spent: Vec::new(),
            },
        }
    }

    /// Writes `sets`, prunes the undo journal at or below `finalized_block` and the block window
    /// below it, and raises the stored version if `publish`, in one transaction.
    fn write(&mut self, sets: &[RowSet], finalized_block: u64, publish: bool) -> Result<()> {
        let failed = |context| move |source| IndexerError::SqliteWrite { context, source };
        let finalized = int("finalized block", finalized_block)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed("starting a batch"))?;
        for set in sets {
            if set.rows.is_empty() {
                continue;
            }
            let sql =
                RowSet::statement_for(Backend::Sqlite, set.table, &set.columns, set.upsert_key, 1);
            let mut statement = tx
                .prepare_cached(&sql)
                .map_err(failed("preparing a batch's insert"))?;
            for row in &set.rows {
                for (index, value) in row.iter().enumerate() {
                    statement
                        .raw_bind_parameter(index + 1, value)
                        .map_err(failed("binding a batch's row"))?;
                }
                statement
                    .raw_execute()
                    .map_err(failed("writing a batch of rows"))?;
            }
        }
        // `$1` is SQLite's first parameter too.
        tx.execute(PRUNE_JOURNAL, [finalized])
            .map_err(failed("pruning the undo journal"))?;
        tx.execute(PRUNE_BLOCKS, [finalized])
            .map_err(failed("pruning the block window"))?;
        if publish {
            tx.execute(version::RAISE, [])
                .map_err(failed("raising the store version"))?;
        }
        tx.commit().map_err(failed("committing a batch"))
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Int(v) => ValueRef::Integer(*v),
            Self::Text(v) => ValueRef::Text(v.as_bytes()),
            Self::NullInt | Self::NullText => ValueRef::Null,
        }))
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::B256;
    use sqlx::Row;

    use super::*;
    use crate::store::Store;

    fn checkpoint(block: u64, finalized_block: u64) -> Checkpoint {
        Checkpoint {
            chain_id: 31337,
            block_number: block,
            block_hash: B256::with_last_byte(block as u8),
            finalized_block,
            head_block: block,
        }
    }

    /// A batch with one new block in the window, one journal row (a NULL before-image) and one
    /// `parameters` upsert of `value`.
    fn batch(block: i64, value: &str) -> Batch {
        let mut batch = Batch::default();
        batch.blocks.push(vec![
            Val::Int(block),
            Val::Text(format!("0x{block:064x}")),
            Val::Text(format!("0x{:064x}", block - 1)),
        ]);
        batch.journal.push(vec![
            Val::Int(block),
            Val::Int(0),
            Val::Text("parameters".into()),
            Val::Text("[]".into()),
            Val::NullText,
        ]);
        let mut parameters = RowSet {
            table: "parameters",
            columns: vec!["contract", "name", "value", "updated_block"],
            upsert_key: Some(2),
            rows: Vec::new(),
        };
        parameters.push(vec![
            Val::Text("UsageEscrow".into()),
            Val::Text("treasury".into()),
            Val::Text(value.into()),
            Val::Int(block),
        ]);
        batch.entities.push(parameters);
        batch
    }

    async fn count(store: &Store, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn commits_rows_upserts_the_checkpoint_and_prunes_below_the_finalized_block() -> Result<()>
    {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(&format!("sqlite://{}", dir.path().join("w.db").display())).await?;
        store.commit(batch(1, "0xaa"), checkpoint(1, 0)).await?;
        store.commit(batch(2, "0xbb"), checkpoint(2, 0)).await?;
        assert_eq!(count(&store, "block_hashes").await, 2);
        assert_eq!(count(&store, "undo_journal").await, 2);
        let parameter = sqlx::query("SELECT value, updated_block FROM parameters")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(parameter.get::<String, _>(0), "0xbb", "upserted, not added");
        assert_eq!(parameter.get::<i64, _>(1), 2);

        // Block 3 finalises block 2: the journal at or below it and the window below it go.
        store.commit(batch(3, "0xcc"), checkpoint(3, 2)).await?;
        assert_eq!(store.checkpoint().await?, Some(checkpoint(3, 2)));
        assert_eq!(count(&store, "undo_journal").await, 1);
        assert_eq!(count(&store, "block_hashes").await, 2);
        let before: Option<String> = sqlx::query_scalar("SELECT before_image FROM undo_journal")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(before, None, "a NULL is bound as NULL");

        assert_eq!(version::read(store.pool()).await?, 3, "a version per batch");
        store.commit(Batch::default(), checkpoint(4, 2)).await?;
        assert_eq!(
            version::read(store.pool()).await?,
            3,
            "a batch of eventless blocks moves only the checkpoint"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_rejected_row_rolls_the_whole_batch_back_and_is_not_retried() -> Result<()> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(&format!("sqlite://{}", dir.path().join("w.db").display())).await?;
        store.commit(batch(1, "0xaa"), checkpoint(1, 0)).await?;
        let mut bad = batch(2, "0xbb");
        // `block_number` is NOT NULL.
        bad.journal.push(vec![
            Val::NullInt,
            Val::Int(1),
            Val::Text("parameters".into()),
            Val::Text("[]".into()),
            Val::NullText,
        ]);
        let err = store.commit(bad, checkpoint(2, 0)).await.unwrap_err();
        assert!(
            matches!(err, IndexerError::SqliteWrite { .. }) && !err.is_transient(),
            "{err:?}"
        );
        assert!(err.to_string().contains("NOT NULL"), "{err}");
        assert_eq!(store.checkpoint().await?, Some(checkpoint(1, 0)));
        assert_eq!(
            count(&store, "block_hashes").await,
            1,
            "nothing of it landed"
        );
        // The writer goes on with the next batch.
        store.commit(batch(2, "0xbb"), checkpoint(2, 0)).await?;
        assert_eq!(store.checkpoint().await?, Some(checkpoint(2, 0)));
        Ok(())
    }

    #[test]
    fn a_busy_or_full_database_is_an_outage_a_constraint_is_not() {
        let failure = |code| {
            IndexerError::SqliteWrite {
                context: "testing",
                source: rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None),
            }
            .is_transient()
        };
        assert!(failure(rusqlite::ffi::SQLITE_BUSY));
        assert!(failure(rusqlite::ffi::SQLITE_FULL));
        assert!(!failure(rusqlite::ffi::SQLITE_CONSTRAINT));
    }

    #[tokio::test]
    async fn an_in_memory_database_is_refused_by_name() {
        let err = Store::open("sqlite::memory:").await.unwrap_err();
        assert!(err.to_string().contains("needs a file"), "{err}");
    }
}
