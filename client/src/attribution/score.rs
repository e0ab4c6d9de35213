//! Scoring an output against an index: maximal matching spans of words, their rarity weights, the credit
//! of each contribution, the top K and their weights in parts per million. Integer arithmetic only (the
//! logarithm is a fixed-point `log2` computed with integers), so the result is bit-identical on every
//! machine. docs/PROTOCOL.md ("Attribution") is the normative statement; in short:
//!
//! 1. The output's words (see [`super::words`]) are looked up in the index; a word no document holds
//!    matches nothing, so no span crosses it.
//! 2. For each output position `i`, `L[i]` is the length of the longest run of output words from `i` that
//!    occurs inside one document (a binary search on the suffix array). The span `[i, i + L[i])` is
//!    *maximal* when it is not inside the previous position's span, i.e. `L[i] ≥ L[i-1]`; spans shorter
//!    than `min_span` words are dropped.
//! 3. A span occurring `occ` times in releases of `N` words weighs
//!    `len × (log2_fixed(N) − log2_fixed(occ))` (16 fractional bits, floored at 0): long spans and rare
//!    spans weigh most. Spans occurring more than `max_occurrences` times are common phrasing and credit
//!    nobody.
//! 4. A span's weight is split over its occurrences: each contribution holding `k` of them is credited
//!    `⌊weight × k / occ⌋`.
//! 5. The `top_k` contributions by credit (ties: lower contribution id first) are kept.
//! 6. The attributed share of the output is the fraction of output words covered by a span that credits
//!    a kept contribution: `budget = ⌊1 000 000 × covered / output words⌋` ppm. The rest of the data
//!    share goes to the release pool on chain.
//! 7. The budget is split over the kept contributions in proportion to their credit, rounded down, and
//!    the few ppm left by rounding go one each to the largest remainders (ties in rank order), so the
//!    weights sum to exactly the budget (≤ 1 000 000).

use std::collections::BTreeMap;

use soil_bindings::receipt::{MAX_ATTRIBUTIONS, PPM};

use super::{
    AttributionError, Index,
    index::{END_OF_DOCUMENT, Text},
    search::{Symbol, longest_match, occurrences},
    words::for_each_word,
};

/// Fixed-point scale of span weights: 16 fractional bits.
pub const WEIGHT_ONE: u64 = 1 << 16;

/// Settings of [`Index::attribute`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributionParams {
    /// The shortest span, in words, that counts as a match.
    pub min_span: usize,
    /// The most contributions kept (at most 16, what a receipt carries).
    pub top_k: usize,
    /// Spans occurring more often than this in the releases are common phrasing and credit nobody.
    pub max_occurrences: usize,
}

impl AttributionParams {
    /// The parameters of protocol version 1 (docs/PROTOCOL.md).
    pub const V1: Self = Self {
        min_span: 7,
        top_k: MAX_ATTRIBUTIONS,
        max_occurrences: 64,
    };

    /// Checks the ranges: `min_span ≥ 1`, `1 ≤ top_k ≤ 16`, `max_occurrences ≥ 1`.
    pub fn validate(&self) -> Result<(), AttributionError> {
        if self.min_span == 0 {
            return Err(AttributionError::InvalidParams(
                "min_span must be at least 1".into(),
            ));
        }
        if self.top_k == 0 || self.top_k > MAX_ATTRIBUTIONS {
            return Err(AttributionError::InvalidParams(format!(
                "top_k must be between 1 and {MAX_ATTRIBUTIONS}, got {}",
                self.top_k
            )));
        }
        if self.max_occurrences == 0 {
            return Err(AttributionError::InvalidParams(
                "max_occurrences must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// A maximal span of the output found in the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedSpan {
    /// Index of the span's first token in the output.
    pub start: usize,
    /// Length in words.
    pub len: usize,
    /// How many times it occurs in the release.
    pub occurrences: usize,
    /// `len × log2(N / occurrences)` in units of 1/[`WEIGHT_ONE`].
    pub weight: u64,
    /// The contributions holding it, ascending.
    pub contributions: Vec<u64>,
}

/// The attribution of one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// `(contribution id, weight in ppm)`, by decreasing weight then increasing id; at most `top_k`
    /// entries, weights summing to at most 1 000 000.
    pub weights: Vec<(u64, u32)>,
    /// The credited spans, in output order (for display).
    pub spans: Vec<MatchedSpan>,
    /// Output words covered by a span that credits a kept contribution.
    pub covered_words: usize,
    /// Words in the output.
    pub output_words: usize,
}

impl Attribution {
    /// Σ of the weights in ppm.
    pub fn total_ppm(&self) -> u32 {
        self.weights.iter().map(|&(_, ppm)| ppm).sum()
    }

    /// The attribution a usage receipt commits to.
    pub fn to_receipt(&self) -> soil_bindings::receipt::Attribution {
        soil_bindings::receipt::Attribution {
            entries: self.weights.clone(),
        }
    }
}

/// `log2(x)` in 16-bit fixed point, with integers only (`x ≥ 1`; 0 is treated as 1).
pub fn log2_fixed(x: u64) -> u64 {
    let x = x.max(1);
    let integer = 63 - u64::from(x.leading_zeros());
    // The mantissa x / 2^integer in [1, 2), as a Q62 number.
    let mut mantissa: u128 = if integer <= 62 {
        u128::from(x) << (62 - integer)
    } else {
        u128::from(x) >> (integer - 62)
    };
    let mut fraction = 0u64;
    for bit in (0..16).rev() {
        mantissa = (mantissa * mantissa) >> 62;
        if mantissa >= 2 << 62 {
            fraction |= 1 << bit;
            mantissa >>= 1;
        }
    }
    (integer << 16) | fraction
}

/// Splits `budget` ppm over `credits` (already ranked) in proportion, with the largest-remainder rule.
pub(crate) fn normalise(credits: &[(u64, u128)], budget: u32) -> Vec<(u64, u32)> {
    let total: u128 = credits.iter().map(|&(_, credit)| credit).sum();
    if total == 0 || budget == 0 {
        return Vec::new();
    }
    let budget_wide = u128::from(budget);
    let mut shares: Vec<(u64, u32, u128, usize)> = credits
        .iter()
        .enumerate()
        .map(|(rank, &(id, credit))| {
            let scaled = budget_wide * credit;
            (id, (scaled / total) as u32, scaled % total, rank)
        })
        .collect();
    let assigned: u32 = shares.iter().map(|share| share.1).sum();
    let mut by_remainder: Vec<usize> = (0..shares.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        shares[b]
            .2
            .cmp(&shares[a].2)
            .then(shares[a].3.cmp(&shares[b].3))
    });
    for &position in by_remainder.iter().take((budget - assigned) as usize) {
        shares[position].1 += 1;
    }
    let mut weights: Vec<(u64, u32)> = shares
        .into_iter()
        .filter(|share| share.1 > 0)
        .map(|(id, ppm, _, _)| (id, ppm))
        .collect();
    weights.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    weights
}

/// The maximal spans `(start, len)` of `segment` (offset by `offset` in the output) of at least
/// `min_span` words.
fn maximal_spans<T: Symbol>(
    text: &[T],
    suffixes: &[i32],
    segment: &[u32],
    offset: usize,
    min_span: usize,
) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut previous = 0usize;
    for i in 0..segment.len() {
        let len = longest_match(text, suffixes, &segment[i..]);
        // L[i] ≥ L[i-1] - 1 always; the span is inside the previous one exactly when L[i] = L[i-1] - 1.
        if len >= min_span && (i == 0 || len >= previous) {
            spans.push((offset + i, len));
        }
        previous = len;
    }
    spans
}

impl Index {
    /// Attributes `output` (the published output bytes) to the indexed contributions under this
    /// client's protocol version ([`super::PROTOCOL_VERSION`], [`AttributionParams::V1`]): what a receipt
    /// commits to. Deterministic: the same output and releases give the same result on any machine.
    pub fn attribute(&self, output: &[u8]) -> Attribution {
        let ids = self.output_ids(output);
        let params = AttributionParams::V1;
        match &self.text {
            Text::Narrow(text) => self.attribute_in(text, &ids, &params),
            Text::Wide(text) => self.attribute_in(text, &ids, &params),
        }
    }

    /// The attribution under other parameters, for measuring them (a receipt never commits to it).
    pub fn attribute_with(
        &self,
        output: &[u8],
        params: &AttributionParams,
    ) -> Result<Attribution, AttributionError> {
        params.validate()?;
        let ids = self.output_ids(output);
        match &self.text {
            Text::Narrow(text) => Ok(self.attribute_in(text, &ids, params)),
            Text::Wide(text) => Ok(self.attribute_in(text, &ids, params)),
        }
    }

    /// The output's words as ids of the index's dictionary; a word no document holds is
    /// [`END_OF_DOCUMENT`], which no span crosses.
    fn output_ids(&self, output: &[u8]) -> Vec<u32> {
        let mut ids = Vec::new();
        for_each_word(output, |word| ids.push(self.id_of(word)));
        ids
    }

    fn attribute_in<T: Symbol>(
        &self,
        text: &[T],
        output: &[u32],
        params: &AttributionParams,
    ) -> Attribution {
        let release_words = log2_fixed(self.word_count() as u64);

        let mut candidates = Vec::new();
        let mut segment_start = 0;
        for end in 0..=output.len() {
            let breaks = end == output.len() || output[end] == END_OF_DOCUMENT;
            if breaks {
                if end > segment_start {
                    candidates.extend(maximal_spans(
                        text,
                        &self.suffixes,
                        &output[segment_start..end],
                        segment_start,
                        params.min_span,
                    ));
                }
                segment_start = end + 1;
            }
        }

        let mut spans = Vec::new();
        let mut credits: BTreeMap<u64, u128> = BTreeMap::new();
        for (start, len) in candidates {
            let range = occurrences(text, &self.suffixes, &output[start..start + len]);
            let count = range.len();
            if count == 0 || count > params.max_occurrences {
                continue;
            }
            let weight = len as u64 * release_words.saturating_sub(log2_fixed(count as u64));
            if weight == 0 {
                continue;
            }
            let mut holders: BTreeMap<u64, u128> = BTreeMap::new();
            for &position in &self.suffixes[range] {
                let document = self.documents[self.document_at(position as usize)].contribution_id;
                *holders.entry(document).or_default() += 1;
            }
            for (&id, &held) in &holders {
                *credits.entry(id).or_default() += u128::from(weight) * held / count as u128;
            }
            spans.push(MatchedSpan {
                start,
                len,
                occurrences: count,
                weight,
                contributions: holders.into_keys().collect(),
            });
        }

        let mut ranked: Vec<(u64, u128)> = credits
            .into_iter()
            .filter(|&(_, credit)| credit > 0)
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(params.top_k);

        let kept = |span: &MatchedSpan| {
            span.contributions
                .iter()
                .any(|id| ranked.iter().any(|&(kept, _)| kept == *id))
        };
        let mut covered = vec![false; output.len()];
        for span in spans.iter().filter(|span| kept(span)) {
            covered[span.start..span.start + span.len].fill(true);
        }
        let covered_words = covered.iter().filter(|&&token| token).count();
        let budget = if output.is_empty() {
            0
        } else {
            (u128::from(PPM) * covered_words as u128 / output.len() as u128) as u32
        };
        Attribution {
            weights: normalise(&ranked, budget),
            spans,
            covered_words,
            output_words: output.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::B256;

    use super::*;
    use crate::attribution::Document;

    #[test]
    fn log2_fixed_is_exact_on_powers_and_close_elsewhere() {
        assert_eq!(log2_fixed(1), 0);
        assert_eq!(log2_fixed(2), WEIGHT_ONE);
        assert_eq!(log2_fixed(1 << 40), 40 * WEIGHT_ONE);
        for x in [3u64, 10, 1000, 49_152, 10_000_019, u64::MAX] {
            let exact = (x as f64).log2() * WEIGHT_ONE as f64;
            assert!((log2_fixed(x) as f64 - exact).abs() <= 1.0, "log2({x})");
        }
    }

    #[test]
    fn normalise_is_exact_and_breaks_ties_by_rank() {
        // Three equal credits: 1 000 000 / 3 leaves one ppm, which goes to the first in rank order.
        let weights = normalise(&[(7, 5), (9, 5), (11, 5)], PPM);
        assert_eq!(weights, vec![(7, 333_334), (9, 333_333), (11, 333_333)]);
        let weights = normalise(&[(1, 2), (2, 1)], 500_000);
        // 333 333.3 and 166 666.7: the leftover ppm goes to the larger remainder.
        assert_eq!(weights, vec![(1, 333_333), (2, 166_667)]);
        assert_eq!(weights.iter().map(|w| w.1).sum::<u32>(), 500_000);
        assert!(normalise(&[(1, 0)], PPM).is_empty());
        assert!(normalise(&[(1, 3)], 0).is_empty());
        // Sums are exact for awkward proportions too.
        let credits: Vec<(u64, u128)> = (1..=16)
            .map(|id| (id, u128::from(id * id * 7919)))
            .collect();
        assert_eq!(
            normalise(&credits, 999_999)
                .iter()
                .map(|w| w.1)
                .sum::<u32>(),
            999_999
        );
    }

    fn index(documents: &[(u64, &str)]) -> Index {
        let documents = documents
            .iter()
            .map(|&(contribution_id, text)| Document {
                contribution_id,
                bytes: text.as_bytes().to_vec(),
            })
            .collect();
        Index::build(B256::repeat_byte(1), documents).unwrap()
    }

    #[test]
    fn maximal_spans_skip_spans_inside_the_previous_one() {
        let index = index(&[(1, "a b c d e f"), (2, "k l m n o")]);
        let Text::Narrow(text) = &index.text else {
            panic!("narrow text expected")
        };
        // Output: "a b c d e", a word nowhere, then "m n o".
        let mut output = index.output_ids(b"a b c d e nowhere m n o");
        assert_eq!(output[5], END_OF_DOCUMENT);
        // `attribute` splits the output there; here an id the text does not hold stands in.
        output[5] = u32::MAX;
        let spans = maximal_spans(text, &index.suffixes, &output, 0, 1);
        assert_eq!(spans, vec![(0, 5), (6, 3)]);
        assert_eq!(
            maximal_spans(text, &index.suffixes, &output, 0, 4),
            vec![(0, 5)]
        );
    }

    #[test]
    fn attribution_credits_holders_and_never_crosses_documents() {
        let index = index(&[(1, "a b c d e"), (2, "f g h i"), (3, "A, B; C. D z")]);
        let params = AttributionParams {
            min_span: 3,
            ..AttributionParams::V1
        };
        // "a b c d" is in documents 1 and 3; "e f g h" would only exist across 1|2.
        let result = index.attribute_with(b"a b c d e f g h", &params).unwrap();
        assert_eq!(result.spans.len(), 2);
        assert_eq!(
            result.spans[0],
            MatchedSpan {
                start: 0,
                len: 5,
                occurrences: 1,
                weight: 5 * log2_fixed(index.word_count() as u64),
                contributions: vec![1]
            }
        );
        assert_eq!(
            (
                result.spans[1].start,
                result.spans[1].len,
                &result.spans[1].contributions
            ),
            (5, 3, &vec![2])
        );
        assert_eq!(result.covered_words, 8);
        assert_eq!(result.total_ppm(), PPM);
        assert_eq!(result.weights[0].0, 1);
        assert!(result.weights[0].1 > result.weights[1].1);

        // Words no document holds match nothing and split spans.
        let split = index
            .attribute_with(b"a b unknown c d e zzz", &params)
            .unwrap();
        assert_eq!(
            split
                .spans
                .iter()
                .map(|s| (s.start, s.len))
                .collect::<Vec<_>>(),
            vec![(3, 3)]
        );
        assert_eq!(split.total_ppm(), 3 * PPM / 7);

        let none = index.attribute_with(b"w x y q", &params).unwrap();
        assert!(none.weights.is_empty() && none.spans.is_empty());
        assert!(index.attribute(b"").weights.is_empty());
        assert!(
            index
                .attribute_with(
                    b"a",
                    &AttributionParams {
                        top_k: 17,
                        ..params
                    }
                )
                .is_err()
        );
    }
}
