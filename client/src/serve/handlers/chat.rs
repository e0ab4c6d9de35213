//! `POST /v1/chat/completions`.

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::soil_extension;
use crate::{
    model::{GenerationRequest, Prompt, Role},
    serve::{
        AppState,
        openai::{ApiError, ChatRequest, UsageCounts, created, finish_reason, rejection},
        stream,
    },
};

/// A chat completion, whole or streamed.
pub(crate) async fn complete(
    State(state): State<AppState>,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|r| rejection(&r))?;
    let sampling = body.common.sampling(&state)?;
    if body.messages.is_empty() {
        return Err(ApiError::bad_request(
            "`messages` must hold at least one message".to_owned(),
        ));
    }
    if body
        .messages
        .last()
        .is_some_and(|m| m.role == Role::Assistant)
    {
        return Err(ApiError::bad_request(
            "the last message must not be from the assistant".to_owned(),
        ));
    }
    let request = GenerationRequest {
        prompt: Prompt::Chat(body.messages),
        sampling,
    };
    let model = state.model_name.clone();
    let created = created();
    if body.common.stream {
        let id = format!("chatcmpl-{created}");
        let chunk = move |delta: serde_json::Value, finish: Option<&str>| {
            json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
            })
        };
        let (piece, last) = (chunk.clone(), chunk.clone());
        let first = chunk(json!({ "role": "assistant", "content": "" }), None);
        let sse = stream::sse(
            state,
            request,
            Some(first),
            move |text| piece(json!({ "content": text }), None),
            move |completion| {
                let mut value = last(json!({}), Some(finish_reason(completion.stats.stop)));
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
    let digest = completion.digest;
    Ok(Json(json!({
        "id": format!("chatcmpl-{digest}"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": completion.text },
            "finish_reason": finish_reason(completion.stats.stop),
        }],
        "usage": UsageCounts::new(completion.stats.prompt_tokens, completion.stats.output_tokens),
        "soil": soil_extension(&completion),
    }))
    .into_response())
}
