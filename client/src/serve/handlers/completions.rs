//! `POST /v1/completions`.

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::soil_extension;
use crate::{
    model::{GenerationRequest, Prompt},
    serve::{
        AppState,
        openai::{ApiError, CompletionRequest, UsageCounts, created, finish_reason, rejection},
        stream,
    },
};

/// A text completion, whole or streamed.
pub(crate) async fn complete(
    State(state): State<AppState>,
    body: Result<Json<CompletionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|r| rejection(&r))?;
    let sampling = body.common.sampling(&state)?;
    if body.prompt.is_empty() {
        return Err(ApiError::bad_request(
            "`prompt` must not be empty".to_owned(),
        ));
    }
    let request = GenerationRequest {
        prompt: Prompt::Raw(body.prompt),
        sampling,
    };
    let model = state.model_name.clone();
    let created = created();
    if body.common.stream {
        let id = format!("cmpl-{created}");
        let chunk = move |text: &str, finish: Option<&str>| {
            json!({
                "id": id, "object": "text_completion", "created": created, "model": model,
                "choices": [{ "index": 0, "text": text, "finish_reason": finish }],
            })
        };
        let (piece, last) = (chunk.clone(), chunk);
        let sse = stream::sse(
            state,
            request,
            None,
            move |text| piece(text, None),
            move |completion| {
                let mut value = last("", Some(finish_reason(completion.stats.stop)));
                value["usage"] = json!(UsageCounts::new(
                    completion.stats.prompt_tokens,
                    completion.stats.output_tokens
                ));
                value["soil"] = soil_extension(completion);
                value
            },
        )
        .await?;
        return Ok(sse.into_response());
    }
    let completion = stream::run(&state, request).await?;
    Ok(Json(json!({
        "id": format!("cmpl-{}", completion.digest),
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [{ "index": 0, "text": completion.text, "finish_reason": finish_reason(completion.stats.stop) }],
        "usage": UsageCounts::new(completion.stats.prompt_tokens, completion.stats.output_tokens),
        "soil": soil_extension(&completion),
    }))
    .into_response())
}
