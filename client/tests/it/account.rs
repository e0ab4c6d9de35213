//! The listings and the payer's money commands through the real binary: `datanet list`, `model list`,
//! `balance`, and `withdraw` (requested, refused in words while locked, carried out once unlocked).

use alloy::primitives::U256;

use crate::common::*;

const DEPOSIT: u64 = 1_000_000_000_000_000_000;
const WITHDRAWAL: u64 = 400_000_000_000_000_000;
const TWO_DAYS: u64 = 2 * 24 * 3600;

#[tokio::test(flavor = "multi_thread")]
async fn listings_balance_and_a_withdrawal_after_the_delay() {
    let env = Env::start().await;
    let market = market(&env).await;

    let datanets = env.json(PAYER, &["datanet", "list"]);
    let datanets = datanets.as_array().expect("a JSON array of datanets");
    assert_eq!(datanets.len(), 1, "{datanets:?}");
    assert_eq!(datanets[0]["acceptedCount"].as_u64(), Some(2));
    assert_eq!(datanets[0]["releaseCount"].as_u64(), Some(1));
    let tokens: u64 = market.accepted.iter().map(|&(_, t)| t).sum();
    assert_eq!(datanets[0]["acceptedTokens"].as_u64(), Some(tokens));

    let models = env.json(PAYER, &["model", "list"]);
    let models = models.as_array().expect("a JSON array of models");
    assert_eq!(models.len(), 1, "{models:?}");
    assert_eq!(models[0]["id"].as_u64(), Some(market.model));
    assert_eq!(models[0]["pricePerKiloToken"], PRICE.to_string());
    assert_eq!(models[0]["releases"][0].as_u64(), Some(market.release));
    assert_eq!(
        models[0]["owner"].as_str().map(str::to_lowercase),
        Some(env.address(MODEL_OWNER).to_string().to_lowercase())
    );

    let token_before = env.token_balance(PAYER).await;
    let balance = env.json(PAYER, &["balance"]);
    assert_eq!(u256(&balance["deposit"]), U256::from(DEPOSIT), "{balance}");
    assert_eq!(u256(&balance["token"]), token_before, "{balance}");
    assert_eq!(u256(&balance["pendingWithdrawal"]), U256::ZERO);
    assert_eq!(u256(&balance["claimable"]), U256::ZERO);

    let requested = env.json(PAYER, &["withdraw", &WITHDRAWAL.to_string()]);
    assert_eq!(
        u256(&requested["pendingWithdrawal"]),
        U256::from(WITHDRAWAL)
    );
    let unlock_at = requested["unlockAt"].as_u64().unwrap();
    assert!(unlock_at > 0, "{requested}");
    // Another account's balance, read without its wallet.
    let seen = env.json(
        NODE,
        &["balance", "--account", &env.address(PAYER).to_string()],
    );
    assert_eq!(u256(&seen["pendingWithdrawal"]), U256::from(WITHDRAWAL));
    assert_eq!(seen["unlockAt"].as_u64(), Some(unlock_at));

    let locked = env.fails(PAYER, &["withdraw", "--execute"]);
    assert!(
        locked.contains("WithdrawalNotReady") && locked.contains(&unlock_at.to_string()),
        "a locked withdrawal is refused in words: {locked}"
    );
    let neither = env.fails(PAYER, &["withdraw"]);
    assert!(neither.contains("--execute"), "{neither}");

    env.advance_time(TWO_DAYS + 1).await;
    let executed = env.json(PAYER, &["withdraw", "--execute"]);
    assert_eq!(
        u256(&executed["pendingWithdrawal"]),
        U256::ZERO,
        "{executed}"
    );
    let token_after = env.token_balance(PAYER).await;
    assert_eq!(
        token_after - token_before,
        U256::from(WITHDRAWAL),
        "the withdrawal lands in the wallet to the wei"
    );
    let balance = env.json(PAYER, &["balance"]);
    assert_eq!(
        u256(&balance["deposit"]),
        U256::from(DEPOSIT - WITHDRAWAL),
        "{balance}"
    );
}
