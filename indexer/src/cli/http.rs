//! What `run` and `serve` share: the listening socket, the operational endpoints (`/metrics`,
//! `/health`, `/ready`) beside the API, and the signals that stop them.

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::error::{IndexerError, Result};

/// The operational endpoints: `/metrics`, `/health`, and `/ready`, which answers what `ready` says:
/// HTTP 200 with its text, or 503 with its error's.
pub fn ops_router<F>(metrics: PrometheusHandle, ready: F) -> Router
where
    F: Fn() -> std::result::Result<String, String> + Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            "/metrics",
            get(move || std::future::ready(metrics.render())),
        )
        .route("/health", get(|| std::future::ready("ok")))
        .route(
            "/ready",
            get(move || {
                std::future::ready(match ready() {
                    Ok(text) => (StatusCode::OK, text),
                    Err(text) => (StatusCode::SERVICE_UNAVAILABLE, text),
                })
            }),
        )
}

/// Serves `app` on `addr` in a task of its own (aborted to stop).
pub async fn serve(
    addr: SocketAddr,
    app: Router,
) -> Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| IndexerError::Listen {
            addr: addr.to_string(),
            source,
        })?;
    tracing::info!(listen = %addr, "serving /graphql, /graphiql, /, /metrics, /health, /ready");
    Ok(tokio::spawn(
        async move { axum::serve(listener, app).await },
    ))
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
