//! Applies one event to the projections and aggregates: the only place that knows what each event
//! means for the tables.

use alloy::primitives::{Address, U256};

use crate::error::{IndexerError, Result};
use crate::projection::channel;
use crate::projection::credit::{self, Revenue};
use crate::projection::event::{Contract, RawEvent, SoilEvent};
use crate::projection::split::{BPS, split_fee};
use crate::projection::state::State;
use crate::store::batch::Batch;
use crate::store::entity::{
    Account, Contribution, Curator, Datanet, Model, Parameter, Release, Totals,
};
use crate::store::fact::{AttributionEdge, Receipt};
use crate::store::value::{Column, Val, chain_string, hex0x, int};

/// `a += b`, failing loudly on overflow.
pub(super) fn add(a: &mut U256, b: U256, what: &'static str) -> Result<()> {
    *a = a
        .checked_add(b)
        .ok_or(IndexerError::AmountOutOfRange(what))?;
    Ok(())
}

/// `a -= b`, failing loudly if it would go negative (the projection disagrees with the contract).
pub(super) fn sub(a: &mut U256, b: U256, what: &'static str) -> Result<()> {
    *a = a
        .checked_sub(b)
        .ok_or(IndexerError::AmountOutOfRange(what))?;
    Ok(())
}

/// The fixed position columns of a fact row: block number, log index, transaction.
fn at(ev: &RawEvent) -> Result<Vec<Val>> {
    Ok(vec![
        Val::Int(int("block number", ev.block_number)?),
        Val::Int(int("log index", ev.log_index)?),
        ev.tx_hash.to_val(),
    ])
}

fn with(mut head: Vec<Val>, rest: impl IntoIterator<Item = Val>) -> Vec<Val> {
    head.extend(rest);
    head
}

pub(super) fn unknown(
    ev: &RawEvent,
    entity: &'static str,
    id: &dyn std::fmt::Display,
) -> IndexerError {
    IndexerError::UnknownEntity {
        event: ev.event.name(),
        block_number: ev.block_number,
        entity,
        id: id.to_string(),
    }
}

pub(super) async fn account<R>(
    state: &mut State,
    address: Address,
    change: impl FnOnce(&mut Account) -> Result<R>,
) -> Result<R> {
    let block = int("block number", state.block())?;
    state
        .upsert::<Account, R>((address,), || Account::new(block), change)
        .await
}

pub(super) async fn totals(
    state: &mut State,
    change: impl FnOnce(&mut Totals) -> Result<()>,
) -> Result<()> {
    state
        .upsert::<Totals, ()>((1,), Totals::default, change)
        .await
}

async fn parameter(state: &mut State, contract: Contract, name: &str, value: String) -> Result<()> {
    let block = int("block number", state.block())?;
    let row = Parameter {
        value,
        updated_block: block,
    };
    state
        .upsert::<Parameter, ()>(
            (contract.name().to_owned(), name.to_owned()),
            || row.clone(),
            |p| {
                *p = row.clone();
                Ok(())
            },
        )
        .await
}

/// Adds `ev` to the batch's `raw_events` rows as `chain_id`'s.
pub fn record(batch: &mut Batch, chain_id: u64, ev: &RawEvent) -> Result<()> {
    let data = serde_json::to_string(&ev.event).map_err(|e| IndexerError::CorruptRow {
        table: "raw_events",
        reason: e.to_string(),
    })?;
    batch.raw_events.push(vec![
        Val::Int(int("chain id", chain_id)?),
        Val::Int(int("block number", ev.block_number)?),
        ev.block_hash.to_val(),
        ev.block_timestamp
            .map(|t| int("timestamp", t))
            .transpose()?
            .to_val(),
        ev.tx_hash.to_val(),
        Val::Int(int("transaction index", ev.tx_index)?),
        Val::Int(int("log index", ev.log_index)?),
        Val::Text(ev.contract.name().to_owned()),
        ev.address.to_val(),
        Val::Text(ev.event.name().to_owned()),
        Val::Text(data),
    ]);
    Ok(())
}

/// A stake back with its contributor (`StakeReturned`, or `ContributionWithdrawn` with its new `status`):
/// the contribution marks it returned, the account counts it, and a `stake_returns` fact records it.
async fn return_stake(
    state: &mut State,
    batch: &mut Batch,
    ev: &RawEvent,
    contribution_id: u64,
    contributor: Address,
    amount: U256,
    status: Option<&str>,
) -> Result<()> {
    let id = int("contribution id", contribution_id)?;
    state
        .modify::<Contribution, ()>(&(id,), |c| {
            if let Some(status) = status {
                status.clone_into(&mut c.status);
            }
            c.stake_returned = true;
            Ok(())
        })
        .await?
        .ok_or_else(|| unknown(ev, "contribution", &contribution_id))?;
    account(state, contributor, |a| {
        add(&mut a.stake_returned, amount, "stake returned")
    })
    .await?;
    batch.facts.stake_returns.push(with(
        at(ev)?,
        [Val::Int(id), contributor.to_val(), amount.to_val()],
    ));
    Ok(())
}

/// Applies `ev` to the projections and aggregates held by `state`, adding fact rows to `batch`.
/// The caller has called [`State::begin_block`] for the event's block.
pub async fn apply(state: &mut State, batch: &mut Batch, ev: &RawEvent) -> Result<()> {
    batch.event_count += 1;
    totals(state, |t| {
        t.event_count += 1;
        Ok(())
    })
    .await?;
    let block = int("block number", ev.block_number)?;
    match &ev.event {
        SoilEvent::DatanetCreated {
            datanet_id,
            owner,
            min_stake,
            review_window,
            max_contribution_tokens,
            metadata_uri,
            metadata_uri_bytes,
        } => {
            let id = int("datanet id", *datanet_id)?;
            let (metadata_uri, metadata_uri_bytes) =
                chain_string(metadata_uri, metadata_uri_bytes.as_ref());
            let row = Datanet {
                owner: *owner,
                min_stake: *min_stake,
                metadata_uri,
                metadata_uri_bytes,
                review_window: int("review window", *review_window)?,
                max_contribution_tokens: int("max contribution tokens", *max_contribution_tokens)?,
                created_block: block,
                created_tx: ev.tx_hash,
                curator_count: 0,
                contribution_count: 0,
                accepted_count: 0,
                rejected_count: 0,
                accepted_tokens: 0,
                slashed: U256::ZERO,
                release_count: 0,
                attributed_revenue: U256::ZERO,
                pool_revenue: U256::ZERO,
                revenue: U256::ZERO,
            };
            state.create::<Datanet>((id,), row).await?;
            account(state, *owner, |a| {
                a.is_datanet_owner = true;
                Ok(())
            })
            .await?;
            totals(state, |t| {
                t.datanet_count += 1;
                Ok(())
            })
            .await?;
        }
        SoilEvent::CuratorSet {
            datanet_id,
            curator,
            enabled,
        } => {
            let id = int("datanet id", *datanet_id)?;
            let was = state
                .upsert::<Curator, bool>(
                    (id, *curator),
                    || Curator {
                        enabled: false,
                        accepted_reviews: 0,
                        rejected_reviews: 0,
                        updated_block: block,
                    },
                    |c| {
                        let was = c.enabled;
                        c.enabled = *enabled;
                        c.updated_block = block;
                        Ok(was)
                    },
                )
                .await?;
            if was != *enabled {
                state
                    .modify::<Datanet, ()>(&(id,), |d| {
                        d.curator_count += if *enabled { 1 } else { -1 };
                        Ok(())
                    })
                    .await?
                    .ok_or_else(|| unknown(ev, "datanet", datanet_id))?;
            }
            if *enabled {
                account(state, *curator, |a| {
                    a.is_curator = true;
                    Ok(())
                })
                .await?;
            }
        }
        SoilEvent::ContributionSubmitted {
            contribution_id,
            datanet_id,
            contributor,
            content_hash,
            token_count,
            stake,
            uri,
            uri_bytes,
        } => {
            let id = int("contribution id", *contribution_id)?;
            let datanet = int("datanet id", *datanet_id)?;
            let (uri, uri_bytes) = chain_string(uri, uri_bytes.as_ref());
            let row = Contribution {
                datanet_id: datanet,
                contributor: *contributor,
                content_hash: *content_hash,
                token_count: int("token count", *token_count)?,
                stake: *stake,
                uri,
                uri_bytes,
                status: "pending".to_owned(),
                accepted_seq: 0,
                reviewer: None,
                slashed: U256::ZERO,
                stake_returned: false,
                submitted_block: block,
                submitted_tx: ev.tx_hash,
                reviewed_block: None,
                attribution_count: 0,
                attributed_earnings: U256::ZERO,
                pool_earnings: U256::ZERO,
                earnings: U256::ZERO,
            };
            state.create::<Contribution>((id,), row).await?;
            state
                .modify::<Datanet, ()>(&(datanet,), |d| {
                    d.contribution_count += 1;
                    Ok(())
                })
                .await?
                .ok_or_else(|| unknown(ev, "datanet", datanet_id))?;
            account(state, *contributor, |a| {
                a.is_contributor = true;
                a.contribution_count += 1;
                Ok(())
            })
            .await?;
            totals(state, |t| {
                t.contribution_count += 1;
                Ok(())
            })
            .await?;
        }
        SoilEvent::ContributionReviewed {
            contribution_id,
            datanet_id,
            curator,
            accepted,
            accepted_seq,
            slashed,
        } => {
            let id = int("contribution id", *contribution_id)?;
            let datanet = int("datanet id", *datanet_id)?;
            let seq = int("accepted seq", *accepted_seq)?;
            let (contributor, tokens) = state
                .modify::<Contribution, _>(&(id,), |c| {
                    c.status = if *accepted { "accepted" } else { "rejected" }.to_owned();
                    c.accepted_seq = seq;
                    c.reviewer = Some(*curator);
                    c.slashed = *slashed;
                    c.reviewed_block = Some(block);
                    Ok((c.contributor, c.token_count))
                })
                .await?
                .ok_or_else(|| unknown(ev, "contribution", contribution_id))?;
            state
                .modify::<Datanet, ()>(&(datanet,), |d| {
                    if *accepted {
                        d.accepted_count += 1;
                        d.accepted_tokens += tokens;
                    } else {
                        d.rejected_count += 1;
                        add(&mut d.slashed, *slashed, "datanet slashed")?;
                    }
                    Ok(())
                })
                .await?
                .ok_or_else(|| unknown(ev, "datanet", datanet_id))?;
            state
                .upsert::<Curator, ()>(
                    (datanet, *curator),
                    || Curator {
                        enabled: true,
                        accepted_reviews: 0,
                        rejected_reviews: 0,
                        updated_block: block,
                    },
                    |c| {
                        if *accepted {
                            c.accepted_reviews += 1;
                        } else {
                            c.rejected_reviews += 1;
                        }
                        Ok(())
                    },
                )
                .await?;
            account(state, contributor, |a| {
                if *accepted {
                    a.accepted_count += 1;
                    a.accepted_tokens += tokens;
                } else {
                    a.rejected_count += 1;
                    add(&mut a.slashed, *slashed, "account slashed")?;
                }
                Ok(())
            })
            .await?;
            totals(state, |t| {
                if *accepted {
                    t.accepted_count += 1;
                } else {
                    t.rejected_count += 1;
                    add(&mut t.slashed, *slashed, "total slashed")?;
                }
                Ok(())
            })
            .await?;
            batch.facts.reviews.push(with(
                at(ev)?,
                [
                    Val::Int(id),
                    Val::Int(datanet),
                    curator.to_val(),
                    accepted.to_val(),
                    Val::Int(seq),
                    slashed.to_val(),
                ],
            ));
        }
        SoilEvent::StakeReturned {
            contribution_id,
            contributor,
            amount,
        } => {
            return_stake(
                state,
                batch,
                ev,
                *contribution_id,
                *contributor,
                *amount,
                None,
            )
            .await?
        }
        SoilEvent::ContributionWithdrawn {
            contribution_id,
            datanet_id: _,
            contributor,
            amount,
        } => {
            return_stake(
                state,
                batch,
                ev,
                *contribution_id,
                *contributor,
                *amount,
                Some("withdrawn"),
            )
            .await?;
        }
        SoilEvent::ReleasePublished {
            release_id,
            datanet_id,
            root,
            contribution_count,
            token_count,
        } => {
            let id = int("release id", *release_id)?;
            let datanet = int("datanet id", *datanet_id)?;
            let row = Release {
                datanet_id: datanet,
                root: *root,
                contribution_count: int("contribution count", *contribution_count)?,
                token_count: int("token count", *token_count)?,
                published_block: block,
                published_tx: ev.tx_hash,
                reward_per_token: U256::ZERO,
                pool_accrued: U256::ZERO,
                pool_claimed: U256::ZERO,
            };
            state.create::<Release>((id,), row).await?;
            state
                .modify::<Datanet, ()>(&(datanet,), |d| {
                    d.release_count += 1;
                    Ok(())
                })
                .await?
                .ok_or_else(|| unknown(ev, "datanet", datanet_id))?;
            totals(state, |t| {
                t.release_count += 1;
                Ok(())
            })
            .await?;
        }
        SoilEvent::StakeLockPeriodSet { period } => {
            parameter(state, ev.contract, "stakeLockPeriod", period.to_string()).await?;
        }
        SoilEvent::TreasurySet { treasury } => {
            parameter(state, ev.contract, "treasury", hex0x(treasury.as_slice())).await?;
        }
        SoilEvent::WithdrawalDelaySet { delay } => {
            parameter(state, ev.contract, "withdrawalDelay", delay.to_string()).await?;
        }
        SoilEvent::MaxReceiptValiditySet { validity } => {
            parameter(
                state,
                ev.contract,
                "maxReceiptValidity",
                validity.to_string(),
            )
            .await?;
        }
        SoilEvent::Eip712DomainChanged {} => {}
        SoilEvent::ChannelsSet { channels } => {
            parameter(state, ev.contract, "channels", hex0x(channels.as_slice())).await?;
        }
        SoilEvent::ChannelOpened { .. }
        | SoilEvent::ChannelFunded { .. }
        | SoilEvent::VoucherSettled { .. }
        | SoilEvent::CloseRequested { .. }
        | SoilEvent::ChannelClosed { .. } => channel::apply(state, batch, ev).await?,
        SoilEvent::ModelRegistered {
            model_id,
            owner,
            weights_hash,
            price_per_kilo_token,
            owner_bps,
            data_bps,
            node_bps,
            treasury_bps,
            release_ids,
            uri,
            uri_bytes,
        } => {
            let id = int("model id", *model_id)?;
            let (uri, uri_bytes) = chain_string(uri, uri_bytes.as_ref());
            let row = Model {
                owner: *owner,
                weights_hash: *weights_hash,
                uri,
                uri_bytes,
                price_per_kilo_token: *price_per_kilo_token,
                next_price_per_kilo_token: None,
                next_price_at: None,
                owner_bps: int("bps", *owner_bps)?,
                data_bps: int("bps", *data_bps)?,
                node_bps: int("bps", *node_bps)?,
                treasury_bps: int("bps", *treasury_bps)?,
                registered_block: block,
                registered_tx: ev.tx_hash,
                receipt_count: 0,
                input_tokens: 0,
                output_tokens: 0,
                revenue: U256::ZERO,
                owner_revenue: U256::ZERO,
                data_revenue: U256::ZERO,
                node_revenue: U256::ZERO,
                treasury_revenue: U256::ZERO,
                attributed_revenue: U256::ZERO,
                pool_revenue: U256::ZERO,
                base_model_id: None,
                base_share_bps: 0,
                manifest_hash: None,
                manifest_uri: None,
                manifest_uri_bytes: None,
                derivative_share_bps: 0,
                base_revenue: U256::ZERO,
                derivative_revenue: U256::ZERO,
            };
            state.create::<Model>((id,), row).await?;
            for (position, release) in release_ids.iter().enumerate() {
                batch.facts.model_releases.push(vec![
                    Val::Int(id),
                    Val::Int(int("release id", *release)?),
                    Val::Int(int("position", position as u64)?),
                    Val::Int(block),
                ]);
            }
            account(state, *owner, |a| {
                a.is_model_owner = true;
                Ok(())
            })
            .await?;
            totals(state, |t| {
                t.model_count += 1;
                Ok(())
            })
            .await?;
        }
        SoilEvent::ModelPriceSet {
            model_id,
            price_per_kilo_token,
            effective_at,
        } => {
            let effective_at = int("price effective time", *effective_at)?;
            state
                .modify::<Model, ()>(&(int("model id", *model_id)?,), |m| {
                    // As the registry does: a change already scheduled is in force by now (it refuses a
                    // new one before), so it becomes the price before the new change.
                    if let Some(scheduled) = m.next_price_per_kilo_token.take() {
                        m.price_per_kilo_token = scheduled;
                    }
                    m.next_price_per_kilo_token = Some(*price_per_kilo_token);
                    m.next_price_at = Some(effective_at);
                    Ok(())
                })
                .await?
                .ok_or_else(|| unknown(ev, "model", model_id))?;
        }
        SoilEvent::ModelOwnerSet { model_id, owner } => {
            state
                .modify::<Model, ()>(&(int("model id", *model_id)?,), |m| {
                    m.owner = *owner;
                    Ok(())
                })
                .await?
                .ok_or_else(|| unknown(ev, "model", model_id))?;
            account(state, *owner, |a| {
                a.is_model_owner = true;
                Ok(())
            })
            .await?;
        }
        // Emitted right after the adapter's `ModelRegistered`: the model row exists and gets its base,
        // share and manifest; the trained-on releases are facts, like the model's releases.
        SoilEvent::AdapterRegistered {
            model_id,
            base_model_id,
            manifest_hash,
            base_share_bps,
            trained_on_release_ids,
            manifest_uri,
            manifest_uri_bytes,
        } => {
            let id = int("model id", *model_id)?;
            let base = int("base model id", *base_model_id)?;
            let share = int("bps", *base_share_bps)?;
            let (manifest_uri, manifest_uri_bytes) =
                chain_string(manifest_uri, manifest_uri_bytes.as_ref());
            state
                .modify::<Model, ()>(&(id,), |m| {
                    m.base_model_id = Some(base);
                    m.base_share_bps = share;
                    m.manifest_hash = Some(*manifest_hash);
                    m.manifest_uri = Some(manifest_uri);
                    m.manifest_uri_bytes = manifest_uri_bytes;
                    Ok(())
                })
                .await?
                .ok_or_else(|| unknown(ev, "model", model_id))?;
            for (position, release) in trained_on_release_ids.iter().enumerate() {
                batch.facts.model_trained_on.push(vec![
                    Val::Int(id),
                    Val::Int(int("release id", *release)?),
                    Val::Int(int("position", position as u64)?),
                    Val::Int(block),
                ]);
            }
        }
        SoilEvent::DerivativeShareSet {
            model_id,
            share_bps,
        } => {
            let share = int("bps", *share_bps)?;
            state
                .modify::<Model, ()>(&(int("model id", *model_id)?,), |m| {
                    m.derivative_share_bps = share;
                    Ok(())
                })
                .await?
                .ok_or_else(|| unknown(ev, "model", model_id))?;
        }
        SoilEvent::Deposited {
            payer,
            from,
            amount,
        } => {
            account(state, *payer, |a| {
                a.is_payer = true;
                add(&mut a.deposited, *amount, "deposited")?;
                add(&mut a.deposit_balance, *amount, "deposit balance")
            })
            .await?;
            totals(state, |t| add(&mut t.deposited, *amount, "total deposited")).await?;
            batch.facts.deposits.push(with(
                at(ev)?,
                [payer.to_val(), from.to_val(), amount.to_val()],
            ));
        }
        SoilEvent::WithdrawalRequested {
            payer,
            amount,
            unlock_at,
        } => {
            account(state, *payer, |a| {
                a.is_payer = true;
                Ok(())
            })
            .await?;
            batch.facts.withdrawals.push(with(
                at(ev)?,
                [
                    payer.to_val(),
                    Val::Text("requested".to_owned()),
                    amount.to_val(),
                    Val::Int(int("unlock time", *unlock_at)?),
                ],
            ));
        }
        SoilEvent::Withdrawn { payer, amount } => {
            account(state, *payer, |a| {
                add(&mut a.withdrawn, *amount, "withdrawn")?;
                sub(&mut a.deposit_balance, *amount, "deposit balance")
            })
            .await?;
            totals(state, |t| add(&mut t.withdrawn, *amount, "total withdrawn")).await?;
            batch.facts.withdrawals.push(with(
                at(ev)?,
                [
                    payer.to_val(),
                    Val::Text("executed".to_owned()),
                    amount.to_val(),
                    Val::NullInt,
                ],
            ));
        }
        SoilEvent::ReceiptSettled { .. } => settle(state, batch, ev).await?,
        // Anyone can have the escrow skip receipts (by sending it garbage): nothing moved, so no figure
        // changes; the row tells an operator which receipt of which batch failed, and why.
        SoilEvent::ReceiptSkipped {
            index,
            digest,
            reason,
        } => {
            let index = u64::try_from(*index).map_err(|_| IndexerError::IntegerOutOfRange {
                what: "skipped receipt's index",
                value: index.to_string(),
            })?;
            batch.facts.skipped_receipts.push(with(
                at(ev)?,
                [
                    Val::Int(int("skipped receipt's index", index)?),
                    digest.to_val(),
                    Val::Text(hex0x(reason)),
                ],
            ));
        }
        // Who may sign for a payer matters to the escrow's checks only: the receipts it settled carry the
        // payer. Both stay in `raw_events`.
        SoilEvent::SignerAuthorized { .. } | SoilEvent::SignerRevoked { .. } => {}
        // The treasury's `Credited` that follows moves the balances; only the sum is kept here.
        SoilEvent::Swept { amount } => {
            totals(state, |t| add(&mut t.swept, *amount, "total swept")).await?;
        }
        SoilEvent::Credited {
            account: who,
            amount,
        } => {
            account(state, *who, |a| add(&mut a.credited, *amount, "credited")).await?;
            totals(state, |t| add(&mut t.credited, *amount, "total credited")).await?;
            batch
                .facts
                .credits
                .push(with(at(ev)?, [who.to_val(), amount.to_val()]));
        }
        SoilEvent::PoolAccrued {
            release_id,
            model_id,
            amount,
            reward_per_token,
        } => {
            let release = int("release id", *release_id)?;
            let model = int("model id", *model_id)?;
            let datanet = state
                .modify::<Release, i64>(&(release,), |r| {
                    r.reward_per_token = *reward_per_token;
                    add(&mut r.pool_accrued, *amount, "pool accrued")?;
                    Ok(r.datanet_id)
                })
                .await?
                .ok_or_else(|| unknown(ev, "release", release_id))?;
            state
                .modify::<Datanet, ()>(&(datanet,), |d| {
                    add(&mut d.pool_revenue, *amount, "datanet pool revenue")?;
                    add(&mut d.revenue, *amount, "datanet revenue")
                })
                .await?
                .ok_or_else(|| unknown(ev, "datanet", &datanet))?;
            state
                .modify::<Model, ()>(&(model,), |m| {
                    add(&mut m.pool_revenue, *amount, "model pool revenue")
                })
                .await?
                .ok_or_else(|| unknown(ev, "model", model_id))?;
            totals(state, |t| {
                add(&mut t.pool_accrued, *amount, "total pool accrued")
            })
            .await?;
            batch.facts.pool_accruals.push(with(
                at(ev)?,
                [
                    Val::Int(release),
                    Val::Int(model),
                    amount.to_val(),
                    reward_per_token.to_val(),
                ],
            ));
        }
        SoilEvent::PoolRewardClaimed {
            release_id,
            contribution_id,
            contributor,
            amount,
        } => {
            let release = int("release id", *release_id)?;
            let contribution = int("contribution id", *contribution_id)?;
            state
                .modify::<Release, ()>(&(release,), |r| {
                    add(&mut r.pool_claimed, *amount, "pool claimed")
                })
                .await?
                .ok_or_else(|| unknown(ev, "release", release_id))?;
            state
                .modify::<Contribution, ()>(&(contribution,), |c| {
                    add(&mut c.pool_earnings, *amount, "contribution pool earnings")?;
                    add(&mut c.earnings, *amount, "contribution earnings")
                })
                .await?
                .ok_or_else(|| unknown(ev, "contribution", contribution_id))?;
            account(state, *contributor, |a| {
                add(&mut a.pool_earnings, *amount, "pool earnings")?;
                add(&mut a.earnings, *amount, "earnings")
            })
            .await?;
            totals(state, |t| {
                add(&mut t.pool_claimed, *amount, "total pool claimed")
            })
            .await?;
            batch.facts.pool_claims.push(with(
                at(ev)?,
                [
                    Val::Int(release),
                    Val::Int(contribution),
                    contributor.to_val(),
                    amount.to_val(),
                ],
            ));
        }
        SoilEvent::Claimed {
            account: who,
            to,
            amount,
        } => {
            account(state, *who, |a| add(&mut a.claimed, *amount, "claimed")).await?;
            totals(state, |t| add(&mut t.claimed, *amount, "total claimed")).await?;
            batch
                .facts
                .claims
                .push(with(at(ev)?, [who.to_val(), to.to_val(), amount.to_val()]));
        }
    }
    Ok(())
}

/// `ReceiptSettled`: the receipt, its attribution edges, and every aggregate the fee reaches.
async fn settle(state: &mut State, batch: &mut Batch, ev: &RawEvent) -> Result<()> {
    let SoilEvent::ReceiptSettled {
        digest,
        payer,
        model_id,
        node,
        prompt_hash,
        output_hash,
        output_uri,
        output_uri_bytes,
        input_tokens,
        output_tokens,
        fee,
        nonce,
        deadline,
        attribution_version,
        attribution_hash,
        attribution,
    } = &ev.event
    else {
        return Ok(());
    };
    let block = int("block number", ev.block_number)?;
    let model_key = int("model id", *model_id)?;
    let model = state
        .get::<Model>(&(model_key,))
        .await?
        .ok_or_else(|| unknown(ev, "model", model_id))?;
    let entries = soil_bindings::Attribution::from_packed(attribution)
        .map_err(|e| IndexerError::Decode {
            contract: "UsageEscrow",
            block_number: ev.block_number,
            log_index: ev.log_index,
            reason: format!("attribution of receipt {digest}: {e}"),
        })?
        .entries;
    let weights: Vec<u32> = entries.iter().map(|(_, w)| *w).collect();
    let bps = |v: i64| u64::try_from(v).unwrap_or(0);
    let split = split_fee(
        *fee,
        bps(model.owner_bps),
        bps(model.data_bps),
        bps(model.node_bps),
        &weights,
    );
    // An adapter's receipt pays its base's current owner the derivative share fixed at the adapter's
    // registration, out of the owner share (as the escrow books it: both rounded down, subtracted).
    let base = match model.base_model_id {
        Some(base_id) => {
            let base_owner = state
                .get::<Model>(&(base_id,))
                .await?
                .ok_or_else(|| unknown(ev, "base model", &base_id))?
                .owner;
            let share = *fee * U256::from(bps(model.base_share_bps)) / U256::from(BPS);
            Some((base_owner, share.min(split.owner)))
        }
        None => None,
    };
    let base_amount = base.map_or(U256::ZERO, |(_, share)| share);
    let owner_amount = split.owner - base_amount;
    let (input, output) = (
        int("input tokens", *input_tokens)?,
        int("output tokens", *output_tokens)?,
    );
    // The URI as text both stores can hold; the signed bytes as well when that text is not them (they
    // were not UTF-8, or held a NUL), so the digest can still be recomputed from the row.
    let (uri_text, uri_bytes) = chain_string(output_uri, output_uri_bytes.as_ref());

    for (position, ((contribution_id, weight), amount)) in
        entries.iter().zip(&split.contributors).enumerate()
    {
        let id = int("contribution id", *contribution_id)?;
        // An attribution may name a contribution more than once: it still counts one inference.
        let first_naming = entries[..position]
            .iter()
            .all(|(earlier, _)| earlier != contribution_id);
        let (contributor, datanet) =
            credit::attributed(state, ev, id, *amount, i64::from(first_naming)).await?;
        let edge = AttributionEdge {
            digest: *digest,
            position: int("position", position as u64)?,
            contribution_id: id,
            contributor,
            datanet_id: datanet,
            model_id: model_key,
            weight_ppm: i64::from(*weight),
            amount: *amount,
            block_number: block,
            fee: *fee,
        };
        batch.facts.attribution_edges.push(edge.values());
    }

    let revenue = Revenue {
        model_id: model_key,
        payer: *payer,
        node: *node,
        inferences: 1,
        input_tokens: input,
        output_tokens: output,
        fee: *fee,
        owner_amount,
        base_amount,
        data_amount: split.data,
        node_amount: split.node,
        treasury_amount: split.treasury,
        attributed_amount: split.attributed,
    };
    // Paid out of the payer's escrow deposit.
    credit::revenue(state, ev, &model, &revenue, |a| {
        a.is_payer = true;
        a.receipts_paid += 1;
        add(&mut a.spent, *fee, "spent")?;
        sub(&mut a.deposit_balance, *fee, "deposit balance")
    })
    .await?;
    let receipt = Receipt {
        digest: *digest,
        payer: *payer,
        model_id: model_key,
        node: *node,
        nonce: *nonce,
        fee: *fee,
        input_tokens: input,
        output_tokens: output,
        prompt_hash: *prompt_hash,
        output_hash: *output_hash,
        output_uri: uri_text,
        output_uri_bytes: uri_bytes,
        deadline: int("deadline", *deadline)?,
        attribution_version: int("attribution version", *attribution_version)?,
        attribution_hash: *attribution_hash,
        attribution: hex0x(attribution),
        owner_amount,
        data_amount: split.data,
        node_amount: split.node,
        treasury_amount: split.treasury,
        attributed_amount: split.attributed,
        unattributed_amount: split.unattributed,
        base_amount,
        base_owner: base.map(|(owner, _)| owner),
        block_number: block,
        block_timestamp: ev
            .block_timestamp
            .map(|t| int("timestamp", t))
            .transpose()?,
        tx_hash: ev.tx_hash,
        log_index: int("log index", ev.log_index)?,
    };
    batch.facts.receipts.push(receipt.values());
    Ok(())
}
