//! kill -9 at any moment during backfill: the real binary is SIGKILLed twice mid-way and restarted;
//! the result is exactly the state of a clean run (no gap, no duplicate), on SQLite and on PostgreSQL,
//! where the database server is also crashed under a running indexer.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use soil_bindings::contracts::IUsageEscrow;
use soil_bindings::testnet::LocalChain;
use soil_indexer::projection::rebuild::dump;
use soil_indexer::store::Store;
use sqlx::Row;

use crate::support::{
    Actors, PgCluster, TestResult, free_port, index, send, setup_graph, sqlite, sync_config,
    use_graph, wallet,
};

fn indexer(rpc_url: &str, deployment: &Path, database_url: &str) -> std::io::Result<Child> {
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
            // Batches of a few ranges at most, so that the checkpoint moves in small steps and each
            // kill lands mid-backfill.
            "--batch-events",
            "4",
            "--poll-interval-ms",
            "50",
            "--defer-indexes-from",
            "1",
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

/// Waits until the running child's checkpoint reaches `block`.
async fn reached(child: &mut Child, store: &Store, block: i64) -> TestResult {
    let deadline = Instant::now() + Duration::from_secs(60);
    while checkpoint(store).await < block {
        assert!(
            child.try_wait()?.is_none(),
            "the indexer exited before block {block}"
        );
        assert!(Instant::now() < deadline, "the indexer made no progress");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// Waits until the child's checkpoint passes `block`, then SIGKILLs it; returns where it stood.
async fn kill_after(child: &mut Child, store: &Store, block: i64) -> TestResult<i64> {
    reached(child, store, block).await?;
    child.kill()?; // SIGKILL
    child.wait()?;
    Ok(checkpoint(store).await)
}

/// A chain with the whole graph and 60 more blocks to backfill, and its deployment file in `dir`.
async fn chain_to_backfill(dir: &Path) -> TestResult<(LocalChain, PathBuf)> {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    setup_graph(&chain, &actors).await?;
    use_graph(&chain, &actors).await?;
    let escrow = IUsageEscrow::new(chain.deployment.usage_escrow, wallet(&chain, &actors.payer));
    for _ in 0..60 {
        send!(escrow.deposit(U256::from(1u64)));
    }
    let deployment = dir.join("deployment.json");
    std::fs::write(&deployment, serde_json::to_string(&chain.deployment)?)?;
    Ok((chain, deployment))
}

/// The real binary backfills `chain` into `url` and is SIGKILLed twice mid-way; a third run catches up.
async fn kill_twice_then_catch_up(
    chain: &LocalChain,
    deployment: &Path,
    url: &str,
    store: &Store,
) -> TestResult {
    let start = chain.deployment.start_block as i64;
    let mut first = indexer(&chain.rpc_url(), deployment, url)?;
    let at = kill_after(&mut first, store, start + 20).await?;
    assert!(
        store.deferred_indexes().await? > 0,
        "killed mid-backfill with the secondary indexes set aside"
    );
    let mut second = indexer(&chain.rpc_url(), deployment, url)?;
    let again = kill_after(&mut second, store, at + 25).await?;
    assert!(
        again > at,
        "the restarted indexer resumed from its checkpoint"
    );
    let status = indexer(&chain.rpc_url(), deployment, url)?.wait()?;
    assert!(status.success(), "the last run exits 0 once caught up");
    assert_eq!(
        store.deferred_indexes().await?,
        0,
        "indexes rebuilt once caught up"
    );
    Ok(())
}

/// `store` holds exactly what a clean in-process run of `chain` into `clean` holds; returns the dump.
async fn same_as_clean_run(chain: &LocalChain, store: &Store, clean: &Store) -> TestResult<String> {
    index(chain, clean, sync_config(1)).await?;
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
        raw(store).await?,
        raw(clean).await?,
        "no raw event lost or duplicated"
    );
    let dumped = dump(store).await?;
    assert_eq!(dumped, dump(clean).await?, "resumed == clean run");
    Ok(dumped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_backfill_resumes_without_gap_or_duplicate() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (chain, deployment) = chain_to_backfill(dir.path()).await?;
    let (store, url) = sqlite(dir.path(), "killed.db").await?;
    kill_twice_then_catch_up(&chain, &deployment, &url, &store).await?;
    let (clean, _) = sqlite(dir.path(), "clean.db").await?;
    let dumped = same_as_clean_run(&chain, &store, &clean).await?;

    // The other subcommands on the same database: `rebuild` re-derives the same graph from the raw
    // events, `status` reports the checkpoint.
    store.close().await;
    let rebuilt = cli(&["rebuild", "--database-url", &url])?;
    assert!(rebuilt.contains("rebuilt projections from"), "{rebuilt}");
    let store = Store::open(&url).await?;
    assert_eq!(
        dump(&store).await?,
        dumped,
        "`soil-indexer rebuild` re-derives the same graph"
    );
    let head = checkpoint(&store).await;
    let status = cli(&[
        "status",
        "--database-url",
        &url,
        "--rpc-url",
        &chain.rpc_url(),
    ])?;
    assert!(
        status.contains(&format!("checkpoint:      block {head} ")),
        "{status}"
    );
    assert!(status.contains("(0 behind)"), "{status}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sigkill_and_server_crash_during_backfill_resume_without_gap_or_duplicate()
-> TestResult {
    let cluster = PgCluster::start()?;
    let dir = tempfile::tempdir()?;
    let (chain, deployment) = chain_to_backfill(dir.path()).await?;
    let url = cluster.database("killed")?;
    let store = Store::open(&url).await?;
    kill_twice_then_catch_up(&chain, &deployment, &url, &store).await?;
    let clean = Store::open(&cluster.database("clean")?).await?;
    same_as_clean_run(&chain, &store, &clean).await?;

    // The database server itself crashes mid-backfill (an immediate stop: commits not yet flushed
    // from its WAL buffers may be lost, since the indexer commits without waiting for the flush); the
    // indexer rides out the outage and, with the server back, catches up to the same graph.
    let url = cluster.database("crashed")?;
    let store = Store::open(&url).await?;
    let start = chain.deployment.start_block as i64;
    let mut child = indexer(&chain.rpc_url(), &deployment, &url)?;
    reached(&mut child, &store, start + 20).await?;
    store.close().await;
    cluster.crash()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait()?.is_none(),
        "the indexer kept running through the database outage"
    );
    cluster.restart()?;
    let status = child.wait()?;
    assert!(status.success(), "the indexer exits 0 once caught up");
    let store = Store::open(&url).await?;
    let crashed = dump(&store).await?;
    assert_eq!(
        crashed,
        dump(&clean).await?,
        "a database crash mid-backfill, then caught up == clean run"
    );
    Ok(())
}

fn cli(args: &[&str]) -> TestResult<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_soil-indexer"))
        .args(args)
        .env("SOIL_INDEXER_LOG", "warn")
        .output()?;
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// Listens on `port` and relays every connection to `target` (the node "coming up" at `port`).
async fn relay(port: u16, target: std::net::SocketAddr) -> TestResult<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    Ok(tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_unreachable_at_start_up_is_waited_for_not_a_crash() -> TestResult {
    let chain = LocalChain::start().await?;
    let dir = tempfile::tempdir()?;
    let deployment = dir.path().join("deployment.json");
    std::fs::write(&deployment, serde_json::to_string(&chain.deployment)?)?;
    let (rpc_port, port) = (free_port()?, free_port()?);
    let url = format!("sqlite://{}", dir.path().join("waited.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_soil-indexer"))
        .args(["run", "--exit-when-caught-up", "--database-url", &url])
        .arg("--rpc-url")
        .arg(format!("http://127.0.0.1:{rpc_port}"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--deployment")
        .arg(&deployment)
        .env("SOIL_INDEXER_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()?;
    let result = async {
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{base}/health")).send().await.is_err() {
            assert!(Instant::now() < deadline, "/health never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            child.try_wait()?.is_none(),
            "the indexer exited while the RPC was unreachable"
        );
        let ready = http.get(format!("{base}/ready")).send().await?;
        assert_eq!(ready.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);

        // The node comes up at the address the indexer was given: it starts syncing by itself.
        let anvil = chain.anvil.endpoint_url();
        let target = (
            anvil.host_str().ok_or("anvil host")?,
            anvil.port().ok_or("anvil port")?,
        );
        let target = tokio::net::lookup_host(target)
            .await?
            .next()
            .ok_or("anvil address")?;
        let _relay = relay(rpc_port, target).await?;
        let deadline = Instant::now() + Duration::from_secs(90);
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            assert!(Instant::now() < deadline, "never caught up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let mut log = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().ok_or("stderr")?, &mut log)?;
        assert!(status.success(), "{log}");
        let unreachable = format!("http://127.0.0.1:{rpc_port}");
        assert!(
            log.contains("retrying") && log.contains(&unreachable),
            "each failed try is logged, naming the endpoint: {log}"
        );
        let store = Store::open(&url).await?;
        let head =
            alloy::providers::Provider::get_block_number(&crate::support::reader(&chain)).await?;
        assert_eq!(checkpoint(&store).await, head as i64, "caught up");
        TestResult::Ok(())
    }
    .await;
    if child.try_wait()?.is_none() {
        child.kill()?;
        child.wait()?;
    }
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_health_readiness_and_metrics_while_following() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    setup_graph(&chain, &actors).await?;
    let dir = tempfile::tempdir()?;
    let deployment = dir.path().join("deployment.json");
    std::fs::write(&deployment, serde_json::to_string(&chain.deployment)?)?;
    let port = free_port()?;
    let url = format!("sqlite://{}", dir.path().join("served.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_soil-indexer"))
        .args([
            "run",
            "--rpc-url",
            &chain.ws_url(),
            "--database-url",
            &url,
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--deployment")
        .arg(&deployment)
        .env("SOIL_INDEXER_LOG", "warn")
        .spawn()?;
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let result = async {
        loop {
            assert!(Instant::now() < deadline, "never became ready");
            if let Ok(r) = http.get(format!("{base}/ready")).send().await
                && r.status().is_success()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            http.get(format!("{base}/health"))
                .send()
                .await?
                .text()
                .await?,
            "ok"
        );
        // A new block arrives over the WebSocket subscription and is indexed.
        let escrow =
            IUsageEscrow::new(chain.deployment.usage_escrow, wallet(&chain, &actors.payer));
        send!(escrow.deposit(U256::from(7u64)));
        let store = Store::open(&url).await?;
        loop {
            assert!(Instant::now() < deadline, "the new block was not indexed");
            let n: i64 = sqlx::query("SELECT COUNT(*) FROM deposits")
                .fetch_one(store.pool())
                .await?
                .try_get(0)?;
            if n == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        for name in [
            "soil_indexer_events_total",
            "soil_indexer_blocks_behind",
            "soil_indexer_rpc_latency_seconds_bucket",
            "soil_indexer_flush_seconds_bucket",
            "soil_indexer_block_to_queryable_seconds_bucket",
        ] {
            assert!(
                metrics.contains(name),
                "{name} missing from /metrics:\n{metrics}"
            );
        }
        TestResult::Ok(())
    }
    .await;
    child.kill()?;
    child.wait()?;
    result
}
