//! Fine-tuning benchmark (`cargo bench -p soil-client --bench finetune [-- --threads N --steps N]`):
//! training tokens per second (LoRA rank 8 on q and v, sequence 128, batch 1: forward, backward and AdamW
//! step) against llama.cpp's prompt evaluation of the same 128 tokens on the same base with the same
//! threads, runs interleaved in one process, medians. Also: peak RSS, the adapter's size in F16 and F32,
//! and the held-out perplexity of the base and of the adapter after the measured steps. Then the adapter
//! served: one [`ModelWorker`] with the base and the adapter over it, greedy generations alternating
//! between them — the prompt evaluation (time to first token) right after a swap against one on the
//! adapter already active, and generation tokens/s with the adapter against the base.
//!
//! The corpus is the repository's own documentation (README.md and docs/*.md, sorted by name), one
//! document per paragraph, so the benchmark needs nothing outside the checkout.

use std::{num::NonZeroU32, path::PathBuf, time::Instant};

use alloy::primitives::B256;
use candle_core::Var;
use llama_cpp_2::{
    context::params::LlamaContextParams,
    llama_batch::LlamaBatch,
    model::{LlamaModel, params::LlamaModelParams},
};
use soil_client::{
    attribution::Document,
    chain::VerifiedRelease,
    finetune::{
        AdapterDType, Hyperparameters, Prepared, adapter::write_adapter, eval::held_out_loss,
        lora::Lora, model::LlamaLora, optim::AdamW,
    },
    model::{
        GenerationRequest, ModelFile, ModelOptions, ModelWorker, Prompt, Sampling, llama_backend,
    },
};

const SEQ_LEN: usize = 128;
/// Held-out sequences evaluated (base and adapter).
const HELD_OUT_SEQUENCES: usize = 8;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn model_path() -> PathBuf {
    std::env::var_os("SOIL_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"))
}

/// README.md and docs/*.md, one document per paragraph of at least 200 bytes.
fn corpus() -> VerifiedRelease {
    let mut files = vec![repo().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut documents = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for paragraph in text.split("\n\n").filter(|p| p.len() >= 200) {
            documents.push(Document {
                contribution_id: documents.len() as u64,
                bytes: paragraph.as_bytes().to_vec(),
            });
        }
    }
    VerifiedRelease {
        release_id: 0,
        root: B256::ZERO,
        documents,
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let threads = arg("--threads", 1);
    let steps = arg("--steps", 12);
    // SAFETY: no other thread exists yet; candle reads this when it sizes its matrix kernels.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };

    let hp = Hyperparameters {
        steps,
        seq_len: SEQ_LEN,
        threads,
        ..Hyperparameters::default()
    };
    let release = corpus();
    let clock = Instant::now();
    let prepared = Prepared::new(&model_path(), None, &[release], hp.clone())
        .expect("the default model (run `make setup-model`)");
    let weights = prepared.load_weights().unwrap();
    let load_seconds = clock.elapsed().as_secs_f64();
    let dataset = &prepared.dataset;
    let model = LlamaLora::new(prepared.base.config, &weights, SEQ_LEN + 1).unwrap();
    let lora = Lora::init(&prepared.base.config, &hp).unwrap();
    let named = lora.named_vars();
    let vars: Vec<&Var> = named.iter().map(|(_, v)| *v).collect();
    let mut optimizer = AdamW::new(&vars).unwrap();

    let backend = llama_backend(false).unwrap();
    let llama =
        LlamaModel::load_from_file(backend, model_path(), &LlamaModelParams::default()).unwrap();
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(512))
        .with_n_batch(512)
        .with_n_ubatch(512)
        .with_n_threads(threads as i32)
        .with_n_threads_batch(threads as i32);
    let mut context = llama.new_context(backend, params).unwrap();
    let mut batch = LlamaBatch::new(512, 1);

    let (mut train_rates, mut eval_rates) = (Vec::new(), Vec::new());
    // One warm-up of each, then interleaved measured runs on the same sequences.
    for step in 0..=steps {
        let sequence = &dataset.train[step % dataset.train.len()];
        let inputs = &sequence[..sequence.len() - 1];

        let started = Instant::now();
        let loss = model.loss(sequence, Some(&lora)).unwrap();
        let grads = loss.backward().unwrap();
        optimizer.step(&vars, &grads, &hp).unwrap();
        let train_time = started.elapsed().as_secs_f64();

        context.clear_kv_cache();
        batch.clear();
        for (i, &token) in inputs.iter().enumerate() {
            batch
                .add(
                    llama_cpp_2::token::LlamaToken(token as i32),
                    i as i32,
                    &[0],
                    i + 1 == inputs.len(),
                )
                .unwrap();
        }
        let started = Instant::now();
        context.decode(&mut batch).unwrap();
        let eval_time = started.elapsed().as_secs_f64();

        if step > 0 {
            train_rates.push(inputs.len() as f64 / train_time);
            eval_rates.push(inputs.len() as f64 / eval_time);
        }
    }
    let (train, eval) = (median(train_rates), median(eval_rates));
    let f16 = write_adapter(&lora, hp.alpha, "llama", AdapterDType::F16).unwrap();
    let f32 = write_adapter(&lora, hp.alpha, "llama", AdapterDType::F32).unwrap();
    let held_out = &dataset.held_out[..dataset.held_out.len().min(HELD_OUT_SEQUENCES)];
    let base = held_out_loss(&model, held_out, None).unwrap();
    let adapted = held_out_loss(&model, held_out, Some(&lora)).unwrap();
    println!(
        "fine-tuning, {threads} thread(s), sequence {SEQ_LEN}, LoRA rank {} on q,v ({} parameters), \
         median of {steps} interleaved runs:",
        hp.rank,
        lora.parameter_count()
    );
    println!("  llama.cpp prompt evaluation: {eval:.1} tokens/s");
    println!(
        "  training step (forward + backward + AdamW): {train:.1} tokens/s = {:.3} x llama.cpp \
         ({:.2} s/step)",
        train / eval,
        SEQ_LEN as f64 / train
    );
    println!(
        "  peak RSS: {:.0} MiB; base checked, tokenized and dequantized in {load_seconds:.1} s",
        peak_rss_mib()
    );
    println!(
        "  adapter: {} bytes F16, {} bytes F32",
        f16.len(),
        f32.len()
    );
    println!(
        "  held-out perplexity (first {} held-out sequences of the docs corpus): {:.2} base -> {:.2} \
         after {steps} steps",
        held_out.len(),
        base.perplexity,
        adapted.perplexity
    );
    serving(&f16, threads);
}

/// Generations per measured state when serving the adapter.
const SERVING_RUNS: usize = 7;

/// The adapter served beside its base: prompt evaluation after a swap vs on the active adapter, and
/// generation tokens/s with the adapter vs the base (medians of interleaved runs).
fn serving(adapter: &[u8], threads: usize) {
    let dir = tempfile::tempdir().unwrap();
    let adapter_path = dir.path().join("adapter.gguf");
    std::fs::write(&adapter_path, adapter).unwrap();
    let base = ModelFile::open(model_path(), None).unwrap();
    let adapter = ModelFile::open(&adapter_path, None).unwrap();
    let options = ModelOptions {
        threads: threads as u32,
        context_size: 512,
        ..ModelOptions::default()
    };
    let worker = ModelWorker::spawn_with_adapters(&base, &[adapter], &options).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let generate = |slot: Option<usize>| {
        let request = GenerationRequest {
            prompt: Prompt::Raw(
                "Honey bees forage for nectar and pollen, and the workers dance to tell the colony"
                    .into(),
            ),
            sampling: Sampling {
                temperature: 0.0,
                max_tokens: 64,
                ..Sampling::default()
            },
            stop: Vec::new(),
            logprobs: None,
            grammar: None,
            adapter: slot,
        };
        runtime
            .block_on(worker.generate_text(request))
            .unwrap()
            .stats
    };
    let (mut swapped, mut kept, mut with_adapter, mut with_base) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    generate(None);
    // base -> adapter (a swap), adapter -> adapter (kept), adapter -> base, base -> base.
    for _ in 0..SERVING_RUNS {
        for (slot, after_swap) in [
            (Some(0), true),
            (Some(0), false),
            (None, true),
            (None, false),
        ] {
            let stats = generate(slot);
            let rate = f64::from(stats.output_tokens) / (stats.generation_micros as f64 / 1e6);
            match (slot, after_swap) {
                (Some(_), true) => swapped.push(stats.prompt_micros as f64),
                (Some(_), false) => kept.push(stats.prompt_micros as f64),
                _ => {}
            }
            if slot.is_some() {
                with_adapter.push(rate);
            } else {
                with_base.push(rate);
            }
        }
    }
    let (swapped, kept) = (median(swapped), median(kept));
    let (adapted, plain) = (median(with_adapter), median(with_base));
    println!(
        "serving the adapter ({threads} thread(s), 64 greedy tokens, {SERVING_RUNS} rounds interleaved):"
    );
    println!(
        "  first token (prompt evaluation) after a swap: {:.1} ms vs {:.1} ms on the active adapter = {:.3} x",
        swapped / 1e3,
        kept / 1e3,
        swapped / kept
    );
    println!(
        "  generation: {adapted:.1} tokens/s with the adapter vs {plain:.1} tokens/s base = {:.3} x",
        adapted / plain
    );
}
