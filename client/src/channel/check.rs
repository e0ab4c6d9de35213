//! The node's checks of a period a payer's server handed over, before the node settles it: the voucher is
//! the period's, signed by the channel's signer, starts where the chain's channel stands and fits its
//! deposit; its published log has the voucher's root, holds only the channel's receipts, and adds up,
//! with the model's split, to exactly the voucher's totals. Each check names what is wrong in words.

use alloy::primitives::{Address, Signature, U256};
use soil_bindings::channel::{
    Channel, ChannelDomain, PeriodTotals, ReceiptsLog, SplitTerms, Voucher,
};

use super::HandedPeriod;

/// Where the chain's channel stands for the next period to settle: its number and the fee settled before
/// it (the chain's, or the previous handed voucher's once that one is settled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextPeriod {
    /// The period the chain settles next.
    pub period: u32,
    /// The cumulative fee settled before it.
    pub start_fee: U256,
}

/// Checks `handed`'s voucher: for `channel_id` and the period it is handed as, the period the chain
/// settles next starting at its settled fee, within the deposit, signed by the channel's signer.
pub fn check_voucher(
    domain: &ChannelDomain,
    channel_id: u64,
    channel: &Channel,
    next: NextPeriod,
    handed: &HandedPeriod,
) -> Result<(), String> {
    let v = &handed.voucher;
    if v.channelId != channel_id || v.period != handed.period {
        return Err(format!(
            "its voucher is for channel {} period {}, handed over as channel {channel_id} period {}",
            v.channelId, v.period, handed.period
        ));
    }
    if v.period != next.period || v.startFee != next.start_fee {
        return Err(format!(
            "its voucher is period {} starting at fee {}, but the channel settles period {} next, from fee {}",
            v.period, v.startFee, next.period, next.start_fee
        ));
    }
    let deposit = U256::from(channel.deposit);
    if v.fee < v.startFee || v.fee > deposit {
        return Err(format!(
            "its voucher promises a cumulative fee of {} from {}, outside the channel's deposit of {deposit}",
            v.fee, v.startFee
        ));
    }
    let signer = Signature::try_from(handed.signature.as_ref())
        .map_err(|err| format!("its signature cannot be read: {err}"))?
        .recover_address_from_prehash(&domain.digest(v))
        .map_err(|err| format!("its signature recovers no signer: {err}"))?;
    if signer != channel.signer {
        return Err(format!(
            "its voucher is signed by {signer}, not by the channel's signer {}",
            channel.signer
        ));
    }
    Ok(())
}

/// Checks the period's published `log` against its `voucher`: the same channel, period and root, every
/// receipt the channel's own (payer, model, node), and the receipts' totals under `terms` equal to the
/// voucher's, field by field.
pub fn check_log(
    terms: &SplitTerms,
    channel: &Channel,
    voucher: &Voucher,
    log: &ReceiptsLog,
) -> Result<(), String> {
    if (log.channel_id, log.period) != (voucher.channelId, voucher.period) {
        return Err(format!(
            "its log is channel {} period {}, its voucher channel {} period {}",
            log.channel_id, log.period, voucher.channelId, voucher.period
        ));
    }
    let root = log.root();
    if root != voucher.logRoot {
        return Err(format!(
            "its log's root is {root}, but its voucher commits to {}",
            voucher.logRoot
        ));
    }
    let party = |what: &str, found: Address, expected: Address| {
        (found != expected).then(|| format!("{what} {found} (the channel's is {expected})"))
    };
    for (index, entry) in log.entries.iter().enumerate() {
        let r = &entry.receipt;
        let differ: Vec<String> = [
            party("payer", r.payer, channel.payer),
            party("node", r.node, channel.node),
            (r.modelId != channel.modelId)
                .then(|| format!("model {} (the channel's is {})", r.modelId, channel.modelId)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !differ.is_empty() {
            return Err(format!(
                "receipt {index} of its log is not the channel's: {}",
                differ.join(", ")
            ));
        }
    }
    let mut totals = PeriodTotals::default();
    for entry in &log.entries {
        totals.add(terms, entry.receipt.fee, &entry.attribution);
    }
    let summed = totals.voucher(voucher.channelId, voucher.period, voucher.startFee, root);
    let fields = differing_fields(&summed, voucher);
    if !fields.is_empty() {
        return Err(format!(
            "its log's receipts do not add up to its voucher: {} differ",
            fields.join(", ")
        ));
    }
    Ok(())
}

/// The names of the totals in which `a` and `b` differ.
fn differing_fields(a: &Voucher, b: &Voucher) -> Vec<&'static str> {
    [
        ("inferences", a.inferences != b.inferences),
        ("fee", a.fee != b.fee),
        ("ownerShare", a.ownerShare != b.ownerShare),
        ("baseShare", a.baseShare != b.baseShare),
        ("nodeShare", a.nodeShare != b.nodeShare),
        ("dataShare", a.dataShare != b.dataShare),
        ("contributionIds", a.contributionIds != b.contributionIds),
        (
            "contributionAmounts",
            a.contributionAmounts != b.contributionAmounts,
        ),
    ]
    .into_iter()
    .filter_map(|(name, differ)| differ.then_some(name))
    .collect()
}

#[cfg(test)]
mod tests {
    use alloy::{
        primitives::{B256, Bytes},
        signers::local::PrivateKeySigner,
    };
    use soil_bindings::{Attribution, channel::LogEntry, receipt::UsageReceipt};

    use super::*;

    const TERMS: SplitTerms = SplitTerms {
        owner_bps: 3000,
        base_share_bps: 0,
        node_bps: 1500,
        data_bps: 5000,
    };

    fn channel(signer: Address) -> Channel {
        Channel {
            payer: Address::repeat_byte(1),
            modelId: 3,
            period: 1,
            node: Address::repeat_byte(2),
            closesAt: 0,
            open: true,
            signer,
            deposit: 1_000_000,
            settledFee: 500,
        }
    }

    fn log(channel: &Channel, fees: &[u64]) -> ReceiptsLog {
        let entries = fees
            .iter()
            .enumerate()
            .map(|(i, &fee)| LogEntry {
                receipt: UsageReceipt {
                    payer: channel.payer,
                    modelId: channel.modelId,
                    node: channel.node,
                    promptHash: B256::repeat_byte(i as u8),
                    outputHash: B256::ZERO,
                    outputURI: String::new(),
                    inputTokens: 1,
                    outputTokens: 1,
                    fee: U256::from(fee),
                    nonce: U256::from(i + 1),
                    deadline: 0,
                    attributionVersion: 1,
                    attributionHash: B256::ZERO,
                },
                attribution: Attribution::new(vec![(4, 500_000)]).unwrap(),
            })
            .collect();
        ReceiptsLog {
            channel_id: 9,
            period: 1,
            entries,
        }
    }

    fn voucher_of(log: &ReceiptsLog, start_fee: U256) -> Voucher {
        let mut totals = PeriodTotals::default();
        for entry in &log.entries {
            totals.add(&TERMS, entry.receipt.fee, &entry.attribution);
        }
        totals.voucher(log.channel_id, log.period, start_fee, log.root())
    }

    async fn handed(
        voucher: Voucher,
        key: &PrivateKeySigner,
        domain: &ChannelDomain,
    ) -> HandedPeriod {
        HandedPeriod {
            period: voucher.period,
            signature: domain.sign(&voucher, key).await.unwrap(),
            voucher,
            log_uri: String::new(),
        }
    }

    #[tokio::test]
    async fn a_voucher_is_the_next_periods_signed_by_the_channels_signer() {
        let key = PrivateKeySigner::random();
        let domain = ChannelDomain {
            chain_id: 31337,
            channels: Address::repeat_byte(7),
        };
        let channel = channel(key.address());
        let next = NextPeriod {
            period: 1,
            start_fee: U256::from(500u64),
        };
        let voucher = voucher_of(&log(&channel, &[100, 250]), next.start_fee);
        let good = handed(voucher.clone(), &key, &domain).await;
        assert_eq!(check_voucher(&domain, 9, &channel, next, &good), Ok(()));

        let other_key = PrivateKeySigner::random();
        let forged = handed(voucher.clone(), &other_key, &domain).await;
        let err = check_voucher(&domain, 9, &channel, next, &forged).unwrap_err();
        assert!(err.contains("not by the channel's signer"), "{err}");

        let mut altered = good.clone();
        altered.voucher.nodeShare += U256::from(1u64);
        let err = check_voucher(&domain, 9, &channel, next, &altered).unwrap_err();
        assert!(err.contains("not by the channel's signer"), "{err}");

        let later = NextPeriod { period: 2, ..next };
        let err = check_voucher(&domain, 9, &channel, later, &good).unwrap_err();
        assert!(err.contains("settles period 2 next"), "{err}");

        let err = check_voucher(&domain, 8, &channel, next, &good).unwrap_err();
        assert!(err.contains("handed over as channel 8"), "{err}");

        let mut big = voucher_of(&log(&channel, &[2_000_000]), next.start_fee);
        big.fee = U256::from(2_000_000u64);
        let big = handed(big, &key, &domain).await;
        let err = check_voucher(&domain, 9, &channel, next, &big).unwrap_err();
        assert!(err.contains("outside the channel's deposit"), "{err}");
        let unreadable = HandedPeriod {
            signature: Bytes::from(vec![0u8; 3]),
            ..good
        };
        assert!(check_voucher(&domain, 9, &channel, next, &unreadable).is_err());
    }

    #[test]
    fn a_log_has_the_vouchers_root_receipts_and_totals() {
        let channel = channel(Address::repeat_byte(1));
        let log = log(&channel, &[100, 250, 7]);
        let voucher = voucher_of(&log, U256::from(500u64));
        assert_eq!(check_log(&TERMS, &channel, &voucher, &log), Ok(()));

        let mut shorter = log.clone();
        shorter.entries.pop();
        let err = check_log(&TERMS, &channel, &voucher, &shorter).unwrap_err();
        assert!(err.contains("its log's root is"), "{err}");

        // A voucher over the same root paying the node a wei more than its receipts add up to.
        let mut greedy = voucher;
        greedy.nodeShare += U256::from(1u64);
        let err = check_log(&TERMS, &channel, &greedy, &log).unwrap_err();
        assert!(err.contains("nodeShare differ"), "{err}");

        let mut foreign = log.clone();
        foreign.entries[1].receipt.node = Address::repeat_byte(9);
        let voucher = voucher_of(&foreign, U256::from(500u64));
        let err = check_log(&TERMS, &channel, &voucher, &foreign).unwrap_err();
        assert!(
            err.contains("receipt 1 of its log is not the channel's: node"),
            "{err}"
        );

        let mut elsewhere = log.clone();
        elsewhere.period = 4;
        let err =
            check_log(&TERMS, &channel, &voucher_of(&log, U256::ZERO), &elsewhere).unwrap_err();
        assert!(err.contains("its log is channel 9 period 4"), "{err}");
    }
}
