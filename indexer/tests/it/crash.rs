//! kill -9 at any moment during backfill: the real binary is SIGKILLed twice mid-way and restarted;
//! the result is exactly the state of a clean run (no gap, no duplicate).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use soil_bindings::contracts::IUsageEscrow;
use soil_bindings::testnet::LocalChain;
use soil_indexer::projection::rebuild::dump;
use soil_indexer::store::Store;
use sqlx::Row;

use crate::support::{
    Actors, TestResult, index, send, setup_graph, sqlite, sync_config, use_graph, wallet,
};

fn indexer(
    rpc_url: &str,
    deployment: &std::path::Path,
    database_url: &str,
) -> std::io::Result<Child> {
    Command::new(env!("CARGO_BIN_EXE_soil-indexer"))
        .args([
            "run",
            "--rpc-url",
            rpc_url,
            "--database-url",
            database_url,
            "--no-serve",
            "--exit-when-caught-up",
        ])
        .args([
            "--finality-depth",
            "1",
            "--initial-range",
            "1",
            "--max-range",
            "2",
            "--poll-interval-ms",
            "50",
        ])
        .arg("--deployment")
        .arg(deployment)
        .env("SOIL_INDEXER_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
}

async fn checkpoint(store: &Store) -> i64 {
    match sqlx::query("SELECT block_number FROM sync_state")
        .fetch_optional(store.pool())
        .await
    {
        Ok(Some(row)) => row.try_get::<i64, _>(0).unwrap_or(0),
        _ => 0,
    }
}

/// Waits until the child's checkpoint passes `block`, then SIGKILLs it; returns where it stood.
async fn kill_after(child: &mut Child, store: &Store, block: i64) -> TestResult<i64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while checkpoint(store).await < block {
        assert!(
            child.try_wait()?.is_none(),
            "the indexer exited before it was killed"
        );
        assert!(Instant::now() < deadline, "the indexer made no progress");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill()?; // SIGKILL
    child.wait()?;
    Ok(checkpoint(store).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_backfill_resumes_without_gap_or_duplicate() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    setup_graph(&chain, &actors).await?;
    use_graph(&chain, &actors).await?;
    let escrow = IUsageEscrow::new(chain.deployment.usage_escrow, wallet(&chain, &actors.payer));
    for _ in 0..60 {
        send!(escrow.deposit(U256::from(1u64)));
    }
    let dir = tempfile::tempdir()?;
    let deployment = dir.path().join("deployment.json");
    std::fs::write(&deployment, serde_json::to_string(&chain.deployment)?)?;
    let (store, url) = sqlite(dir.path(), "killed.db").await?;
    let start = chain.deployment.start_block as i64;

    let mut first = indexer(&chain.rpc_url(), &deployment, &url)?;
    let at = kill_after(&mut first, &store, start + 20).await?;
    let mut second = indexer(&chain.rpc_url(), &deployment, &url)?;
    let again = kill_after(&mut second, &store, at + 25).await?;
    assert!(
        again > at,
        "the restarted indexer resumed from its checkpoint"
    );
    let status = indexer(&chain.rpc_url(), &deployment, &url)?.wait()?;
    assert!(status.success(), "the last run exits 0 once caught up");

    let (clean, _) = sqlite(dir.path(), "clean.db").await?;
    index(&chain, &clean, sync_config(1)).await?;
    let raw = |s: &Store| {
        let pool = s.pool().clone();
        async move {
            sqlx::query("SELECT COUNT(*) FROM raw_events")
                .fetch_one(&pool)
                .await?
                .try_get::<i64, _>(0)
        }
    };
    assert_eq!(
        raw(&store).await?,
        raw(&clean).await?,
        "no raw event lost or duplicated"
    );
    assert_eq!(
        dump(&store).await?,
        dump(&clean).await?,
        "killed twice and resumed == clean run"
    );
    Ok(())
}
