//! Generation benchmark (`cargo bench -p soil-client --bench generation`): tokens per second of
//! [`ModelWorker`]'s generate loop (own thread, channel, streamed UTF-8 pieces) against a bare
//! llama-cpp-2 decode loop, same model, prompt, context, threads and greedy sampler, runs interleaved in
//! one process. Each timing covers prompt evaluation and generation, as a caller sees it. Then structured
//! output: generation tokens/s under a JSON-schema grammar (`response_format: json_schema`) against the
//! same worker unconstrained, interleaved.

use std::{
    num::NonZeroU32,
    path::PathBuf,
    time::{Duration, Instant},
};

use llama_cpp_2::{
    context::{LlamaContext, params::LlamaContextParams},
    llama_batch::LlamaBatch,
    model::LlamaModel,
    model::params::LlamaModelParams,
    sampling::LlamaSampler,
};
use soil_client::model::{
    GenerationRequest, ModelFile, ModelOptions, ModelWorker, Prompt, Sampling, llama_backend,
};

const RUNS: usize = 7;
const MAX_TOKENS: u32 = 128;
const PROMPT: &str = "<|im_start|>user\nWrite a long story about a robot who learns to grow vegetables in a \
                      city garden.<|im_end|>\n<|im_start|>assistant\n";

fn model_path() -> PathBuf {
    std::env::var_os("SOIL_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../models/SmolLM2-135M-Instruct.Q4_1.gguf")
        })
}

/// The bare loop: tokenize, evaluate the prompt, then sample greedily and decode one token at a time.
fn bare_generate(
    model: &LlamaModel,
    context: &mut LlamaContext<'_>,
    options: &ModelOptions,
) -> usize {
    context.clear_kv_cache();
    let vocab = model.vocab();
    let prompt = vocab.tokenize(PROMPT.as_bytes(), true, true);
    let mut batch = LlamaBatch::new(options.batch_size as usize, 1);
    for (position, &token) in prompt.iter().enumerate() {
        batch
            .add(token, position as i32, &[0], position + 1 == prompt.len())
            .unwrap();
    }
    context.decode(&mut batch).unwrap();
    let mut sampler = LlamaSampler::greedy();
    let mut position = prompt.len() as i32;
    let mut generated = 0;
    while generated < MAX_TOKENS as usize {
        let token = sampler.sample(context, batch.n_tokens() - 1);
        if vocab.is_eog(token) {
            break;
        }
        generated += 1;
        batch.clear();
        batch.add(token, position, &[0], true).unwrap();
        context.decode(&mut batch).unwrap();
        position += 1;
    }
    generated
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = ModelOptions::default();
    let file =
        ModelFile::open(model_path(), None).expect("the default model (run `make setup-model`)");
    let worker = ModelWorker::spawn(&file, &options).unwrap();
    let bare_model = LlamaModel::load_from_file(
        llama_backend(false).unwrap(),
        model_path(),
        &LlamaModelParams::default(),
    )
    .unwrap();
    let threads = options.threads as i32;
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(options.context_size))
        .with_n_batch(options.batch_size)
        .with_n_ubatch(options.batch_size)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut bare_context = bare_model
        .new_context(llama_backend(false).unwrap(), params)
        .unwrap();
    let request = GenerationRequest {
        prompt: Prompt::Raw(PROMPT.into()),
        sampling: Sampling {
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
            max_tokens: MAX_TOKENS,
            ..Sampling::default()
        },
        stop: Vec::new(),
        logprobs: None,
        grammar: None,
        adapter: None,
    };

    let (mut worker_rates, mut bare_rates) = (Vec::new(), Vec::new());
    let mut tokens = (0, 0);
    // One warm-up of each, then interleaved measured runs.
    for run in 0..=RUNS {
        let started = Instant::now();
        let generation = runtime
            .block_on(worker.generate_text(request.clone()))
            .unwrap();
        let worker_time: Duration = started.elapsed();

        let started = Instant::now();
        let bare_tokens = bare_generate(&bare_model, &mut bare_context, &options);
        let bare_time = started.elapsed();

        tokens = (generation.stats.output_tokens as usize, bare_tokens);
        assert_eq!(
            tokens.0, tokens.1,
            "greedy decoding gives the same tokens in both loops"
        );
        if run > 0 {
            worker_rates.push(tokens.0 as f64 / worker_time.as_secs_f64());
            bare_rates.push(tokens.1 as f64 / bare_time.as_secs_f64());
        }
    }
    let (worker_rate, bare_rate) = (median(worker_rates), median(bare_rates));
    println!(
        "generation, {} threads, {} output tokens per run, median of {RUNS} interleaved runs:",
        options.threads, tokens.0
    );
    println!("  bare llama-cpp-2 loop: {bare_rate:.1} tokens/s");
    println!(
        "  ModelWorker::generate: {worker_rate:.1} tokens/s = {:.3} x bare",
        worker_rate / bare_rate
    );
    constrained(&runtime, &worker);
}

/// Generation tokens/s (timed from the first token) under a JSON-schema grammar vs unconstrained.
fn constrained(runtime: &tokio::runtime::Runtime, worker: &ModelWorker) {
    let schema = r#"{"type": "object", "additionalProperties": false, "required": ["title", "chapters"],
        "properties": {"title": {"type": "string"},
                       "chapters": {"type": "array", "items": {"type": "object", "required": ["name", "summary"],
                           "properties": {"name": {"type": "string"}, "summary": {"type": "string"}}}}}}"#;
    let grammar = llama_cpp_2::json_schema_to_grammar(schema).unwrap();
    let request = |grammar: Option<String>| {
        GenerationRequest {
        prompt: Prompt::Raw(
            "<|im_start|>user\nDescribe a long book about city gardens as JSON with a title and chapters.\
             <|im_end|>\n<|im_start|>assistant\n"
                .into(),
        ),
        sampling: Sampling {
            temperature: 0.0,
            max_tokens: MAX_TOKENS,
            ..Sampling::default()
        },
        stop: Vec::new(),
        logprobs: None,
        grammar,
        adapter: None,
    }
    };
    let (mut free, mut schema_rates) = (Vec::new(), Vec::new());
    for run in 0..=RUNS {
        for (grammar, rates) in [
            (None, &mut free),
            (Some(grammar.clone()), &mut schema_rates),
        ] {
            let stats = runtime
                .block_on(worker.generate_text(request(grammar)))
                .unwrap()
                .stats;
            if run > 0 {
                rates.push(f64::from(stats.output_tokens) / (stats.generation_micros as f64 / 1e6));
            }
        }
    }
    let (free, schema_rate) = (median(free), median(schema_rates));
    println!("structured output, median of {RUNS} interleaved runs (generation only):");
    println!(
        "  JSON schema grammar: {schema_rate:.1} tokens/s vs {free:.1} unconstrained = {:.3} x",
        schema_rate / free
    );
}
