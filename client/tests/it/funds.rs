//! Paid work only when it can be paid for: `soil infer` and `soil serve` refuse a request the payer's
//! deposit (less its pending withdrawal and the receipts waiting in its outbox) cannot cover, and
//! `soil settle` fails naming the shortfall when a receipt is deferred because the deposit was spent
//! elsewhere.

use std::time::Duration;

use alloy::primitives::U256;
use serde_json::{Value, json};

use crate::common::*;

/// A second outbox of the same wallet, which cannot see the first one's receipts.
const OTHER_HOME: &str = "second-outbox";

#[tokio::test(flavor = "multi_thread")]
async fn paid_work_is_refused_while_the_deposit_is_withdrawing() {
    let env = Env::start().await;
    let market = market(&env).await;
    let deposit = env.json(PAYER, &["balance"]);
    let deposit = u256(&deposit["deposit"]).to_string();
    env.json(PAYER, &["withdraw", &deposit]);

    let err = env.fails(
        PAYER,
        &[
            "infer",
            "--model-id",
            &market.model.to_string(),
            "--model",
            path_str(&model_path()),
            "--max-tokens",
            "8",
            "Name a pollinator.",
        ],
    );
    assert!(
        err.contains("the deposit cannot pay for this request")
            && err.contains(&format!("pending withdrawal {deposit}")),
        "refused in words naming the pending withdrawal: {err}"
    );
    assert_eq!(outbox_counts(&env, PAYER), (0, 0, 0), "nothing signed");

    let (server, base) = serve_market(&env, &market, &[]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let models: Value = http
        .get(format!("{base}/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let name = models["data"][0]["id"].as_str().unwrap().to_owned();
    let response = http
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({ "model": name, "max_tokens": 8,
                       "messages": [{ "role": "user", "content": "Name a pollinator." }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 402, "payment required");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "insufficient_deposit", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pending withdrawal"),
        "{body}"
    );
    drop(server);
    assert_eq!(outbox_counts(&env, PAYER), (0, 0, 0), "nothing signed");
}

#[tokio::test(flavor = "multi_thread")]
async fn settle_fails_naming_the_shortfall_when_the_deposit_was_spent_elsewhere() {
    let env = Env::start().await;
    let market = market(&env).await;
    let prompt = "Name a pollinator.";
    let args = ["--max-tokens", "4"];

    // The same request from another payer tells what it charges: fee(prompt + at most 4 tokens).
    let probe = infer_as(&env, &market, PAYER, None, prompt, &args);
    let prompt_tokens = probe["promptTokens"].as_u64().unwrap();
    let bound = U256::from(PRICE) * U256::from(prompt_tokens + 4) / U256::from(1000u64);

    // A payer whose deposit covers one such request, signing from two outboxes that cannot see each other.
    let payer = NODE;
    env.chain
        .fund(env.address(payer), U256::from(10u64).pow(U256::from(18u64)))
        .await
        .unwrap();
    env.json(payer, &["deposit", &bound.to_string()]);
    let first = infer_as(&env, &market, payer, None, prompt, &args);
    let second = infer_as(&env, &market, payer, Some(OTHER_HOME), prompt, &args);
    let fee = u256(&first["fee"]);
    assert_eq!(u256(&second["fee"]), fee, "the same request, the same fee");
    assert!(
        fee * U256::from(2u8) > bound,
        "two receipts overcommit the deposit"
    );

    env.json(payer, &["settle"]);
    let output = env
        .soil(payer)
        .env("SOIL_HOME", env.dir.path().join(OTHER_HOME))
        .args(["settle"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a deferred receipt fails settle");
    let missing = fee - (bound - fee);
    assert!(
        stderr.contains("1 receipt(s) deferred") && stderr.contains(&format!("short by {missing}")),
        "names the shortfall: {stderr}"
    );

    // Topped up before the deadline, the deferred receipt settles once its backoff has passed.
    env.json(payer, &["deposit", &missing.to_string()]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = env
        .soil(payer)
        .env("SOIL_HOME", env.dir.path().join(OTHER_HOME))
        .args(["--json", "settle"])
        .output()
        .unwrap();
    assert_success(&settled, &["settle"]);
    let report: Value = serde_json::from_slice(&settled.stdout).unwrap();
    assert_eq!(report["report"]["settled"], 1, "{report}");
}

/// `soil infer` as `account`, with its outbox in `home` (default: the account's own).
fn infer_as(
    env: &Env,
    market: &Market,
    account: usize,
    home: Option<&str>,
    prompt: &str,
    extra: &[&str],
) -> Value {
    let model = model_path();
    let model_id = market.model.to_string();
    let mut command = env.soil(account);
    if let Some(home) = home {
        command.env("SOIL_HOME", env.dir.path().join(home));
    }
    let mut args = vec![
        "--json",
        "infer",
        "--model-id",
        &model_id,
        "--model",
        path_str(&model),
        "--temperature",
        "0",
        "--threads",
        "2",
        "--ctx-size",
        "512",
    ];
    args.extend_from_slice(extra);
    args.push(prompt);
    let output = command.args(&args).output().unwrap();
    assert_success(&output, &args);
    serde_json::from_slice(&output.stdout).unwrap()
}
