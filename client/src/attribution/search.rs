//! Searching a suffix array over token ids: the longest prefix of a query that occurs in the text, and
//! the suffix-array range of every occurrence of a pattern. Binary searches use the "mlr" accelerant:
//! every suffix between the two search bounds shares at least `min(lcp_lo, lcp_hi)` tokens with the
//! pattern, so comparisons start there instead of at 0.

use std::{cmp::Ordering, ops::Range};

/// A token id stored in an index text (`u16` or `u32`).
pub(crate) trait Symbol: Copy {
    /// The id as `u32`.
    fn id(self) -> u32;
}

impl Symbol for u16 {
    #[inline]
    fn id(self) -> u32 {
        u32::from(self)
    }
}

impl Symbol for u32 {
    #[inline]
    fn id(self) -> u32 {
        self
    }
}

/// Compares the suffix of `text` at `start` with `pattern`, skipping the first `skip` tokens (known equal).
/// Returns the order of the suffix relative to the pattern — `Equal` when the pattern is a prefix of the
/// suffix — and their common prefix length.
#[inline]
fn compare<T: Symbol>(text: &[T], start: usize, pattern: &[u32], skip: usize) -> (Ordering, usize) {
    let suffix = &text[start..];
    let mut k = skip;
    while k < pattern.len() {
        let Some(&symbol) = suffix.get(k) else {
            return (Ordering::Less, k); // the suffix is a proper prefix of the pattern
        };
        match symbol.id().cmp(&pattern[k]) {
            Ordering::Equal => k += 1,
            order => return (order, k),
        }
    }
    (Ordering::Equal, k)
}

/// The first suffix-array index whose suffix is not `go_right` of `pattern`, with the common prefix
/// lengths of the pattern and the suffixes just below and at that index.
fn partition<T: Symbol>(
    text: &[T],
    suffixes: &[i32],
    pattern: &[u32],
    go_right: impl Fn(Ordering) -> bool,
) -> (usize, usize, usize) {
    let (mut lo, mut hi) = (0, suffixes.len());
    let (mut lcp_lo, mut lcp_hi) = (0, 0);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let (order, lcp) = compare(text, suffixes[mid] as usize, pattern, lcp_lo.min(lcp_hi));
        if go_right(order) {
            lo = mid + 1;
            lcp_lo = lcp;
        } else {
            hi = mid;
            lcp_hi = lcp;
        }
    }
    (lo, lcp_lo, lcp_hi)
}

/// The length of the longest prefix of `query` that occurs somewhere in `text`.
pub(crate) fn longest_match<T: Symbol>(text: &[T], suffixes: &[i32], query: &[u32]) -> usize {
    // The longest match is shared with one of the two suffixes around the query's insertion point.
    let (_, below, at) = partition(text, suffixes, query, |order| order == Ordering::Less);
    below.max(at)
}

/// The suffix-array range of the suffixes that start with `pattern` (its occurrences).
pub(crate) fn occurrences<T: Symbol>(
    text: &[T],
    suffixes: &[i32],
    pattern: &[u32],
) -> Range<usize> {
    let (start, _, _) = partition(text, suffixes, pattern, |order| order == Ordering::Less);
    let (end, _, _) = partition(text, suffixes, pattern, |order| order != Ordering::Greater);
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use libsais::SuffixArrayConstruction;

    use super::*;

    fn suffix_array(text: &[u16]) -> Vec<i32> {
        SuffixArrayConstruction::for_text(text)
            .in_owned_buffer32()
            .single_threaded()
            .run()
            .unwrap()
            .into_vec()
    }

    /// Brute force: the longest prefix of `query` found at any position of `text`.
    fn naive_longest(text: &[u16], query: &[u32]) -> usize {
        (0..text.len())
            .map(|start| {
                text[start..]
                    .iter()
                    .zip(query)
                    .take_while(|(a, b)| u32::from(**a) == **b)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    fn naive_count(text: &[u16], pattern: &[u32]) -> usize {
        (0..text.len())
            .filter(|&start| {
                text.len() - start >= pattern.len()
                    && text[start..start + pattern.len()]
                        .iter()
                        .zip(pattern)
                        .all(|(a, b)| u32::from(*a) == *b)
            })
            .count()
    }

    #[test]
    fn matches_brute_force_on_a_small_alphabet() {
        // A deterministic pseudo-random text over 4 symbols makes many repeats and near-misses.
        let mut state = 0x2545_f491_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let text: Vec<u16> = (0..2000).map(|_| (next() % 4) as u16 + 1).collect();
        let suffixes = suffix_array(&text);
        for _ in 0..300 {
            let len = (next() % 12) as usize + 1;
            let query: Vec<u32> = (0..len).map(|_| next() % 5 + 1).collect();
            assert_eq!(
                longest_match(&text, &suffixes, &query),
                naive_longest(&text, &query),
                "{query:?}"
            );
            let range = occurrences(&text, &suffixes, &query);
            assert_eq!(range.len(), naive_count(&text, &query), "{query:?}");
            for &start in &suffixes[range] {
                let start = start as usize;
                assert!(
                    text[start..]
                        .iter()
                        .zip(&query)
                        .all(|(a, b)| u32::from(*a) == *b)
                );
            }
        }
    }

    #[test]
    fn handles_absent_symbols_and_text_end() {
        let text: Vec<u16> = vec![5, 6, 7, 5, 6];
        let suffixes = suffix_array(&text);
        assert_eq!(longest_match(&text, &suffixes, &[9, 5]), 0);
        assert_eq!(longest_match(&text, &suffixes, &[5, 6, 7, 5, 6, 8]), 5);
        assert_eq!(longest_match(&text, &suffixes, &[6, 9]), 1);
        assert_eq!(occurrences(&text, &suffixes, &[5, 6]).len(), 2);
        assert_eq!(occurrences(&text, &suffixes, &[6]).len(), 2);
        assert!(occurrences(&text, &suffixes, &[1]).is_empty());
        assert!(occurrences(&text, &suffixes, &[7, 5, 6, 7]).is_empty());
    }
}
