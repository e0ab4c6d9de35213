//! Datanets: community datasets, with their curators, contributions, releases and revenue.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, SimpleObject};

use crate::api::account::Account;
use crate::api::amount::BigInt;
use crate::api::contribution::Contribution;
use crate::api::db::Sql;
use crate::api::error::{ApiResult, gql};
use crate::api::loader::{Entity, Group, load_group};
use crate::api::pagination::{Cursor, KeyKind, Order, cost, page};
use crate::api::quantity::U64;
use crate::api::release::Release;
use crate::api::{Args, db};

/// A community dataset: contributors stake documents into it, curators accept or reject them, releases
/// snapshot the accepted set.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Datanet {
    /// Datanet id (1-based).
    #[graphql(name = "id")]
    pub(crate) datanet_id: U64,
    #[graphql(skip)]
    pub(crate) owner: String,
    /// Smallest stake a contribution must lock.
    pub(crate) min_stake: BigInt,
    /// Where the datanet's description lives. Text: where the registered bytes are not UTF-8, or hold
    /// a NUL, U+FFFD stands in and `metadataUriBytes` has them.
    pub(crate) metadata_uri: String,
    /// The bytes the chain holds (0x hex), only when `metadataUri` is not exactly them: where they are
    /// not UTF-8, or hold a NUL, U+FFFD stands in for them in `metadataUri`.
    pub(crate) metadata_uri_bytes: Option<String>,
    /// Seconds a contribution waits for review; past them, an unreviewed one may be withdrawn.
    pub(crate) review_window: U64,
    /// Most tokens one contribution may count.
    #[sqlx(try_from = "i64")]
    pub(crate) max_contribution_tokens: BigInt,
    /// Block of creation.
    pub(crate) created_block: U64,
    /// Transaction of creation.
    pub(crate) created_tx: String,
    /// Curators currently enabled.
    pub(crate) curator_count: i64,
    /// Contributions submitted.
    pub(crate) contribution_count: U64,
    /// Contributions accepted.
    pub(crate) accepted_count: U64,
    /// Contributions rejected.
    pub(crate) rejected_count: U64,
    /// Σ token count of accepted contributions.
    #[sqlx(try_from = "i64")]
    pub(crate) accepted_tokens: BigInt,
    /// Σ stakes slashed from rejected contributions.
    pub(crate) slashed: BigInt,
    /// Releases published.
    pub(crate) release_count: U64,
    #[graphql(skip)]
    pub(crate) attributed_revenue: BigInt,
    #[graphql(skip)]
    pub(crate) pool_revenue: BigInt,
    #[graphql(skip)]
    pub(crate) revenue: BigInt,
}

macro_rules! columns {
    () => {
        "datanet_id, owner, min_stake, metadata_uri, metadata_uri_bytes, review_window, max_contribution_tokens, created_block, \
         created_tx, curator_count, contribution_count, accepted_count, rejected_count, accepted_tokens, slashed, release_count, \
         attributed_revenue, pool_revenue, revenue"
    };
}

impl Entity for Datanet {
    type Key = i64;
    const TABLE: &'static str = "datanets";
    const KEY: &'static str = "datanet_id";
    const SELECT_IN: &'static str =
        concat!("SELECT ", columns!(), " FROM datanets WHERE datanet_id IN ");
    fn key(&self) -> i64 {
        self.datanet_id.stored()
    }
}

/// What a datanet's contributions earned (kept as running totals by the indexer).
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct DatanetRevenue {
    /// attributed + pool.
    total: BigInt,
    /// Paid to its contributions named in receipts' attributions.
    attributed: BigInt,
    /// Accrued to its releases' pools (the unattributed data share).
    pool: BigInt,
}

/// A curator of a datanet.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Curator {
    #[graphql(skip)]
    datanet_id: i64,
    #[graphql(skip)]
    curator: String,
    /// Contributions this curator accepted.
    accepted_reviews: U64,
    /// Contributions this curator rejected.
    rejected_reviews: U64,
    /// Block of the last change.
    updated_block: U64,
}

impl Group for Curator {
    type Key = i64;
    const TABLES: &'static [&'static str] = &["curators"];
    const SELECT_IN: &'static str = "SELECT datanet_id, curator, accepted_reviews, rejected_reviews, updated_block \
         FROM curators WHERE enabled = 1 AND datanet_id IN ";
    const ORDER: &'static str = " ORDER BY datanet_id, curator";
    fn group(&self) -> i64 {
        self.datanet_id
    }
}

#[ComplexObject]
impl Curator {
    /// The curator's account.
    async fn account(&self, ctx: &Context<'_>) -> ApiResult<Account> {
        Account::load_or_empty(ctx, &self.curator).await
    }
}

#[ComplexObject]
impl Datanet {
    /// The datanet's owner (manages its curators).
    async fn owner(&self, ctx: &Context<'_>) -> ApiResult<Account> {
        Account::load_or_empty(ctx, &self.owner).await
    }

    /// Revenue earned by the datanet's contributions.
    async fn revenue(&self) -> DatanetRevenue {
        DatanetRevenue {
            total: self.revenue.clone(),
            attributed: self.attributed_revenue.clone(),
            pool: self.pool_revenue.clone(),
        }
    }

    /// The curators currently enabled (at most the registry's `MAX_CURATORS`).
    async fn curators(&self, ctx: &Context<'_>) -> ApiResult<Vec<Curator>> {
        load_group::<Curator>(ctx, self.datanet_id.stored()).await
    }

    /// The datanet's contributions by id.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn contributions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, Contribution>> {
        Contribution::list(
            ctx,
            (first, after, last, before),
            order,
            Some(self.datanet_id.stored()),
            None,
        )
        .await
    }

    /// The datanet's releases by id.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn releases(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, Release>> {
        Release::list(
            ctx,
            (first, after, last, before),
            order,
            Some(self.datanet_id.stored()),
        )
        .await
    }
}

impl Datanet {
    /// A page of datanets, optionally only those `owner` owns.
    pub(crate) async fn list(
        ctx: &Context<'_>,
        args: Args,
        order: Order,
        owner: Option<String>,
    ) -> ApiResult<Connection<Cursor, Self>> {
        let page = page(ctx, args, order, &[KeyKind::Int])?;
        let mut sql = Sql::new(concat!("SELECT ", columns!(), " FROM datanets WHERE 1 = 1"));
        if let Some(owner) = owner {
            sql.push(" AND owner = ").bind(owner);
        }
        page.append(&mut sql, &["datanet_id"]);
        let rows: Vec<Self> = db(ctx, &["datanets"]).all(&sql).await.map_err(gql)?;
        Ok(page.connection(rows, |r| Cursor::ints(&[r.datanet_id.stored()])))
    }
}
