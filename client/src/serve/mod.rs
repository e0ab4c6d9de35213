//! Serving a registered model: the paid [`Session`] (model, releases, receipts) that `soil infer` and
//! `soil serve` share, and an OpenAI-compatible HTTP API over it (`GET /v1/models` and
//! `/v1/models/{model}`, `POST /v1/chat/completions`, `POST /v1/completions`, each plain JSON or SSE with
//! `stream: true`; and `GET /v1/outputs/{hash}`, the outputs it published). Every completion leaves a
//! signed receipt in the outbox; a background task settles the outbox.

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
pub use session::{Completion, Session, SessionConfig};

use crate::{
    error::{ClientError, Result},
    outbox::{SettleConfig, Settler},
};

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
