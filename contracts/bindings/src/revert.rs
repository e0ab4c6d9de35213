//! The contracts' custom errors, decoded into words for people: each error's `@notice` from the
//! interfaces' NatSpec (the user docs `make abi` exports beside the ABI), then its arguments.

use std::{collections::HashMap, sync::LazyLock};

use alloy::{
    primitives::{Bytes, keccak256},
    sol_types::SolInterface,
};
use serde::Deserialize;

use crate::contracts::{IDatanetRegistry, IModelRegistry, IUsageChannels, IUsageEscrow};

/// A contract's user documentation (`forge inspect <contract> userdoc`), the part read here.
#[derive(Deserialize)]
struct UserDoc {
    #[serde(default)]
    errors: HashMap<String, Vec<Notice>>,
}

#[derive(Deserialize)]
struct Notice {
    notice: String,
}

/// Every custom error's notice, by selector.
static NOTICES: LazyLock<HashMap<[u8; 4], String>> = LazyLock::new(|| {
    [
        include_str!("../abi/IDatanetRegistry.userdoc.json"),
        include_str!("../abi/IModelRegistry.userdoc.json"),
        include_str!("../abi/IUsageEscrow.userdoc.json"),
        include_str!("../abi/IUsageChannels.userdoc.json"),
    ]
    .into_iter()
    .filter_map(|json| serde_json::from_str::<UserDoc>(json).ok())
    .flat_map(|doc| doc.errors)
    .filter_map(|(signature, notices)| {
        let notice = notices.into_iter().next()?.notice;
        let selector = keccak256(signature.as_bytes());
        Some((
            [selector[0], selector[1], selector[2], selector[3]],
            notice.split_whitespace().collect::<Vec<_>>().join(" "),
        ))
    })
    .collect()
});

/// Decodes revert data from any Soil contract into a readable sentence, or `None` if it is not one of
/// their custom errors, e.g. `UsageEscrow: No withdrawal is pending, or it is not yet unlocked.
/// (WithdrawalNotReady { unlockAt: 1700000000 })`.
pub fn describe(data: &Bytes) -> Option<String> {
    let (contract, error) = if let Ok(err) = IUsageEscrow::IUsageEscrowErrors::abi_decode(data) {
        ("UsageEscrow", format!("{err:?}"))
    } else if let Ok(err) = IDatanetRegistry::IDatanetRegistryErrors::abi_decode(data) {
        ("DatanetRegistry", format!("{err:?}"))
    } else if let Ok(err) = IModelRegistry::IModelRegistryErrors::abi_decode(data) {
        ("ModelRegistry", format!("{err:?}"))
    } else if let Ok(err) = IUsageChannels::IUsageChannelsErrors::abi_decode(data) {
        ("UsageChannels", format!("{err:?}"))
    } else {
        return None;
    };
    // `Name(Name { field: value })` → `Name { field: value }`.
    let inner = error
        .split_once('(')
        .and_then(|(_, inner)| inner.strip_suffix(')'))
        .map(str::to_owned);
    let error = inner.unwrap_or(error);
    let notice = data
        .get(..4)
        .and_then(|selector| NOTICES.get(selector).map(String::as_str));
    Some(match notice {
        Some(notice) => format!("{contract}: {notice} ({error})"),
        None => format!("{contract}: {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolError;

    #[test]
    fn decodes_an_escrow_error_into_its_notice_and_arguments() {
        let data = IUsageEscrow::ReceiptExpired {
            index: alloy::primitives::U256::from(2u8),
            deadline: 5,
        }
        .abi_encode();
        let text = describe(&data.into()).unwrap();
        assert_eq!(
            text,
            "UsageEscrow: Receipt `index` is past its deadline. \
             (ReceiptExpired { index: 2, deadline: 5 })"
        );
    }

    #[test]
    fn every_custom_error_has_a_notice() {
        let selectors = IUsageEscrow::IUsageEscrowErrors::selectors()
            .chain(IDatanetRegistry::IDatanetRegistryErrors::selectors())
            .chain(IModelRegistry::IModelRegistryErrors::selectors())
            .chain(IUsageChannels::IUsageChannelsErrors::selectors());
        for selector in selectors {
            assert!(
                NOTICES.contains_key(&selector),
                "no @notice for error {selector:?}"
            );
        }
    }

    #[test]
    fn decodes_a_channels_error() {
        let data = IUsageChannels::WrongPeriod {
            channelId: 3,
            expected: 2,
            given: 1,
        }
        .abi_encode();
        assert_eq!(
            describe(&data.into()).unwrap(),
            "UsageChannels: The voucher belongs to another period than the channel's current one (a stale \
             voucher). (WrongPeriod { channelId: 3, expected: 2, given: 1 })"
        );
    }

    #[test]
    fn other_revert_data_is_not_described() {
        assert_eq!(describe(&Bytes::from_static(&[1, 2, 3, 4, 5])), None);
        assert_eq!(describe(&Bytes::new()), None);
    }
}
