//! OpenAI request fields over HTTP: each honoured field changes what comes back (and what is billed), each
//! refused one answers a 400 naming it; context overflow and unknown routes answer in OpenAI's error shape.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

/// A client whose every request is bounded: a server that stops answering fails the test with its log.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// POSTs `body` to `base` + `path`; returns the status and the JSON body (`Null` when it is not JSON).
pub(crate) async fn post(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = http()
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// POSTs `body`, asserts a 200, returns the JSON.
pub(crate) async fn ok(base: &str, path: &str, body: &Value) -> Value {
    let (status, value) = post(base, path, body).await;
    assert_eq!(status, 200, "{body} -> {value}");
    value
}

/// POSTs a streamed `body`, asserts a 200, returns the JSON chunks (the body must end with `[DONE]`).
async fn chunks(base: &str, path: &str, body: &Value) -> Vec<Value> {
    let response = http()
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"), "{text}");
    events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

/// The text of a chat answer's first choice.
fn content(chat: &Value) -> &str {
    chat["choices"][0]["message"]["content"].as_str().unwrap()
}

/// The completion tokens a response reports, checked against the output tokens its receipt signs.
fn billed(response: &Value, choice: usize) -> u64 {
    let signed = response["choices"][choice]["soil"]["output_tokens"]
        .as_u64()
        .unwrap();
    if response["choices"].as_array().unwrap().len() == 1 {
        assert_eq!(
            response["usage"]["completion_tokens"].as_u64(),
            Some(signed),
            "the receipt bills what was generated: {response}"
        );
    }
    signed
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_fields_are_honoured() {
    let env = Env::start().await;
    let market = market(&env).await;
    let (_server, base) = serve_market(&env, &market, &["--max-tokens", "24"]);
    let name = format!("soil-{}", market.model);
    let chat = "/v1/chat/completions";
    let text = "/v1/completions";
    let mut receipts = 0;

    // Content as text parts reads as the same string.
    let question = "What do bees make?";
    let parts = json!({ "model": name, "temperature": 0, "max_tokens": 24, "user": "alice",
        "messages": [{ "role": "user", "content": [{ "type": "text", "text": question }] }] });
    let whole = ok(&base, chat, &parts).await;
    let mut plain = parts.clone();
    plain["messages"][0]["content"] = json!(question);
    assert_eq!(content(&ok(&base, chat, &plain).await), content(&whole));
    receipts += 2;
    let full = content(&whole).to_owned();
    let full_tokens = billed(&whole, 0);
    assert!(full.chars().count() >= 12, "{full}");

    // stop: the text ends before the first stop string, which is neither returned nor streamed.
    let at = full.char_indices().nth(full.chars().count() / 2).unwrap().0;
    let stop: String = full[at..].chars().take(3).collect();
    let expected = &full[..full.find(&stop).unwrap()];
    let mut stopped = plain.clone();
    stopped["stop"] = json!([stop, "never in this text ~~~"]);
    let answer = ok(&base, chat, &stopped).await;
    assert_eq!(content(&answer), expected, "stop {stop:?}");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert!(billed(&answer, 0) <= full_tokens);
    // With log-probabilities: every token kept begins before the cut (none only spelled the stop string).
    let mut scored = stopped.clone();
    scored["logprobs"] = json!(true);
    let answer = ok(&base, chat, &scored).await;
    let tokens: Vec<&str> = answer["choices"][0]["logprobs"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token"].as_str().unwrap())
        .collect();
    let spelled = tokens.concat();
    assert!(spelled.starts_with(expected), "{spelled:?} {expected:?}");
    assert!(
        spelled.len() - tokens.last().unwrap().len() < expected.len().max(1),
        "{spelled:?}"
    );
    receipts += 1;
    stopped["stream"] = json!(true);
    let streamed = chunks(&base, chat, &stopped).await;
    let streamed_text: String = streamed
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(streamed_text, expected);
    assert!(streamed.iter().all(|c| c.get("usage").is_none()));
    receipts += 2;

    // max_completion_tokens: five tokens generated, five billed.
    let mut short = plain.clone();
    short.as_object_mut().unwrap().remove("max_tokens");
    short["max_completion_tokens"] = json!(5);
    let answer = ok(&base, chat, &short).await;
    assert_eq!(billed(&answer, 0), 5, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    receipts += 1;

    // n: two choices, each its own generation and signed receipt.
    let two = json!({ "model": name, "prompt": "Honey bees are", "max_tokens": 8, "temperature": 0.9,
                      "seed": 7, "n": 2 });
    let answer = ok(&base, text, &two).await;
    let choices = answer["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2, "{answer}");
    assert_eq!(
        (choices[0]["index"].as_u64(), choices[1]["index"].as_u64()),
        (Some(0), Some(1))
    );
    assert_ne!(choices[0]["soil"]["receipt"], choices[1]["soil"]["receipt"]);
    assert_eq!(
        answer["usage"]["completion_tokens"].as_u64().unwrap(),
        billed(&answer, 0) + billed(&answer, 1)
    );
    receipts += 2;

    // seed: the same seed draws the same text at a high temperature, another seed another text.
    let drawn = json!({ "model": name, "prompt": "Honey bees are", "max_tokens": 12, "temperature": 1.5,
                        "top_p": 1, "seed": 42 });
    let first = ok(&base, text, &drawn).await;
    let again = ok(&base, text, &drawn).await;
    let mut other = drawn.clone();
    other["seed"] = json!(43);
    let other = ok(&base, text, &other).await;
    assert_eq!(first["choices"][0]["text"], again["choices"][0]["text"]);
    assert_ne!(first["choices"][0]["text"], other["choices"][0]["text"]);
    receipts += 3;

    // stream_options.include_usage: a last chunk with empty choices and the usage.
    let mut counted = plain.clone();
    counted["max_tokens"] = json!(6);
    counted["stream"] = json!(true);
    counted["stream_options"] = json!({ "include_usage": true });
    let streamed = chunks(&base, chat, &counted).await;
    let (last, rest) = streamed.split_last().unwrap();
    assert_eq!(last["choices"], json!([]), "{last}");
    let usage = &last["usage"];
    assert_eq!(usage["completion_tokens"], json!(6), "{last}");
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + 6
    );
    assert_eq!(
        rest.last().unwrap()["choices"][0]["finish_reason"],
        "length"
    );
    assert!(rest.iter().all(|c| c.get("usage").is_none()));
    receipts += 1;

    // presence_penalty / frequency_penalty: greedy decoding of a repetitive prompt changes.
    let repeat = json!({ "model": name, "prompt": "one one one one one one one one", "max_tokens": 12,
                         "temperature": 0 });
    let mut penalized = repeat.clone();
    penalized["presence_penalty"] = json!(2);
    penalized["frequency_penalty"] = json!(2);
    let repeated = ok(&base, text, &repeat).await;
    let penalized = ok(&base, text, &penalized).await;
    assert_ne!(
        repeated["choices"][0]["text"], penalized["choices"][0]["text"],
        "{repeated} {penalized}"
    );
    receipts += 2;

    // A tool-result turn after an assistant turn with null content, and a developer message.
    let turns = json!({ "model": name, "max_tokens": 4, "temperature": 0, "messages": [
        { "role": "developer", "content": "Answer briefly." },
        { "role": "user", "content": "What is 2 + 2?" },
        { "role": "assistant", "content": null },
        { "role": "tool", "tool_call_id": "call_1", "content": "4" },
    ] });
    let answer = ok(&base, chat, &turns).await;
    assert_eq!(answer["choices"][0]["message"]["role"], "assistant");
    receipts += 1;

    // logprobs: each generated token with its log-probability and the alternatives asked for; greedy
    // picks the most likely one.
    let mut scored = plain.clone();
    scored["max_tokens"] = json!(4);
    scored["logprobs"] = json!(true);
    scored["top_logprobs"] = json!(2);
    let answer = ok(&base, chat, &scored).await;
    let tokens = answer["choices"][0]["logprobs"]["content"]
        .as_array()
        .unwrap();
    assert_eq!(tokens.len() as u64, billed(&answer, 0), "{answer}");
    let spelled: String = tokens
        .iter()
        .map(|t| t["token"].as_str().unwrap())
        .collect();
    assert_eq!(spelled, content(&answer));
    for token in tokens {
        let top = token["top_logprobs"].as_array().unwrap();
        assert_eq!(top.len(), 2, "{token}");
        assert_eq!(top[0]["token"], token["token"], "{token}");
        assert_eq!(top[0]["logprob"], token["logprob"], "{token}");
        assert!(top[1]["logprob"].as_f64() <= top[0]["logprob"].as_f64());
        assert!(token["logprob"].as_f64().unwrap() <= 0.0);
    }
    let scored = json!({ "model": name, "prompt": "Honey bees are", "max_tokens": 4, "temperature": 0,
                         "logprobs": 1 });
    let answer = ok(&base, text, &scored).await;
    let logprobs = &answer["choices"][0]["logprobs"];
    let spelled: String = logprobs["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(spelled, answer["choices"][0]["text"].as_str().unwrap());
    assert_eq!(logprobs["token_logprobs"].as_array().unwrap().len(), 4);
    assert_eq!(logprobs["top_logprobs"][0].as_object().unwrap().len(), 1);
    assert!(whole["choices"][0]["logprobs"].is_null());
    receipts += 2;

    // Structured output: the grammar makes every answer JSON, and JSON matching the schema.
    let person = json!({ "type": "object", "additionalProperties": false, "required": ["name", "age"],
        "properties": { "name": { "type": "string", "maxLength": 20 },
                        "age": { "type": "integer", "minimum": 0, "maximum": 150 } } });
    let formats = [
        (
            json!({ "type": "json_object" }),
            "Reply with a JSON object whose one key \"colour\" names a colour.",
        ),
        (
            json!({ "type": "json_schema",
                    "json_schema": { "name": "person", "strict": true, "schema": person } }),
            "Describe Ada Lovelace as JSON.",
        ),
    ];
    for (format, question) in formats {
        let body = json!({ "model": name, "max_tokens": 64, "temperature": 0, "response_format": format,
            "messages": [{ "role": "user", "content": question }] });
        let answer = ok(&base, chat, &body).await;
        assert_eq!(answer["choices"][0]["finish_reason"], "stop", "{answer}");
        let value: Value = serde_json::from_str(content(&answer))
            .unwrap_or_else(|err| panic!("{format}: not JSON ({err}): {answer}"));
        assert!(value.is_object(), "{value}");
        if format["type"] == "json_schema" {
            let fields: Vec<&String> = value.as_object().unwrap().keys().collect();
            assert_eq!(fields, ["age", "name"], "{value}");
            assert!(
                value["name"].is_string() && value["age"].is_u64(),
                "{value}"
            );
        }
    }
    receipts += 2;

    // Tools: a forced call comes back as `tool_calls` whose arguments match the tool's schema; the
    // call and its result go back in, and the model answers in text.
    let weather = json!([{ "type": "function", "function": { "name": "get_weather",
        "description": "The weather in a city now",
        "parameters": { "type": "object", "additionalProperties": false, "required": ["city"],
                        "properties": { "city": { "type": "string", "maxLength": 30 } } } } }]);
    let question = json!({ "role": "user", "content": "What is the weather in Oslo?" });
    let ask = json!({ "model": name, "max_tokens": 48, "temperature": 0, "tools": weather,
                      "tool_choice": "required", "parallel_tool_calls": false, "messages": [question] });
    let called = ok(&base, chat, &ask).await;
    let choice = &called["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{called}");
    assert!(choice["message"]["content"].is_null(), "{called}");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert!(call["id"].as_str().unwrap().starts_with("call_"), "{call}");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(arguments["city"].is_string(), "{arguments}");
    let result = json!({ "model": name, "max_tokens": 16, "temperature": 0, "tools": weather,
        "tool_choice": "none", "messages": [question, choice["message"],
            { "role": "tool", "tool_call_id": call["id"], "content": "Sunny, 21 C" }] });
    let answered = ok(&base, chat, &result).await;
    assert!(!content(&answered).is_empty(), "{answered}");
    let mut streamed = ask.clone();
    streamed["stream"] = json!(true);
    let events = chunks(&base, chat, &streamed).await;
    let delta_calls: Vec<&Value> = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"].get("tool_calls"))
        .collect();
    assert_eq!(delta_calls.len(), 1, "{events:?}");
    assert_eq!(delta_calls[0][0]["function"]["name"], "get_weather");
    assert_eq!(delta_calls[0][0]["index"], 0);
    assert!(
        events
            .iter()
            .any(|e| e["choices"][0]["finish_reason"] == "tool_calls"),
        "{events:?}"
    );
    receipts += 3;

    // Embeddings: unit vectors, equal for equal texts, in float or base64; free (no receipt).
    let texts = [
        "Honey bees make honey.",
        "Honey bees make honey.",
        "The stock market fell.",
    ];
    let embedded = ok(
        &base,
        "/v1/embeddings",
        &json!({ "model": name, "input": texts }),
    )
    .await;
    let vectors: Vec<Vec<f32>> = embedded["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| serde_json::from_value(d["embedding"].clone()).unwrap())
        .collect();
    assert_eq!(vectors.len(), 3);
    let dot = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum::<f64>()
    };
    assert!((dot(&vectors[0], &vectors[0]) - 1.0).abs() < 1e-3);
    assert_eq!(vectors[0], vectors[1]);
    assert!(
        dot(&vectors[0], &vectors[2]) < 0.999,
        "different texts embed apart"
    );
    assert!(embedded["usage"]["prompt_tokens"].as_u64().unwrap() > 3);
    let encoded = ok(
        &base,
        "/v1/embeddings",
        &json!({ "model": name, "input": texts[0], "encoding_format": "base64" }),
    )
    .await;
    let bytes = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        encoded["data"][0]["embedding"].as_str().unwrap(),
    )
    .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(decoded, vectors[0]);
    for (body, param) in [
        (json!({ "model": name, "input": [] }), "input"),
        (json!({ "model": name, "input": [[1, 2]] }), "input"),
        (
            json!({ "model": name, "input": "x", "dimensions": 7 }),
            "dimensions",
        ),
        (
            json!({ "model": name, "input": "x", "encoding_format": "int8" }),
            "encoding_format",
        ),
    ] {
        let (status, error) = post(&base, "/v1/embeddings", &body).await;
        assert_eq!(
            (status, error["error"]["param"].as_str()),
            (400, Some(param)),
            "{body} -> {error}"
        );
    }

    // Parameters that ask for nothing beyond the default are accepted.
    let defaults = json!({ "model": name, "max_tokens": 1, "logprobs": false, "tools": null,
        "response_format": { "type": "text" }, "logit_bias": {},
        "messages": [{ "role": "user", "content": "Hi" }] });
    ok(&base, chat, &defaults).await;
    receipts += 1;

    assert_eq!(outbox_counts(&env, PAYER), (receipts, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_refusals_name_the_field() {
    let env = Env::start().await;
    let market = market(&env).await;
    let (_server, base) = serve_market(&env, &market, &["--max-tokens", "24"]);
    let name = format!("soil-{}", market.model);
    let chat = |extra: Value| {
        let mut body = json!({ "model": name, "messages": [{ "role": "user", "content": "Hi" }] });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let text = |extra: Value| {
        let mut body = json!({ "model": name, "prompt": "Hi" });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let cases = [
        (
            "/v1/chat/completions",
            chat(json!({ "frobnicate": 1 })),
            "frobnicate",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "logprobs": true, "stream": true })),
            "logprobs",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "top_logprobs": 2 })),
            "top_logprobs",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "logprobs": true, "top_logprobs": 21 })),
            "top_logprobs",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "tools": [{ "type": "function" }] })),
            "tools[0].function",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "response_format": { "type": "xml" } })),
            "response_format.type",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "logit_bias": { "42": 5 } })),
            "logit_bias",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "temperature": 2.5 })),
            "temperature",
        ),
        ("/v1/chat/completions", chat(json!({ "top_p": 0 })), "top_p"),
        (
            "/v1/chat/completions",
            chat(json!({ "top_p": 1.5 })),
            "top_p",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "presence_penalty": 3 })),
            "presence_penalty",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "frequency_penalty": -2.5 })),
            "frequency_penalty",
        ),
        ("/v1/chat/completions", chat(json!({ "n": 0 })), "n"),
        ("/v1/chat/completions", chat(json!({ "n": 9 })), "n"),
        (
            "/v1/chat/completions",
            chat(json!({ "n": 2, "stream": true })),
            "n",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "stop": ["a", "b", "c", "d", "e"] })),
            "stop",
        ),
        ("/v1/chat/completions", chat(json!({ "stop": "" })), "stop"),
        (
            "/v1/chat/completions",
            chat(json!({ "max_tokens": 0 })),
            "max_tokens",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "max_completion_tokens": 0 })),
            "max_completion_tokens",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "max_tokens": 4, "max_completion_tokens": 5 })),
            "max_tokens",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "stream_options": { "include_usage": true } })),
            "stream_options",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "stream": true, "stream_options": { "x": 1 } })),
            "stream_options.x",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "messages": [] })),
            "messages",
        ),
        (
            "/v1/chat/completions",
            chat(
                json!({ "messages": [{ "role": "user", "content": [{ "type": "image_url", "image_url": { "url": "x" } }] }] }),
            ),
            "messages[0].content[0].type",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "messages": [{ "role": "wizard", "content": "x" }] })),
            "messages[0].role",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "messages": [{ "role": "user", "content": "x", "name": "bob" }] })),
            "messages[0].name",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "messages": [{ "role": "user", "content": null }] })),
            "messages[0].content",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "messages": [{ "role": "user", "content": "x" },
                                   { "role": "assistant", "content": null, "tool_calls": [{ "id": "call_1" }] },
                                   { "role": "tool", "tool_call_id": "call_1", "content": "4" }] })),
            "messages[1].tool_calls",
        ),
        ("/v1/completions", text(json!({ "echo": true })), "echo"),
        (
            "/v1/completions",
            text(json!({ "suffix": "end" })),
            "suffix",
        ),
        ("/v1/completions", text(json!({ "best_of": 2 })), "best_of"),
        (
            "/v1/completions",
            text(json!({ "logprobs": 6 })),
            "logprobs",
        ),
        (
            "/v1/completions",
            text(json!({ "prompt": ["a", "b"] })),
            "prompt",
        ),
        (
            "/v1/completions",
            text(json!({ "max_completion_tokens": 5 })),
            "max_completion_tokens",
        ),
    ];
    for (path, body, param) in &cases {
        let (status, value) = post(&base, path, body).await;
        assert_eq!(status, 400, "{body} -> {value}");
        let error = &value["error"];
        assert_eq!(error["type"], "invalid_request_error", "{value}");
        assert_eq!(error["param"], *param, "{body} -> {value}");
        assert!(
            error["code"].is_string() && error["message"].is_string(),
            "{value}"
        );
    }

    // Context overflow, streamed or not: a 400 naming the limit, before anything is generated.
    let long = "bees ".repeat(600);
    let overflows = [
        (
            "/v1/chat/completions",
            chat(json!({ "messages": [{ "role": "user", "content": long }] })),
            "messages",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "messages": [{ "role": "user", "content": long }], "stream": true })),
            "messages",
        ),
        (
            "/v1/chat/completions",
            chat(json!({ "max_tokens": 510 })),
            "messages",
        ),
        (
            "/v1/completions",
            text(json!({ "prompt": long, "stream": true })),
            "prompt",
        ),
    ];
    for (path, body, param) in &overflows {
        let (status, value) = post(&base, path, body).await;
        assert_eq!(status, 400, "{value}");
        assert_eq!(value["error"]["code"], "context_length_exceeded", "{value}");
        assert_eq!(value["error"]["param"], *param, "{value}");
        assert!(
            value["error"]["message"].as_str().unwrap().contains("512"),
            "{value}"
        );
    }

    // Unknown routes and methods: OpenAI's error shape, not an empty body.
    for (method, path, status) in [
        (reqwest::Method::POST, "/v1/images/generations", 404),
        (reqwest::Method::GET, "/v1/responses", 405),
        (reqwest::Method::GET, "/v1/chat/completions", 405),
    ] {
        let response = http()
            .request(method, format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        let value: Value = response.json().await.unwrap();
        assert_eq!(value["error"]["type"], "invalid_request_error", "{value}");
    }

    assert_eq!(
        outbox_counts(&env, PAYER),
        (0, 0, 0),
        "nothing refused was generated or billed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_429_with_retry_after_and_metrics_count_it() {
    let env = Env::start().await;
    let market = market(&env).await;
    let (_server, base) = serve_market(&env, &market, &["--max-queue", "1"]);
    let name = format!("soil-{}", market.model);
    // A long count holds the only place while the second request arrives (it rarely meets an end token).
    let long = json!({ "model": name, "prompt": "1, 2, 3, 4, 5, 6,", "max_tokens": 96,
                       "temperature": 0, "stream": true });
    let first = http()
        .post(format!("{base}/v1/completions"))
        .json(&long)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);

    let second = http()
        .post(format!("{base}/v1/completions"))
        .json(&json!({ "model": name, "prompt": "Hi", "max_tokens": 4 }))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 429);
    assert_eq!(
        second
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("1")
    );
    let refusal: Value = second.json().await.unwrap();
    assert_eq!(refusal["error"]["code"], "rate_limit_exceeded", "{refusal}");
    assert_eq!(refusal["error"]["type"], "rate_limit_error", "{refusal}");

    // The place comes back once the stream ends: the same request is then served and billed.
    let streamed = first.text().await.unwrap();
    assert!(streamed.ends_with("data: [DONE]\n\n"), "{streamed}");
    let again = ok(
        &base,
        "/v1/completions",
        &json!({ "model": name, "prompt": "Hi", "max_tokens": 4 }),
    )
    .await;
    assert!(billed(&again, 0) >= 1, "{again}");

    let metrics = http().get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let metrics = metrics.text().await.unwrap();
    for line in [
        r#"soil_serve_requests_total{route="/v1/completions",status="429"} 1"#.to_owned(),
        r#"soil_serve_requests_total{route="/v1/completions",status="200"} 2"#.to_owned(),
        format!(r#"soil_serve_completions_total{{model="{name}"}} 2"#),
        "soil_serve_completions_in_flight 0".to_owned(),
        format!(r#"soil_serve_time_to_first_token_seconds_count{{model="{name}"}} 2"#),
        "soil_serve_slots 4".to_owned(),
        "soil_serve_slots_busy 0".to_owned(),
        "soil_serve_waiting_for_slot 0".to_owned(),
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in:\n{metrics}"
        );
    }
    // Both receipts are in the outbox, pending or already settled by the background round.
    let outbox = |state: &str| {
        let prefix = format!(r#"soil_serve_outbox_receipts{{state="{state}"}} "#);
        let line = metrics.lines().find(|l| l.starts_with(&prefix));
        line.unwrap_or_else(|| panic!("no `{prefix}` in:\n{metrics}"))[prefix.len()..]
            .parse::<f64>()
            .unwrap()
    };
    assert_eq!(outbox("failed"), 0.0);
    assert!(outbox("pending") + outbox("in_flight") <= 2.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_streams_match_their_answers_alone_and_each_receipt_settles_once() {
    let env = Env::start().await;
    let market = market(&env).await;
    let (_server, base) = serve_market(&env, &market, &[]);
    let name = format!("soil-{}", market.model);
    let questions: Vec<String> = (1..=8)
        .map(|i| format!("Give fact number {i} about honey bees."))
        .collect();
    let body = |question: &str, stream: bool| {
        json!({ "model": name, "max_tokens": 24, "temperature": 0, "stream": stream,
                "messages": [{ "role": "user", "content": question }] })
    };
    let path = "/v1/chat/completions";
    let mut alone = Vec::new();
    for question in &questions {
        alone.push(content(&ok(&base, path, &body(question, false)).await).to_owned());
    }

    // Eight streams at once: each one's text is what it was alone, and each ends with its own receipt.
    let streams = questions.iter().map(|question| {
        let request = body(question, true);
        let base = base.clone();
        async move { chunks(&base, path, &request).await }
    });
    let streamed = futures::future::join_all(streams).await;
    let mut digests = std::collections::BTreeSet::new();
    for (events, expected) in streamed.iter().zip(&alone) {
        let text: String = events
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(&text, expected);
        let receipt = events
            .iter()
            .find_map(|e| e["soil"]["receipt"].as_str())
            .expect("the stream's receipt");
        digests.insert(receipt.to_owned());
    }
    assert_eq!(digests.len(), 8, "one receipt per stream");

    let settled = env.json(PAYER, &["settle"]);
    assert_eq!(settled["report"]["settled"], 16, "{settled}");
    assert_eq!(outbox_counts(&env, PAYER), (0, 0, 0));
    for digest in &digests {
        assert!(
            env.escrow()
                .isSettled(digest.parse().unwrap())
                .call()
                .await
                .unwrap()
        );
    }
    let again = env.json(PAYER, &["settle"]);
    assert_eq!(
        again["report"]["settled"], 0,
        "nothing settles twice: {again}"
    );
}
