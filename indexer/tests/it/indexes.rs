//! Secondary indexes set aside for a long backfill come back exactly as the migrations made them, on
//! SQLite and PostgreSQL, whether rebuilt in place or after the store was closed and reopened.

use soil_indexer::store::{Backend, Store};
use sqlx::Row;

use crate::support::{PgCluster, TestResult, sqlite};

/// The store's indexes other than primary keys, as (name, definition), sorted.
async fn indexes(store: &Store) -> TestResult<Vec<(String, String)>> {
    let sql = match store.backend() {
        Backend::Sqlite => {
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = current_schema() \
             AND indexname NOT LIKE '%_pkey' ORDER BY indexname"
        }
    };
    let rows = sqlx::query(sql).fetch_all(store.pool()).await?;
    Ok(rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

async fn set_aside_and_rebuilt(url: &str) -> TestResult {
    let store = Store::open(url).await?;
    let migrated = indexes(&store).await?;
    let unique: Vec<_> = migrated
        .iter()
        .filter(|(_, definition)| definition.starts_with("CREATE UNIQUE INDEX"))
        .cloned()
        .collect();
    let secondary = store.defer_indexes().await?;
    assert!(secondary > 0, "{url}: the schema has secondary indexes");
    assert_eq!(secondary, migrated.len() - unique.len(), "{url}");
    assert_eq!(
        indexes(&store).await?,
        unique,
        "{url}: unique indexes (one event once) stay"
    );
    assert_eq!(store.defer_indexes().await?, 0, "{url}: already aside");

    assert_eq!(store.restore_indexes().await?, secondary, "{url}");
    assert_eq!(indexes(&store).await?, migrated, "{url}: rebuilt in place");
    assert_eq!(
        store.restore_indexes().await?,
        0,
        "{url}: nothing left aside"
    );

    // A process that dies with its indexes aside: they stay aside, counted, until a syncer rebuilds
    // them (readers opening the store meanwhile do not).
    store.defer_indexes().await?;
    store.close().await;
    let reopened = Store::open(url).await?;
    assert_eq!(reopened.deferred_indexes().await?, secondary, "{url}");
    assert_eq!(indexes(&reopened).await?, unique, "{url}: still aside");
    assert_eq!(reopened.restore_indexes().await?, secondary, "{url}");
    assert_eq!(
        indexes(&reopened).await?,
        migrated,
        "{url}: rebuilt after a reopen"
    );
    reopened.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondary_indexes_set_aside_come_back_as_migrated() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (store, url) = sqlite(dir.path(), "indexes.db").await?;
    store.close().await;
    set_aside_and_rebuilt(&url).await?;

    let cluster = PgCluster::start()?;
    set_aside_and_rebuilt(&cluster.database("indexes")?).await
}
