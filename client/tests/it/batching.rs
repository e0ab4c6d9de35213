//! Continuous batching and the prompt cache on the real model: generations decoded together give exactly
//! what each gives alone, a short request finishes while a long one runs, and a prompt that shares a cached
//! prefix reads only the rest and answers the same.

use futures::StreamExt as _;
use soil_client::model::{
    ChatMessage, Generation, GenerationRequest, ModelFile, ModelOptions, ModelWorker, Prompt, Role,
    Sampling, TokenEvent,
};
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::model::model_path;

fn worker(parallel: u32) -> ModelWorker {
    let file = ModelFile::open(model_path(), None).expect("the default model");
    let options = ModelOptions {
        threads: 2,
        context_size: 512,
        parallel,
        ..ModelOptions::default()
    };
    ModelWorker::spawn(&file, &options).expect("the default model loads")
}

fn chat(system: &str, question: &str, max_tokens: u32) -> GenerationRequest {
    GenerationRequest {
        prompt: Prompt::Chat(vec![
            ChatMessage::new(Role::System, system),
            ChatMessage::new(Role::User, question),
        ]),
        sampling: Sampling {
            temperature: 0.0,
            max_tokens,
            ..Sampling::default()
        },
        stop: Vec::new(),
        logprobs: None,
        grammar: None,
        adapter: None,
    }
}

/// Requests that exercise every per-request state a slot keeps: lengths, a stop string, log-probabilities,
/// a grammar and a seeded draw.
fn requests() -> Vec<GenerationRequest> {
    let long = chat("You are a gardener.", "How do I grow tomatoes?", 48);
    let short = chat("You are terse.", "Name a colour.", 3);
    let stopped = GenerationRequest {
        stop: vec![".".into()],
        ..chat("You are a poet.", "Describe the sea.", 40)
    };
    let with_logprobs = GenerationRequest {
        logprobs: Some(2),
        ..chat("You are a teacher.", "What is rain?", 12)
    };
    let constrained = GenerationRequest {
        grammar: Some("root ::= (\"yes\" | \"no\") \".\"\n".into()),
        ..chat("Answer yes or no.", "Is the sky blue?", 8)
    };
    let sampled = GenerationRequest {
        sampling: Sampling {
            temperature: 0.8,
            seed: 7,
            max_tokens: 20,
            ..Sampling::default()
        },
        ..chat("You are a storyteller.", "Begin a story.", 20)
    };
    vec![long, short, stopped, with_logprobs, constrained, sampled]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_generations_match_each_alone_and_a_short_one_finishes_first() {
    let alone = worker(1);
    let mut expected = Vec::new();
    for request in requests() {
        expected.push(alone.generate_text(request).await.unwrap());
    }
    drop(alone);

    let batched = worker(3);
    assert_eq!(batched.info().parallel, 3);
    assert_eq!(
        batched.info().context_size,
        512,
        "each slot has the context asked for"
    );
    let streams = requests().into_iter().enumerate().map(|(index, request)| {
        let events = batched.generate(request).unwrap();
        UnboundedReceiverStream::new(events).map(move |event| (index, event.unwrap()))
    });
    let mut events = futures::stream::select_all(streams);
    let mut texts = vec![String::new(); expected.len()];
    let mut finished = Vec::new();
    let mut got: Vec<Option<Generation>> = vec![None; expected.len()];
    while let Some((index, event)) = events.next().await {
        match event {
            TokenEvent::Token(piece) => texts[index].push_str(&piece),
            TokenEvent::Done(stats) => {
                finished.push(index);
                got[index] = Some(Generation {
                    text: std::mem::take(&mut texts[index]),
                    stats,
                });
            }
        }
    }
    for (index, (got, expected)) in got.into_iter().zip(&expected).enumerate() {
        let got = got.unwrap_or_else(|| panic!("request {index} finished"));
        assert_eq!(got.text, expected.text, "request {index}'s text");
        assert_eq!(got.stats.output_token_ids, expected.stats.output_token_ids);
        assert_eq!(got.stats.stop, expected.stats.stop, "request {index}");
        assert_eq!(got.stats.logprobs, expected.stats.logprobs);
        assert_eq!(got.stats.prompt_tokens, expected.stats.prompt_tokens);
    }
    assert!(
        ["yes.", "no."].contains(&expected[4].text.as_str()),
        "the grammar holds: {:?}",
        expected[4].text
    );
    // The 3-token request joined the 48-token one's batch and was done long before it.
    let place = |index| finished.iter().position(|&i| i == index).unwrap();
    assert!(place(1) < place(0), "finished in the order {finished:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_sharing_a_cached_prefix_reads_only_the_rest_and_answers_the_same() {
    let system = "You are a patient gardening assistant. You answer in one short sentence, you name the \
                  plant you speak of, and you never recommend chemical pesticides.";
    let worker = worker(1);
    let first = worker
        .generate_text(chat(system, "When do I plant garlic?", 16))
        .await
        .unwrap();
    assert_eq!(first.stats.cached_prompt_tokens, 0);

    let second_request = chat(system, "How deep do carrots grow?", 16);
    let second = worker.generate_text(second_request.clone()).await.unwrap();
    let cached = second.stats.cached_prompt_tokens;
    let system_tokens = worker.tokenize(system).await.unwrap().len() as u32;
    assert!(
        cached > system_tokens && cached < second.stats.prompt_tokens,
        "{cached} of {} prompt tokens came from the cache; the system prompt is {system_tokens}",
        second.stats.prompt_tokens
    );

    // The same prompt once more: all but its last token (read again for its logits) is cached.
    let again = worker.generate_text(second_request.clone()).await.unwrap();
    assert_eq!(
        again.stats.cached_prompt_tokens,
        again.stats.prompt_tokens - 1
    );

    let fresh = self::worker(1).generate_text(second_request).await.unwrap();
    assert_eq!(fresh.stats.cached_prompt_tokens, 0);
    for answer in [&second, &again] {
        assert_eq!(answer.text, fresh.text);
        assert_eq!(answer.stats.output_token_ids, fresh.stats.output_token_ids);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greedy_draw_under_a_grammar_is_the_most_likely_token_it_allows() {
    let schema = r#"{"type": "object", "required": ["title", "tags"], "additionalProperties": false,
        "properties": {"title": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}}"#;
    let grammar = llama_cpp_2::json_schema_to_grammar(schema).unwrap();
    let request = |sampling: Sampling| GenerationRequest {
        grammar: Some(grammar.clone()),
        sampling,
        ..chat("You are a librarian.", "Describe a book about bees.", 40)
    };
    let worker = worker(1);
    let greedy = worker
        .generate_text(request(Sampling {
            temperature: 0.0,
            max_tokens: 40,
            ..Sampling::default()
        }))
        .await
        .unwrap();
    // A nucleus so small it keeps one token draws the most likely token the grammar allows, through the
    // filter over the whole vocabulary that greedy drawing mostly skips.
    let nucleus_of_one = worker
        .generate_text(request(Sampling {
            temperature: 1.0,
            top_p: 1e-6,
            max_tokens: 40,
            ..Sampling::default()
        }))
        .await
        .unwrap();
    assert!(greedy.text.starts_with('{'), "{:?}", greedy.text);
    assert_eq!(
        greedy.stats.output_token_ids,
        nucleus_of_one.stats.output_token_ids
    );
}
