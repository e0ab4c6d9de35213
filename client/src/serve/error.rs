//! Requests the API refuses before generating anything, each naming the field at fault (OpenAI's
//! `param`).

use axum::http::StatusCode;

/// A request refused as it stands: every variant but [`RequestError::ModelNotFound`] is a 400
/// `invalid_request_error`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    /// A field this server does not know or does not implement (a `null` value counts as absent).
    #[error("unrecognized or unsupported request field `{param}`")]
    UnknownField {
        /// The field.
        param: String,
    },
    /// A known field with a value this server does not implement.
    #[error("`{param}`: {reason}")]
    Unsupported {
        /// The field.
        param: String,
        /// What is not supported.
        reason: &'static str,
    },
    /// A number outside its range.
    #[error("`{param}` must be {range}, got {value}")]
    OutOfRange {
        /// The field.
        param: String,
        /// The allowed range, in words.
        range: &'static str,
        /// The value given.
        value: String,
    },
    /// A value of the wrong shape.
    #[error("`{param}` must be {expected}")]
    Invalid {
        /// The field.
        param: String,
        /// What it must be, in words.
        expected: &'static str,
    },
    /// A JSON schema the output grammar cannot be built from.
    #[error("`{param}` cannot be enforced: {reason}")]
    InvalidSchema {
        /// The field.
        param: String,
        /// llama.cpp's reason.
        reason: String,
    },
    /// The prompt and the tokens asked for do not fit in the model's context.
    #[error(
        "this model's maximum context length is {context_size} tokens, but the request needs \
         {prompt_tokens} prompt tokens plus {max_tokens} to generate; shorten the {param} or ask for \
         fewer tokens"
    )]
    ContextLengthExceeded {
        /// `messages` or `prompt`.
        param: &'static str,
        /// The context size.
        context_size: u32,
        /// Tokens in the prompt (after the chat template).
        prompt_tokens: usize,
        /// Tokens asked for (`max_tokens` or `max_completion_tokens`; 0 when neither was given).
        max_tokens: u32,
    },
    /// The request names a model this server does not serve.
    #[error("the model `{requested}` does not exist; this server serves {served}")]
    ModelNotFound {
        /// The model asked for.
        requested: String,
        /// The models served, quoted and comma-separated.
        served: String,
    },
}

impl RequestError {
    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::ModelNotFound { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// OpenAI's `param`: the field at fault.
    pub(crate) fn param(&self) -> Option<String> {
        match self {
            Self::UnknownField { param }
            | Self::Unsupported { param, .. }
            | Self::OutOfRange { param, .. }
            | Self::Invalid { param, .. }
            | Self::InvalidSchema { param, .. } => Some(param.clone()),
            Self::ContextLengthExceeded { param, .. } => Some((*param).to_owned()),
            Self::ModelNotFound { .. } => Some("model".to_owned()),
        }
    }

    /// OpenAI's `code`.
    pub(crate) fn code(&self) -> Option<&'static str> {
        match self {
            Self::UnknownField { .. } => Some("unknown_parameter"),
            Self::Unsupported { .. } => Some("unsupported_value"),
            Self::OutOfRange { .. } | Self::Invalid { .. } | Self::InvalidSchema { .. } => {
                Some("invalid_value")
            }
            Self::ContextLengthExceeded { .. } => Some("context_length_exceeded"),
            Self::ModelNotFound { .. } => Some("model_not_found"),
        }
    }
}
