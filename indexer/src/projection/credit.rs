//! Where settled money goes in the aggregates, the same for a receipt settled alone ([`apply`]) and for
//! a channel's period settled by one voucher ([`channel`]): a contribution's attributed amount, and
//! the split of the fee among the model, its node, its owners and the network's totals.
//!
//! [`apply`]: crate::projection::apply
//! [`channel`]: crate::projection::channel

use alloy::primitives::{Address, U256};

use crate::error::Result;
use crate::projection::apply::{account, add, totals, unknown};
use crate::projection::event::RawEvent;
use crate::projection::state::State;
use crate::store::entity::{Account, Contribution, Datanet, Model};

/// Credits `amount`, attributed to contribution `id`, to the contribution's earnings, its
/// contributor's and its datanet's revenue, and counts `inferences` more inferences attributed to the
/// contribution. Its contributor and datanet.
pub(super) async fn attributed(
    state: &mut State,
    ev: &RawEvent,
    id: i64,
    amount: U256,
    inferences: i64,
) -> Result<(Address, i64)> {
    let (contributor, datanet) = state
        .modify::<Contribution, _>(&(id,), |c| {
            c.attribution_count += inferences;
            add(
                &mut c.attributed_earnings,
                amount,
                "contribution attributed earnings",
            )?;
            add(&mut c.earnings, amount, "contribution earnings")?;
            Ok((c.contributor, c.datanet_id))
        })
        .await?
        .ok_or_else(|| unknown(ev, "contribution", &id))?;
    account(state, contributor, |a| {
        add(&mut a.attributed_earnings, amount, "attributed earnings")?;
        add(&mut a.earnings, amount, "earnings")
    })
    .await?;
    state
        .modify::<Datanet, ()>(&(datanet,), |d| {
            add(
                &mut d.attributed_revenue,
                amount,
                "datanet attributed revenue",
            )?;
            add(&mut d.revenue, amount, "datanet revenue")
        })
        .await?
        .ok_or_else(|| unknown(ev, "datanet", &datanet))?;
    Ok((contributor, datanet))
}

/// A settled fee (one receipt's, or a channel period's): who paid whom for which model, for how many
/// inferences, and how it split.
#[derive(Debug, Clone, Copy)]
pub(super) struct Revenue {
    /// The model.
    pub(super) model_id: i64,
    /// Who paid.
    pub(super) payer: Address,
    /// Who served.
    pub(super) node: Address,
    /// Inferences it paid for.
    pub(super) inferences: i64,
    /// Their input tokens (none known for a voucher).
    pub(super) input_tokens: i64,
    /// Their output tokens (none known for a voucher).
    pub(super) output_tokens: i64,
    /// The fee.
    pub(super) fee: U256,
    /// To the model's owner, net of `base_amount`.
    pub(super) owner_amount: U256,
    /// To an adapter's base model's owner.
    pub(super) base_amount: U256,
    /// To the data.
    pub(super) data_amount: U256,
    /// To the node.
    pub(super) node_amount: U256,
    /// To the treasury.
    pub(super) treasury_amount: U256,
    /// The part of `data_amount` attributed to contributions.
    pub(super) attributed_amount: U256,
}

/// Credits `r` to its model (`model` is its row before), the payer (through `pay`, given the payer's
/// account), the node, the model's owner, an adapter's base model and its owner, and the network's
/// totals.
pub(super) async fn revenue(
    state: &mut State,
    ev: &RawEvent,
    model: &Model,
    r: &Revenue,
    pay: impl FnOnce(&mut Account) -> Result<()>,
) -> Result<()> {
    state
        .modify::<Model, ()>(&(r.model_id,), |m| {
            m.receipt_count += r.inferences;
            m.input_tokens += r.input_tokens;
            m.output_tokens += r.output_tokens;
            add(&mut m.revenue, r.fee, "model revenue")?;
            add(&mut m.owner_revenue, r.owner_amount, "model owner revenue")?;
            add(&mut m.base_revenue, r.base_amount, "model base revenue")?;
            add(&mut m.data_revenue, r.data_amount, "model data revenue")?;
            add(&mut m.node_revenue, r.node_amount, "model node revenue")?;
            add(
                &mut m.treasury_revenue,
                r.treasury_amount,
                "model treasury revenue",
            )?;
            add(
                &mut m.attributed_revenue,
                r.attributed_amount,
                "model attributed revenue",
            )
        })
        .await?;
    account(state, r.payer, pay).await?;
    account(state, r.node, |a| {
        a.is_node = true;
        a.receipts_served += r.inferences;
        add(&mut a.node_earnings, r.node_amount, "node earnings")
    })
    .await?;
    account(state, model.owner, |a| {
        add(&mut a.owner_earnings, r.owner_amount, "owner earnings")
    })
    .await?;
    if let Some(base_id) = model.base_model_id {
        let base_owner = state
            .modify::<Model, _>(&(base_id,), |m| {
                add(
                    &mut m.derivative_revenue,
                    r.base_amount,
                    "model derivative revenue",
                )?;
                Ok(m.owner)
            })
            .await?
            .ok_or_else(|| unknown(ev, "base model", &base_id))?;
        account(state, base_owner, |a| {
            add(&mut a.owner_earnings, r.base_amount, "owner earnings")?;
            add(
                &mut a.derivative_earnings,
                r.base_amount,
                "derivative earnings",
            )
        })
        .await?;
    }
    totals(state, |t| {
        t.receipt_count += r.inferences;
        t.input_tokens += r.input_tokens;
        t.output_tokens += r.output_tokens;
        add(&mut t.fees, r.fee, "total fees")?;
        add(&mut t.owner_revenue, r.owner_amount, "total owner revenue")?;
        add(&mut t.base_revenue, r.base_amount, "total base revenue")?;
        add(&mut t.data_revenue, r.data_amount, "total data revenue")?;
        add(&mut t.node_revenue, r.node_amount, "total node revenue")?;
        add(
            &mut t.treasury_revenue,
            r.treasury_amount,
            "total treasury revenue",
        )?;
        add(
            &mut t.attributed_revenue,
            r.attributed_amount,
            "total attributed revenue",
        )
    })
    .await
}
