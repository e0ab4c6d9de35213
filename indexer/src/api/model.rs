//! Models: GGUF weights registered against datanet releases, with a price, a revenue split, and their
//! usage and revenue.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, SimpleObject};

use crate::api::account::Account;
use crate::api::amount::BigInt;
use crate::api::db::Sql;
use crate::api::error::{ApiResult, gql};
use crate::api::inference::{Inference, InferenceFilter};
use crate::api::loader::{Entity, Group, load, load_group, load_many};
use crate::api::pagination::{Cursor, KeyKind, Order, cost, page};
use crate::api::quantity::U64;
use crate::api::release::{Release, ReleaseOfModel};
use crate::api::{Args, db};

/// A registered model.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Model {
    /// Model id (1-based).
    #[graphql(name = "id")]
    pub(crate) model_id: U64,
    #[graphql(skip)]
    pub(crate) owner: String,
    /// sha256 of the GGUF weights file.
    pub(crate) weights_hash: String,
    /// Where the weights can be fetched. Text: where the registered bytes are not UTF-8, or hold a
    /// NUL, U+FFFD stands in and `uriBytes` has them.
    pub(crate) uri: String,
    /// The bytes the chain holds (0x hex), only when `uri` is not exactly them: where they are
    /// not UTF-8, or hold a NUL, U+FFFD stands in for them in `uri`.
    pub(crate) uri_bytes: Option<String>,
    /// Fee per 1,000 tokens of a receipt whose deadline is before `nextPriceAt` (of every receipt
    /// when no change is scheduled): the price before the latest change.
    pub(crate) price_per_kilo_token: BigInt,
    /// The price of the latest change, if one was set: a receipt whose deadline is at or after
    /// `nextPriceAt` pays it.
    pub(crate) next_price_per_kilo_token: Option<BigInt>,
    /// The first receipt deadline (unix seconds) the latest change applies to, if one was set.
    pub(crate) next_price_at: Option<U64>,
    #[graphql(skip)]
    pub(crate) owner_bps: i64,
    #[graphql(skip)]
    pub(crate) data_bps: i64,
    #[graphql(skip)]
    pub(crate) node_bps: i64,
    #[graphql(skip)]
    pub(crate) treasury_bps: i64,
    /// Block of registration.
    pub(crate) registered_block: U64,
    /// Transaction of registration.
    pub(crate) registered_tx: String,
    #[graphql(skip)]
    pub(crate) receipt_count: U64,
    #[graphql(skip)]
    #[sqlx(try_from = "i64")]
    pub(crate) input_tokens: BigInt,
    #[graphql(skip)]
    #[sqlx(try_from = "i64")]
    pub(crate) output_tokens: BigInt,
    #[graphql(skip)]
    pub(crate) revenue: BigInt,
    #[graphql(skip)]
    pub(crate) owner_revenue: BigInt,
    #[graphql(skip)]
    pub(crate) data_revenue: BigInt,
    #[graphql(skip)]
    pub(crate) node_revenue: BigInt,
    #[graphql(skip)]
    pub(crate) treasury_revenue: BigInt,
    #[graphql(skip)]
    pub(crate) attributed_revenue: BigInt,
    #[graphql(skip)]
    pub(crate) pool_revenue: BigInt,
    #[graphql(skip)]
    pub(crate) base_model_id: Option<i64>,
    #[graphql(skip)]
    pub(crate) base_share_bps: i64,
    /// For an adapter, sha256 of its training manifest (canonical JSON); null for a whole model.
    pub(crate) manifest_hash: Option<String>,
    /// For an adapter, where its training manifest can be fetched, as registered (text: U+FFFD stands
    /// for each NUL and each byte sequence that is not UTF-8, and `manifestUriBytes` has them); null for
    /// a whole model.
    pub(crate) manifest_uri: Option<String>,
    /// The bytes the chain holds (0x hex), only when `manifestUri` is not exactly them: where they are
    /// not UTF-8, or hold a NUL, U+FFFD stands in for them in `manifestUri`.
    pub(crate) manifest_uri_bytes: Option<String>,
    /// The share of each fee (basis points, out of the adapter's owner share) that adapters registered on
    /// this model from now on pay its owner; adapters already registered keep the share they were
    /// registered with (`baseShareBps`).
    pub(crate) derivative_share_bps: i64,
    #[graphql(skip)]
    pub(crate) base_revenue: BigInt,
    #[graphql(skip)]
    pub(crate) derivative_revenue: BigInt,
}

macro_rules! columns {
    () => {
        "model_id, owner, weights_hash, uri, uri_bytes, price_per_kilo_token, next_price_per_kilo_token, next_price_at, \
         owner_bps, data_bps, node_bps, treasury_bps, registered_block, registered_tx, receipt_count, \
         input_tokens, output_tokens, revenue, owner_revenue, data_revenue, node_revenue, treasury_revenue, attributed_revenue, pool_revenue, \
         base_model_id, base_share_bps, manifest_hash, manifest_uri, manifest_uri_bytes, derivative_share_bps, base_revenue, derivative_revenue"
    };
}

impl Entity for Model {
    type Key = i64;
    const TABLE: &'static str = "models";
    const KEY: &'static str = "model_id";
    const SELECT_IN: &'static str =
        concat!("SELECT ", columns!(), " FROM models WHERE model_id IN ");
    fn key(&self) -> i64 {
        self.model_id.stored()
    }
}

/// A model's revenue split in basis points (sums to 10 000).
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct Split {
    /// To the model's owner.
    owner_bps: i64,
    /// To the data: attributed contributions, the rest to release pools.
    data_bps: i64,
    /// To the node that ran the model.
    node_bps: i64,
    /// To the protocol treasury.
    treasury_bps: i64,
}

/// A model's usage (running totals).
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct ModelUsage {
    /// Settled receipts.
    inferences: U64,
    /// Σ prompt tokens.
    input_tokens: BigInt,
    /// Σ generated tokens.
    output_tokens: BigInt,
}

/// A model's revenue and where it went (running totals): `owner`, `base`, `data`, `node` and
/// `treasury` sum to `total`.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct ModelRevenue {
    /// Σ fees.
    total: BigInt,
    /// To the owner (for an adapter, net of `base`).
    owner: BigInt,
    /// For an adapter, to its base model's owner: the derivative share of each fee.
    base: BigInt,
    /// Not part of `total`: what adapters registered on this model paid its owner from their fees.
    derivative: BigInt,
    /// To the data (attributed + pool).
    data: BigInt,
    /// To nodes.
    node: BigInt,
    /// To the treasury.
    treasury: BigInt,
    /// Data share paid to attributed contributions.
    attributed: BigInt,
    /// Data share accrued to release pools.
    pool: BigInt,
}

#[ComplexObject]
impl Model {
    /// Current owner (receives the owner share).
    async fn owner(&self, ctx: &Context<'_>) -> ApiResult<Account> {
        Account::load_or_empty(ctx, &self.owner).await
    }

    /// The revenue split.
    async fn split(&self) -> Split {
        Split {
            owner_bps: self.owner_bps,
            data_bps: self.data_bps,
            node_bps: self.node_bps,
            treasury_bps: self.treasury_bps,
        }
    }

    /// Usage totals.
    async fn usage(&self) -> ModelUsage {
        ModelUsage {
            inferences: self.receipt_count,
            input_tokens: self.input_tokens.clone(),
            output_tokens: self.output_tokens.clone(),
        }
    }

    /// Revenue totals.
    async fn revenue(&self) -> ModelRevenue {
        ModelRevenue {
            total: self.revenue.clone(),
            owner: self.owner_revenue.clone(),
            base: self.base_revenue.clone(),
            derivative: self.derivative_revenue.clone(),
            data: self.data_revenue.clone(),
            node: self.node_revenue.clone(),
            treasury: self.treasury_revenue.clone(),
            attributed: self.attributed_revenue.clone(),
            pool: self.pool_revenue.clone(),
        }
    }

    /// The releases the model was trained on, in registration order (at most `MAX_RELEASES`).
    async fn releases(&self, ctx: &Context<'_>) -> ApiResult<Vec<Release>> {
        let ids = load_group::<ReleaseOfModel>(ctx, self.model_id.stored())
            .await?
            .into_iter()
            .map(|r| r.release_id)
            .collect();
        load_many::<Release>(ctx, ids).await
    }

    /// For an adapter, the whole model it applies to; null for a whole model.
    async fn base_model(&self, ctx: &Context<'_>) -> ApiResult<Option<Model>> {
        match self.base_model_id {
            Some(base) => load::<Model>(ctx, base).await,
            None => Ok(None),
        }
    }

    /// For an adapter, the share of each fee (basis points, out of its owner share) paid to its base
    /// model's owner, fixed when it was registered; null for a whole model.
    async fn base_share_bps(&self) -> Option<i64> {
        self.base_model_id.map(|_| self.base_share_bps)
    }

    /// The adapters registered on this model, by id (none for an adapter).
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn adapters(
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
            ModelFilter::Base(self.model_id.stored()),
        )
        .await
    }

    /// For an adapter, the releases whose documents it was trained on, as its training manifest records
    /// (each among `releases`); empty for a whole model.
    async fn trained_on(&self, ctx: &Context<'_>) -> ApiResult<Vec<Release>> {
        if self.base_model_id.is_none() {
            return Ok(Vec::new());
        }
        let ids = load_group::<TrainedOn>(ctx, self.model_id.stored())
            .await?
            .into_iter()
            .map(|r| r.release_id)
            .collect();
        load_many::<Release>(ctx, ids).await
    }

    /// The model's settled inferences, in chain order.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn inferences(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, Inference>> {
        Inference::list(
            ctx,
            (first, after, last, before),
            order,
            InferenceFilter::Model(self.model_id.stored()),
        )
        .await
    }
}

/// A release an adapter was trained on, grouped by model (in the event's order).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct TrainedOn {
    model_id: i64,
    release_id: i64,
}

impl Group for TrainedOn {
    type Key = i64;
    const TABLES: &'static [&'static str] = &["model_trained_on"];
    const SELECT_IN: &'static str =
        "SELECT model_id, release_id FROM model_trained_on WHERE model_id IN ";
    const ORDER: &'static str = " ORDER BY model_id, position";
    fn group(&self) -> i64 {
        self.model_id
    }
}

/// Which models a list holds.
#[derive(Debug, Clone)]
pub(crate) enum ModelFilter {
    /// All of them.
    All,
    /// Owned by one account.
    Owner(String),
    /// Trained on one release.
    Release(i64),
    /// Adapters registered on one model.
    Base(i64),
    /// Trained on a release of `datanet_id` that includes its accepted contribution number
    /// `accepted_seq`: a release holds the first `contribution_count` accepted ones, counted from 1,
    /// so none holds a pending or rejected contribution (0).
    Contribution { datanet_id: i64, accepted_seq: i64 },
}

impl ModelFilter {
    /// The tables the list reads, for the response cache.
    fn tables(&self) -> &'static [&'static str] {
        match self {
            Self::All | Self::Owner(_) | Self::Base(_) => &["models"],
            Self::Release(_) => &["models", "model_releases"],
            Self::Contribution { .. } => &["models", "model_releases", "releases"],
        }
    }

    /// Appends the filter to a query over `models` whose `WHERE` clause is open.
    fn append(self, sql: &mut Sql) {
        match self {
            Self::All => {}
            Self::Owner(owner) => {
                sql.push(" AND owner = ").bind(owner);
            }
            Self::Base(base) => {
                sql.push(" AND base_model_id = ").bind(base);
            }
            Self::Release(release_id) => {
                sql.push(
                    " AND model_id IN (SELECT model_id FROM model_releases WHERE release_id = ",
                )
                .bind(release_id)
                .push(")");
            }
            Self::Contribution {
                datanet_id,
                accepted_seq,
            } => {
                sql.push(
                    " AND model_id IN (SELECT mr.model_id FROM releases r \
                     JOIN model_releases mr ON mr.release_id = r.release_id WHERE r.datanet_id = ",
                )
                .bind(datanet_id)
                .push(" AND ")
                .bind(accepted_seq)
                .push(" BETWEEN 1 AND r.contribution_count)");
            }
        }
    }
}

impl Model {
    /// A page of the models `filter` holds, by id.
    pub(crate) async fn list(
        ctx: &Context<'_>,
        args: Args,
        order: Order,
        filter: ModelFilter,
    ) -> ApiResult<Connection<Cursor, Self>> {
        let page = page(ctx, args, order, &[KeyKind::Int])?;
        let tables = filter.tables();
        let mut sql = Sql::new(concat!("SELECT ", columns!(), " FROM models WHERE 1 = 1"));
        filter.append(&mut sql);
        page.append(&mut sql, &["model_id"]);
        let rows: Vec<Self> = db(ctx, tables).all(&sql).await.map_err(gql)?;
        Ok(page.connection(rows, |r| Cursor::ints(&[r.model_id.stored()])))
    }
}
