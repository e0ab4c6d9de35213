//! The projection's working set: entity rows cached in memory across batches (the indexer is the
//! only writer, so the cache is authoritative), the rows a batch changed, and the undo journal of
//! unfinalised blocks (the before-image of each row at the first change in each block). While
//! journaling it also keeps each changed row as it was before the batch, for the batch's
//! [`Changes`](crate::store::Changes).

use std::collections::{HashMap, HashSet};

use sqlx::AnyPool;

use crate::error::{IndexerError, Result};
use crate::store::batch::Batch;
use crate::store::entity::{
    Account, Channel, Contribution, Curator, Datanet, Entity, Model, Parameter, Release, Totals,
};
use crate::store::rows::RowSet;
use crate::store::value::Val;

/// Cached rows of one entity table.
#[derive(Debug)]
pub struct Table<E: Entity> {
    rows: HashMap<E::Key, Option<E>>,
    dirty: HashSet<E::Key>,
    journaled: HashMap<E::Key, u64>,
    /// Rows that existed, as they were before this batch first changed them (kept while journaling).
    before: HashMap<E::Key, E>,
    /// A row that existed was changed without journaling: its image before the batch was not kept.
    before_unknown: bool,
}

impl<E: Entity> Default for Table<E> {
    fn default() -> Self {
        Self {
            rows: HashMap::new(),
            dirty: HashSet::new(),
            journaled: HashMap::new(),
            before: HashMap::new(),
            before_unknown: false,
        }
    }
}

impl<E: Entity> Table<E> {
    fn clear(&mut self) {
        self.rows.clear();
        self.dirty.clear();
        self.journaled.clear();
        self.before.clear();
        self.before_unknown = false;
    }

    fn set(rows: Vec<Vec<Val>>) -> RowSet {
        RowSet {
            table: E::TABLE,
            columns: E::KEY_COLUMNS.iter().chain(E::COLUMNS).copied().collect(),
            upsert_key: Some(E::KEY_COLUMNS.len()),
            rows,
        }
    }

    fn row(key: &E::Key, row: &E) -> Vec<Val> {
        E::key_values(key).into_iter().chain(row.values()).collect()
    }

    /// Moves the changed rows into `batch` (and their images from before it, where kept).
    fn flush(&mut self, batch: &mut Batch) {
        if self.dirty.is_empty() {
            return;
        }
        let mut rows = Vec::with_capacity(self.dirty.len());
        for key in self.dirty.drain() {
            if let Some(Some(row)) = self.rows.get(&key) {
                rows.push(Self::row(&key, row));
            }
        }
        batch.entities.push(Self::set(rows));
        if std::mem::take(&mut self.before_unknown) {
            self.before.clear();
            batch.replaced_unknown.push(E::TABLE);
        } else if !self.before.is_empty() {
            let before = self.before.drain().map(|(key, row)| Self::row(&key, &row));
            batch.replaced.push(Self::set(before.collect()));
        }
    }
}

/// The tables an entity type is cached in.
pub trait Cached: Entity {
    /// Its cache.
    fn table(tables: &mut Tables) -> &mut Table<Self>;
}

macro_rules! tables {
    ($($field:ident: $E:ty),+ $(,)?) => {
        /// One cache per entity table.
        #[derive(Debug, Default)]
        #[allow(missing_docs)]
        pub struct Tables { $(pub $field: Table<$E>,)+ }

        impl Tables {
            fn clear(&mut self) { $(self.$field.clear();)+ }
            fn len(&self) -> usize { 0 $(+ self.$field.rows.len())+ }
            fn flush(&mut self, batch: &mut Batch) { $(self.$field.flush(batch);)+ }
        }

        $(impl Cached for $E {
            fn table(tables: &mut Tables) -> &mut Table<Self> { &mut tables.$field }
        })+
    };
}

tables! {
    datanets: Datanet,
    curators: Curator,
    contributions: Contribution,
    releases: Release,
    models: Model,
    accounts: Account,
    totals: Totals,
    parameters: Parameter,
    channels: Channel,
}

/// Above this many cached rows the cache is dropped once its batches are committed (and refilled on
/// demand).
const CACHE_LIMIT: usize = 2_000_000;

/// The projection's working set. See the module docs.
#[derive(Debug)]
pub struct State {
    pool: AnyPool,
    tables: Tables,
    block: u64,
    journaling: bool,
    seq: i64,
    journal: Vec<Vec<Val>>,
    /// The cache holds every row the store has (the store was empty when the cache started, and the
    /// cache was not dropped since): a key not cached is a row that does not exist, with no read.
    complete: bool,
    /// The cache is never dropped (a rebuild, whose one transaction holds everything until the end).
    keep_cache: bool,
    /// Above this many cached rows the cache is to be dropped ([`CACHE_LIMIT`]; lower in tests).
    cache_limit: usize,
}

impl State {
    /// An empty working set reading missing rows from `pool`.
    pub fn new(pool: AnyPool) -> Self {
        Self {
            pool,
            tables: Tables::default(),
            block: 0,
            journaling: false,
            seq: 0,
            journal: Vec::new(),
            complete: false,
            keep_cache: false,
            cache_limit: CACHE_LIMIT,
        }
    }

    /// The same working set with a cache limit of `rows` (to reach the limit in tests).
    #[cfg(test)]
    pub(crate) fn with_cache_limit(self, rows: usize) -> Self {
        Self {
            cache_limit: rows,
            ..self
        }
    }

    /// A working set over a store with no rows yet (no checkpoint): nothing is read until the cache is
    /// first dropped (above its size limit, after a revert or a failed commit).
    pub fn for_empty_store(pool: AnyPool) -> Self {
        Self {
            complete: true,
            ..Self::new(pool)
        }
    }

    /// A working set for a rebuild into emptied tables inside one transaction: rows not in the cache
    /// do not exist, and the cache is never dropped.
    pub fn for_rebuild(pool: AnyPool) -> Self {
        Self {
            complete: true,
            keep_cache: true,
            ..Self::new(pool)
        }
    }

    /// Starts applying block `number`; `journal` says whether it is unfinalised (its changes must be
    /// undoable).
    pub fn begin_block(&mut self, number: u64, journal: bool) {
        if number != self.block {
            self.seq = 0;
        }
        self.block = number;
        self.journaling = journal;
    }

    /// The block being applied.
    pub fn block(&self) -> u64 {
        self.block
    }

    /// Forgets every cached row (after a revert, or when a batch failed to commit); rows are read from
    /// the store again.
    pub fn clear(&mut self) {
        self.tables.clear();
        self.journal.clear();
        self.complete = false;
    }

    async fn ensure<E: Cached>(&mut self, key: &E::Key) -> Result<()> {
        if E::table(&mut self.tables).rows.contains_key(key) {
            return Ok(());
        }
        if self.complete {
            E::table(&mut self.tables).rows.insert(key.clone(), None);
            return Ok(());
        }
        let conditions: Vec<String> = E::KEY_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE {}",
            E::COLUMNS.join(", "),
            E::TABLE,
            conditions.join(" AND ")
        );
        let mut query = sqlx::query(&sql);
        for value in E::key_values(key) {
            query = value.bind(query);
        }
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(IndexerError::db("loading a row"))?;
        let row = row.as_ref().map(E::from_row).transpose()?;
        E::table(&mut self.tables).rows.insert(key.clone(), row);
        Ok(())
    }

    /// Keeps the row as it was before this batch changed it, if this is the batch's first change to
    /// it: a copy while journaling, otherwise only the note that it is unknown (backfill, where
    /// nothing reads the batch's changes row by row, skips the copy). Rows created here need none.
    fn remember<E: Cached>(&mut self, key: &E::Key) {
        let journaling = self.journaling;
        let table = E::table(&mut self.tables);
        if table.dirty.contains(key) {
            return;
        }
        if let Some(Some(row)) = table.rows.get(key) {
            if journaling {
                table.before.insert(key.clone(), row.clone());
            } else {
                table.before_unknown = true;
            }
        }
    }

    /// Records the row's before-image if this block has not changed it yet.
    fn journal<E: Cached>(&mut self, key: &E::Key) -> Result<()> {
        if !self.journaling {
            return Ok(());
        }
        let block = self.block;
        let table = E::table(&mut self.tables);
        if table.journaled.get(key) == Some(&block) {
            return Ok(());
        }
        table.journaled.insert(key.clone(), block);
        let before = match table.rows.get(key) {
            Some(Some(row)) => Some(serde_json::to_string(row)),
            _ => None,
        };
        let key_json = serde_json::to_string(key);
        let (key_json, before) = match (key_json, before.transpose()) {
            (Ok(k), Ok(b)) => (k, b),
            (Err(e), _) | (_, Err(e)) => {
                return Err(IndexerError::CorruptRow {
                    table: E::TABLE,
                    reason: format!("not serialisable: {e}"),
                });
            }
        };
        self.seq += 1;
        self.journal.push(vec![
            Val::Int(crate::store::value::int("block number", block)?),
            Val::Int(self.seq),
            Val::Text(E::TABLE.to_owned()),
            Val::Text(key_json),
            before.map_or(Val::NullText, Val::Text),
        ]);
        Ok(())
    }

    /// A copy of the row, if it exists.
    pub async fn get<E: Cached>(&mut self, key: &E::Key) -> Result<Option<E>> {
        self.ensure::<E>(key).await?;
        Ok(E::table(&mut self.tables).rows.get(key).cloned().flatten())
    }

    /// Inserts a new row (an entity's creation event).
    pub async fn create<E: Cached>(&mut self, key: E::Key, row: E) -> Result<()> {
        self.ensure::<E>(&key).await?;
        self.remember::<E>(&key);
        self.journal::<E>(&key)?;
        let table = E::table(&mut self.tables);
        table.dirty.insert(key.clone());
        table.rows.insert(key, Some(row));
        Ok(())
    }

    /// Changes an existing row; `None` if there is no such row.
    pub async fn modify<E: Cached, R>(
        &mut self,
        key: &E::Key,
        change: impl FnOnce(&mut E) -> Result<R>,
    ) -> Result<Option<R>> {
        self.ensure::<E>(key).await?;
        if !matches!(E::table(&mut self.tables).rows.get(key), Some(Some(_))) {
            return Ok(None);
        }
        self.remember::<E>(key);
        self.journal::<E>(key)?;
        let table = E::table(&mut self.tables);
        table.dirty.insert(key.clone());
        match table.rows.get_mut(key) {
            Some(Some(row)) => change(row).map(Some),
            _ => Ok(None),
        }
    }

    /// Changes a row, creating it from `default` first if it does not exist.
    pub async fn upsert<E: Cached, R>(
        &mut self,
        key: E::Key,
        default: impl FnOnce() -> E,
        change: impl FnOnce(&mut E) -> Result<R>,
    ) -> Result<R> {
        self.ensure::<E>(&key).await?;
        self.remember::<E>(&key);
        self.journal::<E>(&key)?;
        let table = E::table(&mut self.tables);
        table.dirty.insert(key.clone());
        let slot = table.rows.entry(key).or_insert(None);
        change(slot.get_or_insert_with(default))
    }

    /// Moves the changed rows and journal entries into `batch`.
    pub fn flush(&mut self, batch: &mut Batch) {
        self.tables.flush(batch);
        batch.journal.rows.append(&mut self.journal);
    }

    /// Whether the cache has outgrown its limit and should be dropped ([`State::clear`]) once every
    /// flushed batch is committed (not before: rows of a batch still being written would be read back
    /// from the store without them).
    pub fn over_limit(&self) -> bool {
        !self.keep_cache && self.tables.len() > self.cache_limit
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::Address;

    use super::*;

    fn curator(accepted_reviews: i64) -> Curator {
        Curator {
            enabled: true,
            accepted_reviews,
            rejected_reviews: 0,
            updated_block: 0,
        }
    }

    async fn review(state: &mut State, key: &<Curator as Entity>::Key) -> Result<()> {
        state
            .modify::<Curator, _>(key, |c| {
                c.accepted_reviews += 1;
                Ok(())
            })
            .await?;
        Ok(())
    }

    #[tokio::test]
    async fn a_journaled_batch_keeps_the_rows_it_changed_as_they_were_before_it() -> Result<()> {
        sqlx::any::install_default_drivers();
        let pool = AnyPool::connect_lazy("sqlite::memory:").expect("a lazy pool");
        let mut state = State::for_empty_store(pool);
        let key = (1, Address::ZERO);

        state.begin_block(1, true);
        state.create::<Curator>(key, curator(0)).await?;
        let mut batch = Batch::default();
        state.flush(&mut batch);
        assert!(
            batch.replaced.is_empty(),
            "a created row had no image before"
        );

        state.begin_block(2, true);
        review(&mut state, &key).await?;
        review(&mut state, &key).await?;
        let mut batch = Batch::default();
        state.flush(&mut batch);
        assert_eq!(batch.replaced.len(), 1);
        assert_eq!(
            batch.replaced[0].rows,
            vec![Table::<Curator>::row(&key, &curator(0))],
            "the image before the batch's first change"
        );
        assert!(batch.replaced_unknown.is_empty());

        // Without journaling (a backfill) no copy is kept: the batch says so.
        state.begin_block(3, false);
        review(&mut state, &key).await?;
        let mut batch = Batch::default();
        state.flush(&mut batch);
        assert!(batch.replaced.is_empty());
        assert_eq!(batch.replaced_unknown, vec!["curators"]);
        Ok(())
    }
}
