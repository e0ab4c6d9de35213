//! Subscriptions over WebSocket (graphql-transport-ws), served by the real axum router over a store the
//! real indexer fills from anvil: new receipts and contributions are pushed as they are indexed, and
//! across a real reorg, on SQLite and PostgreSQL, a subscriber is sent the settlements the reorg reverted
//! again, flagged `removed`, before the new branch's, so adding and taking away leaves it with the
//! chain's final state; a subscriber asking for confirmations deeper than the reorg is never sent a
//! removal.

use std::collections::BTreeMap;
use std::time::Duration;

use alloy::primitives::{aliases::U96, keccak256};
use alloy::providers::Provider;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use soil_bindings::contracts::IDatanetRegistry;
use soil_bindings::testnet::LocalChain;
use soil_indexer::api::ApiConfig;
use soil_indexer::projection::rebuild::dump;
use soil_indexer::store::Store;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::api::Served;
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

/// Reads the next `next` message of a graphql-transport-ws stream, skipping pings.
pub(crate) async fn next_message<S>(ws: &mut S) -> TestResult<Value>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await?
            .ok_or("socket closed")??;
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text)?;
            if value["type"] != "ping" {
                return Ok(value);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settlement_subscription_pushes_new_receipts_over_websocket() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    support::setup_graph(&chain, &actors).await?;
    let dir = tempfile::tempdir()?;
    let (store, _) = support::sqlite(dir.path(), "subscription.db").await?;
    support::index(&chain, &store, support::sync_config(2)).await?;
    let api = Served::start(&store, ApiConfig::default()).await?;

    let mut ws = subscribe(
        &api,
        "subscription { settlements(modelId: 1) { removed node { digest fee inputTokens attributions { contribution { id } weightPpm } } } }",
    )
    .await?;
    // Let the subscription take its starting checkpoint before the chain moves.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Asked twice at this block: the second answer comes from the response cache.
    let totals = "{ totals { inferenceCount } }";
    let before = api.data(totals, json!({})).await?;
    assert_eq!(api.data(totals, json!({})).await?, before);
    // A block with no Soil event moves `_meta` (never cached) and leaves the cached figures right.
    let meta = "{ _meta { blockNumber } }";
    let at = support::u64_of(&api.data(meta, json!({})).await?["_meta"]["blockNumber"])
        .ok_or("blockNumber")?;
    support::advance_time(&chain, 1).await?;
    support::index(&chain, &store, support::sync_config(2)).await?;
    assert_eq!(
        api.data(meta, json!({})).await?["_meta"]["blockNumber"],
        json!((at + 1).to_string())
    );
    assert_eq!(api.data(totals, json!({})).await?, before);
    // Answers cached before the settlement, each read from rows or tables it changes.
    let contribution = "{ contribution(id: 1) { earnings { inferences } } }";
    let graph = r#"{ attributionGraph(root: "contribution:1", depth: 1) { nodes { id } } }"#;
    let latest = "{ inferences(last: 1) { edges { node { digest } } } }";
    let earner = "{ contribution(id: 2) { contributor { earnings { attributed } } } }";
    // A graph whose shape the settlement leaves as it is (contribution 3 is not named), with a figure it
    // changes: the revenue of the datanet all three contributions are in.
    let neighbour =
        r#"{ attributionGraph(root: "contribution:3", depth: 1) { nodes { id value } } }"#;
    let mut cached = Vec::new();
    for query in [contribution, graph, latest, earner, neighbour] {
        let answer = api.data(query, json!({})).await?;
        assert_eq!(api.data(query, json!({})).await?, answer);
        cached.push(answer);
    }

    support::settle(
        &chain,
        &actors,
        &actors.relayer,
        0,
        &[(300, 77, vec![(1, 500_000), (2, 333_333)])],
    )
    .await?;
    support::index(&chain, &store, support::sync_config(2)).await?;

    let message = next_message(&mut ws).await?;
    assert_eq!(message["type"], "next", "{message}");
    let event = &message["payload"]["data"]["settlements"];
    assert_eq!(event["removed"], json!(false), "{message}");
    let settled = &event["node"];
    assert_eq!(
        settled["fee"],
        json!((support::PRICE * 377 / 1000).to_string())
    );
    assert_eq!(settled["inputTokens"], "300");
    assert_eq!(
        settled["attributions"],
        json!([
            { "contribution": { "id": "1" }, "weightPpm": 500_000 },
            { "contribution": { "id": "2" }, "weightPpm": 333_333 }
        ])
    );
    // The new block's commit retired the cached answer: the same query now counts the settlement.
    assert_eq!(
        api.data(totals, json!({})).await?["totals"]["inferenceCount"],
        json!(
            (support::u64_of(&before["totals"]["inferenceCount"]).ok_or("count")? + 1).to_string()
        )
    );
    let digest = settled["digest"].as_str().ok_or("digest")?;
    let stored = api
        .data(
            "query($d: String!) { inference(digest: $d) { fee } }",
            json!({ "d": digest }),
        )
        .await?;
    assert_eq!(stored["inference"]["fee"], settled["fee"]);

    // Every cached answer the settlement changed was retired: each query now sees it.
    let now = api.data(contribution, json!({})).await?;
    let count = |v: &Value| support::u64_of(&v["contribution"]["earnings"]["inferences"]);
    assert_eq!(count(&now), count(&cached[0]).map(|n| n + 1), "{now}");
    let node = json!({ "id": format!("inference:{digest}") });
    let now = api.data(graph, json!({})).await?;
    let nodes = now["attributionGraph"]["nodes"].as_array().ok_or("nodes")?;
    assert!(nodes.contains(&node), "{now}");
    assert!(
        !cached[1]["attributionGraph"]["nodes"]
            .as_array()
            .ok_or("nodes")?
            .contains(&node)
    );
    let now = api.data(latest, json!({})).await?;
    assert_eq!(
        now["inferences"]["edges"][0]["node"]["digest"],
        json!(digest)
    );
    let attributed = |v: &Value| -> TestResult<u128> {
        let text = v["contribution"]["contributor"]["earnings"]["attributed"]
            .as_str()
            .ok_or("attributed")?;
        Ok(text.parse()?)
    };
    let now = api.data(earner, json!({})).await?;
    assert!(attributed(&now)? > attributed(&cached[3])?, "{now}");
    let revenue = api
        .data("{ datanet(id: 1) { revenue { total } } }", json!({}))
        .await?["datanet"]["revenue"]["total"]
        .clone();
    let datanet_value = |v: &Value| -> TestResult<Value> {
        let nodes = v["attributionGraph"]["nodes"].as_array().ok_or("nodes")?;
        let datanet = nodes.iter().find(|n| n["id"] == "datanet:1");
        Ok(datanet.ok_or("datanet:1 in the graph")?["value"].clone())
    };
    let now = api.data(neighbour, json!({})).await?;
    assert_eq!(datanet_value(&now)?, revenue, "{now}");
    assert_ne!(
        datanet_value(&cached[4])?,
        revenue,
        "the settlement credited datanet 1"
    );
    Ok(())
}

/// A graphql-transport-ws connection to `api` with `query` subscribed as id "1".
pub(crate) async fn subscribe(
    api: &Served,
    query: &str,
) -> TestResult<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
> {
    subscribe_at(&api.base, query).await
}

/// [`subscribe`] to the API at `base` (`http://host:port`).
pub(crate) async fn subscribe_at(
    base: &str,
    query: &str,
) -> TestResult<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
> {
    let mut request =
        format!("{}/graphql", base.replace("http://", "ws://")).into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    ws.send(Message::Text(
        json!({ "type": "connection_init" }).to_string().into(),
    ))
    .await?;
    assert_eq!(next_message(&mut ws).await?["type"], "connection_ack");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    ws.send(Message::Text(subscribe.to_string().into())).await?;
    Ok(ws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_indexer_undoes_a_reorg_and_subscriptions_deliver_the_replayed_contribution()
-> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    support::setup_graph(&chain, &actors).await?;
    let dir = tempfile::tempdir()?;
    let (store, _) = support::sqlite(dir.path(), "followed.db").await?;
    let follower = support::Follower::start(&chain, &store, support::sync_config(64)).await?;
    // Subscriptions look every 2 s: the revert and the replay below both land between two looks.
    let config = ApiConfig {
        poll_interval: Duration::from_secs(2),
        ..ApiConfig::default()
    };
    let api = Served::start(&store, config).await?;
    let mut ws = subscribe(
        &api,
        "subscription { contributions(datanetId: 1) { removed blockNumber node { id contentHash uri } } }",
    )
    .await?;
    // Let the subscription take its starting point before the chain moves.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let fork = support::reader(&chain).get_block_number().await?;
    // A provider of its own each time: its nonce is read from the chain as it is then.
    let contribute = async |document: &str| -> TestResult {
        let registry = IDatanetRegistry::new(
            chain.deployment.datanet_registry,
            support::wallet(&chain, &actors.alice),
        );
        support::send!(registry.contribute(
            1,
            keccak256(document),
            500,
            format!("file:///{document}.txt"),
            U96::from(100u64),
        ));
        Ok(())
    };
    contribute("orphaned").await?;
    let message = next_message(&mut ws).await?;
    let orphaned = message["payload"]["data"]["contributions"].clone();
    assert_eq!(orphaned["removed"], json!(false), "{message}");
    assert_eq!(orphaned["node"]["id"], json!("5"), "{message}");
    assert_eq!(orphaned["node"]["uri"], json!("file:///orphaned.txt"));
    follower.caught_up(&chain).await?;

    // The contribution's block is replaced; the new branch takes contribution id 5 for another document.
    let head = support::reader(&chain).get_block_number().await?;
    reorg(&chain, head - fork).await?;
    contribute("replayed").await?;
    follower.caught_up(&chain).await?;
    // First the orphaned contribution, as it was delivered, removed; then the new branch's.
    let message = next_message(&mut ws).await?;
    let mut removed = orphaned.clone();
    removed["removed"] = json!(true);
    assert_eq!(message["payload"]["data"]["contributions"], removed);
    let message = next_message(&mut ws).await?;
    let delivered = &message["payload"]["data"]["contributions"];
    assert_eq!(
        delivered,
        &json!({
            "removed": false,
            "blockNumber": (head + 1).to_string(),
            "node": { "id": "5", "contentHash": keccak256("replayed").to_string(), "uri": "file:///replayed.txt" }
        }),
        "{message}"
    );

    let reverted_to: Vec<(i64,)> = sqlx::query_as("SELECT reverted_to FROM reorgs")
        .fetch_all(store.pool())
        .await?;
    assert_eq!(
        reverted_to,
        vec![(fork as i64,)],
        "one reorg, back to the fork"
    );
    drop(follower);
    let (clean, _) = support::sqlite(dir.path(), "clean.db").await?;
    support::index(&chain, &clean, support::sync_config(64)).await?;
    assert_eq!(
        dump(&store).await?,
        dump(&clean).await?,
        "followed through the reorg == clean run"
    );
    Ok(())
}
