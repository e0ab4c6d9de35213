//! Whether a published receipts log proves the voucher that settled its period: the same channel and
//! period, no receipt twice, the root the voucher committed to, every receipt the channel's (payer,
//! model, node), and totals that the log's receipts, split by the model's terms with the escrow's
//! rounding, reproduce to the wei. The one check the node (before settling a handed-over period), the
//! indexer and `soil audit` make.

use alloy::primitives::{Address, B256, U256};

use crate::channel::{PeriodTotals, ReceiptsLog, SplitTerms, Voucher};

/// Who a channel's receipts must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parties {
    /// The channel's payer.
    pub payer: Address,
    /// The channel's model.
    pub model_id: u64,
    /// The channel's node.
    pub node: Address,
}

/// Why a log does not prove its voucher (the first difference found).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogMismatch {
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
    /// A receipt occurs twice.
    #[error("receipt {index} repeats an earlier one")]
    Repeated {
        /// Its index in the log.
        index: usize,
    },
    /// Its root is not the voucher's.
    #[error("the log's root {found} is not the voucher's logRoot {expected}")]
    Root {
        /// The voucher's root.
        expected: B256,
        /// The log's.
        found: B256,
    },
    /// A receipt is not the channel's.
    #[error("receipt {index} is not the channel's: its {what} differs")]
    Foreign {
        /// Its index in the log.
        index: usize,
        /// Which field differs.
        what: &'static str,
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

/// Checks that `log` proves `voucher` of a channel between `parties` for a model split by `terms`.
pub fn verify_log(
    log: &ReceiptsLog,
    voucher: &Voucher,
    parties: &Parties,
    terms: &SplitTerms,
) -> Result<(), LogMismatch> {
    if (log.channel_id, log.period) != (voucher.channelId, voucher.period) {
        return Err(LogMismatch::OtherPeriod {
            channel_id: log.channel_id,
            period: log.period,
            expected_channel: voucher.channelId,
            expected_period: voucher.period,
        });
    }
    let leaves = log.leaves();
    for (index, leaf) in leaves.iter().enumerate() {
        if leaves[..index].contains(leaf) {
            return Err(LogMismatch::Repeated { index });
        }
    }
    let root = log.root();
    if root != voucher.logRoot {
        return Err(LogMismatch::Root {
            expected: voucher.logRoot,
            found: root,
        });
    }
    let mut totals = PeriodTotals::default();
    for (index, entry) in log.entries.iter().enumerate() {
        let r = &entry.receipt;
        let what = if r.payer != parties.payer {
            Some("payer")
        } else if r.modelId != parties.model_id {
            Some("model")
        } else if r.node != parties.node {
            Some("node")
        } else {
            None
        };
        if let Some(what) = what {
            return Err(LogMismatch::Foreign { index, what });
        }
        totals.add(terms, r.fee, &entry.attribution);
    }
    compare(voucher, &totals)
}

fn compare(voucher: &Voucher, totals: &PeriodTotals) -> Result<(), LogMismatch> {
    let differ = |what, expected: &dyn ToString, found: &dyn ToString| {
        Err(LogMismatch::Totals {
            what,
            expected: expected.to_string(),
            found: found.to_string(),
        })
    };
    if voucher.inferences != totals.inferences {
        return differ("inference count", &voucher.inferences, &totals.inferences);
    }
    let fee = voucher.fee.saturating_sub(voucher.startFee);
    let pairs: [(&str, U256, U256); 5] = [
        ("fee", fee, totals.fee),
        ("owner share", voucher.ownerShare, totals.owner),
        ("base share", voucher.baseShare, totals.base),
        ("node share", voucher.nodeShare, totals.node),
        ("data share", voucher.dataShare, totals.data),
    ];
    for (what, expected, found) in pairs {
        if expected != found {
            return differ(what, &expected, &found);
        }
    }
    // A voucher may list a contribution whose sum is 0; the totals leave those out.
    let listed: Vec<(u64, U256)> = voucher
        .contributionIds
        .iter()
        .copied()
        .zip(voucher.contributionAmounts.iter().copied())
        .filter(|(_, amount)| !amount.is_zero())
        .collect();
    let summed: Vec<(u64, U256)> = totals.contributions.iter().map(|(k, v)| (*k, *v)).collect();
    if listed != summed {
        return differ("contributions", &Pairs(&listed), &Pairs(&summed));
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

    use super::*;
    use crate::{Attribution, channel::LogEntry, receipt::UsageReceipt};

    const TERMS: SplitTerms = SplitTerms {
        owner_bps: 2_000,
        base_share_bps: 500,
        node_bps: 1_500,
        data_bps: 6_000,
    };
    const PARTIES: Parties = Parties {
        payer: Address::repeat_byte(1),
        model_id: 3,
        node: Address::repeat_byte(2),
    };

    fn entry(nonce: u64, fee: u64, attribution: Vec<(u64, u32)>) -> LogEntry {
        let attribution = Attribution::new(attribution).expect("attribution");
        LogEntry {
            receipt: UsageReceipt {
                payer: PARTIES.payer,
                modelId: PARTIES.model_id,
                node: PARTIES.node,
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

    /// A log of two receipts and the voucher that settled it.
    fn settled() -> (ReceiptsLog, Voucher) {
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
        let voucher = totals.voucher(7, 2, U256::from(100u64), log.root());
        (log, voucher)
    }

    fn check(log: &ReceiptsLog, voucher: &Voucher) -> Result<(), LogMismatch> {
        verify_log(log, voucher, &PARTIES, &TERMS)
    }

    #[test]
    fn a_log_that_reproduces_its_voucher_verifies_even_listing_a_zero() {
        let (log, mut voucher) = settled();
        assert_eq!(check(&log, &voucher), Ok(()));
        voucher.contributionIds.push(11);
        voucher.contributionAmounts.push(U256::ZERO);
        assert_eq!(check(&log, &voucher), Ok(()));
    }

    #[test]
    fn each_way_a_log_fails_is_named() {
        let (log, voucher) = settled();
        let mut other = voucher.clone();
        other.period = 3;
        assert!(matches!(
            check(&log, &other),
            Err(LogMismatch::OtherPeriod { period: 2, .. })
        ));
        let mut rooted = voucher.clone();
        rooted.logRoot = B256::repeat_byte(5);
        assert!(matches!(
            check(&log, &rooted),
            Err(LogMismatch::Root { .. })
        ));
        let foreign = Parties {
            node: Address::repeat_byte(3),
            ..PARTIES
        };
        assert_eq!(
            verify_log(&log, &voucher, &foreign, &TERMS),
            Err(LogMismatch::Foreign {
                index: 0,
                what: "node"
            })
        );
        let mut off = voucher.clone();
        off.ownerShare -= U256::from(1u64);
        assert!(matches!(
            check(&log, &off),
            Err(LogMismatch::Totals {
                what: "owner share",
                ..
            })
        ));
        let mut moved = voucher.clone();
        moved.contributionAmounts[0] -= U256::from(1u64);
        assert!(matches!(
            check(&log, &moved),
            Err(LogMismatch::Totals {
                what: "contributions",
                ..
            })
        ));
        let mut counted = voucher.clone();
        counted.inferences = 3;
        assert!(matches!(
            check(&log, &counted),
            Err(LogMismatch::Totals {
                what: "inference count",
                ..
            })
        ));
        let mut twice = log;
        twice.entries.push(twice.entries[1].clone());
        assert_eq!(
            check(&twice, &voucher),
            Err(LogMismatch::Repeated { index: 2 })
        );
    }
}
