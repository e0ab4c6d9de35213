//! The EIP-712 usage receipt a payer signs, and the attribution it commits to.
//!
//! The domain is `("Soil UsageEscrow", "1", chainId, escrow)`, the same the escrow exposes through
//! EIP-5267 `eip712Domain()`, so any EIP-712 signer can produce a receipt the escrow accepts.

use alloy::{
    primitives::{Address, B256, Bytes, keccak256},
    signers::Signer,
    sol_types::{Eip712Domain, SolStruct, SolValue, eip712_domain},
};

use crate::{BindingsError, contracts::IUsageEscrow};

pub use crate::contracts::IUsageEscrow::UsageReceipt;

/// Most contributions one receipt may attribute (the escrow's `MAX_ATTRIBUTIONS`).
pub const MAX_ATTRIBUTIONS: usize = 16;
/// Weights are parts per million; their sum is at most this.
pub const PPM: u32 = 1_000_000;
/// The EIP-712 domain name of `UsageEscrow`.
pub const DOMAIN_NAME: &str = "Soil UsageEscrow";
/// The EIP-712 domain version of `UsageEscrow`.
pub const DOMAIN_VERSION: &str = "1";

/// Where receipts are valid: one escrow on one chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptDomain {
    /// The chain id.
    pub chain_id: u64,
    /// The `UsageEscrow` address.
    pub escrow: Address,
}

impl ReceiptDomain {
    /// The EIP-712 domain.
    pub fn eip712(&self) -> Eip712Domain {
        eip712_domain! {
            name: DOMAIN_NAME,
            version: DOMAIN_VERSION,
            chain_id: self.chain_id,
            verifying_contract: self.escrow,
        }
    }

    /// The digest the payer signs for `receipt`.
    pub fn digest(&self, receipt: &UsageReceipt) -> B256 {
        receipt.eip712_signing_hash(&self.eip712())
    }

    /// Signs `receipt` with `signer`; returns the 65-byte (r, s, v) signature.
    pub async fn sign<S: Signer + Sync>(
        &self,
        receipt: &UsageReceipt,
        signer: &S,
    ) -> Result<Bytes, BindingsError> {
        let signature = signer.sign_hash(&self.digest(receipt)).await?;
        Ok(Bytes::from(signature.as_bytes().to_vec()))
    }
}

/// Contributions an output is attributed to, each with a weight in parts per million.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    /// `(contributionId, weightPpm)`, in the order committed to.
    pub entries: Vec<(u64, u32)>,
}

impl Attribution {
    /// Builds an attribution, checking its length and that Σ weights ≤ 1 000 000.
    pub fn new(entries: Vec<(u64, u32)>) -> Result<Self, BindingsError> {
        if entries.len() > MAX_ATTRIBUTIONS {
            return Err(BindingsError::InvalidAttribution(format!(
                "{} contributions, at most {MAX_ATTRIBUTIONS} allowed",
                entries.len()
            )));
        }
        let sum: u64 = entries.iter().map(|&(_, w)| u64::from(w)).sum();
        if sum > u64::from(PPM) {
            return Err(BindingsError::InvalidAttribution(format!(
                "weights sum to {sum} ppm, above {PPM}"
            )));
        }
        Ok(Self { entries })
    }

    /// The contract-side struct.
    pub fn to_sol(&self) -> IUsageEscrow::Attribution {
        IUsageEscrow::Attribution {
            contributionIds: self.entries.iter().map(|&(id, _)| id).collect(),
            weightsPpm: self.entries.iter().map(|&(_, w)| w).collect(),
        }
    }

    /// keccak256(abi.encode(contributionIds, weightsPpm)): the receipt's `attributionHash`.
    pub fn hash(&self) -> B256 {
        let sol = self.to_sol();
        keccak256((sol.contributionIds, sol.weightsPpm).abi_encode_params())
    }

    /// Decodes the packed form the escrow emits in `ReceiptSettled`: 12 bytes per entry, a big-endian
    /// u64 contribution id then a big-endian u32 weight.
    pub fn from_packed(packed: &[u8]) -> Result<Self, BindingsError> {
        if !packed.len().is_multiple_of(12) {
            return Err(BindingsError::InvalidAttribution(format!(
                "packed attribution of {} bytes is not a multiple of 12",
                packed.len()
            )));
        }
        let entries = packed
            .chunks_exact(12)
            .map(|chunk| {
                let id = u64::from_be_bytes(chunk[..8].try_into().expect("8 bytes"));
                let weight = u32::from_be_bytes(chunk[8..].try_into().expect("4 bytes"));
                (id, weight)
            })
            .collect();
        Self::new(entries)
    }

    /// The packed form (see [`Attribution::from_packed`]).
    pub fn to_packed(&self) -> Vec<u8> {
        self.entries
            .iter()
            .flat_map(|&(id, w)| id.to_be_bytes().into_iter().chain(w.to_be_bytes()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{primitives::U256, signers::local::PrivateKeySigner};

    fn receipt(attribution: &Attribution) -> UsageReceipt {
        UsageReceipt {
            payer: Address::repeat_byte(1),
            modelId: 1,
            node: Address::repeat_byte(2),
            promptHash: keccak256("prompt"),
            outputHash: keccak256("output"),
            outputURI: "http://127.0.0.1:8080/v1/outputs/1".to_owned(),
            inputTokens: 10,
            outputTokens: 20,
            fee: U256::from(30u64),
            nonce: U256::from(7u64),
            deadline: 1_900_000_000,
            attributionVersion: 1,
            attributionHash: attribution.hash(),
        }
    }

    #[test]
    fn packed_round_trip() {
        let attribution = Attribution::new(vec![(1, 600_000), (u64::MAX, 400_000)]).unwrap();
        let packed = attribution.to_packed();
        assert_eq!(packed.len(), 24);
        assert_eq!(Attribution::from_packed(&packed).unwrap(), attribution);
        assert!(Attribution::from_packed(&packed[..23]).is_err());
    }

    #[test]
    fn rejects_overweight_and_overlong() {
        assert!(Attribution::new(vec![(1, 600_000), (2, 400_001)]).is_err());
        assert!(Attribution::new((0..17).map(|i| (i, 1)).collect()).is_err());
    }

    #[test]
    fn digest_binds_chain_and_escrow() {
        let attribution = Attribution::new(vec![(3, 500_000)]).unwrap();
        let receipt = receipt(&attribution);
        let domain = ReceiptDomain {
            chain_id: 31337,
            escrow: Address::repeat_byte(9),
        };
        let other_chain = ReceiptDomain {
            chain_id: 1,
            ..domain
        };
        let other_escrow = ReceiptDomain {
            escrow: Address::repeat_byte(8),
            ..domain
        };
        assert_ne!(domain.digest(&receipt), other_chain.digest(&receipt));
        assert_ne!(domain.digest(&receipt), other_escrow.digest(&receipt));
    }

    #[tokio::test]
    async fn signature_recovers_to_payer() {
        let signer = PrivateKeySigner::random();
        let attribution = Attribution::new(vec![(3, 500_000)]).unwrap();
        let mut receipt = receipt(&attribution);
        receipt.payer = signer.address();
        let domain = ReceiptDomain {
            chain_id: 31337,
            escrow: Address::repeat_byte(9),
        };
        let signature = domain.sign(&receipt, &signer).await.unwrap();
        assert_eq!(signature.len(), 65);
        let parsed = alloy::primitives::Signature::try_from(signature.as_ref()).unwrap();
        let recovered = parsed
            .recover_address_from_prehash(&domain.digest(&receipt))
            .unwrap();
        assert_eq!(recovered, signer.address());
    }
}
