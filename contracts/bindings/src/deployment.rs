//! The addresses of one deployment, as `contracts/script/Deploy.s.sol` writes them to
//! `deployments/<chainId>.json`.

use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

use crate::BindingsError;

/// A deployment of Soil's contracts on one chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The chain the contracts live on.
    pub chain_id: u64,
    /// The payment token.
    pub token: Address,
    /// `DatanetRegistry`.
    pub datanet_registry: Address,
    /// `ModelRegistry`.
    pub model_registry: Address,
    /// `UsageEscrow`.
    pub usage_escrow: Address,
    /// `UsageChannels`.
    pub usage_channels: Address,
    /// The block the first contract was deployed in (where indexers start).
    pub start_block: u64,
}

impl Deployment {
    /// The conventional file for `chain_id` under `dir`: `dir/<chainId>.json`.
    pub fn default_path(dir: &Path, chain_id: u64) -> PathBuf {
        dir.join(format!("{chain_id}.json"))
    }

    /// Reads a deployment file.
    pub fn load(path: &Path) -> Result<Self, BindingsError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| BindingsError::ReadDeployment {
                path: path.to_owned(),
                source,
            })?;
        serde_json::from_str(&text).map_err(|source| BindingsError::ParseDeployment {
            path: path.to_owned(),
            source,
        })
    }

    /// Reads a deployment file and checks it is for `chain_id`.
    pub fn load_for_chain(path: &Path, chain_id: u64) -> Result<Self, BindingsError> {
        let deployment = Self::load(path)?;
        if deployment.chain_id != chain_id {
            return Err(BindingsError::WrongChain {
                path: path.to_owned(),
                expected: chain_id,
                found: deployment.chain_id,
            });
        }
        Ok(deployment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_file_deploy_script_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = Deployment::default_path(dir.path(), 31337);
        std::fs::write(
            &path,
            r#"{"chainId":31337,"token":"0x5FbDB2315678afecb367f032d93F642f64180aa3",
                "datanetRegistry":"0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
                "modelRegistry":"0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
                "usageEscrow":"0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9",
                "usageChannels":"0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9","startBlock":1}"#,
        )
        .unwrap();
        let deployment = Deployment::load_for_chain(&path, 31337).unwrap();
        assert_eq!(deployment.start_block, 1);
        let err = Deployment::load_for_chain(&path, 10).unwrap_err();
        assert!(
            err.to_string()
                .contains("for chain 31337, but the RPC serves chain 10"),
            "{err}"
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = Deployment::load(Path::new("/nonexistent/1.json")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/1.json"), "{err}");
    }
}
