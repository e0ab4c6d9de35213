//! Attribution benchmark (`cargo bench -p soil-client --bench attribution`).
//!
//! Real text: Python source installed on the machine (`/usr/lib/python3*`, then `/usr/share/doc` and the
//! repository's `node_modules` if that is not enough), read in path order until it holds ≥ 10 million
//! words (docs/PROTOCOL.md, "Words"). Measured in the same run:
//! 1. reading the text;
//! 2. word splitting and numbering ([`ReleaseWords::split`], reported apart: the counterpart of a model's
//!    tokenization);
//! 3. a bare libsais suffix-array construction over the same word ids (`i32` symbols);
//! 4. the index build from those words ([`Index::from_words`]: suffix array, written to disk and ready
//!    to query), interleaved with 3;
//! 5. attribution latency of 256-word outputs (p50, p99), quoted from the release and unrelated.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use alloy::primitives::B256;
use libsais::{SuffixArrayConstruction, ThreadCount};
use soil_client::attribution::{Document, Index, IndexCache, ReleaseWords, word_count, words};

const TARGET_WORDS: usize = 10_000_000;
const RUNS: usize = 5;
const OUTPUT_WORDS: usize = 256;

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
    // 1. Real text until there are enough words.
    let mut documents = Vec::new();
    let (mut words_read, mut bytes) = (0usize, 0usize);
    let mut files = corpus_files().into_iter();
    while words_read < TARGET_WORDS {
        let path = files
            .next()
            .unwrap_or_else(|| panic!("not enough text on this machine for {TARGET_WORDS} words"));
        let Ok(content) = std::fs::read(path) else {
            continue;
        };
        words_read += word_count(&content);
        bytes += content.len();
        documents.push(Document {
            contribution_id: documents.len() as u64 + 1,
            bytes: content,
        });
    }
    // 2. Word splitting and numbering, reported apart (the counterpart of a model's tokenization).
    let mut splits = Vec::new();
    let mut split = None;
    for _ in 0..RUNS {
        let input = documents.clone();
        let started = Instant::now();
        split = Some(ReleaseWords::split(input).unwrap());
        splits.push(started.elapsed());
    }
    let split = split.unwrap();
    let split_time = median(splits);
    println!(
        "corpus: {} documents, {:.1} MB, {words_read} words, {} distinct; word splitting and \
         numbering {:.2} s ({:.2} M words/s, one thread)",
        documents.len(),
        bytes as f64 / 1e6,
        split.dictionary_len(),
        split_time.as_secs_f64(),
        rate(words_read, split_time)
    );

    let root = B256::repeat_byte(0x5e);
    let cache_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cache = IndexCache::new(cache_dir.path());

    // 3 and 4, interleaved so both see the same machine state.
    let (mut bare, mut full) = (Vec::new(), Vec::new());
    let mut index = None;
    for _ in 0..RUNS {
        let mut symbols: Vec<i32> = split.ids().iter().map(|&id| id as i32).collect();
        let started = Instant::now();
        let suffixes: Vec<i32> = SuffixArrayConstruction::for_text_mut(&mut symbols)
            .in_owned_buffer()
            .multi_threaded(ThreadCount::openmp_default())
            .run()
            .unwrap()
            .into_vec();
        bare.push(started.elapsed());
        drop(suffixes);

        let input = split.clone();
        std::fs::remove_dir_all(cache.path_for(root)).ok();
        let started = Instant::now();
        let built = Index::from_words(root, input).unwrap();
        cache.store(&built).unwrap();
        full.push(started.elapsed());
        index = Some(built);
    }
    let index = index.unwrap();
    let (bare, full) = (median(bare), median(full));
    let n = index.token_count();
    println!(
        "bare libsais suffix array (the same word ids as i32): {:.3} s = {:.1} M tokens/s",
        bare.as_secs_f64(),
        rate(n, bare)
    );
    println!(
        "index build from the words (suffix array, stored on disk): {:.3} s = {:.1} M tokens/s = {:.2} x bare",
        full.as_secs_f64(),
        rate(n, full),
        bare.as_secs_f64() / full.as_secs_f64()
    );
    println!(
        "index size: {} bytes for {} tokens (words and document ends) = {:.4} bytes/token",
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

    // 5. Attribution latency of 256-word outputs.
    let mut quoted = Vec::new();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let long: Vec<Vec<String>> = documents
        .iter()
        .map(|d| words(&d.bytes))
        .filter(|w| w.len() > 2 * OUTPUT_WORDS)
        .collect();
    for _ in 0..500 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let document = &long[(state % long.len() as u64) as usize];
        let start = (state >> 20) as usize % (document.len() - OUTPUT_WORDS);
        // A quote of 3 pieces with changed words between them, as a model paraphrasing its data would.
        let mut output = document[start..start + OUTPUT_WORDS].to_vec();
        output[85] = "zyzzyva".into();
        output[170] = "zyzzyva".into();
        quoted.push(output.join(" "));
    }
    let prose =
        "The old lighthouse keeper climbed the spiral stairs every evening to light the lamp. ";
    let unrelated_text: String = (0..40)
        .map(|i| format!("{prose}Night {i} was calm, the sea was grey. "))
        .collect();
    let unrelated_words = words(unrelated_text.as_bytes());
    let unrelated: Vec<String> = (0..500)
        .map(|i| unrelated_words[i % 50..i % 50 + OUTPUT_WORDS].join(" "))
        .collect();
    for (name, outputs) in [
        ("quoted (3 spans of ~85 words)", &quoted),
        ("unrelated prose", &unrelated),
    ] {
        let mut times: Vec<Duration> = outputs
            .iter()
            .map(|output| {
                let started = Instant::now();
                let attribution = index.attribute(output.as_bytes());
                let elapsed = started.elapsed();
                std::hint::black_box(attribution);
                elapsed
            })
            .collect();
        times.sort();
        println!(
            "attribution of a {OUTPUT_WORDS}-word output, {name}: p50 {:.3} ms, p99 {:.3} ms ({} outputs)",
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            times.len()
        );
    }
}
