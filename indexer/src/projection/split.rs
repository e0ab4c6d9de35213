//! A settled fee's split, computed exactly as `UsageEscrow.settle` does (integer division, rounding
//! down): owner, node and data shares by basis points of the fee, each attributed contribution's part
//! of the data share by its weight in ppm, and the rest of the data share to the release pools; the
//! rounding dust of the basis-point split goes to the treasury.

use alloy::primitives::U256;

/// Basis points in a whole.
pub const BPS: u64 = 10_000;
/// Parts per million in a whole.
pub const PPM: u64 = 1_000_000;

/// How one fee was divided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeSplit {
    /// To the model's owner.
    pub owner: U256,
    /// To the data: attributed contributions and release pools.
    pub data: U256,
    /// To the node that ran the model.
    pub node: U256,
    /// To the treasury, with the rounding dust.
    pub treasury: U256,
    /// Each attributed contribution's amount, in attribution order.
    pub contributors: Vec<U256>,
    /// Σ `contributors`.
    pub attributed: U256,
    /// data − attributed: what the release pools receive.
    pub unattributed: U256,
}

/// Splits `fee` by the model's basis points and the receipt's weights (ppm, Σ ≤ 1e6 as the escrow
/// enforces).
pub fn split_fee(
    fee: U256,
    owner_bps: u64,
    data_bps: u64,
    node_bps: u64,
    weights_ppm: &[u32],
) -> FeeSplit {
    let bps = U256::from(BPS);
    let owner = fee * U256::from(owner_bps) / bps;
    let data = fee * U256::from(data_bps) / bps;
    let node = fee * U256::from(node_bps) / bps;
    let treasury = fee - owner - data - node;
    let contributors: Vec<U256> = weights_ppm
        .iter()
        .map(|w| data * U256::from(*w) / U256::from(PPM))
        .collect();
    let attributed = contributors.iter().fold(U256::ZERO, |sum, x| sum + *x);
    let unattributed = data - attributed;
    FeeSplit {
        owner,
        data,
        node,
        treasury,
        contributors,
        attributed,
        unattributed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_down_and_gives_dust_to_the_treasury() {
        let split = split_fee(U256::from(999u64), 2_000, 7_000, 900, &[333_333, 333_333]);
        assert_eq!(split.owner, U256::from(199u64)); // 999 × 0.2 = 199.8
        assert_eq!(split.data, U256::from(699u64)); // 699.3
        assert_eq!(split.node, U256::from(89u64)); // 89.91
        assert_eq!(split.treasury, U256::from(999u64 - 199 - 699 - 89));
        assert_eq!(
            split.contributors,
            vec![U256::from(232u64), U256::from(232u64)]
        ); // 232.99…
        assert_eq!(split.attributed, U256::from(464u64));
        assert_eq!(split.unattributed, U256::from(235u64));
        assert_eq!(
            split.owner + split.data + split.node + split.treasury,
            U256::from(999u64)
        );
    }

    #[test]
    fn no_attribution_sends_the_whole_data_share_to_the_pools() {
        let split = split_fee(U256::from(10_000u64), 2_500, 5_000, 2_000, &[]);
        assert_eq!(split.attributed, U256::ZERO);
        assert_eq!(split.unattributed, U256::from(5_000u64));
    }
}
