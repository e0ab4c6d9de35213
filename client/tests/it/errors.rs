//! Bad inputs get clear errors: wrong model file, bad keystore password, expired receipt, unknown
//! release, a node that never answers.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn wrong_model_file_is_refused_before_loading() {
    let env = Env::start().await;
    let market = market(&env).await;
    // A second model registered with the hash of other weights: the real file with a byte appended
    // (registration loads the file to count the release's tokens, so it must be a model llama.cpp reads).
    let fake = env.dir.path().join("other.gguf");
    let mut weights = std::fs::read(model_path()).unwrap();
    weights.push(0);
    std::fs::write(&fake, weights).unwrap();
    let registered = env.json(
        MODEL_OWNER,
        &[
            "model",
            "register",
            "--file",
            path_str(&fake),
            "--release",
            &market.release.to_string(),
            "--price",
            "1000",
            "--split",
            "3000,5000,1500,500",
        ],
    );
    let model_id = registered["modelId"].as_u64().unwrap().to_string();
    let model = model_path();
    let err = env.fails(
        PAYER,
        &[
            "infer",
            "--model-id",
            &model_id,
            "--model",
            path_str(&model),
            "hello",
        ],
    );
    assert!(
        err.contains("does not match the registered weights") && err.contains(path_str(&model)),
        "{err}"
    );
    assert_eq!(
        outbox_counts(&env, PAYER),
        (0, 0, 0),
        "no receipt for a refused model"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_receipt_is_set_aside_and_the_rest_of_the_batch_settles() {
    let env = Env::start().await;
    let market = market(&env).await;
    let short = infer(
        &env,
        &market,
        "Name an insect.",
        &["--receipt-validity", "60"],
    );
    env.advance_time(120).await;
    let good = infer(&env, &market, "Name a fertilizer.", &[]);
    let payer = env.address(PAYER);
    let deposit_before = env.escrow().depositOf(payer).call().await.unwrap();

    let settled = env.json(PAYER, &["settle"]);
    assert_eq!(settled["report"]["settled"].as_u64(), Some(1), "{settled}");
    assert_eq!(settled["report"]["failed"].as_u64(), Some(1), "{settled}");
    assert_eq!(
        deposit_before - env.escrow().depositOf(payer).call().await.unwrap(),
        u256(&good["fee"])
    );
    let status = env.json(PAYER, &["status"]);
    let failed = status["failedReceipts"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{status}");
    assert_eq!(failed[0]["digest"], short["receipt"]);
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("expired unsettled"),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_release_is_named() {
    let env = Env::start().await;
    let err = env.fails(PAYER, &["datanet", "sync", "99"]);
    assert!(err.contains("release 99 does not exist"), "{err}");
    let err = env.fails(PAYER, &["attribute", "--release", "99", "--text", "x"]);
    assert!(err.contains("release 99 does not exist"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_that_never_answers_is_an_error_within_the_rpc_timeout() {
    let env = Env::start().await;
    // Accepts connections and reads requests, but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming() {
            held.push(stream);
        }
    });
    let started = std::time::Instant::now();
    let output = env
        .soil(PAYER)
        .env("SOIL_RPC_URL", &url)
        .args(["--rpc-timeout", "1", "balance"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "gave up after {:?}",
        started.elapsed()
    );
    assert!(
        err.contains("chain id") && err.contains(&url) && err.contains("timed out"),
        "{err}"
    );
}
