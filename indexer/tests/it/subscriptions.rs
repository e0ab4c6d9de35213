//! Subscriptions across a real anvil reorg, followed by a running indexer, on SQLite and PostgreSQL: a
//! subscriber is sent the settlements a reorg reverted again, flagged `removed`, before the new
//! branch's, so adding and taking away leaves it with the chain's final state; a subscriber asking for
//! confirmations deeper than the reorg is never sent a removal.

use std::collections::BTreeMap;
use std::time::Duration;

use alloy::providers::Provider;
use serde_json::Value;
use soil_bindings::testnet::LocalChain;
use soil_indexer::api::ApiConfig;
use soil_indexer::store::Store;

use crate::api::{Served, next_message, subscribe};
use crate::reorg::reorg;
use crate::support::{self, Actors, PgCluster, Signed, TestResult};

/// One event a settlements subscription delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Delivered {
    removed: bool,
    block_number: u64,
    block_hash: String,
    digest: String,
}

const SETTLEMENTS: &str =
    "settlements{args} { removed blockNumber blockHash node { digest blockNumber } }";

/// The next `count` events of a settlements subscription.
async fn delivered<S>(ws: &mut S, count: usize) -> TestResult<Vec<Delivered>>
where
    S: futures::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    let mut events = Vec::new();
    while events.len() < count {
        let message = next_message(ws).await?;
        assert_eq!(message["type"], "next", "{message}");
        let event = &message["payload"]["data"]["settlements"];
        let text = |v: &Value| v.as_str().map(str::to_owned).ok_or(format!("{message}"));
        let block_number = support::u64_of(&event["blockNumber"]).ok_or(format!("{message}"))?;
        assert_eq!(
            event["node"]["blockNumber"], event["blockNumber"],
            "an added item is in its block; a removed one is as it was delivered"
        );
        events.push(Delivered {
            removed: event["removed"].as_bool().ok_or("removed")?,
            block_number,
            block_hash: text(&event["blockHash"])?,
            digest: text(&event["node"]["digest"])?,
        });
    }
    Ok(events)
}

/// Asserts nothing more arrives on `ws` for a while (pings aside).
async fn quiet<S>(ws: &mut S) -> TestResult
where
    S: futures::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    match tokio::time::timeout(Duration::from_secs(1), next_message(ws)).await {
        Err(_) => Ok(()),
        Ok(message) => Err(format!("unexpected event: {}", message?).into()),
    }
}

/// The hash of block `number` on the chain now.
async fn hash_of(chain: &LocalChain, number: u64) -> TestResult<String> {
    let block = support::reader(chain)
        .get_block_by_number(number.into())
        .await?
        .ok_or("no such block")?;
    Ok(block.header.hash.to_string())
}

/// A receipt with `nonce` attributed to contribution 1, signed by the payer.
async fn signed(chain: &LocalChain, actors: &Actors, nonce: u64) -> TestResult<Signed> {
    let deadline = support::now(chain).await? + 3_600;
    let (receipt, attribution) = support::receipt(
        chain,
        actors,
        nonce,
        deadline,
        &(10, 20, vec![(1, 1_000_000)]),
    )
    .await?;
    support::sign(chain, &actors.payer, receipt, &attribution).await
}

/// Settles `receipt` alone in a block of its own; returns the block.
async fn settle_one(chain: &LocalChain, actors: &Actors, receipt: &Signed) -> TestResult<u64> {
    let mined = support::submit(chain, &actors.relayer, vec![receipt.clone()]).await?;
    Ok(mined.block_number.ok_or("no block number")?)
}

/// Settlement A is kept; B and C, two blocks above it, are orphaned by a reorg of depth 2; C is
/// settled again in the new branch. A live subscriber sees A, B, C added, then C and B removed, then
/// C added from its new block; one asking for 3 confirmations sees A and the new C, each once.
async fn subscribers_follow_settlements_across_a_reorg(store: &Store) -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    support::setup_graph(&chain, &actors).await?;
    let follower = support::Follower::start(&chain, store, support::sync_config(64)).await?;
    let config = ApiConfig {
        poll_interval: Duration::from_millis(50),
        ..ApiConfig::default()
    };
    let api = Served::start(store, config).await?;
    let query = |args: &str| format!("subscription {{ {} }}", SETTLEMENTS.replace("{args}", args));
    let mut live = subscribe(&api, &query("")).await?;
    let mut deep = subscribe(&api, &query("(confirmations: 3)")).await?;
    // Let the subscriptions take their starting points before the chain moves.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (a, b, c) = (
        signed(&chain, &actors, 0).await?,
        signed(&chain, &actors, 1).await?,
        signed(&chain, &actors, 2).await?,
    );
    let a_block = settle_one(&chain, &actors, &a).await?;
    let fork = support::reader(&chain).get_block_number().await?;
    let b_block = settle_one(&chain, &actors, &b).await?;
    let c_block = settle_one(&chain, &actors, &c).await?;
    follower.caught_up(&chain).await?;
    let before = delivered(&mut live, 3).await?;
    assert!(before.iter().all(|e| !e.removed), "{before:?}");
    assert_eq!(
        before.iter().map(|e| e.block_number).collect::<Vec<_>>(),
        vec![a_block, b_block, c_block]
    );
    for event in &before {
        assert_eq!(event.block_hash, hash_of(&chain, event.block_number).await?);
    }
    let (a_digest, b_digest, c_digest) = (
        before[0].digest.clone(),
        before[1].digest.clone(),
        before[2].digest.clone(),
    );

    // B's and C's blocks are replaced by empty ones; C comes again in the block after them.
    let head = support::reader(&chain).get_block_number().await?;
    assert_eq!(head - fork, 2);
    reorg(&chain, head - fork).await?;
    let c_again = settle_one(&chain, &actors, &c).await?;
    assert!(c_again > c_block);
    follower.caught_up(&chain).await?;
    let after = delivered(&mut live, 3).await?;
    assert_eq!(
        after[..2],
        [
            Delivered {
                removed: true,
                ..before[2].clone()
            },
            Delivered {
                removed: true,
                ..before[1].clone()
            },
        ],
        "the reverted settlements, newest first, as they were delivered"
    );
    assert_eq!(
        after[2],
        Delivered {
            removed: false,
            block_number: c_again,
            block_hash: hash_of(&chain, c_again).await?,
            digest: c_digest.clone(),
        },
        "the re-included settlement, from its new block"
    );
    for event in &after[..2] {
        assert_ne!(
            event.block_hash,
            hash_of(&chain, event.block_number).await?,
            "a removed item names its orphaned block"
        );
    }
    quiet(&mut live).await?;

    // Added minus removed is what the store holds, and the store holds what the chain does.
    let mut held: BTreeMap<String, i64> = BTreeMap::new();
    for event in before.iter().chain(&after) {
        *held.entry(event.digest.clone()).or_default() += if event.removed { -1 } else { 1 };
    }
    held.retain(|_, count| *count != 0);
    assert!(held.values().all(|count| *count == 1), "{held:?}");
    let stored: Vec<(String,)> = sqlx::query_as("SELECT digest FROM receipts ORDER BY digest")
        .fetch_all(store.pool())
        .await?;
    let stored: Vec<String> = stored.into_iter().map(|(d,)| d).collect();
    assert_eq!(held.into_keys().collect::<Vec<_>>(), stored);
    let mut expected = vec![a_digest.clone(), c_digest.clone()];
    expected.sort();
    assert_eq!(stored, expected, "B is gone, A and C remain");
    assert!(!stored.contains(&b_digest));

    // Three blocks on C's new block, the confirmed subscriber has both, once, and no removal.
    for _ in 0..3 {
        support::advance_time(&chain, 1).await?;
    }
    follower.caught_up(&chain).await?;
    let confirmed = delivered(&mut deep, 2).await?;
    assert_eq!(
        confirmed,
        vec![
            Delivered {
                removed: false,
                block_number: a_block,
                block_hash: hash_of(&chain, a_block).await?,
                digest: a_digest,
            },
            Delivered {
                removed: false,
                block_number: c_again,
                block_hash: hash_of(&chain, c_again).await?,
                digest: c_digest,
            },
        ]
    );
    quiet(&mut deep).await?;
    quiet(&mut live).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_are_told_of_reverted_settlements_on_sqlite() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (store, _) = support::sqlite(dir.path(), "subscribed.db").await?;
    subscribers_follow_settlements_across_a_reorg(&store).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_are_told_of_reverted_settlements_on_postgres() -> TestResult {
    let cluster = PgCluster::start()?;
    let store = Store::open(&cluster.database("subscribed")?).await?;
    subscribers_follow_settlements_across_a_reorg(&store).await
}
