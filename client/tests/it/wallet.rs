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

/// A missing keystore file is reported naming the file, before any password is asked for (with no
/// terminal to ask on, that used to fail as "cannot read the keystore password").
#[test]
fn missing_keystore_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere/key.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_soil"))
        .env_clear()
        .args(["--keystore", path_str(&missing), "wallet", "address"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(path_str(&missing))
            && stderr.contains("No such file")
            && !stderr.contains("password"),
        "{stderr}"
    );
}

/// `soil … | head`: a reader that closed its end before anything was written ends the command quietly
/// (status 0, no panic) instead of "failed printing to stdout: Broken pipe".
#[test]
fn closed_stdout_ends_quietly() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_soil"))
        .env_clear()
        .env(
            "SOIL_PRIVATE_KEY",
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        )
        .args(["wallet", "address"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}: {stderr}", output.status);
    assert!(stderr.is_empty(), "{stderr}");
}
