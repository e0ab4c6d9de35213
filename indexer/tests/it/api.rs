//! The GraphQL API over a store filled by the real indexer from a real chain (anvil with the contracts
//! deployed, the scenario of `support::setup_graph` + `support::use_graph`), served by the real axum
//! router on loopback and queried over HTTP and WebSocket — on SQLite and on PostgreSQL.

use alloy::primitives::keccak256;
use serde_json::{Value, json};
use soil_bindings::testnet::LocalChain;
use soil_indexer::api::{self, ApiConfig};
use soil_indexer::store::Store;

use crate::support::{self, Actors, PgCluster, TestResult};

/// The API served on a free loopback port.
pub(crate) struct Served {
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    /// The HTTP client requests go through.
    pub(crate) client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Served {
    /// Serves [`api::router`] over `store`.
    pub(crate) async fn start(store: &Store, config: ApiConfig) -> TestResult<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let app = api::router(store, config);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("API server");
        });
        Ok(Self {
            base,
            client: reqwest::Client::new(),
            server,
        })
    }

    /// POSTs a query; returns the whole response body (`data` and `errors`).
    pub(crate) async fn post(&self, query: &str, variables: Value) -> TestResult<Value> {
        let response = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?;
        assert!(response.status().is_success(), "HTTP {}", response.status());
        Ok(response.json().await?)
    }

    /// POSTs a query that must succeed; returns `data`.
    pub(crate) async fn data(&self, query: &str, variables: Value) -> TestResult<Value> {
        let body = self.post(query, variables).await?;
        assert!(
            body.get("errors").is_none(),
            "query failed: {body}\n{query}"
        );
        Ok(body["data"].clone())
    }

    /// POSTs a query that must fail; returns the first error's message and code.
    pub(crate) async fn error(
        &self,
        query: &str,
        variables: Value,
    ) -> TestResult<(String, String)> {
        let body = self.post(query, variables).await?;
        let error = &body["errors"][0];
        assert!(error.is_object(), "query should have failed: {body}");
        Ok((
            error["message"].as_str().unwrap_or_default().to_owned(),
            error["extensions"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ))
    }
}

fn addr(signer: &alloy::signers::local::PrivateKeySigner) -> String {
    format!("{:#x}", signer.address())
}

/// The amounts the escrow pays for the scenario's first settlement batch, from the model's price and
/// split (see `support::use_graph`): receipt 1 is 300 + 77 tokens attributed 50 % to contribution 1 and
/// 33.3333 % to contribution 2; receipt 2 is 10 + 990 tokens, 100 % to contribution 3.
fn first_batch() -> (u64, u64, u64, u64) {
    let fee1 = support::PRICE * 377 / 1000;
    let data1 = fee1 * u64::from(support::SPLIT.1) / 10_000;
    let fee2 = support::PRICE * 1000 / 1000;
    let data2 = fee2 * u64::from(support::SPLIT.1) / 10_000;
    (
        fee1,
        data1 * 500_000 / 1_000_000,
        data1 * 333_333 / 1_000_000,
        data2,
    )
}

/// Runs every query check against `store`, filled from `chain`.
async fn check_api(chain: &LocalChain, store: &Store) -> TestResult {
    let actors = Actors::of(chain);
    let api = Served::start(store, ApiConfig::default()).await?;
    meta(&api, chain).await?;
    pagination(&api).await?;
    filters_and_aggregates(&api, &actors).await?;
    traversal(&api, &actors).await?;
    graph(&api, &actors).await?;
    limits(&api).await?;
    Ok(())
}

async fn meta(api: &Served, chain: &LocalChain) -> TestResult {
    let head = alloy::providers::Provider::get_block_number(&support::reader(chain)).await?;
    let data = api
        .data("{ _meta { blockNumber blockHash synced } totals { inferenceCount contributionCount } }", json!({}))
        .await?;
    assert_eq!(data["_meta"]["blockNumber"], json!(head.to_string()));
    assert_eq!(data["_meta"]["synced"], json!(true));
    assert_eq!(data["_meta"]["blockHash"].as_str().map(str::len), Some(66));
    assert_eq!(data["totals"]["inferenceCount"], json!("3"));
    assert_eq!(data["totals"]["contributionCount"], json!("5"));
    Ok(())
}

const CONTRIBUTIONS: &str =
    "query($first: Int, $after: String, $last: Int, $before: String, $order: Order = ASC) {
  contributions(first: $first, after: $after, last: $last, before: $before, order: $order) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

/// The ids (`U64`s: decimal strings) of a connection's nodes.
fn ids(connection: &Value) -> Vec<u64> {
    connection["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .filter_map(|e| support::u64_of(&e["node"]["id"]))
                .collect()
        })
        .unwrap_or_default()
}

async fn pagination(api: &Served) -> TestResult {
    // Forward, two at a time, to the end.
    let page1 = &api.data(CONTRIBUTIONS, json!({ "first": 2 })).await?["contributions"];
    assert_eq!(ids(page1), vec![1, 2]);
    assert_eq!(page1["pageInfo"]["hasNextPage"], json!(true));
    assert_eq!(page1["pageInfo"]["hasPreviousPage"], json!(false));
    let after = page1["pageInfo"]["endCursor"].clone();
    let page2 = &api
        .data(CONTRIBUTIONS, json!({ "first": 2, "after": after }))
        .await?["contributions"];
    assert_eq!(ids(page2), vec![3, 4]);
    assert_eq!(page2["pageInfo"]["hasNextPage"], json!(true));
    assert_eq!(page2["pageInfo"]["hasPreviousPage"], json!(true));
    // Backward from the end.
    let before = page2["edges"][0]["cursor"].clone();
    let back = &api
        .data(CONTRIBUTIONS, json!({ "last": 1, "before": before }))
        .await?["contributions"];
    assert_eq!(ids(back), vec![2]);
    assert_eq!(back["pageInfo"]["hasPreviousPage"], json!(true));
    let tail = &api.data(CONTRIBUTIONS, json!({ "last": 3 })).await?["contributions"];
    assert_eq!(ids(tail), vec![3, 4, 5]);
    // Newest first.
    let desc = &api
        .data(CONTRIBUTIONS, json!({ "first": 3, "order": "DESC" }))
        .await?["contributions"];
    assert_eq!(ids(desc), vec![5, 4, 3]);
    let next = desc["pageInfo"]["endCursor"].clone();
    let desc2 = &api
        .data(
            CONTRIBUTIONS,
            json!({ "first": 3, "order": "DESC", "after": next }),
        )
        .await?["contributions"];
    assert_eq!(ids(desc2), vec![2, 1]);
    // Inferences page on (block, log index): three receipts, in chain order.
    let q = "query($after: String) { inferences(first: 2, after: $after) {
        edges { node { fee blockNumber logIndex } } pageInfo { endCursor hasNextPage } } }";
    let first = &api.data(q, json!({})).await?["inferences"];
    let second = &api
        .data(q, json!({ "after": first["pageInfo"]["endCursor"] }))
        .await?["inferences"];
    let all: Vec<&Value> = first["edges"]
        .as_array()
        .into_iter()
        .chain(second["edges"].as_array())
        .flatten()
        .collect();
    assert_eq!(all.len(), 3);
    assert_eq!(second["pageInfo"]["hasNextPage"], json!(false));
    let positions: Vec<(u64, u64)> = all
        .iter()
        .map(|e| {
            (
                support::u64_of(&e["node"]["blockNumber"]).unwrap_or(0),
                support::u64_of(&e["node"]["logIndex"]).unwrap_or(0),
            )
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "not in chain order: {positions:?}"
    );
    // The cap and malformed arguments are errors that say what is wrong.
    let (message, code) = api.error(CONTRIBUTIONS, json!({ "first": 101 })).await?;
    assert_eq!(message, "`first` must be between 0 and 100, got 101");
    assert_eq!(code, "PAGE_SIZE");
    let (message, _) = api
        .error(CONTRIBUTIONS, json!({ "first": 1, "last": 1 }))
        .await?;
    assert!(message.contains("not both"), "{message}");
    let (message, code) = api
        .error(
            CONTRIBUTIONS,
            json!({ "first": 1, "after": "not-a-cursor" }),
        )
        .await?;
    assert!(
        message.starts_with("invalid cursor \"not-a-cursor\""),
        "{message}"
    );
    assert_eq!(code, "INVALID_CURSOR");
    // A cursor of another list (two-part key) is refused by a one-part list.
    let foreign = first["pageInfo"]["endCursor"].clone();
    let (_, code) = api
        .error(CONTRIBUTIONS, json!({ "first": 1, "after": foreign }))
        .await?;
    assert_eq!(code, "INVALID_CURSOR");
    Ok(())
}

async fn filters_and_aggregates(api: &Served, actors: &Actors) -> TestResult {
    let (fee1, c1, c2, c3) = first_batch();
    let q = "query($who: String!) {
      contributions(contributor: $who) { edges { node { id status stake stakeReturned earnings { attributed inferences } } } }
      account(address: $who) {
        address roles { contributor payer }
        earnings { total attributed pool }
        reputation { contributions accepted rejected acceptedTokens }
      }
    }";
    let alice = api
        .data(
            q,
            json!({ "who": addr(&actors.alice).to_uppercase().replacen("0X", "0x", 1) }),
        )
        .await?;
    assert_eq!(ids(&alice["contributions"]), vec![1, 2]);
    let edges = &alice["contributions"]["edges"];
    assert_eq!(
        edges[0]["node"]["earnings"]["attributed"],
        json!(c1.to_string())
    );
    assert_eq!(
        edges[1]["node"]["earnings"]["attributed"],
        json!(c2.to_string())
    );
    assert_eq!(edges[0]["node"]["status"], json!("ACCEPTED"));
    assert_eq!(edges[0]["node"]["stake"], json!("100"));
    let account = &alice["account"];
    assert_eq!(account["address"], json!(addr(&actors.alice)));
    assert_eq!(
        account["roles"],
        json!({ "contributor": true, "payer": false })
    );
    assert_eq!(
        account["earnings"]["attributed"],
        json!((c1 + c2).to_string())
    );
    let total: u128 = account["earnings"]["total"]
        .as_str()
        .ok_or("total")?
        .parse()?;
    let pool: u128 = account["earnings"]["pool"]
        .as_str()
        .ok_or("pool")?
        .parse()?;
    assert!(pool > 0, "alice claimed pool rewards in the scenario");
    assert_eq!(total, u128::from(c1 + c2) + pool);
    assert_eq!(
        account["reputation"],
        json!({ "contributions": "2", "accepted": "2", "rejected": "0", "acceptedTokens": "3000" })
    );

    let bob = api.data(q, json!({ "who": addr(&actors.bob) })).await?;
    assert_eq!(ids(&bob["contributions"]), vec![3, 4, 5]);
    assert_eq!(
        bob["contributions"]["edges"][1]["node"]["status"],
        json!("REJECTED")
    );
    let withdrawn = &bob["contributions"]["edges"][2]["node"];
    assert_eq!(withdrawn["status"], json!("WITHDRAWN"), "{withdrawn}");
    assert_eq!(withdrawn["stakeReturned"], json!(true));
    assert_eq!(withdrawn["stake"], json!("300"));
    assert_eq!(bob["account"]["reputation"]["rejected"], json!("1"));
    assert_eq!(
        bob["contributions"]["edges"][0]["node"]["earnings"]["attributed"],
        json!(c3.to_string())
    );

    let model = api
        .data(
            "{ model(id: 1) { owner { address } pricePerKiloToken nextPricePerKiloToken nextPriceAt split { dataBps }
               usage { inferences inputTokens outputTokens } revenue { total data attributed }
               inferences(first: 10) { edges { node { fee } } } } }",
            json!({}),
        )
        .await?;
    let m = &model["model"];
    assert_eq!(
        m["owner"]["address"],
        json!(addr(&actors.bob)),
        "setModelOwner moved the model to bob"
    );
    // The change is scheduled by receipt deadline: the price before it stays, beside the new one.
    assert_eq!(m["pricePerKiloToken"], json!(support::PRICE.to_string()));
    assert_eq!(
        m["nextPricePerKiloToken"],
        json!(support::NEW_PRICE.to_string())
    );
    let next_at = support::u64_of(&m["nextPriceAt"]).ok_or("nextPriceAt")?;
    assert_eq!(
        m["usage"],
        json!({ "inferences": "3", "inputTokens": "809", "outputTokens": "1567" })
    );
    assert_eq!(
        m["revenue"]["attributed"],
        json!((c1 + c2 + c3).to_string())
    );
    let fees: u64 = m["inferences"]["edges"]
        .as_array()
        .ok_or("edges")?
        .iter()
        .filter_map(|e| e["node"]["fee"].as_str()?.parse::<u64>().ok())
        .sum();
    assert_eq!(m["revenue"]["total"], json!(fees.to_string()));
    assert_eq!(
        m["inferences"]["edges"][0]["node"]["fee"],
        json!(fee1.to_string())
    );
    inference_fields(api, next_at).await?;
    skipped_receipts(api).await?;

    let by_payer = api
        .data("query($p: String!) { inferences(payer: $p, last: 1) { edges { node { payer { address } node { address } } } } }",
            json!({ "p": addr(&actors.payer) }))
        .await?;
    let only = &by_payer["inferences"]["edges"][0]["node"];
    assert_eq!(only["payer"]["address"], json!(addr(&actors.payer)));
    assert_eq!(only["node"]["address"], json!(addr(&actors.node)));
    let none = api
        .data(
            "query($n: String!) { inferences(node: $n) { edges { cursor } } }",
            json!({ "n": addr(&actors.alice) }),
        )
        .await?;
    assert_eq!(none["inferences"]["edges"], json!([]));
    let (message, code) = api
        .error(
            "{ inferences(modelId: 1, payer: \"0x0000000000000000000000000000000000000001\") { edges { cursor } } }",
            json!({}),
        )
        .await?;
    assert_eq!(code, "BAD_ARGUMENT");
    assert!(
        message.contains("at most one of modelId, payer, node"),
        "{message}"
    );
    let (message, _) = api
        .error("{ account(address: \"0x1234\") { address } }", json!({}))
        .await?;
    assert_eq!(
        message,
        "invalid address \"0x1234\": expected 0x followed by 40 hex digits"
    );

    let datanet = api
        .data(
            "{ datanet(id: 1) { owner { address } contributionCount acceptedCount rejectedCount acceptedTokens
               reviewWindow maxContributionTokens
               curators { account { address } acceptedReviews rejectedReviews } revenue { total attributed pool } } }",
            json!({}),
        )
        .await?;
    let d = &datanet["datanet"];
    assert_eq!(d["owner"]["address"], json!(addr(&actors.datanet_owner)));
    assert_eq!(
        (
            &d["contributionCount"],
            &d["acceptedCount"],
            &d["rejectedCount"]
        ),
        (&json!("5"), &json!("3"), &json!("1"))
    );
    assert_eq!(d["reviewWindow"], json!(support::REVIEW_WINDOW.to_string()));
    assert_eq!(
        d["maxContributionTokens"],
        json!(support::MAX_CONTRIBUTION_TOKENS.to_string())
    );
    assert_eq!(d["acceptedTokens"], "6000");
    assert_eq!(
        d["curators"],
        json!([{ "account": { "address": addr(&actors.curator) }, "acceptedReviews": "3", "rejectedReviews": "1" }]),
        "bob was enabled then disabled: only the curator is listed"
    );
    assert_eq!(
        d["revenue"]["attributed"],
        json!((c1 + c2 + c3).to_string())
    );

    let claims = api
        .data(
            "{ claims(first: 10) { edges { node { account { address } recipient amount } } } }",
            json!({}),
        )
        .await?;
    assert_eq!(
        claims["claims"]["edges"].as_array().map(Vec::len),
        Some(3),
        "alice, the node and the model owner claimed"
    );
    let accruals = api
        .data("{ poolAccruals(releaseId: 1) { edges { node { amount model { id } release { id } } } } }", json!({}))
        .await?;
    assert!(
        !accruals["poolAccruals"]["edges"]
            .as_array()
            .ok_or("accruals")?
            .is_empty()
    );
    Ok(())
}

/// The signed receipt's fields each inference exposes, and the totals the skipped receipts stay out of.
async fn inference_fields(api: &Served, next_price_at: u64) -> TestResult {
    let q = "{ inferences(first: 10) { nodes { digest nonce promptHash outputUri outputUriBytes deadline
        attributionVersion attributionHash fee } }
        totals { inferenceCount fees swept } }";
    let data = api.data(q, json!({})).await?;
    let nodes = data["inferences"]["nodes"].as_array().ok_or("nodes")?;
    assert_eq!(nodes.len(), 3);
    let mut fees = 0u64;
    for node in nodes {
        let nonce: u64 = node["nonce"].as_str().ok_or("nonce")?.parse()?;
        assert_eq!(
            node["outputUri"],
            json!(support::output_uri(nonce)),
            "{node}"
        );
        assert_eq!(node["outputUriBytes"], Value::Null);
        assert_eq!(
            node["promptHash"],
            json!(keccak256(format!("prompt {nonce}")).to_string())
        );
        assert_eq!(
            node["attributionVersion"],
            json!(support::ATTRIBUTION_VERSION)
        );
        assert_eq!(node["attributionHash"].as_str().map(str::len), Some(66));
        assert!(support::u64_of(&node["deadline"]).is_some(), "{node}");
        fees += node["fee"].as_str().ok_or("fee")?.parse::<u64>()?;
    }
    // The receipt settled after the change carries the change's first second as its deadline.
    assert_eq!(nodes[2]["deadline"], json!(next_price_at.to_string()));
    assert_eq!(data["totals"]["inferenceCount"], json!("3"));
    assert_eq!(data["totals"]["fees"], json!(fees.to_string()));
    assert_eq!(data["totals"]["swept"], json!(support::SWEPT.to_string()));
    Ok(())
}

/// Receipts the escrow skipped: listed with why, by digest too, and in no figure.
async fn skipped_receipts(api: &Served) -> TestResult {
    let q = "query($digest: String) { skippedReceipts(first: 10, digest: $digest) {
        nodes { index digest reason description blockNumber logIndex txHash } } }";
    let all = api.data(q, json!({})).await?;
    let nodes = all["skippedReceipts"]["nodes"].as_array().ok_or("nodes")?;
    assert_eq!(nodes.len(), 2, "{all}");
    assert_eq!(nodes[0]["index"], json!("1"));
    assert!(
        nodes[0]["description"]
            .as_str()
            .is_some_and(|d| d.contains("FeeMismatch")),
        "{all}"
    );
    assert!(
        nodes[1]["description"]
            .as_str()
            .is_some_and(|d| d.contains("InvalidParty")),
        "{all}"
    );
    assert!(
        nodes[1]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("0x") && r.len() > 10)
    );
    let digest = nodes[1]["digest"].as_str().ok_or("digest")?;
    let one = api
        .data(
            q,
            json!({ "digest": digest.to_uppercase().replacen("0X", "0x", 1) }),
        )
        .await?;
    assert_eq!(one["skippedReceipts"]["nodes"], json!([nodes[1].clone()]));
    // A skipped receipt is no inference.
    let none = api
        .data(
            "query($d: String!) { inference(digest: $d) { digest } }",
            json!({ "d": digest }),
        )
        .await?;
    assert_eq!(none["inference"], Value::Null);
    let (_, code) = api.error(q, json!({ "digest": "0x1234" })).await?;
    assert_eq!(code, "BAD_ARGUMENT");
    Ok(())
}

async fn traversal(api: &Served, actors: &Actors) -> TestResult {
    let (_, c1, c2, _) = first_batch();
    // inference → contributions → contributors
    let q = "{ inferences(first: 1) { edges { node { digest attributions {
        position weightPpm weight amount contribution { id contributor { address } } } } } } }";
    let data = api.data(q, json!({})).await?;
    let inference = &data["inferences"]["edges"][0]["node"];
    let attributions = inference["attributions"].as_array().ok_or("attributions")?;
    assert_eq!(attributions.len(), 2);
    assert_eq!(attributions[0]["weightPpm"], json!(500_000));
    assert_eq!(attributions[0]["weight"], json!(0.5));
    assert_eq!(attributions[0]["amount"], json!(c1.to_string()));
    assert_eq!(attributions[1]["amount"], json!(c2.to_string()));
    assert_eq!(attributions[1]["contribution"]["id"], json!("2"));
    assert_eq!(
        attributions[1]["contribution"]["contributor"]["address"],
        json!(addr(&actors.alice))
    );
    // contributor → contributions → models and inferences that used them
    let q = "query($who: String!) { account(address: $who) { contributions(first: 5) { edges { node { id
        models { nodes { id } } attributions(first: 5) { edges { node { inference { digest } amount } } } } } } } }";
    let data = api.data(q, json!({ "who": addr(&actors.alice) })).await?;
    let edges = data["account"]["contributions"]["edges"]
        .as_array()
        .ok_or("edges")?;
    assert_eq!(
        edges[0]["node"]["models"]["nodes"],
        json!([{ "id": "1" }, { "id": "2" }, { "id": "3" }])
    );
    let used = &edges[0]["node"]["attributions"]["edges"];
    assert_eq!(used[0]["node"]["inference"]["digest"], inference["digest"]);
    let bob_rejected = api
        .data(
            "{ contribution(id: 4) { models { nodes { id } } attributions { edges { cursor } } } }",
            json!({}),
        )
        .await?;
    assert_eq!(
        bob_rejected["contribution"]["models"]["nodes"],
        json!([]),
        "a rejected contribution is in no release"
    );
    // datanet → releases → models → revenue
    let data = api.data("{ datanet(id: 1) { releases { edges { node { id contributionCount models { nodes { id revenue { total } } } } } } } }", json!({})).await?;
    let release = &data["datanet"]["releases"]["edges"][0]["node"];
    assert_eq!(release["contributionCount"], json!("3"));
    assert_eq!(release["models"]["nodes"][0]["id"], json!("1"));
    assert!(
        release["models"]["nodes"][0]["revenue"]["total"]
            .as_str()
            .is_some_and(|s| s != "0")
    );
    model_pages(api).await?;
    Ok(())
}

/// A release's and a contribution's models page like every other list: by id, both ways, from cursors.
async fn model_pages(api: &Served) -> TestResult {
    let q = "query($first: Int, $after: String, $last: Int, $before: String, $order: Order = ASC) {
        release(id: 1) { models(first: $first, after: $after, last: $last, before: $before, order: $order) {
            nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor startCursor } } }
        contribution(id: 3) { models(first: $first, after: $after, last: $last, before: $before, order: $order) {
            nodes { id } pageInfo { hasNextPage endCursor } } } }";
    let ids = |page: &Value, parent: &str| page[parent]["models"]["nodes"].clone();
    let first = api.data(q, json!({ "first": 2 })).await?;
    for parent in ["release", "contribution"] {
        assert_eq!(
            ids(&first, parent),
            json!([{ "id": "1" }, { "id": "2" }]),
            "{parent}"
        );
        assert_eq!(
            first[parent]["models"]["pageInfo"]["hasNextPage"],
            json!(true)
        );
    }
    let cursor = first["release"]["models"]["pageInfo"]["endCursor"].clone();
    let next = api.data(q, json!({ "first": 2, "after": cursor })).await?;
    assert_eq!(ids(&next, "release"), json!([{ "id": "3" }]));
    assert_eq!(
        next["release"]["models"]["pageInfo"]["hasNextPage"],
        json!(false)
    );
    assert_eq!(
        ids(&next, "contribution"),
        json!([{ "id": "3" }]),
        "one cursor shape for both"
    );
    let back = api.data(q, json!({ "last": 1, "before": cursor })).await?;
    assert_eq!(ids(&back, "release"), json!([{ "id": "1" }]));
    let newest = api.data(q, json!({ "first": 1, "order": "DESC" })).await?;
    assert_eq!(ids(&newest, "release"), json!([{ "id": "3" }]));
    assert_eq!(ids(&newest, "contribution"), json!([{ "id": "3" }]));
    let (message, _) = api
        .error(q, json!({ "first": 2, "after": "not a cursor" }))
        .await?;
    assert!(message.contains("cursor"), "{message}");
    Ok(())
}

async fn graph(api: &Served, actors: &Actors) -> TestResult {
    let q =
        "query($root: ID!, $depth: Int = 2, $limit: Int = 200) { attributionGraph(root: $root, depth: $depth, limit: $limit) {
        root truncated nodes { id kind label value } edges { source target kind weight amount } } }";
    let digest = api
        .data(
            "{ inferences(first: 1) { edges { node { digest fee } } } }",
            json!({}),
        )
        .await?;
    let fee = digest["inferences"]["edges"][0]["node"]["fee"].clone();
    let digest = digest["inferences"]["edges"][0]["node"]["digest"]
        .as_str()
        .ok_or("digest")?
        .to_owned();
    // One level around the first inference: its model, payer, node and the two attributed contributions.
    let g = &api.data(q, json!({ "root": digest, "depth": 1 })).await?["attributionGraph"];
    assert_eq!(g["root"], json!(format!("inference:{digest}")));
    assert_eq!(g["nodes"].as_array().map(Vec::len), Some(6), "{g}");
    assert_eq!(g["edges"].as_array().map(Vec::len), Some(5), "{g}");
    let attributed: Vec<&Value> = g["edges"]
        .as_array()
        .ok_or("edges")?
        .iter()
        .filter(|e| e["kind"] == "ATTRIBUTED")
        .collect();
    assert_eq!(attributed.len(), 2);
    assert!(
        attributed
            .iter()
            .any(|e| e["target"] == "contribution:1" && e["weight"] == json!(0.5))
    );
    // Two levels around alice: her contributions, then their datanet and the inferences that used them.
    let alice = addr(&actors.alice);
    let g = &api.data(q, json!({ "root": alice, "depth": 2 })).await?["attributionGraph"];
    let mut kinds: Vec<String> = g["nodes"]
        .as_array()
        .ok_or("nodes")?
        .iter()
        .filter_map(|n| n["id"].as_str().map(str::to_owned))
        .collect();
    kinds.sort();
    let expected = {
        let mut v = vec![
            format!("account:{alice}"),
            "contribution:1".into(),
            "contribution:2".into(),
            "datanet:1".into(),
            format!("inference:{digest}"),
        ];
        v.sort();
        v
    };
    assert_eq!(kinds, expected, "{g}");
    let inference = g["nodes"]
        .as_array()
        .ok_or("nodes")?
        .iter()
        .find(|n| n["id"] == json!(format!("inference:{digest}")))
        .ok_or("inference node")?;
    assert_eq!(
        inference["value"], fee,
        "an inference reached through its edges is sized by its fee: {g}"
    );
    assert_eq!(
        g["edges"].as_array().map(Vec::len),
        Some(6),
        "2 contributed + 2 in datanet + 2 attributed: {g}"
    );
    assert_eq!(g["truncated"], json!(false));
    // The node limit truncates.
    let g = &api
        .data(q, json!({ "root": "datanet:1", "depth": 3, "limit": 4 }))
        .await?["attributionGraph"];
    assert_eq!(g["nodes"].as_array().map(Vec::len), Some(4));
    assert_eq!(g["truncated"], json!(true));
    let d1 = g["nodes"]
        .as_array()
        .ok_or("nodes")?
        .iter()
        .find(|n| n["id"] == "datanet:1")
        .ok_or("root")?;
    assert_ne!(d1["value"], json!("0"), "a datanet's value is its revenue");
    // Every root kind resolves; unknown and malformed roots are errors that say so.
    for root in ["model:1", "release:1", "contribution:3"] {
        let g = &api.data(q, json!({ "root": root, "depth": 1 })).await?["attributionGraph"];
        assert_eq!(g["nodes"][0]["id"], json!(root));
        assert!(
            g["edges"].as_array().is_some_and(|e| !e.is_empty()),
            "{root}: {g}"
        );
    }
    let (message, code) = api.error(q, json!({ "root": "model:99" })).await?;
    assert_eq!(code, "NOT_FOUND");
    assert!(
        message.starts_with("model:99 has not been indexed"),
        "{message}"
    );
    let (message, code) = api.error(q, json!({ "root": "planet:1" })).await?;
    assert_eq!(code, "BAD_ARGUMENT");
    assert!(message.starts_with("invalid id \"planet:1\""), "{message}");
    let (message, _) = api
        .error(q, json!({ "root": "datanet:1", "depth": 9 }))
        .await?;
    assert_eq!(message, "`depth` must be between 1 and 3, got 9");
    Ok(())
}

async fn limits(api: &Served) -> TestResult {
    // Depth: nested traversal past the limit.
    let deep = "{ datanet(id: 1) { releases(first: 1) { edges { node { models(first: 1) { nodes { releases { datanet {
        releases(first: 1) { edges { node { models(first: 1) { nodes { releases { datanet { id } } } } } } } } } } } } } } } }";
    let body = api.post(deep, json!({})).await?;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("nested too deep"), "{body}");
    // Complexity: 100 datanets × 100 contributions each.
    let wide = "{ datanets(first: 100) { edges { node { contributions(first: 100) { edges { node { id } } } } } } }";
    let body = api.post(wide, json!({})).await?;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("complex"), "{body}");
    // A body that is not a GraphQL request: HTTP 400 saying so.
    let response = api
        .client
        .post(format!("{}/graphql", api.base))
        .body("{ datanets { id } }")
        .send()
        .await?;
    assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
    let body: Value = response.json().await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("the request body is not a GraphQL request"),
        "{body}"
    );
    // No `query`, or one too large to read: the same GraphQL error JSON, with the status that says so.
    let too_large = format!(
        "{{\"query\": \"{{ totals {{ eventCount }} }} #{}\"}}",
        "x".repeat(3 << 20)
    );
    for (body, status, code) in [
        ("{}".to_owned(), 400, "BAD_REQUEST"),
        (
            r#"{"variables": {}, "query": " "}"#.to_owned(),
            400,
            "BAD_REQUEST",
        ),
        (too_large, 413, "REQUEST_TOO_LARGE"),
    ] {
        let response = api
            .client
            .post(format!("{}/graphql", api.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "HTTP {status}"
        );
        let body: Value = response.json().await?;
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
        assert!(body["data"].is_null(), "{body}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_serves_the_indexed_chain_on_sqlite_and_postgres() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    support::setup_graph(&chain, &actors).await?;
    support::use_graph(&chain, &actors).await?;
    support::register_more_models(&chain, &actors, 2).await?;
    let dir = tempfile::tempdir()?;
    let (store, _) = support::sqlite(dir.path(), "api.db").await?;
    support::index(&chain, &store, support::sync_config(2)).await?;
    check_api(&chain, &store).await?;
    let cluster = PgCluster::start()?;
    let pg = Store::open(&cluster.database("api")?).await?;
    support::index(&chain, &pg, support::sync_config(2)).await?;
    check_api(&chain, &pg).await
}

/// A receipt whose attribution names a contribution twice is one inference of that contribution (two
/// attribution edges, one count).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contribution_named_twice_in_one_attribution_counts_one_inference() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    support::setup_graph(&chain, &actors).await?;
    support::use_graph(&chain, &actors).await?;
    let dir = tempfile::tempdir()?;
    let (store, _) = support::sqlite(dir.path(), "twice.db").await?;
    support::index(&chain, &store, support::sync_config(2)).await?;
    let config = ApiConfig {
        response_cache_bytes: 0,
        ..ApiConfig::default()
    };
    let api = Served::start(&store, config).await?;
    let query = "{ contribution(id: 1) { earnings { inferences } attributions(first: 100) { nodes { position } } } }";
    let counts = |data: &Value| {
        (
            data["contribution"]["earnings"]["inferences"].clone(),
            data["contribution"]["attributions"]["nodes"]
                .as_array()
                .map_or(0, Vec::len),
        )
    };
    let (inferences, edges) = counts(&api.data(query, json!({})).await?);
    let twice = vec![(1, 100_000), (1, 200_000)];
    support::settle(&chain, &actors, &actors.relayer, 700, &[(10, 20, twice)]).await?;
    support::index(&chain, &store, support::sync_config(2)).await?;
    let (after, edges_after) = counts(&api.data(query, json!({})).await?);
    assert_eq!(edges_after, edges + 2, "both entries are attribution edges");
    assert_eq!(
        after,
        json!(support::u64_of(&inferences).map(|n| (n + 1).to_string())),
        "one receipt, one inference"
    );
    Ok(())
}
