//! The whole market through the real binary: datanet, contributions, review, release, model, deposit,
//! inference with the real model, attribution, settlement and claims, balances checked to the wei with
//! the fee split recomputed here.

use alloy::primitives::U256;
use serde_json::Value;

use crate::common::*;

const BPS: u64 = 10_000;
const PPM: u64 = 1_000_000;
const SCALE: u128 = 1_000_000_000_000_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn contribute_release_infer_settle_claim() {
    let env = Env::start().await;
    let market = market(&env).await;
    let release = market.release.to_string();

    // Attribution of a document's own sentence credits that document only.
    let excerpt = "Compost is a mixture of ingredients used as plant fertilizer";
    let attributed = env.json(
        PAYER,
        &["attribute", "--release", &release, "--text", excerpt],
    );
    let weights = attributed["weights"].as_array().unwrap();
    assert_eq!(weights.len(), 1, "{attributed}");
    assert_eq!(
        weights[0]["contributionId"].as_u64(),
        Some(market.accepted[1].0)
    );
    // The excerpt is the document's own opening: (nearly) every word is covered.
    assert!(
        weights[0]["weightPpm"].as_u64().unwrap() > PPM / 2,
        "{attributed}"
    );
    // Bob's rejected spam is not in the release.
    let spam = env.json(
        PAYER,
        &[
            "attribute",
            "--release",
            &release,
            "--text",
            "Buy cheap watches now!!! Best prices, click here",
        ],
    );
    assert!(spam["weights"].as_array().unwrap().is_empty(), "{spam}");

    let deposit_before = env
        .escrow()
        .depositOf(env.address(PAYER))
        .call()
        .await
        .unwrap();
    let out = infer(
        &env,
        &market,
        "The honey bee is a eusocial flying insect within the genus",
        &[],
    );
    let fee = u256(&out["fee"]);
    let tokens = out["promptTokens"].as_u64().unwrap() + out["outputTokens"].as_u64().unwrap();
    assert!(
        out["outputTokens"].as_u64().unwrap() > 0 && out["outputTokens"].as_u64().unwrap() <= 24
    );
    assert_eq!(
        fee,
        U256::from(PRICE) * U256::from(tokens) / U256::from(1000u64),
        "fee = price × tokens / 1000"
    );
    assert_eq!(outbox_counts(&env, PAYER), (1, 0, 0));

    // The receipt's attribution re-derives from the output text alone, over the model's releases.
    let audited = env.json(
        BOB,
        &[
            "attribute",
            "--model-id",
            &market.model.to_string(),
            "--text",
            out["text"].as_str().unwrap(),
        ],
    );
    assert_eq!(
        audited["hash"], out["attribution"]["hash"],
        "recomputed from the text: {audited} vs {}",
        out["attribution"]
    );

    let settled = env.json(PAYER, &["settle"]);
    assert_eq!(settled["report"]["settled"].as_u64(), Some(1), "{settled}");
    assert_eq!(outbox_counts(&env, PAYER), (0, 0, 0));
    let deposit_after = env
        .escrow()
        .depositOf(env.address(PAYER))
        .call()
        .await
        .unwrap();
    assert_eq!(
        deposit_before - deposit_after,
        fee,
        "the payer is charged the fee exactly once"
    );

    // The split, recomputed independently from the contract.
    let fee128 = u128::try_from(fee).unwrap();
    let share = |bps: u64| fee128 * u128::from(bps) / u128::from(BPS);
    let (owner, data, node) = (share(SPLIT[0]), share(SPLIT[1]), share(SPLIT[2]));
    let weights: Vec<(u64, u64)> = out["attribution"]["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w: &Value| {
            (
                w["contributionId"].as_u64().unwrap(),
                w["weightPpm"].as_u64().unwrap(),
            )
        })
        .collect();
    let accepted_ids: Vec<u64> = market.accepted.iter().map(|&(id, _)| id).collect();
    assert!(
        weights.iter().all(|(id, _)| accepted_ids.contains(id)),
        "only accepted contributions: {weights:?}"
    );
    assert!(weights.iter().all(|&(id, _)| id != market.rejected));
    let attributed_to = |id: u64| -> u128 {
        weights
            .iter()
            .filter(|w| w.0 == id)
            .map(|&(_, ppm)| data * u128::from(ppm) / u128::from(PPM))
            .sum()
    };
    let attributed_total: u128 = accepted_ids.iter().map(|&id| attributed_to(id)).sum();
    let pool = data - attributed_total;
    let release_tokens: u128 = market.accepted.iter().map(|&(_, t)| u128::from(t)).sum();
    let reward_per_token = pool * SCALE / release_tokens;
    let accrued = reward_per_token * release_tokens / SCALE;
    let treasury = fee128 - owner - node - data + (pool - accrued);
    let alice_expected: u128 = market
        .accepted
        .iter()
        .map(|&(id, t)| attributed_to(id) + u128::from(t) * reward_per_token / SCALE)
        .sum();

    let env_ref = &env;
    let claimable = |account: usize| async move {
        u128::try_from(
            env_ref
                .escrow()
                .balanceOf(env_ref.address(account))
                .call()
                .await
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(claimable(MODEL_OWNER).await, owner);
    assert_eq!(claimable(NODE).await, node);
    assert_eq!(claimable(TREASURY).await, treasury);

    // Alice claims her pool rewards and attributed credits; the payout lands in her wallet to the wei.
    let before = env.token_balance(ALICE).await;
    let claim = env.json(ALICE, &["claim"]);
    let after = env.token_balance(ALICE).await;
    assert_eq!(
        u128::try_from(after - before).unwrap(),
        alice_expected,
        "{claim}"
    );
    assert!(alice_expected > 0);
    assert_eq!(claimable(ALICE).await, 0);
    // Bob's only contribution was rejected: nothing to claim.
    let bob = env.json(BOB, &["claim"]);
    assert_eq!(bob["claimed"].as_str(), Some("0"), "{bob}");

    // The node and owner pull their shares too.
    let before = env.token_balance(NODE).await;
    env.json(NODE, &["claim"]);
    let after = env.token_balance(NODE).await;
    assert_eq!(u128::try_from(after - before).unwrap(), node);
}
