//! A store made by an earlier release keeps every row through the migrations that rebuild its tables.

use soil_indexer::store::Store;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{Executor, Row};

use crate::support::TestResult;

/// The tables whose primary key is (`block_number`, `log_index`): the chain's event tables, which
/// `0009_event_tables_in_chain_order` clusters on that key.
async fn event_tables(pool: &SqlitePool) -> TestResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT t.name FROM sqlite_master t WHERE t.type = 'table' AND ( \
             SELECT group_concat(name) FROM ( \
                 SELECT name FROM pragma_table_info(t.name) WHERE pk > 0 ORDER BY pk)) \
             = 'block_number,log_index' \
         ORDER BY t.name",
    )
    .fetch_all(pool)
    .await?)
}

/// The secondary indexes of `tables` as (name, definition), sorted.
async fn indexes(pool: &SqlitePool, tables: &[String]) -> TestResult<Vec<(String, String)>> {
    let mut found: Vec<(String, String)> = Vec::new();
    for table in tables {
        let rows = sqlx::query(
            "SELECT name, sql FROM sqlite_master \
             WHERE type = 'index' AND sql IS NOT NULL AND tbl_name = $1",
        )
        .bind(table)
        .fetch_all(pool)
        .await?;
        found.extend(rows.iter().map(|row| (row.get(0), row.get(1))));
    }
    found.sort();
    Ok(found)
}

/// Every row of `table` in key order, each column as text (NULL as `NULL`), one string per row.
async fn rows(pool: &SqlitePool, table: &str) -> TestResult<Vec<String>> {
    let columns: Vec<String> =
        sqlx::query(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
    let each = columns
        .iter()
        .map(|c| format!("coalesce(CAST({c} AS TEXT), 'NULL')"))
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    let sql = format!("SELECT {each} FROM {table} ORDER BY block_number, log_index");
    Ok(sqlx::query_scalar(&sql).fetch_all(pool).await?)
}

#[tokio::test]
async fn event_tables_rebuilt_in_chain_order_keep_their_rows_and_indexes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("old.db");
    let pool = SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await?;
    // The store as the release before 0009 left it: two events in each table, out of key order.
    let mut before = sqlx::migrate!("./migrations/sqlite");
    let upto = before
        .migrations
        .iter()
        .position(|m| m.description == "event tables in chain order")
        .expect("the migration under test");
    before.migrations = before.migrations[..upto].to_vec().into();
    before.run(&pool).await?;
    let tables = event_tables(&pool).await?;
    assert_eq!(tables.len(), 9, "{tables:?}");
    for table in &tables {
        let columns: Vec<(String, String)> = sqlx::query(&format!(
            "SELECT name, type FROM pragma_table_info('{table}')"
        ))
        .fetch_all(&pool)
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
        for (block, log) in [(9, 2), (7, 5)] {
            let values = columns
                .iter()
                .map(|(name, kind)| match (name.as_str(), kind.as_str()) {
                    ("block_number", _) => block.to_string(),
                    ("log_index", _) => log.to_string(),
                    (_, "BIGINT") => (block * 10 + log).to_string(),
                    (name, _) => format!("'{name}-{block}-{log}'"),
                })
                .collect::<Vec<_>>()
                .join(", ");
            pool.execute(format!("INSERT INTO {table} VALUES ({values})").as_str())
                .await?;
        }
    }
    // A backfill had set `credits_by_account` aside when the process stopped.
    pool.execute(
        "INSERT INTO deferred_indexes (name, definition) \
         SELECT name, sql FROM sqlite_master WHERE name = 'credits_by_account'; \
         DROP INDEX credits_by_account;",
    )
    .await?;
    let mut kept = Vec::new();
    for table in &tables {
        kept.push(rows(&pool, table).await?);
    }
    let mut secondary = indexes(&pool, &tables).await?;
    secondary.extend(
        sqlx::query("SELECT name, definition FROM deferred_indexes")
            .fetch_all(&pool)
            .await?
            .iter()
            .map(|row| (row.get(0), row.get(1))),
    );
    secondary.sort();
    pool.close().await;

    let store = Store::open(&format!("sqlite://{}", path.display())).await?;
    store.close().await;
    let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path)).await?;
    assert_eq!(
        event_tables(&pool).await?,
        tables,
        "the same tables, keyed alike"
    );
    for (table, kept) in tables.iter().zip(kept) {
        assert_eq!(
            rows(&pool, table).await?,
            kept,
            "{table}: every row, unchanged"
        );
        let sql: String =
            sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1")
                .bind(table)
                .fetch_one(&pool)
                .await?;
        assert!(sql.ends_with("WITHOUT ROWID"), "{table}: {sql}");
    }
    assert_eq!(
        indexes(&pool, &tables).await?,
        secondary,
        "every secondary index, the one set aside too"
    );
    let aside: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deferred_indexes")
        .fetch_one(&pool)
        .await?;
    assert_eq!(aside, 0, "built again, so no longer recorded as set aside");
    // The key still keeps one event once.
    let twice = pool
        .execute(
            "INSERT INTO credits (block_number, log_index, tx_hash, account, amount) \
             VALUES (7, 5, 'x', 'y', '1')",
        )
        .await
        .unwrap_err();
    assert!(twice.to_string().contains("UNIQUE"), "{twice}");
    Ok(())
}
