//! Crash safety of the outbox: the settle process killed between signing and sending, and between
//! sending and confirming; a restart settles each receipt exactly once.

use alloy::primitives::U256;

use crate::common::*;

fn crash_settle(env: &Env, fail_point: &str) {
    let output = env
        .soil(PAYER)
        .arg("settle")
        .env(fail_point, "1")
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "settle with {fail_point} must die"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_between_sign_and_send_settles_once_after_restart() {
    let env = Env::start().await;
    let market = market(&env).await;
    let out = infer(&env, &market, "Tell me about compost.", &[]);
    let fee = u256(&out["fee"]);
    let nonce: U256 = out["nonce"].as_str().unwrap().parse().unwrap();
    let payer = env.address(PAYER);
    let deposit_before = env.escrow().depositOf(payer).call().await.unwrap();

    crash_settle(&env, "SOIL_FAIL_AFTER_SIGN");
    assert_eq!(
        outbox_counts(&env, PAYER),
        (0, 1, 0),
        "marked in flight, never sent"
    );
    assert!(!env.escrow().isNonceUsed(payer, nonce).call().await.unwrap());
    assert_eq!(
        env.escrow().depositOf(payer).call().await.unwrap(),
        deposit_before
    );

    let settled = env.json(PAYER, &["settle"]);
    assert_eq!(settled["report"]["settled"].as_u64(), Some(1), "{settled}");
    assert_eq!(outbox_counts(&env, PAYER), (0, 0, 0));
    assert!(env.escrow().isNonceUsed(payer, nonce).call().await.unwrap());
    assert_eq!(
        deposit_before - env.escrow().depositOf(payer).call().await.unwrap(),
        fee
    );

    // Settling again sends nothing and charges nothing.
    let again = env.json(PAYER, &["settle"]);
    assert!(
        again["report"]["transactions"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{again}"
    );
    assert_eq!(
        deposit_before - env.escrow().depositOf(payer).call().await.unwrap(),
        fee
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_after_send_is_reconciled_without_a_second_charge() {
    let env = Env::start().await;
    let market = market(&env).await;
    let first = infer(&env, &market, "What do honey bees build?", &[]);
    let second = infer(&env, &market, "What is compost made of?", &[]);
    let fees = u256(&first["fee"]) + u256(&second["fee"]);
    let payer = env.address(PAYER);
    let deposit_before = env.escrow().depositOf(payer).call().await.unwrap();

    crash_settle(&env, "SOIL_FAIL_AFTER_SEND");
    // anvil mined the batch before the process died: charged once, receipts still in flight locally.
    assert_eq!(outbox_counts(&env, PAYER), (0, 2, 0));
    assert_eq!(
        deposit_before - env.escrow().depositOf(payer).call().await.unwrap(),
        fees
    );

    let settled = env.json(PAYER, &["settle"]);
    assert_eq!(
        settled["report"]["already_settled"].as_u64(),
        Some(2),
        "{settled}"
    );
    assert!(
        settled["report"]["transactions"]
            .as_array()
            .unwrap()
            .is_empty(),
        "no resend: {settled}"
    );
    assert_eq!(outbox_counts(&env, PAYER), (0, 0, 0));
    assert_eq!(
        deposit_before - env.escrow().depositOf(payer).call().await.unwrap(),
        fees
    );
}
