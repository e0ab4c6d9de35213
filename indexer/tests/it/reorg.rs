//! Reorgs made with `anvil_reorg`: orphaned blocks' rows and their effect on the aggregates are undone
//! and the new branch replayed, to exactly the state of a clean run; a reorg deeper than the finality
//! depth stops the indexer with a clear error.

use alloy::providers::Provider;
use soil_bindings::contracts::IUsageEscrow;
use soil_bindings::testnet::LocalChain;
use soil_indexer::IndexerError;
use soil_indexer::projection::rebuild::dump;
use soil_indexer::store::{Store, version};
use sqlx::Row;

use crate::support::{
    Actors, TestResult, index, reader, send, settle, setup_graph, sqlite, sync_config, use_graph,
    wallet,
};

/// The branch that replaces the orphaned one: a different settlement and a claim.
pub(crate) async fn alternative_history(chain: &LocalChain, actors: &Actors) -> TestResult {
    settle(
        chain,
        actors,
        &actors.node,
        100,
        &[(40, 60, vec![(2, 250_000), (3, 250_000)])],
    )
    .await?;
    let escrow = IUsageEscrow::new(chain.deployment.usage_escrow, wallet(chain, &actors.bob));
    send!(escrow.claim(actors.bob.address()));
    Ok(())
}

/// Replaces the last `depth` blocks by as many empty ones (`anvil_reorg`): the chain keeps its height,
/// those blocks get new hashes and the state is rolled back to the fork point.
pub(crate) async fn reorg(chain: &LocalChain, depth: u64) -> TestResult {
    let provider = reader(chain);
    let head = provider.get_block_number().await?;
    let before = provider.get_block_by_number(head.into()).await?;
    let () = provider
        .raw_request(
            "anvil_reorg".into(),
            serde_json::json!({ "depth": depth, "tx_block_pairs": [] }),
        )
        .await?;
    let after = provider.get_block_by_number(head.into()).await?;
    assert_eq!(provider.get_block_number().await?, head, "same height");
    assert_ne!(
        before.map(|b| b.header.hash),
        after.map(|b| b.header.hash),
        "the head block was replaced"
    );
    Ok(())
}

async fn count(store: &Store, table: &str) -> TestResult<i64> {
    Ok(sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await?
        .try_get(0)?)
}

/// Indexes a graph, a branch that is then orphaned, and its replacement into `followed`; indexes the
/// final chain from scratch into `clean`; the two must hold the same graph.
pub(crate) async fn reorg_replays_to_a_clean_state(followed: &Store, clean: &Store) -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    setup_graph(&chain, &actors).await?;
    index(&chain, followed, sync_config(64)).await?;
    let fork = reader(&chain).get_block_number().await?;
    use_graph(&chain, &actors).await?;
    let orphaned_head = reader(&chain).get_block_number().await?;
    index(&chain, followed, sync_config(64)).await?;
    assert_eq!(count(followed, "receipts").await?, 3);
    assert!(
        count(followed, "undo_journal").await? > 0,
        "unfinalised blocks are journalled"
    );

    // Same height, other blocks: the settlements are undone before the chain grows again.
    let before = version::read(followed.pool()).await?;
    reorg(&chain, orphaned_head - fork).await?;
    let syncer = index(&chain, followed, sync_config(64)).await?;
    assert_eq!(
        version::read(followed.pool()).await?,
        before + 1,
        "the revert raised the stored version (the new blocks hold no events)"
    );
    assert_eq!(syncer.checkpoint().block_number, orphaned_head);
    assert_eq!(
        count(followed, "receipts").await?,
        0,
        "the orphaned settlements are gone"
    );

    alternative_history(&chain, &actors).await?;
    let syncer = index(&chain, followed, sync_config(64)).await?;
    assert_eq!(
        syncer.checkpoint().block_number,
        reader(&chain).get_block_number().await?
    );
    assert_eq!(
        count(followed, "receipts").await?,
        1,
        "the new branch's settlement is indexed"
    );

    index(&chain, clean, sync_config(64)).await?;
    assert_eq!(
        dump(followed).await?,
        dump(clean).await?,
        "reverted + replayed == clean run"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_is_rolled_back_and_replayed_to_the_clean_state() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (followed, _) = sqlite(dir.path(), "followed.db").await?;
    let (clean, _) = sqlite(dir.path(), "clean.db").await?;
    reorg_replays_to_a_clean_state(&followed, &clean).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_deeper_than_finality_stops_the_indexer() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    let fork = reader(&chain).get_block_number().await?;
    setup_graph(&chain, &actors).await?;
    let dir = tempfile::tempdir()?;
    let (store, _) = sqlite(dir.path(), "deep.db").await?;
    index(&chain, &store, sync_config(2)).await?;
    let head = reader(&chain).get_block_number().await?;
    assert!(
        head - fork > 2,
        "the reorg must be deeper than the finality depth"
    );
    reorg(&chain, head - fork).await?;
    let err = index(&chain, &store, sync_config(2))
        .await
        .expect_err("a deep reorg must stop the indexer");
    let err = err
        .downcast::<IndexerError>()
        .map_err(|e| format!("unexpected error: {e}"))?;
    assert!(
        matches!(
            *err,
            IndexerError::DeepReorg {
                finality_depth: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("reorg deeper than the finality depth"),
        "{err}"
    );
    Ok(())
}
