//! The node's check of a voucher a payer's server handed over, before the node settles it: the voucher is
//! the period's, signed by the channel's signer, starts where the chain's channel stands and fits its
//! deposit (its published log is then checked with `soil_bindings::channel::verify_log`). The check names
//! what is wrong in words.

use alloy::primitives::{Signature, U256};
use soil_bindings::channel::{Channel, ChannelDomain};

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

#[cfg(test)]
mod tests {
    use alloy::{
        primitives::{Address, B256, Bytes},
        signers::local::PrivateKeySigner,
    };
    use soil_bindings::{
        Attribution,
        channel::{PeriodTotals, SplitTerms, Voucher},
    };

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

    /// Period 1 of channel 9 from `start_fee`, one inference per fee.
    fn voucher(fees: &[u64], start_fee: U256) -> Voucher {
        let mut totals = PeriodTotals::default();
        for &fee in fees {
            let attribution = Attribution::new(vec![(4, 500_000)]).unwrap();
            totals.add(&TERMS, U256::from(fee), &attribution);
        }
        totals.voucher(9, 1, start_fee, B256::repeat_byte(3))
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
        let good = handed(voucher(&[100, 250], next.start_fee), &key, &domain).await;
        assert_eq!(check_voucher(&domain, 9, &channel, next, &good), Ok(()));

        let forged = handed(good.voucher.clone(), &PrivateKeySigner::random(), &domain).await;
        let err = check_voucher(&domain, 9, &channel, next, &forged).unwrap_err();
        assert!(err.contains("not by the channel's signer"), "{err}");

        let mut altered = good.clone();
        altered.voucher.nodeShare += U256::from(1u64);
        let err = check_voucher(&domain, 9, &channel, next, &altered).unwrap_err();
        assert!(err.contains("not by the channel's signer"), "{err}");

        let later = NextPeriod { period: 2, ..next };
        let err = check_voucher(&domain, 9, &channel, later, &good).unwrap_err();
        assert!(err.contains("settles period 2 next"), "{err}");
        let elsewhere = NextPeriod {
            start_fee: U256::from(400u64),
            ..next
        };
        let err = check_voucher(&domain, 9, &channel, elsewhere, &good).unwrap_err();
        assert!(err.contains("from fee 400"), "{err}");

        let err = check_voucher(&domain, 8, &channel, next, &good).unwrap_err();
        assert!(err.contains("handed over as channel 8"), "{err}");

        let big = handed(voucher(&[2_000_000], next.start_fee), &key, &domain).await;
        let err = check_voucher(&domain, 9, &channel, next, &big).unwrap_err();
        assert!(err.contains("outside the channel's deposit"), "{err}");

        let unreadable = HandedPeriod {
            signature: Bytes::from(vec![0u8; 3]),
            ..good
        };
        assert!(check_voucher(&domain, 9, &channel, next, &unreadable).is_err());
    }
}
