//! A local chain for tests, demos and benchmarks: anvil from the pinned npm toolchain
//! (`tools/foundry/anvil`) with the contracts deployed by `contracts/script/Deploy.s.sol`, the same
//! script used for real chains.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use alloy::{
    network::EthereumWallet,
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, U256},
    providers::ProviderBuilder,
    signers::local::PrivateKeySigner,
};

use crate::{BindingsError, Deployment, contracts::IPaymentToken};

/// The repository's root (where `foundry.toml` and `node_modules/` live).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root exists")
}

/// How to start the local chain.
#[derive(Debug, Clone, Default)]
pub struct LocalChainOptions {
    /// Seconds between blocks; `None` mines a block per transaction.
    pub block_time: Option<u64>,
}

/// A running anvil with Soil deployed. Dropping it stops anvil.
#[derive(Debug)]
pub struct LocalChain {
    /// The anvil process (killed on drop).
    pub anvil: AnvilInstance,
    /// Where the contracts are.
    pub deployment: Deployment,
    /// anvil's funded dev accounts; `signers[0]` deployed everything and is protocol owner, treasury and
    /// the payment token's minter.
    pub signers: Vec<PrivateKeySigner>,
}

impl LocalChain {
    /// Starts anvil (a block per transaction) and deploys the contracts.
    pub async fn start() -> Result<Self, BindingsError> {
        Self::start_with(LocalChainOptions::default()).await
    }

    /// Starts anvil with `options` and deploys the contracts.
    pub async fn start_with(options: LocalChainOptions) -> Result<Self, BindingsError> {
        let root = repo_root();
        let mut anvil = Anvil::at(root.join("tools/foundry/anvil"));
        if let Some(seconds) = options.block_time {
            anvil = anvil.block_time(seconds);
        }
        let anvil = anvil
            .try_spawn()
            .map_err(|e| BindingsError::Testnet(format!("anvil: {e}")))?;
        let signers: Vec<PrivateKeySigner> = anvil
            .keys()
            .iter()
            .map(|key| PrivateKeySigner::from(key.clone()))
            .collect();
        let deployment = deploy(&root, &anvil.endpoint(), &signers[0]).await?;
        Ok(Self {
            anvil,
            deployment,
            signers,
        })
    }

    /// HTTP JSON-RPC endpoint.
    pub fn rpc_url(&self) -> String {
        self.anvil.endpoint()
    }

    /// WebSocket JSON-RPC endpoint.
    pub fn ws_url(&self) -> String {
        self.anvil.ws_endpoint()
    }

    /// Mints `amount` of the payment token to `to`.
    pub async fn fund(&self, to: Address, amount: U256) -> Result<(), BindingsError> {
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(self.signers[0].clone()))
            .connect_http(self.anvil.endpoint_url());
        IPaymentToken::new(self.deployment.token, provider)
            .mint(to, amount)
            .send()
            .await
            .map_err(|e| BindingsError::Testnet(format!("mint: {e}")))?
            .get_receipt()
            .await
            .map_err(|e| BindingsError::Testnet(format!("mint receipt: {e}")))?;
        Ok(())
    }
}

/// Deploys the contracts to `rpc_url` with `Deploy.s.sol`, `deployer` paying; returns the deployment.
/// The key reaches forge through its environment, never its command line.
pub async fn deploy(
    root: &Path,
    rpc_url: &str,
    deployer: &PrivateKeySigner,
) -> Result<Deployment, BindingsError> {
    let file = root.join("deployments").join(format!(
        "test-{}-{}.json",
        std::process::id(),
        rpc_url.rsplit(':').next().unwrap_or("0")
    ));
    // tools/foundry/forge passes forge's exit status through (the npm wrapper does not).
    let mut command = Command::new(root.join("tools/foundry/forge"));
    command
        .current_dir(root)
        .args([
            "script",
            "contracts/script/Deploy.s.sol",
            "--rpc-url",
            rpc_url,
            "--broadcast",
        ])
        .env(
            "PRIVATE_KEY",
            format!("0x{}", alloy::hex::encode(deployer.to_bytes())),
        )
        .env("DEPLOYMENT_FILE", &file);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(|e| BindingsError::Testnet(format!("forge script task: {e}")))?
        .map_err(|e| BindingsError::Testnet(format!("cannot run forge (run `make setup`): {e}")))?;
    if !output.status.success() {
        return Err(BindingsError::Testnet(format!(
            "forge script Deploy.s.sol failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let deployment = Deployment::load(&file);
    let _ = std::fs::remove_file(&file);
    deployment
}
