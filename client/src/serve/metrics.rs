//! Prometheus metrics of a serving process, rendered by `GET /metrics`: requests by route and status with
//! their latency, completions and tokens by served model, prompt evaluation and generation times, the
//! completions in flight, and the background settler's rounds. Recorded with the `metrics` macros, so
//! library code that runs outside a server (`soil infer`) records into nothing.

use std::sync::Mutex;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::Completion;
use crate::error::{ClientError, Result};

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Latency buckets (seconds): a small model answers in milliseconds to a minute.
const SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Installs the process's recorder (once; later calls return the same handle).
pub fn install() -> Result<PrometheusHandle> {
    let mut installed = HANDLE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS)
        .map_err(|err| ClientError::Metrics(err.to_string()))?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| {
        ClientError::Metrics("another metrics recorder is already installed".to_owned())
    })?;
    *installed = Some(handle.clone());
    Ok(handle)
}

/// Records one finished completion of served model `model`.
pub(crate) fn completed(model: &str, completion: &Completion) {
    let stats = &completion.stats;
    let labels = [("model", model.to_owned())];
    metrics::counter!("soil_serve_completions_total", &labels).increment(1);
    metrics::counter!("soil_serve_prompt_tokens_total", &labels)
        .increment(u64::from(stats.prompt_tokens));
    metrics::counter!("soil_serve_completion_tokens_total", &labels)
        .increment(u64::from(stats.output_tokens));
    metrics::histogram!("soil_serve_prompt_eval_seconds", &labels)
        .record(stats.prompt_micros as f64 / 1e6);
    metrics::histogram!("soil_serve_time_to_first_token_seconds", &labels)
        .record(stats.first_token_micros as f64 / 1e6);
    metrics::histogram!("soil_serve_generation_seconds", &labels)
        .record(stats.generation_micros as f64 / 1e6);
}
