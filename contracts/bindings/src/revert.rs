//! The contracts' custom errors, decoded into words for people.

use alloy::{primitives::Bytes, sol_types::SolInterface};

use crate::contracts::{IDatanetRegistry, IModelRegistry, IUsageEscrow};

/// Decodes revert data from any Soil contract into a readable sentence, or `None` if it is not one of
/// their custom errors.
pub fn describe(data: &Bytes) -> Option<String> {
    if let Ok(err) = IUsageEscrow::IUsageEscrowErrors::abi_decode(data) {
        return Some(format!("UsageEscrow: {err:?}"));
    }
    if let Ok(err) = IDatanetRegistry::IDatanetRegistryErrors::abi_decode(data) {
        return Some(format!("DatanetRegistry: {err:?}"));
    }
    if let Ok(err) = IModelRegistry::IModelRegistryErrors::abi_decode(data) {
        return Some(format!("ModelRegistry: {err:?}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolError;

    #[test]
    fn decodes_an_escrow_error() {
        let data = IUsageEscrow::ReceiptExpired {
            index: alloy::primitives::U256::from(2u8),
            deadline: 5,
        }
        .abi_encode();
        let text = describe(&data.into()).unwrap();
        assert!(text.contains("ReceiptExpired"), "{text}");
        assert!(text.contains("deadline: 5"), "{text}");
    }
}
