//! A LoRA adapter end to end against anvil: fine-tuned on a release, registered on its base (with the
//! base owner's derivative share), served beside the base by one `soil serve` and run by `soil infer`;
//! each receipt names and prices its own model, and settlement pays the base's owner its share to the wei.

use alloy::primitives::U256;
use serde_json::{Value, json};

use crate::{
    common::*,
    finetune::{TEXTS, started, text_release},
    openai::ok,
};

/// The adapter's owner.
const ADAPTER_OWNER: usize = BOB;
/// The base owner's derivative share, basis points.
const SHARE_BPS: u64 = 2_500;
/// The adapter's price per 1,000 tokens: twice the base's, so a fee tells which model it paid for.
const ADAPTER_PRICE: u64 = 2 * PRICE;
/// The adapter's split: owner, data, node, treasury.
const ADAPTER_SPLIT: [u64; 4] = [4000, 4000, 1500, 500];

fn u256(value: &Value) -> U256 {
    value.as_str().unwrap().parse().unwrap()
}

/// A chat answer of served model `model` at temperature 0; returns the response.
async fn ask(base: &str, model: &str, question: &str) -> Value {
    let body = json!({ "model": model, "temperature": 0, "max_tokens": 24,
                       "messages": [{ "role": "user", "content": question }] });
    ok(base, "/v1/chat/completions", &body).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_adapter_is_registered_served_and_pays_its_base_owner_to_the_wei() {
    let env = started().await;
    env.chain
        .fund(env.address(PAYER), U256::from(10u64).pow(U256::from(21u64)))
        .await
        .unwrap();
    let release = text_release(&env).to_string();
    let model = model_path();
    let split = SPLIT.map(|p| p.to_string()).join(",");
    let base = env.json(
        MODEL_OWNER,
        &[
            "model",
            "register",
            "--file",
            path_str(&model),
            "--release",
            &release,
            "--price",
            &PRICE.to_string(),
            "--split",
            &split,
        ],
    )["modelId"]
        .as_u64()
        .unwrap()
        .to_string();
    env.json(
        MODEL_OWNER,
        &["model", "share", &base, &SHARE_BPS.to_string()],
    );

    // Fine-tuned on the release from the registered base (its file checked against the registry).
    let out = env.dir.path().join("adapter");
    let trained = env.json(
        ADAPTER_OWNER,
        &[
            "model",
            "finetune",
            "--base",
            &base,
            "--base-file",
            path_str(&model),
            "--release",
            &release,
            "--steps",
            "6",
            "--seq-len",
            "48",
            "--seed",
            "7",
            "--lr",
            "4e-3",
            "--out",
            path_str(&out),
        ],
    );
    let (file, manifest) = (out.join("adapter.gguf"), out.join("manifest.json"));
    let register = |file: &std::path::Path| {
        vec![
            "model".to_owned(),
            "register-adapter".into(),
            "--base".into(),
            base.clone(),
            "--file".into(),
            path_str(file).into(),
            "--uri".into(),
            format!("file://{}", file.display()),
            "--manifest".into(),
            path_str(&manifest).into(),
            "--manifest-uri".into(),
            format!("file://{}", manifest.display()),
            "--price".into(),
            ADAPTER_PRICE.to_string(),
            "--split".into(),
            ADAPTER_SPLIT.map(|p| p.to_string()).join(","),
        ]
    };
    // A file that is not the manifest's adapter is refused, and nothing is registered.
    let other = env.dir.path().join("other.gguf");
    std::fs::copy(&model, &other).unwrap();
    let refused = register(&other);
    let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
    let err = env.fails(ADAPTER_OWNER, &refused);
    assert!(err.contains("come from different trainings"), "{err}");
    assert_eq!(
        env.json(ADAPTER_OWNER, &["model", "list"])
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing was registered"
    );
    let args = register(&file);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let registered = env.json(ADAPTER_OWNER, &args);
    assert_eq!(registered["modelId"], 2, "{registered}");
    assert_eq!(
        registered["trainedOn"],
        json!([release.parse::<u64>().unwrap()])
    );
    assert_eq!(registered["adapterHash"], trained["adapterSha256"]);
    let adapter = registered["modelId"].as_u64().unwrap().to_string();
    let listed = env.json(ADAPTER_OWNER, &["model", "list"]);
    assert_eq!(
        listed[1]["baseModelId"],
        json!(base.parse::<u64>().unwrap()),
        "{listed}"
    );
    assert_eq!(listed[1]["baseShareBps"], json!(SHARE_BPS));

    // One server, the base loaded once with the adapter over it: each request picks its model by name.
    env.json(PAYER, &["deposit", "1000000000000000000"]);
    let node = env.address(NODE).to_string();
    let served_adapter = format!("{adapter}={}", file.display());
    let (_server, url) = serve(
        &env,
        PAYER,
        &[
            "--model-id",
            &base,
            "--model",
            path_str(&model),
            "--adapter",
            &served_adapter,
            "--node",
            &node,
            "--port",
            "0",
            "--interval",
            "3600",
            "--threads",
            "2",
            "--ctx-size",
            "512",
        ],
    );
    let models: Value = reqwest::get(format!("{url}/v1/models"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    let (base_name, adapter_name) = (format!("soil-{base}"), format!("soil-{adapter}"));
    assert_eq!(
        names,
        [base_name.as_str(), adapter_name.as_str()],
        "{models}"
    );
    assert_eq!(
        models["data"][1]["soil_base_model_id"],
        json!(base.parse::<u64>().unwrap())
    );
    let question = TEXTS[3].split(". ").next().unwrap();
    let from_base = ask(&url, &base_name, question).await;
    let from_adapter = ask(&url, &adapter_name, question).await;
    let again = ask(&url, &base_name, question).await;
    let text = |answer: &Value| {
        answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_ne!(
        text(&from_base),
        text(&from_adapter),
        "the adapter changes the answer"
    );
    assert_eq!(
        text(&from_base),
        text(&again),
        "switching back leaves no trace of the adapter"
    );
    // Each receipt is priced at its own model's price.
    let fee = |answer: &Value, price: u64| {
        let soil = &answer["soil"];
        let tokens =
            soil["input_tokens"].as_u64().unwrap() + soil["output_tokens"].as_u64().unwrap();
        assert_eq!(
            u256(&soil["fee"]),
            U256::from(tokens * price / 1000),
            "{soil}"
        );
        u256(&soil["fee"])
    };
    // Each receipt's fee, by model.
    let mut base_receipts = vec![fee(&from_base, PRICE), fee(&again, PRICE)];
    let mut adapter_receipts = vec![fee(&from_adapter, ADAPTER_PRICE)];

    // The base and the adapter asked at once: a batch never mixes adapters, so each answers as alone.
    let names = [&base_name, &adapter_name, &base_name, &adapter_name];
    let mixed = futures::future::join_all(names.map(|name| ask(&url, name, question))).await;
    for (answer, name) in mixed.iter().zip(names) {
        let (alone, price, receipts) = if name == &base_name {
            (&from_base, PRICE, &mut base_receipts)
        } else {
            (&from_adapter, ADAPTER_PRICE, &mut adapter_receipts)
        };
        assert_eq!(
            text(answer),
            text(alone),
            "{name} asked alongside the other"
        );
        receipts.push(fee(answer, price));
    }

    // `soil infer` runs the adapter the same way.
    let infer = env.json(
        PAYER,
        &[
            "infer",
            "--model-id",
            &adapter,
            "--model",
            path_str(&model),
            "--adapter",
            &served_adapter,
            "--node",
            &node,
            "--temperature",
            "0",
            "--max-tokens",
            "16",
            "--threads",
            "2",
            "--ctx-size",
            "512",
            question,
        ],
    );
    let tokens = infer["promptTokens"].as_u64().unwrap() + infer["outputTokens"].as_u64().unwrap();
    assert_eq!(
        u256(&infer["fee"]),
        U256::from(tokens * ADAPTER_PRICE / 1000),
        "{infer}"
    );
    adapter_receipts.push(u256(&infer["fee"]));
    let ran = infer["text"].as_str().unwrap();
    assert!(
        text(&from_adapter).starts_with(ran),
        "{ran:?} is how the served adapter's answer begins"
    );

    // Settlement: the base's owner gets its owner share of the base's fees plus the derivative share of
    // the adapter's, taken from the adapter owner's share; every part rounded down per receipt.
    let settled = env.json(PAYER, &["settle"]);
    assert_eq!(settled["report"]["settled"], 8, "{settled}");
    let per_receipt = |answers: &[U256], bps: u64| {
        answers
            .iter()
            .map(|f| *f * U256::from(bps) / U256::from(10_000u64))
            .fold(U256::ZERO, |a, b| a + b)
    };
    let derivative = per_receipt(&adapter_receipts, SHARE_BPS);
    let base_owner = per_receipt(&base_receipts, SPLIT[0]) + derivative;
    let adapter_owner = per_receipt(&adapter_receipts, ADAPTER_SPLIT[0]) - derivative;
    assert!(derivative > U256::ZERO);
    for (account, expected) in [(MODEL_OWNER, base_owner), (ADAPTER_OWNER, adapter_owner)] {
        let before = env.token_balance(account).await;
        let claimed = env.json(account, &["claim"]);
        assert_eq!(u256(&claimed["claimed"]), expected, "{claimed}");
        assert_eq!(env.token_balance(account).await - before, expected);
    }

    // Anyone re-runs the training from the manifest and adapter at their registered URIs.
    let verified = env.json(
        PAYER,
        &[
            "model",
            "verify-training",
            &adapter,
            "--base-file",
            path_str(&model),
        ],
    );
    assert_eq!(verified["check"], "reproducedBitForBit", "{verified}");
}
