//! Reverting to a parent block: the undo journal replayed backwards restores every entity and aggregate
//! row an orphaned block changed, the orphaned blocks' facts and raw events are deleted, and the
//! checkpoint moves back, all in one transaction.

use alloy::primitives::B256;

use crate::error::{IndexerError, Result};
use crate::store::batch::{Checkpoint, row_u64, write_checkpoint};
use crate::store::entity::Entity;
use crate::store::fact::FACT_TABLES;
use crate::store::rows::RowSet;
use crate::store::value::int;
use crate::store::{Backend, Changes, Store, version};
use crate::with_entity_type;

/// The entity tables (restored from the journal; emptied by a rebuild).
pub const ENTITY_TABLES: &[&str] = &[
    "datanets",
    "curators",
    "contributions",
    "releases",
    "models",
    "accounts",
    "totals",
    "parameters",
    "channels",
];

async fn restore<E: Entity>(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    key: &str,
    before: Option<&str>,
) -> Result<()> {
    let corrupt = |e: serde_json::Error| IndexerError::CorruptRow {
        table: "undo_journal",
        reason: e.to_string(),
    };
    let key: E::Key = serde_json::from_str(key).map_err(corrupt)?;
    match before {
        None => {
            let conditions: Vec<String> = E::KEY_COLUMNS
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c} = ${}", i + 1))
                .collect();
            let sql = format!(
                "DELETE FROM {} WHERE {}",
                E::TABLE,
                conditions.join(" AND ")
            );
            let mut query = sqlx::query(&sql);
            for value in E::key_values(&key) {
                query = value.bind(query);
            }
            query
                .execute(&mut *conn)
                .await
                .map_err(IndexerError::db("reverting a created row"))?;
        }
        Some(before) => {
            let row: E = serde_json::from_str(before).map_err(corrupt)?;
            let mut set = RowSet {
                table: E::TABLE,
                columns: E::KEY_COLUMNS.iter().chain(E::COLUMNS).copied().collect(),
                upsert_key: Some(E::KEY_COLUMNS.len()),
                rows: Vec::new(),
            };
            set.push(
                E::key_values(&key)
                    .into_iter()
                    .chain(row.values())
                    .collect(),
            );
            set.write(conn, backend).await?;
        }
    }
    Ok(())
}

impl Store {
    /// Reverts everything above `ancestor` (whose hash is `ancestor_hash`), returning how many journal
    /// entries were undone. Callers check that `ancestor` is not below the checkpoint's finalized block.
    pub async fn revert_to(
        &self,
        checkpoint: Checkpoint,
        ancestor: u64,
        ancestor_hash: B256,
    ) -> Result<u64> {
        let above = int("block number", ancestor)?;
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(IndexerError::db("starting a revert"))?;
        let entries = sqlx::query(
            "SELECT block_number, seq, table_name, row_key, before_image FROM undo_journal \
             WHERE block_number > $1 ORDER BY block_number DESC, seq DESC",
        )
        .bind(above)
        .fetch_all(&mut *tx)
        .await
        .map_err(IndexerError::db("reading the undo journal"))?;
        for entry in &entries {
            use sqlx::Row;
            let read = |name: &str| -> Result<Option<String>> {
                entry
                    .try_get::<Option<String>, _>(name)
                    .map_err(|e| IndexerError::CorruptRow {
                        table: "undo_journal",
                        reason: format!("{name}: {e}"),
                    })
            };
            let table = read("table_name")?.unwrap_or_default();
            let key = read("row_key")?.unwrap_or_default();
            let before = read("before_image")?;
            let block = row_u64(entry, "block_number", "undo_journal")?;
            tracing::trace!(block, table, key, "undoing");
            with_entity_type!(
                table.as_str(),
                E => restore::<E>(&mut tx, self.backend(), &key, before.as_deref()).await?,
                return Err(IndexerError::CorruptRow {
                    table: "undo_journal",
                    reason: format!("unknown table `{table}`"),
                })
            );
        }
        for table in FACT_TABLES
            .iter()
            .chain(&["raw_events", "block_hashes", "undo_journal"])
        {
            sqlx::query(&format!("DELETE FROM {table} WHERE block_number > $1"))
                .bind(above)
                .execute(&mut *tx)
                .await
                .map_err(IndexerError::db("deleting orphaned rows"))?;
        }
        record_reorg(&mut tx, checkpoint.block_number, ancestor, entries.len()).await?;
        write_checkpoint::<sqlx::Any>(
            &mut tx,
            Checkpoint {
                block_number: ancestor,
                block_hash: ancestor_hash,
                ..checkpoint
            },
        )
        .await?;
        version::publish(&mut tx, self.backend(), &Changes::everything()).await?;
        tx.commit()
            .await
            .map_err(IndexerError::db("committing a revert"))?;
        self.changed(Changes::everything());
        Ok(entries.len() as u64)
    }
}

/// Appends a reorg to `reorgs` through `conn` (inside the revert's transaction): the checkpoint it
/// reverted from, the ancestor it reverted to, the journal entries it undid and when.
async fn record_reorg(
    conn: &mut sqlx::AnyConnection,
    from: u64,
    to: u64,
    undone: usize,
) -> Result<()> {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    sqlx::query(
        "INSERT INTO reorgs (reorg_id, reverted_from, reverted_to, undone, at) \
         SELECT COALESCE(MAX(reorg_id), 0) + 1, $1, $2, $3, $4 FROM reorgs",
    )
    .bind(int("block number", from)?)
    .bind(int("block number", to)?)
    .bind(int("undone entries", undone as u64)?)
    .bind(int("time", at)?)
    .execute(&mut *conn)
    .await
    .map_err(IndexerError::db("recording a reorg"))?;
    Ok(())
}

/// Empties every projection, aggregate and the journal through `conn` (inside the caller's
/// transaction), keeping `raw_events` and the checkpoint: the first step of `soil-indexer rebuild`.
pub async fn clear_projections(conn: &mut sqlx::AnyConnection) -> Result<()> {
    for table in ENTITY_TABLES
        .iter()
        .chain(FACT_TABLES)
        .chain(&["undo_journal"])
    {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *conn)
            .await
            .map_err(IndexerError::db("clearing projections"))?;
    }
    Ok(())
}
