//! Secondary indexes set aside during a long backfill. Every row a backfill writes also goes into each
//! secondary index of its table (four on receipts, four on attribution edges); building those indexes
//! once, from the finished tables, costs far less than keeping them up to date row by row.
//!
//! Only non-unique indexes are set aside: primary keys and unique indexes stay, since they keep each
//! event once and serve the upserts. Each index's definition is recorded in `deferred_indexes` in the
//! transaction that drops it, so the set is never lost: the syncer rebuilds it once the backfill is
//! caught up, and a syncer started over a store a killed process left that way carries on from there
//! ([`Store::deferred_indexes`]). Meanwhile queries stay correct, only slower.

use std::time::Instant;

use sqlx::{AnyConnection, Row};

use crate::error::{IndexerError, Result};
use crate::store::{Backend, Store};

const SETTING_ASIDE: &str = "setting secondary indexes aside";
const REBUILDING: &str = "rebuilding the secondary indexes set aside";

/// Runs `sql`, which takes no parameters, on `conn`.
async fn execute(conn: &mut AnyConnection, sql: &str, context: &'static str) -> Result<()> {
    sqlx::query(sql)
        .execute(conn)
        .await
        .map_err(IndexerError::db(context))?;
    Ok(())
}

impl Store {
    /// Drops the secondary (non-unique) indexes, recording their definitions in the same transaction;
    /// returns how many were set aside (none when they already are).
    pub async fn defer_indexes(&self) -> Result<usize> {
        let listing = match self.backend() {
            Backend::Sqlite => {
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql LIKE 'CREATE INDEX %' ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT indexname::text, indexdef FROM pg_indexes \
                 WHERE schemaname = current_schema() AND indexdef LIKE 'CREATE INDEX %' ORDER BY indexname"
            }
        };
        let failed = || IndexerError::db(SETTING_ASIDE);
        let mut tx = self.pool().begin().await.map_err(failed())?;
        let indexes = sqlx::query(listing)
            .fetch_all(&mut *tx)
            .await
            .map_err(failed())?;
        for index in &indexes {
            let name: String = index.try_get(0).map_err(failed())?;
            let definition: String = index.try_get(1).map_err(failed())?;
            sqlx::query("INSERT INTO deferred_indexes (name, definition) VALUES ($1, $2)")
                .bind(&name)
                .bind(definition)
                .execute(&mut *tx)
                .await
                .map_err(failed())?;
            execute(&mut tx, &format!("DROP INDEX {name}"), SETTING_ASIDE).await?;
        }
        tx.commit().await.map_err(failed())?;
        if !indexes.is_empty() {
            tracing::info!(
                indexes = indexes.len(),
                "secondary indexes set aside until the backfill is caught up"
            );
        }
        Ok(indexes.len())
    }

    /// How many secondary indexes are set aside.
    pub async fn deferred_indexes(&self) -> Result<usize> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM deferred_indexes")
            .fetch_one(self.pool())
            .await
            .and_then(|row| row.try_get(0))
            .map_err(IndexerError::db("counting the secondary indexes set aside"))?;
        Ok(count as usize)
    }

    /// Rebuilds every index set aside and forgets it, in one transaction; returns how many.
    pub async fn restore_indexes(&self) -> Result<usize> {
        let failed = || IndexerError::db(REBUILDING);
        let started = Instant::now();
        let mut tx = self.pool().begin().await.map_err(failed())?;
        let indexes = sqlx::query("SELECT name, definition FROM deferred_indexes ORDER BY name")
            .fetch_all(&mut *tx)
            .await
            .map_err(failed())?;
        for index in &indexes {
            let definition: String = index.try_get(1).map_err(failed())?;
            execute(&mut tx, &definition, REBUILDING).await?;
        }
        execute(&mut tx, "DELETE FROM deferred_indexes", REBUILDING).await?;
        tx.commit().await.map_err(failed())?;
        if !indexes.is_empty() {
            tracing::info!(
                indexes = indexes.len(),
                took = ?started.elapsed(),
                "secondary indexes rebuilt"
            );
        }
        Ok(indexes.len())
    }
}
