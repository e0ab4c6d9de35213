//! Serving a registered model: the paid [`Session`] (model, releases, receipts) that `soil infer` and
//! `soil serve` share, and an OpenAI-compatible HTTP API over it (`GET /v1/models` and
//! `/v1/models/{model}`, `POST /v1/chat/completions`, `POST /v1/completions`, each plain JSON or SSE with
//! `stream: true`; `GET /v1/outputs/{hash}`, the outputs it published; `GET /v1/logs/{root}`, its
//! channels' receipts logs; and `POST /v1/channels/{id}/cut`, a channel's cut periods handed to its
//! node). Every completion leaves a signed receipt in the outbox, or for a model paid through a usage
//! channel a log entry and the channel's next voucher; background tasks settle both.

mod admission;
mod error;
mod handlers;
pub mod metrics;
mod openai;
mod routes;
pub mod session;
mod stream;
mod structured;
mod tools;

use std::{sync::Arc, time::Duration};

pub use admission::Admission;
pub use routes::{AppState, router};
pub use session::{Completion, Generation, Payment, Session, SessionConfig};

use crate::{
    channel::{SettlePolicy, SettleRound, reconcile, settle_channel},
    error::{ClientError, Result},
    outbox::{SettleConfig, Settler, store_now},
};

/// How often the channels' settlement thresholds are checked.
const CHANNEL_CHECK_EVERY: Duration = Duration::from_secs(2);

/// Settles the session's outbox every `interval` until the process ends; errors are logged and retried
/// on the next tick (the outbox keeps every receipt meanwhile).
pub fn spawn_settlement(
    session: Arc<Session>,
    config: SettleConfig,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let settler = Settler::new(session.chain(), session.outbox(), config);
            match settler.run_once().await {
                Ok(report) if report.settled + report.failed + report.already_settled > 0 => {
                    ::metrics::counter!("soil_serve_receipts_settled_total")
                        .increment(report.settled as u64);
                    ::metrics::counter!("soil_serve_receipts_failed_total")
                        .increment(report.failed as u64);
                    tracing::info!(?report, "outbox settlement round");
                }
                Ok(_) => {}
                Err(err) => {
                    ::metrics::counter!("soil_serve_settlement_errors_total").increment(1);
                    tracing::warn!(error = %err, "outbox settlement failed; retrying next round")
                }
            }
            tokio::time::sleep(interval).await;
        }
    })
}

/// Settles the session's channels until the process ends: every few seconds each channel is reconciled
/// with the chain, its open period cut and settled once `policy` says it is due (value, age, or a close
/// asked for), and any cut period left by a crash sent. Only the node settles: a channel whose node is
/// not the serving wallet is only reconciled (the periods its node settled from a hand-over become
/// settled here); its node decides where its periods end (`POST /v1/channels/{id}/cut`). Errors are
/// logged and retried on the next check.
pub fn spawn_channel_settlement(
    session: Arc<Session>,
    policy: SettlePolicy,
    round: SettleRound,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            for model in session.models() {
                let Some(book) = model.channel() else {
                    continue;
                };
                if let Err(err) = settle_if_due(&session, book.channel_id(), policy, round).await {
                    ::metrics::counter!("soil_serve_channel_settlement_errors_total").increment(1);
                    tracing::warn!(channel = book.channel_id(), error = %err, "channel settlement failed; retrying");
                }
            }
            tokio::time::sleep(CHANNEL_CHECK_EVERY).await;
        }
    })
}

async fn settle_if_due(
    session: &Session,
    channel_id: u64,
    policy: SettlePolicy,
    round: SettleRound,
) -> Result<()> {
    let (channel, open) = tokio::try_join!(
        session.chain().channel(channel_id),
        session.outbox().open_period(channel_id)
    )?;
    ::metrics::gauge!("soil_serve_channel_unsettled_fee", "channel" => channel_id.to_string())
        .set(f64::from(open.unsettled()));
    if channel.node != session.chain().account() {
        let settled = reconcile(session.chain(), session.outbox(), channel_id, &channel).await?;
        if !settled.is_empty() {
            tracing::info!(
                channel = channel_id,
                ?settled,
                "periods settled by the channel's node"
            );
        }
        return Ok(());
    }
    let round = SettleRound {
        cut: policy.is_due(&open, &channel, store_now()),
        ..round
    };
    let report = settle_channel(session.chain(), session.outbox(), channel_id, round).await?;
    if !report.settled.is_empty() || !report.already_settled.is_empty() {
        ::metrics::counter!("soil_serve_channel_settlements_total")
            .increment(report.settled.len() as u64);
        tracing::info!(channel = channel_id, ?report, "channel settlement round");
    }
    Ok(())
}

/// Binds the API's listening socket (port 0 picks a free port).
pub async fn bind(addr: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ClientError::Serve {
            addr: addr.to_owned(),
            source,
        })
}

/// Serves `state` on `listener` until the process is stopped.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> Result<()> {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    tracing::info!(%addr, "serving the OpenAI-compatible API");
    axum::serve(listener, router(state))
        .await
        .map_err(|source| ClientError::Serve { addr, source })
}
