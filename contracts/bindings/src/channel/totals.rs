//! A channel period's totals, summed receipt by receipt exactly as `UsageEscrow.settle` splits each
//! receipt's fee, so that settling the period's voucher credits what settling its receipts would have.

use std::collections::BTreeMap;

use alloy::primitives::{B256, U256};

use crate::{Attribution, channel::Voucher, receipt::PPM};

const BPS: u64 = 10_000;

/// What a model's split gives each party, in basis points (the registry's `Split` and, for an adapter,
/// its `baseShareBps`; 0 for a whole model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitTerms {
    /// The model owner's share, the base share included.
    pub owner_bps: u16,
    /// The derivative share an adapter pays its base model's owner out of `owner_bps`.
    pub base_share_bps: u16,
    /// The node's share.
    pub node_bps: u16,
    /// The data share.
    pub data_bps: u16,
}

/// The totals of one period of a channel: its inferences, fee and what the fee owes each party.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodTotals {
    /// Inferences in the period.
    pub inferences: u32,
    /// Σ fees.
    pub fee: U256,
    /// Σ (fee × ownerBps / 10 000 − fee × baseShareBps / 10 000).
    pub owner: U256,
    /// Σ fee × baseShareBps / 10 000.
    pub base: U256,
    /// Σ fee × nodeBps / 10 000.
    pub node: U256,
    /// Σ fee × dataBps / 10 000.
    pub data: U256,
    /// Per contribution: Σ (fee × dataBps / 10 000) × weight / 1 000 000, zero sums left out.
    pub contributions: BTreeMap<u64, U256>,
}

impl PeriodTotals {
    /// Adds one receipt of `fee` with its `attribution`, each product rounded down as the escrow does.
    pub fn add(&mut self, terms: &SplitTerms, fee: U256, attribution: &Attribution) {
        let part = |bps: u16| fee * U256::from(bps) / U256::from(BPS);
        let base = part(terms.base_share_bps);
        let data = part(terms.data_bps);
        self.inferences += 1;
        self.fee += fee;
        self.owner += part(terms.owner_bps) - base;
        self.base += base;
        self.node += part(terms.node_bps);
        self.data += data;
        for &(id, weight) in &attribution.entries {
            let amount = data * U256::from(weight) / U256::from(PPM);
            if !amount.is_zero() {
                *self.contributions.entry(id).or_default() += amount;
            }
        }
    }

    /// What goes to the release pools: the data share not attributed.
    pub fn pool(&self) -> U256 {
        self.data - self.contributions.values().copied().sum::<U256>()
    }

    /// What goes to the treasury before pool dust: the fee less every other share.
    pub fn treasury(&self) -> U256 {
        self.fee - self.owner - self.base - self.node - self.data
    }

    /// The voucher for these totals in `period` of `channel_id`, which began at cumulative fee
    /// `start_fee`, over a log with root `log_root`.
    pub fn voucher(
        &self,
        channel_id: u64,
        period: u32,
        start_fee: U256,
        log_root: B256,
    ) -> Voucher {
        Voucher {
            channelId: channel_id,
            period,
            inferences: self.inferences,
            startFee: start_fee,
            fee: start_fee + self.fee,
            ownerShare: self.owner,
            baseShare: self.base,
            nodeShare: self.node,
            dataShare: self.data,
            contributionIds: self.contributions.keys().copied().collect(),
            contributionAmounts: self.contributions.values().copied().collect(),
            logRoot: log_root,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TERMS: SplitTerms = SplitTerms {
        owner_bps: 3000,
        base_share_bps: 1000,
        node_bps: 1500,
        data_bps: 5000,
    };

    #[test]
    fn sums_each_receipt_rounded_down() {
        let mut totals = PeriodTotals::default();
        let attribution = Attribution::new(vec![(7, 333_333), (3, 1)]).unwrap();
        for _ in 0..3 {
            totals.add(&TERMS, U256::from(999u64), &attribution);
        }
        // Per receipt: base 99, owner 299 − 99, node 149, data 499, 7: 166, 3: 0 (left out).
        assert_eq!(totals.inferences, 3);
        assert_eq!(totals.fee, U256::from(2997u64));
        assert_eq!(totals.base, U256::from(297u64));
        assert_eq!(totals.owner, U256::from(600u64));
        assert_eq!(totals.node, U256::from(447u64));
        assert_eq!(totals.data, U256::from(1497u64));
        assert_eq!(totals.contributions.len(), 1);
        assert_eq!(totals.contributions[&7], U256::from(498u64));
        assert_eq!(totals.pool(), U256::from(999u64));
        assert_eq!(
            totals.treasury(),
            U256::from(2997u64 - 297 - 600 - 447 - 1497)
        );
        let voucher = totals.voucher(5, 2, U256::from(10u64), B256::repeat_byte(1));
        assert_eq!(voucher.fee, U256::from(3007u64));
        assert_eq!(voucher.contributionIds, vec![7]);
    }
}
