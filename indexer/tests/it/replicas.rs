//! Read replicas: one `soil-indexer run` writes PostgreSQL while following anvil, and two
//! `soil-indexer serve` processes answer from the same database (one started before anything was
//! indexed). After each new block both answer its data soon after the writer does, never a cached
//! answer from before it; a subscription on a replica delivers a new contribution; replicas whose
//! notification connection is cut, or stops answering, keep up once they listen again. `serve`
//! refuses SQLite and a schema older than its own by name.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use alloy::primitives::{U256, aliases::U96, keccak256};
use serde_json::{Value, json};
use soil_bindings::contracts::{IDatanetRegistry, IUsageEscrow};
use soil_bindings::testnet::LocalChain;
use soil_indexer::store::Store;
use soil_indexer::store::replica::LISTENER_NAME;
use soil_indexer::store::version::CHANNEL;
use sqlx::postgres::PgListener;

use crate::subscriptions::{next_message, subscribe_at};
use crate::support::{Actors, PgCluster, TestResult, free_port, send, setup_graph, wallet};

/// Deposits made, one block each, and timed on every API process.
const EVENTS: usize = 9;

/// The most a replica may trail the writer in answering a new block: the target is 100 ms; this
/// bound leaves room for a loaded 2-core machine running the chain, the database and three
/// indexers.
const BOUND: Duration = Duration::from_secs(1);

/// A child process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `soil-indexer run` following `chain` into `url`, serving on `port`.
fn writer(chain: &LocalChain, deployment: &Path, url: &str, port: u16) -> TestResult<Process> {
    let child = Command::new(env!("CARGO_BIN_EXE_soil-indexer"))
        .args(["run", "--rpc-url", &chain.ws_url(), "--database-url", url])
        .args(["--poll-interval-ms", "50", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--deployment")
        .arg(deployment)
        .env("SOIL_INDEXER_LOG", "warn")
        .spawn()?;
    Ok(Process(child))
}

/// `soil-indexer serve` over `url` on `port`.
fn replica(url: &str, port: u16) -> TestResult<Process> {
    let child = Command::new(env!("CARGO_BIN_EXE_soil-indexer"))
        .args(["serve", "--database-url", url, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("SOIL_INDEXER_LOG", "warn")
        .spawn()?;
    Ok(Process(child))
}

/// `http://127.0.0.1:<port>`.
fn base(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// Waits until `/ready` at `base` answers 200; returns its text.
async fn ready(http: &reqwest::Client, base: &str) -> TestResult<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/ready")).send().await
            && r.status().is_success()
        {
            return Ok(r.text().await?);
        }
        assert!(Instant::now() < deadline, "{base} never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `data` of `query` POSTed to `base` (fails on errors).
async fn data(http: &reqwest::Client, base: &str, query: &str) -> TestResult<Value> {
    let body: Value = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query }))
        .send()
        .await?
        .json()
        .await?;
    assert!(body.get("errors").is_none(), "{base}: {body}");
    Ok(body["data"].clone())
}

/// Σ deposited, on the whole and by the payer: the answer each API process caches.
const DEPOSITED: &str =
    "{ totals { deposited } account(address: \"{payer}\") { balances { deposited } } }";

/// Asks `base` for `query` every 2 ms until it answers `expected`; returns when it first did.
async fn answered(
    http: &reqwest::Client,
    base: &str,
    query: &str,
    expected: &Value,
) -> TestResult<Instant> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = data(http, base, query).await?;
        if now == *expected {
            return Ok(Instant::now());
        }
        assert!(Instant::now() < deadline, "{base} still answers {now}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Asks the writer at `base` for `query` until it answers something other than `before`; returns
/// that answer.
async fn changed(
    http: &reqwest::Client,
    base: &str,
    query: &str,
    before: &Value,
) -> TestResult<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = data(http, base, query).await?;
        if now != *before {
            return Ok(now);
        }
        assert!(Instant::now() < deadline, "{base} did not index the block");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Processes stopped (SIGSTOP) until dropped (SIGCONT).
struct Stopped(Vec<i32>);

impl Stopped {
    fn new(pids: Vec<i32>) -> TestResult<Self> {
        let stopped = Self(pids);
        stopped.signal("-STOP")?;
        Ok(stopped)
    }

    fn signal(&self, signal: &str) -> TestResult {
        let status = Command::new("kill")
            .arg(signal)
            .args(self.0.iter().map(i32::to_string))
            .status()?;
        assert!(status.success(), "kill {signal} {:?}", self.0);
        Ok(())
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.signal("-CONT");
    }
}

/// The cache hits `/metrics` at `base` reports.
async fn cache_hits(http: &reqwest::Client, base: &str) -> TestResult<u64> {
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let hits = metrics
        .lines()
        .find(|l| l.starts_with("soil_indexer_api_cache_total{result=\"hit\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok());
    Ok(hits.unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_answer_each_new_block_soon_after_the_writer() -> TestResult {
    let chain = LocalChain::start().await?;
    let actors = Actors::of(&chain);
    setup_graph(&chain, &actors).await?;
    let dir = tempfile::tempdir()?;
    let deployment = dir.path().join("deployment.json");
    std::fs::write(&deployment, serde_json::to_string(&chain.deployment)?)?;
    let cluster = PgCluster::start()?;
    let url = cluster.database("replicas")?;
    // Migrated, nothing indexed: the first replica starts before the writer.
    Store::open(&url).await?.close().await;
    let http = reqwest::Client::new();
    let ports = [free_port()?, free_port()?, free_port()?];
    let [writer_api, first_api, second_api] = ports.map(base);
    let _first = replica(&url, ports[1])?;
    ready(&http, &first_api).await?;
    let query = DEPOSITED.replace(
        "{payer}",
        &actors.payer.address().to_string().to_lowercase(),
    );
    assert_eq!(
        data(&http, &first_api, &query).await?["totals"],
        Value::Null,
        "nothing indexed yet"
    );

    let _writer = writer(&chain, &deployment, &url, ports[0])?;
    ready(&http, &writer_api).await?;
    let _second = replica(&url, ports[2])?;
    ready(&http, &second_api).await?;
    let replicas = [&first_api, &second_api];

    let escrow = IUsageEscrow::new(chain.deployment.usage_escrow, wallet(&chain, &actors.payer));
    // Listening as the replicas do: a notification arrives when the writer's commit does.
    let mut commits = PgListener::connect(&url).await?;
    commits.listen(CHANNEL).await?;
    // From the commit to each process answering: the writer, then the two replicas.
    let mut lags: [Vec<Duration>; 3] = Default::default();
    for amount in 1..=EVENTS as u64 {
        // Every process answers the same, twice (the second from its cache), before the block.
        let before = data(&http, &writer_api, &query).await?;
        for api in replicas {
            for _ in 0..2 {
                assert_eq!(data(&http, api, &query).await?, before, "{api}");
            }
        }
        let deposited = |v: &Value| -> TestResult<u128> {
            Ok(v["deposited"].as_str().ok_or("deposited")?.parse()?)
        };
        let expected = json!({
            "totals": { "deposited": (deposited(&before["totals"])? + u128::from(amount)).to_string() },
            "account": { "balances": {
                "deposited": (deposited(&before["account"]["balances"])? + u128::from(amount)).to_string()
            } },
        });
        send!(escrow.deposit(U256::from(amount)));
        let committed = async {
            let notification =
                tokio::time::timeout(Duration::from_secs(30), commits.recv()).await??;
            TestResult::Ok((Instant::now(), notification.payload().to_owned()))
        };
        let (committed, writer_at, first_at, second_at) = tokio::join!(
            committed,
            answered(&http, &writer_api, &query, &expected),
            answered(&http, &first_api, &query, &expected),
            answered(&http, &second_api, &query, &expected),
        );
        let (committed, payload) = committed?;
        let tables = payload.split_once(' ').map_or("", |(_, tables)| tables);
        assert!(
            tables.split(',').any(|t| t == "deposits"),
            "the notification names the tables written: {payload}"
        );
        for (lag, at) in lags.iter_mut().zip([writer_at?, first_at?, second_at?]) {
            lag.push(at.saturating_duration_since(committed));
        }
    }
    for api in replicas {
        assert!(
            cache_hits(&http, api).await? >= EVENTS as u64,
            "{api} answered from its cache before each block"
        );
    }
    for lag in &mut lags {
        lag.sort();
    }
    let summary = |lag: &[Duration]| format!("{:?} ({:?})", lag[lag.len() / 2], lag[lag.len() - 1]);
    eprintln!(
        "from the commit to answering it, median (max) over {EVENTS} blocks: writer {}, replicas {} \
         and {}; all, sorted: {lags:?}",
        summary(&lags[0]),
        summary(&lags[1]),
        summary(&lags[2]),
    );
    for lag in &lags[1..] {
        assert!(lag.iter().all(|lag| *lag < BOUND), "{lags:?}");
    }

    // A subscription on a replica delivers a contribution the writer indexed.
    let mut ws = subscribe_at(
        &first_api,
        "subscription { contributions(datanetId: 1) { removed node { id uri } } }",
    )
    .await?;
    // The subscription's first poll fixes where it starts; give it that poll.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let registry = IDatanetRegistry::new(
        chain.deployment.datanet_registry,
        wallet(&chain, &actors.bob),
    );
    send!(registry.contribute(
        1,
        keccak256("a document served by a replica"),
        500,
        "file:///replica.txt".into(),
        U96::from(300u64)
    ));
    let message = next_message(&mut ws).await?;
    let event = &message["payload"]["data"]["contributions"];
    assert_eq!(event["removed"], false, "{message}");
    assert_eq!(event["node"]["uri"], "file:///replica.txt", "{message}");

    // Both replicas' listening connections are cut: each listens again and catches up.
    let admin = sqlx::PgPool::connect(&url).await?;
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1",
    )
    .bind(LISTENER_NAME)
    .fetch_all(&admin)
    .await?;
    assert_eq!(cut.len(), 2, "each replica listens on one connection");
    let before = data(&http, &writer_api, &query).await?;
    for api in replicas {
        assert_eq!(data(&http, api, &query).await?, before, "{api}");
    }
    send!(escrow.deposit(U256::from(1_000u64)));
    let expected = changed(&http, &writer_api, &query, &before).await?;
    for api in replicas {
        answered(&http, api, &query, &expected).await?;
        assert!(ready(&http, api).await?.starts_with("ready: store version"));
    }

    // Both replicas' listening backends stop answering without closing their connections, as when a
    // network drops a connection silently: each notices when its check of the quiet connection goes
    // unanswered, listens again and catches up.
    let pids: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE application_name = $1")
            .bind(LISTENER_NAME)
            .fetch_all(&admin)
            .await?;
    assert_eq!(
        pids.len(),
        2,
        "each replica listens again on one connection"
    );
    let stopped = Stopped::new(pids)?;
    send!(escrow.deposit(U256::from(2_000u64)));
    let expected = changed(&http, &writer_api, &query, &expected).await?;
    let since = Instant::now();
    for api in replicas {
        answered(&http, api, &query, &expected).await?;
    }
    eprintln!(
        "replicas whose listening backend stopped answered the next block {:?} after the writer",
        since.elapsed()
    );
    drop(stopped);
    for api in replicas {
        assert!(ready(&http, api).await?.starts_with("ready: store version"));
    }
    admin.close().await;

    // `status` prints the stored version, the one the replicas have seen.
    let seen = ready(&http, &first_api).await?;
    let version = seen.trim_start_matches("ready: store version ");
    let status = Command::new(env!("CARGO_BIN_EXE_soil-indexer"))
        .args(["status", "--database-url", &url])
        .output()?;
    let status = String::from_utf8(status.stdout)?;
    assert!(
        status.contains(&format!("store version:   {version} ")),
        "{seen}\n{status}"
    );
    for api in replicas {
        let metrics = http
            .get(format!("{api}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            metrics.contains(&format!("soil_indexer_replica_store_version {version}\n")),
            "{metrics}"
        );
        let lost: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("soil_indexer_replica_listens_lost_total "))
            .ok_or("soil_indexer_replica_listens_lost_total")?
            .parse()?;
        assert!(lost >= 2, "cut, then stopped: {metrics}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_sqlite_and_an_older_schema_by_name() -> TestResult {
    let serve = |url: &str| -> TestResult<String> {
        let output = Command::new(env!("CARGO_BIN_EXE_soil-indexer"))
            .args(["serve", "--database-url", url, "--listen"])
            .arg(format!("127.0.0.1:{}", free_port()?))
            .env("SOIL_INDEXER_LOG", "warn")
            .output()?;
        assert!(!output.status.success(), "serve {url} started");
        Ok(String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}", dir.path().join("soil.db").display());
    let refused = serve(&sqlite)?;
    assert!(refused.contains("needs a PostgreSQL store"), "{refused}");

    let latest = sqlx::migrate!("./migrations/postgres")
        .migrations
        .iter()
        .map(|m| m.version)
        .max()
        .ok_or("migrations")?;
    let cluster = PgCluster::start()?;
    let empty = cluster.database("empty")?;
    let refused = serve(&empty)?;
    assert!(
        refused.contains(&format!(
            "schema is missing but this soil-indexer needs migration {latest}"
        )),
        "{refused}"
    );

    let older = cluster.database("older")?;
    let mut migrator = sqlx::migrate!("./migrations/postgres");
    migrator.migrations = migrator.migrations[..migrator.migrations.len() - 1]
        .to_vec()
        .into();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&older).await?;
    migrator.run(&pool).await?;
    pool.close().await;
    let refused = serve(&older)?;
    assert!(
        refused.contains(&format!(
            "schema is at migration {} but this soil-indexer needs migration {latest}",
            latest - 1
        )),
        "{refused}"
    );
    Ok(())
}
