//! Crash safety of the outbox: the settle process killed between signing and sending, and between
//! sending and confirming; a restart settles each receipt exactly once. The looping settler
//! (`settle --interval`) keeps a receipt until its settlement has the asked confirmations.

use std::{
    io::Read,
    process::Stdio,
    time::{Duration, Instant},
};

use alloy::primitives::B256;

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
    let digest: B256 = out["receipt"].as_str().unwrap().parse().unwrap();
    let payer = env.address(PAYER);
    let deposit_before = env.escrow().depositOf(payer).call().await.unwrap();

    crash_settle(&env, "SOIL_FAIL_AFTER_SIGN");
    assert_eq!(
        outbox_counts(&env, PAYER),
        (0, 1, 0),
        "marked in flight, never sent"
    );
    assert!(!env.escrow().isSettled(digest).call().await.unwrap());
    assert_eq!(
        env.escrow().depositOf(payer).call().await.unwrap(),
        deposit_before
    );

    let settled = env.json(PAYER, &["settle"]);
    assert_eq!(settled["report"]["settled"].as_u64(), Some(1), "{settled}");
    assert_eq!(outbox_counts(&env, PAYER), (0, 0, 0));
    assert!(env.escrow().isSettled(digest).call().await.unwrap());
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

/// Polls `done` every 200 ms until it holds; panics naming `what` after 60 s.
async fn eventually<F: AsyncFn() -> bool>(what: &str, done: F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn settle_loop_keeps_receipts_until_confirmed_and_picks_up_new_ones() {
    let env = Env::start().await;
    let market = market(&env).await;
    let payer = env.address(PAYER);
    let deposit_before = env.escrow().depositOf(payer).call().await.unwrap();
    let first = infer(&env, &market, "What do honey bees build?", &[]);

    let mut settle = Running::new(
        env.soil(PAYER)
            .args([
                "--json",
                "settle",
                "--interval",
                "1",
                "--confirmations",
                "2",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Its reports, read as they come: the report of a round is printed after the outbox changed, so the
    // test waits for the reports rather than killing the loop as soon as the outbox is empty.
    let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut stdout = settle.child.stdout.take().unwrap();
    let sink = std::sync::Arc::clone(&printed);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(read @ 1..) = stdout.read(&mut chunk) {
            sink.lock().unwrap().extend_from_slice(&chunk[..read]);
        }
    });
    let rounds = || -> Vec<serde_json::Value> {
        serde_json::Deserializer::from_slice(&printed.lock().unwrap())
            .into_iter()
            .map_while(Result::ok)
            .collect()
    };
    let settled_in = |rounds: &[serde_json::Value]| -> u64 {
        rounds
            .iter()
            .map(|round| round["report"]["settled"].as_u64().unwrap())
            .sum()
    };

    let settled = async |receipt: &serde_json::Value| {
        env.escrow()
            .isSettled(receipt["receipt"].as_str().unwrap().parse().unwrap())
            .call()
            .await
            .unwrap()
    };
    let outbox_empty = async || outbox_counts(&env, PAYER) == (0, 0, 0);

    eventually("the first settlement to be mined", async || {
        settled(&first).await
    })
    .await;
    // Charged, but with no block on top the receipt stays in flight.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        outbox_counts(&env, PAYER),
        (0, 1, 0),
        "0 of 2 confirmations"
    );
    env.mine(1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        outbox_counts(&env, PAYER),
        (0, 1, 0),
        "1 of 2 confirmations"
    );
    env.mine(1).await;
    eventually("the first receipt to leave the outbox", outbox_empty).await;

    // The loop is still running: a receipt signed now is settled by a later round.
    let second = infer(&env, &market, "What is compost made of?", &[]);
    eventually("the second settlement to be mined", async || {
        settled(&second).await
    })
    .await;
    assert_eq!(outbox_counts(&env, PAYER), (0, 1, 0));
    env.mine(2).await;
    eventually("the second receipt to leave the outbox", outbox_empty).await;

    assert_eq!(
        deposit_before - env.escrow().depositOf(payer).call().await.unwrap(),
        u256(&first["fee"]) + u256(&second["fee"]),
        "each receipt charged once"
    );
    eventually(
        "the report of the round that emptied the outbox",
        async || settled_in(&rounds()) == 2,
    )
    .await;
    settle.child.kill().unwrap();
    settle.child.wait().unwrap();
    let rounds = rounds();
    let settled = settled_in(&rounds);
    let sent: usize = rounds
        .iter()
        .map(|round| round["report"]["transactions"].as_array().unwrap().len())
        .sum();
    assert_eq!((settled, sent), (2, 2), "{rounds:?}");
    // One process, two rounds: the second receipt did not exist when the first round ran. (How many idle
    // rounds ran between them depends on how long `soil infer` took.)
    let settling = rounds
        .iter()
        .filter(|round| round["report"]["settled"] == 1)
        .count();
    assert_eq!(
        settling, 2,
        "each receipt settled by a round of its own: {rounds:?}"
    );
}
