//! One channel a session pays through.

use std::sync::{Arc, Mutex, PoisonError};

use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use soil_bindings::{
    Attribution,
    channel::{Channel, ChannelDomain, LogEntry, PeriodTotals, SplitTerms, Voucher},
    merkle,
    receipt::UsageReceipt,
};

use crate::{
    chain::Chain,
    error::{ChannelShortfall, ClientError, Result},
    outbox::{Outbox, PeriodRecord, SignedInference},
    receipt::{ReceiptTerms, Usage, usage_receipt},
};

/// How an inference was paid through a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelPayment {
    /// The channel.
    pub channel_id: u64,
    /// The period its voucher belongs to.
    pub period: u32,
    /// The cumulative fee the new voucher promises.
    pub cumulative_fee: U256,
    /// The receipt's leaf in the period's log.
    pub leaf: B256,
}

/// One finished inference to pay through a channel.
#[derive(Debug, Clone)]
pub struct Inference<'a> {
    /// What was used.
    pub usage: Usage<'a>,
    /// The model's price per 1,000 tokens in force now.
    pub price_per_kilo_token: U256,
    /// The attribution protocol version.
    pub attribution_version: u16,
    /// The output's attribution.
    pub attribution: Attribution,
}

/// A channel this wallet signs vouchers for, paying `node` for `model_id`.
#[derive(Debug)]
pub struct ChannelBook {
    channel_id: u64,
    model_id: u64,
    node: Address,
    terms: SplitTerms,
    domain: ChannelDomain,
    /// One admission or inference written at a time by this process (other processes are caught by the
    /// outbox's check).
    writing: tokio::sync::Mutex<()>,
    /// The largest fees of the requests admitted and not yet recorded.
    held: Arc<Mutex<U256>>,
}

/// A request's largest fee, held against its channel's deposit from its admission until its inference is
/// recorded (the voucher then promises its actual fee) or it ends without one (dropped).
#[derive(Debug)]
pub struct Reservation {
    held: Arc<Mutex<U256>>,
    amount: U256,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        *held = held.saturating_sub(self.amount);
    }
}

/// Why `channel` takes no new inferences: it is closed, or its payer asked to close it.
fn not_taking_inferences(channel: &Channel) -> Option<String> {
    if !channel.open {
        return Some("it is closed".to_owned());
    }
    if channel.closesAt != 0 {
        return Some(format!(
            "its payer asked to close it (it closes at {}); it takes no new inferences",
            channel.closesAt
        ));
    }
    None
}

/// Why `channel` cannot carry `signer`'s vouchers to `node` for `model_id` (`None` for any model).
fn unusable(
    channel: &Channel,
    signer: Address,
    node: Address,
    model_id: Option<u64>,
) -> Option<String> {
    if let Some(reason) = not_taking_inferences(channel) {
        return Some(reason);
    }
    if channel.signer != signer {
        return Some(format!(
            "its vouchers are signed by {}, not by this wallet ({signer})",
            channel.signer
        ));
    }
    if channel.node != node {
        return Some(format!("it pays node {}, not {node}", channel.node));
    }
    match model_id {
        Some(model) if model != channel.modelId => Some(format!(
            "it pays for model {}, not {model}",
            channel.modelId
        )),
        _ => None,
    }
}

/// The totals a period's latest voucher commits to (empty before its first inference).
pub(crate) fn totals_of(period: &PeriodRecord) -> PeriodTotals {
    let Some((voucher, _)) = &period.voucher else {
        return PeriodTotals::default();
    };
    totals_of_voucher(voucher)
}

fn totals_of_voucher(v: &Voucher) -> PeriodTotals {
    PeriodTotals {
        inferences: v.inferences,
        fee: v.fee - v.startFee,
        owner: v.ownerShare,
        base: v.baseShare,
        node: v.nodeShare,
        data: v.dataShare,
        contributions: v
            .contributionIds
            .iter()
            .copied()
            .zip(v.contributionAmounts.iter().copied())
            .collect(),
    }
}

impl ChannelBook {
    /// Opens channel `channel_id` for `signer`'s payments to `node` (for `model_id`, or the channel's model
    /// when `None`): checks it on chain, starts keeping it in the outbox (a channel new to the outbox must
    /// not have settled anything yet), and reconciles the outbox with the chain.
    pub async fn open(
        chain: &Chain,
        outbox: &Outbox,
        channel_id: u64,
        signer: Address,
        node: Address,
        model_id: Option<u64>,
        log_base: &str,
    ) -> Result<Self> {
        let channel = chain.channel(channel_id).await?;
        if let Some(reason) = unusable(&channel, signer, node, model_id) {
            return Err(ClientError::UnusableChannel { channel_id, reason });
        }
        if outbox.channel(channel_id).await?.is_none() && channel.period != 0 {
            return Err(ClientError::StaleChannel {
                channel_id,
                reason: format!(
                    "it settled {} period(s) up to fee {} with vouchers this outbox never signed",
                    channel.period, channel.settledFee
                ),
            });
        }
        outbox
            .track_channel(
                channel_id,
                channel.modelId,
                channel.period,
                U256::from(channel.settledFee),
                log_base,
            )
            .await?;
        super::reconcile(chain, outbox, channel_id, &channel).await?;
        Ok(Self {
            channel_id,
            model_id: channel.modelId,
            node,
            terms: chain.split_terms(channel.modelId).await?,
            domain: chain.channel_domain(),
            writing: tokio::sync::Mutex::new(()),
            held: Arc::default(),
        })
    }

    /// The channel.
    pub fn channel_id(&self) -> u64 {
        self.channel_id
    }

    /// Its model.
    pub fn model_id(&self) -> u64 {
        self.model_id
    }

    /// Admits a request whose largest fee is `needed`, holding that fee against the channel until the
    /// returned reservation is recorded or dropped. Refuses work the channel cannot pay for: its deposit,
    /// less what its vouchers already promise and what the requests under way hold, must cover `needed`;
    /// and a closing channel takes no new inferences. Concurrent requests therefore never overrun the
    /// deposit after their work is done.
    pub async fn reserve(
        &self,
        chain: &Chain,
        outbox: &Outbox,
        needed: U256,
    ) -> Result<Reservation> {
        let _writing = self.writing.lock().await;
        let (channel, open) = tokio::try_join!(
            chain.channel(self.channel_id),
            outbox.open_period(self.channel_id)
        )?;
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        self.ensure_fits(&channel, open.promised(), *held, needed)?;
        *held += needed;
        Ok(Reservation {
            held: Arc::clone(&self.held),
            amount: needed,
        })
    }

    fn ensure_fits(
        &self,
        channel: &Channel,
        promised: U256,
        held: U256,
        needed: U256,
    ) -> Result<()> {
        if let Some(reason) = not_taking_inferences(channel) {
            return Err(ClientError::UnusableChannel {
                channel_id: self.channel_id,
                reason,
            });
        }
        let shortfall = ChannelShortfall {
            channel_id: self.channel_id,
            needed,
            deposit: U256::from(channel.deposit),
            promised,
            held,
        };
        if shortfall.missing() > U256::ZERO {
            return Err(ClientError::ChannelDepositShort(Box::new(shortfall)));
        }
        Ok(())
    }

    /// Records one inference: its receipt (the channel's payer, model and node, the next nonce, deadline 0,
    /// the fee of its tokens at the price in force) joins the open period's log and the period's next
    /// voucher is signed, both written in one outbox transaction; the request's `reservation` is given
    /// back in the same step, its place taken by the fee the voucher now promises. Returns the payment and
    /// the receipt.
    pub async fn record(
        &self,
        chain: &Chain,
        outbox: &Outbox,
        signer: &PrivateKeySigner,
        reservation: Option<Reservation>,
        inference: Inference<'_>,
    ) -> Result<(ChannelPayment, UsageReceipt)> {
        let Inference {
            usage,
            price_per_kilo_token,
            attribution_version,
            attribution,
        } = inference;
        let _writing = self.writing.lock().await;
        let channel = chain.channel(self.channel_id).await?;
        let terms = ReceiptTerms {
            model_id: self.model_id,
            node: self.node,
            prices: crate::receipt::PriceSchedule::fixed(price_per_kilo_token),
            deadline: 0,
        };
        loop {
            let record = outbox
                .channel(self.channel_id)
                .await?
                .ok_or(ClientError::UnknownChannel(self.channel_id))?;
            let open = outbox.open_period(self.channel_id).await?;
            let receipt = usage_receipt(
                channel.payer,
                &terms,
                price_per_kilo_token,
                U256::from(record.inferences + 1),
                &usage,
                attribution_version,
                &attribution,
            )?;
            let fee = receipt.fee;
            // Within the deposit with the other requests' holds: this request's own hold covered it.
            self.ensure_fits(&channel, open.promised(), U256::ZERO, fee)?;
            let entry = LogEntry {
                receipt,
                attribution: attribution.clone(),
            };
            let leaf = entry.leaf(self.channel_id);
            let mut leaves = outbox.leaves(self.channel_id, open.period).await?;
            let position = u32::try_from(leaves.len()).map_err(|_| ClientError::OutOfRange {
                what: "inferences in one period",
                value: leaves.len().to_string(),
            })?;
            leaves.push(leaf);
            let mut totals = totals_of(&open);
            totals.add(&self.terms, fee, &attribution);
            let voucher = totals.voucher(
                self.channel_id,
                open.period,
                open.start_fee,
                merkle::root(leaves),
            );
            let signature = self.domain.sign(&voucher, signer).await?;
            let cumulative_fee = voucher.fee;
            let receipt = entry.receipt.clone();
            let signed = SignedInference {
                period: open.period,
                position,
                entry,
                leaf,
                voucher,
                signature,
            };
            if outbox
                .append_inference(self.channel_id, record.inferences, &signed)
                .await?
            {
                let payment = ChannelPayment {
                    channel_id: self.channel_id,
                    period: open.period,
                    cumulative_fee,
                    leaf,
                };
                // Given back while no admission can read the channel: the fee is promised now.
                drop(reservation);
                return Ok((payment, receipt));
            }
            tracing::debug!(
                channel = self.channel_id,
                "the channel changed while an inference was signed; signing again"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voucher_gives_back_its_totals() {
        let terms = SplitTerms {
            owner_bps: 3000,
            base_share_bps: 500,
            node_bps: 1500,
            data_bps: 5000,
        };
        let mut totals = PeriodTotals::default();
        let attribution = Attribution::new(vec![(4, 600_000), (9, 1)]).unwrap();
        totals.add(&terms, U256::from(12_345u64), &attribution);
        totals.add(
            &terms,
            U256::from(777u64),
            &Attribution::new(vec![]).unwrap(),
        );
        let voucher = totals.voucher(3, 1, U256::from(50u64), B256::repeat_byte(2));
        assert_eq!(totals_of_voucher(&voucher), totals);
    }
}
