//! Handing a channel's cut periods from the payer, who holds the signed vouchers, to the node, who alone
//! settles them (docs/PROTOCOL.md, "Periods: why a stale voucher cannot pay"). The node asks the payer's
//! server to cut the open period; the server makes the same cut its own settlement makes and answers every
//! period cut and not yet settled, oldest first, each with its latest voucher, the voucher's signature and
//! the URI its receipts log is published at (`POST /v1/channels/{id}/cut`).

use alloy::primitives::{B256, Bytes, U256};
use serde::{Deserialize, Serialize};
use soil_bindings::channel::Voucher;

use super::{
    reconcile,
    settle::{cut_open_period, log_uri},
};
use crate::{
    chain::Chain,
    error::{ClientError, Result},
    outbox::{Outbox, PeriodState},
};

/// A channel's periods handed to its node: what `POST /v1/channels/{id}/cut` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handover {
    /// The channel.
    pub channel_id: u64,
    /// Its periods cut and not yet settled, oldest first.
    pub periods: Vec<HandedPeriod>,
}

/// One cut period: the voucher that settles it, signed by the channel's signer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandedPeriod {
    /// The period.
    pub period: u32,
    /// Its latest voucher (every field; 256-bit values as decimal strings).
    #[serde(with = "voucher_json")]
    pub voucher: Voucher,
    /// The voucher's 65-byte (r, s, v) signature.
    pub signature: Bytes,
    /// Where the period's receipts log is published (the `logURI` its settlement names).
    pub log_uri: String,
}

/// Cuts channel `channel_id`'s open period if it has an inference and returns every period cut and not
/// yet settled. The outbox is reconciled with the chain first, so a period the node already settled is
/// marked settled and not handed out again.
pub async fn hand_over(chain: &Chain, outbox: &Outbox, channel_id: u64) -> Result<Handover> {
    let channel = chain.channel(channel_id).await?;
    reconcile(chain, outbox, channel_id, &channel).await?;
    cut_open_period(outbox, channel_id).await?;
    let record = outbox
        .channel(channel_id)
        .await?
        .ok_or(ClientError::UnknownChannel(channel_id))?;
    let periods = outbox
        .periods(channel_id)
        .await?
        .into_iter()
        .filter(|p| matches!(p.state, PeriodState::Cut | PeriodState::InFlight))
        .filter_map(|p| {
            let (voucher, signature) = p.voucher?;
            Some(HandedPeriod {
                period: p.period,
                log_uri: log_uri(&record.log_base, voucher.logRoot),
                voucher,
                signature,
            })
        })
        .collect();
    Ok(Handover {
        channel_id,
        periods,
    })
}

/// A voucher as JSON: its EIP-712 fields by name, 256-bit values as decimal strings.
mod voucher_json {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct VoucherJson {
        channel_id: u64,
        period: u32,
        inferences: u32,
        start_fee: String,
        fee: String,
        owner_share: String,
        base_share: String,
        node_share: String,
        data_share: String,
        contribution_ids: Vec<u64>,
        contribution_amounts: Vec<String>,
        log_root: B256,
    }

    pub(super) fn serialize<S: serde::Serializer>(v: &Voucher, s: S) -> Result<S::Ok, S::Error> {
        VoucherJson {
            channel_id: v.channelId,
            period: v.period,
            inferences: v.inferences,
            start_fee: v.startFee.to_string(),
            fee: v.fee.to_string(),
            owner_share: v.ownerShare.to_string(),
            base_share: v.baseShare.to_string(),
            node_share: v.nodeShare.to_string(),
            data_share: v.dataShare.to_string(),
            contribution_ids: v.contributionIds.clone(),
            contribution_amounts: v
                .contributionAmounts
                .iter()
                .map(ToString::to_string)
                .collect(),
            log_root: v.logRoot,
        }
        .serialize(s)
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Voucher, D::Error> {
        let v = VoucherJson::deserialize(d)?;
        let amount = |text: &str, field: &str| {
            U256::from_str_radix(text, 10).map_err(|_| {
                serde::de::Error::custom(format!("`{field}` is not a decimal uint256: {text:?}"))
            })
        };
        Ok(Voucher {
            channelId: v.channel_id,
            period: v.period,
            inferences: v.inferences,
            startFee: amount(&v.start_fee, "startFee")?,
            fee: amount(&v.fee, "fee")?,
            ownerShare: amount(&v.owner_share, "ownerShare")?,
            baseShare: amount(&v.base_share, "baseShare")?,
            nodeShare: amount(&v.node_share, "nodeShare")?,
            dataShare: amount(&v.data_share, "dataShare")?,
            contributionIds: v.contribution_ids,
            contributionAmounts: v
                .contribution_amounts
                .iter()
                .map(|a| amount(a, "contributionAmounts"))
                .collect::<Result<_, _>>()?,
            logRoot: v.log_root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handed_period_round_trips_through_json_with_decimal_amounts() {
        let voucher = Voucher {
            channelId: 7,
            period: 2,
            inferences: 3,
            startFee: U256::from(10u64),
            fee: U256::MAX,
            ownerShare: U256::from(1u64),
            baseShare: U256::ZERO,
            nodeShare: U256::from(2u64),
            dataShare: U256::from(3u64),
            contributionIds: vec![4, 9],
            contributionAmounts: vec![U256::from(1u64), U256::from(2u64)],
            logRoot: B256::repeat_byte(0xab),
        };
        let handover = Handover {
            channel_id: 7,
            periods: vec![HandedPeriod {
                period: 2,
                voucher,
                signature: Bytes::from(vec![1u8; 65]),
                log_uri: "http://payer/v1/logs/0xab".to_owned(),
            }],
        };
        let json = serde_json::to_value(&handover).unwrap();
        assert_eq!(json["periods"][0]["voucher"]["fee"], U256::MAX.to_string());
        assert_eq!(json["periods"][0]["voucher"]["startFee"], "10");
        assert_eq!(json["periods"][0]["logUri"], "http://payer/v1/logs/0xab");
        assert!(
            json["periods"][0]["signature"]
                .as_str()
                .unwrap()
                .starts_with("0x01")
        );
        assert_eq!(serde_json::from_value::<Handover>(json).unwrap(), handover);
    }
}
