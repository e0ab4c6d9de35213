//! `POST /v1/completions`.

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{closing_chunks, soil_extension};
use crate::serve::{
    AppState,
    openai::{
        ApiError, CompletionRequest, UsageCounts, completion_logprobs, created, finish_reason,
        rejection, stream_id,
    },
    stream::{self, SseStyle},
};

/// A text completion (one or `n` choices), whole or streamed.
pub(crate) async fn complete(
    State(state): State<AppState>,
    body: Result<Json<CompletionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|r| rejection(&r))?;
    let mut plan = body.plan(&state)?;
    let admitted = state.admission.admit()?;
    stream::fit_context(&state, &mut plan).await?;
    let model = state.session.models()[plan.model].name().to_owned();
    let created = created();
    if plan.stream {
        let id = stream_id("cmpl");
        let chunk = move |choices: serde_json::Value| {
            json!({
                "id": id, "object": "text_completion", "created": created, "model": model,
                "choices": choices,
            })
        };
        let (piece, last) = (chunk.clone(), chunk);
        let include_usage = plan.include_usage;
        let sse = stream::sse(
            state,
            admitted,
            plan,
            SseStyle::Chat,
            Vec::new(),
            move |text| {
                Some(piece(
                    json!([{ "index": 0, "text": text, "finish_reason": null }]),
                ))
            },
            move |completion| {
                let finish = json!({
                    "index": 0, "text": "", "finish_reason": finish_reason(completion.stats.stop),
                });
                closing_chunks(completion, finish, include_usage, &last)
            },
        )
        .await?;
        return Ok(sse.into_response());
    }
    let completions = stream::run(&state, &plan).await?;
    drop(admitted);
    let logprobs = plan.request.logprobs.is_some();
    let choices: Vec<serde_json::Value> = completions
        .iter()
        .enumerate()
        .map(|(index, completion)| {
            json!({
                "index": index,
                "text": completion.text,
                "logprobs": logprobs.then(|| completion_logprobs(&completion.stats)),
                "finish_reason": finish_reason(completion.stats.stop),
                "soil": soil_extension(completion),
            })
        })
        .collect();
    let first = &completions[0];
    Ok(Json(json!({
        "id": format!("cmpl-{}", first.digest),
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": UsageCounts::of(&completions),
        "soil": soil_extension(first),
    }))
    .into_response())
}
