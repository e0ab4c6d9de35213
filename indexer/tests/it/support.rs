//! Shared test machinery: the chain, a scenario that emits every event kind, the indexer run
//! in-process, canonical dumps, and a throwaway PostgreSQL cluster.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, Bytes, U256, aliases::U96, keccak256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use soil_bindings::contracts::IModelRegistry::{self, Split};
use soil_bindings::contracts::IUsageEscrow::{self, UsageReceipt};
use soil_bindings::contracts::{IDatanetRegistry, IPaymentToken};
use soil_bindings::testnet::LocalChain;
use soil_bindings::{Attribution, ReceiptDomain};
use soil_indexer::config::{RpcConfig, SyncConfig};
use soil_indexer::store::Store;
use soil_indexer::sync::Syncer;
use soil_indexer::sync::rpc::Rpc;
use soil_indexer::sync::status::SyncStatus;

/// Test result.
pub(crate) type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A provider that signs with `signer`.
pub(crate) fn wallet(chain: &LocalChain, signer: &PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer.clone()))
        .connect_http(chain.rpc_url().parse().expect("anvil URL"))
        .erased()
}

/// A read-only provider.
pub(crate) fn reader(chain: &LocalChain) -> DynProvider {
    ProviderBuilder::new()
        .connect_http(chain.rpc_url().parse().expect("anvil URL"))
        .erased()
}

macro_rules! send {
    ($call:expr) => {{
        let receipt = $call.send().await?.get_receipt().await?;
        assert!(receipt.status(), "transaction reverted: {receipt:?}");
        receipt
    }};
}
pub(crate) use send;

/// The accounts of the scenario (anvil's dev keys).
#[derive(Debug, Clone)]
pub(crate) struct Actors {
    pub(crate) owner: PrivateKeySigner,
    pub(crate) datanet_owner: PrivateKeySigner,
    pub(crate) curator: PrivateKeySigner,
    pub(crate) alice: PrivateKeySigner,
    pub(crate) bob: PrivateKeySigner,
    pub(crate) model_owner: PrivateKeySigner,
    pub(crate) payer: PrivateKeySigner,
    pub(crate) node: PrivateKeySigner,
    pub(crate) relayer: PrivateKeySigner,
}

impl Actors {
    pub(crate) fn of(chain: &LocalChain) -> Self {
        let s = &chain.signers;
        Self {
            owner: s[0].clone(),
            datanet_owner: s[1].clone(),
            curator: s[2].clone(),
            alice: s[3].clone(),
            bob: s[4].clone(),
            model_owner: s[5].clone(),
            payer: s[6].clone(),
            node: s[7].clone(),
            relayer: s[8].clone(),
        }
    }

    pub(crate) fn all(&self) -> Vec<Address> {
        [
            &self.owner,
            &self.datanet_owner,
            &self.curator,
            &self.alice,
            &self.bob,
            &self.model_owner,
            &self.payer,
            &self.node,
            &self.relayer,
        ]
        .iter()
        .map(|s| s.address())
        .collect()
    }
}

/// The model's price before and after `setPrice`, and its split.
pub(crate) const PRICE: u64 = 1_000_000;
pub(crate) const NEW_PRICE: u64 = 1_234_567;
pub(crate) const SPLIT: (u16, u16, u16, u16) = (2_000, 6_000, 1_500, 500);
/// Datanet 1's review window (a pending contribution may be withdrawn after it) and token bound.
pub(crate) const REVIEW_WINDOW: u64 = 7 * 24 * 3_600;
pub(crate) const MAX_CONTRIBUTION_TOKENS: u32 = 10_000;
/// The attribution version the scenario's receipts declare.
pub(crate) const ATTRIBUTION_VERSION: u16 = 1;
/// Tokens sent to the escrow outside any deposit, which `sweep` credits to the treasury.
pub(crate) const SWEPT: u64 = 4_321;

/// One use of the model: input tokens, output tokens, attribution `(contributionId, weightPpm)`.
pub(crate) type Use = (u32, u32, Vec<(u64, u32)>);

/// A receipt ready for `settle`: the receipt, its attribution and the signature.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    pub(crate) receipt: UsageReceipt,
    pub(crate) attribution: IUsageEscrow::Attribution,
    pub(crate) signature: Bytes,
}

/// The escrow's EIP-712 domain on `chain`.
pub(crate) fn domain(chain: &LocalChain) -> ReceiptDomain {
    ReceiptDomain {
        chain_id: chain.deployment.chain_id,
        escrow: chain.deployment.usage_escrow,
    }
}

/// A `U64` the API served (a decimal string) as a number; `None` when `value` is not one.
pub(crate) fn u64_of(value: &serde_json::Value) -> Option<u64> {
    value.as_str()?.parse().ok()
}

/// The head block's timestamp.
pub(crate) async fn now(chain: &LocalChain) -> TestResult<u64> {
    Ok(reader(chain)
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .ok_or("no head")?
        .header
        .timestamp)
}

/// The output URI the scenario's receipt with `nonce` publishes to.
pub(crate) fn output_uri(nonce: u64) -> String {
    format!("ipfs://output-{nonce}")
}

/// The payer's receipt for model 1, served by the node: `use_`'s tokens and attribution, `nonce`,
/// `deadline`, and the fee the registry quotes for that deadline (`quoteFee`, which knows of a price
/// change scheduled by then). Unsigned.
pub(crate) async fn receipt(
    chain: &LocalChain,
    actors: &Actors,
    nonce: u64,
    deadline: u64,
    (input, output, entries): &Use,
) -> TestResult<(UsageReceipt, Attribution)> {
    let attribution = Attribution::new(entries.clone())?;
    let models = IModelRegistry::new(chain.deployment.model_registry, reader(chain));
    let fee = models
        .quoteFee(1, U256::from(input + output), deadline)
        .call()
        .await?;
    let receipt = UsageReceipt {
        payer: actors.payer.address(),
        modelId: 1,
        node: actors.node.address(),
        promptHash: keccak256(format!("prompt {nonce}")),
        outputHash: keccak256(format!("output {nonce}")),
        outputURI: output_uri(nonce),
        inputTokens: *input,
        outputTokens: *output,
        fee,
        nonce: U256::from(nonce),
        deadline,
        attributionVersion: ATTRIBUTION_VERSION,
        attributionHash: attribution.hash(),
    };
    Ok((receipt, attribution))
}

/// `receipt` signed by `signer` (the payer, or a signer it authorized).
pub(crate) async fn sign(
    chain: &LocalChain,
    signer: &PrivateKeySigner,
    receipt: UsageReceipt,
    attribution: &Attribution,
) -> TestResult<Signed> {
    Ok(Signed {
        signature: domain(chain).sign(&receipt, signer).await?,
        attribution: attribution.to_sol(),
        receipt,
    })
}

/// Sends one `settle` of `batch`, `by` paying for the transaction.
pub(crate) async fn submit(
    chain: &LocalChain,
    by: &PrivateKeySigner,
    batch: Vec<Signed>,
) -> TestResult<alloy::rpc::types::TransactionReceipt> {
    let escrow = IUsageEscrow::new(chain.deployment.usage_escrow, wallet(chain, by));
    let (mut receipts, mut attributions, mut signatures) = (vec![], vec![], vec![]);
    for signed in batch {
        receipts.push(signed.receipt);
        attributions.push(signed.attribution);
        signatures.push(signed.signature);
    }
    Ok(send!(escrow.settle(receipts, attributions, signatures)))
}

/// Signs (as the payer) and settles receipts, `(input, output, attribution)` each, with nonces upward from
/// `first_nonce`, deadlines an hour after the head block and the fees quoted for them.
pub(crate) async fn settle(
    chain: &LocalChain,
    actors: &Actors,
    by: &PrivateKeySigner,
    first_nonce: u64,
    receipts: &[Use],
) -> TestResult {
    let deadline = now(chain).await? + 3_600;
    let mut batch = Vec::new();
    for (k, use_) in receipts.iter().enumerate() {
        let (receipt, attribution) =
            receipt(chain, actors, first_nonce + k as u64, deadline, use_).await?;
        batch.push(sign(chain, &actors.payer, receipt, &attribution).await?);
    }
    submit(chain, by, batch).await?;
    Ok(())
}

/// Moves the chain's clock forward by `seconds` and mines a block.
pub(crate) async fn advance_time(chain: &LocalChain, seconds: u64) -> TestResult {
    let provider = reader(chain);
    provider
        .raw_request::<_, serde_json::Value>("evm_increaseTime".into(), (seconds,))
        .await?;
    provider
        .raw_request::<_, serde_json::Value>("evm_mine".into(), ())
        .await?;
    Ok(())
}

/// Datanet 1 with curators, four contributions (three accepted, one rejected), release 1 and model 1
/// registered against it, and the payer's deposit: everything before the first settlement.
pub(crate) async fn setup_graph(chain: &LocalChain, actors: &Actors) -> TestResult {
    let d = &chain.deployment;
    for who in [&actors.alice, &actors.bob, &actors.payer, &actors.relayer] {
        chain
            .fund(who.address(), U256::from(1_000_000_000_000u64))
            .await?;
    }
    for who in [&actors.alice, &actors.bob] {
        let token = IPaymentToken::new(d.token, wallet(chain, who));
        send!(token.approve(d.datanet_registry, U256::MAX));
    }
    for who in [&actors.payer, &actors.relayer] {
        let token = IPaymentToken::new(d.token, wallet(chain, who));
        send!(token.approve(d.usage_escrow, U256::MAX));
    }
    let as_owner = IDatanetRegistry::new(d.datanet_registry, wallet(chain, &actors.datanet_owner));
    send!(as_owner.createDatanet(
        "ipfs://datanet-1".into(),
        U96::from(100u64),
        REVIEW_WINDOW,
        MAX_CONTRIBUTION_TOKENS,
        vec![actors.curator.address()]
    ));
    send!(as_owner.setCurator(1, actors.bob.address(), true));
    send!(as_owner.setCurator(1, actors.bob.address(), false));
    let stakes = [
        (&actors.alice, 100u64, 1_000u32),
        (&actors.alice, 150, 2_000),
        (&actors.bob, 200, 3_000),
        (&actors.bob, 250, 4_000),
    ];
    for (i, (who, stake, tokens)) in stakes.iter().enumerate() {
        let registry = IDatanetRegistry::new(d.datanet_registry, wallet(chain, who));
        // The first URI holds what PostgreSQL's COPY text format must escape (tab, backslash, CR, LF).
        let uri = match i {
            0 => "file:///doc-0.txt\tab\there\\ and a\r\nnew line".to_owned(),
            _ => format!("file:///doc-{i}.txt"),
        };
        send!(registry.contribute(
            1,
            keccak256(format!("document {i}")),
            *tokens,
            uri,
            U96::from(*stake)
        ));
    }
    let as_curator = IDatanetRegistry::new(d.datanet_registry, wallet(chain, &actors.curator));
    for (id, accept) in [(1u64, true), (2, true), (3, true), (4, false)] {
        send!(as_curator.review(id, accept));
    }
    send!(as_curator.publishRelease(1, keccak256("release root"), 3));
    register_model(chain, actors, "weights", "file:///model.gguf").await?;
    let as_payer = IUsageEscrow::new(d.usage_escrow, wallet(chain, &actors.payer));
    send!(as_payer.deposit(U256::from(50_000_000u64)));
    let as_relayer = IUsageEscrow::new(d.usage_escrow, wallet(chain, &actors.relayer));
    send!(as_relayer.depositFor(actors.payer.address(), U256::from(1_000_000u64)));
    Ok(())
}

/// A model of the model owner's with `weights` (hashed) at `uri`, trained on release 1, at [`PRICE`]
/// and [`SPLIT`].
async fn register_model(
    chain: &LocalChain,
    actors: &Actors,
    weights: &str,
    uri: &str,
) -> TestResult {
    let models = IModelRegistry::new(
        chain.deployment.model_registry,
        wallet(chain, &actors.model_owner),
    );
    let (owner_bps, data_bps, node_bps, treasury_bps) = SPLIT;
    send!(models.registerModel(
        keccak256(weights),
        uri.into(),
        vec![1],
        U96::from(PRICE),
        Split {
            ownerBps: owner_bps,
            dataBps: data_bps,
            nodeBps: node_bps,
            treasuryBps: treasury_bps
        },
    ));
    Ok(())
}

/// `count` more models (ids 2, 3, …) registered against release 1, as model 1 is: for the lists of a
/// release's and a contribution's models, which page.
pub(crate) async fn register_more_models(
    chain: &LocalChain,
    actors: &Actors,
    count: usize,
) -> TestResult {
    for id in 2..count + 2 {
        register_model(
            chain,
            actors,
            &format!("weights {id}"),
            &format!("file:///model-{id}.gguf"),
        )
        .await?;
    }
    Ok(())
}

/// Settlements (one receipt skipped), a scheduled price change, a delegated signer, pool and balance
/// claims, a sweep, withdrawal, stake return, a pending contribution withdrawn, ownership and parameter
/// changes, a batch of garbage: every remaining event kind.
pub(crate) async fn use_graph(chain: &LocalChain, actors: &Actors) -> TestResult {
    let d = &chain.deployment;
    // A contribution no curator reviews: its contributor withdraws it once the review window is over.
    let as_bob = IDatanetRegistry::new(d.datanet_registry, wallet(chain, &actors.bob));
    send!(as_bob.contribute(
        1,
        keccak256("document 4"),
        500,
        "file:///doc-4.txt".into(),
        U96::from(300u64)
    ));
    settle(
        chain,
        actors,
        &actors.relayer,
        0,
        &[
            (300, 77, vec![(1, 500_000), (2, 333_333)]),
            (10, 990, vec![(3, 1_000_000)]),
        ],
    )
    .await?;
    let models = IModelRegistry::new(d.model_registry, wallet(chain, &actors.model_owner));
    send!(models.setPrice(1, U96::from(NEW_PRICE)));
    let effective_at = IModelRegistry::new(d.model_registry, reader(chain))
        .getModel(1)
        .call()
        .await?
        .nextPriceAt;
    // A minute on, the latest deadline the escrow accepts (now + its receipt validity, the price notice)
    // reaches the change.
    advance_time(chain, 60).await?;
    let as_payer = IUsageEscrow::new(d.usage_escrow, wallet(chain, &actors.payer));
    send!(as_payer.authorizeSigner(actors.relayer.address()));
    // One batch, sent by the node: a receipt whose deadline is the change's first second, so it pays the
    // new price, signed by the payer's delegate; and one whose fee is a unit short of its quote, which the
    // escrow skips.
    let (r3, a3) = receipt(chain, actors, 10, effective_at, &(499, 500, vec![])).await?;
    let deadline = now(chain).await? + 3_600;
    let (mut short, a4) = receipt(chain, actors, 11, deadline, &(5, 5, vec![])).await?;
    short.fee -= U256::from(1u64);
    let batch = vec![
        sign(chain, &actors.relayer, r3, &a3).await?,
        sign(chain, &actors.payer, short, &a4).await?,
    ];
    submit(chain, &actors.node, batch).await?;
    send!(as_payer.revokeSigner(actors.relayer.address()));
    // Garbage anyone may send: a receipt of no payer, unsigned. Skipped; nothing moves.
    let (mut garbage, empty) = receipt(chain, actors, 12, deadline, &(1, 1, vec![])).await?;
    garbage.payer = Address::ZERO;
    let garbage = Signed {
        receipt: garbage,
        attribution: empty.to_sol(),
        signature: Bytes::new(),
    };
    submit(chain, &actors.alice, vec![garbage]).await?;
    let as_relayer = IUsageEscrow::new(d.usage_escrow, wallet(chain, &actors.relayer));
    send!(as_relayer.claimPoolRewards(1, vec![1, 2, 3]));
    for who in [&actors.alice, &actors.node, &actors.model_owner] {
        let escrow = IUsageEscrow::new(d.usage_escrow, wallet(chain, who));
        send!(escrow.claim(who.address()));
    }
    // Tokens sent to the escrow outside any deposit: a sweep credits them to the treasury. (A provider of
    // its own for each: they cache the relayer's nonce.)
    let token = IPaymentToken::new(d.token, wallet(chain, &actors.relayer));
    send!(token.transfer(d.usage_escrow, U256::from(SWEPT)));
    let as_relayer = IUsageEscrow::new(d.usage_escrow, wallet(chain, &actors.relayer));
    send!(as_relayer.sweep());
    send!(as_payer.requestWithdrawal(U256::from(500_000u64)));
    advance_time(chain, 2 * 24 * 3_600 + 60).await?;
    send!(as_payer.withdraw());
    // A week after the reviews and the last submission: stakes unlock, review windows are over.
    advance_time(chain, 6 * 24 * 3_600).await?;
    let as_alice = IDatanetRegistry::new(d.datanet_registry, wallet(chain, &actors.alice));
    send!(as_alice.withdrawStake(1));
    send!(as_bob.withdrawContribution(5));
    // A fresh provider: the model owner's claim above went through another one (nonces are cached).
    let models = IModelRegistry::new(d.model_registry, wallet(chain, &actors.model_owner));
    send!(models.setModelOwner(1, actors.bob.address()));
    let as_protocol = IDatanetRegistry::new(d.datanet_registry, wallet(chain, &actors.owner));
    send!(as_protocol.setStakeLockPeriod(24 * 3_600));
    Ok(())
}

/// The sync settings of the tests: small ranges so several are fetched and applied in order, and the
/// secondary indexes set aside for every backfill (rebuilt once caught up).
pub(crate) fn sync_config(finality_depth: u64) -> SyncConfig {
    SyncConfig {
        finality_depth,
        initial_range: 3,
        max_range: 8,
        poll_interval: std::time::Duration::from_millis(50),
        exit_when_caught_up: true,
        defer_indexes_from: 1,
        ..SyncConfig::default()
    }
}

/// The indexer of `chain` into `store`, reporting to `status`.
async fn syncer(
    chain: &LocalChain,
    store: &Store,
    config: SyncConfig,
    status: Arc<SyncStatus>,
) -> TestResult<Syncer> {
    let rpc = Arc::new(Rpc::connect(&chain.rpc_url(), RpcConfig::default()).await?);
    let path = PathBuf::from("deployments/test.json");
    Ok(Syncer::new(rpc, store.clone(), chain.deployment, &path, config, status).await?)
}

/// Indexes `chain` into `store` until caught up with the head.
pub(crate) async fn index(
    chain: &LocalChain,
    store: &Store,
    config: SyncConfig,
) -> TestResult<Syncer> {
    let mut syncer = syncer(chain, store, config, Arc::new(SyncStatus::default())).await?;
    syncer.run().await?;
    Ok(syncer)
}

/// An indexer following `chain` into `store` in the background, as `soil-indexer run` does.
pub(crate) struct Follower {
    task: tokio::task::JoinHandle<soil_indexer::Result<()>>,
    status: Arc<SyncStatus>,
}

impl Follower {
    /// Starts following (with `config`'s finality depth and poll interval, never exiting) and waits
    /// until it has caught up with the head.
    pub(crate) async fn start(
        chain: &LocalChain,
        store: &Store,
        config: SyncConfig,
    ) -> TestResult<Self> {
        let status = Arc::new(SyncStatus::default());
        let config = SyncConfig {
            exit_when_caught_up: false,
            ..config
        };
        let mut syncer = syncer(chain, store, config, status.clone()).await?;
        let follower = Self {
            task: tokio::spawn(async move { syncer.run().await }),
            status,
        };
        follower.caught_up(chain).await?;
        Ok(follower)
    }

    /// Waits until the follower's checkpoint is the chain's head (fails if it stopped).
    pub(crate) async fn caught_up(&self, chain: &LocalChain) -> TestResult {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            assert!(!self.task.is_finished(), "the follower stopped");
            let head = reader(chain).get_block_number().await?;
            if self.status.ready() && self.status.checkpoint() == head {
                return Ok(());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the follower did not catch up with block {head}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback port nothing listens on (yet).
pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A fresh SQLite database in `dir`.
pub(crate) async fn sqlite(dir: &Path, name: &str) -> TestResult<(Store, String)> {
    let url = format!("sqlite://{}", dir.join(name).display());
    Ok((Store::open(&url).await?, url))
}

/// A throwaway PostgreSQL 15 cluster on a free loopback port, run as the `postgres` user when the
/// tests run as root; stopped (and its files removed) on drop.
#[derive(Debug)]
pub(crate) struct PgCluster {
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn run_pg(as_postgres: bool, program: &str, args: &[&str]) -> TestResult {
    let path = format!("{PG_BIN}/{program}");
    let output = if as_postgres {
        Command::new("runuser")
            .arg("-u")
            .arg("postgres")
            .arg("--")
            .arg(&path)
            .args(args)
            .output()?
    } else {
        Command::new(&path).args(args).output()?
    };
    if !output.status.success() {
        return Err(format!(
            "{program} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(())
}

impl PgCluster {
    /// Creates and starts the cluster; fails by name when the server binaries are missing.
    pub(crate) fn start() -> TestResult<Self> {
        if !Path::new(PG_BIN).join("initdb").exists() {
            return Err("PostgreSQL 15 server binaries are missing: run `make setup`".into());
        }
        let dir = tempfile::Builder::new().prefix("soil-pg-").tempdir()?;
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()?
            .stdout
            .starts_with(b"0\n");
        if as_postgres {
            let status = Command::new("chown")
                .arg("-R")
                .arg("postgres")
                .arg(dir.path())
                .status()?;
            assert!(status.success(), "chown of the cluster directory failed");
        }
        let port = free_port()?;
        let data = dir.path().join("data");
        let data = data.to_str().ok_or("non-UTF-8 temp path")?;
        run_pg(
            as_postgres,
            "initdb",
            &[
                "-D",
                data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        let cluster = Self {
            dir,
            port,
            as_postgres,
        };
        cluster.pg_ctl(&["-w", "start"])?;
        Ok(cluster)
    }

    /// `pg_ctl` on this cluster's data directory (starting takes the cluster's port and options).
    fn pg_ctl(&self, args: &[&str]) -> TestResult {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off",
            self.port,
            self.dir.path().display()
        );
        let mut all = vec![
            "-D",
            data.to_str().ok_or("non-UTF-8 temp path")?,
            "-o",
            &options,
            "-l",
            log.to_str().ok_or("non-UTF-8 temp path")?,
        ];
        all.extend_from_slice(args);
        run_pg(self.as_postgres, "pg_ctl", &all)
    }

    /// Crashes the server: an immediate stop, which exits without a checkpoint, so what its WAL
    /// buffers held unflushed is lost, as in a power cut.
    pub(crate) fn crash(&self) -> TestResult {
        self.pg_ctl(&["-m", "immediate", "-w", "stop"])
    }

    /// Starts the server again on the same port (it recovers from its WAL first).
    pub(crate) fn restart(&self) -> TestResult {
        self.pg_ctl(&["-w", "start"])
    }

    /// A new database in the cluster; returns its URL.
    pub(crate) fn database(&self, name: &str) -> TestResult<String> {
        let port = self.port.to_string();
        run_pg(
            self.as_postgres,
            "createdb",
            &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", name],
        )?;
        Ok(format!(
            "postgres://postgres@127.0.0.1:{}/{name}",
            self.port
        ))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.crash();
    }
}
