//! Published outputs and `soil audit`: `soil infer --publish-dir` writes each output under its hash and
//! the receipt names it; `soil serve --publish-dir` answers `GET /v1/outputs/{hash}` over HTTP, over
//! documents contributed with http URIs; `soil audit` passes honest settled receipts and fails, naming
//! why, a tampered or missing output, an attribution the output does not recompute to, and an
//! attribution version it does not implement.

use std::{path::Path, time::Duration};

use alloy::{
    primitives::{B256, U256, keccak256},
    providers::Provider,
};
use serde_json::{Value, json};
use soil_bindings::{Attribution, ReceiptDomain};
use soil_client::{
    outbox::Outbox,
    outputs::{OutputStore, output_uri},
    receipt::{PriceSchedule, ReceiptTerms, Usage, sign_usage},
};

use crate::common::*;

/// Runs `soil --json audit ID` as Bob (no stake in the receipts); returns whether it succeeded, the JSON
/// it printed and its stderr.
fn audit(env: &Env, id: &str) -> (bool, Value, String) {
    let output = env
        .soil(BOB)
        .args(["--json", "audit", id])
        .output()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "soil audit {id} printed no JSON ({err}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (
        output.status.success(),
        json,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The finding kinds of the receipt with `digest` in an audit's JSON.
fn findings(audited: &Value, digest: B256) -> Vec<Value> {
    audited["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["digest"] == json!(digest))
        .unwrap_or_else(|| panic!("{digest} audited: {audited}"))["findings"]
        .as_array()
        .unwrap()
        .clone()
}

/// Signs, as the payer and through the library, a receipt for `output` published in `store`, with the
/// attribution and attribution version given, and leaves it in the payer's outbox.
async fn sign_published(
    env: &Env,
    market: &Market,
    store: &OutputStore,
    output: &str,
    attribution: Attribution,
    version: u16,
) -> B256 {
    store.publish(output.as_bytes()).await.unwrap();
    let now = env
        .provider()
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    let domain = ReceiptDomain {
        chain_id: env.chain.deployment.chain_id,
        escrow: env.chain.deployment.usage_escrow,
    };
    let terms = ReceiptTerms {
        model_id: market.model,
        node: env.address(NODE),
        prices: PriceSchedule::fixed(U256::from(PRICE)),
        deadline: now + 600,
    };
    let uri = output_uri(&store.file_base(), output.as_bytes());
    let usage = Usage {
        prompt: b"a prompt",
        output: output.as_bytes(),
        output_uri: &uri,
        input_tokens: 5,
        output_tokens: 12,
    };
    let signed = sign_usage(
        &domain,
        env.signer(PAYER),
        &terms,
        &usage,
        version,
        attribution,
    )
    .await
    .unwrap();
    let outbox = Outbox::open(&env.home(PAYER).join("outbox.sqlite"))
        .await
        .unwrap();
    outbox.push(&domain, &signed).await.unwrap();
    signed.digest(&domain)
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_passes_published_outputs_and_names_what_differs() {
    let env = Env::start().await;
    let market = market(&env).await;
    let dir = env.dir.path().join("outputs");

    // Published under its hash, before the receipt was signed; the receipt names it.
    let out = infer(
        &env,
        &market,
        "The honey bee is a eusocial flying insect within the genus",
        &["--publish-dir", path_str(&dir)],
    );
    let text = out["text"].as_str().unwrap();
    let hash = keccak256(text.as_bytes());
    assert_eq!(out["outputHash"], json!(hash));
    let file = std::fs::canonicalize(&dir).unwrap().join(hash.to_string());
    assert_eq!(std::fs::read(&file).unwrap(), text.as_bytes());
    let uri = out["outputUri"].as_str().unwrap();
    assert_eq!(
        url::Url::parse(uri).unwrap().to_file_path().unwrap(),
        file,
        "{uri}"
    );
    let honest: B256 = out["receipt"].as_str().unwrap().parse().unwrap();

    // Two receipts signed through the library over a quotation of Alice's first document: one crediting
    // her other document instead, one under an attribution version nobody implements.
    let store = OutputStore::open(&dir).unwrap();
    let quote = "The honey bee is a eusocial flying insect within the genus Apis of the bee clade.";
    let (first, second) = (market.accepted[0].0, market.accepted[1].0);
    let wrong = Attribution::new(vec![(second, 500_000)]).unwrap();
    let misattributed = sign_published(&env, &market, &store, quote, wrong, 1).await;
    let right = Attribution::new(vec![(first, 500_000)]).unwrap();
    let future = sign_published(&env, &market, &store, quote, right, 2).await;

    let settled = env.json(PAYER, &["settle"]);
    assert_eq!(settled["report"]["settled"].as_u64(), Some(3), "{settled}");
    let tx = settled["report"]["transactions"][0].as_str().unwrap();

    // By settlement transaction: all three audited, two fail, each naming why.
    let (ok, audited, stderr) = audit(&env, tx);
    assert!(!ok, "{audited}");
    assert!(stderr.contains("2 of 3"), "{stderr}");
    assert_eq!(audited["passed"], json!(false));
    assert_eq!(findings(&audited, honest), Vec::<Value>::new(), "{audited}");
    let mismatch = findings(&audited, misattributed);
    assert_eq!(mismatch.len(), 1, "{audited}");
    assert_eq!(mismatch[0]["kind"], "attributionMismatch");
    let receipt = audited["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["digest"] == json!(misattributed))
        .unwrap();
    assert_eq!(
        receipt["settledAttribution"],
        json!([{ "contributionId": second, "weightPpm": 500_000 }])
    );
    let recomputed = receipt["recomputedAttribution"].as_array().unwrap();
    assert_eq!(
        recomputed[0]["contributionId"].as_u64(),
        Some(first),
        "{receipt}"
    );
    assert_eq!(
        findings(&audited, future),
        vec![json!({ "kind": "unsupportedVersion", "version": 2, "supported": 1 })]
    );

    // The human verdict of the misattributed receipt shows both tables.
    let printed = env
        .soil(BOB)
        .args(["audit", &misattributed.to_string()])
        .output()
        .unwrap();
    assert!(!printed.status.success());
    let stdout = String::from_utf8_lossy(&printed.stdout);
    assert!(
        stdout.contains("FAIL") && stdout.contains("attribution mismatch"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SIGNED (PPM)") && stdout.contains("differs"),
        "{stdout}"
    );

    // By digest: the honest receipt passes.
    let (ok, audited, stderr) = audit(&env, &honest.to_string());
    assert!(ok, "{audited}\n{stderr}");
    assert_eq!(audited["passed"], json!(true));
    assert_eq!(
        audited["receipts"][0]["recomputedHash"],
        audited["receipts"][0]["attributionHash"]
    );

    // Its published output tampered with, then gone.
    std::fs::write(&file, format!("{text} (edited)")).unwrap();
    let (ok, audited, _) = audit(&env, &honest.to_string());
    assert!(!ok);
    let tampered = findings(&audited, honest);
    assert_eq!(tampered[0]["kind"], "outputHashMismatch", "{audited}");
    assert_eq!(tampered[0]["signed"], json!(hash));
    std::fs::remove_file(&file).unwrap();
    let (ok, audited, _) = audit(&env, &honest.to_string());
    assert!(!ok);
    assert_eq!(
        findings(&audited, honest)[0]["kind"],
        "outputUnavailable",
        "{audited}"
    );

    // Neither a settled receipt nor a transaction.
    let stderr = env.fails(BOB, &["audit", &B256::repeat_byte(7).to_string()]);
    assert!(stderr.contains("neither the digest"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_publishes_outputs_over_http_and_they_audit() {
    let env = Env::start().await;
    // The documents are contributed with http URIs: registering the model, serving it and auditing all
    // fetch them over HTTP and check them against their content hashes.
    let documents = http_files(document_files());
    let market = market_at(&env, Some(&documents)).await;
    let dir = env.dir.path().join("served-outputs");
    let (server, base) = serve_market(&env, &market, &["--publish-dir", path_str(&dir)]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let name = format!("soil-{}", market.model);
    let chat: Value = http
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({ "model": name, "messages": [{ "role": "user", "content": "What do bees make?" }],
                       "max_tokens": 12, "temperature": 0 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = chat["choices"][0]["message"]["content"].as_str().unwrap();
    let hash = keccak256(text.as_bytes());
    let uri = chat["soil"]["output_uri"].as_str().unwrap();
    assert_eq!(uri, format!("{base}/v1/outputs/{hash}"), "{chat}");
    assert_eq!(chat["soil"]["output_hash"], json!(hash));

    let response = http.get(uri).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(response.bytes().await.unwrap(), text.as_bytes());
    assert!(Path::new(&dir).join(hash.to_string()).is_file());

    // Unknown: 404 in OpenAI's error shape. Malformed or escaping: 400, never a file outside the folder.
    std::fs::write(env.dir.path().join("secret"), "not published").unwrap();
    let unknown = http
        .get(format!(
            "{base}/v1/outputs/{}",
            keccak256(b"never generated")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(unknown["error"]["type"], "not_found_error", "{unknown}");
    for bad in ["0x1234", "..%2Fsecret", "..%2F..%2Fsecret", "secret"] {
        let response = http
            .get(format!("{base}/v1/outputs/{bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error", "{bad}");
    }

    // Settled while the server runs (its own settler waits an hour), then audited over HTTP.
    let settled = env.json(PAYER, &["settle"]);
    assert_eq!(settled["report"]["settled"].as_u64(), Some(1), "{settled}");
    let digest = chat["soil"]["receipt"].as_str().unwrap();
    let (ok, audited, stderr) = audit(&env, digest);
    assert!(ok, "{audited}\n{stderr}");
    assert_eq!(audited["receipts"][0]["outputUri"], json!(uri));
    drop(server);
}
