//! The node's side of the hand-over: it asks the payer's server to cut the channel
//! (`POST <server>/v1/channels/{id}/cut`), checks every period it gets (the voucher with [`super::check`],
//! its log, fetched from the URI the server names, with `verify_log`), and settles them in period order
//! with its own wallet. A period the
//! chain already moved past is skipped; a period that fails a check is refused, named with what is wrong,
//! and never sent (nor anything after it, which could not settle before it). Without an outbox of its own
//! the round is safe to repeat: the server reconciles with the chain before it answers, and the chain's
//! period says what is settled.

use std::time::Duration;

use alloy::primitives::{B256, U256};
use serde::Serialize;
use soil_bindings::channel::{Parties, ReceiptsLog, verify_log};

use super::{
    HandedPeriod, Handover,
    check::{NextPeriod, check_voucher},
    settle::wait_final,
};
use crate::{
    attribution::DocumentFetcher,
    chain::Chain,
    error::{ClientError, Result},
};

/// How long the payer's server, and the server of each log, may take to answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// One period settled by the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettledPeriod {
    /// The period.
    pub period: u32,
    /// Its fee (the voucher's cumulative fee less its start fee).
    pub fee: String,
    /// The cumulative fee settled with it.
    pub cumulative_fee: String,
    /// Its inferences.
    pub inferences: u32,
    /// The settle transaction.
    pub tx: B256,
}

/// A handed period the node refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefusedPeriod {
    /// The period.
    pub period: u32,
    /// What is wrong with it.
    pub reason: String,
}

/// What one collection from a payer's server did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectReport {
    /// The channel.
    pub channel_id: u64,
    /// The server asked.
    pub server: String,
    /// Periods settled now, in order.
    pub settled: Vec<SettledPeriod>,
    /// Handed periods the chain had already moved past.
    pub already_settled: Vec<u32>,
    /// The fee settled now.
    pub settled_fee: String,
    /// The first period refused, if any (it and every later one were not sent).
    pub refused: Option<RefusedPeriod>,
}

/// Asks the payer's `server` to cut channel `channel_id`, checks what it hands over and settles it with
/// this wallet, which must be the channel's node; waits for `confirmations` blocks on each settlement.
pub async fn collect(
    chain: &Chain,
    server: &str,
    channel_id: u64,
    confirmations: u64,
) -> Result<CollectReport> {
    let channel = chain.channel(channel_id).await?;
    if channel.node != chain.account() {
        return Err(ClientError::UnusableChannel {
            channel_id,
            reason: format!(
                "only its node {} settles it, not this wallet ({})",
                channel.node,
                chain.account()
            ),
        });
    }
    let fetcher = DocumentFetcher::new(HTTP_TIMEOUT)?;
    let mut handed = request_cut(server, channel_id).await?.periods;
    handed.sort_by_key(|p| p.period);
    let terms = chain.split_terms(channel.modelId).await?;
    let domain = chain.channel_domain();
    let parties = Parties {
        payer: channel.payer,
        model_id: channel.modelId,
        node: channel.node,
    };
    let mut next = NextPeriod {
        period: channel.period,
        start_fee: U256::from(channel.settledFee),
    };
    let mut report = CollectReport {
        channel_id,
        server: server.to_owned(),
        settled: Vec::new(),
        already_settled: Vec::new(),
        settled_fee: String::new(),
        refused: None,
    };
    let mut settled_fee = U256::ZERO;
    for period in handed {
        if period.period < next.period {
            report.already_settled.push(period.period);
            continue;
        }
        let checked = match check_voucher(&domain, channel_id, &channel, next, &period) {
            Ok(()) => fetch_log(&fetcher, &period.log_uri).await.and_then(|log| {
                verify_log(&log, &period.voucher, &parties, &terms)
                    .map_err(|mismatch| format!("its log does not prove its voucher: {mismatch}"))
            }),
            Err(reason) => Err(reason),
        };
        if let Err(reason) = checked {
            tracing::warn!(channel = channel_id, period = period.period, %reason, "handed voucher refused");
            report.refused = Some(RefusedPeriod {
                period: period.period,
                reason,
            });
            break;
        }
        match settle_period(chain, channel_id, &period, confirmations).await? {
            Some(settled) => {
                settled_fee += period.voucher.fee - period.voucher.startFee;
                next = NextPeriod {
                    period: period.period + 1,
                    start_fee: period.voucher.fee,
                };
                report.settled.push(settled);
            }
            None => {
                // Settled meanwhile by another sender: go on from where the chain now stands.
                let moved = chain.channel(channel_id).await?;
                next = NextPeriod {
                    period: moved.period,
                    start_fee: U256::from(moved.settledFee),
                };
                report.already_settled.push(period.period);
            }
        }
    }
    report.settled_fee = settled_fee.to_string();
    Ok(report)
}

/// `POST <server>/v1/channels/{id}/cut`, parsed.
async fn request_cut(server: &str, channel_id: u64) -> Result<Handover> {
    let url = format!(
        "{}/v1/channels/{channel_id}/cut",
        server.trim_end_matches('/')
    );
    let failed = |reason: String| ClientError::Handover {
        url: url.clone(),
        reason,
    };
    let http = reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .build()
        .map_err(|err| failed(err.to_string()))?;
    let response = http
        .post(&url)
        .send()
        .await
        .map_err(|err| failed(err.to_string()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|err| failed(err.to_string()))?;
    if !status.is_success() {
        return Err(failed(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    let handover: Handover = serde_json::from_slice(&body)
        .map_err(|err| failed(format!("not a channel hand-over: {err}")))?;
    if handover.channel_id != channel_id {
        return Err(failed(format!(
            "it answered for channel {}",
            handover.channel_id
        )));
    }
    Ok(handover)
}

/// The receipts log at `uri` (HTTP or HTTPS only: the URI comes from the payer's server), parsed.
async fn fetch_log(
    fetcher: &DocumentFetcher,
    uri: &str,
) -> std::result::Result<ReceiptsLog, String> {
    if !(uri.starts_with("http://") || uri.starts_with("https://")) {
        return Err(format!("its log URI {uri:?} is not an http(s) URL"));
    }
    let bytes = fetcher
        .fetch(uri)
        .await
        .map_err(|err| format!("its log cannot be fetched: {err}"))?;
    ReceiptsLog::from_json(&bytes).map_err(|err| format!("its log at {uri} cannot be read: {err}"))
}

/// Sends the settlement of a checked period and waits until it is final; `None` when it would revert
/// because the chain already moved past the period (another sender settled it meanwhile).
async fn settle_period(
    chain: &Chain,
    channel_id: u64,
    period: &HandedPeriod,
    confirmations: u64,
) -> Result<Option<SettledPeriod>> {
    let action = || format!("settling period {} of channel {channel_id}", period.period);
    let envelope = match chain
        .prepare_voucher_settlement(&period.voucher, &period.signature, &period.log_uri)
        .await?
    {
        Ok(envelope) => envelope,
        Err(_) if chain.channel(channel_id).await?.period > period.period => return Ok(None),
        Err(revert) => {
            return Err(ClientError::Reverted {
                action: action(),
                reason: revert.reason,
            });
        }
    };
    let tx = chain.broadcast_voucher_settlement(envelope).await?;
    if !wait_final(chain, tx, confirmations).await? {
        return Err(ClientError::TransactionFailed {
            action: action(),
            tx,
        });
    }
    ::metrics::counter!("soil_channel_vouchers_settled_total").increment(1);
    let v = &period.voucher;
    tracing::info!(channel = channel_id, period = period.period, fee = %(v.fee - v.startFee), %tx, "handed period settled");
    Ok(Some(SettledPeriod {
        period: period.period,
        fee: (v.fee - v.startFee).to_string(),
        cumulative_fee: v.fee.to_string(),
        inferences: v.inferences,
        tx,
    }))
}
