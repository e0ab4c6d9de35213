//! `POST /v1/responses` request shape (OpenAI's Responses API), checked into the same [`Plan`] a chat
//! completion makes: text input or messages, `instructions`, `max_output_tokens`, `temperature`, `top_p`,
//! `text.format` (structured output), `stream`, `user`, `metadata` (echoed back). Responses are not
//! stored (`store: true` and `previous_response_id` are refused), and tools are served by the chat
//! endpoint only.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Common, Plan, refuse_extra};
use crate::{
    model::{ChatMessage, Prompt, Role},
    serve::{AppState, error::RequestError, structured},
};

/// `POST /v1/responses` body.
#[derive(Debug, Deserialize)]
pub(crate) struct ResponsesRequest {
    model: String,
    /// A string (one user message) or an array of message items.
    input: Value,
    /// A system message put before the input.
    instructions: Option<String>,
    max_output_tokens: Option<u32>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    /// `{"format": <text | json_object | json_schema>}`.
    text: Option<Value>,
    stream: Option<bool>,
    user: Option<String>,
    /// Up to 16 string pairs, echoed in the response.
    metadata: Option<Map<String, Value>>,
    /// Only `false`: responses are not stored.
    store: Option<bool>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// A checked Responses request: the plan, and what the response echoes.
#[derive(Debug)]
pub(crate) struct ResponsesPlan {
    /// What to generate.
    pub(crate) plan: Plan,
    /// The request's echo fields: `instructions`, `metadata`, `max_output_tokens`, `temperature`,
    /// `top_p`, `text`.
    pub(crate) echo: Map<String, Value>,
}

impl ResponsesRequest {
    /// Checks every field against `state`.
    pub(crate) fn plan(self, state: &AppState) -> Result<ResponsesPlan, RequestError> {
        refuse_extra("", &self.extra, responses_no_op)?;
        if self.store == Some(true) {
            return Err(RequestError::Unsupported {
                param: "store".to_owned(),
                reason: "responses are not stored by this server; send `store: false` or leave it out",
            });
        }
        if self.max_output_tokens == Some(0) {
            return Err(RequestError::OutOfRange {
                param: "max_output_tokens".to_owned(),
                range: "at least 1",
                value: "0".to_owned(),
            });
        }
        if let Some(metadata) = &self.metadata
            && (metadata.len() > 16 || metadata.values().any(|v| !v.is_string()))
        {
            return Err(RequestError::Invalid {
                param: "metadata".to_owned(),
                expected: "at most 16 string values",
            });
        }
        let grammar = match &self.text {
            None => None,
            Some(Value::Object(text)) => {
                refuse_extra("text.", &without(text, "format"), |_, _| false)?;
                match text.get("format") {
                    None | Some(Value::Null) => None,
                    Some(format) => structured::grammar(&chat_format(format))
                        .map_err(|error| rename(error, "response_format", "text.format"))?,
                }
            }
            Some(_) => {
                return Err(RequestError::Invalid {
                    param: "text".to_owned(),
                    expected: "an object `{\"format\": …}`",
                });
            }
        };
        let mut messages = Vec::new();
        if let Some(instructions) = &self.instructions {
            messages.push(ChatMessage::new(Role::System, instructions.clone()));
        }
        messages.extend(input_messages(self.input)?);
        let common = Common {
            model: self.model,
            stream: self.stream,
            max_tokens: self.max_output_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            user: self.user,
            ..Common::default()
        };
        let mut plan = common.plan(
            state,
            Prompt::Chat(messages),
            "input",
            self.max_output_tokens,
            None,
            |_, _| false,
        )?;
        plan.request.grammar = grammar;
        let mut echo = Map::new();
        echo.insert("instructions".into(), json!(self.instructions));
        echo.insert("metadata".into(), json!(self.metadata.unwrap_or_default()));
        echo.insert("max_output_tokens".into(), json!(self.max_output_tokens));
        echo.insert(
            "temperature".into(),
            json!(plan.request.sampling.temperature),
        );
        echo.insert("top_p".into(), json!(plan.request.sampling.top_p));
        echo.insert(
            "text".into(),
            self.text
                .unwrap_or_else(|| json!({ "format": { "type": "text" } })),
        );
        Ok(ResponsesPlan { plan, echo })
    }
}

/// Fields accepted when they ask for nothing this server does not do.
fn responses_no_op(field: &str, value: &Value) -> bool {
    match field {
        "parallel_tool_calls" | "background" => value == &Value::Bool(false),
        "tools" => value.as_array().is_some_and(Vec::is_empty),
        "tool_choice" => value == &json!("none") || value == &json!("auto"),
        "truncation" => value == &json!("disabled"),
        _ => false,
    }
}

/// `object` without `key`.
fn without(object: &Map<String, Value>, key: &str) -> Map<String, Value> {
    let mut rest = object.clone();
    rest.remove(key);
    rest
}

/// A Responses `text.format` in chat's `response_format` shape (the schema fields sit one level up).
fn chat_format(format: &Value) -> Value {
    match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => {
            let mut spec = format.as_object().cloned().unwrap_or_default();
            spec.remove("type");
            json!({ "type": "json_schema", "json_schema": spec })
        }
        _ => format.clone(),
    }
}

/// `error` with its `param` prefix `from` renamed `to`.
fn rename(error: RequestError, from: &str, to: &str) -> RequestError {
    let fix = |param: String| param.replacen(from, to, 1).replacen(".json_schema", "", 1);
    match error {
        RequestError::UnknownField { param } => RequestError::UnknownField { param: fix(param) },
        RequestError::Invalid { param, expected } => RequestError::Invalid {
            param: fix(param),
            expected,
        },
        RequestError::InvalidSchema { param, reason } => RequestError::InvalidSchema {
            param: fix(param),
            reason,
        },
        other => other,
    }
}

/// `input`: a non-empty string (one user message) or message items `{"role", "content"}` (optionally
/// `"type": "message"`) whose content is a string or `input_text` / `output_text` parts.
fn input_messages(input: Value) -> Result<Vec<ChatMessage>, RequestError> {
    let invalid = |param: String, expected: &'static str| RequestError::Invalid { param, expected };
    let items = match input {
        Value::String(text) if !text.is_empty() => {
            return Ok(vec![ChatMessage::new(Role::User, text)]);
        }
        Value::Array(items) if !items.is_empty() => items,
        _ => {
            return Err(invalid(
                "input".into(),
                "a non-empty string or array of messages",
            ));
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let at = |field: &str| format!("input[{i}]{field}");
            let Value::Object(item) = item else {
                return Err(invalid(at(""), "a message `{\"role\", \"content\"}`"));
            };
            if let Some(key) = item
                .keys()
                .find(|k| !["type", "role", "content"].contains(&k.as_str()))
            {
                return Err(RequestError::UnknownField {
                    param: at(&format!(".{key}")),
                });
            }
            if item.get("type").is_some_and(|t| t != "message") {
                return Err(RequestError::Unsupported {
                    param: at(".type"),
                    reason: "only `message` items are supported",
                });
            }
            let role = match item.get("role").and_then(Value::as_str) {
                Some("user") => Role::User,
                Some("assistant") => Role::Assistant,
                Some("system" | "developer") => Role::System,
                _ => {
                    return Err(invalid(
                        at(".role"),
                        "one of user, assistant, system, developer",
                    ));
                }
            };
            let content = match item.get("content") {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .enumerate()
                    .map(|(j, part)| {
                        let kind = part.get("type").and_then(Value::as_str);
                        match (kind, part.get("text").and_then(Value::as_str)) {
                            (Some("input_text" | "output_text"), Some(text)) => Ok(text),
                            _ => Err(RequestError::Unsupported {
                                param: at(&format!(".content[{j}]")),
                                reason: "only `input_text` and `output_text` parts are supported",
                            }),
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join("\n"),
                _ => {
                    return Err(invalid(
                        at(".content"),
                        "a string or an array of text parts",
                    ));
                }
            };
            Ok(ChatMessage::new(role, content))
        })
        .collect()
}
