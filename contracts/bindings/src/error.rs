//! Errors of the bindings crate.

use std::path::PathBuf;

/// What can go wrong loading deployments or building receipts.
#[derive(Debug, thiserror::Error)]
pub enum BindingsError {
    /// The deployment file could not be read.
    #[error("cannot read deployment file {path}: {source}")]
    ReadDeployment {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The deployment file is not the JSON `Deploy.s.sol` writes.
    #[error("deployment file {path} is malformed: {source}")]
    ParseDeployment {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// The deployment file is for another chain.
    #[error("deployment file {path} is for chain {found}, but the RPC serves chain {expected}")]
    WrongChain {
        /// The file.
        path: PathBuf,
        /// Chain id of the RPC.
        expected: u64,
        /// Chain id in the file.
        found: u64,
    },
    /// An attribution's arrays differ in length, or it is too long.
    #[error("attribution is malformed: {0}")]
    InvalidAttribution(String),
    /// A published receipts log is not one, or does not match its receipts.
    #[error("receipts log: {0}")]
    InvalidLog(String),
    /// The local test chain could not be started or deployed to.
    #[error("local chain: {0}")]
    Testnet(String),
    /// Signing failed.
    #[error("signing the receipt failed: {0}")]
    Signing(#[from] alloy::signers::Error),
}
