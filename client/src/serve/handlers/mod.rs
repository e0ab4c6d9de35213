//! One handler per endpoint.

pub(crate) mod channels;
pub(crate) mod chat;
pub(crate) mod completions;
pub(crate) mod embeddings;
pub(crate) mod health;
pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod models;
pub(crate) mod outputs;
pub(crate) mod responses;

use axum::http::{Method, StatusCode, Uri};
use serde_json::{Value, json};

use super::{
    Completion,
    openai::{ApiError, UsageCounts},
};

/// Any other path: OpenAI's JSON 404.
pub(crate) async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("Invalid URL ({method} {uri})"),
    )
}

/// A known path asked with another method: a JSON 405.
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        format!("{method} is not allowed on {uri}"),
    )
}

/// What Soil adds to a completion: the receipt's digest (its log leaf in a channel), its outbox row or its
/// channel (id, period, the cumulative fee the new voucher promises), the token counts and fee it signs,
/// the output's hash and URI, and the attribution.
pub(crate) fn soil_extension(completion: &Completion) -> Value {
    let attribution: Vec<Value> = completion
        .attribution
        .weights
        .iter()
        .map(|&(contribution, ppm)| json!({ "contribution_id": contribution, "weight_ppm": ppm }))
        .collect();
    let channel = completion.payment.channel().map(|paid| {
        json!({
            "id": paid.channel_id,
            "period": paid.period,
            "nonce": completion.receipt.nonce.to_string(),
            "cumulative_fee": paid.cumulative_fee.to_string(),
        })
    });
    json!({
        "receipt": completion.digest,
        "outbox_id": completion.payment.outbox_id(),
        "channel": channel,
        "fee": completion.receipt.fee.to_string(),
        "input_tokens": completion.receipt.inputTokens,
        "output_tokens": completion.receipt.outputTokens,
        "output_hash": completion.receipt.outputHash,
        "output_uri": completion.receipt.outputURI,
        "attribution": attribution,
    })
}

/// The chunks that close a stream: `finish_choice` (the last choice, already holding its finish reason)
/// with Soil's extension, then the usage chunk when the client asked for it (`stream_options.
/// include_usage`). `chunk` wraps choices into the endpoint's chunk object.
pub(crate) fn closing_chunks(
    completion: &Completion,
    finish_choice: Value,
    include_usage: bool,
    chunk: impl Fn(Value) -> Value,
) -> Vec<Value> {
    let mut finish = chunk(Value::Array(vec![finish_choice]));
    finish["soil"] = soil_extension(completion);
    let mut chunks = vec![finish];
    if include_usage {
        let mut usage = chunk(json!([]));
        usage["usage"] = json!(UsageCounts::of(std::slice::from_ref(completion)));
        chunks.push(usage);
    }
    chunks
}
