//! The API's response cache: a query's JSON answer kept for the exact request body that asked for it,
//! valid only while the projections are at the version it was read at ([`Store::version`]).
//!
//! Every committed change to the projections (a block with events, a revert, a rebuild) changes the
//! version, and the first request to see a new version empties the cache, so a cached answer is always
//! the answer the database would give now. Blocks without Soil events move only the checkpoint, so
//! answers survive them; queries that read the checkpoint (`_meta`) are therefore never cached (see
//! [`cacheable`]), nor are answers with errors (a timeout, a bad argument). Entries are evicted least
//! recently used first once their bytes pass the budget. graph-node keeps a cache of the same kind,
//! keyed by block.
//!
//! [`Store::version`]: crate::store::Store::version

use std::sync::Mutex;

use axum::body::Bytes;
use lru::LruCache;

/// Whether an answer to `request` may be cached: not when the query mentions `_meta`, the only field
/// read from the checkpoint rather than the projections. A field is always named in the query text
/// (aliases and fragments name it too), so looking for the name is enough.
pub(crate) fn cacheable(request: &[u8]) -> bool {
    !request.windows(META.len()).any(|window| window == META)
}

const META: &[u8] = b"_meta";

/// Cached answers of one store version.
#[derive(Debug)]
pub(crate) struct ResponseCache {
    budget: usize,
    inner: Mutex<Entries>,
}

#[derive(Debug)]
struct Entries {
    version: u64,
    bytes: usize,
    answers: LruCache<Bytes, Bytes>,
}

impl Entries {
    /// Moves to `version` if it is newer, dropping every answer of the older one. Returns whether
    /// the entries are now those of `version` (false for a reader still at an older version).
    fn at(&mut self, version: u64) -> bool {
        if version > self.version {
            self.version = version;
            self.bytes = 0;
            self.answers.clear();
        }
        version == self.version
    }
}

impl ResponseCache {
    /// A cache holding at most `budget` bytes of requests and answers; `None` for a zero budget
    /// (caching off).
    pub(crate) fn new(budget: usize) -> Option<Self> {
        (budget > 0).then(|| Self {
            budget,
            inner: Mutex::new(Entries {
                version: 0,
                bytes: 0,
                answers: LruCache::unbounded(),
            }),
        })
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave an answer half-written (inserts are atomic).
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The answer to `request` read at store version `version`, if one is kept.
    pub(crate) fn get(&self, version: u64, request: &[u8]) -> Option<Bytes> {
        let mut entries = self.entries();
        if !entries.at(version) {
            return None;
        }
        let hit = entries.answers.get(request).cloned();
        metrics::counter!(
            "soil_indexer_api_cache_total",
            "result" => if hit.is_some() { "hit" } else { "miss" }
        )
        .increment(1);
        hit
    }

    /// Keeps `answer` to `request`, read at store version `version`. An answer read at a version
    /// that has since changed, or larger than an eighth of the budget, is not kept.
    pub(crate) fn put(&self, version: u64, request: Bytes, answer: Bytes) {
        let size = request.len() + answer.len();
        if size > self.budget / 8 {
            return;
        }
        let mut entries = self.entries();
        if !entries.at(version) {
            return;
        }
        let key_len = request.len();
        if let Some(previous) = entries.answers.put(request, answer) {
            entries.bytes -= key_len + previous.len();
        }
        entries.bytes += size;
        while entries.bytes > self.budget {
            let Some((key, value)) = entries.answers.pop_lru() else {
                break;
            };
            entries.bytes -= key.len() + value.len();
        }
    }

    /// Entries kept (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().answers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    #[test]
    fn answers_are_kept_for_one_version_only() {
        let cache = ResponseCache::new(1 << 20).unwrap();
        cache.put(1, b("{a}"), b("A1"));
        assert_eq!(cache.get(1, b"{a}"), Some(b("A1")));
        assert_eq!(cache.get(1, b"{b}"), None);
        // The store moved on: the old answer is gone, and a reader still at version 1 neither reads
        // nor writes.
        assert_eq!(cache.get(2, b"{a}"), None);
        cache.put(1, b("{a}"), b("A1"));
        assert_eq!(cache.get(2, b"{a}"), None);
        cache.put(2, b("{a}"), b("A2"));
        assert_eq!(cache.get(1, b"{a}"), None);
        assert_eq!(cache.get(2, b"{a}"), Some(b("A2")));
    }

    #[test]
    fn least_recently_used_answers_leave_past_the_budget() {
        // Each entry is 3 + 7 = 10 bytes; the budget holds eight.
        let cache = ResponseCache::new(80).unwrap();
        for key in ["a", "b", "c", "d", "e", "f", "g", "h"] {
            cache.put(1, b(&format!("{{{key}}}")), b("answer!"));
        }
        assert_eq!(cache.len(), 8);
        assert!(cache.get(1, b"{a}").is_some(), "a is now the most recent");
        cache.put(1, b("{i}"), b("answer!"));
        assert_eq!(cache.len(), 8);
        assert_eq!(cache.get(1, b"{b}"), None, "b was the least recently used");
        assert!(cache.get(1, b"{a}").is_some());
        // Replacing an answer does not count its old bytes twice.
        cache.put(1, b("{a}"), b("ANSWER!"));
        assert_eq!(cache.len(), 8);
        assert_eq!(cache.get(1, b"{a}"), Some(b("ANSWER!")));
        assert!(cache.get(1, b"{c}").is_some(), "nothing else was evicted");
    }

    #[test]
    fn queries_reading_the_checkpoint_are_not_cacheable() {
        assert!(cacheable(br#"{"query":"{ totals { fees } }"}"#));
        assert!(!cacheable(
            br#"{"query":"{ _meta { blockNumber } totals { fees } }"}"#
        ));
        assert!(!cacheable(br#"{"query":"{ head: _meta { synced } }"}"#));
    }

    #[test]
    fn oversized_answers_and_a_zero_budget_are_not_cached() {
        assert!(ResponseCache::new(0).is_none());
        let cache = ResponseCache::new(64).unwrap();
        cache.put(1, b("{a}"), b("this answer is longer than an eighth"));
        assert_eq!(cache.get(1, b"{a}"), None);
    }
}
