//! The OpenAI-compatible server: models, a plain and a streamed chat completion, a plain and a streamed
//! text completion, OpenAI-style errors, and a receipt in the outbox for each completion.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn openai_api_answers_and_leaves_receipts() {
    let env = Env::start().await;
    let market = market(&env).await;
    let (server, base) = serve_market(&env, &market, &["--max-tokens", "24"]);
    // Every request bounded: a server that stops answering fails the test with its log.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();

    let models: Value = http
        .get(format!("{base}/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let name = models["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(models["object"], "list");
    let health: Value = http
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["model"], json!(name), "{health}");
    // The model by name (OpenAI's `GET /v1/models/{model}`); another name is a 404 `model_not_found`.
    let model = http
        .get(format!("{base}/v1/models/{name}"))
        .send()
        .await
        .unwrap();
    assert_eq!(model.status(), 200);
    assert_eq!(model.json::<Value>().await.unwrap(), models["data"][0]);
    let missing = http
        .get(format!("{base}/v1/models/gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let missing: Value = missing.json().await.unwrap();
    assert_eq!(missing["error"]["code"], "model_not_found", "{missing}");

    let body = json!({ "model": name, "messages": [{ "role": "user", "content": "What do bees make?" }],
                       "max_tokens": 16, "temperature": 0 });
    let response = http
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let chat: Value = response.json().await.unwrap();
    assert_eq!(chat["object"], "chat.completion");
    assert_eq!(chat["choices"][0]["message"]["role"], "assistant");
    assert!(
        !chat["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    let usage = &chat["usage"];
    assert!(usage["completion_tokens"].as_u64().unwrap() <= 16);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );

    // Streamed: SSE chunks then [DONE]; the pieces add up to the text; asked for, a last chunk carries
    // the usage.
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({ "include_usage": true });
    let response = http
        .post(format!("{base}/v1/chat/completions"))
        .json(&streamed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let chunks = sse_chunks(&response.text().await.unwrap());
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    // One id for the whole stream, unique to it (not the second it started in).
    let stream_id = chunks[0]["id"].as_str().unwrap().to_owned();
    assert!(
        stream_id.starts_with("chatcmpl-0x") && stream_id.len() == 75,
        "{stream_id}"
    );
    assert!(chunks.iter().all(|c| c["id"] == json!(stream_id)));
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        content,
        chat["choices"][0]["message"]["content"].as_str().unwrap(),
        "greedy: same text streamed"
    );
    let (last, rest) = chunks.split_last().unwrap();
    repeated_usage(&last["usage"], &chat["usage"]);
    assert!(rest.last().unwrap()["choices"][0]["finish_reason"].is_string());

    let completion: Value = http
        .post(format!("{base}/v1/completions"))
        .json(&json!({ "model": name, "prompt": "Honey bees are", "max_tokens": 8, "temperature": 0 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(completion["object"], "text_completion");
    assert!(completion["usage"]["completion_tokens"].as_u64().unwrap() <= 8);

    // The same text completion streamed: its pieces add up to the same text, then [DONE].
    let text = http
        .post(format!("{base}/v1/completions"))
        .json(&json!({ "model": name, "prompt": "Honey bees are", "max_tokens": 8, "temperature": 0, "stream": true,
                       "stream_options": { "include_usage": true } }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let chunks = sse_chunks(&text);
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
    assert_ne!(
        chunks[0]["id"],
        json!(stream_id),
        "each stream has its own id"
    );
    let streamed_text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(
        streamed_text,
        completion["choices"][0]["text"].as_str().unwrap(),
        "greedy: same text streamed"
    );
    repeated_usage(&chunks.last().unwrap()["usage"], &completion["usage"]);

    // Bad requests: OpenAI-style errors.
    let bad = http
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({ "model": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["error"]["type"], "invalid_request_error");
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("messages"),
        "{bad}"
    );
    let unknown = http
        .post(format!("{base}/v1/completions"))
        .json(&json!({ "model": "gpt-4", "prompt": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // Four completions, four signed receipts waiting in the server wallet's outbox.
    assert_eq!(outbox_counts(&env, PAYER), (4, 0, 0));
    drop(server);
    let settled = env.json(PAYER, &["settle"]);
    assert_eq!(settled["report"]["settled"].as_u64(), Some(4), "{settled}");
}

/// The JSON chunks of a server-sent-event body, which must end with `data: [DONE]`.
/// The usage of a request sent again right after `first` (streamed, where `first` was answered whole):
/// the same counts, and all of the prompt but its last token read from the prompt cache `first` left.
fn repeated_usage(again: &Value, first: &Value) {
    for count in ["prompt_tokens", "completion_tokens", "total_tokens"] {
        assert_eq!(again[count], first[count], "{count}");
    }
    assert_eq!(
        first["prompt_tokens_details"]["cached_tokens"], 0,
        "{first}"
    );
    assert_eq!(
        again["prompt_tokens_details"]["cached_tokens"],
        first["prompt_tokens"].as_u64().unwrap() - 1,
        "{again}"
    );
}

fn sse_chunks(text: &str) -> Vec<Value> {
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
