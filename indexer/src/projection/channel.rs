//! What `UsageChannels`' events mean for the tables: the channel's row, and for a settled voucher every
//! aggregate its period totals reach, as a batch of the period's receipts would have (the escrow's
//! `Credited` and `PoolAccrued` that follow it move balances and pools as for any batch).

use alloy::primitives::U256;

use crate::error::{IndexerError, Result};
use crate::projection::apply::{account, add, sub, unknown};
use crate::projection::credit::{self, Revenue};
use crate::projection::event::{RawEvent, SoilEvent};
use crate::projection::state::State;
use crate::store::batch::Batch;
use crate::store::entity::{Channel, Model};
use crate::store::value::{Column, Val, chain_string, int};

/// A channel's `state`.
pub const OPEN: &str = "open";
/// A channel whose payer asked to close it.
pub const CLOSING: &str = "closing";
/// A closed channel.
pub const CLOSED: &str = "closed";

/// Applies one of `UsageChannels`' events (other events are left alone).
pub async fn apply(state: &mut State, batch: &mut Batch, ev: &RawEvent) -> Result<()> {
    let block = int("block number", ev.block_number)?;
    match &ev.event {
        SoilEvent::ChannelOpened {
            channel_id,
            payer,
            node,
            model_id,
            signer,
            deposit,
        } => {
            let row = Channel {
                payer: *payer,
                node: *node,
                model_id: int("model id", *model_id)?,
                signer: *signer,
                deposit: *deposit,
                settled_fee: U256::ZERO,
                period: 0,
                closes_at: 0,
                state: OPEN.to_owned(),
                refund: U256::ZERO,
                settlement_count: 0,
                opened_block: block,
                opened_tx: ev.tx_hash,
            };
            state
                .create::<Channel>((int("channel id", *channel_id)?,), row)
                .await?;
            account(state, *payer, |a| {
                a.is_payer = true;
                Ok(())
            })
            .await?;
        }
        SoilEvent::ChannelFunded {
            channel_id,
            deposit,
            ..
        } => {
            change(state, ev, *channel_id, |c| {
                c.deposit = *deposit;
                Ok(())
            })
            .await?;
        }
        SoilEvent::CloseRequested {
            channel_id,
            closes_at,
        } => {
            let closes_at = int("close time", *closes_at)?;
            change(state, ev, *channel_id, |c| {
                c.closes_at = closes_at;
                CLOSING.clone_into(&mut c.state);
                Ok(())
            })
            .await?;
        }
        SoilEvent::ChannelClosed {
            channel_id,
            settled_fee,
            refund,
        } => {
            change(state, ev, *channel_id, |c| {
                c.settled_fee = *settled_fee;
                c.refund = *refund;
                CLOSED.clone_into(&mut c.state);
                Ok(())
            })
            .await?;
        }
        SoilEvent::VoucherSettled { .. } => settle(state, batch, ev).await?,
        _ => {}
    }
    Ok(())
}

/// Changes channel `channel_id`, which must exist.
async fn change(
    state: &mut State,
    ev: &RawEvent,
    channel_id: u64,
    f: impl FnOnce(&mut Channel) -> Result<()>,
) -> Result<Channel> {
    state
        .modify::<Channel, Channel>(&(int("channel id", channel_id)?,), |c| {
            f(c)?;
            Ok(c.clone())
        })
        .await?
        .ok_or_else(|| unknown(ev, "channel", &channel_id))
}

/// `VoucherSettled`: the settlement and its contributions' amounts, the channel's new period, and the
/// period's totals in every figure a settled receipt reaches (tokens aside: a voucher does not carry
/// them).
async fn settle(state: &mut State, batch: &mut Batch, ev: &RawEvent) -> Result<()> {
    let SoilEvent::VoucherSettled {
        channel_id,
        digest,
        period,
        inferences,
        start_fee,
        fee,
        owner_share,
        base_share,
        node_share,
        data_share,
        contribution_ids,
        contribution_amounts,
        log_root,
        log_uri,
        log_uri_bytes,
    } = &ev.event
    else {
        return Ok(());
    };
    let block = int("block number", ev.block_number)?;
    let period_key = int("period", *period)?;
    let count = int("inferences", *inferences)?;
    let amount = fee
        .checked_sub(*start_fee)
        .ok_or(IndexerError::AmountOutOfRange("voucher fee"))?;
    let channel = change(state, ev, *channel_id, |c| {
        c.settled_fee = *fee;
        c.period = period_key + 1;
        c.settlement_count += 1;
        Ok(())
    })
    .await?;
    let model = state
        .get::<Model>(&(channel.model_id,))
        .await?
        .ok_or_else(|| unknown(ev, "model", &channel.model_id))?;
    let mut treasury = amount;
    for share in [owner_share, base_share, node_share, data_share] {
        sub(&mut treasury, *share, "voucher treasury share")?;
    }
    if contribution_ids.len() != contribution_amounts.len() {
        return Err(IndexerError::Decode {
            contract: "UsageChannels",
            block_number: ev.block_number,
            log_index: ev.log_index,
            reason: format!("voucher {digest}: contribution ids and amounts differ in length"),
        });
    }
    let mut attributed = U256::ZERO;
    for (position, (contribution_id, paid)) in contribution_ids
        .iter()
        .zip(contribution_amounts)
        .enumerate()
    {
        let id = int("contribution id", *contribution_id)?;
        // A voucher does not say how many of its inferences named the contribution: it counts none
        // (nor do its log's receipts when they join).
        let (contributor, datanet) = credit::attributed(state, ev, id, *paid, 0).await?;
        add(&mut attributed, *paid, "voucher attributed")?;
        batch.facts.voucher_contributions.push(vec![
            digest.to_val(),
            Val::Int(int("position", position as u64)?),
            Val::Int(id),
            contributor.to_val(),
            Val::Int(datanet),
            Val::Int(channel.model_id),
            paid.to_val(),
            Val::Int(block),
        ]);
    }
    let revenue = Revenue {
        model_id: channel.model_id,
        payer: channel.payer,
        node: channel.node,
        inferences: count,
        input_tokens: 0,
        output_tokens: 0,
        fee: amount,
        owner_amount: *owner_share,
        base_amount: *base_share,
        data_amount: *data_share,
        node_amount: *node_share,
        treasury_amount: treasury,
        attributed_amount: attributed,
    };
    // Paid out of the channel's deposit, not the payer's escrow deposit.
    credit::revenue(state, ev, &model, &revenue, |a| {
        a.receipts_paid += count;
        add(&mut a.spent, amount, "spent")
    })
    .await?;
    let (uri_text, uri_bytes) = chain_string(log_uri, log_uri_bytes.as_ref());
    batch.facts.voucher_settlements.push(vec![
        digest.to_val(),
        Val::Int(int("channel id", *channel_id)?),
        Val::Int(period_key),
        Val::Int(count),
        start_fee.to_val(),
        fee.to_val(),
        amount.to_val(),
        owner_share.to_val(),
        base_share.to_val(),
        node_share.to_val(),
        data_share.to_val(),
        log_root.to_val(),
        Val::Text(uri_text),
        uri_bytes.map_or(Val::NullText, Val::Text),
        Val::Int(block),
        ev.block_timestamp
            .map(|t| int("timestamp", t))
            .transpose()?
            .to_val(),
        ev.tx_hash.to_val(),
        Val::Int(int("log index", ev.log_index)?),
    ]);
    Ok(())
}
