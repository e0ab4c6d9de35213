//! Proof of attribution: which contributions of a model's releases an output draws on.
//!
//! A release's documents are fetched from their contribution URIs and checked against their content
//! hashes ([`DocumentFetcher`], [`verify_document`]); the set is checked against the release's Merkle
//! root ([`release_root`]); the documents are split into normalized words, independent of any model's
//! tokenizer ([`words`]), and indexed as a suffix array over word ids ([`Index::build`]), cached on disk
//! by release root ([`IndexCache`]). After a generation, [`Index::attribute`] finds the output's maximal
//! spans of words in the release, weights them by rarity
//! and turns the credits of the top contributions into parts per million (see [`score`] for the exact,
//! integer-only method). The result is deterministic, so anyone with the output and the release can
//! recompute it and compare it with a receipt's `attributionHash`.

mod document;
mod error;
mod index;
mod merkle;
pub mod score;
mod search;
mod words;

pub use document::{
    Document, DocumentFetcher, MAX_DOCUMENT_BYTES, content_hash, fetch_document, verify_document,
};
pub use error::AttributionError;
pub use index::{DocumentEntry, Index, IndexCache, ReleaseWords};
pub use merkle::{hash_pair, leaf, release_root};
pub use score::{Attribution, AttributionParams, MatchedSpan, WEIGHT_ONE};
pub use words::{for_each_word, word_count, words};

/// The attribution protocol version a receipt's `attributionVersion` names: the algorithm of this module
/// with [`AttributionParams::V1`], specified in docs/PROTOCOL.md. An auditor recomputes a receipt's
/// attribution under the version it names.
pub const PROTOCOL_VERSION: u16 = 1;
