//! Attribution quality benchmark (`cargo bench -p soil-client --bench attribution_quality`): the
//! planted-source set of `quality/mod.rs` at full size (400 release documents, 50 cases per category),
//! attributed under the client's protocol version; prints the table for docs/BENCHMARKS.md.

mod quality;

use std::time::Instant;

use alloy::primitives::B256;
use soil_client::attribution::{Document, Index};

const SEED: u64 = 0x5011_a77e;
const DOCUMENTS: usize = 400;
const CASES_PER_CATEGORY: usize = 50;

/// The attribution under test: `documents` as one release, attributed under the client's protocol
/// version.
fn attributor(documents: &[Document]) -> impl FnMut(&[u8]) -> Vec<(u64, u32)> {
    let index =
        Index::build(B256::repeat_byte(0x9a), documents.to_vec()).expect("the index builds");
    move |output| index.attribute(output).weights
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
