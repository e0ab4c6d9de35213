//! The training data: the documents of the given releases (releases in the order given, each in
//! release order), tokenized with the base's tokenizer, split at the document level into a held-out
//! slice and the training set, the training set packed into sequences.
//!
//! - Held out: every 10th document in training order (positions 9, 19, 29, ... counted from 0); when
//!   that selects none (fewer than 10 documents), the last document. At least one document must remain
//!   for training.
//! - Packing: the training documents' tokens are concatenated in order and cut into consecutive,
//!   non-overlapping sequences of `seq_len + 1` tokens (inputs `0..seq_len`, targets `1..=seq_len`); a
//!   remainder of at least 2 tokens is one shorter last sequence. The held-out documents are packed the
//!   same way, separately.
//! - Order: step `s` (0-based) trains on sequence `perm_e[s mod n]` where `e = s div n` is the epoch and
//!   `perm_e` the SplitMix64 Fisher–Yates permutation of `0..n` seeded by `(seed, purpose 2, e)`.

use alloy::primitives::B256;

use super::{FinetuneError, rng::Rng, tokenizer::Tokenizer};
use crate::{attribution::content_hash, chain::VerifiedRelease};

/// Every `HELD_OUT_EVERY`-th document is held out.
pub const HELD_OUT_EVERY: usize = 10;

/// The RNG purpose tag of the sequence order.
const ORDER_PURPOSE: u8 = 2;

/// One document in training order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingDocument {
    /// The release it came from.
    pub release_id: u64,
    /// Its contribution.
    pub contribution_id: u64,
    /// `keccak256` of its bytes (its registered content hash).
    pub content_hash: B256,
    /// Whether it is held out.
    pub held_out: bool,
    /// Its number of tokens.
    pub tokens: usize,
}

/// The packed data set.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Every document in training order.
    pub documents: Vec<TrainingDocument>,
    /// Training sequences, `seq_len + 1` tokens each (the last may be shorter).
    pub train: Vec<Vec<u32>>,
    /// Held-out sequences, packed the same way.
    pub held_out: Vec<Vec<u32>>,
}

/// Packs token streams into sequences of `seq_len + 1` tokens.
fn pack<'a>(streams: impl Iterator<Item = &'a [u32]>, seq_len: usize) -> Vec<Vec<u32>> {
    let all: Vec<u32> = streams.flat_map(|s| s.iter().copied()).collect();
    all.chunks(seq_len + 1)
        .filter(|chunk| chunk.len() >= 2)
        .map(<[u32]>::to_vec)
        .collect()
}

/// Whether the document at `index` of `count` is held out.
pub fn is_held_out(index: usize, count: usize) -> bool {
    if count >= HELD_OUT_EVERY {
        index % HELD_OUT_EVERY == HELD_OUT_EVERY - 1
    } else {
        index + 1 == count
    }
}

impl Dataset {
    /// Tokenizes and packs the documents of `releases` (which must be non-empty, each with documents).
    pub fn build(
        releases: &[VerifiedRelease],
        tokenizer: &Tokenizer,
        seq_len: usize,
    ) -> Result<Self, FinetuneError> {
        if releases.is_empty() {
            return Err(FinetuneError::NoRelease);
        }
        if let Some(empty) = releases.iter().find(|r| r.documents.is_empty()) {
            return Err(FinetuneError::EmptyRelease(empty.release_id));
        }
        let count: usize = releases.iter().map(|r| r.documents.len()).sum();
        if count < 2 {
            return Err(FinetuneError::TooLittleData(
                "one document in all: at least two are needed, one of them held out".into(),
            ));
        }
        let mut documents = Vec::with_capacity(count);
        let mut tokens = Vec::with_capacity(count);
        for release in releases {
            for document in &release.documents {
                let index = documents.len();
                let ids = tokenizer.encode_document(&document.bytes);
                documents.push(TrainingDocument {
                    release_id: release.release_id,
                    contribution_id: document.contribution_id,
                    content_hash: content_hash(&document.bytes),
                    held_out: is_held_out(index, count),
                    tokens: ids.len(),
                });
                tokens.push(ids);
            }
        }
        let stream = |held_out: bool| {
            documents
                .iter()
                .zip(&tokens)
                .filter(move |(d, _)| d.held_out == held_out)
                .map(|(_, t)| t.as_slice())
        };
        let train = pack(stream(false), seq_len);
        let held_out = pack(stream(true), seq_len);
        if train.is_empty() || held_out.is_empty() {
            return Err(FinetuneError::TooLittleData(
                "no training or held-out sequence of at least 2 tokens".into(),
            ));
        }
        Ok(Self {
            documents,
            train,
            held_out,
        })
    }

    /// The index of the training sequence of step `step` (0-based) under `seed`.
    pub fn sequence_for_step(&self, seed: u64, step: usize, cache: &mut EpochOrder) -> usize {
        let n = self.train.len();
        let epoch = (step / n) as u64;
        if cache.epoch != Some(epoch) {
            cache.order = Rng::for_purpose(seed, ORDER_PURPOSE, epoch).permutation(n);
            cache.epoch = Some(epoch);
        }
        cache.order[step % n]
    }

    /// Training tokens (predicted positions) of sequence `index`.
    pub fn predicted(&self, index: usize) -> usize {
        self.train[index].len() - 1
    }
}

/// The permutation of the current epoch, kept between steps.
#[derive(Debug, Clone, Default)]
pub struct EpochOrder {
    epoch: Option<u64>,
    order: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenth_document_is_held_out_else_the_last() {
        let held: Vec<usize> = (0..25).filter(|&i| is_held_out(i, 25)).collect();
        assert_eq!(held, vec![9, 19]);
        let held: Vec<usize> = (0..3).filter(|&i| is_held_out(i, 3)).collect();
        assert_eq!(held, vec![2]);
    }

    #[test]
    fn packing_keeps_a_remainder_of_two_tokens_or_more() {
        let a = [1u32, 2, 3, 4, 5];
        let b = [6u32, 7, 8];
        let packed = pack([&a[..], &b[..]].into_iter(), 3);
        assert_eq!(packed, vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]]);
        let packed = pack([&a[..]].into_iter(), 3);
        assert_eq!(packed, vec![vec![1, 2, 3, 4]]);
    }
}
