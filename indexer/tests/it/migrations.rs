//! A store made by an earlier release keeps every row through the migrations that rebuild its tables,
//! and one made before the two migration trees were numbered alike is renumbered
//! (`store/numbering.rs`).

use soil_indexer::store::{Backend, Store, numbering};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{Executor, Row};

use crate::support::TestResult;

/// The tables whose primary key is (`block_number`, `log_index`): the chain's event tables, which
/// `0010_event_tables_in_chain_order` clusters on that key.
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
    // The store as the release before `event_tables_in_chain_order` left it: two events in each table, out of key order.
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
    // The same tables, keyed alike, but for what 0011 changed since: nonce_invalidations dropped (the
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

/// Rows of the tables `0011_contracts_v2_events` changes, as the release before it wrote them.
const BEFORE_0011: [&str; 5] = [
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

/// A store of the release before 0011, at `url`, upgraded by opening it (0011, then 0012's adapter
/// columns and 0013's string bytes): its rows stay, the new columns hold what the migrations document
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
    for insert in BEFORE_0011 {
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

/// `backend`'s migrations as a binary from before the trees were numbered alike embedded them: this
/// binary's files (renamed since, never edited, so their SQL and checksums are the old ones) at their
/// old numbers, without the do-nothing migrations; only those up to `upto` (a description) when given.
fn old_migrator(backend: Backend, upto: Option<&str>) -> sqlx::migrate::Migrator {
    let mut migrator = numbering::migrator(backend);
    let mut old: Vec<sqlx::migrate::Migration> = numbering::old_numbering(backend)
        .iter()
        .map(|&(version, description)| {
            let mut migration = migrator
                .migrations
                .iter()
                .find(|m| m.description == description)
                .unwrap_or_else(|| panic!("{description} is among the files"))
                .clone();
            migration.version = version;
            migration
        })
        .collect();
    if let Some(upto) = upto {
        let last = old
            .iter()
            .position(|m| m.description == upto)
            .expect("a migration of the old numbering");
        old.truncate(last + 1);
    }
    migrator.migrations = old.into();
    migrator
}

/// The applied migrations as (version, description, checksum, success), in version order.
async fn applied(pool: &sqlx::AnyPool) -> TestResult<Vec<(i64, String, Vec<u8>, bool)>> {
    Ok(sqlx::query(
        "SELECT version, description, checksum, CASE WHEN success THEN 1 ELSE 0 END \
         FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| {
        (
            row.get(0),
            row.get(1),
            row.get(2),
            row.get::<i64, _>(3) == 1,
        )
    })
    .collect())
}

/// What a store on the current numbering holds in `_sqlx_migrations` once every migration is applied.
fn current_rows(backend: Backend) -> Vec<(i64, String, Vec<u8>, bool)> {
    numbering::migrator(backend)
        .iter()
        .map(|m| {
            (
                m.version,
                m.description.to_string(),
                m.checksum.to_vec(),
                true,
            )
        })
        .collect()
}

/// The store's tables (but `_sqlx_migrations`), each with its columns as (name, type).
async fn tables(
    pool: &sqlx::AnyPool,
    backend: Backend,
) -> TestResult<Vec<(String, Vec<(String, String)>)>> {
    let names: Vec<String> = sqlx::query_scalar(match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' \
             AND name <> '_sqlx_migrations' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND table_name <> '_sqlx_migrations' ORDER BY 1"
        }
    })
    .fetch_all(pool)
    .await?;
    let mut found = Vec::new();
    for name in names {
        let columns = sqlx::query(match backend {
            Backend::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
            Backend::Postgres => {
                "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND CAST(table_name AS TEXT) = $1 \
                 ORDER BY ordinal_position"
            }
        })
        .bind(&name)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
        found.push((name, columns));
    }
    Ok(found)
}

/// Everything that defines the schema, one line per table, column, index and constraint, sorted.
async fn schema(pool: &sqlx::AnyPool, backend: Backend) -> TestResult<Vec<String>> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT type || ' ' || name || ' on ' || tbl_name || ': ' || coalesce(sql, '') \
             FROM sqlite_master WHERE tbl_name <> '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes \
             WHERE schemaname = current_schema() \
             UNION ALL \
             SELECT 'column ' || table_name || '.' || column_name || ': ' || data_type || ' ' \
                 || coalesce(collation_name, '-') || ' ' || is_nullable || ' ' || coalesce(column_default, '-') \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             UNION ALL \
             SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ': ' \
                 || pg_get_constraintdef(oid) \
             FROM pg_constraint WHERE connamespace = current_schema()::regnamespace"
        }
    };
    let mut lines: Vec<String> = sqlx::query_scalar(sql).fetch_all(pool).await?;
    lines.sort();
    Ok(lines)
}

/// Every row of every table, as `table: v1|v2|…` (NULL as `NULL`), sorted.
async fn every_row(pool: &sqlx::AnyPool, backend: Backend) -> TestResult<Vec<String>> {
    rows_of(pool, &tables(pool, backend).await?).await
}

/// The rows of `tables`' columns (as [`tables`] lists them), as [`every_row`] writes them.
async fn rows_of(
    pool: &sqlx::AnyPool,
    tables: &[(String, Vec<(String, String)>)],
) -> TestResult<Vec<String>> {
    let mut found = Vec::new();
    for (table, columns) in tables {
        let each = columns
            .iter()
            .map(|(c, _)| format!("coalesce(CAST(\"{c}\" AS TEXT), 'NULL')"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT {each} FROM {table}"))
            .fetch_all(pool)
            .await?;
        found.extend(rows.into_iter().map(|row| format!("{table}: {row}")));
    }
    found.sort();
    Ok(found)
}

/// A row in every table (whose columns are all BIGINT or TEXT), beside any row a migration wrote.
async fn fill(pool: &sqlx::AnyPool, backend: Backend) -> TestResult {
    for (table, columns) in tables(pool, backend).await? {
        let names = columns
            .iter()
            .map(|(c, _)| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let values = columns
            .iter()
            .map(|(c, kind)| match kind.to_lowercase().as_str() {
                "bigint" => "1".to_owned(),
                "text" => format!("'{table}.{c}'"),
                other => panic!("{table}.{c} is {other}"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        sqlx::query(&format!(
            "INSERT INTO {table} ({names}) VALUES ({values}) ON CONFLICT DO NOTHING"
        ))
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// On the database each `url(name)` creates: a store the old numbering made (every migration, with a
/// row in every table) is renumbered on opening, keeping its rows and schema, and then opens like any;
/// one that stopped partway on the old numbering is renumbered and then migrated to the schema a fresh
/// store has; a fresh store gets the current numbering; a layout of neither numbering is refused.
async fn old_numbering_is_renumbered(
    backend: Backend,
    url: impl Fn(&str) -> TestResult<String>,
    partly: &str,
) -> TestResult {
    sqlx::any::install_default_drivers();

    let fresh = url("fresh")?;
    Store::open(&fresh).await?.close().await;
    let pool = sqlx::AnyPool::connect(&fresh).await?;
    assert_eq!(
        applied(&pool).await?,
        current_rows(backend),
        "a fresh store"
    );
    let fresh_schema = schema(&pool, backend).await?;
    assert_eq!(
        numbering::renumber(&pool, backend).await?,
        numbering::Numbering::Current
    );
    pool.close().await;

    let old = url("old")?;
    let pool = sqlx::AnyPool::connect(&old).await?;
    old_migrator(backend, None).run(&pool).await?;
    let old_rows: Vec<(i64, String)> = applied(&pool)
        .await?
        .into_iter()
        .map(|(version, description, ..)| (version, description))
        .collect();
    let expected: Vec<(i64, String)> = numbering::old_numbering(backend)
        .iter()
        .map(|&(v, d)| (v, d.to_owned()))
        .collect();
    assert_eq!(old_rows, expected, "the store as the old numbering left it");
    fill(&pool, backend).await?;
    let rows = every_row(&pool, backend).await?;
    assert_eq!(
        rows.len(),
        tables(&pool, backend).await?.len(),
        "a row in each table: {rows:?}"
    );
    let before = schema(&pool, backend).await?;
    let before_tables = tables(&pool, backend).await?;
    pool.close().await;

    // Renumbered, then migrated by the migrations written since the renumbering: every table, column,
    // index and row the old store had is kept, and the schema is a fresh store's.
    Store::open(&old).await?.close().await;
    let pool = sqlx::AnyPool::connect(&old).await?;
    assert_eq!(applied(&pool).await?, current_rows(backend), "renumbered");
    let after = schema(&pool, backend).await?;
    // (A SQLite `table` line is its CREATE TABLE text, which a later ALTER TABLE rewrites: its columns
    // are compared below.)
    for line in before.iter().filter(|l| !l.starts_with("table ")) {
        assert!(after.contains(line), "kept: {line}");
    }
    let after_tables = tables(&pool, backend).await?;
    for (table, columns) in &before_tables {
        let now = after_tables
            .iter()
            .find(|(t, _)| t == table)
            .map_or(&[][..], |(_, c)| c.as_slice());
        for column in columns {
            assert!(now.contains(column), "kept: {table}.{}", column.0);
        }
    }
    assert_eq!(after, fresh_schema, "the schema a fresh store has");
    assert_eq!(rows_of(&pool, &before_tables).await?, rows, "every row");
    assert_eq!(
        numbering::renumber(&pool, backend).await?,
        numbering::Numbering::Current,
        "done once"
    );
    pool.close().await;
    let store = Store::open(&old).await?;
    assert_eq!(rows_of(store.pool(), &before_tables).await?, rows);
    store.close().await;

    let partway = url("partway")?;
    let pool = sqlx::AnyPool::connect(&partway).await?;
    old_migrator(backend, Some(partly)).run(&pool).await?;
    let renumbered = numbering::renumber(&pool, backend).await?;
    let numbering::Numbering::Renumbered(moves) = renumbered else {
        panic!("{renumbered:?}");
    };
    assert!(!moves.is_empty());
    for (old, new) in moves {
        assert_eq!(new, old + 1, "from {old}");
    }
    pool.close().await;
    Store::open(&partway).await?.close().await;
    let pool = sqlx::AnyPool::connect(&partway).await?;
    assert_eq!(applied(&pool).await?, current_rows(backend));
    assert_eq!(schema(&pool, backend).await?, fresh_schema);
    pool.close().await;

    let unknown = url("unknown")?;
    let pool = sqlx::AnyPool::connect(&unknown).await?;
    let mut migrator = old_migrator(backend, Some("edge fee"));
    let mut stranger = migrator.migrations[0].clone();
    stranger.version = 6;
    stranger.description = "something else".into();
    stranger.sql = "SELECT 1".into();
    let mut migrations = migrator.migrations.to_vec();
    migrations.push(stranger);
    migrator.migrations = migrations.into();
    migrator.run(&pool).await?;
    let refused = Store::open(&unknown).await.unwrap_err().to_string();
    assert!(
        refused.contains("version 6 \"something else\"") && refused.contains("refusing"),
        "{refused}"
    );
    assert_eq!(applied(&pool).await?.len(), 6, "left as it was");
    pool.close().await;
    Ok(())
}

#[tokio::test]
async fn old_numbering_is_renumbered_on_sqlite() -> TestResult {
    let dir = tempfile::tempdir()?;
    old_numbering_is_renumbered(
        Backend::Sqlite,
        |name| {
            let path = dir.path().join(format!("{name}.db"));
            std::fs::File::create(&path)?;
            Ok(format!("sqlite://{}", path.display()))
        },
        // Old 0007, before which SQLite's numbers already differed.
        "model releases by release",
    )
    .await
}

#[tokio::test]
async fn old_numbering_is_renumbered_on_postgres() -> TestResult {
    let cluster = crate::support::PgCluster::start()?;
    old_numbering_is_renumbered(
        Backend::Postgres,
        |name| cluster.database(name),
        // Old 0010, the first PostgreSQL number that moved.
        "contracts v2 events",
    )
    .await
}

/// The two trees list the same files: each number names the same migration on both stores.
#[test]
fn migration_trees_are_numbered_alike() -> TestResult {
    let list = |tree: &str| -> TestResult<Vec<String>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(tree);
        let mut names = std::fs::read_dir(dir)?
            .map(|entry| Ok(entry?.file_name().to_string_lossy().into_owned()))
            .collect::<TestResult<Vec<String>>>()?;
        names.sort();
        Ok(names)
    };
    let sqlite = list("sqlite")?;
    assert_eq!(sqlite, list("postgres")?);
    for (i, name) in sqlite.iter().enumerate() {
        assert!(
            name.starts_with(&format!("{:04}_", i + 1)) && name.ends_with(".sql"),
            "numbered 0001, 0002, … without a gap: {name}"
        );
    }
    let embedded = |backend| -> Vec<(i64, String)> {
        numbering::migrator(backend)
            .iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect()
    };
    assert_eq!(embedded(Backend::Sqlite), embedded(Backend::Postgres));
    // Every migration of the old numberings is among them.
    for backend in [Backend::Sqlite, Backend::Postgres] {
        assert_eq!(
            numbering::old_to_current(backend)?.len(),
            numbering::old_numbering(backend).len()
        );
    }
    Ok(())
}
