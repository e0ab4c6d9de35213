//! Releases: snapshots of a datanet's accepted set that models bind to, and their reward pools.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, SimpleObject};

use crate::api::amount::BigInt;
use crate::api::datanet::Datanet;
use crate::api::db::Sql;
use crate::api::error::{ApiResult, gql};
use crate::api::loader::{Entity, Group, load};
use crate::api::model::{Model, ModelFilter};
use crate::api::pagination::{Cursor, KeyKind, Order, page};
use crate::api::pool::PoolAccrual;
use crate::api::quantity::U64;
use crate::api::{Args, db};

/// A release: the first `contributionCount` accepted contributions of a datanet, as a Merkle root.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Release {
    /// Release id (1-based, global).
    #[graphql(name = "id")]
    pub(crate) release_id: U64,
    #[graphql(skip)]
    pub(crate) datanet_id: i64,
    /// Merkle root over (contributionId, contentHash) in accepted order.
    pub(crate) root: String,
    /// Contributions in the release.
    pub(crate) contribution_count: U64,
    /// Σ token count of its contributions.
    #[sqlx(try_from = "i64")]
    pub(crate) token_count: BigInt,
    /// Block of publication.
    pub(crate) published_block: U64,
    /// Transaction of publication.
    pub(crate) published_tx: String,
    #[graphql(skip)]
    pub(crate) reward_per_token: BigInt,
    #[graphql(skip)]
    pub(crate) pool_accrued: BigInt,
    #[graphql(skip)]
    pub(crate) pool_claimed: BigInt,
}

macro_rules! columns {
    () => {
        "release_id, datanet_id, root, contribution_count, token_count, published_block, published_tx, \
         reward_per_token, pool_accrued, pool_claimed"
    };
}

impl Entity for Release {
    type Key = i64;
    const TABLE: &'static str = "releases";
    const KEY: &'static str = "release_id";
    const SELECT_IN: &'static str =
        concat!("SELECT ", columns!(), " FROM releases WHERE release_id IN ");
    fn key(&self) -> i64 {
        self.release_id.stored()
    }
}

/// A release's reward pool: the unattributed data share of the fees of models trained on it, shared by
/// its contributions pro rata by tokens.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct ReleasePool {
    /// Reward per accepted token, scaled by 1e18.
    reward_per_token: BigInt,
    /// Σ accrued.
    accrued: BigInt,
    /// Σ claimed for contributions.
    claimed: BigInt,
}

/// A release a model was trained on, grouped by model (in the model's own order).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ReleaseOfModel {
    model_id: i64,
    pub(crate) release_id: i64,
}

impl Group for ReleaseOfModel {
    type Key = i64;
    const TABLES: &'static [&'static str] = &["model_releases"];
    const SELECT_IN: &'static str =
        "SELECT model_id, release_id FROM model_releases WHERE model_id IN ";
    const ORDER: &'static str = " ORDER BY model_id, position";
    fn group(&self) -> i64 {
        self.model_id
    }
}

#[ComplexObject]
impl Release {
    /// The datanet released.
    async fn datanet(&self, ctx: &Context<'_>) -> ApiResult<Option<Datanet>> {
        load::<Datanet>(ctx, self.datanet_id).await
    }

    /// The release's reward pool.
    async fn pool(&self) -> ReleasePool {
        ReleasePool {
            reward_per_token: self.reward_per_token.clone(),
            accrued: self.pool_accrued.clone(),
            claimed: self.pool_claimed.clone(),
        }
    }

    /// Models trained on this release, by id.
    #[graphql(complexity = "crate::api::pagination::cost(first, last, child_complexity)")]
    async fn models(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, Model>> {
        Model::list(
            ctx,
            (first, after, last, before),
            order,
            ModelFilter::Release(self.release_id.stored()),
        )
        .await
    }

    /// Accruals to this release's pool, in chain order.
    #[graphql(complexity = "crate::api::pagination::cost(first, last, child_complexity)")]
    async fn pool_accruals(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, PoolAccrual>> {
        PoolAccrual::list(
            ctx,
            (first, after, last, before),
            order,
            Some(self.release_id.stored()),
        )
        .await
    }
}

impl Release {
    /// A page of releases by id, optionally of one datanet.
    pub(crate) async fn list(
        ctx: &Context<'_>,
        args: Args,
        order: Order,
        datanet: Option<i64>,
    ) -> ApiResult<Connection<Cursor, Self>> {
        let page = page(ctx, args, order, &[KeyKind::Int])?;
        let mut sql = Sql::new(concat!("SELECT ", columns!(), " FROM releases WHERE 1 = 1"));
        if let Some(datanet) = datanet {
            sql.push(" AND datanet_id = ").bind(datanet);
        }
        page.append(&mut sql, &["release_id"]);
        let rows: Vec<Self> = db(ctx, &["releases"]).all(&sql).await.map_err(gql)?;
        Ok(page.connection(rows, |r| Cursor::ints(&[r.release_id.stored()])))
    }
}
