//! What each committed write changed, for readers that keep answers across writes (the API's response
//! cache): the tables a write touched and, for entity tables, the keys of the rows it upserted.
//!
//! Every write to the projections goes through [`Store::commit`](crate::store::Store::commit) (a batch:
//! its [`Changes`] are exact), a revert or a rebuild (both [`Changes::everything`]). The store numbers
//! the writes (its *version*) and keeps the changes of the recent ones in a [`ChangeLog`], so a reader
//! holding answers read at version `v` can ask what changed since and drop only the answers that read a
//! changed table or row.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::store::batch::Batch;
use crate::store::rows::RowSet;
use crate::store::value::Val;

/// Past this many rows of one table, a write is recorded as touching the whole table: a backfill
/// batch may upsert most accounts, and the log keeps the recent writes' changes in memory.
const MAX_KEYS: usize = 4_096;

/// The changes of one committed write.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// A revert or a rebuild: anything may have changed.
    everything: bool,
    /// Tables whose changed rows are known by key (entity upserts on a one-column key): their keys,
    /// as [`key_hash`]es.
    keyed: HashMap<&'static str, HashSet<u64>>,
    /// Tables written without a usable key (inserted facts, composite keys): any row may have changed.
    unkeyed: HashSet<&'static str>,
}

impl Changes {
    /// Anything may have changed (a revert or a rebuild).
    pub fn everything() -> Self {
        Self {
            everything: true,
            ..Self::default()
        }
    }

    /// The rows `batch` writes. Empty for a batch of eventless blocks, which moves only the checkpoint
    /// and the recent block hashes (`sync_state`, `block_hashes`: bookkeeping no answer is cached
    /// from).
    pub fn of(batch: &Batch) -> Self {
        let mut changes = Self::default();
        changes.add(&batch.raw_events);
        for set in batch.facts.sets() {
            changes.add(set);
        }
        for set in &batch.entities {
            changes.add(set);
        }
        changes.add(&batch.journal);
        changes
    }

    fn add(&mut self, set: &RowSet) {
        if set.rows.is_empty() {
            return;
        }
        let known = self.keyed.get(set.table).map_or(0, HashSet::len);
        if set.upsert_key != Some(1)
            || self.unkeyed.contains(set.table)
            || known + set.rows.len() > MAX_KEYS
        {
            self.keyed.remove(set.table);
            self.unkeyed.insert(set.table);
            return;
        }
        let keys = self.keyed.entry(set.table).or_default();
        keys.extend(
            set.rows
                .iter()
                .filter_map(|row| row.first().and_then(key_text))
                .map(|key| key_hash(&key)),
        );
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        !self.everything && self.keyed.is_empty() && self.unkeyed.is_empty()
    }

    /// Whether any row of `table` may have changed.
    pub fn touches_table(&self, table: &str) -> bool {
        self.everything || self.unkeyed.contains(table) || self.keyed.contains_key(table)
    }

    /// Whether the row of `table` whose one-column primary key is `key` (as [`key_text`] writes it)
    /// may have changed.
    pub fn touches_row(&self, table: &str, key: &str) -> bool {
        self.everything
            || self.unkeyed.contains(table)
            || self
                .keyed
                .get(table)
                .is_some_and(|keys| keys.contains(&key_hash(key)))
    }

    /// The [`key_hash`]es of the rows changed in `table`, when they are known (`None`: none changed,
    /// or any may have).
    pub fn keys(&self, table: &str) -> Option<&HashSet<u64>> {
        if self.everything || self.unkeyed.contains(table) {
            return None;
        }
        self.keyed.get(table)
    }
}

#[cfg(test)]
impl Changes {
    /// A write that upserted the rows `keys` of `table`.
    pub(crate) fn upserted(table: &'static str, keys: &[&str]) -> Self {
        let mut changes = Self::default();
        changes
            .keyed
            .insert(table, keys.iter().map(|k| key_hash(k)).collect());
        changes
    }

    /// A write that inserted rows into `table`.
    pub(crate) fn inserted(table: &'static str) -> Self {
        let mut changes = Self::default();
        changes.unkeyed.insert(table);
        changes
    }
}

/// A key column's value as text, the form readers compare keys in: an integer in decimal, text as it
/// is stored. `None` for NULL (never a primary key).
pub fn key_text(value: &Val) -> Option<String> {
    match value {
        Val::Int(v) => Some(v.to_string()),
        Val::Text(v) => Some(v.clone()),
        Val::NullInt | Val::NullText => None,
    }
}

/// A key's text ([`key_text`]) hashed to 64 bits, the form keys are compared in: readers keep one
/// word per row they read instead of its text. Two keys of one table may share a hash; a reader then
/// takes a change to one for a change to the other, which costs a needless re-read and never a stale
/// answer.
pub fn key_hash(key: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    // `DefaultHasher::new()` has fixed keys: the same key hashes alike everywhere in the process.
    let mut hasher = std::hash::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

/// How many recent writes' changes are kept; a reader further behind starts over.
const KEPT: usize = 256;

/// The store's version and the changes of its recent writes (shared by a store's clones).
#[derive(Debug, Default)]
pub struct ChangeLog {
    version: AtomicU64,
    recent: Mutex<VecDeque<(u64, Arc<Changes>)>>,
}

impl ChangeLog {
    /// The number of writes recorded.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Records a committed write (after the commit, so a reader that sees the new version also sees
    /// the new rows); nothing for empty `changes`.
    pub fn record(&self, changes: Changes) {
        if changes.is_empty() {
            return;
        }
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let version = self.version.load(Ordering::Acquire) + 1;
        recent.push_back((version, Arc::new(changes)));
        if recent.len() > KEPT {
            recent.pop_front();
        }
        self.version.store(version, Ordering::Release);
    }

    /// The changes of every write after version `since`, oldest first, with the version they bring
    /// the reader to; `None` when some of them are no longer kept (the reader must assume everything
    /// changed).
    pub fn since(&self, since: u64) -> Option<(u64, Vec<Arc<Changes>>)> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.version.load(Ordering::Acquire);
        if now == since {
            return Some((now, Vec::new()));
        }
        let first = recent.front().map_or(now + 1, |(v, _)| *v);
        if first > since + 1 {
            return None;
        }
        let changes = recent
            .iter()
            .filter(|(v, _)| *v > since)
            .map(|(_, c)| Arc::clone(c))
            .collect();
        Some((now, changes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsert(table: &'static str, key_columns: usize, keys: &[Val]) -> RowSet {
        RowSet {
            table,
            columns: vec!["k", "v"],
            upsert_key: Some(key_columns),
            rows: keys.iter().map(|k| vec![k.clone(), Val::Int(0)]).collect(),
        }
    }

    #[test]
    fn a_batch_names_the_entity_rows_it_upserts_and_the_tables_it_inserts_into() {
        let mut batch = Batch::default();
        batch.entities.push(upsert(
            "accounts",
            1,
            &[Val::Text("0xaa".into()), Val::Text("0xbb".into())],
        ));
        batch
            .entities
            .push(upsert("contributions", 1, &[Val::Int(7)]));
        batch.entities.push(upsert("curators", 2, &[Val::Int(1)]));
        batch.facts.receipts.rows.push(Vec::new());
        let changes = Changes::of(&batch);

        assert!(changes.touches_row("accounts", "0xaa"));
        assert!(!changes.touches_row("accounts", "0xcc"));
        assert!(changes.touches_row("contributions", "7"));
        assert!(!changes.touches_row("contributions", "8"));
        // Inserted facts and composite keys: any row of the table.
        assert!(changes.touches_row("receipts", "0xanything"));
        assert!(changes.touches_row("curators", "1"));
        assert!(changes.touches_table("accounts"));
        assert!(!changes.touches_table("models"));
        assert!(!changes.touches_row("models", "1"));
        assert_eq!(changes.keys("accounts").map(HashSet::len), Some(2));
        assert_eq!(changes.keys("receipts"), None);
    }

    #[test]
    fn a_write_of_many_rows_touches_its_whole_table() {
        let mut batch = Batch::default();
        let keys: Vec<Val> = (0..=MAX_KEYS as i64).map(Val::Int).collect();
        batch.entities.push(upsert("contributions", 1, &keys));
        let changes = Changes::of(&batch);
        assert_eq!(changes.keys("contributions"), None);
        assert!(changes.touches_row("contributions", "-1"));
    }

    #[test]
    fn eventless_batches_change_nothing_and_reverts_change_everything() {
        assert!(Changes::of(&Batch::default()).is_empty());
        let everything = Changes::everything();
        assert!(everything.touches_row("models", "1"));
        assert!(everything.touches_table("datanets"));
        assert_eq!(everything.keys("models"), None);
    }

    #[test]
    fn the_log_hands_a_reader_what_changed_since_its_version() {
        let log = ChangeLog::default();
        assert_eq!(log.since(0), Some((0, Vec::new())));
        log.record(Changes::default());
        assert_eq!(log.version(), 0, "an empty change is not a write");
        for _ in 0..3 {
            log.record(Changes::everything());
        }
        let (now, changes) = log.since(1).expect("kept");
        assert_eq!((now, changes.len()), (3, 2));
        for _ in 0..KEPT {
            log.record(Changes::everything());
        }
        assert_eq!(log.since(1), None, "older writes were forgotten");
        let now = log.version();
        assert_eq!(
            log.since(now - 1).map(|(v, c)| (v, c.len())),
            Some((now, 1))
        );
    }
}
