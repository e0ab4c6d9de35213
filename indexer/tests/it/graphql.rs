//! The API as GraphQL tools see it: the introspection query GraphiQL and Apollo send, the committed
//! schema, 64-bit quantities as the `U64` scalar, and `GET /graphql`.

use serde_json::{Value, json};
use soil_bindings::testnet::LocalChain;
use soil_indexer::api::{self, ApiConfig};

use crate::api::Served;
use crate::support::{self, Actors, TestResult};

/// The introspection query GraphiQL and Apollo's tools send (graphql-js `getIntrospectionQuery`, with
/// input-value deprecation: `ofType` nested eight deep) gets the schema; the depth limit still refuses
/// other deep queries, introspection ones included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_introspection_is_answered_within_the_limits() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (store, _) = support::sqlite(dir.path(), "introspection.db").await?;
    let api = Served::start(&store, ApiConfig::default()).await?;
    let query = include_str!("../fixtures/introspection.graphql");
    let data = api.data(query, json!({})).await?;
    let types: Vec<&str> = data["__schema"]["types"]
        .as_array()
        .map(|types| types.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    for name in [
        "QueryRoot",
        "SubscriptionRoot",
        "Datanet",
        "Contribution",
        "Inference",
        "BigInt",
        "U64",
    ] {
        assert!(types.contains(&name), "{name} missing from {types:?}");
    }
    assert_eq!(data["__schema"]["queryType"]["name"], "QueryRoot");
    let deep =
        "{ __schema { types { fields { type { fields { type { fields { type { fields { type {
        fields { type { name } } } } } } } } } } } } }";
    let (message, _) = api.error(deep, json!({})).await?;
    assert!(message.contains("nested too deep"), "{message}");
    Ok(())
}

/// Ids, blocks, timestamps and counts are `U64`s: served as decimal strings, exact past 2³¹ (where a
/// GraphQL `Int` ends) and 2⁵³ (where a JSON number read by JavaScript loses digits), and taken as a
/// decimal string, an integer literal or a JSON number. The store is the scenario's, with a few values
/// set past those limits (no chain reaches them in a test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quantities_past_32_and_53_bits_are_served_and_taken_exactly() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    support::setup_graph(&chain, &actors).await?;
    let dir = tempfile::tempdir()?;
    let (store, _) = support::sqlite(dir.path(), "u64.db").await?;
    support::index(&chain, &store, support::sync_config(2)).await?;
    const ID: u64 = (1 << 32) + 4;
    const BLOCK: u64 = (1 << 53) + 1;
    for statement in [
        format!(
            "UPDATE sync_state SET block_number = {BLOCK}, head_block = {BLOCK}, updated_at = {}",
            i64::MAX
        ),
        format!(
            "UPDATE contributions SET contribution_id = {ID}, submitted_block = {BLOCK} WHERE contribution_id = 4"
        ),
        format!(
            "UPDATE datanets SET review_window = {} WHERE datanet_id = 1",
            1_u64 << 40
        ),
    ] {
        sqlx::query(&statement).execute(store.pool()).await?;
    }
    let api = Served::start(&store, ApiConfig::default()).await?;

    let data = api
        .data("{ _meta { blockNumber headBlock updatedAt synced } datanet(id: 1) { id reviewWindow } }", json!({}))
        .await?;
    assert_eq!(
        data,
        json!({
            "_meta": { "blockNumber": BLOCK.to_string(), "headBlock": BLOCK.to_string(),
                       "updatedAt": i64::MAX.to_string(), "synced": true },
            "datanet": { "id": "1", "reviewWindow": (1_u64 << 40).to_string() },
        })
    );
    let expected =
        json!({ "contribution": { "id": ID.to_string(), "submittedBlock": BLOCK.to_string() } });
    let by_variable = "query($id: U64!) { contribution(id: $id) { id submittedBlock } }";
    for id in [json!(ID.to_string()), json!(ID)] {
        assert_eq!(
            api.data(by_variable, json!({ "id": id })).await?,
            expected,
            "{id}"
        );
    }
    let literal = format!("{{ contribution(id: {ID}) {{ id submittedBlock }} }}");
    assert_eq!(api.data(&literal, json!({})).await?, expected);
    let quoted = format!("{{ contribution(id: \"{ID}\") {{ id submittedBlock }} }}");
    assert_eq!(api.data(&quoted, json!({})).await?, expected);
    // Lists filter and page over it like any id.
    let page = api
        .data(
            "query($d: U64) { contributions(datanetId: $d, last: 1) { nodes { id } } }",
            json!({ "d": "1" }),
        )
        .await?;
    assert_eq!(
        page["contributions"]["nodes"],
        json!([{ "id": ID.to_string() }])
    );
    // An id no store can hold (above i64::MAX) names nothing; what is no u64 is refused, named.
    let none = api
        .data(by_variable, json!({ "id": u64::MAX.to_string() }))
        .await?;
    assert_eq!(none, json!({ "contribution": null }));
    for bad in [
        json!("18446744073709551616"),
        json!(-1),
        json!("0x10"),
        json!(1.5),
    ] {
        let body: Value = api
            .client
            .post(format!("{}/graphql", api.base))
            .json(&json!({ "query": by_variable, "variables": { "id": bad } }))
            .send()
            .await?
            .json()
            .await?;
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("unsigned 64-bit integer"), "{bad}: {body}");
    }
    Ok(())
}

#[test]
fn committed_schema_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let sdl = api::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &sdl).expect("writing schema.graphql");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == sdl,
        "indexer/schema.graphql is out of date with the GraphQL types: regenerate it with \
         `UPDATE_SCHEMA=1 cargo test -p soil-indexer --test it committed_schema_matches_the_code` and commit it"
    );
}

/// `GET /graphql` as GraphQL tools and browsers use it: a query in the URL is answered like a POST, a
/// browser gets GraphiQL, and anything else (no query, variables that are not JSON, an upgrade with no
/// GraphQL subprotocol) a GraphQL error in JSON with HTTP 400 — never plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_graphql_answers_graphql_json_or_graphiql() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (store, _) = support::sqlite(dir.path(), "get.db").await?;
    let api = Served::start(&store, ApiConfig::default()).await?;
    let url = format!("{}/graphql", api.base);
    let get = |params: &[(&str, &str)]| api.client.get(&url).query(params);

    let query = "query($name: String!) { __type(name: $name) { name } }";
    let response = get(&[("query", query), ("variables", r#"{"name": "Datanet"}"#)])
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await?;
    assert_eq!(body, json!({ "data": { "__type": { "name": "Datanet" } } }));
    // The same query POSTed gets the same answer.
    let posted = api.post(query, json!({ "name": "Datanet" })).await?;
    assert_eq!(posted, body);

    let failures = [
        (get(&[]), 400),
        (get(&[("variables", "{}")]), 400),
        (get(&[("query", query), ("variables", "not json")]), 400),
        (get(&[]).header("upgrade", "websocket"), 400),
    ];
    for (request, status) in failures {
        let response = request.send().await?;
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await?;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
            "{body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("GET /graphql takes"), "{body}");
        assert!(body["data"].is_null(), "{body}");
    }

    let response = get(&[])
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()?
            .starts_with("text/html"),
        "{:?}",
        response.headers()
    );
    assert!(response.text().await?.contains("/graphiql/start.js"));
    Ok(())
}
