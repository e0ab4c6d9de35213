//! The golden vectors of attribution protocol version 1 (`client/tests/vectors/attribution-v1.json`): the
//! same file the independent Python implementation (`client/reference/attribution.py`) is checked against
//! in `make test`. If the two disagree, docs/PROTOCOL.md is wrong or ambiguous.
//!
//! `SOIL_BLESS_VECTORS=1` rewrites the expectations from this implementation: only for a new protocol
//! version, never to make a failing test pass.

use std::{collections::BTreeMap, path::PathBuf};

use alloy::primitives::B256;
use serde_json::{Value, json};
use soil_client::attribution::{
    AttributionParams, Document, Index, PROTOCOL_VERSION, score::log2_fixed, words,
};

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/attribution-v1.json")
}

fn bytes_of(value: &Value, text: &str, hex_key: &str) -> Vec<u8> {
    match (value.get(text), value.get(hex_key)) {
        (Some(Value::String(text)), None) => text.as_bytes().to_vec(),
        (None, Some(Value::String(hex))) => hex::decode(hex).expect("valid hex in the vectors"),
        _ => panic!("a vector needs exactly one of `{text}` and `{hex_key}`: {value}"),
    }
}

/// The documents of the releases, merged as `sync_releases` merges them: each contribution once.
fn merged(releases: &Value) -> Vec<Document> {
    let mut documents = BTreeMap::new();
    for release in releases.as_array().expect("releases: an array") {
        for document in release
            .as_array()
            .expect("a release: an array of documents")
        {
            let id = document["contributionId"].as_u64().expect("contributionId");
            let bytes = document["text"].as_str().expect("text").as_bytes().to_vec();
            documents.entry(id).or_insert(Document {
                contribution_id: id,
                bytes,
            });
        }
    }
    documents.into_values().collect()
}

fn attribution_expected(case: &Value) -> Value {
    let documents = merged(&case["releases"]);
    let output = bytes_of(case, "output", "outputHex");
    let index = Index::build(B256::ZERO, documents).expect("the vector's releases index");
    let attribution = index.attribute(&output);
    let output_words = words(&output);
    json!({
        "releaseWords": index.word_count(),
        "outputWords": output_words,
        "spans": attribution.spans.iter().map(|span| json!({
            "start": span.start,
            "len": span.len,
            "occurrences": span.occurrences,
            "weight": span.weight,
            "contributions": span.contributions,
        })).collect::<Vec<_>>(),
        "coveredWords": attribution.covered_words,
        "weights": attribution.weights.iter().map(|&(id, ppm)| json!([id, ppm])).collect::<Vec<_>>(),
        "hash": attribution.to_receipt().hash(),
    })
}

#[test]
fn golden_vectors() {
    let text = std::fs::read_to_string(path()).expect("the vectors file");
    let mut vectors: Value = serde_json::from_str(&text).expect("the vectors parse");
    assert_eq!(vectors["version"], json!(PROTOCOL_VERSION));
    let params = AttributionParams::V1;
    let parameters = json!({
        "minSpan": params.min_span,
        "maxOccurrences": params.max_occurrences,
        "topK": params.top_k,
    });
    let mut computed = vectors.clone();
    computed["parameters"] = parameters;
    for entry in computed["log2"].as_array_mut().expect("log2") {
        let x: u64 = entry["x"].as_str().expect("x").parse().expect("x: a u64");
        entry["expected"] = json!(log2_fixed(x).to_string());
    }
    for entry in computed["words"].as_array_mut().expect("words") {
        entry["expected"] = json!(words(&bytes_of(entry, "text", "hex")));
    }
    for case in computed["attribution"].as_array_mut().expect("attribution") {
        case["expected"] = attribution_expected(case);
    }
    if std::env::var_os("SOIL_BLESS_VECTORS").is_some() {
        let mut out = serde_json::to_string_pretty(&computed).expect("serializes");
        out.push('\n');
        std::fs::write(path(), out).expect("the vectors file is writable");
        return;
    }
    vectors["parameters"] = vectors["parameters"].clone();
    for section in ["parameters", "log2", "words", "attribution"] {
        assert_eq!(
            vectors[section],
            computed[section],
            "section `{section}` of {} differs from this implementation",
            path().display()
        );
    }
}
