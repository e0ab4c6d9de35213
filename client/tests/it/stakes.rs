//! Every stake has an exit and no declaration seizes a pool: a contribution left unreviewed past its
//! datanet's review window comes back with its stake (`soil datanet withdraw`), a declaration above the
//! datanet's bound is refused, and `soil model register` refuses a release in which a contribution
//! declares more tokens than its document holds.

use alloy::primitives::U256;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn unreviewed_contributions_come_back_and_over_declarations_are_refused() {
    let env = Env::start().await;
    env.chain
        .fund(env.address(ALICE), U256::from(10u64).pow(U256::from(21u64)))
        .await
        .unwrap();
    let curator = env.address(CURATOR).to_string();
    let created = env.json(
        CURATOR,
        &[
            "datanet",
            "create",
            "--min-stake",
            "100",
            "--review-window",
            "600",
            "--max-contribution-tokens",
            "5000",
            "--curator",
            &curator,
        ],
    );
    let datanet = created["datanetId"].as_u64().unwrap().to_string();
    let file = env.dir.path().join("doc.txt");
    std::fs::write(&file, DOCUMENTS[0]).unwrap();
    let contribute = |tokens: &str| {
        let args = [
            "datanet",
            "contribute",
            "--datanet",
            &datanet,
            "--file",
            path_str(&file),
            "--stake",
            &STAKE.to_string(),
            "--tokens",
            tokens,
        ];
        args.map(str::to_owned)
    };

    let too_many = contribute("5001");
    let err = env.fails(ALICE, &too_many.each_ref().map(String::as_str));
    assert!(
        err.contains("above the datanet's largest contribution") && err.contains("5001 > 5000"),
        "the bound is named: {err}"
    );

    // Left unreviewed: refused inside the window, returned after it.
    let pending = env.json(ALICE, &contribute("40").each_ref().map(String::as_str));
    let pending = pending["contributionId"].as_u64().unwrap().to_string();
    let early = env.fails(ALICE, &["datanet", "withdraw", "--contribution", &pending]);
    assert!(early.contains("ReviewWindowOpen"), "{early}");
    let before = env.token_balance(ALICE).await;
    env.advance_time(601).await;
    env.json(ALICE, &["datanet", "withdraw", "--contribution", &pending]);
    assert_eq!(
        env.token_balance(ALICE).await - before,
        U256::from(STAKE),
        "the stake comes back to the wei"
    );
    let late = env.fails(
        CURATOR,
        &["datanet", "review", "--contribution", &pending, "--accept"],
    );
    assert!(late.contains("AlreadyReviewed"), "{late}");

    // Over-declared, accepted and released: no model registers on that release.
    let inflated = env.json(ALICE, &contribute("4000").each_ref().map(String::as_str));
    let inflated = inflated["contributionId"].as_u64().unwrap().to_string();
    env.json(
        CURATOR,
        &["datanet", "review", "--contribution", &inflated, "--accept"],
    );
    let release = env.json(CURATOR, &["datanet", "release", "--datanet", &datanet]);
    let release = release["releaseId"].as_u64().unwrap().to_string();
    let refused = env.fails(
        MODEL_OWNER,
        &[
            "model",
            "register",
            "--file",
            path_str(&model_path()),
            "--release",
            &release,
            "--price",
            "1000",
            "--split",
            "3000,5000,1500,500",
        ],
    );
    assert!(
        refused.contains(&format!("contribution {inflated} declares 4000 tokens")),
        "the over-declaration is named: {refused}"
    );
    let models = env.json(MODEL_OWNER, &["model", "list"]);
    assert_eq!(
        models.as_array().map(Vec::len),
        Some(0),
        "nothing registered: {models}"
    );
}
