//! What `UsageChannels`' events mean for the tables: the channel's row, and for a settled voucher every
//! aggregate its period totals reach, as a batch of the period's receipts would have (the escrow's
//! `Credited` and `PoolAccrued` that follow it move balances and pools as for any batch).

use alloy::primitives::U256;

use crate::error::{IndexerError, Result};
use crate::projection::apply::{account, add, sub, totals, unknown};
use crate::projection::event::{RawEvent, SoilEvent};
use crate::projection::state::State;
use crate::store::batch::Batch;
use crate::store::entity::{Channel, Contribution, Datanet, Model};
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
        let (contributor, datanet) = state
            .modify::<Contribution, _>(&(id,), |c| {
                add(
                    &mut c.attributed_earnings,
                    *paid,
                    "contribution attributed earnings",
                )?;
                add(&mut c.earnings, *paid, "contribution earnings")?;
                Ok((c.contributor, c.datanet_id))
            })
            .await?
            .ok_or_else(|| unknown(ev, "contribution", contribution_id))?;
        account(state, contributor, |a| {
            add(&mut a.attributed_earnings, *paid, "attributed earnings")?;
            add(&mut a.earnings, *paid, "earnings")
        })
        .await?;
        state
            .modify::<Datanet, ()>(&(datanet,), |d| {
                add(
                    &mut d.attributed_revenue,
                    *paid,
                    "datanet attributed revenue",
                )?;
                add(&mut d.revenue, *paid, "datanet revenue")
            })
            .await?
            .ok_or_else(|| unknown(ev, "datanet", &datanet))?;
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
    state
        .modify::<Model, ()>(&(channel.model_id,), |m| {
            m.receipt_count += count;
            add(&mut m.revenue, amount, "model revenue")?;
            add(&mut m.owner_revenue, *owner_share, "model owner revenue")?;
            add(&mut m.base_revenue, *base_share, "model base revenue")?;
            add(&mut m.data_revenue, *data_share, "model data revenue")?;
            add(&mut m.node_revenue, *node_share, "model node revenue")?;
            add(&mut m.treasury_revenue, treasury, "model treasury revenue")?;
            add(
                &mut m.attributed_revenue,
                attributed,
                "model attributed revenue",
            )
        })
        .await?;
    account(state, channel.payer, |a| {
        a.receipts_paid += count;
        add(&mut a.spent, amount, "spent")
    })
    .await?;
    account(state, channel.node, |a| {
        a.is_node = true;
        a.receipts_served += count;
        add(&mut a.node_earnings, *node_share, "node earnings")
    })
    .await?;
    account(state, model.owner, |a| {
        add(&mut a.owner_earnings, *owner_share, "owner earnings")
    })
    .await?;
    if let Some(base_id) = model.base_model_id {
        let base_owner = state
            .modify::<Model, _>(&(base_id,), |m| {
                add(
                    &mut m.derivative_revenue,
                    *base_share,
                    "model derivative revenue",
                )?;
                Ok(m.owner)
            })
            .await?
            .ok_or_else(|| unknown(ev, "base model", &base_id))?;
        account(state, base_owner, |a| {
            add(&mut a.owner_earnings, *base_share, "owner earnings")?;
            add(
                &mut a.derivative_earnings,
                *base_share,
                "derivative earnings",
            )
        })
        .await?;
    }
    totals(state, |t| {
        t.receipt_count += count;
        add(&mut t.fees, amount, "total fees")?;
        add(&mut t.owner_revenue, *owner_share, "total owner revenue")?;
        add(&mut t.base_revenue, *base_share, "total base revenue")?;
        add(&mut t.data_revenue, *data_share, "total data revenue")?;
        add(&mut t.node_revenue, *node_share, "total node revenue")?;
        add(&mut t.treasury_revenue, treasury, "total treasury revenue")?;
        add(
            &mut t.attributed_revenue,
            attributed,
            "total attributed revenue",
        )
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
