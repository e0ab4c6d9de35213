//! The official `openai` Python SDK drives `soil serve`: client/tests/openai_sdk.py, run with the SDK that
//! `make setup-openai-sdk` installs into the repository's `.venv`, checks what a client built on it sees
//! (answers, stop, n, seed, logprobs, streaming with usage, concurrent streams, tool-result turns, and the
//! errors it raises, a full queue's 429 among them).

use std::process::Command;

use soil_bindings::testnet::repo_root;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_openai_python_sdk_drives_soil_serve() {
    let python = repo_root().join(".venv/bin/python");
    let script = repo_root().join("client/tests/openai_sdk.py");
    let sdk = Command::new(&python)
        .args(["-c", "import openai; print(openai.__version__)"])
        .output();
    match &sdk {
        Ok(output) if output.status.success() => {}
        _ => panic!(
            "{} cannot import the openai SDK: run `make setup-openai-sdk` ({sdk:?})",
            python.display()
        ),
    }

    let env = Env::start().await;
    let market = market(&env).await;
    let (_server, base) = serve_market(&env, &market, &["--max-tokens", "24", "--max-queue", "9"]);
    let name = format!("soil-{}", market.model);
    let run = |extra: &[&str]| {
        let started = std::time::Instant::now();
        let output = Command::new(&python)
            .arg(&script)
            .args([&base, &name])
            .args(extra)
            .env("PYTHONUNBUFFERED", "1")
            .output()
            .unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success(),
            "{} {} {base} {name} {extra:?}: {}\n{printed}",
            python.display(),
            script.display(),
            output.status
        );
        eprintln!("{printed}({:.1?})", started.elapsed());
    };
    run(&[]);

    // Every answer the SDK got signed its receipt (30 generations, and the streams it closed early), none
    // failed.
    let (pending, in_flight, failed) = outbox_counts(&env, PAYER);
    assert!(pending >= 30, "{pending} receipts for 30 generations");
    assert_eq!((in_flight, failed), (0, 0));

    // The payer asks to withdraw its whole deposit: the next request is a 402 the SDK raises.
    let deposit = u256(&env.json(PAYER, &["balance"])["deposit"]).to_string();
    env.json(PAYER, &["withdraw", &deposit]);
    run(&["--unfunded"]);
    assert_eq!(outbox_counts(&env, PAYER).0, pending, "nothing more signed");
}
