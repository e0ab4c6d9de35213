//! The API's response cache: a query's JSON answer kept for the exact request body that asked for it,
//! for as long as nothing it was read from has changed.
//!
//! Each answer keeps the [`ReadSet`] it was read from (the rows it looked up by key, the tables it read
//! otherwise). When the store's version moves, the cache asks the store's change log what the writes
//! since changed ([`ChangeLog::catch_up`]) and drops the answers those changes may have touched: a block
//! that credits three contributors retires their earnings and every list over the tables it wrote,
//! while the other contributors' answers stay. A revert or a rebuild, or writes older than the log
//! keeps, empty the cache. Queries that read the checkpoint (`_meta`) are never cached (see
//! [`cacheable`]), nor are answers with errors (a timeout, a bad argument). Entries are evicted least
//! recently used first once their bytes pass the budget. graph-node keeps a cache of the same kind,
//! keyed by block; Hasura and GraphQL CDNs invalidate by the entities an answer holds, as this one does.
//!
//! [`ChangeLog::catch_up`]: crate::store::ChangeLog::catch_up

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use lru::LruCache;

use crate::api::figures::Template;
use crate::api::reads::ReadSet;
use crate::store::{CaughtUp, ChangeLog};

/// Whether an answer to `request` may be cached: not when the query mentions `_meta`, the only field
/// read from the checkpoint rather than the projections. A field is always named in the query text
/// (aliases and fragments name it too), so looking for the name is enough.
pub(crate) fn cacheable(request: &[u8]) -> bool {
    !request.windows(META.len()).any(|window| window == META)
}

const META: &[u8] = b"_meta";

/// Cached answers, each valid at the store version the cache is at.
#[derive(Debug)]
pub(crate) struct ResponseCache {
    budget: usize,
    inner: Mutex<Entries>,
}

#[derive(Debug)]
struct Entries {
    version: u64,
    bytes: usize,
    answers: LruCache<Bytes, Answer>,
}

/// A kept answer (its node figures left as holes) and what it was read from.
#[derive(Debug)]
struct Answer {
    template: Arc<Template>,
    reads: ReadSet,
    /// Bytes counted against the budget (request, answer and reads).
    weight: usize,
}

impl Entries {
    /// Brings the entries to the store's current version, dropping the answers that the writes since
    /// may have changed (all of them when the log no longer holds those writes).
    fn catch_up(&mut self, log: &ChangeLog) {
        let writes = match log.catch_up(&mut self.version) {
            CaughtUp::Current => return,
            CaughtUp::Forgotten => {
                self.answers.clear();
                self.bytes = 0;
                return;
            }
            CaughtUp::Changed(writes) => writes,
        };
        let stale: Vec<Bytes> = self
            .answers
            .iter()
            .filter(|(_, answer)| writes.iter().any(|c| answer.reads.stale_after(c)))
            .map(|(request, _)| request.clone())
            .collect();
        metrics::counter!("soil_indexer_api_cache_retired_total").increment(stale.len() as u64);
        for request in stale {
            if let Some(answer) = self.answers.pop(&request) {
                self.bytes -= answer.weight;
            }
        }
    }
}

impl ResponseCache {
    /// A cache holding at most `budget` bytes of requests, answers and their reads; `None` for a zero
    /// budget (caching off).
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

    /// The kept answer to `request`, right at the store's current version (`log`) once its holes are
    /// filled, if there is one.
    pub(crate) fn get(&self, log: &ChangeLog, request: &[u8]) -> Option<Arc<Template>> {
        let mut entries = self.entries();
        entries.catch_up(log);
        let hit = entries
            .answers
            .get(request)
            .map(|a| Arc::clone(&a.template));
        metrics::counter!(
            "soil_indexer_api_cache_total",
            "result" => if hit.is_some() { "hit" } else { "miss" }
        )
        .increment(1);
        hit
    }

    /// Keeps `answer` to `request`, read from `reads` by a request that started at store version
    /// `version`. When writes landed while it ran, it is kept only if none of them changed what it
    /// read (else it may mix rows from before and after them). Not kept either when it weighs more
    /// than an eighth of the budget.
    pub(crate) fn put(
        &self,
        log: &ChangeLog,
        version: u64,
        request: Bytes,
        answer: Arc<Template>,
        reads: ReadSet,
    ) {
        let weight = request.len() + answer.weight() + reads.weight();
        if weight > self.budget / 8 {
            return;
        }
        let mut entries = self.entries();
        entries.catch_up(log);
        if entries.version != version {
            let unchanged = log.since(version).is_some_and(|(now, writes)| {
                now == entries.version && !writes.iter().any(|c| reads.stale_after(c))
            });
            if !unchanged {
                return;
            }
        }
        let kept = Answer {
            template: answer,
            reads,
            weight,
        };
        if let Some(previous) = entries.answers.put(request, kept) {
            entries.bytes -= previous.weight;
        }
        entries.bytes += weight;
        while entries.bytes > self.budget {
            let Some((_, evicted)) = entries.answers.pop_lru() else {
                break;
            };
            entries.bytes -= evicted.weight;
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
    use crate::api::reads::Reads;
    use crate::store::Changes;

    fn b(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    /// An answer without holes.
    fn a(text: &str) -> Arc<Template> {
        Arc::new(Template::plain(b(text)))
    }

    trait Body {
        fn body(self) -> Option<Bytes>;
    }

    impl Body for Option<Arc<Template>> {
        fn body(self) -> Option<Bytes> {
            self.map(|t| t.body().clone())
        }
    }

    fn accounts(addresses: &[&str]) -> ReadSet {
        let reads = Reads::default();
        reads.values(
            "accounts",
            "address",
            addresses.iter().map(|a| (*a).to_owned()),
        );
        reads.take()
    }

    fn table(table: &'static str) -> ReadSet {
        let reads = Reads::default();
        reads.table(table);
        reads.take()
    }

    #[test]
    fn a_write_retires_only_the_answers_read_from_what_it_changed() {
        let log = ChangeLog::default();
        let cache = ResponseCache::new(1 << 20).unwrap();
        cache.put(&log, 0, b("{a}"), a("A"), accounts(&["0xaa"]));
        cache.put(&log, 0, b("{b}"), a("B"), accounts(&["0xbb"]));
        cache.put(&log, 0, b("{list}"), a("L"), table("receipts"));
        assert_eq!(cache.get(&log, b"{a}").body(), Some(b("A")));

        log.record(Changes::written("accounts", "address", &["0xbb"]));
        assert_eq!(cache.get(&log, b"{a}").body(), Some(b("A")));
        assert_eq!(cache.get(&log, b"{b}").body(), None, "0xbb changed");
        assert_eq!(cache.get(&log, b"{list}").body(), Some(b("L")));

        log.record(Changes::written("receipts", "digest", &["0x01"]));
        assert_eq!(
            cache.get(&log, b"{list}").body(),
            None,
            "a receipt was added"
        );
        assert_eq!(cache.get(&log, b"{a}").body(), Some(b("A")));

        log.record(Changes::everything());
        assert_eq!(
            cache.get(&log, b"{a}").body(),
            None,
            "a revert retires everything"
        );
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn an_answer_read_while_a_write_changed_its_rows_is_not_kept() {
        let log = ChangeLog::default();
        let cache = ResponseCache::new(1 << 20).unwrap();
        let started_at = log.version();
        log.record(Changes::written("accounts", "address", &["0xaa"]));
        let put = |version, key: &str, answer: &str, account: &str| {
            cache.put(&log, version, b(key), a(answer), accounts(&[account]));
        };
        put(started_at, "{a}", "A", "0xaa");
        assert_eq!(
            cache.get(&log, b"{a}").body(),
            None,
            "it may mix rows from both sides"
        );
        // A write elsewhere while it ran: the answer is what a read now would give.
        put(started_at, "{b}", "B", "0xbb");
        assert_eq!(cache.get(&log, b"{b}").body(), Some(b("B")));
        put(log.version(), "{a}", "A2", "0xaa");
        assert_eq!(cache.get(&log, b"{a}").body(), Some(b("A2")));
    }

    #[test]
    fn a_cache_further_behind_than_the_log_starts_over() {
        let log = ChangeLog::default();
        let cache = ResponseCache::new(1 << 20).unwrap();
        cache.put(&log, 0, b("{a}"), a("A"), accounts(&["0xaa"]));
        for n in 0..1_000 {
            log.record(Changes::written("models", "model_id", &[&n.to_string()]));
        }
        assert_eq!(cache.get(&log, b"{a}").body(), None);
    }

    #[test]
    fn least_recently_used_answers_leave_past_the_budget() {
        // Each entry is 3 + 7 = 10 bytes (no reads); the budget holds eight.
        let log = ChangeLog::default();
        let cache = ResponseCache::new(80).unwrap();
        let put = |key: &str, answer: &str| {
            cache.put(&log, 0, b(key), a(answer), ReadSet::default());
        };
        for key in ["a", "b", "c", "d", "e", "f", "g", "h"] {
            put(&format!("{{{key}}}"), "answer!");
        }
        assert_eq!(cache.len(), 8);
        assert!(
            cache.get(&log, b"{a}").body().is_some(),
            "a is now the most recent"
        );
        put("{i}", "answer!");
        assert_eq!(cache.len(), 8);
        assert_eq!(
            cache.get(&log, b"{b}").body(),
            None,
            "b was the least recently used"
        );
        assert!(cache.get(&log, b"{a}").body().is_some());
        // Replacing an answer does not count its old bytes twice.
        put("{a}", "ANSWER!");
        assert_eq!(cache.len(), 8);
        assert_eq!(cache.get(&log, b"{a}").body(), Some(b("ANSWER!")));
        assert!(
            cache.get(&log, b"{c}").body().is_some(),
            "nothing else was evicted"
        );
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
        let log = ChangeLog::default();
        let cache = ResponseCache::new(64).unwrap();
        let long = a("this answer is longer than an eighth");
        cache.put(&log, 0, b("{a}"), long, ReadSet::default());
        assert_eq!(cache.get(&log, b"{a}").body(), None);
    }
}
