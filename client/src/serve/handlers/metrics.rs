//! `GET /metrics`: the process's metrics in Prometheus' text format.

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::serve::AppState;

/// The metrics, with the completions in flight read at scrape time.
pub(crate) async fn render(State(state): State<AppState>) -> impl IntoResponse {
    metrics::gauge!("soil_serve_completions_in_flight").set(state.admission.in_flight() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// Counts each request by route and status and records its latency (to the response's head: a stream's
/// duration is its completion's).
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("soil_serve_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("soil_serve_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
