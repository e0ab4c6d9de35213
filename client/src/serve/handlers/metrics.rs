//! `GET /metrics`: the process's metrics in Prometheus' text format.

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::serve::AppState;

/// The metrics, with the gauges (completions in flight, slots, the outbox) read at scrape time.
pub(crate) async fn render(State(state): State<AppState>) -> impl IntoResponse {
    metrics::gauge!("soil_serve_completions_in_flight").set(state.admission.in_flight() as f64);
    let worker = state.session.worker();
    metrics::gauge!("soil_serve_slots").set(f64::from(worker.info().parallel));
    metrics::gauge!("soil_serve_slots_busy").set(worker.load().busy() as f64);
    metrics::gauge!("soil_serve_waiting_for_slot").set(worker.load().waiting() as f64);
    // The outbox is read at each scrape; a failed read leaves the last value.
    if let Ok(counts) = state.session.outbox().counts().await {
        for (receipt_state, count) in [
            ("pending", counts.pending),
            ("in_flight", counts.in_flight),
            ("failed", counts.failed),
        ] {
            metrics::gauge!("soil_serve_outbox_receipts", "state" => receipt_state)
                .set(count as f64);
        }
    }
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
