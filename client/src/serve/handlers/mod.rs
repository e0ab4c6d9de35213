//! One handler per endpoint.

pub(crate) mod chat;
pub(crate) mod completions;
pub(crate) mod models;
pub(crate) mod outputs;

use serde_json::{Value, json};

use super::Completion;

/// What Soil adds to a completion: the receipt's digest, its outbox row, the output's hash and URI, and the
/// attribution.
pub(crate) fn soil_extension(completion: &Completion) -> Value {
    let attribution: Vec<Value> = completion
        .attribution
        .weights
        .iter()
        .map(|&(contribution, ppm)| json!({ "contribution_id": contribution, "weight_ppm": ppm }))
        .collect();
    json!({
        "receipt": completion.digest,
        "outbox_id": completion.outbox_id,
        "fee": completion.receipt.receipt.fee.to_string(),
        "output_hash": completion.receipt.receipt.outputHash,
        "output_uri": completion.receipt.receipt.outputURI,
        "attribution": attribution,
    })
}
