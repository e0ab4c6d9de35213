//! `POST /v1/embeddings`: the served model's embeddings (mean-pooled last hidden states, normalized), the
//! base's or with an adapter applied. Embeddings are free: there is no generated output to attribute to
//! contributions, so no receipt (docs/OPERATIONS.md).

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{
    error::ClientError,
    model::ModelError,
    serve::{
        AppState,
        error::RequestError,
        openai::{ApiError, refuse_extra, rejection},
    },
};

/// The most inputs one request may embed, as OpenAI allows.
const MAX_INPUTS: usize = 2048;

/// `POST /v1/embeddings` body.
#[derive(Debug, Deserialize)]
pub(crate) struct EmbeddingRequest {
    model: String,
    /// A string or an array of strings.
    input: Value,
    /// `float` (the default) or `base64` (little-endian f32, what the OpenAI SDKs ask for).
    encoding_format: Option<String>,
    /// Accepted only as the model's own width (this model's embeddings cannot be shortened).
    dimensions: Option<usize>,
    user: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// Embeds each input, in order.
pub(crate) async fn embed(
    State(state): State<AppState>,
    body: Result<Json<EmbeddingRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|r| rejection(&r))?;
    refuse_extra("", &body.extra, |_, _| false)?;
    let model = state.model(&body.model)?;
    let inputs = inputs(body.input)?;
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => {
            return Err(RequestError::Invalid {
                param: "encoding_format".to_owned(),
                expected: "`float` or `base64`",
            }
            .into());
        }
    };
    if let Some(user) = &body.user {
        tracing::debug!(user, "embedding request");
    }
    let _admitted = state.admission.admit()?;
    let embeddings = state
        .session
        .worker()
        .embed(inputs, model.adapter())
        .await
        .map_err(|error| match error {
            ModelError::PromptTooLong {
                prompt_tokens,
                context_size,
            } => ApiError::from(RequestError::ContextLengthExceeded {
                param: "input",
                context_size,
                prompt_tokens,
                max_tokens: 0,
            }),
            ModelError::EmptyPrompt => RequestError::Invalid {
                param: "input".to_owned(),
                expected: "non-empty strings",
            }
            .into(),
            error => ApiError::internal(&ClientError::from(error)),
        })?;
    if let Some(dimensions) = body.dimensions
        && embeddings
            .first()
            .is_some_and(|e| e.vector.len() != dimensions)
    {
        return Err(RequestError::Unsupported {
            param: "dimensions".to_owned(),
            reason: "this model's embeddings have one width, which `dimensions` must equal or leave out",
        }
        .into());
    }
    let tokens: usize = embeddings.iter().map(|e| e.tokens).sum();
    let data: Vec<Value> = embeddings
        .iter()
        .enumerate()
        .map(|(index, embedding)| {
            let vector = if base64 {
                let bytes: Vec<u8> = embedding
                    .vector
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(embedding.vector)
            };
            json!({ "object": "embedding", "index": index, "embedding": vector })
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": model.name(),
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    })))
}

/// `input`: one non-empty string or up to [`MAX_INPUTS`] of them (token arrays are not supported).
fn inputs(input: Value) -> Result<Vec<String>, RequestError> {
    let invalid = || RequestError::Invalid {
        param: "input".to_owned(),
        expected: "a non-empty string or an array of 1 to 2048 non-empty strings (token arrays are not supported)",
    };
    let texts = match input {
        Value::String(text) => vec![text],
        Value::Array(items) if (1..=MAX_INPUTS).contains(&items.len()) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                _ => Err(invalid()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(invalid()),
    };
    if texts.iter().any(String::is_empty) {
        return Err(invalid());
    }
    Ok(texts)
}
