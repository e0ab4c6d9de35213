//! What a request's answer was read from: the rows it looked up by primary key and the tables it read
//! any other way. The response cache keeps the answer until a write changes one of them
//! ([`ReadSet::stale_after`]), instead of dropping every answer at every write.
//!
//! Resolvers record their reads as they make them: a lookup by key through the loaders
//! ([`crate::api::loader::load`]) records the row, a list or a group records its tables
//! ([`crate::api::db`]), the graph walk records both. A request records into the [`Reads`] it carries
//! in its data; subscriptions carry none and record nothing.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_graphql::Context;

use crate::store::Changes;
use crate::store::changes::key_hash;

/// The reads of one request, recorded while it runs.
#[derive(Debug, Default)]
pub(crate) struct Reads {
    set: Mutex<ReadSet>,
}

/// What one answer was read from.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ReadSet {
    /// Tables read by anything but their primary key.
    tables: HashSet<&'static str>,
    /// Rows read by primary key, per table: the [`key_hash`]es of their keys, sorted (one word per
    /// row, searched by halving).
    rows: HashMap<&'static str, Vec<u64>>,
}

impl Reads {
    fn set(&self) -> std::sync::MutexGuard<'_, ReadSet> {
        // Recording is a set insert: a panic cannot leave the set half-changed.
        self.set.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that `table` was read by something other than its primary key.
    pub(crate) fn table(&self, table: &'static str) {
        self.set().tables.insert(table);
    }

    /// Records that the rows of `table` with primary keys `keys` (as
    /// [`crate::store::changes::key_text`] writes them) were read, found or not.
    pub(crate) fn rows(&self, table: &'static str, keys: impl IntoIterator<Item = String>) {
        let hashes = keys.into_iter().map(|key| key_hash(&key));
        self.set().rows.entry(table).or_default().extend(hashes);
    }

    /// Everything recorded so far.
    pub(crate) fn take(&self) -> ReadSet {
        let mut set = std::mem::take(&mut *self.set());
        for keys in set.rows.values_mut() {
            keys.sort_unstable();
            keys.dedup();
        }
        set
    }
}

impl ReadSet {
    /// Whether a write that changed `changes` may have changed an answer read from this set.
    pub(crate) fn stale_after(&self, changes: &Changes) -> bool {
        self.tables.iter().any(|table| changes.touches_table(table))
            || self.rows.iter().any(|(table, keys)| {
                changes.touches_table(table)
                    && changes.keys(table).is_none_or(|changed| {
                        // Walk the smaller side (a block changes a few rows; a graph reads hundreds).
                        if changed.len() < keys.len() {
                            changed.iter().any(|key| keys.binary_search(key).is_ok())
                        } else {
                            keys.iter().any(|key| changed.contains(key))
                        }
                    })
            })
    }

    /// Roughly how many bytes the set holds, for the cache's budget.
    pub(crate) fn weight(&self) -> usize {
        let entry = 4 * std::mem::size_of::<usize>();
        (self.tables.len() + self.rows.len()) * entry
            + self.rows.values().map(Vec::len).sum::<usize>() * std::mem::size_of::<u64>()
    }
}

/// The reads of the request `ctx` belongs to, if it records them.
pub(crate) fn reads<'a>(ctx: &Context<'a>) -> Option<&'a Reads> {
    ctx.data_opt::<Arc<Reads>>().map(Arc::as_ref)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_stale_only_when_a_row_or_table_it_read_changed() {
        let reads = Reads::default();
        reads.rows("accounts", ["0xaa".to_owned(), "0xbb".to_owned()]);
        let by_key = reads.take();
        assert!(by_key.stale_after(&Changes::upserted("accounts", &["0xbb"])));
        assert!(!by_key.stale_after(&Changes::upserted("accounts", &["0xcc", "0xdd"])));
        assert!(!by_key.stale_after(&Changes::upserted("models", &["0xaa"])));
        assert!(!by_key.stale_after(&Changes::inserted("receipts")));
        assert!(by_key.stale_after(&Changes::everything()));

        reads.table("receipts");
        let listed = reads.take();
        assert!(!listed.stale_after(&Changes::upserted("accounts", &["0xaa"])));
        assert!(listed.stale_after(&Changes::inserted("receipts")));
        assert_eq!(reads.take(), ReadSet::default(), "take empties the set");
    }

    #[test]
    fn a_row_of_an_inserted_into_table_is_stale() {
        // Facts are written without keys: a row looked up by key may be new.
        let reads = Reads::default();
        reads.rows("receipts", ["0x01".to_owned()]);
        assert!(reads.take().stale_after(&Changes::inserted("receipts")));
    }
}
