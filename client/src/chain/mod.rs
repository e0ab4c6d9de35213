//! Chain access: a wallet-backed provider on `--rpc-url`, the [`Deployment`] checked against the RPC's
//! chain id, and one wrapper per role (datanets, models, the escrow, usage channels, the payment token).
//! Transactions are signed by the user's wallet and waited for; reverts come back as words through
//! [`soil_bindings::revert::describe`].

mod channels;
mod datanet;
mod escrow;
mod model;
mod release;
mod token;
mod tx;
mod vouchers;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use alloy::{
    network::EthereumWallet,
    primitives::Address,
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::client::RpcClient,
    signers::local::PrivateKeySigner,
    transports::http::{Http, reqwest},
};
use soil_bindings::{Deployment, ReceiptDomain};

pub use channels::VoucherSettlement;
pub use datanet::{ContributionRecord, DatanetTerms, ReleaseMember};
pub use escrow::{SettleBatch, SettlePreparation, SettledReceipt};
pub use model::AdapterUris;
pub use release::VerifiedRelease;
pub use tx::{Revert, TxStatus};
pub use vouchers::SettledVoucher;

use crate::error::{ClientError, Result};

/// The RPC endpoint used when neither `--rpc-url` nor `SOIL_RPC_URL` is given.
pub const DEFAULT_RPC_URL: &str = "http://127.0.0.1:8545";

/// How long one JSON-RPC request may take when `--rpc-timeout` is not given.
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a sent transaction may take to be mined before the client stops waiting for it.
pub const MINING_TIMEOUT: Duration = Duration::from_secs(120);

/// A connection to the chain on behalf of one wallet.
#[derive(Debug, Clone)]
pub struct Chain {
    provider: DynProvider,
    wallet: EthereumWallet,
    account: Address,
    deployment: Deployment,
}

impl Chain {
    /// Connects to `rpc_url` with `signer`, and loads the deployment from `deployment` (default
    /// `deployments/<chainId>.json`), checking it is for the RPC's chain. Every request fails after
    /// `timeout` (a node that stops answering is an error, never a hang).
    pub async fn connect(
        rpc_url: &str,
        signer: PrivateKeySigner,
        deployment: Option<&Path>,
        timeout: Duration,
    ) -> Result<Self> {
        let url: reqwest::Url =
            rpc_url
                .parse()
                .map_err(|err: url::ParseError| ClientError::RpcUrl {
                    url: rpc_url.to_owned(),
                    reason: err.to_string(),
                })?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|err| ClientError::Rpc {
                action: format!("setting up the HTTP client for {rpc_url}"),
                reason: err.to_string(),
            })?;
        let transport = Http::with_client(http, url);
        let is_local = transport.guess_local();
        let account = signer.address();
        let wallet = EthereumWallet::from(signer);
        let provider = ProviderBuilder::new()
            .wallet(wallet.clone())
            .connect_client(RpcClient::new(transport, is_local))
            .erased();
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|err| tx::rpc_error(&format!("asking {rpc_url} for its chain id"), &err))?;
        let path = deployment.map_or_else(|| default_deployment_path(chain_id), Path::to_path_buf);
        let deployment = Deployment::load_for_chain(&path, chain_id)?;
        Ok(Self {
            provider,
            wallet,
            account,
            deployment,
        })
    }

    /// The provider (signing with the wallet).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The wallet's address: the sender of every transaction and the payer of receipts.
    pub fn account(&self) -> Address {
        self.account
    }

    /// The contracts' addresses.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The EIP-712 domain receipts are signed in.
    pub fn receipt_domain(&self) -> ReceiptDomain {
        ReceiptDomain {
            chain_id: self.deployment.chain_id,
            escrow: self.deployment.usage_escrow,
        }
    }

    /// The latest block's number and timestamp.
    pub async fn head(&self) -> Result<(u64, u64)> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(|err| tx::rpc_error("reading the latest block", &err))?
            .ok_or_else(|| ClientError::Rpc {
                action: "reading the latest block".to_owned(),
                reason: "the node returned no block".to_owned(),
            })?;
        Ok((block.header.number, block.header.timestamp))
    }
}

/// `deployments/<chainId>.json` under the current directory.
pub fn default_deployment_path(chain_id: u64) -> PathBuf {
    Deployment::default_path(Path::new("deployments"), chain_id)
}
