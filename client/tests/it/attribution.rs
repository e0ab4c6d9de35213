//! Proof of attribution over real text: ~50 modules of the Python standard library installed on the
//! machine, indexed, stored and reloaded; outputs quoting two of them are attributed to those two first.

use std::{cell::Cell, path::PathBuf};

use alloy::primitives::B256;
use soil_client::attribution::{
    AttributionParams, Document, Index, IndexCache, content_hash, release_root, words,
};

/// Up to 50 Python standard-library modules of 4–40 KiB, in name order, as contributions 101, 102, …
fn python_documents() -> Vec<Document> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("/usr/lib")
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("python3."))
        })
        .flat_map(|dir| {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|e| e.path())
        })
        .filter(|path| path.extension().is_some_and(|ext| ext == "py"))
        .filter(|path| {
            std::fs::metadata(path).is_ok_and(|m| (4 << 10..40 << 10).contains(&m.len()))
        })
        .collect();
    files.sort();
    files.truncate(50);
    assert!(
        files.len() >= 40,
        "Python's standard library is needed at /usr/lib/python3.*"
    );
    files
        .iter()
        .zip(101..)
        .map(|(path, contribution_id)| Document {
            contribution_id,
            bytes: std::fs::read(path).unwrap(),
        })
        .collect()
}

/// The release root of `documents` (in their order), as the registry would hold it.
fn root_of(documents: &[Document]) -> B256 {
    let leaves: Vec<(u64, B256)> = documents
        .iter()
        .map(|doc| (doc.contribution_id, content_hash(&doc.bytes)))
        .collect();
    release_root(&leaves)
}

/// `len` bytes from the middle of a document, cut at line boundaries.
fn passage(document: &Document, len: usize) -> String {
    let text = String::from_utf8_lossy(&document.bytes);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for line in &lines[lines.len() / 3..] {
        if out.len() >= len {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn an_output_quoting_two_contributions_credits_them_first() {
    let documents = python_documents();
    let root = root_of(&documents);
    let index = Index::build(root, documents.clone()).unwrap();
    assert_eq!(index.documents().len(), documents.len());

    let (first, second) = (&documents[7], &documents[31]);
    let output = format!(
        "Here is the code you asked about.\n{}\nAnd the second part reads:\n{}\nI hope this helps!",
        passage(first, 600),
        passage(second, 300)
    );
    let attribution = index.attribute(output.as_bytes());

    let top: Vec<u64> = attribution
        .weights
        .iter()
        .take(2)
        .map(|&(id, _)| id)
        .collect();
    assert_eq!(
        top,
        vec![first.contribution_id, second.contribution_id],
        "{attribution:#?}"
    );
    assert!(
        attribution.weights[0].1 > attribution.weights[1].1,
        "the longer quote weighs more"
    );
    assert!(
        attribution.total_ppm() >= 700_000,
        "most of the output is quoted: {}",
        attribution.total_ppm()
    );
    assert!(attribution.total_ppm() <= 1_000_000);
    assert!(attribution.weights.len() <= 16);
    assert!(
        attribution
            .weights
            .windows(2)
            .all(|pair| pair[0].1 > pair[1].1 || (pair[0].1 == pair[1].1 && pair[0].0 < pair[1].0))
    );
    assert!(
        attribution
            .spans
            .iter()
            .all(|span| span.len >= AttributionParams::V1.min_span)
    );
    assert_eq!(attribution.output_words, words(output.as_bytes()).len());
    assert_eq!(attribution.to_receipt().entries, attribution.weights);

    // Deterministic: the same output and release, the same result — also from a fresh build of the index
    // with the documents handed over in another order.
    assert_eq!(index.attribute(output.as_bytes()), attribution);
    let mut reversed = documents.clone();
    reversed.reverse();
    let rebuilt = Index::build(root, reversed).unwrap();
    assert_eq!(rebuilt, index);
    assert_eq!(rebuilt.attribute(output.as_bytes()), attribution);

    // Text that is in no document gets little or nothing.
    let unrelated = "My grandmother grew tomatoes, beans and sunflowers along the south wall of her \
                     cottage. Every August the whole village came by to taste her green tomato chutney, \
                     which she stored in the cellar next to jars of plum jam and pickled cucumbers.";
    let low = index.attribute(unrelated.as_bytes());
    assert!(low.total_ppm() < 100_000, "{low:#?}");
    assert!(
        low.weights
            .iter()
            .all(|&(id, _)| id != first.contribution_id && id != second.contribution_id)
    );
}

#[test]
fn the_index_survives_a_reload_and_is_cached_by_release_root() {
    let documents = python_documents();
    let root = root_of(&documents);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = IndexCache::new(cache_dir.path());
    assert!(cache.load(root).unwrap().is_none());

    let built = Index::build(root, documents.clone()).unwrap();
    let path = cache.store(&built).unwrap();
    assert_eq!(path, cache_dir.path().join(hex::encode(root)));
    let on_disk: u64 = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(on_disk >= built.size_bytes() && on_disk <= built.size_bytes() + 4096);
    // 2-byte word ids + 3-byte suffix pointers, the dictionary and 16 bytes per document.
    assert!(built.size_bytes() as f64 / built.token_count() as f64 <= 6.0);
    // Only the final directory is left: no temporary ones.
    assert_eq!(std::fs::read_dir(cache_dir.path()).unwrap().count(), 1);

    let reloaded = cache.load(root).unwrap().expect("the stored index");
    assert_eq!(reloaded, built);
    let quote = passage(&documents[3], 400);
    assert_eq!(
        reloaded.attribute(quote.as_bytes()),
        built.attribute(quote.as_bytes())
    );
    assert_eq!(
        reloaded.attribute(quote.as_bytes()).weights[0].0,
        documents[3].contribution_id
    );

    // A cache hit never asks for the documents; another root misses.
    let asked = Cell::new(false);
    let hit = cache
        .load_or_build(root, || {
            asked.set(true);
            Ok(Vec::new())
        })
        .unwrap();
    assert!(!asked.get());
    assert_eq!(hit, built);
    let other_root = root_of(&documents[..10]);
    assert!(cache.load(other_root).unwrap().is_none());
    let other = cache
        .load_or_build(other_root, || {
            asked.set(true);
            Ok((0..2)
                .map(|i| Document {
                    contribution_id: i,
                    bytes: format!("document number {i}").into_bytes(),
                })
                .collect())
        })
        .unwrap();
    assert!(asked.get());
    assert_eq!(cache.load(other_root).unwrap(), Some(other));

    // A damaged index is reported, and load_or_build replaces it.
    std::fs::write(path.join("suffixes.bin"), b"short").unwrap();
    assert!(cache.load(root).is_err());
    let rebuilt = cache.load_or_build(root, || Ok(documents.clone())).unwrap();
    assert_eq!(rebuilt, built);
    assert_eq!(cache.load(root).unwrap(), Some(built));
}
