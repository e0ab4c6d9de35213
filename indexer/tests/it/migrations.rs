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
    // The same tables, keyed alike, but for what 0010 changed since: nonce_invalidations dropped (the
    // escrow lost its event), skipped_receipts added.
    let mut after: Vec<String> = tables
        .iter()
        .filter(|t| *t != "nonce_invalidations")
        .cloned()
        .chain(["skipped_receipts".to_owned()])
        .collect();
    after.sort();
    assert_eq!(event_tables(&pool).await?, after);
    for (table, kept) in tables.iter().zip(kept) {
        if table == "nonce_invalidations" {
            continue;
        }
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

/// Rows of the tables `0010_contracts_v2_events` changes, as the release before it wrote them.
const BEFORE_0010: [&str; 5] = [
    "INSERT INTO datanets (datanet_id, owner, min_stake, metadata_uri, created_block, created_tx, curator_count, \
     contribution_count, accepted_count, rejected_count, accepted_tokens, slashed, release_count, \
     attributed_revenue, pool_revenue, revenue) \
     VALUES (1, '0xowner', '100', 'ipfs://d', 3, '0xtx', 1, 2, 1, 0, 10, '0', 1, '5', '6', '11')",
    "INSERT INTO models (model_id, owner, weights_hash, uri, price_per_kilo_token, owner_bps, data_bps, node_bps, \
     treasury_bps, registered_block, registered_tx, receipt_count, input_tokens, output_tokens, revenue, \
     owner_revenue, data_revenue, node_revenue, treasury_revenue, attributed_revenue, pool_revenue) \
     VALUES (1, '0xowner', '0xweights', 'file:///m', '1000', 2000, 6000, 1500, 500, 4, '0xtx', 1, 7, 8, '15', \
     '3', '9', '2', '1', '5', '4')",
    "INSERT INTO receipts (digest, payer, model_id, node, nonce, fee, input_tokens, output_tokens, output_hash, \
     output_uri, attribution, owner_amount, data_amount, node_amount, treasury_amount, attributed_amount, \
     unattributed_amount, block_number, block_timestamp, tx_hash, log_index) \
     VALUES ('0xdigest', '0xpayer', 1, '0xnode', '7', '15', 7, 8, '0xout', 'ipfs://o', '0x', '3', '9', '2', \
     '1', '5', '4', 5, NULL, '0xtx', 2)",
    "INSERT INTO totals (id, event_count, datanet_count, contribution_count, accepted_count, rejected_count, \
     release_count, model_count, receipt_count, input_tokens, output_tokens, fees, owner_revenue, data_revenue, \
     node_revenue, treasury_revenue, attributed_revenue, pool_accrued, pool_claimed, credited, claimed, \
     deposited, withdrawn, slashed) \
     VALUES (1, 9, 1, 2, 1, 0, 1, 1, 1, 7, 8, '15', '3', '9', '2', '1', '5', '4', '0', '11', '0', '20', '0', '0')",
    "INSERT INTO nonce_invalidations (block_number, log_index, tx_hash, payer, word_pos, mask) \
     VALUES (6, 0, '0xtx', '0xpayer', '0', '256')",
];

/// A store of the release before 0010, at `url`, upgraded by opening it (0010, then 0011's adapter
/// columns and 0012's string bytes): its rows stay, the new columns hold what the migrations document
/// for rows of the previous contracts (a whole model, no base share, no bytes beside the text), the
/// dropped table is gone and the new one is there, empty.
async fn contracts_v2_migration_keeps_the_rows(
    url: &str,
    mut migrator: sqlx::migrate::Migrator,
) -> TestResult {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await?;
    let upto = migrator
        .migrations
        .iter()
        .position(|m| m.description == "contracts v2 events")
        .expect("the migration under test");
    migrator.migrations = migrator.migrations[..upto].to_vec().into();
    migrator.run(&pool).await?;
    for insert in BEFORE_0010 {
        sqlx::query(insert).execute(&pool).await?;
    }
    pool.close().await;

    let store = Store::open(url).await?;
    let dump = soil_indexer::projection::rebuild::dump(&store).await?;
    let row = |table: &str| -> String {
        let mut lines = dump
            .lines()
            .skip_while(|l| !l.starts_with(&format!("## {table} (")));
        let header = lines.next().unwrap_or_default().to_owned();
        format!("{header}\n{}", lines.next().unwrap_or_default())
    };
    let zero = format!("0x{}", "0".repeat(64));
    assert_eq!(
        row("receipts"),
        format!(
            "## receipts (digest|payer|model_id|node|nonce|fee|input_tokens|output_tokens|prompt_hash|output_hash|\
             output_uri|output_uri_bytes|deadline|attribution_version|attribution_hash|attribution|owner_amount|\
             data_amount|node_amount|treasury_amount|attributed_amount|unattributed_amount|base_amount|base_owner|\
             block_number|block_timestamp|tx_hash|log_index)\n\
             0xdigest|0xpayer|1|0xnode|7|15|7|8|{zero}|0xout|ipfs://o|NULL|0|0|{zero}|0x|3|9|2|1|5|4|0|NULL|5|NULL|0xtx|2"
        )
    );
    let datanet = row("datanets");
    assert!(
        datanet.ends_with("\n1|0xowner|100|ipfs://d|NULL|0|0|3|0xtx|1|2|1|0|10|0|1|5|6|11"),
        "{datanet}"
    );
    let model = row("models");
    assert!(
        model.ends_with("\n1|0xowner|0xweights|file:///m|NULL|1000|NULL|NULL|2000|6000|1500|500|4|0xtx|1|7|8|15|3|9|2|1|5|4\
                         |NULL|0|NULL|NULL|NULL|0|0|0"),
        "{model}"
    );
    let totals = row("totals");
    assert!(
        totals.ends_with("|20|0|0|0|0"),
        "swept and base_revenue start at 0: {totals}"
    );
    assert!(
        dump.contains(
            "## skipped_receipts (block_number|log_index|tx_hash|batch_index|digest|reason)\n"
        ),
        "{dump}"
    );
    let dropped = sqlx::query("SELECT COUNT(*) FROM nonce_invalidations")
        .fetch_one(store.pool())
        .await;
    assert!(dropped.is_err(), "nonce_invalidations is gone");
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn contracts_v2_migration_keeps_the_rows_on_sqlite() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("v1.db");
    std::fs::File::create(&path)?;
    contracts_v2_migration_keeps_the_rows(
        &format!("sqlite://{}", path.display()),
        sqlx::migrate!("./migrations/sqlite"),
    )
    .await
}

#[tokio::test]
async fn contracts_v2_migration_keeps_the_rows_on_postgres() -> TestResult {
    let cluster = crate::support::PgCluster::start()?;
    contracts_v2_migration_keeps_the_rows(
        &cluster.database("v1")?,
        sqlx::migrate!("./migrations/postgres"),
    )
    .await
}
