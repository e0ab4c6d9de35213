//! Settling a channel, following the period cut (docs/PROTOCOL.md, "Periods"): the open period's latest
//! voucher is chosen and the next period opened at its fee (one outbox transaction), then the chosen voucher
//! is sent. Its period goes in flight with the hash of the signed transaction before it is broadcast, and
//! is settled once the chain's period moved past it. [`reconcile`] compares the outbox with the chain's
//! `period` and `settledFee` after a crash: a cut voucher that already settled is marked so and never sent
//! again; one that did not is sent again; an outbox behind the chain is refused.

use std::time::Duration;

use alloy::primitives::{B256, U256};
use serde::Serialize;
use soil_bindings::channel::Channel;

use crate::{
    chain::{Chain, TxStatus},
    error::{ClientError, Result},
    outbox::{FailPoint, Outbox, PeriodRecord, PeriodState},
};

/// When a server settles a channel on its own.
#[derive(Debug, Clone, Copy)]
pub struct SettlePolicy {
    /// Settle once the open period owes at least this much.
    pub value: U256,
    /// Settle once the open period's first inference is this old.
    pub after: Duration,
}

impl SettlePolicy {
    /// Whether the open period must be settled now (`now` in unix seconds): its value or age passed the
    /// thresholds, or the payer asked to close (the node may settle only until `closesAt`).
    pub fn is_due(&self, open: &PeriodRecord, channel: &Channel, now: i64) -> bool {
        if open.voucher.is_none() {
            return false;
        }
        let age = open
            .first_at
            .map_or(0, |first| u64::try_from(now - first).unwrap_or(0));
        channel.closesAt != 0 || open.unsettled() >= self.value || age >= self.after.as_secs()
    }
}

/// What one settlement round of a channel did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelSettleReport {
    /// The period cut in this round, if any.
    pub cut: Option<u32>,
    /// Periods settled by this round's transactions.
    pub settled: Vec<u32>,
    /// Periods found settled on chain (a transaction sent before a crash).
    pub already_settled: Vec<u32>,
    /// The fee settled by this round's transactions.
    pub settled_fee: String,
    /// Settle transactions sent.
    pub transactions: Vec<B256>,
}

fn stale(channel_id: u64, reason: String) -> ClientError {
    ClientError::StaleChannel { channel_id, reason }
}

/// Brings the outbox's periods of `channel_id` in line with the chain's `channel`: cut periods the chain
/// moved past are settled; in-flight periods whose transaction did not land are cut again (to be sent);
/// an open period the chain already moved past (a voucher this outbox does not hold was settled) is an
/// error. Returns the periods found settled.
pub async fn reconcile(
    chain: &Chain,
    outbox: &Outbox,
    channel_id: u64,
    channel: &Channel,
) -> Result<Vec<u32>> {
    let settled_fee = U256::from(channel.settledFee);
    let mut found = Vec::new();
    for period in outbox.periods(channel_id).await? {
        match period.state {
            PeriodState::Settled => {}
            PeriodState::Cut | PeriodState::InFlight if channel.period > period.period => {
                if period.promised() > settled_fee {
                    return Err(stale(
                        channel_id,
                        format!(
                            "period {} is past on chain, which settled fee {settled_fee}, below its voucher's {}",
                            period.period,
                            period.promised()
                        ),
                    ));
                }
                outbox
                    .mark_period_settled(channel_id, period.period, None)
                    .await?;
                found.push(period.period);
            }
            PeriodState::InFlight => {
                let status = match period.tx_hash {
                    Some(tx) => chain.tx_status(tx).await?,
                    None => TxStatus::Unknown,
                };
                if !matches!(status, TxStatus::Pending) {
                    outbox
                        .back_to_cut(
                            channel_id,
                            period.period,
                            "settlement did not reach the chain",
                        )
                        .await?;
                }
            }
            PeriodState::Cut => {}
            PeriodState::Open => {
                if period.period < channel.period {
                    return Err(stale(
                        channel_id,
                        format!(
                            "the chain is at period {} (settled fee {settled_fee}) but the outbox's open period is \
                             {} (its latest voucher promises {}): a voucher this outbox did not choose was \
                             settled — is it a restored backup, or does another process sign for this channel?",
                            channel.period,
                            period.period,
                            period.promised()
                        ),
                    ));
                }
                if period.period == channel.period && period.start_fee != settled_fee {
                    return Err(stale(
                        channel_id,
                        format!(
                            "period {} starts at fee {} in the outbox but at {settled_fee} on chain",
                            period.period, period.start_fee
                        ),
                    ));
                }
            }
        }
    }
    Ok(found)
}

/// How a settlement round runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct SettleRound {
    /// Cut the open period first (when it has an inference).
    pub cut: bool,
    /// Blocks on top of a settlement before its period counts as settled.
    pub confirmations: u64,
    /// Where to abort, for crash tests.
    pub fail_point: Option<FailPoint>,
}

/// One settlement round of `channel_id`: reconciles, cuts the open period when `round.cut`, and sends
/// every cut period's voucher in order (`logURI` = the channel's log base + `/0x<logRoot>`). Only the
/// channel's node may settle.
pub async fn settle_channel(
    chain: &Chain,
    outbox: &Outbox,
    channel_id: u64,
    round: SettleRound,
) -> Result<ChannelSettleReport> {
    let channel = chain.channel(channel_id).await?;
    let mut report = ChannelSettleReport {
        already_settled: reconcile(chain, outbox, channel_id, &channel).await?,
        ..ChannelSettleReport::default()
    };
    let not_node = || ClientError::UnusableChannel {
        channel_id,
        reason: format!(
            "only its node {} settles it, not this wallet ({})",
            channel.node,
            chain.account()
        ),
    };
    if round.cut {
        if channel.node != chain.account() {
            return Err(not_node());
        }
        report.cut = cut_open_period(outbox, channel_id).await?;
    }
    let record = outbox
        .channel(channel_id)
        .await?
        .ok_or(ClientError::UnknownChannel(channel_id))?;
    let mut settled_fee = U256::ZERO;
    for period in outbox.periods(channel_id).await? {
        if period.state != PeriodState::Cut {
            continue;
        }
        if channel.node != chain.account() {
            return Err(not_node());
        }
        let Some((voucher, signature)) = &period.voucher else {
            continue;
        };
        let log_uri = log_uri(&record.log_base, voucher.logRoot);
        let envelope = match chain
            .prepare_voucher_settlement(voucher, signature, &log_uri)
            .await?
        {
            Ok(envelope) => envelope,
            Err(revert) => {
                // Settled meanwhile by another sender (the node holding a handed-over voucher): the chain
                // moved past the period, which is then settled here too and not sent again.
                if chain.channel(channel_id).await?.period > period.period {
                    outbox
                        .mark_period_settled(channel_id, period.period, None)
                        .await?;
                    report.already_settled.push(period.period);
                    continue;
                }
                return Err(ClientError::Reverted {
                    action: format!("settling period {} of channel {channel_id}", period.period),
                    reason: revert.reason,
                });
            }
        };
        let hash = *envelope.tx_hash();
        outbox
            .mark_period_in_flight(channel_id, period.period, hash)
            .await?;
        if round.fail_point == Some(FailPoint::AfterSign) {
            std::process::abort();
        }
        chain.broadcast_voucher_settlement(envelope).await?;
        report.transactions.push(hash);
        if round.fail_point == Some(FailPoint::AfterSend) {
            std::process::abort();
        }
        if wait_final(chain, hash, round.confirmations).await? {
            outbox
                .mark_period_settled(channel_id, period.period, Some(hash))
                .await?;
            report.settled.push(period.period);
            settled_fee += period.unsettled();
            ::metrics::counter!("soil_channel_vouchers_settled_total").increment(1);
        } else {
            outbox
                .back_to_cut(channel_id, period.period, "settlement transaction reverted")
                .await?;
            return Err(ClientError::TransactionFailed {
                action: format!("settling period {} of channel {channel_id}", period.period),
                tx: hash,
            });
        }
    }
    report.settled_fee = settled_fee.to_string();
    Ok(report)
}

/// Cuts the channel's open period when it has an inference: its latest voucher is chosen to settle and
/// the next period opened at its fee, in one outbox transaction. Returns the period cut.
pub(crate) async fn cut_open_period(outbox: &Outbox, channel_id: u64) -> Result<Option<u32>> {
    let open = outbox.open_period(channel_id).await?;
    if !outbox.cut(channel_id, open.period).await? {
        return Ok(None);
    }
    tracing::info!(channel = channel_id, period = open.period, fee = %open.promised(), "period cut");
    Ok(Some(open.period))
}

/// Where a period's receipts log is published: `<log base>/0x<logRoot>` ("" when the channel's logs are
/// published nowhere).
pub(crate) fn log_uri(log_base: &str, root: B256) -> String {
    if log_base.is_empty() {
        String::new()
    } else {
        format!("{}/{root}", log_base.trim_end_matches('/'))
    }
}

/// Waits until `tx` is mined with `confirmations` blocks on top: true when it succeeded, false when it
/// reverted. A transaction still pending after two minutes is left in flight (an error; the next round
/// reconciles it).
pub(crate) async fn wait_final(chain: &Chain, tx: B256, confirmations: u64) -> Result<bool> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match chain.tx_status(tx).await? {
            TxStatus::Succeeded(block) => {
                let (head, _) = chain.head().await?;
                if head >= block + confirmations {
                    return Ok(true);
                }
            }
            TxStatus::Failed(_) => return Ok(false),
            TxStatus::Pending | TxStatus::Unknown => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ClientError::Rpc {
                action: format!("waiting for channel settlement {tx}"),
                reason: "not final after 120 s; the next round reconciles it".to_owned(),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{Address, Bytes};
    use soil_bindings::channel::Voucher;

    use super::*;

    fn open_period(unsettled: u64, first_at: i64) -> PeriodRecord {
        PeriodRecord {
            channel_id: 1,
            period: 2,
            start_fee: U256::from(100u64),
            voucher: Some((
                Voucher {
                    channelId: 1,
                    period: 2,
                    inferences: 1,
                    startFee: U256::from(100u64),
                    fee: U256::from(100 + unsettled),
                    ownerShare: U256::ZERO,
                    baseShare: U256::ZERO,
                    nodeShare: U256::ZERO,
                    dataShare: U256::ZERO,
                    contributionIds: Vec::new(),
                    contributionAmounts: Vec::new(),
                    logRoot: B256::ZERO,
                },
                Bytes::new(),
            )),
            state: PeriodState::Open,
            tx_hash: None,
            first_at: Some(first_at),
        }
    }

    fn channel(closes_at: u64) -> Channel {
        Channel {
            payer: Address::repeat_byte(1),
            modelId: 1,
            period: 2,
            node: Address::repeat_byte(2),
            closesAt: closes_at,
            open: true,
            signer: Address::repeat_byte(1),
            deposit: 1_000,
            settledFee: 100,
        }
    }

    #[test]
    fn a_period_is_due_by_value_age_or_a_close_asked_for() {
        let policy = SettlePolicy {
            value: U256::from(50u64),
            after: Duration::from_secs(60),
        };
        assert!(!policy.is_due(&open_period(49, 1_000), &channel(0), 1_059));
        assert!(policy.is_due(&open_period(50, 1_000), &channel(0), 1_001));
        assert!(policy.is_due(&open_period(1, 1_000), &channel(0), 1_060));
        assert!(policy.is_due(&open_period(1, 1_000), &channel(5_000), 1_001));
        let empty = PeriodRecord {
            voucher: None,
            ..open_period(0, 1_000)
        };
        assert!(!policy.is_due(&empty, &channel(5_000), 9_999));
    }
}
