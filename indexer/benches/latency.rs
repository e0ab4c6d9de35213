//! Block-to-queryable latency while following a live chain (a bench binary).
//!
//! anvil mines a block every second with one contribution in it; the real `soil-indexer run` binary
//! follows it over WebSocket into SQLite and serves GraphQL. For every new head this bench is told of
//! (its own WebSocket subscription to the same anvil), it polls `_meta { blockNumber }` every
//! millisecond until the indexer answers that block or a later one: the time from the head's arrival to
//! the block being visible through GraphQL. Reports p50, p99 and the worst of `--blocks` heads.
//!
//! ```text
//! cargo bench -p soil-indexer --bench latency -- [--blocks 120]
//! ```

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::primitives::{U256, aliases::U96, keccak256};
use alloy::providers::{Provider, ProviderBuilder, WsConnect};
use soil_bindings::contracts::{IDatanetRegistry, IPaymentToken};
use soil_bindings::testnet::{LocalChain, LocalChainOptions};

type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn blocks_to_measure() -> BenchResult<usize> {
    let mut blocks = 120;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--blocks" => blocks = args.next().ok_or("--blocks N")?.parse()?,
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    Ok(blocks)
}

/// The indexer process, killed on drop.
struct Indexer(Child);

impl Drop for Indexer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The block number the indexer answers through GraphQL `_meta`.
async fn meta_block(client: &reqwest::Client, url: &str) -> Option<u64> {
    let response: serde_json::Value = client
        .post(url)
        .json(&serde_json::json!({ "query": "{ _meta { blockNumber } }" }))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    // A `U64`: a decimal string.
    response["data"]["_meta"]["blockNumber"]
        .as_str()?
        .parse()
        .ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> BenchResult {
    let blocks = blocks_to_measure()?;
    let chain = LocalChain::start_with(LocalChainOptions {
        block_time: Some(1),
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let deployment = dir.path().join("deployment.json");
    std::fs::write(&deployment, serde_json::to_vec(&chain.deployment)?)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let _indexer = Indexer(
        Command::new(env!("CARGO_BIN_EXE_soil-indexer"))
            .args(["--log", "warn", "run"])
            .args(["--rpc-url", &chain.ws_url()])
            .arg("--deployment")
            .arg(&deployment)
            .arg("--database-url")
            .arg(format!(
                "sqlite://{}",
                dir.path().join("index.db").display()
            ))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .spawn()?,
    );
    let graphql = format!("http://127.0.0.1:{port}/graphql");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while meta_block(&client, &graphql).await.is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            return Err("the indexer did not answer GraphQL within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // One contribution per block, sent from its own task so blocks carry events.
    let owner = chain.signers[0].clone();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(chain.anvil.endpoint_url());
    let token = IPaymentToken::new(chain.deployment.token, provider.clone());
    token
        .mint(owner.address(), U256::from(10u64).pow(U256::from(24u64)))
        .send()
        .await?
        .get_receipt()
        .await?;
    token
        .approve(chain.deployment.datanet_registry, U256::MAX)
        .send()
        .await?
        .get_receipt()
        .await?;
    let registry = IDatanetRegistry::new(chain.deployment.datanet_registry, provider);
    registry
        .createDatanet(
            "latency".into(),
            U96::from(1u64),
            24 * 3_600,
            1_000,
            vec![owner.address()],
        )
        .send()
        .await?
        .get_receipt()
        .await?;
    let contributor = tokio::spawn(async move {
        for i in 0u64.. {
            let sent = registry
                .contribute(
                    1,
                    keccak256(i.to_be_bytes()),
                    100,
                    String::new(),
                    U96::from(1u64),
                )
                .send()
                .await;
            if sent.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1_000)).await;
        }
    });

    let heads = ProviderBuilder::new()
        .connect_ws(WsConnect::new(chain.ws_url()))
        .await?;
    let mut subscription = heads.subscribe_blocks().await?;
    let mut latencies = Vec::with_capacity(blocks);
    while latencies.len() < blocks {
        let head = subscription.recv().await?;
        let arrived = Instant::now();
        loop {
            if meta_block(&client, &graphql)
                .await
                .is_some_and(|indexed| indexed >= head.number)
            {
                latencies.push(arrived.elapsed());
                break;
            }
            if arrived.elapsed() > Duration::from_secs(10) {
                return Err(format!("block {} not queryable after 10 s", head.number).into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    contributor.abort();
    latencies.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("| blocks | p50 (ms) | p99 (ms) | max (ms) |");
    println!("|---|---|---|---|");
    println!(
        "| {blocks} | {:.1} | {:.1} | {:.1} |",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies[latencies.len() - 1]),
    );
    Ok(())
}
