//! LoRA adapters: a base model's derivative share, an adapter registered on it with the real registry,
//! its receipts' split, the GraphQL fields and graph edges, on SQLite and PostgreSQL alike; a reorg that
//! drops the registration drops the adapter; hostile manifest URIs stop neither store.

use alloy::primitives::{Bytes, U256, aliases::U96, keccak256};
use alloy::providers::Provider;
use alloy::sol_types::{SolCall, SolValue};
use serde_json::{Value, json};
use soil_bindings::contracts::IModelRegistry::{self, AdapterRegistration, Split};
use soil_bindings::contracts::IUsageEscrow;
use soil_bindings::testnet::LocalChain;
use soil_indexer::api::ApiConfig;
use soil_indexer::projection::rebuild::{dump, rebuild};
use soil_indexer::store::Store;

use crate::api::Served;
use crate::reorg::reorg;
use crate::support::{
    self, Actors, PgCluster, TestResult, index, reader, send, setup_graph, sqlite, sync_config,
    wallet,
};
use crate::sync::{amount, lower};

/// The derivative share model 1's owner declares, and the manifest URI of the adapter.
pub(crate) const SHARE_BPS: u16 = 750;
const MANIFEST_URI: &str = "https://manifests.example/adapter-2.json";

/// An adapter registration on model 1 by bob, trained on release 1, at the scenario's price and split.
fn registration(manifest: &str, manifest_uri: &str) -> AdapterRegistration {
    let (owner_bps, data_bps, node_bps, treasury_bps) = support::SPLIT;
    AdapterRegistration {
        baseModelId: 1,
        adapterHash: keccak256(format!("adapter {manifest}")),
        uri: "file:///adapter.gguf".into(),
        manifestHash: keccak256(manifest),
        manifestUri: manifest_uri.into(),
        releaseIds: vec![1],
        trainedOnReleaseIds: vec![1],
        pricePerKiloToken: U96::from(support::PRICE),
        split: Split {
            ownerBps: owner_bps,
            dataBps: data_bps,
            nodeBps: node_bps,
            treasuryBps: treasury_bps,
        },
        maxBaseShareBps: SHARE_BPS,
    }
}

pub(crate) async fn set_share(chain: &LocalChain, actors: &Actors) -> TestResult {
    let models = IModelRegistry::new(
        chain.deployment.model_registry,
        wallet(chain, &actors.model_owner),
    );
    send!(models.setDerivativeShare(1, SHARE_BPS));
    Ok(())
}

pub(crate) async fn register_adapter(
    chain: &LocalChain,
    actors: &Actors,
    manifest: &str,
) -> TestResult {
    let models = IModelRegistry::new(chain.deployment.model_registry, wallet(chain, &actors.bob));
    send!(models.registerAdapter(registration(manifest, MANIFEST_URI)));
    Ok(())
}

/// One receipt of model 2 (the adapter): 600 + 400 tokens, 50 % attributed to contribution 1. Returns
/// its fee.
async fn settle_on_adapter(chain: &LocalChain, actors: &Actors) -> TestResult<U256> {
    let deadline = support::now(chain).await? + 3_600;
    let (mut receipt, attribution) =
        support::receipt(chain, actors, 70, deadline, &(600, 400, vec![(1, 500_000)])).await?;
    let models = IModelRegistry::new(chain.deployment.model_registry, reader(chain));
    receipt.modelId = 2;
    receipt.fee = models
        .quoteFee(2, U256::from(1_000u64), deadline)
        .call()
        .await?;
    let signed = support::sign(chain, &actors.payer, receipt.clone(), &attribution).await?;
    support::submit(chain, &actors.relayer, vec![signed]).await?;
    Ok(receipt.fee)
}

const MODELS: &str = "{
  base: model(id: 1) { id baseModel { id } baseShareBps derivativeShareBps manifestHash manifestUri
    adapters(first: 10) { nodes { id } } trainedOn { id } revenue { total owner base derivative } }
  adapter: model(id: 2) { id baseModel { id owner { address } } baseShareBps derivativeShareBps
    manifestHash manifestUri adapters(first: 10) { nodes { id } } trainedOn { id } releases { id }
    revenue { total owner base data node treasury derivative } }
  inferences(first: 10) { nodes { model { id } fee split { owner base baseOwner data node treasury } } }
  totals { fees ownerRevenue baseRevenue dataRevenue nodeRevenue treasuryRevenue }
}";

fn graph_edges(data: &Value) -> Vec<(String, String, String)> {
    let mut edges: Vec<(String, String, String)> = data["attributionGraph"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .map(|e| {
                    let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                    (s("source"), s("target"), s("kind"))
                })
                .collect()
        })
        .unwrap_or_default();
    edges.sort();
    edges
}

/// What the API serves of the adapter scenario over `store`; asserted, and returned to compare stores.
async fn check_api(store: &Store, actors: &Actors, fee: U256) -> TestResult<Value> {
    let api = Served::start(store, ApiConfig::default()).await?;
    let data = api.data(MODELS, json!({})).await?;
    let base = &data["base"];
    assert_eq!(base["baseModel"], Value::Null, "{data}");
    assert_eq!(base["baseShareBps"], Value::Null);
    assert_eq!(base["derivativeShareBps"], json!(SHARE_BPS));
    assert_eq!(base["manifestHash"], Value::Null);
    assert_eq!(base["adapters"]["nodes"], json!([{ "id": "2" }]));
    assert_eq!(
        base["trainedOn"],
        json!([]),
        "a whole model was trained on nothing recorded"
    );
    let adapter = &data["adapter"];
    assert_eq!(adapter["baseModel"]["id"], json!("1"), "{data}");
    assert_eq!(
        adapter["baseModel"]["owner"]["address"],
        json!(format!("{:#x}", actors.model_owner.address()))
    );
    assert_eq!(adapter["baseShareBps"], json!(SHARE_BPS));
    assert_eq!(adapter["derivativeShareBps"], json!(0));
    assert_eq!(
        adapter["manifestHash"],
        json!(format!("{:#x}", keccak256("manifest 1")))
    );
    assert_eq!(adapter["manifestUri"], json!(MANIFEST_URI));
    assert_eq!(adapter["adapters"]["nodes"], json!([]));
    assert_eq!(adapter["trainedOn"], json!([{ "id": "1" }]));
    assert_eq!(adapter["releases"], json!([{ "id": "1" }]));

    // The split as the escrow books it: the base's share out of the owner share, both rounded down.
    let bps = |b: u16| fee * U256::from(b) / U256::from(10_000u64);
    let (owner_bps, data_bps, node_bps, _) = support::SPLIT;
    let base_share = bps(SHARE_BPS);
    let owner = bps(owner_bps) - base_share;
    let (data_share, node) = (bps(data_bps), bps(node_bps));
    let treasury = fee - bps(owner_bps) - data_share - node;
    assert!(base_share > U256::ZERO, "the fee {fee} pays a share");
    let s = |v: U256| json!(v.to_string());
    assert_eq!(
        adapter["revenue"],
        json!({ "total": s(fee), "owner": s(owner), "base": s(base_share), "data": s(data_share),
                "node": s(node), "treasury": s(treasury), "derivative": "0" })
    );
    assert_eq!(base["revenue"]["derivative"], s(base_share));
    assert_eq!(base["revenue"]["base"], json!("0"));
    let inference = data["inferences"]["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|n| n["model"]["id"] == json!("2")))
        .ok_or("the adapter's inference")?;
    assert_eq!(
        inference["split"],
        json!({ "owner": s(owner), "base": s(base_share),
                "baseOwner": format!("{:#x}", actors.model_owner.address()),
                "data": s(data_share), "node": s(node), "treasury": s(treasury) })
    );
    let totals = &data["totals"];
    let sum: U256 = [
        "ownerRevenue",
        "baseRevenue",
        "dataRevenue",
        "nodeRevenue",
        "treasuryRevenue",
    ]
    .iter()
    .map(|k| {
        totals[k]
            .as_str()
            .unwrap_or("x")
            .parse::<U256>()
            .unwrap_or(U256::MAX)
    })
    .fold(U256::ZERO, |a, b| a.saturating_add(b));
    assert_eq!(
        s(sum),
        totals["fees"],
        "the parts sum to the fees: {totals}"
    );
    assert_eq!(totals["baseRevenue"], s(base_share));

    // The base's owner earned the share as a model owner; the adapter's owner the rest.
    let earnings = api
        .data(
            "query($a: String!, $b: String!) {
               base: account(address: $a) { earnings { asModelOwner asBaseModelOwner } }
               adapter: account(address: $b) { earnings { asModelOwner asBaseModelOwner } } }",
            json!({ "a": format!("{:#x}", actors.model_owner.address()),
                    "b": format!("{:#x}", actors.bob.address()) }),
        )
        .await?;
    assert_eq!(
        earnings["base"]["earnings"]["asBaseModelOwner"],
        s(base_share)
    );
    assert_eq!(earnings["adapter"]["earnings"]["asModelOwner"], s(owner));
    assert_eq!(
        earnings["adapter"]["earnings"]["asBaseModelOwner"],
        json!("0")
    );

    // The graph: adapter → base and adapter → its training release, from either end.
    let query = "query($root: ID!) { attributionGraph(root: $root, depth: 1) { edges { source target kind } } }";
    let from_adapter = api.data(query, json!({ "root": "model:2" })).await?;
    let edges = graph_edges(&from_adapter);
    for edge in [
        ("model:2", "model:1", "ADAPTS"),
        ("model:2", "release:1", "FINE_TUNED_ON"),
        ("model:2", "release:1", "TRAINED_ON"),
    ] {
        let edge = (edge.0.to_owned(), edge.1.to_owned(), edge.2.to_owned());
        assert!(edges.contains(&edge), "{edge:?} in {edges:?}");
    }
    let from_base = graph_edges(&api.data(query, json!({ "root": "model:1" })).await?);
    assert!(
        from_base.contains(&("model:2".into(), "model:1".into(), "ADAPTS".into())),
        "{from_base:?}"
    );
    let from_release = graph_edges(&api.data(query, json!({ "root": "release:1" })).await?);
    assert!(
        from_release.contains(&("model:2".into(), "release:1".into(), "FINE_TUNED_ON".into())),
        "{from_release:?}"
    );
    assert!(
        !from_release.contains(&("model:1".into(), "release:1".into(), "FINE_TUNED_ON".into())),
        "a whole model has no training release: {from_release:?}"
    );
    Ok(json!({ "models": data, "earnings": earnings, "graph": [edges, from_base, from_release] }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapters_are_served_with_their_base_share_and_graph_edges_on_both_stores() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    setup_graph(&chain, &actors).await?;
    set_share(&chain, &actors).await?;
    register_adapter(&chain, &actors, "manifest 1").await?;
    let fee = settle_on_adapter(&chain, &actors).await?;

    let dir = tempfile::tempdir()?;
    let (lite, _) = sqlite(dir.path(), "adapters.db").await?;
    index(&chain, &lite, sync_config(2)).await?;
    let cluster = PgCluster::start()?;
    let pg = Store::open(&cluster.database("adapters")?).await?;
    index(&chain, &pg, sync_config(2)).await?;
    let graph = dump(&lite).await?;
    assert_eq!(dump(&pg).await?, graph, "the same graph on both stores");
    rebuild(&lite).await?;
    assert_eq!(
        dump(&lite).await?,
        graph,
        "rebuilt from raw events on SQLite"
    );
    rebuild(&pg).await?;
    assert_eq!(
        dump(&pg).await?,
        graph,
        "rebuilt from raw events on PostgreSQL"
    );

    let served = check_api(&lite, &actors, fee).await?;
    assert_eq!(
        check_api(&pg, &actors, fee).await?,
        served,
        "both stores serve the same"
    );

    // The escrow agrees to the wei: each owner's balance there is what the index credited it (the base
    // owner's with the derivative share) less what it claimed.
    let escrow = IUsageEscrow::new(chain.deployment.usage_escrow, reader(&chain));
    for owner in [actors.model_owner.address(), actors.bob.address()] {
        let balance = escrow.balanceOf(owner).call().await?;
        for store in [&lite, &pg] {
            let row = |column: &str| {
                format!(
                    "SELECT {column} FROM accounts WHERE address = '{}'",
                    lower(owner)
                )
            };
            let owed =
                amount(store, &row("credited")).await? - amount(store, &row("claimed")).await?;
            assert_eq!(balance, owed, "escrow balance of {owner}");
        }
    }
    Ok(())
}

/// Follows a chain where the adapter is registered after the last block kept by a reorg: the reorg drops
/// it (model, training releases, base's adapters, graph edges), another registration replaces it, and
/// the store ends as a clean run of the final chain.
async fn reorg_drops_the_adapter(followed: &Store, clean: &Store) -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    setup_graph(&chain, &actors).await?;
    set_share(&chain, &actors).await?;
    let fork = reader(&chain).get_block_number().await?;
    index(&chain, followed, sync_config(64)).await?;
    register_adapter(&chain, &actors, "manifest 1").await?;
    index(&chain, followed, sync_config(64)).await?;
    let api = Served::start(followed, ApiConfig::default()).await?;
    let query = "{ model(id: 2) { manifestHash trainedOn { id } }
                   base: model(id: 1) { derivativeShareBps adapters(first: 5) { nodes { id } } }
                   attributionGraph(root: \"model:1\", depth: 1) { edges { source target kind } } }";
    let before = api.data(query, json!({})).await?;
    assert_eq!(
        before["model"]["trainedOn"],
        json!([{ "id": "1" }]),
        "{before}"
    );
    assert_eq!(before["base"]["adapters"]["nodes"], json!([{ "id": "2" }]));

    let head = reader(&chain).get_block_number().await?;
    reorg(&chain, head - fork).await?;
    index(&chain, followed, sync_config(64)).await?;
    let after = api.data(query, json!({})).await?;
    assert_eq!(after["model"], Value::Null, "the adapter is gone: {after}");
    assert_eq!(after["base"]["adapters"]["nodes"], json!([]));
    assert_eq!(
        after["base"]["derivativeShareBps"],
        json!(SHARE_BPS),
        "set before the fork"
    );
    assert!(
        !graph_edges(&after)
            .iter()
            .any(|(_, _, kind)| kind == "ADAPTS"),
        "{after}"
    );
    for table in ["model_trained_on", "models"] {
        let rows: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE model_id = 2"))
                .fetch_one(followed.pool())
                .await?;
        assert_eq!(rows, 0, "{table}");
    }

    // Another adapter takes id 2 on the new branch.
    register_adapter(&chain, &actors, "manifest 2").await?;
    index(&chain, followed, sync_config(64)).await?;
    let replaced = api.data(query, json!({})).await?;
    assert_eq!(
        replaced["model"]["manifestHash"],
        json!(format!("{:#x}", keccak256("manifest 2"))),
        "{replaced}"
    );
    index(&chain, clean, sync_config(64)).await?;
    assert_eq!(
        dump(followed).await?,
        dump(clean).await?,
        "followed through the reorg == clean run"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_that_drops_an_adapter_drops_it_from_the_api_on_both_stores() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (followed, _) = sqlite(dir.path(), "followed.db").await?;
    let (clean, _) = sqlite(dir.path(), "clean.db").await?;
    reorg_drops_the_adapter(&followed, &clean).await?;
    let cluster = PgCluster::start()?;
    let followed = Store::open(&cluster.database("followed")?).await?;
    let clean = Store::open(&cluster.database("clean")?).await?;
    reorg_drops_the_adapter(&followed, &clean).await
}

alloy::sol! {
    /// `AdapterRegistration` with its manifest URI as the bytes it is: ABI-encoded like the `string`, so
    /// bytes that are not UTF-8 can be sent.
    struct RegistrationBytes {
        uint64 baseModelId;
        bytes32 adapterHash;
        string uri;
        bytes32 manifestHash;
        bytes manifestUri;
        uint64[] releaseIds;
        uint64[] trainedOnReleaseIds;
        uint96 pricePerKiloToken;
        RawSplit split;
        uint16 maxBaseShareBps;
    }
    struct RawSplit {
        uint16 ownerBps;
        uint16 dataBps;
        uint16 nodeBps;
        uint16 treasuryBps;
    }
}

/// Manifest URIs anyone may register: a NUL (which PostgreSQL text cannot hold) and bytes that are not
/// UTF-8; with the text each is served as.
const HOSTILE_MANIFEST_URIS: [(&[u8], &str); 2] = [
    (
        b"https://m.example/nul\0here",
        "https://m.example/nul\u{fffd}here",
    ),
    (
        b"ipfs://\xff\xfe-not-utf8\xc3",
        "ipfs://\u{fffd}\u{fffd}-not-utf8\u{fffd}",
    ),
];

async fn register_hostile(chain: &LocalChain, actors: &Actors) -> TestResult {
    for (k, (uri, _)) in HOSTILE_MANIFEST_URIS.iter().enumerate() {
        let r = registration(&format!("hostile {k}"), "");
        let bytes = RegistrationBytes {
            baseModelId: r.baseModelId,
            adapterHash: r.adapterHash,
            uri: r.uri,
            manifestHash: r.manifestHash,
            manifestUri: Bytes::copy_from_slice(uri),
            releaseIds: r.releaseIds,
            trainedOnReleaseIds: r.trainedOnReleaseIds,
            pricePerKiloToken: r.pricePerKiloToken,
            split: RawSplit {
                ownerBps: r.split.ownerBps,
                dataBps: r.split.dataBps,
                nodeBps: r.split.nodeBps,
                treasuryBps: r.split.treasuryBps,
            },
            maxBaseShareBps: r.maxBaseShareBps,
        };
        let input = [
            IModelRegistry::registerAdapterCall::SELECTOR.as_slice(),
            &(bytes,).abi_encode_params(),
        ]
        .concat();
        let tx = alloy::rpc::types::TransactionRequest::default()
            .to(chain.deployment.model_registry)
            .input(Bytes::from(input).into());
        let receipt = wallet(chain, &actors.bob)
            .send_transaction(tx)
            .await?
            .get_receipt()
            .await?;
        assert!(receipt.status(), "registerAdapter reverted: {receipt:?}");
    }
    Ok(())
}

async fn check_hostile(store: &Store) -> TestResult {
    let api = Served::start(store, ApiConfig::default()).await?;
    let data = api
        .data(
            "{ models(first: 10) { nodes { id baseModel { id } manifestUri } } }",
            json!({}),
        )
        .await?;
    let nodes = data["models"]["nodes"].as_array().ok_or("nodes")?;
    assert_eq!(nodes.len(), 1 + HOSTILE_MANIFEST_URIS.len(), "{data}");
    for (node, (_, text)) in nodes[1..].iter().zip(HOSTILE_MANIFEST_URIS) {
        assert_eq!(node["baseModel"]["id"], json!("1"), "{data}");
        assert_eq!(node["manifestUri"], json!(text), "{data}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_manifest_uris_stop_neither_store() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    setup_graph(&chain, &actors).await?;
    register_hostile(&chain, &actors).await?;
    let dir = tempfile::tempdir()?;
    let (lite, _) = sqlite(dir.path(), "hostile.db").await?;
    index(&chain, &lite, sync_config(2)).await?;
    check_hostile(&lite).await?;
    let cluster = PgCluster::start()?;
    let pg = Store::open(&cluster.database("hostile")?).await?;
    index(&chain, &pg, sync_config(2)).await?;
    check_hostile(&pg).await?;
    let graph = dump(&lite).await?;
    assert_eq!(dump(&pg).await?, graph, "the same text on both stores");
    rebuild(&pg).await?;
    assert_eq!(dump(&pg).await?, graph, "rebuilt on PostgreSQL");
    Ok(())
}
