//! The explorer in a real browser: headless Chromium (driven by `indexer/tests/explorer.mjs` through
//! playwright-core) loads `/` from the real router over a store the indexer filled from anvil, searches
//! for a contributor and must draw exactly the graph the API returns, with the figures beside it; and
//! GraphiQL (`indexer/tests/graphiql.mjs`) runs a query with every asset served by the indexer itself
//! and lists the schema's types in its docs pane.

use std::process::Command;

use serde_json::{Value, json};
use soil_bindings::testnet::{LocalChain, repo_root};
use soil_indexer::api::ApiConfig;

use crate::api::Served;
use crate::landing::units;
use crate::support::{self, Actors, TestResult};

/// Runs `node indexer/tests/<script> ARGS` from the repository root; returns the JSON line it printed
/// last.
pub(crate) fn browse<const N: usize>(script: &str, args: [&str; N]) -> TestResult<Value> {
    let output = Command::new("node")
        .current_dir(repo_root())
        .arg(format!("indexer/tests/{script}"))
        .args(args)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_str(
        stdout.lines().last().unwrap_or_default(),
    )?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explorer_draws_the_graph_and_graphiql_answers_in_chromium() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    support::setup_graph(&chain, &actors).await?;
    support::use_graph(&chain, &actors).await?;
    // Two inferences whose output URIs the explorer must show: one it links, one hostile it must not.
    let linked = "https://outputs.example/v1/outputs/0xab?a=1&b=<2>";
    let hostile = "javascript:alert(1)//<img src=x onerror=\"document.title='pwned'\">";
    let deadline = support::now(&chain).await? + 3_600;
    let mut batch = Vec::new();
    let mut digests = Vec::new();
    for (nonce, uri) in [(900, linked), (901, hostile)] {
        let (mut receipt, attribution) =
            support::receipt(&chain, &actors, nonce, deadline, &(10, 20, vec![])).await?;
        receipt.outputURI = uri.to_owned();
        digests.push(format!("{:#x}", support::domain(&chain).digest(&receipt)));
        batch.push(support::sign(&chain, &actors.payer, receipt, &attribution).await?);
    }
    support::submit(&chain, &actors.relayer, batch).await?;
    let dir = tempfile::tempdir()?;
    let (store, _) = support::sqlite(dir.path(), "explorer.db").await?;
    support::index(&chain, &store, support::sync_config(2)).await?;
    let api = Served::start(&store, ApiConfig::default()).await?;

    let alice = format!("{:#x}", actors.alice.address());
    let expected = api
        .data(
            "query($root: ID!, $who: String!) { attributionGraph(root: $root, depth: 2) { nodes { id } edges { kind } }
             account(address: $who) { earnings { attributed } } }",
            json!({ "root": alice, "who": alice }),
        )
        .await?;
    let nodes = expected["attributionGraph"]["nodes"]
        .as_array()
        .map_or(0, Vec::len);
    let edges = expected["attributionGraph"]["edges"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(
        nodes >= 5 && edges >= 6,
        "the scenario gives alice a real graph: {expected}"
    );

    let root = repo_root();
    let screenshot = root.join("target").join("explorer.png");
    let _ = std::fs::remove_file(&screenshot);
    let page = browse(
        "explorer.mjs",
        [
            &format!("{}/", api.base),
            &alice,
            &screenshot.display().to_string(),
        ],
    )?;
    assert_eq!(page["state"], "ready", "{page}");
    assert_eq!(page["error"], Value::Null);
    assert_eq!(page["failedRequests"], json!([]));
    assert_eq!(
        page["nodes"],
        json!(nodes),
        "one SVG circle per graph node: {page}"
    );
    assert_eq!(
        page["edges"],
        json!(edges),
        "one SVG line per graph edge: {page}"
    );
    assert_eq!(page["rootNodes"], json!(1));
    assert_eq!(
        page["figures"]["earnings attributed"],
        json!(units(
            expected["account"]["earnings"]["attributed"]
                .as_str()
                .unwrap_or_default(),
            18,
            "SOIL"
        )),
        "amounts in token units: {page}"
    );
    assert_eq!(page["figures"]["graph nodes"], json!(nodes.to_string()));
    assert!(
        std::fs::metadata(&screenshot)?.len() > 10_000,
        "screenshot written to {}",
        screenshot.display()
    );

    // An inference's output URI: an https one is a link (new tab, no opener, no referrer), anything else
    // is shown as text, and nothing in it becomes markup.
    for (digest, uri) in digests.iter().zip([linked, hostile]) {
        let page = browse(
            "explorer.mjs",
            [
                &format!("{}/", api.base),
                digest,
                &dir.path().join("inference.png").display().to_string(),
            ],
        )?;
        assert_eq!(page["state"], "ready", "{page}");
        assert_eq!(page["figures"]["output uri"], json!(uri), "{page}");
        assert_eq!(page["injected"], json!(0), "{page}");
        if uri == linked {
            assert_eq!(
                page["links"],
                json!([{ "text": uri, "href": "https://outputs.example/v1/outputs/0xab?a=1&b=%3C2%3E",
                         "rel": "noopener noreferrer nofollow" }]),
                "{page}"
            );
        } else {
            assert_eq!(page["links"], json!([]), "{page}");
        }
    }

    // A malformed search is reported on the page, not drawn.
    let page = browse(
        "explorer.mjs",
        [
            &format!("{}/", api.base),
            "planet 7",
            &dir.path().join("error.png").display().to_string(),
        ],
    )?;
    assert_eq!(page["state"], "error", "{page}");
    assert!(
        page["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot read \"planet 7\"")),
        "{page}"
    );

    // GraphiQL: loads with nothing from another origin (CI has no CDN) and answers from the store.
    let meta = api.data("{ _meta { blockNumber } }", json!({})).await?;
    let page = browse(
        "graphiql.mjs",
        [
            &format!("{}/graphiql", api.base),
            "{ _meta { blockNumber } }",
            &root
                .join("target")
                .join("graphiql.png")
                .display()
                .to_string(),
        ],
    )?;
    assert_eq!(page["foreign"], json!([]), "{page}");
    assert_eq!(page["failedRequests"], json!([]), "{page}");
    let shown: String = page["response"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert!(
        shown.contains(&format!("\"blockNumber\":{}", meta["_meta"]["blockNumber"])),
        "GraphiQL shows the answer: {page}"
    );
    // Its docs pane lists the schema's types: GraphiQL's introspection query was answered.
    for name in [
        "QueryRoot",
        "Datanet",
        "Contribution",
        "Inference",
        "BigInt",
        "U64",
    ] {
        assert!(
            page["docTypes"]
                .as_array()
                .is_some_and(|types| types.contains(&json!(name))),
            "the docs pane lists {name}: {page}"
        );
    }
    Ok(())
}
