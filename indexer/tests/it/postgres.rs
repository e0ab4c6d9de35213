//! The same suite on PostgreSQL (a throwaway cluster): exact aggregates against the chain, reorg
//! rollback and replay, and the same graph as SQLite holds.

use soil_bindings::testnet::LocalChain;
use soil_indexer::projection::rebuild::{dump, rebuild};
use soil_indexer::store::{Store, version};
use sqlx::postgres::PgListener;

use crate::reorg::reorg_replays_to_a_clean_state;
use crate::support::{
    Actors, PgCluster, TestResult, index, setup_graph, sqlite, sync_config, use_graph,
};
use crate::sync::check_against_chain;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_holds_the_same_exact_graph_and_survives_reorgs() -> TestResult {
    let cluster = PgCluster::start()?;

    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    setup_graph(&chain, &actors).await?;
    use_graph(&chain, &actors).await?;
    let synced = cluster.database("synced")?;
    let pg = Store::open(&synced).await?;
    index(&chain, &pg, sync_config(3)).await?;
    check_against_chain(&chain, &actors, &pg).await?;
    let dir = tempfile::tempdir()?;
    let (lite, _) = sqlite(dir.path(), "same.db").await?;
    index(&chain, &lite, sync_config(3)).await?;
    let graph = dump(&pg).await?;
    assert_eq!(
        graph,
        dump(&lite).await?,
        "PostgreSQL and SQLite hold the same graph"
    );
    let mut listener = PgListener::connect(&synced).await?;
    listener.listen(version::CHANNEL).await?;
    let before = version::read(pg.pool()).await?;
    rebuild(&pg).await?;
    assert_eq!(dump(&pg).await?, graph, "rebuild on PostgreSQL");
    assert_eq!(
        listener.recv().await?.payload(),
        format!("{} *", before + 1),
        "a rebuild announces a change to everything"
    );

    let followed = Store::open(&cluster.database("followed")?).await?;
    let clean = Store::open(&cluster.database("clean")?).await?;
    reorg_replays_to_a_clean_state(&followed, &clean).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_compares_every_text_column_in_byte_order() -> TestResult {
    let cluster = PgCluster::start()?;
    let store = Store::open(&cluster.database("collation")?).await?;
    // A column left at the database's default collation has none named here.
    let other: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.collation_name::text \
         FROM information_schema.columns c \
         JOIN information_schema.tables t USING (table_schema, table_name) \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
           AND c.data_type = 'text' AND c.table_name NOT LIKE '\\_sqlx%' \
           AND c.collation_name IS DISTINCT FROM 'C'",
    )
    .fetch_all(store.pool())
    .await?;
    assert!(
        other.is_empty(),
        "TEXT columns not in byte order (give them COLLATE \"C\", as migration 0006 did): {other:?}"
    );
    let text_columns: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.columns \
         WHERE table_schema = current_schema() AND data_type = 'text' AND collation_name = 'C'",
    )
    .fetch_one(store.pool())
    .await?;
    assert!(text_columns > 50, "only {text_columns} text columns seen");
    Ok(())
}
