//! OpenAI wire shapes: requests, responses, stream chunks and errors.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::model::{ChatMessage, Sampling, StopReason};

/// Fields chat and text completions share.
#[derive(Debug, Deserialize)]
pub(crate) struct Common {
    pub(crate) model: String,
    #[serde(default)]
    pub(crate) stream: bool,
    pub(crate) max_tokens: Option<u32>,
    pub(crate) temperature: Option<f32>,
    pub(crate) top_p: Option<f32>,
    pub(crate) seed: Option<u32>,
}

/// `POST /v1/chat/completions` body.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatRequest {
    #[serde(flatten)]
    pub(crate) common: Common,
    pub(crate) messages: Vec<ChatMessage>,
}

/// `POST /v1/completions` body.
#[derive(Debug, Deserialize)]
pub(crate) struct CompletionRequest {
    #[serde(flatten)]
    pub(crate) common: Common,
    pub(crate) prompt: String,
}

/// Token counts, as OpenAI reports them.
#[derive(Debug, Serialize)]
pub(crate) struct UsageCounts {
    pub(crate) prompt_tokens: u32,
    pub(crate) completion_tokens: u32,
    pub(crate) total_tokens: u32,
}

impl UsageCounts {
    pub(crate) fn new(prompt_tokens: u32, completion_tokens: u32) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        }
    }
}

/// OpenAI's `finish_reason`.
pub(crate) fn finish_reason(stop: StopReason) -> &'static str {
    match stop {
        StopReason::EndOfGeneration => "stop",
        StopReason::MaxTokens | StopReason::ContextFull => "length",
    }
}

impl Common {
    /// Checks the model name and merges the sampling fields over the server's defaults.
    pub(crate) fn sampling(&self, state: &AppState) -> Result<Sampling, ApiError> {
        if self.model != state.model_name {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "model_not_found",
                format!(
                    "The model `{}` does not exist; this server serves `{}`",
                    self.model, state.model_name
                ),
            ));
        }
        let sampling = Sampling {
            temperature: self.temperature.unwrap_or(state.defaults.temperature),
            top_p: self.top_p.unwrap_or(state.defaults.top_p),
            seed: self.seed.unwrap_or(state.defaults.seed),
            max_tokens: self.max_tokens.unwrap_or(state.defaults.max_tokens),
        };
        sampling
            .validate()
            .map_err(|err| ApiError::bad_request(err.to_string()))?;
        Ok(sampling)
    }
}

/// An error in OpenAI's JSON shape: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: String) -> Self {
        Self {
            status,
            kind,
            message,
        }
    }

    pub(crate) fn bad_request(message: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// A failed completion: 402 when the payer's deposit cannot cover it (nothing was generated), else
    /// 500.
    pub(crate) fn from_client(err: &crate::error::ClientError) -> Self {
        match err {
            crate::error::ClientError::InsufficientDeposit { .. } => Self::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_deposit",
                err.to_string(),
            ),
            _ => Self::internal(err),
        }
    }

    pub(crate) fn internal(err: &crate::error::ClientError) -> Self {
        tracing::error!(error = %err, "completion failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            err.to_string(),
        )
    }

    /// The JSON body (also sent as an SSE event when a stream fails midway).
    pub(crate) fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "message": self.message, "type": self.kind, "param": null, "code": null } })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// Rejections of malformed JSON bodies, turned into OpenAI-style errors.
pub(crate) fn rejection(rejection: &axum::extract::rejection::JsonRejection) -> ApiError {
    ApiError::bad_request(format!("invalid request body: {}", rejection.body_text()))
}

/// Seconds since the Unix epoch (OpenAI's `created`).
pub(crate) fn created() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
