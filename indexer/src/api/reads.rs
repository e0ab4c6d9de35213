//! What a request's answer was read from: the rows it selected by a column's value (a primary key, or
//! a column the store's change log knows values of) and the tables it read any other way. The response
//! cache keeps the answer until a write changes one of them ([`ReadSet::stale_after`]), instead of
//! dropping every answer at every write.
//!
//! Resolvers record their reads as they make them: a lookup by key through the loaders
//! ([`crate::api::loader::load`]) records the key values, a list or a group records its tables
//! ([`crate::api::db`]), the graph walk records the values each of its statements selects by. A request
//! records into the [`Reads`] it carries in its data; subscriptions carry none and record nothing.

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
    /// Tables read whole, or by anything but one column's values.
    tables: HashSet<&'static str>,
    /// Rows selected by a column's values, per (table, column): the [`key_hash`]es of the values,
    /// sorted (one word per value, searched by halving).
    values: HashMap<(&'static str, &'static str), Vec<u64>>,
}

impl Reads {
    fn set(&self) -> std::sync::MutexGuard<'_, ReadSet> {
        // Recording is a set insert: a panic cannot leave the set half-changed.
        self.set.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that `table` was read whole, or by something other than one column's values.
    pub(crate) fn table(&self, table: &'static str) {
        self.set().tables.insert(table);
    }

    /// Records that the rows of `table` whose `column` holds one of `values` (as
    /// [`crate::store::changes::key_text`] writes them) were read, however many there were.
    pub(crate) fn values(
        &self,
        table: &'static str,
        column: &'static str,
        values: impl IntoIterator<Item = String>,
    ) {
        let hashes = values.into_iter().map(|value| key_hash(&value));
        self.set()
            .values
            .entry((table, column))
            .or_default()
            .extend(hashes);
    }

    /// Everything recorded so far.
    pub(crate) fn take(&self) -> ReadSet {
        let mut set = std::mem::take(&mut *self.set());
        for keys in set.values.values_mut() {
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
            || self.values.iter().any(|((table, column), keys)| {
                changes.touches_table(table)
                    && changes.values(table, column).is_none_or(|changed| {
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
        (self.tables.len() + self.values.len()) * entry
            + self.values.values().map(Vec::len).sum::<usize>() * std::mem::size_of::<u64>()
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
        reads.values(
            "accounts",
            "address",
            ["0xaa".to_owned(), "0xbb".to_owned()],
        );
        let by_key = reads.take();
        let accounts = |keys: &[&str]| Changes::written("accounts", "address", keys);
        assert!(by_key.stale_after(&accounts(&["0xbb"])));
        assert!(!by_key.stale_after(&accounts(&["0xcc", "0xdd"])));
        assert!(!by_key.stale_after(&Changes::written("models", "address", &["0xaa"])));
        assert!(by_key.stale_after(&Changes::written("accounts", "credited", &["1"])));
        assert!(by_key.stale_after(&Changes::everything()));

        reads.table("receipts");
        let listed = reads.take();
        assert!(!listed.stale_after(&accounts(&["0xaa"])));
        assert!(listed.stale_after(&Changes::written("receipts", "payer", &["0x01"])));
        assert_eq!(reads.take(), ReadSet::default(), "take empties the set");
    }

    #[test]
    fn rows_selected_by_a_column_are_stale_when_a_written_row_had_that_value() {
        let reads = Reads::default();
        reads.values("receipts", "payer", ["0x01".to_owned()]);
        let paid = reads.take();
        assert!(paid.stale_after(&Changes::written("receipts", "payer", &["0x01", "0x02"])));
        assert!(!paid.stale_after(&Changes::written("receipts", "payer", &["0x02"])));
        // The write's payer values are not known: any row may be one of 0x01's.
        assert!(paid.stale_after(&Changes::written("receipts", "digest", &["0xd"])));
    }
}
