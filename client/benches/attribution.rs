//! Attribution benchmark (`cargo bench -p soil-client --bench attribution`).
//!
//! Real text: Python source installed on the machine (`/usr/lib/python3*`, then `/usr/share/doc` and the
//! repository's `node_modules` if that is not enough), read in path order until the tokenizer of the default model
//! yields ≥ 10 million tokens. Measured in the same run:
//! 1. tokenization (reported apart);
//! 2. a bare libsais suffix-array construction over the same `u16` token ids;
//! 3. the full index build: documents joined, suffix array, written to disk and ready to query;
//! 4. attribution latency of 256-token outputs (p50, p99), quoted from the release and unrelated.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use alloy::primitives::B256;
use libsais::{SuffixArrayConstruction, ThreadCount};
use soil_client::{
    attribution::{AttributionParams, Index, IndexCache, TokenizedDocument},
    model::{ModelFile, ModelOptions, ModelWorker},
};

const TARGET_TOKENS: usize = 10_000_000;
const RUNS: usize = 5;
const OUTPUT_TOKENS: usize = 256;

fn model_path() -> PathBuf {
    std::env::var_os("SOIL_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../models/SmolLM2-135M-Instruct.Q4_1.gguf")
        })
}

fn collect(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, extensions, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
        {
            out.push(path);
        }
    }
}

/// Real text files, in a fixed order.
fn corpus_files() -> Vec<PathBuf> {
    let mut python: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
    {
        if entry.file_name().to_string_lossy().starts_with("python3") {
            collect(&entry.path(), &["py"], &mut python);
        }
    }
    python.sort();
    let mut more = Vec::new();
    collect(
        Path::new("/usr/share/doc"),
        &["txt", "html", "md", "rst"],
        &mut more,
    );
    collect(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../node_modules"),
        &["md", "js"],
        &mut more,
    );
    more.sort();
    python.extend(more);
    python
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn rate(tokens: usize, time: Duration) -> f64 {
    tokens as f64 / time.as_secs_f64() / 1e6
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let file =
        ModelFile::open(model_path(), None).expect("the default model (run `make setup-model`)");
    let worker = ModelWorker::spawn(&file, &ModelOptions::default()).expect("the model loads");
    let vocabulary = worker.info().vocabulary();

    // 1. Tokenize real text until there are enough tokens.
    let started = Instant::now();
    let mut documents = Vec::new();
    let (mut tokens, mut bytes) = (0usize, 0usize);
    let mut files = corpus_files().into_iter();
    while tokens < TARGET_TOKENS {
        let batch: Vec<Vec<u8>> = files
            .by_ref()
            .take(256)
            .filter_map(|path| std::fs::read(path).ok())
            .collect();
        assert!(
            !batch.is_empty(),
            "not enough text on this machine for {TARGET_TOKENS} tokens"
        );
        bytes += batch.iter().map(Vec::len).sum::<usize>();
        for ids in runtime.block_on(worker.tokenize_many(batch)).unwrap() {
            tokens += ids.len();
            documents.push(TokenizedDocument {
                contribution_id: documents.len() as u64 + 1,
                tokens: ids,
            });
        }
    }
    let tokenize_time = started.elapsed();
    println!(
        "corpus: {} documents, {:.1} MB, {} tokens; tokenization {:.2} s ({:.2} M tokens/s, one thread)",
        documents.len(),
        bytes as f64 / 1e6,
        tokens,
        tokenize_time.as_secs_f64(),
        rate(tokens, tokenize_time)
    );

    // The exact token array the index holds, for the bare construction.
    let mut text: Vec<u16> = Vec::with_capacity(tokens + documents.len());
    for document in &documents {
        text.extend(document.tokens.iter().map(|&t| t as u16));
        text.push(vocabulary.separator as u16);
    }
    let root = B256::repeat_byte(0x5e);
    let cache_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cache = IndexCache::new(cache_dir.path());

    // 2 and 3, interleaved so both see the same machine state.
    let (mut bare, mut full) = (Vec::new(), Vec::new());
    let mut index = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let suffixes = SuffixArrayConstruction::for_text(text.as_slice())
            .in_owned_buffer32()
            .multi_threaded(ThreadCount::openmp_default())
            .run()
            .unwrap()
            .into_vec();
        bare.push(started.elapsed());
        drop(suffixes);

        let input = documents.clone();
        std::fs::remove_dir_all(cache.path_for(root)).ok();
        let started = Instant::now();
        let built = Index::build(root, vocabulary, input).unwrap();
        cache.store(&built).unwrap();
        full.push(started.elapsed());
        index = Some(built);
    }
    let index = index.unwrap();
    let (bare, full) = (median(bare), median(full));
    let n = index.token_count();
    println!(
        "bare libsais suffix array (u16, i32 output): {:.3} s = {:.1} M tokens/s",
        bare.as_secs_f64(),
        rate(n, bare)
    );
    println!(
        "index build, stored on disk:                 {:.3} s = {:.1} M tokens/s = {:.2} x bare",
        full.as_secs_f64(),
        rate(n, full),
        bare.as_secs_f64() / full.as_secs_f64()
    );
    println!(
        "index size: {} bytes for {} tokens = {:.4} bytes/token",
        index.size_bytes(),
        n,
        index.size_bytes() as f64 / n as f64
    );
    let started = Instant::now();
    let loaded = cache.load(root).unwrap().unwrap();
    println!(
        "index load from disk: {:.3} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(loaded, index);

    // 4. Attribution latency of 256-token outputs.
    let params = AttributionParams::default();
    let mut quoted = Vec::new();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let long: Vec<&TokenizedDocument> = documents
        .iter()
        .filter(|d| d.tokens.len() > 2 * OUTPUT_TOKENS)
        .collect();
    for _ in 0..500 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let document = long[(state % long.len() as u64) as usize];
        let start = (state >> 20) as usize % (document.tokens.len() - OUTPUT_TOKENS);
        // A quote of 3 pieces with changed tokens between them, as a model paraphrasing its data would.
        let mut output = document.tokens[start..start + OUTPUT_TOKENS].to_vec();
        output[85] = 17;
        output[170] = 17;
        quoted.push(output);
    }
    let prose =
        "The old lighthouse keeper climbed the spiral stairs every evening to light the lamp. ";
    let unrelated_text: String = (0..40)
        .map(|i| format!("{prose}Night {i} was calm, the sea was grey. "))
        .collect();
    let unrelated_tokens = runtime.block_on(worker.tokenize(unrelated_text)).unwrap();
    let unrelated: Vec<Vec<u32>> = (0..500)
        .map(|i| unrelated_tokens[i % 50..i % 50 + OUTPUT_TOKENS].to_vec())
        .collect();
    for (name, outputs) in [
        ("quoted (3 spans of ~85 tokens)", &quoted),
        ("unrelated prose", &unrelated),
    ] {
        let mut times: Vec<Duration> = outputs
            .iter()
            .map(|output| {
                let started = Instant::now();
                let attribution = index.attribute(output, &params).unwrap();
                let elapsed = started.elapsed();
                std::hint::black_box(attribution);
                elapsed
            })
            .collect();
        times.sort();
        println!(
            "attribution of a {OUTPUT_TOKENS}-token output, {name}: p50 {:.3} ms, p99 {:.3} ms ({} outputs)",
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            times.len()
        );
    }
}
