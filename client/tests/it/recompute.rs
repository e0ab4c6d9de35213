//! The promise of proof of attribution, end to end: every settled receipt's `attributionHash` is what
//! `soil audit` recomputes from the published output and the model's releases, for 32 generations of the
//! real model served over HTTP — temperatures 0 to 1.5, chat and raw completions, Unicode, quotes of the
//! releases, a model with one release and a model with two.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

/// A second datanet's documents: prose in several scripts, served over HTTP like the first.
const MULTILINGUAL: [&str; 2] = [
    "Die Honigbiene sammelt Nektar und Pollen von Blüten und verwandelt den Nektar im Stock zu Honig. \
     Ein Bienenvolk überwintert als Traube und wärmt sich durch Muskelzittern.",
    "Οι μέλισσες επικοινωνούν με τον χορό τους. 蜜蜂は花から花へ飛び、花粉を運びます。 \
     L'abeille domestique vit en colonies de plusieurs dizaines de milliers d'individus.",
];

/// Creates a datanet of [`MULTILINGUAL`] (documents at `base`), accepts both and publishes a release.
fn second_release(env: &Env, base: &str) -> u64 {
    let datanet = create_datanet(env).to_string();
    for (i, text) in MULTILINGUAL.iter().enumerate() {
        let file = env.dir.path().join(format!("multilingual-{i}.txt"));
        std::fs::write(&file, text).unwrap();
        let uri = format!("{base}/multilingual-{i}.txt");
        let contributed = env.json(
            ALICE,
            &[
                "datanet",
                "contribute",
                "--datanet",
                &datanet,
                "--file",
                path_str(&file),
                "--uri",
                &uri,
                "--stake",
                &STAKE.to_string(),
            ],
        );
        let id = contributed["contributionId"].as_u64().unwrap().to_string();
        env.json(
            CURATOR,
            &["datanet", "review", "--contribution", &id, "--accept"],
        );
    }
    let release = env.json(CURATOR, &["datanet", "release", "--datanet", &datanet]);
    release["releaseId"].as_u64().unwrap()
}

/// 16 requests: chat and raw completions over the temperatures, quoting the releases, in several scripts.
fn requests(model: &str) -> Vec<(&'static str, Value)> {
    let prompts = [
        format!("Repeat exactly: {}", DOCUMENTS[0]),
        format!("Continue this text: {}", &DOCUMENTS[1][..80]),
        format!("Wiederhole genau: {}", MULTILINGUAL[0]),
        format!("Répète : {}", MULTILINGUAL[1]),
        "Write a haiku about bees, with an emoji 🐝 and the word « naïve ».".to_owned(),
        "日本語でミツバチについて一文書いてください。".to_owned(),
        "What is compost made of?".to_owned(),
        "List three facts about honey bees.".to_owned(),
    ];
    let temperatures = [0.0, 0.5, 1.0, 1.5];
    let mut requests = Vec::new();
    for (i, prompt) in prompts.iter().enumerate() {
        for chat in [true, false] {
            let temperature = temperatures[(i + usize::from(chat)) % temperatures.len()];
            let body = if chat {
                json!({ "model": model, "messages": [{ "role": "user", "content": prompt }],
                        "max_tokens": 24, "temperature": temperature, "seed": i })
            } else {
                json!({ "model": model, "prompt": prompt, "max_tokens": 24,
                        "temperature": temperature, "seed": i })
            };
            let path = if chat {
                "/v1/chat/completions"
            } else {
                "/v1/completions"
            };
            requests.push((path, body));
        }
    }
    requests
}

/// Serves `model` as the payer, publishing outputs, and sends [`requests`]; returns the server (which
/// serves the outputs to the auditor), each receipt's digest and the published text.
async fn generate(env: &Env, model: u64) -> (Running, Vec<(String, String)>) {
    let dir = env.dir.path().join(format!("outputs-{model}"));
    let model_id = model.to_string();
    let (server, base) = serve(
        env,
        PAYER,
        &[
            "--model-id",
            &model_id,
            "--model",
            path_str(&model_path()),
            "--port",
            "0",
            "--interval",
            "3600",
            "--threads",
            "2",
            "--ctx-size",
            "512",
            "--publish-dir",
            path_str(&dir),
        ],
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let mut receipts = Vec::new();
    for (path, body) in requests(&format!("soil-{model}")) {
        let response: Value = http
            .post(format!("{base}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let choice = &response["choices"][0];
        let text = choice["message"]["content"]
            .as_str()
            .or_else(|| choice["text"].as_str())
            .unwrap_or_else(|| panic!("no text in {response}"));
        let digest = response["soil"]["receipt"].as_str().unwrap();
        receipts.push((digest.to_owned(), text.to_owned()));
    }
    (server, receipts)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_settled_attribution_is_recomputed_from_the_published_output() {
    let env = Env::start().await;
    let mut files = document_files();
    files.extend(
        MULTILINGUAL
            .iter()
            .enumerate()
            .map(|(i, text)| (format!("multilingual-{i}.txt"), text.as_bytes().to_vec())),
    );
    let documents = http_files(files);
    let market = market_at(&env, Some(&documents)).await;
    let second = second_release(&env, &documents);
    let split = SPLIT.map(|p| p.to_string()).join(",");
    let registered = env.json(
        MODEL_OWNER,
        &[
            "model",
            "register",
            "--file",
            path_str(&model_path()),
            "--release",
            &market.release.to_string(),
            "--release",
            &second.to_string(),
            "--price",
            &PRICE.to_string(),
            "--split",
            &split,
        ],
    );
    let two_releases = registered["modelId"].as_u64().unwrap();

    let (_one, mut receipts) = generate(&env, market.model).await;
    let (_two, more) = generate(&env, two_releases).await;
    receipts.extend(more);
    assert_eq!(receipts.len(), 32);

    let settled = env.json(PAYER, &["settle"]);
    assert_eq!(
        settled["outbox"],
        json!({ "pending": 0, "in_flight": 0, "failed": 0 }),
        "{settled}"
    );

    let mut attributed = 0;
    for (digest, text) in &receipts {
        let audited = env.json(BOB, &["audit", digest]);
        let receipt = &audited["receipts"][0];
        assert_eq!(
            receipt["passed"],
            json!(true),
            "{digest} ({text:?}): {audited}"
        );
        assert_eq!(
            receipt["recomputedHash"], receipt["attributionHash"],
            "{audited}"
        );
        assert_eq!(
            receipt["recomputedAttribution"], receipt["settledAttribution"],
            "{audited}"
        );
        if !receipt["settledAttribution"].as_array().unwrap().is_empty() {
            attributed += 1;
        }
    }
    // The quoting prompts make some outputs draw on the releases: the audit covers non-empty
    // attributions, not only empty ones.
    assert!(
        attributed >= 2,
        "only {attributed} of 32 outputs attributed"
    );
}
