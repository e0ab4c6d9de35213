//! Load benchmark of the GraphQL API: p50 and p99 latency of a contributor's earnings and of
//! `attributionGraph` (depth 2) at 200 concurrent clients, over a store holding one million attribution
//! edges.
//!
//! The store is filled through the indexer's own projection (`projection::apply` + `Store::commit`, the
//! path the sync loop takes) from synthetic decoded events: 10 datanets, 1,000 contributors, 10,000
//! accepted contributions, 10 releases and 10 models, then 62,500 settled receipts naming 16
//! contributions each. The load comes from Debian's `wrk` on loopback, rotating over 1,000 contributors.
//!
//! ```text
//! cargo bench -p soil-indexer --bench graphql -- [--db sqlite:///tmp/graphql-bench.db] [--clients 200]
//!     [--seconds 20] [--receipts 62500] [--no-cache] [--block-ms 1000]
//!     [--block-events deposit|settlement] [--query earnings|graph]
//! ```
//! `--db` keeps the seeded database for later runs (seeding is skipped when it is already filled).
//! Each query is measured three times: with the response cache from cold (wrk starts with it empty,
//! so the first pass over the 1,000 bodies runs every query inside the timed window), with it warm
//! (a second run on the same server), and without it, every request executed against the database
//! (`--no-cache`: only that run). While wrk runs, a block is committed every `--block-ms` (1 s, like
//! a live L2; 0: none): without Soil events, or with `--block-events` one payer's deposit or one
//! settled receipt each; every block's changes retire the cached answers read from what it changed.

use std::process::Command;
use std::time::Instant;

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use soil_bindings::Attribution;
use soil_indexer::api::{self, ApiConfig};
use soil_indexer::projection::apply::{apply, record};
use soil_indexer::projection::{Contract, RawEvent, SoilEvent, State};
use soil_indexer::store::{Batch, BlockRef, Checkpoint, Store};

const CHAIN_ID: u64 = 31_337;
const DATANETS: u64 = 10;
const CONTRIBUTORS: u64 = 1_000;
const CONTRIBUTIONS_PER_DATANET: u64 = 1_000;
const ATTRIBUTIONS: u64 = 16;
const PAYERS: u64 = 100;
const NODES: u64 = 10;
const EVENTS_PER_BLOCK: usize = 2_000;
const PRICE: u64 = 1_000_000;
/// Blocks under the head that can still be reorganised while following (journaled).
const FINALITY: u64 = 12;

/// The allocator the `soil-indexer` binary uses (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

struct Options {
    db: Option<String>,
    clients: u32,
    seconds: u32,
    receipts: u64,
    cached: bool,
    block_ms: u64,
    block_event: Option<BlockEvent>,
    /// Only this query (`earnings` or `graph`); both, earnings first, when `None`.
    query: Option<String>,
}

/// The Soil event each live block carries.
#[derive(Clone, Copy)]
enum BlockEvent {
    /// One payer's deposit: changes that payer's account only.
    Deposit,
    /// One settled receipt attributed to 16 contributions: changes their contributors' earnings, the
    /// model's, datanet's and release's figures, and adds a receipt and its attribution edges.
    Settlement,
}

fn options() -> BenchResult<Options> {
    let mut o = Options {
        db: None,
        clients: 200,
        seconds: 20,
        receipts: 62_500,
        cached: true,
        block_ms: 1_000,
        block_event: None,
        query: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--db" => o.db = Some(value()?),
            "--clients" => o.clients = value()?.parse()?,
            "--seconds" => o.seconds = value()?.parse()?,
            "--receipts" => o.receipts = value()?.parse()?,
            "--no-cache" => o.cached = false,
            "--query" => {
                let query = value()?;
                if !matches!(query.as_str(), "earnings" | "graph") {
                    return Err(format!("--query takes earnings or graph, not {query}").into());
                }
                o.query = Some(query);
            }
            "--block-ms" => o.block_ms = value()?.parse()?,
            "--block-events" => {
                o.block_event = Some(match value()?.as_str() {
                    "deposit" => BlockEvent::Deposit,
                    "settlement" => BlockEvent::Settlement,
                    other => {
                        return Err(format!(
                            "--block-events takes deposit or settlement, not {other}"
                        )
                        .into());
                    }
                });
            }
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(o)
}

fn account(kind: u8, n: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = kind;
    bytes[12..].copy_from_slice(&n.to_be_bytes());
    Address::from(bytes)
}

fn contributor(n: u64) -> Address {
    account(0xc0, n)
}

/// The synthetic history, block by block.
fn events(receipts: u64) -> Vec<SoilEvent> {
    let mut out = Vec::new();
    let owner = account(0xd0, 0);
    for payer in 0..PAYERS {
        out.push(SoilEvent::Deposited {
            payer: account(0xa0, payer),
            from: account(0xa0, payer),
            amount: U256::MAX >> 8,
        });
    }
    let mut id = 0;
    for datanet in 1..=DATANETS {
        out.push(SoilEvent::DatanetCreated {
            datanet_id: datanet,
            owner,
            min_stake: U256::from(1),
            review_window: 7 * 24 * 3_600,
            max_contribution_tokens: 1_000,
            metadata_uri: format!("ipfs://d{datanet}"),
            metadata_uri_bytes: None,
        });
        for seq in 1..=CONTRIBUTIONS_PER_DATANET {
            id += 1;
            out.push(SoilEvent::ContributionSubmitted {
                contribution_id: id,
                datanet_id: datanet,
                contributor: contributor(id % CONTRIBUTORS),
                content_hash: keccak256(id.to_be_bytes()),
                token_count: 100 + id % 50,
                stake: U256::from(10),
                uri: format!("file:///doc-{id}"),
                uri_bytes: None,
            });
            out.push(SoilEvent::ContributionReviewed {
                contribution_id: id,
                datanet_id: datanet,
                curator: owner,
                accepted: true,
                accepted_seq: seq,
                slashed: U256::ZERO,
            });
        }
        let tokens = ((id - CONTRIBUTIONS_PER_DATANET + 1)..=id)
            .map(|c| 100 + c % 50)
            .sum();
        out.push(SoilEvent::ReleasePublished {
            release_id: datanet,
            datanet_id: datanet,
            root: keccak256(datanet.to_be_bytes()),
            contribution_count: CONTRIBUTIONS_PER_DATANET,
            token_count: tokens,
        });
        out.push(SoilEvent::ModelRegistered {
            model_id: datanet,
            owner: account(0xe0, datanet),
            weights_hash: keccak256(format!("weights {datanet}")),
            price_per_kilo_token: U256::from(PRICE),
            owner_bps: 2_000,
            data_bps: 6_000,
            node_bps: 1_500,
            treasury_bps: 500,
            release_ids: vec![datanet],
            uri: format!("file:///model-{datanet}.gguf"),
            uri_bytes: None,
        });
    }
    out.extend((0..receipts).map(|r| settlement("receipt", r)));
    out
}

/// Receipt `r` (`tag` keeps digests of different runs apart): a fee of `PRICE` for model
/// `1 + r % 10`, attributed to 16 of that model's datanet's contributions.
fn settlement(tag: &str, r: u64) -> SoilEvent {
    let model = 1 + r % DATANETS;
    let first = (model - 1) * CONTRIBUTIONS_PER_DATANET + 1;
    let entries = (0..ATTRIBUTIONS)
        .map(|k| {
            (
                first + (r * 7 + k * 61) % CONTRIBUTIONS_PER_DATANET,
                60_000u32,
            )
        })
        .collect();
    let attribution = Attribution::new(entries).expect("16 distinct attributions within bounds");
    SoilEvent::ReceiptSettled {
        digest: keccak256(format!("{tag} {r}")),
        payer: account(0xa0, r % PAYERS),
        model_id: model,
        node: account(0xb0, r % NODES),
        prompt_hash: keccak256(format!("prompt {tag} {r}")),
        output_hash: keccak256(format!("output {tag} {r}")),
        output_uri: String::new(),
        output_uri_bytes: None,
        input_tokens: 400,
        output_tokens: 600,
        fee: U256::from(PRICE),
        nonce: U256::from(r),
        deadline: 1_900_000_000,
        attribution_version: 1,
        attribution_hash: attribution.hash(),
        attribution: Bytes::from(attribution.to_packed()),
    }
}

fn contract_of(event: &SoilEvent) -> Contract {
    match event {
        SoilEvent::DatanetCreated { .. }
        | SoilEvent::ContributionSubmitted { .. }
        | SoilEvent::ContributionReviewed { .. }
        | SoilEvent::ReleasePublished { .. } => Contract::DatanetRegistry,
        SoilEvent::ModelRegistered { .. } => Contract::ModelRegistry,
        _ => Contract::UsageEscrow,
    }
}

/// Applies `events` as block `number` on top of `parent` through the projection and commits it with
/// its checkpoint (`head` the chain head, `finalized` the highest final block: a block above it is
/// journaled, as the sync loop does); returns the block's hash.
async fn commit_block(
    store: &Store,
    state: &mut State,
    (number, parent): (u64, B256),
    events: &[SoilEvent],
    (head, finalized): (u64, u64),
) -> BenchResult<B256> {
    let hash = keccak256(number.to_be_bytes());
    let mut batch = Batch::default();
    state.begin_block(number, number > finalized);
    for (log_index, event) in events.iter().enumerate() {
        let raw = RawEvent {
            block_number: number,
            block_hash: hash,
            block_timestamp: Some(1_700_000_000 + number),
            tx_hash: keccak256(format!("tx {number} {log_index}")),
            tx_index: log_index as u64,
            log_index: log_index as u64,
            contract: contract_of(event),
            address: account(0xff, 0),
            event: event.clone(),
        };
        record(&mut batch, CHAIN_ID, &raw)?;
        apply(state, &mut batch, &raw).await?;
    }
    batch.block(BlockRef {
        number,
        hash,
        parent_hash: parent,
    })?;
    state.flush(&mut batch);
    let checkpoint = Checkpoint {
        chain_id: CHAIN_ID,
        block_number: number,
        block_hash: hash,
        finalized_block: finalized,
        head_block: head,
    };
    store.commit(batch, checkpoint).await?;
    Ok(hash)
}

async fn seed(store: &Store, receipts: u64) -> BenchResult {
    let started = Instant::now();
    let events = events(receipts);
    let count = events.len();
    let mut state = State::for_empty_store(store.pool().clone());
    let blocks: Vec<&[SoilEvent]> = events.chunks(EVENTS_PER_BLOCK).collect();
    let last = blocks.len() as u64;
    let mut parent = B256::ZERO;
    for (i, chunk) in blocks.into_iter().enumerate() {
        let number = i as u64 + 1;
        parent = commit_block(store, &mut state, (number, parent), chunk, (last, number)).await?;
    }
    eprintln!(
        "seeded {count} events ({} attribution edges) in {:.1}s",
        receipts * ATTRIBUTIONS,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A wrk Lua script that POSTs `bodies` round-robin.
fn script(bodies: &[String]) -> String {
    let list: Vec<String> = bodies.iter().map(|b| format!("[==[{b}]==]")).collect();
    format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nlocal bodies = {{{}}}\nlocal i = 0\n\
         request = function()\n  i = i % #bodies + 1\n  return wrk.format(nil, \"/graphql\", nil, bodies[i])\nend\n",
        list.join(",\n")
    )
}

/// Runs wrk and returns (requests/s, p50 ms, p99 ms, non-2xx or socket errors line).
fn wrk(
    url: &str,
    script_path: &std::path::Path,
    clients: u32,
    seconds: u32,
) -> BenchResult<(String, f64, f64, String)> {
    // Two load threads (wrk wants at least one connection each).
    let threads = clients.clamp(1, 2).to_string();
    let output = Command::new("wrk")
        .args([
            "-t",
            &threads,
            "-c",
            &clients.to_string(),
            "-d",
            &format!("{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script_path)
        .arg(url)
        .output()
        .map_err(|e| format!("running wrk (Debian package `wrk`): {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let percentile = |p: &str| -> BenchResult<f64> {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(p))
            .ok_or_else(|| format!("no {p} in wrk output:\n{text}"))?;
        let value = line.split_whitespace().nth(1).ok_or("latency")?;
        let (number, unit) = value.split_at(
            value
                .find(|c: char| c.is_ascii_alphabetic())
                .ok_or("unit")?,
        );
        let n: f64 = number.parse()?;
        Ok(match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            other => return Err(format!("unit {other}").into()),
        })
    };
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_owned();
    let errors = text
        .lines()
        .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .collect::<Vec<_>>()
        .join("; ");
    // wrk's `--latency` distribution lines: `50%   20.97ms`.
    Ok((rps, percentile("50%")?, percentile("99%")?, errors))
}

/// Commits a block on top of the checkpoint every `interval_ms`, as the sync loop does when following
/// a chain (blocks within `FINALITY` of the head journaled): empty, or with one `event` applied
/// through the projection.
async fn new_blocks(store: Store, interval_ms: u64, event: Option<BlockEvent>) -> BenchResult {
    let mut state = State::new(store.pool().clone());
    let mut ticks = tokio::time::interval(std::time::Duration::from_millis(interval_ms));
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let tip = store.checkpoint().await?.ok_or("the store was seeded")?;
        let number = tip.block_number + 1;
        let events: Vec<SoilEvent> = match event {
            None => Vec::new(),
            Some(BlockEvent::Deposit) => vec![SoilEvent::Deposited {
                payer: account(0xa0, 0),
                from: account(0xa0, 0),
                amount: U256::from(1),
            }],
            Some(BlockEvent::Settlement) => vec![settlement("live block", number)],
        };
        let finalized = number.saturating_sub(FINALITY).max(tip.finalized_block);
        commit_block(
            &store,
            &mut state,
            (number, tip.block_hash),
            &events,
            (number, finalized),
        )
        .await?;
    }
}

/// Serves the API over `store` on a loopback port with a response cache of `cache_bytes`; returns
/// its base URL.
async fn serve(store: &Store, cache_bytes: usize) -> BenchResult<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let config = ApiConfig {
        response_cache_bytes: cache_bytes,
        ..ApiConfig::default()
    };
    let app = api::router(store, config);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

#[tokio::main]
async fn main() -> BenchResult {
    let o = options()?;
    let dir = tempfile::tempdir()?;
    let url = o
        .db
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("graphql-bench.db").display()));
    let store = Store::open(&url).await?;
    if store.checkpoint().await?.is_none() {
        seed(&store, o.receipts).await?;
    }
    if o.block_ms > 0 {
        let (store, interval, events) = (store.clone(), o.block_ms, o.block_event);
        tokio::spawn(async move {
            if let Err(e) = new_blocks(store, interval, events).await {
                eprintln!("the block ticker stopped: {e}");
            }
        });
    }
    let uncached = serve(&store, 0).await?;
    let mut runs = vec![("none", uncached.clone())];
    if o.cached {
        let cached = serve(&store, ApiConfig::default().response_cache_bytes).await?;
        runs.insert(0, ("response cache, cold", cached.clone()));
        runs.insert(1, ("response cache, warm", cached));
    }
    let base = uncached;

    let addresses: Vec<String> = (0..CONTRIBUTORS)
        .map(|n| format!("{:#x}", contributor(n)))
        .collect();
    let earnings: Vec<String> = addresses
        .iter()
        .map(|a| serde_json::json!({ "query": format!("{{ account(address: \"{a}\") {{ earnings {{ total attributed pool }} reputation {{ accepted }} }} }}") }).to_string())
        .collect();
    let graphs: Vec<String> = addresses
        .iter()
        .map(|a| serde_json::json!({ "query": format!("{{ attributionGraph(root: \"{a}\", depth: 2) {{ truncated nodes {{ id kind label value }} edges {{ source target kind weight amount }} }} }}") }).to_string())
        .collect();

    // Check the queries answer real data before timing them.
    let client = reqwest::Client::new();
    for body in [&earnings[1], &graphs[1]] {
        let response: serde_json::Value = client
            .post(format!("{base}/graphql"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await?
            .json()
            .await?;
        if response.get("errors").is_some() {
            return Err(format!("query failed: {response}").into());
        }
        eprintln!("sample answer: {:.300}", response.to_string());
    }
    let edges: serde_json::Value = client
        .post(format!("{base}/graphql"))
        .json(&serde_json::json!({ "query": "{ totals { inferenceCount } }" }))
        .send()
        .await?
        .json()
        .await?;
    eprintln!("store: {edges}");

    println!("| query | cache | clients | requests/s | p50 (ms) | p99 (ms) | errors |");
    println!("|---|---|---|---|---|---|---|");
    for (name, bodies) in [
        ("earnings", "contributor earnings", &earnings),
        ("graph", "attributionGraph depth 2", &graphs),
    ]
    .into_iter()
    .filter(|(query, ..)| o.query.as_deref().is_none_or(|only| only == *query))
    .map(|(_, name, bodies)| (name, bodies))
    {
        let path = dir.path().join("bench.lua");
        std::fs::write(&path, script(bodies))?;
        for (cache, base) in &runs {
            let url = format!("{base}/graphql");
            let path = path.clone();
            let (rps, p50, p99, errors) = tokio::task::spawn_blocking({
                let (clients, seconds) = (o.clients, o.seconds);
                move || wrk(&url, &path, clients, seconds)
            })
            .await??;
            println!(
                "| {name} | {cache} | {} | {rps} | {p50:.2} | {p99:.2} | {} |",
                o.clients,
                if errors.is_empty() { "none" } else { &errors }
            );
        }
    }
    Ok(())
}
