//! `POST /v1/chat/completions`.

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{closing_chunks, soil_extension};
use crate::serve::{
    AppState, Completion,
    openai::{
        ApiError, ChatRequest, UsageCounts, chat_logprobs, created, finish_reason, rejection,
        stream_id,
    },
    stream::{self, SseStyle},
    tools::{Answer, read_answer, tool_calls_json},
};

/// A chat completion (one or `n` choices), whole or streamed.
pub(crate) async fn complete(
    State(state): State<AppState>,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|r| rejection(&r))?;
    let mut plan = body.plan(&state)?;
    let admitted = state.admission.admit()?;
    stream::fit_context(&state, &mut plan).await?;
    let model = state.session.models()[plan.model].name().to_owned();
    let created = created();
    if plan.stream {
        let id = stream_id("chatcmpl");
        let chunk = move |choices: serde_json::Value| {
            json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": choices,
            })
        };
        let (piece, last) = (chunk.clone(), chunk.clone());
        let first = chunk(json!([{
            "index": 0, "delta": { "role": "assistant", "content": "" }, "finish_reason": null,
        }]));
        let (include_usage, tools) = (plan.include_usage, plan.tools);
        let sse = stream::sse(
            state,
            admitted,
            plan,
            SseStyle::Chat,
            vec![first],
            // A tool-constrained answer is JSON to read back whole: it is sent once complete.
            move |text| {
                (!tools).then(|| {
                    piece(json!([{ "index": 0, "delta": { "content": text }, "finish_reason": null }]))
                })
            },
            move |completion| {
                let (delta, finish) = match tools.then(|| answer(completion)) {
                    Some((message, finish)) => {
                        let mut delta = json!({});
                        for field in ["content", "tool_calls"] {
                            if !message[field].is_null() {
                                delta[field] = message[field].clone();
                            }
                        }
                        (Some(delta), finish)
                    }
                    None => (None, finish_reason(completion.stats.stop)),
                };
                let mut chunks: Vec<serde_json::Value> = delta
                    .map(|delta| last(json!([{ "index": 0, "delta": delta, "finish_reason": null }])))
                    .into_iter()
                    .collect();
                let finish = json!({ "index": 0, "delta": {}, "finish_reason": finish });
                chunks.extend(closing_chunks(completion, finish, include_usage, &last));
                chunks
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
            let (message, finish) = if plan.tools {
                answer(completion)
            } else {
                (
                    json!({ "role": "assistant", "content": completion.text }),
                    finish_reason(completion.stats.stop),
                )
            };
            json!({
                "index": index,
                "message": message,
                "logprobs": logprobs.then(|| chat_logprobs(&completion.stats)),
                "finish_reason": finish,
                "soil": soil_extension(completion),
            })
        })
        .collect();
    let first = &completions[0];
    Ok(Json(json!({
        "id": format!("chatcmpl-{}", first.digest),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": UsageCounts::of(&completions),
        "soil": soil_extension(first),
    }))
    .into_response())
}

/// The assistant message and finish reason of a tool-constrained completion: its calls (each with an id
/// derived from the receipt's digest) and `tool_calls`, or its text response.
fn answer(completion: &Completion) -> (serde_json::Value, &'static str) {
    match read_answer(&completion.text) {
        Answer::Calls(calls) => (
            json!({ "role": "assistant", "content": null,
                    "tool_calls": tool_calls_json(&calls, completion.digest, true) }),
            "tool_calls",
        ),
        Answer::Text(text) => (
            json!({ "role": "assistant", "content": text }),
            finish_reason(completion.stats.stop),
        ),
    }
}
