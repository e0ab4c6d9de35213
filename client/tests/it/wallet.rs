//! Keystores through the binary: create, open, wrong password.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn keystore_round_trip_and_bad_password() {
    let env = Env::start().await;
    let keystore = env.dir.path().join("keys/me.json");
    let keystore = path_str(&keystore);
    let run = |password: &str, args: &[&str]| {
        let mut command = env.soil(PAYER);
        command
            .env_remove("SOIL_PRIVATE_KEY")
            .env("SOIL_KEYSTORE_PASSWORD", password);
        command
            .args(["--json", "--keystore", keystore])
            .args(args)
            .output()
            .unwrap()
    };
    let created = run("hunter2 hunter2", &["wallet", "new"]);
    assert_success(&created, &["wallet", "new"]);
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let shown = run("hunter2 hunter2", &["wallet", "address"]);
    assert_success(&shown, &["wallet", "address"]);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(created["address"], shown["address"]);

    let wrong = run("hunter3", &["wallet", "address"]);
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("wrong password") && stderr.contains("me.json"),
        "{stderr}"
    );

    let again = run("x", &["wallet", "new"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // The keystore wallet signs transactions: fund it and deposit.
    let address: alloy::primitives::Address = created["address"].as_str().unwrap().parse().unwrap();
    env.chain
        .fund(address, alloy::primitives::U256::from(500u64))
        .await
        .unwrap();
    let provider = env.provider();
    use alloy::providers::Provider as _;
    let _: serde_json::Value = provider
        .raw_request("anvil_setBalance".into(), (address, "0x56BC75E2D63100000"))
        .await
        .unwrap();
    let deposit = run("hunter2 hunter2", &["deposit", "500"]);
    assert_success(&deposit, &["deposit", "500"]);
    assert_eq!(
        env.escrow().depositOf(address).call().await.unwrap(),
        alloy::primitives::U256::from(500u64)
    );
}
