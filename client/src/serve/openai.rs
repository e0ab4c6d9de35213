//! OpenAI wire shapes: requests (every field honoured or refused with a 400 naming it, see
//! docs/OPERATIONS.md), responses, stream chunks and errors.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{
    AppState, Completion,
    error::RequestError,
    tools::{calls_as_text, tool_use},
};
use crate::model::{
    ChatMessage, GenerationRequest, GenerationStats, Prompt, Role, Sampling, StopReason,
};

/// The most choices one request may ask for (`n`).
const MAX_CHOICES: u32 = 8;

/// The most stop strings one request may give (`stop`), as OpenAI allows.
const MAX_STOPS: usize = 4;

/// The most alternatives per token a chat request may ask for (`top_logprobs`), as OpenAI allows.
const MAX_TOP_LOGPROBS: u32 = 20;

/// The most alternatives per token a text completion may ask for (`logprobs`), as OpenAI allows.
const MAX_COMPLETION_LOGPROBS: u32 = 5;

pub(crate) mod responses;

/// Fields chat and text completions share (and the Responses API maps onto).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Common {
    model: String,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    seed: Option<i64>,
    n: Option<u32>,
    stop: Option<Stop>,
    presence_penalty: Option<f32>,
    frequency_penalty: Option<f32>,
    user: Option<String>,
    /// Every other field: refused unless `null` or a value that asks for nothing beyond the default.
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// `stream_options`.
#[derive(Debug, Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// `stop`: one string or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

/// `POST /v1/chat/completions` body.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatRequest {
    messages: Vec<WireMessage>,
    max_completion_tokens: Option<u32>,
    logprobs: Option<bool>,
    top_logprobs: Option<u32>,
    /// `text`, `json_object` or `json_schema` (see [`super::structured`]).
    response_format: Option<Value>,
    /// Functions the model may call (see [`super::tools`]).
    tools: Option<Value>,
    tool_choice: Option<Value>,
    parallel_tool_calls: Option<bool>,
    #[serde(flatten)]
    common: Common,
}

/// One chat message as sent.
#[derive(Debug, Deserialize)]
struct WireMessage {
    role: String,
    /// A string, an array of text parts, or `null` (an assistant turn that only called tools).
    content: Option<Value>,
    tool_calls: Option<Value>,
    tool_call_id: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// `POST /v1/completions` body.
#[derive(Debug, Deserialize)]
pub(crate) struct CompletionRequest {
    prompt: Value,
    /// How many alternatives to report with each token's log-probability.
    logprobs: Option<u32>,
    #[serde(flatten)]
    common: Common,
}

/// A request checked field by field: what to generate, and how to answer.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The generation of each choice (choice `i` draws with `seed + i`).
    pub(crate) request: GenerationRequest,
    /// Which of the session's served models runs it (an index into [`super::Session::models`]).
    pub(crate) model: usize,
    /// Whether the request set the most tokens to generate (else the server's default, cut to the room
    /// the context leaves).
    pub(crate) max_tokens_given: bool,
    /// The field the prompt came in: `messages` or `prompt`.
    pub(crate) prompt_param: &'static str,
    /// How many choices (`n`).
    pub(crate) choices: u32,
    /// Whether to answer with server-sent events.
    pub(crate) stream: bool,
    /// Whether a stream ends with a chunk carrying `usage` (`stream_options.include_usage`).
    pub(crate) include_usage: bool,
    /// Whether the answer is tool-constrained JSON, read back as `tool_calls` or `content`.
    pub(crate) tools: bool,
}

impl ChatRequest {
    /// Checks every field against `state` and turns the messages into the model's chat prompt.
    pub(crate) fn plan(self, state: &AppState) -> Result<Plan, RequestError> {
        let max_tokens = match (self.max_completion_tokens, self.common.max_tokens) {
            (Some(0), _) => return Err(at_least_one("max_completion_tokens")),
            (Some(given), Some(other)) if given != other => {
                return Err(RequestError::Invalid {
                    param: "max_tokens".to_owned(),
                    expected: "left out or equal to `max_completion_tokens`",
                });
            }
            (given, other) => given.or(other),
        };
        let logprobs = match (self.logprobs, self.top_logprobs) {
            (Some(true), Some(top)) if top > MAX_TOP_LOGPROBS => {
                return Err(out_of_range("top_logprobs", "between 0 and 20", top));
            }
            (Some(true), top) => Some(top.unwrap_or(0) as usize),
            (_, Some(_)) => {
                return Err(RequestError::Invalid {
                    param: "top_logprobs".to_owned(),
                    expected: "given only with `logprobs: true`",
                });
            }
            (_, None) => None,
        };
        let format = self
            .response_format
            .as_ref()
            .map(super::structured::grammar)
            .transpose()?
            .flatten();
        let tools = tool_use(
            self.tools.as_ref(),
            self.tool_choice.as_ref(),
            self.parallel_tool_calls,
        )?;
        if format.is_some() && tools.is_some() {
            return Err(RequestError::Unsupported {
                param: "response_format".to_owned(),
                reason: "a JSON response format cannot be combined with tools the model may call",
            });
        }
        let mut messages = chat_messages(self.messages)?;
        if let Some(tools) = &tools {
            tools.instruct(&mut messages);
        }
        let mut plan = self.common.plan(
            state,
            Prompt::Chat(messages),
            "messages",
            max_tokens,
            logprobs,
            chat_no_op,
        )?;
        plan.tools = tools.is_some();
        plan.request.grammar = format.or(tools.map(|tools| tools.grammar));
        Ok(plan)
    }
}

impl CompletionRequest {
    /// Checks every field against `state`.
    pub(crate) fn plan(self, state: &AppState) -> Result<Plan, RequestError> {
        let prompt = match self.prompt {
            Value::String(text) if !text.is_empty() => text,
            _ => {
                return Err(RequestError::Invalid {
                    param: "prompt".to_owned(),
                    expected: "a non-empty string (token arrays and lists of prompts are not supported)",
                });
            }
        };
        if let Some(top) = self.logprobs
            && top > MAX_COMPLETION_LOGPROBS
        {
            return Err(out_of_range("logprobs", "between 0 and 5", top));
        }
        let max_tokens = self.common.max_tokens;
        self.common.plan(
            state,
            Prompt::Raw(prompt),
            "prompt",
            max_tokens,
            self.logprobs.map(|top| top as usize),
            completion_no_op,
        )
    }
}

impl Common {
    /// Checks the model name and every shared field, and merges the sampling fields over the server's
    /// defaults.
    fn plan(
        self,
        state: &AppState,
        prompt: Prompt,
        prompt_param: &'static str,
        max_tokens: Option<u32>,
        logprobs: Option<usize>,
        no_op: fn(&str, &Value) -> bool,
    ) -> Result<Plan, RequestError> {
        let model = state.model_index(&self.model)?;
        refuse_extra("", &self.extra, no_op)?;
        if max_tokens == Some(0) {
            return Err(at_least_one("max_tokens"));
        }
        let stream = self.stream.unwrap_or(false);
        let include_usage = match self.stream_options {
            None => false,
            Some(_) if !stream => {
                return Err(RequestError::Invalid {
                    param: "stream_options".to_owned(),
                    expected: "given only with `stream: true`",
                });
            }
            Some(options) => {
                refuse_extra("stream_options.", &options.extra, |_, _| false)?;
                options.include_usage.unwrap_or(false)
            }
        };
        let choices = self.n.unwrap_or(1);
        if !(1..=MAX_CHOICES).contains(&choices) {
            return Err(out_of_range("n", "between 1 and 8", choices));
        }
        if logprobs.is_some() && stream {
            return Err(RequestError::Unsupported {
                param: "logprobs".to_owned(),
                reason: "log-probabilities are not streamed; ask without `stream`",
            });
        }
        if choices > 1 && stream {
            return Err(RequestError::Unsupported {
                param: "n".to_owned(),
                reason: "more than one choice cannot be streamed; ask without `stream`",
            });
        }
        let defaults = &state.defaults;
        let temperature = checked("temperature", self.temperature, |t| {
            (0.0..=2.0).contains(&t)
        })?;
        let top_p = checked("top_p", self.top_p, |p| p > 0.0 && p <= 1.0)?;
        let presence = checked("presence_penalty", self.presence_penalty, is_penalty)?;
        let frequency = checked("frequency_penalty", self.frequency_penalty, is_penalty)?;
        let stop = match self.stop {
            None => Vec::new(),
            Some(Stop::One(stop)) => vec![stop],
            Some(Stop::Many(stops)) => stops,
        };
        if stop.len() > MAX_STOPS {
            return Err(out_of_range("stop", "at most 4 strings", stop.len()));
        }
        if stop.iter().any(String::is_empty) {
            return Err(RequestError::Invalid {
                param: "stop".to_owned(),
                expected: "a non-empty string or a list of up to 4 non-empty strings",
            });
        }
        if let Some(user) = &self.user {
            tracing::debug!(user, "request on behalf of an end user");
        }
        let sampling = Sampling {
            temperature: temperature.unwrap_or(defaults.temperature),
            top_p: top_p.unwrap_or(defaults.top_p),
            seed: self.seed.map_or(defaults.seed, seed_bits),
            max_tokens: max_tokens.unwrap_or(defaults.max_tokens),
            presence_penalty: presence.unwrap_or(defaults.presence_penalty),
            frequency_penalty: frequency.unwrap_or(defaults.frequency_penalty),
        };
        Ok(Plan {
            request: GenerationRequest {
                prompt,
                sampling,
                stop,
                logprobs,
                grammar: None,
                adapter: None,
            },
            model,
            max_tokens_given: max_tokens.is_some(),
            prompt_param,
            choices,
            stream,
            include_usage,
            tools: false,
        })
    }
}

/// OpenAI's seeds are 64-bit, llama.cpp's 32: the two halves folded together (seeds below 2³² unchanged).
fn seed_bits(seed: i64) -> u32 {
    let bits = seed as u64;
    (bits ^ (bits >> 32)) as u32
}

fn is_penalty(penalty: f32) -> bool {
    (-2.0..=2.0).contains(&penalty)
}

/// `value` when it passes `ok` (or is absent), else an error naming `param` and its range.
fn checked(
    param: &str,
    value: Option<f32>,
    ok: fn(f32) -> bool,
) -> Result<Option<f32>, RequestError> {
    match value {
        Some(v) if !ok(v) => Err(out_of_range(
            param,
            match param {
                "temperature" => "between 0 and 2",
                "top_p" => "greater than 0 and at most 1",
                _ => "between -2 and 2",
            },
            v,
        )),
        _ => Ok(value),
    }
}

fn out_of_range(param: &str, range: &'static str, value: impl std::fmt::Display) -> RequestError {
    RequestError::OutOfRange {
        param: param.to_owned(),
        range,
        value: value.to_string(),
    }
}

fn at_least_one(param: &str) -> RequestError {
    out_of_range(param, "at least 1", 0)
}

/// Refuses every field of `extra` (named `prefix` + its key) that is neither `null` nor a `no_op` value.
pub(crate) fn refuse_extra(
    prefix: &str,
    extra: &Map<String, Value>,
    no_op: fn(&str, &Value) -> bool,
) -> Result<(), RequestError> {
    let Some((key, _)) = extra
        .iter()
        .find(|(key, value)| !value.is_null() && !no_op(key, value))
    else {
        return Ok(());
    };
    let param = format!("{prefix}{key}");
    Err(match key.as_str() {
        "functions" | "function_call" => RequestError::Unsupported {
            param,
            reason: "deprecated by OpenAI; give `tools` and `tool_choice` instead",
        },
        _ => RequestError::UnknownField { param },
    })
}

/// Chat fields accepted when they ask for nothing beyond the default.
fn chat_no_op(field: &str, value: &Value) -> bool {
    match field {
        "logit_bias" => value.as_object().is_some_and(Map::is_empty),
        _ => false,
    }
}

/// Text-completion fields accepted when they ask for nothing beyond the default.
fn completion_no_op(field: &str, value: &Value) -> bool {
    match field {
        "echo" => value == &Value::Bool(false),
        "best_of" => value == &json!(1),
        "logit_bias" => value.as_object().is_some_and(Map::is_empty),
        _ => false,
    }
}

/// The model's chat prompt: at least one message, not ending with the assistant's.
fn chat_messages(messages: Vec<WireMessage>) -> Result<Vec<ChatMessage>, RequestError> {
    let messages = messages
        .into_iter()
        .enumerate()
        .map(|(i, message)| message.into_chat(i))
        .collect::<Result<Vec<_>, _>>()?;
    match messages.last() {
        None => Err(RequestError::Invalid {
            param: "messages".to_owned(),
            expected: "a list of at least one message",
        }),
        Some(last) if last.role == Role::Assistant => Err(RequestError::Invalid {
            param: "messages".to_owned(),
            expected: "a conversation whose last message is not the assistant's",
        }),
        Some(_) => Ok(messages),
    }
}

impl WireMessage {
    /// Message `i` as the chat template gets it: `developer` is `system`; a `tool` result is a turn of
    /// its own; text parts are joined by newlines; an assistant's `null` content is empty.
    fn into_chat(self, i: usize) -> Result<ChatMessage, RequestError> {
        let param = |field: &str| format!("messages[{i}].{field}");
        refuse_extra(&param(""), &self.extra, |_, _| false)?;
        let role = match self.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            _ => {
                return Err(RequestError::Invalid {
                    param: param("role"),
                    expected: "one of system, developer, user, assistant, tool",
                });
            }
        };
        let calls = match self.tool_calls {
            None | Some(Value::Null) => None,
            Some(Value::Array(calls)) if calls.is_empty() => None,
            Some(_) if role != Role::Assistant => {
                return Err(RequestError::Invalid {
                    param: param("tool_calls"),
                    expected: "given only on an `assistant` message",
                });
            }
            Some(calls) => Some(calls_as_text(&calls, &param("tool_calls"))?),
        };
        if self.tool_call_id.is_some() && role != Role::Tool {
            return Err(RequestError::Invalid {
                param: param("tool_call_id"),
                expected: "given only on a `tool` message",
            });
        }
        let content = match self.content {
            None if role == Role::Assistant => String::new(),
            Some(Value::String(text)) => text,
            Some(Value::Array(parts)) => parts
                .iter()
                .enumerate()
                .map(|(j, part)| text_part(part, i, j))
                .collect::<Result<Vec<_>, _>>()?
                .join("\n"),
            _ => {
                return Err(RequestError::Invalid {
                    param: param("content"),
                    expected: "a string or an array of text parts",
                });
            }
        };
        // An assistant turn that called tools reads as the JSON the model answers calls in (after its
        // text, if it had any).
        let content = match calls {
            Some(calls) if content.is_empty() => calls,
            Some(calls) => format!("{content}\n{calls}"),
            None => content,
        };
        Ok(ChatMessage::new(role, content))
    }
}

/// The text of part `j` of message `i`: `{"type": "text", "text": ...}`, nothing else.
fn text_part(part: &Value, i: usize, j: usize) -> Result<&str, RequestError> {
    let param = |field: &str| format!("messages[{i}].content[{j}].{field}");
    if part.get("type").and_then(Value::as_str) != Some("text") {
        return Err(RequestError::Unsupported {
            param: param("type"),
            reason: "only text parts are supported",
        });
    }
    if let Some(key) = part
        .as_object()
        .and_then(|part| part.keys().find(|key| *key != "type" && *key != "text"))
    {
        return Err(RequestError::UnknownField { param: param(key) });
    }
    part.get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| RequestError::Invalid {
            param: param("text"),
            expected: "a string",
        })
}

/// Token counts, as OpenAI reports them.
#[derive(Debug, Serialize)]
pub(crate) struct UsageCounts {
    pub(crate) prompt_tokens: u32,
    pub(crate) completion_tokens: u32,
    pub(crate) total_tokens: u32,
    pub(crate) prompt_tokens_details: PromptTokensDetails,
}

/// What OpenAI reports of the prompt's tokens: here, how many came from the prompt cache (billed like the
/// rest: a receipt prices every prompt token).
#[derive(Debug, Serialize)]
pub(crate) struct PromptTokensDetails {
    pub(crate) cached_tokens: u32,
}

impl UsageCounts {
    /// The usage of a request answered by `completions` (its choices): the prompt counted once, as OpenAI
    /// does, the completion tokens of every choice added up. (Each choice's receipt bills its own
    /// evaluation of the prompt.)
    pub(crate) fn of(completions: &[Completion]) -> Self {
        let first = completions.first().map(|c| &c.stats);
        let prompt_tokens = first.map_or(0, |stats| stats.prompt_tokens);
        let completion_tokens = completions.iter().map(|c| c.stats.output_tokens).sum();
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens_details: PromptTokensDetails {
                cached_tokens: first.map_or(0, |stats| stats.cached_prompt_tokens),
            },
        }
    }
}

/// A chat choice's `logprobs`: each token with its log-probability and the alternatives asked for.
pub(crate) fn chat_logprobs(stats: &GenerationStats) -> Value {
    let entry = |bytes: &[u8], logprob: f32| json!({ "token": String::from_utf8_lossy(bytes), "logprob": logprob, "bytes": bytes });
    let content: Vec<Value> = stats
        .logprobs
        .iter()
        .map(|token| {
            let mut value = entry(&token.bytes, token.logprob);
            value["top_logprobs"] = token
                .top
                .iter()
                .map(|(bytes, logprob)| entry(bytes, *logprob))
                .collect();
            value
        })
        .collect();
    json!({ "content": content })
}

/// A text completion choice's `logprobs`: the legacy shape (tokens, their log-probabilities, a map of the
/// alternatives per token, and each token's character offset in the text).
pub(crate) fn completion_logprobs(stats: &GenerationStats) -> Value {
    let tokens: Vec<String> = stats
        .logprobs
        .iter()
        .map(|token| String::from_utf8_lossy(&token.bytes).into_owned())
        .collect();
    let offsets: Vec<usize> = tokens
        .iter()
        .scan(0, |offset, token| {
            let start = *offset;
            *offset += token.chars().count();
            Some(start)
        })
        .collect();
    let top: Vec<Map<String, Value>> = stats
        .logprobs
        .iter()
        .map(|token| {
            token
                .top
                .iter()
                .map(|(bytes, logprob)| {
                    (String::from_utf8_lossy(bytes).into_owned(), json!(logprob))
                })
                .collect()
        })
        .collect();
    let logprobs: Vec<f32> = stats.logprobs.iter().map(|token| token.logprob).collect();
    json!({ "tokens": tokens, "token_logprobs": logprobs, "top_logprobs": top, "text_offset": offsets })
}

/// OpenAI's `finish_reason`.
pub(crate) fn finish_reason(stop: StopReason) -> &'static str {
    match stop {
        StopReason::EndOfGeneration | StopReason::StopString => "stop",
        StopReason::MaxTokens | StopReason::ContextFull => "length",
    }
}

/// An error in OpenAI's JSON shape: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    param: Option<String>,
    code: Option<&'static str>,
    /// Seconds for the `Retry-After` header.
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: String) -> Self {
        Self {
            status,
            kind,
            message,
            param: None,
            code: None,
            retry_after: None,
        }
    }

    /// The same error with OpenAI's `code`.
    pub(crate) fn with_code(self, code: &'static str) -> Self {
        Self {
            code: Some(code),
            ..self
        }
    }

    /// The same error answered with `Retry-After: seconds`.
    pub(crate) fn with_retry_after(self, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..self
        }
    }

    pub(crate) fn bad_request(message: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// A failed completion: 402 when the payer's deposit, or its channel, cannot cover it (nothing was
    /// generated), else 500.
    pub(crate) fn from_client(err: &crate::error::ClientError) -> Self {
        use crate::error::ClientError;
        match err {
            ClientError::InsufficientDeposit { .. }
            | ClientError::ChannelDepositShort(_)
            | ClientError::UnusableChannel { .. } => Self::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_deposit",
                err.to_string(),
            ),
            _ => Self::internal(err),
        }
    }

    pub(crate) fn internal(err: &crate::error::ClientError) -> Self {
        Self::server_failure("completion", err)
    }

    /// A 404 for something this server does not hold.
    pub(crate) fn not_found(message: String) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found_error", message)
    }

    /// A 500 for this server's own failure at `what`, logged.
    pub(crate) fn server_failure(what: &str, err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{what} failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            err.to_string(),
        )
    }

    /// The JSON body (also sent as an SSE event when a stream fails midway).
    pub(crate) fn body(&self) -> serde_json::Value {
        json!({ "error": {
            "message": self.message, "type": self.kind, "param": self.param, "code": self.code,
        } })
    }
}

impl From<RequestError> for ApiError {
    fn from(err: RequestError) -> Self {
        Self {
            status: err.status(),
            kind: "invalid_request_error",
            message: err.to_string(),
            param: err.param(),
            code: err.code(),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// Rejections of malformed JSON bodies, turned into OpenAI-style errors.
pub(crate) fn rejection(rejection: &axum::extract::rejection::JsonRejection) -> ApiError {
    ApiError::bad_request(format!("invalid request body: {}", rejection.body_text()))
}

/// The id of a streamed response: `<prefix>-<keccak256 of (process, time in ns, stream number)>`, unique
/// per stream (a plain response's id is its receipt's digest, which a stream only knows at its end; its
/// last chunk carries it in the `soil` extension).
pub(crate) fn stream_id(prefix: &str) -> String {
    static STREAMS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let number = STREAMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{}:{nanos}:{number}", std::process::id());
    format!("{prefix}-{}", alloy::primitives::keccak256(seed))
}

/// Now, in Unix seconds: a response's `created`.
pub(crate) fn created() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
