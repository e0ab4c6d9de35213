//! Checking a fetched receipts log against the voucher settled on chain: the same channel and period,
//! the root the voucher committed to, every receipt the channel's (payer, model, node), and totals that
//! the log's receipts, split by the model's terms with the escrow's rounding, reproduce to the wei.

use alloy::primitives::{Address, B256, U256};
use soil_bindings::channel::{PeriodTotals, ReceiptsLog, SplitTerms};

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

/// Why a log does not prove its voucher.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// Not a receipts log, or a receipt's attribution does not match its hash.
    #[error("{0}")]
    Unreadable(String),
    /// The log is another channel's or period's.
    #[error(
        "the log is channel {channel_id}'s period {period}, the voucher channel {expected_channel}'s period {expected_period}"
    )]
    OtherPeriod {
        /// The log's channel.
        channel_id: u64,
        /// The log's period.
        period: u32,
        /// The voucher's channel.
        expected_channel: u64,
        /// The voucher's period.
        expected_period: u32,
    },
    /// Its root is not the voucher's.
    #[error("the log's root {found} is not the settled logRoot {expected}")]
    Root {
        /// The settled root.
        expected: B256,
        /// The log's.
        found: B256,
    },
    /// A receipt is not the channel's.
    #[error("receipt {index} is not the channel's: {what}")]
    Foreign {
        /// Its index in the log.
        index: usize,
        /// Which field differs.
        what: &'static str,
    },
    /// A receipt occurs twice.
    #[error("receipt {index} repeats an earlier one")]
    Repeated {
        /// Its index in the log.
        index: usize,
    },
    /// The receipts' totals are not the voucher's.
    #[error("the receipts' {what} is {found}, the voucher's {expected}")]
    Totals {
        /// Which total.
        what: &'static str,
        /// The voucher's.
        expected: String,
        /// The log's.
        found: String,
    },
}

/// Parses `body` and checks it proves `settled`; the log when it does.
pub fn verify(settled: &Settled, body: &[u8]) -> Result<ReceiptsLog, Mismatch> {
    let log = ReceiptsLog::from_json(body).map_err(|e| Mismatch::Unreadable(e.to_string()))?;
    if log.channel_id != settled.channel_id || log.period != settled.period {
        return Err(Mismatch::OtherPeriod {
            channel_id: log.channel_id,
            period: log.period,
            expected_channel: settled.channel_id,
            expected_period: settled.period,
        });
    }
    let leaves = log.leaves();
    for (index, leaf) in leaves.iter().enumerate() {
        if leaves[..index].contains(leaf) {
            return Err(Mismatch::Repeated { index });
        }
    }
    let root = log.root();
    if root != settled.log_root {
        return Err(Mismatch::Root {
            expected: settled.log_root,
            found: root,
        });
    }
    let mut totals = PeriodTotals::default();
    for (index, entry) in log.entries.iter().enumerate() {
        let r = &entry.receipt;
        let foreign = |what| Err(Mismatch::Foreign { index, what });
        if r.payer != settled.payer {
            return foreign("payer");
        }
        if r.modelId != settled.model_id {
            return foreign("model");
        }
        if r.node != settled.node {
            return foreign("node");
        }
        totals.add(&settled.terms, r.fee, &entry.attribution);
    }
    compare(settled, &totals)?;
    Ok(log)
}

fn compare(settled: &Settled, totals: &PeriodTotals) -> Result<(), Mismatch> {
    let differ = |what, expected: &dyn ToString, found: &dyn ToString| {
        Err(Mismatch::Totals {
            what,
            expected: expected.to_string(),
            found: found.to_string(),
        })
    };
    let fee = settled.fee.saturating_sub(settled.start_fee);
    let pairs: [(&str, U256, U256); 5] = [
        ("fee", fee, totals.fee),
        ("owner share", settled.owner_share, totals.owner),
        ("base share", settled.base_share, totals.base),
        ("node share", settled.node_share, totals.node),
        ("data share", settled.data_share, totals.data),
    ];
    if settled.inferences != totals.inferences {
        return differ("inference count", &settled.inferences, &totals.inferences);
    }
    for (what, expected, found) in pairs {
        if expected != found {
            return differ(what, &expected, &found);
        }
    }
    // A voucher may list a contribution whose sum is 0; the totals leave those out.
    let listed: Vec<(u64, U256)> = settled
        .contributions
        .iter()
        .copied()
        .filter(|(_, amount)| !amount.is_zero())
        .collect();
    let summed: Vec<(u64, U256)> = totals.contributions.iter().map(|(k, v)| (*k, *v)).collect();
    if listed != summed {
        return differ(
            "contributions",
            &Pairs(&listed).to_string(),
            &Pairs(&summed).to_string(),
        );
    }
    Ok(())
}

/// `id: amount` pairs, comma separated.
struct Pairs<'a>(&'a [(u64, U256)]);

impl std::fmt::Display for Pairs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (id, amount)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{id}: {amount}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::keccak256;
    use soil_bindings::Attribution;
    use soil_bindings::channel::LogEntry;
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
    fn each_way_a_log_fails_is_named() {
        let (log, settled) = settled();
        assert!(matches!(
            verify(&settled, b"{\"not\": \"a log\"}"),
            Err(Mismatch::Unreadable(_))
        ));
        let mut other = settled.clone();
        other.period = 3;
        assert!(matches!(
            verify(&other, &log.to_json()),
            Err(Mismatch::OtherPeriod { period: 2, .. })
        ));
        let mut rooted = settled.clone();
        rooted.log_root = B256::repeat_byte(5);
        assert!(matches!(
            verify(&rooted, &log.to_json()),
            Err(Mismatch::Root { .. })
        ));
        let mut foreign = settled.clone();
        foreign.node = Address::repeat_byte(3);
        assert_eq!(
            verify(&foreign, &log.to_json()),
            Err(Mismatch::Foreign {
                index: 0,
                what: "node"
            })
        );
        // A voucher whose owner share is a wei off what its receipts sum to (within the escrow's bounds).
        let mut off = settled.clone();
        off.owner_share -= U256::from(1u64);
        assert!(matches!(
            verify(&off, &log.to_json()),
            Err(Mismatch::Totals {
                what: "owner share",
                ..
            })
        ));
        let mut moved = settled.clone();
        moved.contributions[0].1 -= U256::from(1u64);
        assert!(matches!(
            verify(&moved, &log.to_json()),
            Err(Mismatch::Totals {
                what: "contributions",
                ..
            })
        ));
        let mut counted = settled;
        counted.inferences = 3;
        assert!(matches!(
            verify(&counted, &log.to_json()),
            Err(Mismatch::Totals {
                what: "inference count",
                ..
            })
        ));
    }

    #[test]
    fn a_receipt_twice_is_a_mismatch() {
        let (mut log, settled) = settled();
        log.entries.push(log.entries[1].clone());
        assert_eq!(
            verify(&settled, &log.to_json()),
            Err(Mismatch::Repeated { index: 2 })
        );
    }
}
