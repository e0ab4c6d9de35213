//! `POST /v1/responses`: OpenAI's Responses API over the same paid completion as chat — one `message`
//! output item with one `output_text` part, whole or as the API's named stream events.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::{
    Json,
    extract::{State, rejection::JsonRejection},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use super::soil_extension;
use crate::{
    model::StopReason,
    serve::{
        AppState, Completion,
        openai::{ApiError, created, rejection, responses::ResponsesRequest, stream_id},
        stream::{self, SseStyle},
    },
};

/// A response, whole or streamed.
pub(crate) async fn respond(
    State(state): State<AppState>,
    body: Result<Json<ResponsesRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|r| rejection(&r))?;
    let checked = body.plan(&state)?;
    let (mut plan, echo) = (checked.plan, checked.echo);
    let admitted = state.admission.admit()?;
    stream::fit_context(&state, &mut plan).await?;
    let shape = Shape {
        model: state.session.models()[plan.model].name().to_owned(),
        created: created(),
        echo,
    };
    if !plan.stream {
        let completion = stream::run(&state, &plan).await?.remove(0);
        drop(admitted);
        let id = completion.digest.to_string();
        let ids = Ids {
            response: format!("resp_{}", &id[2..]),
            message: format!("msg_{}", &id[2..]),
        };
        return Ok(Json(shape.response(&ids, Some(&completion))).into_response());
    }
    let id = stream_id("resp");
    let ids = Arc::new(Ids {
        message: id.replacen("resp-", "msg_", 1),
        response: id.replacen("resp-", "resp_", 1),
    });
    let numbers = Arc::new(AtomicU64::new(0));
    let event = {
        let numbers = Arc::clone(&numbers);
        move |kind: &str, mut fields: Value| {
            fields["type"] = json!(kind);
            fields["sequence_number"] = json!(numbers.fetch_add(1, Ordering::Relaxed));
            fields
        }
    };
    let started = shape.response(&ids, None);
    let item = json!({ "type": "message", "id": ids.message, "status": "in_progress",
                       "role": "assistant", "content": [] });
    let first = vec![
        event("response.created", json!({ "response": started })),
        event("response.in_progress", json!({ "response": started })),
        event(
            "response.output_item.added",
            json!({ "output_index": 0, "item": item }),
        ),
        event(
            "response.content_part.added",
            json!({ "item_id": ids.message, "output_index": 0, "content_index": 0,
                    "part": { "type": "output_text", "text": "", "annotations": [] } }),
        ),
    ];
    let (piece, last) = (event.clone(), event);
    let piece_ids = Arc::clone(&ids);
    let sse = stream::sse(
        state,
        admitted,
        plan,
        SseStyle::Responses,
        first,
        move |delta| {
            Some(piece(
                "response.output_text.delta",
                json!({ "item_id": piece_ids.message, "output_index": 0, "content_index": 0,
                        "delta": delta }),
            ))
        },
        move |completion| {
            let response = shape.response(&ids, Some(completion));
            let item = &response["output"][0];
            let part = &item["content"][0];
            let end = match response["status"].as_str() {
                Some("incomplete") => "response.incomplete",
                _ => "response.completed",
            };
            vec![
                last(
                    "response.output_text.done",
                    json!({ "item_id": ids.message, "output_index": 0, "content_index": 0,
                            "text": completion.text }),
                ),
                last(
                    "response.content_part.done",
                    json!({ "item_id": ids.message, "output_index": 0, "content_index": 0,
                            "part": part }),
                ),
                last(
                    "response.output_item.done",
                    json!({ "output_index": 0, "item": item }),
                ),
                last(end, json!({ "response": response })),
            ]
        },
    )
    .await?;
    Ok(sse.into_response())
}

/// A response's ids.
struct Ids {
    response: String,
    message: String,
}

/// What every response object of a request repeats.
struct Shape {
    model: String,
    created: u64,
    echo: Map<String, Value>,
}

impl Shape {
    /// The response object: in progress without `completion`, else its one output message, its status
    /// (`incomplete` when cut by `max_output_tokens`), usage and Soil's receipt extension.
    fn response(&self, ids: &Ids, completion: Option<&Completion>) -> Value {
        let (status, incomplete, output, usage, soil) = match completion {
            None => (
                "in_progress",
                Value::Null,
                json!([]),
                Value::Null,
                Value::Null,
            ),
            Some(completion) => {
                let stats = &completion.stats;
                let cut = stats.stop == StopReason::MaxTokens;
                let status = if cut { "incomplete" } else { "completed" };
                let item = json!({ "type": "message", "id": ids.message, "status": status,
                    "role": "assistant",
                    "content": [{ "type": "output_text", "text": completion.text, "annotations": [] }] });
                let usage = json!({
                    "input_tokens": stats.prompt_tokens,
                    "input_tokens_details": { "cached_tokens": stats.cached_prompt_tokens },
                    "output_tokens": stats.output_tokens,
                    "output_tokens_details": { "reasoning_tokens": 0 },
                    "total_tokens": stats.prompt_tokens + stats.output_tokens,
                });
                (
                    status,
                    if cut {
                        json!({ "reason": "max_output_tokens" })
                    } else {
                        Value::Null
                    },
                    json!([item]),
                    usage,
                    soil_extension(completion),
                )
            }
        };
        let mut response = json!({
            "id": ids.response, "object": "response", "created_at": self.created, "status": status,
            "error": null, "incomplete_details": incomplete, "model": self.model, "output": output,
            "parallel_tool_calls": false, "tool_choice": "none", "tools": [], "truncation": "disabled",
            "store": false, "usage": usage, "soil": soil,
        });
        if let Some(fields) = response.as_object_mut() {
            fields.extend(self.echo.clone());
        }
        response
    }
}
