//! Shared test plumbing: a local chain, the `soil` binary run as a given dev account, and a small
//! market (datanet, contributions, release, model) to run inferences against.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

use alloy::{
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use serde_json::Value;
use soil_bindings::testnet::{LocalChain, repo_root};
use tempfile::TempDir;

/// The default model file.
pub(crate) fn model_path() -> PathBuf {
    std::env::var_os("SOIL_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"))
}

/// Real text for the datanet: three short documents.
pub(crate) const DOCUMENTS: [&str; 3] = [
    "The honey bee is a eusocial flying insect within the genus Apis of the bee clade. Honey bees are known \
     for their construction of perennial colonial nests from wax, the large size of their colonies, and \
     their surplus production and storage of honey.",
    "Compost is a mixture of ingredients used as plant fertilizer and to improve soil's physical, chemical, \
     and biological properties. It is commonly prepared by decomposing plant and food waste, recycling \
     organic materials, and manure.",
    "Buy cheap watches now!!! Best prices, click here, limited offer, free shipping worldwide today only.",
];

/// A local chain plus a scratch directory; `soil` runs get their own home per account.
pub(crate) struct Env {
    pub(crate) chain: LocalChain,
    pub(crate) dir: TempDir,
    deployment: PathBuf,
}

impl Env {
    pub(crate) async fn start() -> Self {
        let chain = LocalChain::start()
            .await
            .expect("local chain with the contracts deployed");
        let dir = tempfile::tempdir().unwrap();
        let deployment = dir.path().join("deployment.json");
        std::fs::write(
            &deployment,
            serde_json::to_string(&chain.deployment).unwrap(),
        )
        .unwrap();
        Self {
            chain,
            dir,
            deployment,
        }
    }

    pub(crate) fn signer(&self, account: usize) -> &PrivateKeySigner {
        &self.chain.signers[account]
    }

    pub(crate) fn address(&self, account: usize) -> Address {
        self.signer(account).address()
    }

    /// `SOIL_HOME` of `account` (its outbox lives there).
    pub(crate) fn home(&self, account: usize) -> PathBuf {
        self.dir.path().join(format!("home-{account}"))
    }

    /// The `soil` binary, acting as dev account `account`.
    pub(crate) fn soil(&self, account: usize) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_soil"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(
                "SOIL_PRIVATE_KEY",
                format!("0x{}", alloy::hex::encode(self.signer(account).to_bytes())),
            )
            .env("SOIL_RPC_URL", self.chain.rpc_url())
            .env("SOIL_DEPLOYMENT", &self.deployment)
            .env("SOIL_HOME", self.home(account))
            .env("SOIL_CACHE_DIR", self.dir.path().join("index"))
            .env("SOIL_LOG", "warn");
        command
    }

    /// Runs `soil --json ARGS` as `account`, asserts success, returns the JSON it printed.
    pub(crate) fn json(&self, account: usize, args: &[&str]) -> Value {
        let mut command = self.soil(account);
        command.arg("--json").args(args);
        let output = run_bounded(command, args);
        assert_success(&output, args);
        serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
            panic!(
                "soil {args:?} printed no JSON ({err}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// Runs `soil ARGS` as `account`, asserts it fails, returns its stderr.
    pub(crate) fn fails(&self, account: usize, args: &[&str]) -> String {
        let mut command = self.soil(account);
        command.args(args);
        let output = run_bounded(command, args);
        assert!(
            !output.status.success(),
            "soil {args:?} should fail; stdout: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// A provider on the chain (reads and anvil cheats).
    pub(crate) fn provider(&self) -> impl Provider {
        ProviderBuilder::new().connect_http(self.chain.rpc_url().parse().unwrap())
    }

    /// A provider that sends transactions signed by `account`'s wallet.
    pub(crate) fn wallet_provider(&self, account: usize) -> impl Provider {
        ProviderBuilder::new()
            .wallet(alloy::network::EthereumWallet::from(
                self.signer(account).clone(),
            ))
            .connect_http(self.chain.rpc_url().parse().unwrap())
    }

    /// Moves the chain's clock forward and mines a block.
    pub(crate) async fn advance_time(&self, seconds: u64) {
        let provider = self.provider();
        let _: Value = provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .unwrap();
        let _: Value = provider
            .raw_request("evm_mine".into(), serde_json::json!([]))
            .await
            .unwrap();
    }

    /// Mines `blocks` empty blocks.
    pub(crate) async fn mine(&self, blocks: u64) {
        let _: Value = self
            .provider()
            .raw_request("anvil_mine".into(), (blocks,))
            .await
            .unwrap();
    }

    /// The escrow, for reads.
    pub(crate) fn escrow(
        &self,
    ) -> soil_bindings::contracts::IUsageEscrow::IUsageEscrowInstance<impl Provider> {
        soil_bindings::contracts::IUsageEscrow::new(
            self.chain.deployment.usage_escrow,
            self.provider(),
        )
    }

    /// The payment token, for reads.
    pub(crate) fn token(
        &self,
    ) -> soil_bindings::contracts::IPaymentToken::IPaymentTokenInstance<impl Provider> {
        soil_bindings::contracts::IPaymentToken::new(self.chain.deployment.token, self.provider())
    }

    /// `account`'s payment-token balance (its wallet, not the escrow).
    pub(crate) async fn token_balance(&self, account: usize) -> U256 {
        self.token()
            .balanceOf(self.address(account))
            .call()
            .await
            .unwrap()
    }
}

/// A child process (`soil serve`, `soil settle --interval`) killed when the test ends, whatever the
/// outcome. If the test fails, the child's log (when it has one) is printed with the failure.
pub(crate) struct Running {
    pub(crate) child: Child,
    log: Option<PathBuf>,
}

impl Running {
    pub(crate) fn new(child: Child) -> Self {
        Self { child, log: None }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking()
            && let Some(log) = &self.log
        {
            eprintln!(
                "--- {} ---\n{}",
                log.display(),
                std::fs::read_to_string(log).unwrap_or_else(|err| err.to_string())
            );
        }
    }
}

/// How long `soil serve` may take to load the model and sync its releases before it listens.
const SERVE_STARTUP: Duration = Duration::from_secs(180);

/// Serves the market's model as the payer on a free port, settling hourly, with small, deterministic
/// settings plus `extra`; returns the server and its base URL.
pub(crate) fn serve_market(env: &Env, market: &Market, extra: &[&str]) -> (Running, String) {
    let model = model_path();
    let model_id = market.model.to_string();
    let mut args = vec![
        "--model-id",
        &model_id,
        "--model",
        path_str(&model),
        "--port",
        "0",
        "--interval",
        "3600",
        "--threads",
        "2",
        "--ctx-size",
        "512",
    ];
    args.extend_from_slice(extra);
    serve(env, PAYER, &args)
}

/// Starts `soil serve ARGS` as `account`, its log (requests included) in a file printed if the test
/// fails; returns once the server says where it listens, with its base URL.
pub(crate) fn serve(env: &Env, account: usize, args: &[&str]) -> (Running, String) {
    let log = env.dir.path().join(format!("serve-{account}.log"));
    let mut child = env
        .soil(account)
        .env("SOIL_LOG", "info,tower_http=debug")
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Running {
        child,
        log: Some(log),
    };
    // Read on a thread of its own, so a server that never listens fails the test instead of hanging it.
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = line_tx.send(line);
    });
    let line = line_rx.recv_timeout(SERVE_STARTUP).unwrap_or_else(|_| {
        panic!("soil serve did not say where it listens within {SERVE_STARTUP:?}")
    });
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("soil serve printed {line:?} instead of where it listens"))
        .to_owned();
    (server, base)
}

/// How long one `soil` command of a test may run: under the test runner's own limit, so that a command
/// that hangs fails its test naming the command and what it printed, instead of the whole test timing out
/// silently.
const COMMAND_LIMIT: Duration = Duration::from_secs(240);

/// Runs `command` (`soil ARGS`) to completion and returns its output; kills it and panics, with what it
/// printed so far, once it has run for [`COMMAND_LIMIT`].
pub(crate) fn run_bounded(mut command: Command, args: &[&str]) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drained on threads of their own, so a command printing more than a pipe holds never blocks.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                std::io::Read::read_to_end(&mut pipe, &mut bytes).unwrap();
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > COMMAND_LIMIT {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "soil {args:?} still ran after {COMMAND_LIMIT:?} and was killed:\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&stdout.join().unwrap()),
                String::from_utf8_lossy(&stderr.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

pub(crate) fn assert_success(output: &Output, args: &[&str]) {
    assert!(
        output.status.success(),
        "soil {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub(crate) fn u256(value: &Value) -> U256 {
    value.as_str().expect("a decimal string").parse().unwrap()
}

/// Accounts of the small market.
pub(crate) const CURATOR: usize = 1;
pub(crate) const ALICE: usize = 2;
pub(crate) const BOB: usize = 3;
pub(crate) const PAYER: usize = 4;
pub(crate) const NODE: usize = 5;
pub(crate) const MODEL_OWNER: usize = 6;
pub(crate) const TREASURY: usize = 0;

/// Price per 1,000 tokens and split (owner, data, node, treasury) of the market's model.
pub(crate) const PRICE: u64 = 1_000_000_000_000;
pub(crate) const SPLIT: [u64; 4] = [3000, 5000, 1500, 500];
pub(crate) const STAKE: u64 = 1_000;

/// What [`market`] set up.
pub(crate) struct Market {
    /// (contribution id, token count) of Alice's two accepted documents.
    pub(crate) accepted: Vec<(u64, u64)>,
    pub(crate) rejected: u64,
    pub(crate) release: u64,
    pub(crate) model: u64,
}

/// Creates a datanet with the curator, Alice contributes two documents and Bob one; the first two are
/// accepted and Bob's rejected; a release is published and the model registered with the real model
/// file's hash; the payer deposits.
pub(crate) async fn market(env: &Env) -> Market {
    market_at(env, None).await
}

/// Creates a datanet as the curator (its only curator, minimum stake 100); returns its id.
pub(crate) fn create_datanet(env: &Env) -> u64 {
    let curator = env.address(CURATOR).to_string();
    let created = env.json(
        CURATOR,
        &[
            "datanet",
            "create",
            "--min-stake",
            "100",
            "--curator",
            &curator,
        ],
    );
    created["datanetId"].as_u64().unwrap()
}

/// [`market`] with each document `i` contributed under the URI `<base>/doc-<i>.txt` when `base` is given
/// (else its local file's `file://` URI).
pub(crate) async fn market_at(env: &Env, base: Option<&str>) -> Market {
    for account in [ALICE, BOB, PAYER] {
        env.chain
            .fund(
                env.address(account),
                U256::from(10u64).pow(U256::from(21u64)),
            )
            .await
            .unwrap();
    }
    let datanet = create_datanet(env);
    let model = model_path();
    let model = model.to_str().unwrap();
    let mut contributions = Vec::new();
    for (i, text) in DOCUMENTS.iter().enumerate() {
        let file = env.dir.path().join(format!("doc-{i}.txt"));
        std::fs::write(&file, text).unwrap();
        let who = if i < 2 { ALICE } else { BOB };
        let datanet = datanet.to_string();
        let stake = STAKE.to_string();
        let mut args = vec![
            "datanet",
            "contribute",
            "--datanet",
            &datanet,
            "--file",
            file.to_str().unwrap(),
            "--stake",
            &stake,
        ];
        let uri = base.map(|base| format!("{base}/doc-{i}.txt"));
        if let Some(uri) = &uri {
            args.extend(["--uri", uri]);
        }
        let out = env.json(who, &args);
        if let Some(uri) = &uri {
            assert_eq!(out["uri"].as_str(), Some(uri.as_str()), "{out}");
        }
        contributions.push((
            out["contributionId"].as_u64().unwrap(),
            out["tokenCount"].as_u64().unwrap(),
        ));
    }
    for (i, &(id, _)) in contributions.iter().enumerate() {
        let verdict = if i < 2 { "--accept" } else { "--reject" };
        env.json(
            CURATOR,
            &[
                "datanet",
                "review",
                "--contribution",
                &id.to_string(),
                verdict,
            ],
        );
    }
    let release = env.json(
        CURATOR,
        &["datanet", "release", "--datanet", &datanet.to_string()],
    );
    let release = release["releaseId"].as_u64().unwrap();
    let split = SPLIT.map(|p| p.to_string()).join(",");
    let registered = env.json(
        MODEL_OWNER,
        &[
            "model",
            "register",
            "--file",
            model,
            "--release",
            &release.to_string(),
            "--price",
            &PRICE.to_string(),
            "--split",
            &split,
        ],
    );
    let model = registered["modelId"].as_u64().unwrap();
    env.json(PAYER, &["deposit", "1000000000000000000"]);
    Market {
        accepted: contributions[..2].to_vec(),
        rejected: contributions[2].0,
        release,
        model,
    }
}

/// `soil infer` as the payer with small, deterministic settings; returns its JSON.
pub(crate) fn infer(env: &Env, market: &Market, prompt: &str, extra: &[&str]) -> Value {
    let model = model_path();
    let model_id = market.model.to_string();
    let node = env.address(NODE).to_string();
    let mut args = vec![
        "infer",
        "--model-id",
        &model_id,
        "--model",
        model.to_str().unwrap(),
        "--node",
        &node,
        "--temperature",
        "0",
        "--max-tokens",
        "24",
        "--threads",
        "2",
        "--ctx-size",
        "512",
    ];
    args.extend_from_slice(extra);
    args.push(prompt);
    env.json(PAYER, &args)
}

/// The outbox counts `soil status` reports for `account`.
pub(crate) fn outbox_counts(env: &Env, account: usize) -> (u64, u64, u64) {
    let status = env.json(account, &["status"]);
    let o = &status["outbox"];
    (
        o["pending"].as_u64().unwrap(),
        o["in_flight"].as_u64().unwrap(),
        o["failed"].as_u64().unwrap(),
    )
}

/// Serves `files` (name → bytes) over HTTP on a free local port until the test process ends, from a
/// thread of its own (the tests block their runtime's threads on `soil` runs); returns the base URL.
/// Any other name is a 404.
pub(crate) fn http_files(files: Vec<(String, Vec<u8>)>) -> String {
    use axum::{extract::Path as UrlPath, http::StatusCode, routing::get};
    let files: std::sync::Arc<std::collections::HashMap<String, Vec<u8>>> =
        std::sync::Arc::new(files.into_iter().collect());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let router = axum::Router::new().route(
                "/{name}",
                get(move |UrlPath(name): UrlPath<String>| {
                    let files = std::sync::Arc::clone(&files);
                    async move { files.get(&name).cloned().ok_or(StatusCode::NOT_FOUND) }
                }),
            );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, router).await.unwrap();
        });
    });
    base
}

/// The market's documents as [`http_files`] serves them for [`market_at`].
pub(crate) fn document_files() -> Vec<(String, Vec<u8>)> {
    DOCUMENTS
        .iter()
        .enumerate()
        .map(|(i, text)| (format!("doc-{i}.txt"), text.as_bytes().to_vec()))
        .collect()
}

pub(crate) fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}
