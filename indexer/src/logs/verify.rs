//! Checking a fetched receipts log against the voucher settled on chain, with the bindings' `verify_log`
//! (the same channel and period, no receipt twice, the root the voucher committed to, every receipt the
//! channel's, totals reproduced to the wei), from what the store keeps of the settlement.

use alloy::primitives::{Address, B256, U256};
use soil_bindings::channel::{LogMismatch, Parties, ReceiptsLog, SplitTerms, Voucher, verify_log};

/// What a settled voucher says, and the channel and model it was settled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// The voucher's digest.
    pub digest: B256,
    /// The channel.
    pub channel_id: u64,
    /// Its period.
    pub period: u32,
    /// Its inferences.
    pub inferences: u32,
    /// Cumulative fee before the period.
    pub start_fee: U256,
    /// Cumulative fee after it.
    pub fee: U256,
    /// The owner share (net of the base share).
    pub owner_share: U256,
    /// The base model's share.
    pub base_share: U256,
    /// The node share.
    pub node_share: U256,
    /// The data share.
    pub data_share: U256,
    /// Each contribution's amount, in the voucher's order.
    pub contributions: Vec<(u64, U256)>,
    /// The log's root.
    pub log_root: B256,
    /// The channel's payer.
    pub payer: Address,
    /// The channel's node.
    pub node: Address,
    /// The channel's model.
    pub model_id: u64,
    /// The model's split.
    pub terms: SplitTerms,
}

impl Settled {
    /// The voucher as it was signed and settled.
    pub fn voucher(&self) -> Voucher {
        Voucher {
            channelId: self.channel_id,
            period: self.period,
            inferences: self.inferences,
            startFee: self.start_fee,
            fee: self.fee,
            ownerShare: self.owner_share,
            baseShare: self.base_share,
            nodeShare: self.node_share,
            dataShare: self.data_share,
            contributionIds: self.contributions.iter().map(|&(id, _)| id).collect(),
            contributionAmounts: self
                .contributions
                .iter()
                .map(|&(_, amount)| amount)
                .collect(),
            logRoot: self.log_root,
        }
    }

    fn parties(&self) -> Parties {
        Parties {
            payer: self.payer,
            model_id: self.model_id,
            node: self.node,
        }
    }
}

/// Why a log does not prove its voucher.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// Not a receipts log, or a receipt's attribution does not match its hash.
    #[error("{0}")]
    Unreadable(String),
    /// A log that is not the voucher's (`soil_bindings::channel::verify_log`).
    #[error(transparent)]
    Log(#[from] LogMismatch),
}

/// Parses `body` and checks it proves `settled`; the log when it does.
pub fn verify(settled: &Settled, body: &[u8]) -> Result<ReceiptsLog, Mismatch> {
    let log = ReceiptsLog::from_json(body).map_err(|e| Mismatch::Unreadable(e.to_string()))?;
    verify_log(&log, &settled.voucher(), &settled.parties(), &settled.terms)?;
    Ok(log)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::keccak256;
    use soil_bindings::Attribution;
    use soil_bindings::channel::{LogEntry, PeriodTotals};
    use soil_bindings::contracts::IUsageEscrow::UsageReceipt;

    use super::*;

    const TERMS: SplitTerms = SplitTerms {
        owner_bps: 2_000,
        base_share_bps: 0,
        node_bps: 1_500,
        data_bps: 6_000,
    };

    fn entry(nonce: u64, fee: u64, attribution: Vec<(u64, u32)>) -> LogEntry {
        let attribution = Attribution::new(attribution).expect("attribution");
        LogEntry {
            receipt: UsageReceipt {
                payer: Address::repeat_byte(1),
                modelId: 3,
                node: Address::repeat_byte(2),
                promptHash: keccak256(format!("prompt {nonce}")),
                outputHash: keccak256(format!("output {nonce}")),
                outputURI: String::new(),
                inputTokens: 1,
                outputTokens: 2,
                fee: U256::from(fee),
                nonce: U256::from(nonce),
                deadline: 0,
                attributionVersion: 1,
                attributionHash: attribution.hash(),
            },
            attribution,
        }
    }

    /// A log of two receipts and the settlement of its voucher, as the chain has it.
    fn settled() -> (ReceiptsLog, Settled) {
        let log = ReceiptsLog {
            channel_id: 7,
            period: 2,
            entries: vec![
                entry(1, 999_999, vec![(4, 500_000), (9, 3)]),
                entry(2, 12_345, vec![(4, 1_000_000)]),
            ],
        };
        let mut totals = PeriodTotals::default();
        for e in &log.entries {
            totals.add(&TERMS, e.receipt.fee, &e.attribution);
        }
        let v = totals.voucher(7, 2, U256::from(100u64), log.root());
        let settled = Settled {
            digest: B256::repeat_byte(9),
            channel_id: 7,
            period: 2,
            inferences: v.inferences,
            start_fee: v.startFee,
            fee: v.fee,
            owner_share: v.ownerShare,
            base_share: v.baseShare,
            node_share: v.nodeShare,
            data_share: v.dataShare,
            contributions: v
                .contributionIds
                .into_iter()
                .zip(v.contributionAmounts)
                .collect(),
            log_root: v.logRoot,
            payer: Address::repeat_byte(1),
            node: Address::repeat_byte(2),
            model_id: 3,
            terms: TERMS,
        };
        (log, settled)
    }

    #[test]
    fn a_log_that_reproduces_its_voucher_verifies() {
        let (log, settled) = settled();
        assert_eq!(verify(&settled, &log.to_json()), Ok(log));
    }

    #[test]
    fn a_voucher_listing_a_contribution_at_zero_still_verifies() {
        let (log, mut settled) = settled();
        settled.contributions.push((11, U256::ZERO));
        assert!(verify(&settled, &log.to_json()).is_ok());
    }

    #[test]
    fn what_the_store_keeps_is_checked_as_the_settled_voucher() {
        let (log, settled) = settled();
        assert!(matches!(
            verify(&settled, b"{\"not\": \"a log\"}"),
            Err(Mismatch::Unreadable(_))
        ));
        let mut foreign = settled.clone();
        foreign.node = Address::repeat_byte(3);
        assert_eq!(
            verify(&foreign, &log.to_json()),
            Err(Mismatch::Log(LogMismatch::Foreign {
                index: 0,
                what: "node"
            }))
        );
        let mut off = settled;
        off.contributions[0].1 -= U256::from(1u64);
        let err = verify(&off, &log.to_json()).unwrap_err();
        assert!(err.to_string().contains("contributions"), "{err}");
    }
}
