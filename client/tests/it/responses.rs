//! `POST /v1/responses` over HTTP: a whole response and its stream of named events agree, structured
//! output through `text.format`, and refusals name the field.

use serde_json::{Value, json};

use crate::{
    common::*,
    openai::{http, ok, post},
};

#[tokio::test(flavor = "multi_thread")]
async fn responses_api_answers_whole_and_streamed() {
    let env = Env::start().await;
    let market = market(&env).await;
    let (_server, base) = serve_market(&env, &market, &[]);
    let name = format!("soil-{}", market.model);
    let ask = json!({ "model": name, "input": "Name one colour.", "instructions": "Answer briefly.",
                      "max_output_tokens": 8, "temperature": 0, "metadata": { "ticket": "42" } });

    let whole = ok(&base, "/v1/responses", &ask).await;
    assert_eq!(whole["object"], "response");
    assert!(
        whole["id"].as_str().unwrap().starts_with("resp_"),
        "{whole}"
    );
    assert!(["completed", "incomplete"].contains(&whole["status"].as_str().unwrap()));
    assert_eq!(whole["metadata"]["ticket"], "42");
    let text = whole["output"][0]["content"][0]["text"].as_str().unwrap();
    assert!(!text.is_empty(), "{whole}");
    assert_eq!(
        whole["usage"]["output_tokens"], whole["soil"]["output_tokens"],
        "the receipt bills what was generated: {whole}"
    );

    // Streamed: named events in order, numbered, whose deltas spell the text the last event carries.
    let mut streamed = ask.clone();
    streamed["stream"] = json!(true);
    let body = http()
        .post(format!("{base}/v1/responses"))
        .json(&streamed)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!body.contains("[DONE]"), "{body}");
    let names: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    let events: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(names.len(), events.len(), "{body}");
    for (number, (name, event)) in names.iter().zip(&events).enumerate() {
        assert_eq!(event["type"], *name, "{event}");
        assert_eq!(event["sequence_number"], number, "{event}");
    }
    assert_eq!(names[0], "response.created");
    let end = events.last().unwrap();
    assert!(
        ["response.completed", "response.incomplete"].contains(&end["type"].as_str().unwrap()),
        "{end}"
    );
    let spelled: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(spelled, end["response"]["output"][0]["content"][0]["text"]);
    assert_eq!(
        spelled, text,
        "the same request at temperature 0 gives the same text"
    );

    // Structured output through `text.format`.
    let structured = json!({ "model": name, "input": "Describe a cat as JSON.", "max_output_tokens": 48,
        "temperature": 0, "text": { "format": { "type": "json_schema", "name": "cat", "strict": true,
            "schema": { "type": "object", "additionalProperties": false, "required": ["name"],
                        "properties": { "name": { "type": "string", "maxLength": 20 } } } } } });
    let answer = ok(&base, "/v1/responses", &structured).await;
    assert_eq!(answer["status"], "completed", "{answer}");
    let value: Value =
        serde_json::from_str(answer["output"][0]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert!(value["name"].is_string(), "{value}");

    for (body, param) in [
        (
            json!({ "model": name, "input": "x", "store": true }),
            "store",
        ),
        (json!({ "model": name, "input": [] }), "input"),
        (
            json!({ "model": name, "input": "x", "text": { "format": { "type": "xml" } } }),
            "text.format.type",
        ),
        (
            json!({ "model": name, "input": "x", "previous_response_id": "resp_1" }),
            "previous_response_id",
        ),
        (
            json!({ "model": name, "input": [{ "role": "user", "content": "x", "name": "n" }] }),
            "input[0].name",
        ),
    ] {
        let (status, error) = post(&base, "/v1/responses", &body).await;
        assert_eq!(
            (status, error["error"]["param"].as_str()),
            (400, Some(param)),
            "{body} -> {error}"
        );
    }
    assert_eq!(outbox_counts(&env, PAYER), (3, 0, 0));
}
