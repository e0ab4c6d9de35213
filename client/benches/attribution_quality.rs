//! Attribution quality benchmark (`cargo bench -p soil-client --bench attribution_quality`): the
//! planted-source set of `quality/mod.rs` at full size (400 release documents, 50 cases per category),
//! attributed with the default model's tokenizer; prints the table for docs/BENCHMARKS.md.

mod quality;

use std::{path::PathBuf, time::Instant};

use alloy::primitives::B256;
use futures::executor::block_on;
use soil_client::{
    attribution::{AttributionParams, Document, Index, TokenizedDocument},
    model::{ModelFile, ModelOptions, ModelWorker},
};

const SEED: u64 = 0x5011_a77e;
const DOCUMENTS: usize = 400;
const CASES_PER_CATEGORY: usize = 50;

fn model_path() -> PathBuf {
    std::env::var_os("SOIL_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../models/SmolLM2-135M-Instruct.Q4_1.gguf")
        })
}

/// The attribution under test, over `documents` as one release: today's token-based API, documents and
/// outputs tokenized by the default model.
fn attributor(documents: &[Document]) -> impl FnMut(&[u8]) -> Vec<(u64, u32)> {
    let file =
        ModelFile::open(model_path(), None).expect("the default model (run `make setup-model`)");
    let worker = ModelWorker::spawn(&file, &ModelOptions::default()).expect("the model loads");
    let texts = documents.iter().map(|d| d.bytes.clone()).collect();
    let tokens = block_on(worker.tokenize_many(texts)).expect("the documents tokenize");
    let tokenized = documents
        .iter()
        .zip(tokens)
        .map(|(d, tokens)| TokenizedDocument {
            contribution_id: d.contribution_id,
            tokens,
        })
        .collect();
    let index = Index::build(
        B256::repeat_byte(0x9a),
        worker.info().vocabulary(),
        tokenized,
    )
    .expect("the index builds");
    let params = AttributionParams::default();
    move |output| {
        let tokens = block_on(worker.tokenize(output)).expect("the output tokenizes");
        index
            .attribute(&tokens, &params)
            .expect("attribution")
            .weights
    }
}

fn main() {
    let started = Instant::now();
    let corpus = quality::generate(SEED, DOCUMENTS, CASES_PER_CATEGORY);
    let bytes: usize = corpus.documents.iter().map(|d| d.bytes.len()).sum();
    println!(
        "release: {} documents, {:.1} MB; {} cases ({CASES_PER_CATEGORY} per category), seed {SEED:#x}; \
         generated in {:.1} s",
        corpus.documents.len(),
        bytes as f64 / 1e6,
        corpus.cases.len(),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let attribute = attributor(&corpus.documents);
    println!("index built in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let report = quality::evaluate(&corpus, attribute);
    println!(
        "attributed in {:.1} s\n\n{}",
        started.elapsed().as_secs_f64(),
        report.markdown()
    );
}
