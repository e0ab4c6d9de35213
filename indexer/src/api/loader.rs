//! Batched loading (async-graphql `DataLoader`): every entity a resolver reaches by key, and every
//! bounded group of rows hanging off a key (a receipt's attribution edges, a model's releases, …), is
//! fetched for all the keys a query level asks for in one `WHERE key IN (…)` statement — no N+1
//! (the keys are bound as one list: see [`crate::api::db`]).

use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader};

use crate::api::db::{Db, Row, Sql, Val};
use crate::api::error::{ApiError, ApiResult};
use crate::api::reads::reads;

/// A row type read by key.
pub(crate) trait Entity: Row + Clone + Sync + 'static {
    /// The key type.
    type Key: Hash + Eq + Clone + Send + Sync + Into<Val> + 'static;
    /// The table.
    const TABLE: &'static str;
    /// Its one-column primary key, holding [`Entity::Key`].
    const KEY: &'static str;
    /// `SELECT … WHERE key IN `, completed with the bound key list.
    const SELECT_IN: &'static str;
    /// The row's key.
    fn key(&self) -> Self::Key;
}

/// Rows grouped under a key (one key, many rows), read for many keys at once.
pub(crate) trait Group: Row + Clone + Sync + 'static {
    /// The key type.
    type Key: Hash + Eq + Clone + Send + Sync + Into<Val> + 'static;
    /// The tables the rows are read from.
    const TABLES: &'static [&'static str];
    /// `SELECT … WHERE key IN `, completed with the bound key list; rows come back in list order.
    const SELECT_IN: &'static str;
    /// Appended after the key list (ordering).
    const ORDER: &'static str;
    /// The key a row belongs to.
    fn group(&self) -> Self::Key;
}

/// Loads entities of type `T` by key.
#[derive(Debug)]
pub(crate) struct EntityLoader<T> {
    db: Db,
    entity: PhantomData<fn() -> T>,
}

/// Loads the row groups of type `T` by key.
#[derive(Debug)]
pub(crate) struct GroupLoader<T> {
    db: Db,
    group: PhantomData<fn() -> T>,
}

impl<T: Entity> Loader<T::Key> for EntityLoader<T> {
    type Value = T;
    type Error = Arc<ApiError>;

    async fn load(&self, keys: &[T::Key]) -> Result<HashMap<T::Key, T>, Self::Error> {
        let mut sql = Sql::new(T::SELECT_IN);
        sql.bind_list(self.db.backend(), keys.iter().cloned());
        let rows: Vec<T> = self.db.all(&sql).await.map_err(Arc::new)?;
        Ok(rows.into_iter().map(|row| (row.key(), row)).collect())
    }
}

impl<T: Group> Loader<T::Key> for GroupLoader<T> {
    type Value = Vec<T>;
    type Error = Arc<ApiError>;

    async fn load(&self, keys: &[T::Key]) -> Result<HashMap<T::Key, Vec<T>>, Self::Error> {
        let mut sql = Sql::new(T::SELECT_IN);
        sql.bind_list(self.db.backend(), keys.iter().cloned())
            .push(T::ORDER);
        let rows: Vec<T> = self.db.all(&sql).await.map_err(Arc::new)?;
        let mut groups: HashMap<T::Key, Vec<T>> = HashMap::new();
        for row in rows {
            groups.entry(row.group()).or_default().push(row);
        }
        Ok(groups)
    }
}

/// A `DataLoader` for entities `T`, batching the keys asked for within one scheduling tick.
pub(crate) fn entity_loader<T: Entity>(db: &Db) -> DataLoader<EntityLoader<T>> {
    DataLoader::new(
        EntityLoader {
            db: db.clone(),
            entity: PhantomData,
        },
        tokio::spawn,
    )
}

/// A `DataLoader` for row groups `T`.
pub(crate) fn group_loader<T: Group>(db: &Db) -> DataLoader<GroupLoader<T>> {
    DataLoader::new(
        GroupLoader {
            db: db.clone(),
            group: PhantomData,
        },
        tokio::spawn,
    )
}

fn loader_error(e: &Arc<ApiError>) -> async_graphql::Error {
    use async_graphql::ErrorExtensions;
    e.as_ref().extend()
}

/// Records in the request's reads that the rows of `T` with `keys` were looked up.
fn record<'k, T: Entity>(ctx: &Context<'_>, keys: impl IntoIterator<Item = &'k T::Key>) {
    if let Some(reads) = reads(ctx) {
        let values = keys.into_iter().map(|key| key.clone().into().key_text());
        reads.values(T::TABLE, T::KEY, values);
    }
}

/// The entity `T` with `key`, if it exists.
pub(crate) async fn load<T: Entity>(ctx: &Context<'_>, key: T::Key) -> ApiResult<Option<T>> {
    record::<T>(ctx, [&key]);
    ctx.data_unchecked::<DataLoader<EntityLoader<T>>>()
        .load_one(key)
        .await
        .map_err(|e| loader_error(&e))
}

/// The entities `T` with `keys`, in the order of `keys` (missing ones left out).
pub(crate) async fn load_many<T: Entity>(
    ctx: &Context<'_>,
    keys: Vec<T::Key>,
) -> ApiResult<Vec<T>> {
    record::<T>(ctx, &keys);
    let found = ctx
        .data_unchecked::<DataLoader<EntityLoader<T>>>()
        .load_many(keys.iter().cloned())
        .await
        .map_err(|e| loader_error(&e))?;
    Ok(keys.iter().filter_map(|k| found.get(k).cloned()).collect())
}

/// The group of `T` rows under `key` (empty if none).
pub(crate) async fn load_group<T: Group>(ctx: &Context<'_>, key: T::Key) -> ApiResult<Vec<T>> {
    if let Some(reads) = reads(ctx) {
        T::TABLES.iter().for_each(|table| reads.table(table));
    }
    let group = ctx
        .data_unchecked::<DataLoader<GroupLoader<T>>>()
        .load_one(key)
        .await
        .map_err(|e| loader_error(&e))?;
    Ok(group.unwrap_or_default())
}
