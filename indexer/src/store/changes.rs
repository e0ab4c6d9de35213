//! What each committed write changed, for readers that keep answers across writes (the API's response
//! cache): the tables a write touched and, per table, the values the written rows had in the columns
//! readers select rows by (primary keys and [`READ_BY`]).
//!
//! Every write to the projections goes through [`Store::commit`](crate::store::Store::commit) (a batch:
//! its [`Changes`] are exact), a revert or a rebuild (both [`Changes::everything`]). The store numbers
//! the writes (its *version*) and keeps the changes of the recent ones in a [`ChangeLog`], so a reader
//! holding answers read at version `v` can ask what changed since and drop only the answers that read
//! a changed table, or rows selected by a value a written row had.
//!
//! A row changed in place can leave a selection as well as enter one (a model's new owner): so for
//! an upserted entity the values of both its images count, the new one and the one before the batch.
//! The projection keeps the latter only while journaling (following the chain head); in a backfill
//! batch the non-key columns of the entity tables it changed count as changed for every value.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::store::batch::Batch;
use crate::store::fact::FACT_TABLES;
use crate::store::revert::ENTITY_TABLES;
use crate::store::rows::RowSet;
use crate::store::value::Val;

/// The columns readers select rows by, other than primary keys (which always count), per table: the
/// indexed columns the API's graph walk and loaders look rows up by.
pub const READ_BY: &[(&str, &[&str])] = &[
    ("contributions", &["contributor", "datanet_id"]),
    ("models", &["owner", "base_model_id"]),
    ("datanets", &["owner"]),
    ("releases", &["datanet_id"]),
    ("receipts", &["digest", "payer", "node", "model_id"]),
    ("attribution_edges", &["digest", "contribution_id"]),
    ("model_releases", &["model_id", "release_id"]),
    ("model_trained_on", &["model_id", "release_id"]),
];

/// What the writes since a reader's version changed ([`ChangeLog::catch_up`]).
#[derive(Debug)]
pub enum CaughtUp {
    /// Nothing was written since.
    Current,
    /// The changes of the writes since, oldest first.
    Changed(Vec<Arc<Changes>>),
    /// Some of those writes are no longer kept: anything may have changed.
    Forgotten,
}

/// Past this many values of one column, a write is recorded as changing every value of it: a
/// backfill batch may write most accounts, and the log keeps recent writes' changes in memory.
const MAX_VALUES: usize = 4_096;

/// The changes of one committed write.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// A revert or a rebuild: anything may have changed.
    everything: bool,
    /// Per table written: per column whose values are known, the [`key_hash`]es of the values the
    /// written rows had in it. A column missing from a written table's map may have changed anywhere.
    tables: HashMap<&'static str, HashMap<&'static str, HashSet<u64>>>,
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
        changes.add(&batch.raw_events, &[]);
        for set in batch.facts.sets() {
            changes.add(set, read_by(set.table));
        }
        for set in &batch.entities {
            let before = batch.replaced.iter().find(|b| b.table == set.table);
            let columns = if batch.replaced_unknown.contains(&set.table) {
                &[][..]
            } else {
                read_by(set.table)
            };
            changes.add_entity(set, before, columns);
        }
        changes.add(&batch.journal, &[]);
        changes
    }

    /// Records `set`, knowing the values of its `columns`.
    fn add(&mut self, set: &RowSet, columns: &[&'static str]) {
        if set.rows.is_empty() {
            return;
        }
        let values = columns
            .iter()
            .filter_map(|column| Some((*column, column_values(set, column)?)))
            .collect();
        self.merge(set.table, values);
    }

    /// Records the upserted entity rows `set` (and `before`, their images before the batch), knowing
    /// the values of the one-column key and of `columns`.
    fn add_entity(&mut self, set: &RowSet, before: Option<&RowSet>, columns: &[&'static str]) {
        if set.rows.is_empty() {
            return;
        }
        let key = (set.upsert_key == Some(1)).then(|| set.columns[0]);
        let mut values = HashMap::new();
        for column in key.iter().chain(columns) {
            let Some(mut known) = column_values(set, column) else {
                continue;
            };
            if let Some(before) = before {
                let Some(old) = column_values(before, column) else {
                    continue;
                };
                known.extend(old);
            }
            if known.len() <= MAX_VALUES {
                values.insert(*column, known);
            }
        }
        self.merge(set.table, values);
    }

    /// Adds a write of `table` whose known column values are `values`: a column stays known only if
    /// every write of the table knows it.
    fn merge(&mut self, table: &'static str, values: HashMap<&'static str, HashSet<u64>>) {
        match self.tables.entry(table) {
            Entry::Vacant(entry) => {
                entry.insert(values);
            }
            Entry::Occupied(mut entry) => {
                let known = entry.get_mut();
                known.retain(|column, _| values.contains_key(column));
                for (column, hashes) in values {
                    if let Some(k) = known.get_mut(column) {
                        k.extend(hashes);
                    }
                }
            }
        }
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        !self.everything && self.tables.is_empty()
    }

    /// Whether any row of `table` may have changed.
    pub fn touches_table(&self, table: &str) -> bool {
        self.everything || self.tables.contains_key(table)
    }

    /// The [`key_hash`]es of the values the rows written to `table` had in `column`, when `table` was
    /// written and they are known (`None`: not written, or rows with any value may have changed).
    pub fn values(&self, table: &str, column: &str) -> Option<&HashSet<u64>> {
        if self.everything {
            return None;
        }
        self.tables.get(table)?.get(column)
    }

    /// The tables written, in name order; `None` when anything may have changed.
    pub(crate) fn tables(&self) -> Option<Vec<&'static str>> {
        if self.everything {
            return None;
        }
        let mut tables: Vec<&'static str> = self.tables.keys().copied().collect();
        tables.sort_unstable();
        Some(tables)
    }

    /// A write that may have changed any row of the tables `names` names (as [`Changes::tables`]
    /// lists them); anything when one of them is not a table a write records (a newer writer's).
    pub(crate) fn of_tables<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut changes = Self::default();
        for name in names {
            let mut known = WRITTEN.iter().flat_map(|tables| tables.iter().copied());
            let Some(table) = known.find(|t| *t == name) else {
                return Self::everything();
            };
            changes.merge(table, HashMap::new());
        }
        changes
    }
}

/// The tables [`Changes::of`] records writes of.
const WRITTEN: [&[&str]; 3] = [ENTITY_TABLES, FACT_TABLES, &["raw_events", "undo_journal"]];

#[cfg(test)]
impl Changes {
    /// Whether a row of `table` whose `column` is `value` (as [`key_text`] writes it) may have changed.
    pub(crate) fn touches_value(&self, table: &str, column: &str, value: &str) -> bool {
        self.touches_table(table)
            && self
                .values(table, column)
                .is_none_or(|values| values.contains(&key_hash(value)))
    }

    /// A write that changed the rows of `table` whose `column` had one of `values`, and no other
    /// column's values are known.
    pub(crate) fn written(table: &'static str, column: &'static str, values: &[&str]) -> Self {
        let mut changes = Self::default();
        let hashes = values.iter().map(|v| key_hash(v)).collect();
        changes.merge(table, HashMap::from([(column, hashes)]));
        changes
    }
}

/// The columns [`READ_BY`] lists for `table`.
fn read_by(table: &str) -> &'static [&'static str] {
    READ_BY
        .iter()
        .find(|(t, _)| *t == table)
        .map_or(&[], |(_, columns)| columns)
}

/// The [`key_hash`]es of `set`'s values in `column`; `None` if the set has no such column or holds
/// more than [`MAX_VALUES`] of them.
fn column_values(set: &RowSet, column: &str) -> Option<HashSet<u64>> {
    let i = set.columns.iter().position(|c| *c == column)?;
    let mut values = HashSet::new();
    for text in set
        .rows
        .iter()
        .filter_map(|row| row.get(i).and_then(key_text))
    {
        values.insert(key_hash(&text));
        // A backfill batch can hold many thousands: stop hashing once the answer is "any value".
        if values.len() > MAX_VALUES {
            return None;
        }
    }
    Some(values)
}

/// A column's value as text, the form readers compare values in: an integer in decimal, text as it is
/// stored. `None` for NULL (which no reader selects by).
pub fn key_text(value: &Val) -> Option<String> {
    match value {
        Val::Int(v) => Some(v.to_string()),
        Val::Text(v) => Some(v.clone()),
        Val::NullInt | Val::NullText => None,
    }
}

/// A value's text ([`key_text`]) hashed to 64 bits, the form values are compared in: readers keep one
/// word per value they selected by instead of its text. Two values may share a hash; a reader then
/// takes a change to one for a change to the other, which costs a needless re-read and never a stale
/// answer.
pub fn key_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    // `DefaultHasher::new()` has fixed keys: the same text hashes alike everywhere in the process.
    let mut hasher = std::hash::DefaultHasher::new();
    text.hash(&mut hasher);
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

    /// Brings a reader whose answers are right at version `*at` to the current version, and says what
    /// the writes meanwhile changed, for it to drop what they touched.
    pub fn catch_up(&self, at: &mut u64) -> CaughtUp {
        if self.version() == *at {
            return CaughtUp::Current;
        }
        match self.since(*at) {
            Some((now, writes)) => {
                *at = now;
                CaughtUp::Changed(writes)
            }
            None => {
                *at = self.version();
                CaughtUp::Forgotten
            }
        }
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

    fn text(v: &str) -> Val {
        Val::Text(v.to_owned())
    }

    /// Model rows `(model_id, owner)`.
    fn models(rows: &[(i64, &str)]) -> RowSet {
        RowSet {
            table: "models",
            columns: vec!["model_id", "owner"],
            upsert_key: Some(1),
            rows: rows
                .iter()
                .map(|(id, o)| vec![Val::Int(*id), text(o)])
                .collect(),
        }
    }

    #[test]
    fn a_batch_names_the_values_its_rows_had_in_the_columns_readers_select_by() {
        let mut batch = Batch::default();
        batch.entities.push(models(&[(7, "0xnew")]));
        batch.replaced.push(models(&[(7, "0xold")]));
        batch.facts.receipts.rows.push(
            (0..batch.facts.receipts.columns.len())
                .map(|i| text(&format!("r{i}")))
                .collect(),
        );
        let changes = Changes::of(&batch);

        assert!(changes.touches_value("models", "model_id", "7"));
        assert!(!changes.touches_value("models", "model_id", "8"));
        // Both owners: the model left the old owner's models and joined the new one's.
        assert!(changes.touches_value("models", "owner", "0xnew"));
        assert!(changes.touches_value("models", "owner", "0xold"));
        assert!(!changes.touches_value("models", "owner", "0xother"));
        // A column no one selects by: any value.
        assert!(changes.touches_value("models", "price", "1"));
        let payer = batch
            .facts
            .receipts
            .columns
            .iter()
            .position(|c| *c == "payer");
        let payer = format!("r{}", payer.expect("receipts have a payer"));
        assert!(changes.touches_value("receipts", "payer", &payer));
        assert!(!changes.touches_value("receipts", "payer", "0xsomeone"));
        assert!(!changes.touches_table("datanets"));
        assert!(!changes.touches_value("datanets", "owner", "0xnew"));
    }

    #[test]
    fn without_images_from_before_the_batch_only_the_key_is_known() {
        let mut batch = Batch::default();
        batch.entities.push(models(&[(7, "0xnew")]));
        batch.replaced_unknown.push("models");
        let changes = Changes::of(&batch);
        assert!(!changes.touches_value("models", "model_id", "8"));
        assert!(changes.touches_value("models", "owner", "0xanyone"));
    }

    #[test]
    fn a_write_of_many_values_changes_every_value_of_the_column() {
        let mut batch = Batch::default();
        let rows: Vec<(i64, &str)> = (0..=MAX_VALUES as i64).map(|id| (id, "0xone")).collect();
        batch.entities.push(models(&rows));
        let changes = Changes::of(&batch);
        assert!(changes.touches_value("models", "model_id", "-1"));
        assert!(!changes.touches_value("models", "owner", "0xtwo"));
    }

    #[test]
    fn eventless_batches_change_nothing_and_reverts_change_everything() {
        assert!(Changes::of(&Batch::default()).is_empty());
        let everything = Changes::everything();
        assert!(everything.touches_value("models", "model_id", "1"));
        assert!(everything.touches_table("datanets"));
        assert_eq!(everything.values("models", "model_id"), None);
    }

    #[test]
    fn a_write_named_by_its_tables_changes_any_row_of_them() {
        let mut batch = Batch::default();
        batch.entities.push(models(&[(7, "0xnew")]));
        batch.raw_events.rows.push(vec![Val::Int(1)]);
        let tables = Changes::of(&batch)
            .tables()
            .expect("a batch names its tables");
        assert_eq!(tables, ["models", "raw_events"]);
        let named = Changes::of_tables(tables);
        assert!(named.touches_value("models", "model_id", "8"));
        assert!(named.touches_value("models", "owner", "0xanyone"));
        assert!(!named.touches_table("datanets"));
        assert_eq!(Changes::everything().tables(), None);
        let unknown = Changes::of_tables(["models", "tables_of_a_newer_writer"]);
        assert!(
            unknown.touches_table("datanets"),
            "an unknown table: anything"
        );
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
