//! Usage channels: the EIP-712 voucher a channel's signer signs after every inference, the receipts log
//! its `logRoot` commits to, and the period totals both are built from (docs/PROTOCOL.md, "UsageChannels").
//!
//! - [`ChannelDomain`]: the voucher's domain `("Soil UsageChannels", "1", chainId, channels)`, digest and
//!   signature;
//! - [`log`]: the receipts log — leaves, root, inclusion proofs and the published JSON file;
//! - [`totals`]: a period's totals, summed receipt by receipt with the escrow's rounding;
//! - [`verify`]: whether a published log proves the voucher that settled its period.

pub mod log;
pub mod totals;
pub mod verify;

use alloy::{
    primitives::{Address, B256, Bytes},
    signers::Signer,
    sol_types::{Eip712Domain, SolStruct, eip712_domain},
};

use crate::BindingsError;

pub use crate::contracts::IUsageChannels::{Channel, Voucher};
pub use log::{LogEntry, ReceiptsLog};
pub use totals::{PeriodTotals, SplitTerms};
pub use verify::{LogMismatch, Parties, verify_log};

/// The EIP-712 domain name of `UsageChannels`.
pub const DOMAIN_NAME: &str = "Soil UsageChannels";
/// The EIP-712 domain version of `UsageChannels`.
pub const DOMAIN_VERSION: &str = "1";

/// Where vouchers are valid: one `UsageChannels` contract on one chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelDomain {
    /// The chain id.
    pub chain_id: u64,
    /// The `UsageChannels` address.
    pub channels: Address,
}

impl ChannelDomain {
    /// The EIP-712 domain.
    pub fn eip712(&self) -> Eip712Domain {
        eip712_domain! {
            name: DOMAIN_NAME,
            version: DOMAIN_VERSION,
            chain_id: self.chain_id,
            verifying_contract: self.channels,
        }
    }

    /// The digest the channel's signer signs for `voucher`.
    pub fn digest(&self, voucher: &Voucher) -> B256 {
        voucher.eip712_signing_hash(&self.eip712())
    }

    /// Signs `voucher` with `signer`; returns the 65-byte (r, s, v) signature.
    pub async fn sign<S: Signer + Sync>(
        &self,
        voucher: &Voucher,
        signer: &S,
    ) -> Result<Bytes, BindingsError> {
        let signature = signer.sign_hash(&self.digest(voucher)).await?;
        Ok(Bytes::from(signature.as_bytes().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use alloy::{primitives::keccak256, sol_types::SolStruct};

    use super::*;

    #[test]
    fn voucher_type_is_the_contracts() {
        let expected = "Voucher(uint64 channelId,uint32 period,uint32 inferences,uint256 startFee,\
            uint256 fee,uint256 ownerShare,uint256 baseShare,uint256 nodeShare,uint256 dataShare,\
            uint64[] contributionIds,uint256[] contributionAmounts,bytes32 logRoot)";
        assert_eq!(Voucher::eip712_encode_type(), expected);
        assert_eq!(
            Voucher::eip712_encode_type().as_bytes(),
            expected.as_bytes(),
            "{}",
            keccak256(expected)
        );
    }
}
