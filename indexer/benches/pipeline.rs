//! The indexer's pipeline benchmark (a bench binary, not criterion: every phase is one long run).
//!
//! Makes ≥ 1M of the contracts' events on a local anvil (contributions, reviews, then rounds of a
//! settlement followed by `claimPoolRewards` over every contribution: two events per contribution
//! per round), then measures
//! 1. fetch only: `eth_getLogs` over adaptive ranges, several in flight (the indexer's own fetcher);
//! 2. decode + write from the recorded log file into SQLite, then into PostgreSQL (no RPC: the
//!    database's own ceiling);
//! 3. end to end (`Syncer`, RPC → SQLite, and RPC → PostgreSQL in a throwaway cluster);
//!
//! with the time, the bench process's CPU time (user + system), anvil's where the phase asks it (and
//! the PostgreSQL server's beside it: on two cores the three share them), peak RSS and database size for each. Run (release): `make bench`, or
//! `cargo bench -p soil-indexer --bench pipeline -- --contributions 4000 --rounds 125`;
//! `-- --recorded-only` repeats phase 2 alone over the log file a full run left in `--out`;
//! `-- --reuse-chain` loads the chain a full run saved in `--out` (`anvil_dumpState`) instead of making
//! it again (4–5 minutes here), and `-- --end-to-end-only` runs phase 3 alone. Phases 2
//! and 3 set the secondary indexes aside while writing and rebuild them at the end (timed), as the
//! syncer does for a long backfill; `-- --keep-indexes` keeps them up to date row by row instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::node_bindings::Anvil;
use alloy::primitives::{Bytes, U256, aliases::U96, keccak256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::Log;
use alloy::signers::local::PrivateKeySigner;
use soil_bindings::contracts::IModelRegistry::{self, Split};
use soil_bindings::contracts::IUsageEscrow::{self, UsageReceipt};
use soil_bindings::contracts::{IDatanetRegistry, IPaymentToken};
use soil_bindings::testnet::{deploy, repo_root};
use soil_bindings::{Attribution, Deployment, ReceiptDomain};
use soil_indexer::config::{RpcConfig, SyncConfig};
use soil_indexer::projection::State;
use soil_indexer::projection::apply::{apply, record};
use soil_indexer::store::{Batch, BlockRef, Checkpoint, Store};
use soil_indexer::sync::Syncer;
use soil_indexer::sync::backfill::{RangeSizer, fetch_logs};
use soil_indexer::sync::commit::Committer;
use soil_indexer::sync::decode::Decoder;
use soil_indexer::sync::rpc::Rpc;
use soil_indexer::sync::status::SyncStatus;

/// The allocator the `soil-indexer` binary uses (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const GAS_PRICE: u128 = 2_000_000_000;
const CLAIM_CHUNK: usize = 400;

struct Args {
    contributions: usize,
    rounds: usize,
    postgres: bool,
    recorded_only: bool,
    /// Load the chain a full run saved instead of making it.
    reuse_chain: bool,
    /// Phase 3 alone.
    end_to_end_only: bool,
    /// Keep the secondary indexes up to date row by row instead of setting them aside (the A/B).
    keep_indexes: bool,
    out: PathBuf,
}

fn args() -> BenchResult<Args> {
    let mut args = Args {
        contributions: 4_000,
        rounds: 125,
        postgres: true,
        recorded_only: false,
        reuse_chain: false,
        end_to_end_only: false,
        keep_indexes: false,
        out: repo_root().join("target/indexer-bench"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--contributions" => {
                args.contributions = it.next().ok_or("--contributions N")?.parse()?
            }
            "--rounds" => args.rounds = it.next().ok_or("--rounds N")?.parse()?,
            "--no-postgres" => args.postgres = false,
            "--recorded-only" => args.recorded_only = true,
            "--reuse-chain" => args.reuse_chain = true,
            "--end-to-end-only" => args.end_to_end_only = true,
            "--keep-indexes" => args.keep_indexes = true,
            "--out" => args.out = it.next().ok_or("--out DIR")?.into(),
            "--bench" => {}
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    Ok(args)
}

/// Peak resident memory since the last reset, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets the peak-RSS counter (Linux: write 5 to clear_refs).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The fields of `/proc/<pid>/stat` after the command name (which is in parentheses and may hold
/// spaces): state (0), ppid (1), …, utime (11), stime (12), in clock ticks of 1/100 s.
fn stat_fields(pid: &str) -> Vec<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect()
}

/// CPU time (user + system, all threads) this process has used, in seconds. Unlike wall time it
/// does not count whatever else shares the machine's cores.
fn cpu_seconds() -> f64 {
    let fields = stat_fields("self");
    let field = |i: usize| fields.get(i).copied().unwrap_or(0.0);
    (field(11) + field(12)) / 100.0
}

/// CPU time (user + system) of process `root` and every live process below it, in seconds: the
/// `anvil` of `node_modules/.bin` is a Node.js launcher, and the node its child.
fn tree_cpu_seconds(root: u32) -> f64 {
    let mut stats: Vec<(u32, u32, f64)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let fields = stat_fields(&pid.to_string());
        let field = |i: usize| fields.get(i).copied().unwrap_or(0.0);
        stats.push((pid, field(1) as u32, field(11) + field(12)));
    }
    let mut tree = vec![root];
    let mut ticks = 0.0;
    while let Some(parent) = tree.pop() {
        for &(pid, ppid, cpu) in &stats {
            if pid == parent {
                ticks += cpu;
            }
            if ppid == parent {
                tree.push(pid);
            }
        }
    }
    ticks / 100.0
}

/// One phase's wall clock and the CPU clocks of this process and of anvil (its peak RSS is reset
/// when it starts).
struct Meter {
    started: Instant,
    cpu: f64,
    /// Anvil's pid and its CPU time at the start, in the phases that ask it.
    anvil: Option<(u32, f64)>,
}

impl Meter {
    /// Starts the clocks once the dirty pages of earlier phases are on disk (`sync`), so that a
    /// phase's figures do not carry the write-back of the one before; `anvil` is the node's pid
    /// where the phase asks it.
    fn start(anvil: Option<u32>) -> Self {
        let _ = Command::new("sync").status();
        reset_peak_rss();
        let anvil = anvil.map(|pid| (pid, tree_cpu_seconds(pid)));
        Self {
            started: Instant::now(),
            cpu: cpu_seconds(),
            anvil,
        }
    }

    /// `| time | events/s | CPU s (bench) | CPU s (anvil) | peak RSS |` for `events` handled since
    /// the start.
    fn cells(&self, events: u64) -> String {
        let wall = self.started.elapsed();
        let anvil = self.anvil.as_ref().map_or("–".to_owned(), |(pid, cpu)| {
            format!("{:.1}", tree_cpu_seconds(*pid) - cpu)
        });
        format!(
            "{wall:.1?} | {} | {:.1} | {anvil} | {:.0}",
            rate(events, wall),
            cpu_seconds() - self.cpu,
            peak_rss_mib()
        )
    }
}

fn sqlite_size_mib(path: &Path) -> f64 {
    let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    (size(path.to_owned()) + size(wal)) as f64 / (1024.0 * 1024.0)
}

fn signer_wallet(url: &str, signer: &PrivateKeySigner, chain_id: u64) -> DynProvider {
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_cached_nonce_management()
        .with_chain_id(chain_id)
        .wallet(EthereumWallet::from(signer.clone()))
        .connect_http(url.parse().expect("anvil URL"))
        .erased()
}

macro_rules! fire {
    ($call:expr, $gas:expr) => {{
        let pending = $call
            .gas($gas)
            .max_fee_per_gas(GAS_PRICE)
            .max_priority_fee_per_gas(1)
            .send()
            .await?;
        let hash = *pending.tx_hash();
        hash
    }};
}

async fn check_mined(
    provider: &DynProvider,
    tx: alloy::primitives::B256,
    what: &str,
) -> BenchResult {
    // anvil mines each transaction as it arrives, but under a flood of them some stay in its pool
    // until the next arrival: mine those explicitly.
    let started = Instant::now();
    let receipt = loop {
        if let Some(receipt) = provider.get_transaction_receipt(tx).await? {
            break receipt;
        }
        let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await?;
        if started.elapsed() > Duration::from_secs(300) {
            let pool: serde_json::Value = provider
                .raw_request("txpool_status".into(), ())
                .await
                .unwrap_or_default();
            return Err(format!("{what}: not mined after 300 s (txpool: {pool})").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if !receipt.status() {
        return Err(format!("{what}: reverted").into());
    }
    Ok(())
}

/// Contributions by four contributors, all accepted into release 1; model 1 on it; a funded payer;
/// then `rounds` × (one settlement whose data share goes to the pool, a pool claim for every
/// contribution).
async fn generate(
    url: &str,
    signers: &[PrivateKeySigner],
    d: &Deployment,
    args: &Args,
) -> BenchResult {
    let chain_id = d.chain_id;
    let owner = signer_wallet(url, &signers[0], chain_id);
    let token = IPaymentToken::new(d.token, owner.clone());
    let (curator, payer) = (&signers[1], &signers[2]);
    let contributors = &signers[3..7];
    for who in contributors.iter().chain([payer]) {
        fire!(
            token.mint(who.address(), U256::from(10u64).pow(U256::from(24u64))),
            200_000
        );
    }
    let registry = IDatanetRegistry::new(d.datanet_registry, owner.clone());
    fire!(
        registry.createDatanet(
            "bench".into(),
            U96::from(1u64),
            24 * 3_600,
            1_000,
            vec![curator.address()]
        ),
        500_000
    );
    let per = args.contributions / contributors.len();
    let mut last = alloy::primitives::B256::ZERO;
    for (c, who) in contributors.iter().enumerate() {
        let wallet = signer_wallet(url, who, chain_id);
        fire!(
            IPaymentToken::new(d.token, wallet.clone()).approve(d.datanet_registry, U256::MAX),
            100_000
        );
        let registry = IDatanetRegistry::new(d.datanet_registry, wallet);
        for i in 0..per {
            last = fire!(
                registry.contribute(
                    1,
                    keccak256(format!("doc {c} {i}")),
                    1,
                    String::new(),
                    U96::from(1u64)
                ),
                300_000
            );
        }
        // Each contributor's contributions are mined before the next one's are sent.
        check_mined(&owner, last, "contributions").await?;
    }
    let total = per * contributors.len();
    let as_curator =
        IDatanetRegistry::new(d.datanet_registry, signer_wallet(url, curator, chain_id));
    for id in 1..=total as u64 {
        last = fire!(as_curator.review(id, true), 200_000);
    }
    check_mined(&owner, last, "reviews").await?;
    let release = fire!(
        as_curator.publishRelease(1, keccak256("root"), total as u32),
        300_000
    );
    check_mined(&owner, release, "release").await?;
    let models = IModelRegistry::new(d.model_registry, owner.clone());
    let split = Split {
        ownerBps: 2_000,
        dataBps: 6_000,
        nodeBps: 1_500,
        treasuryBps: 500,
    };
    let price = 1_000_000_000_000u64;
    fire!(
        models.registerModel(
            keccak256("w"),
            "bench".into(),
            vec![1],
            U96::from(price),
            split
        ),
        500_000
    );
    let payer_wallet = signer_wallet(url, payer, chain_id);
    fire!(
        IPaymentToken::new(d.token, payer_wallet.clone()).approve(d.usage_escrow, U256::MAX),
        100_000
    );
    let escrow = IUsageEscrow::new(d.usage_escrow, payer_wallet);
    fire!(
        escrow.deposit(U256::from(10u64).pow(U256::from(22u64))),
        200_000
    );

    let domain = ReceiptDomain {
        chain_id,
        escrow: d.usage_escrow,
    };
    let ids: Vec<u64> = (1..=total as u64).collect();
    let as_relayer = IUsageEscrow::new(d.usage_escrow, owner.clone());
    let mut claim_gas = 0u64;
    for round in 0..args.rounds {
        let now = owner
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .ok_or("no head")?;
        let attribution = Attribution::default();
        let receipt = UsageReceipt {
            payer: payer.address(),
            modelId: 1,
            node: signers[7].address(),
            promptHash: keccak256(format!("p{round}")),
            outputHash: keccak256(format!("o{round}")),
            outputURI: String::new(),
            inputTokens: 500,
            outputTokens: 500,
            fee: U256::from(price),
            nonce: U256::from(round),
            deadline: now.header.timestamp + 3_600,
            attributionVersion: 1,
            attributionHash: attribution.hash(),
        };
        let signature = domain.sign(&receipt, payer).await?;
        let settled = fire!(
            as_relayer.settle(vec![receipt], vec![attribution.to_sol()], vec![signature]),
            1_000_000
        );
        check_mined(&owner, settled, "settle").await?;
        for chunk in ids.chunks(CLAIM_CHUNK) {
            if claim_gas == 0 {
                claim_gas = as_relayer
                    .claimPoolRewards(1, chunk.to_vec())
                    .estimate_gas()
                    .await?
                    * 13
                    / 10;
            }
            last = fire!(as_relayer.claimPoolRewards(1, chunk.to_vec()), claim_gas);
        }
        check_mined(&owner, last, "claimPoolRewards").await?;
        if round % 25 == 0 {
            eprintln!("  generated round {round}/{}", args.rounds);
        }
    }
    Ok(())
}

/// Fetch only: every log of the three contracts from the start block to the head.
async fn fetch_all(rpc: &Arc<Rpc>, decoder: Decoder, from: u64, to: u64) -> BenchResult<Vec<Log>> {
    let sizer = Arc::new(RangeSizer::new(500, 50_000, 5_000));
    let mut next = from;
    let mut tasks = std::collections::VecDeque::new();
    let mut logs = Vec::new();
    loop {
        while tasks.len() < rpc.throttle.limit() && next <= to {
            let end = (next + sizer.size() - 1).min(to);
            let (rpc, sizer) = (rpc.clone(), sizer.clone());
            tasks.push_back(tokio::spawn(async move {
                fetch_logs(&rpc, &decoder, &sizer, next, end).await
            }));
            next = end + 1;
        }
        let Some(task) = tasks.pop_front() else { break };
        logs.extend(task.await??);
    }
    Ok(logs)
}

/// Decode + write: the recorded logs through the decoder and projections into `store`, one
/// transaction per ~50k events (cut at block boundaries), each committed while the next is applied,
/// as backfill commits them.
async fn write_recorded(
    store: &Store,
    logs: &[Log],
    decoder: &Decoder,
    chain_id: u64,
) -> BenchResult<u64> {
    let mut state = State::for_empty_store(store.pool().clone());
    let mut committer = Committer::new(store.clone());
    let mut batch = Batch::default();
    let mut events = 0u64;
    for (i, log) in logs.iter().enumerate() {
        let Some(event) = decoder.decode(log)? else {
            continue;
        };
        state.begin_block(event.block_number, false);
        record(&mut batch, chain_id, &event)?;
        apply(&mut state, &mut batch, &event).await?;
        events += 1;
        let block_ends = logs
            .get(i + 1)
            .is_none_or(|next| next.block_number != log.block_number);
        if block_ends && (batch.event_count >= 50_000 || i + 1 == logs.len()) {
            let hash = log.block_hash.unwrap_or_default();
            batch.block(BlockRef {
                number: event.block_number,
                hash,
                parent_hash: Default::default(),
            })?;
            let checkpoint = Checkpoint {
                chain_id,
                block_number: event.block_number,
                block_hash: hash,
                finalized_block: event.block_number,
                head_block: event.block_number,
            };
            committer
                .submit(&mut state, std::mem::take(&mut batch), checkpoint)
                .await?;
        }
    }
    committer.wait(&mut state).await?;
    Ok(events)
}

/// Reads the recorded log file a full run left in `out`.
fn recorded_logs(out: &Path) -> BenchResult<Vec<Log>> {
    let text = std::fs::read_to_string(out.join("logs.jsonl"))?;
    Ok(text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?)
}

/// Phase 2 over `logs` into `store`; returns the events written and the phase's cells (without the
/// database size).
async fn decode_and_write(
    store: &Store,
    logs: &[Log],
    d: &Deployment,
    keep_indexes: bool,
) -> BenchResult<(u64, String)> {
    let meter = Meter::start(None);
    // As the syncer does for a long backfill: freed memory kept for reuse, secondary indexes aside
    // and rebuilt at the end (timed).
    soil_indexer::allocator::set_backfilling(true);
    if !keep_indexes {
        store.defer_indexes().await?;
    }
    let written = write_recorded(store, logs, &Decoder::new(d), d.chain_id).await?;
    store.restore_indexes().await?;
    soil_indexer::allocator::set_backfilling(false);
    Ok((written, meter.cells(written)))
}

/// Phase 2 into a new SQLite file in `out`; its table row.
async fn decode_and_write_sqlite(
    out: &Path,
    logs: &[Log],
    d: &Deployment,
    keep_indexes: bool,
) -> BenchResult<String> {
    let db = out.join("recorded.db");
    let _ = std::fs::remove_file(&db);
    let _ = std::fs::remove_file(out.join("recorded.db-wal"));
    let store = Store::open(&format!("sqlite://{}", db.display())).await?;
    let (written, cells) = decode_and_write(&store, logs, d, keep_indexes).await?;
    store.close().await;
    Ok(format!(
        "| decode + write from the recorded file → SQLite | {written} | {cells} | {:.0} MiB |",
        sqlite_size_mib(&db)
    ))
}

/// Phase 2 into a throwaway PostgreSQL cluster of its own (stopped after it, with its write-back);
/// its table row, with the server's CPU time beside the bench's.
async fn decode_and_write_postgres(
    logs: &[Log],
    d: &Deployment,
    keep_indexes: bool,
) -> BenchResult<String> {
    let pg = Postgres::start()?;
    let store = Store::open(&pg.url_of("recorded")?).await?;
    let server = pg.cpu_seconds();
    let (written, cells) = decode_and_write(&store, logs, d, keep_indexes).await?;
    let server = pg.cpu_seconds() - server;
    let size = pg.size_mib(&store).await?;
    store.close().await;
    Ok(format!(
        "| decode + write from the recorded file → PostgreSQL 15 (server {server:.1} CPU s) | {written} | {cells} | {size:.0} MiB |"
    ))
}

async fn end_to_end(
    url: &str,
    d: Deployment,
    store: &Store,
    keep_indexes: bool,
) -> BenchResult<u64> {
    let rpc = Arc::new(Rpc::connect(url, RpcConfig::default()).await?);
    let config = SyncConfig {
        finality_depth: 0,
        exit_when_caught_up: true,
        // The bench chain packs its million events into few blocks: set the indexes aside from the
        // first block, as a real chain's backfill of this many events (far more blocks) would.
        defer_indexes_from: u64::from(!keep_indexes),
        ..SyncConfig::default()
    };
    let path = PathBuf::from("bench-deployment.json");
    let mut syncer = Syncer::new(
        rpc,
        store.clone(),
        d,
        &path,
        config,
        Arc::new(SyncStatus::default()),
    )
    .await?;
    syncer.run().await?;
    Ok(syncer.checkpoint().block_number)
}

struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl Postgres {
    const BIN: &'static str = "/usr/lib/postgresql/15/bin";

    fn run(&self, program: &str, args: &[&str]) -> BenchResult {
        let path = format!("{}/{program}", Self::BIN);
        let root = Command::new("id")
            .arg("-u")
            .output()?
            .stdout
            .starts_with(b"0\n");
        let output = if root {
            Command::new("runuser")
                .args(["-u", "postgres", "--", &path])
                .args(args)
                .output()?
        } else {
            Command::new(&path).args(args).output()?
        };
        if !output.status.success() {
            return Err(format!("{program}: {}", String::from_utf8_lossy(&output.stderr)).into());
        }
        Ok(())
    }

    fn start() -> BenchResult<Self> {
        let dir = tempfile::Builder::new()
            .prefix("soil-bench-pg-")
            .tempdir()?;
        let _ = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(dir.path())
            .status();
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let pg = Self { dir, port };
        let data = pg.dir.path().join("data").display().to_string();
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            pg.dir.path().display()
        );
        let log = pg.dir.path().join("log").display().to_string();
        pg.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        )?;
        Ok(pg)
    }

    /// Creates the database `name` and returns its URL.
    fn url_of(&self, name: &str) -> BenchResult<String> {
        let port = self.port.to_string();
        self.run(
            "createdb",
            &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", name],
        )?;
        Ok(format!("postgres://postgres@127.0.0.1:{port}/{name}"))
    }

    /// The size of `store`'s database, in MiB.
    async fn size_mib(&self, store: &Store) -> BenchResult<f64> {
        let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(store.pool())
            .await?;
        Ok(size as f64 / (1024.0 * 1024.0))
    }

    /// CPU time (user + system) the server has used, in seconds: the postmaster's own and its
    /// finished children's, and that of each live child (the backends, the WAL writer, the
    /// checkpointer).
    fn cpu_seconds(&self) -> f64 {
        let pid_file = self.dir.path().join("data/postmaster.pid");
        let Some(postmaster) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|s| s.lines().next()?.trim().parse::<u32>().ok())
        else {
            return 0.0;
        };
        let mut ticks = 0.0;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            let fields = stat_fields(&pid.to_string());
            // cutime (13) and cstime (14): the finished children's.
            let field = |i: usize| fields.get(i).copied().unwrap_or(0.0);
            if pid == postmaster {
                ticks += field(11) + field(12) + field(13) + field(14);
            } else if field(1) == f64::from(postmaster) {
                ticks += field(11) + field(12);
            }
        }
        ticks / 100.0
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").display().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }
}

fn rate(events: u64, elapsed: Duration) -> String {
    format!("{:.0}", events as f64 / elapsed.as_secs_f64())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> BenchResult {
    let args = args()?;
    std::fs::create_dir_all(&args.out)?;
    if args.recorded_only {
        let d = Deployment::load(&args.out.join("deployment.json"))?;
        let logs = recorded_logs(&args.out)?;
        let mut rows =
            vec![decode_and_write_sqlite(&args.out, &logs, &d, args.keep_indexes).await?];
        if args.postgres {
            rows.push(decode_and_write_postgres(&logs, &d, args.keep_indexes).await?);
        }
        print_table(rows);
        return Ok(());
    }
    let root = repo_root();
    let chain = args.out.join("chain.state.gz");
    let load = if args.reuse_chain {
        vec!["--load-state".into(), unpack_chain(&chain)?]
    } else {
        Vec::new()
    };
    let anvil = Anvil::at(root.join("node_modules/.bin/anvil"))
        // Not `--silent`: alloy waits for anvil's "Listening on" line. `--prune-history`: no past
        // states written to disk (nothing here reads state at a past block); without it a run left
        // about 6 GB in ~/.foundry/anvil/tmp, which a killed anvil never removes.
        .args([
            "--gas-limit",
            "1000000000",
            "--disable-code-size-limit",
            "--prune-history",
        ])
        .args(load)
        // Loading a saved chain of a million events takes a while.
        .timeout(300_000)
        .try_spawn()?;
    let url = anvil.endpoint();
    let d = if args.reuse_chain {
        Deployment::load(&args.out.join("deployment.json"))?
    } else {
        let signers: Vec<PrivateKeySigner> = anvil
            .keys()
            .iter()
            .map(|k| PrivateKeySigner::from(k.clone()))
            .collect();
        let d = deploy(&root, &url, &signers[0]).await?;
        let started = Instant::now();
        generate(&url, &signers, &d, &args).await?;
        eprintln!("generated the chain in {:.1?}", started.elapsed());
        save_chain(&url, &chain).await?;
        std::fs::write(args.out.join("deployment.json"), serde_json::to_vec(&d)?)?;
        d
    };
    let head = ProviderBuilder::new()
        .connect_http(anvil.endpoint_url())
        .get_block_number()
        .await?;
    let mut rows = Vec::new();
    let recorded = args.out.join("logs.jsonl");
    let events = if args.end_to_end_only {
        use std::io::BufRead;
        let file = std::fs::File::open(&recorded)
            .map_err(|e| format!("{} (made by a full run): {e}", recorded.display()))?;
        // One log a line, counted without holding the file's 600-odd MB.
        std::io::BufReader::new(file)
            .split(b'\n')
            .try_fold(0u64, |lines, line| line.map(|_| lines + 1))?
    } else {
        let events =
            fetch_and_record(&url, &d, head, &recorded, anvil.child().id(), &mut rows).await?;
        let logs = recorded_logs(&args.out)?;
        rows.push(decode_and_write_sqlite(&args.out, &logs, &d, args.keep_indexes).await?);
        events
    };

    // 3. End to end into SQLite.
    let db = args.out.join("e2e.db");
    let _ = std::fs::remove_file(&db);
    let _ = std::fs::remove_file(args.out.join("e2e.db-wal"));
    let store = Store::open(&format!("sqlite://{}", db.display())).await?;
    let meter = Meter::start(Some(anvil.child().id()));
    end_to_end(&url, d, &store, args.keep_indexes).await?;
    let cells = meter.cells(events);
    store.close().await;
    rows.push(format!(
        "| end to end RPC → SQLite | {events} | {cells} | {:.0} MiB |",
        sqlite_size_mib(&db)
    ));

    // 2 and 3 into PostgreSQL, after the SQLite phases, each on a cluster of its own: a server
    // left running carries on writing its pages back while the next phase runs.
    if args.postgres {
        if !args.end_to_end_only {
            let logs = recorded_logs(&args.out)?;
            // The table lists both decode + write rows before the end-to-end ones.
            rows.insert(
                2,
                decode_and_write_postgres(&logs, &d, args.keep_indexes).await?,
            );
        }
        let pg = Postgres::start()?;
        let store = Store::open(&pg.url_of("bench")?).await?;
        let server = pg.cpu_seconds();
        let meter = Meter::start(Some(anvil.child().id()));
        end_to_end(&url, d, &store, args.keep_indexes).await?;
        let cells = meter.cells(events);
        let server = pg.cpu_seconds() - server;
        let size = pg.size_mib(&store).await?;
        store.close().await;
        rows.push(format!(
            "| end to end RPC → PostgreSQL 15 (server {server:.1} CPU s) | {events} | {cells} | {size:.0} MiB |"
        ));
    }

    print_table(rows);
    Ok(())
}

/// Saves the chain anvil at `url` holds into `path` (`anvil_dumpState`: gzipped JSON, blocks and
/// receipts included).
async fn save_chain(url: &str, path: &Path) -> BenchResult {
    let provider = ProviderBuilder::new().connect_http(url.parse()?);
    let state: Bytes = provider.raw_request("anvil_dumpState".into(), ()).await?;
    std::fs::write(path, state)?;
    Ok(())
}

/// The chain `save_chain` saved in `path`, unpacked beside it for anvil's `--load-state` (which
/// reads plain JSON); its path.
fn unpack_chain(path: &Path) -> BenchResult<PathBuf> {
    let unpacked = path.with_extension("json");
    let file = std::fs::File::open(path)
        .map_err(|e| format!("{} (saved by a full run): {e}", path.display()))?;
    let status = Command::new("gzip")
        .arg("-dc")
        .stdin(file)
        .stdout(std::fs::File::create(&unpacked)?)
        .status()?;
    if !status.success() {
        return Err(format!("gzip -dc {}: {status}", path.display()).into());
    }
    Ok(unpacked)
}

/// Phase 1 (its row pushed to `rows`): fetches the chain's logs from `d.start_block` to `head` and
/// records them in `recorded`; the number of events.
async fn fetch_and_record(
    url: &str,
    d: &Deployment,
    head: u64,
    recorded: &Path,
    anvil: u32,
    rows: &mut Vec<String>,
) -> BenchResult<u64> {
    use std::io::Write;
    let rpc = Arc::new(Rpc::connect(url, RpcConfig::default()).await?);
    let decoder = Decoder::new(d);
    let meter = Meter::start(Some(anvil));
    let logs = fetch_all(&rpc, decoder, d.start_block, head).await?;
    let events = logs.len() as u64;
    rows.push(format!(
        "| fetch only (eth_getLogs, adaptive ranges, 4 in flight) | {events} | {} | – |",
        meter.cells(events)
    ));
    if events < 1_000_000 {
        eprintln!("warning: only {events} events (ask for more --rounds)");
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(recorded)?);
    for log in &logs {
        serde_json::to_writer(&mut file, log)?;
        file.write_all(b"\n")?;
    }
    // On disk before phase 2 starts, so that its writes do not share the disk with these.
    file.into_inner()
        .map_err(std::io::IntoInnerError::into_error)?
        .sync_all()?;
    Ok(events)
}

fn print_table(rows: Vec<String>) {
    println!(
        "| phase | events | time | events/s | CPU s (bench) | CPU s (anvil) | peak RSS (MiB) | DB size |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}
