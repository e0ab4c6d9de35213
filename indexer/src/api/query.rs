//! The query root: entry points by key, filtered lists, the attribution graph, totals and `_meta`.

use async_graphql::connection::Connection;
use async_graphql::{Context, Object};

use crate::api::account::Account;
use crate::api::channel::{Channel, ChannelFilter};
use crate::api::claim::Claim;
use crate::api::contribution::Contribution;
use crate::api::datanet::Datanet;
use crate::api::error::{ApiResult, gql};
use crate::api::graph::{AttributionGraph, attribution_graph};
use crate::api::ids;
use crate::api::inference::{Inference, InferenceFilter};
use crate::api::loader::load;
use crate::api::meta::{Meta, Totals};
use crate::api::model::{Model, ModelFilter};
use crate::api::pagination::{Cursor, Order, cost};
use crate::api::pool::PoolAccrual;
use crate::api::quantity::U64;
use crate::api::release::Release;
use crate::api::skipped::SkippedReceipt;
use crate::api::{ApiConfig, Token};

/// The query root.
#[derive(Debug, Default)]
pub(crate) struct QueryRoot;

fn address(s: Option<String>) -> ApiResult<Option<String>> {
    s.map(|s| ids::address(&s)).transpose().map_err(gql)
}

#[Object]
#[allow(clippy::too_many_arguments)] // list fields take the four Relay arguments, an order and filters
impl QueryRoot {
    /// The indexer's checkpoint (null before the first block is applied).
    #[graphql(name = "_meta")]
    async fn meta(&self, ctx: &Context<'_>) -> ApiResult<Option<Meta>> {
        Meta::load(ctx).await
    }

    /// Protocol-wide running totals (null before anything is indexed).
    async fn totals(&self, ctx: &Context<'_>) -> ApiResult<Option<Totals>> {
        Totals::load(ctx).await
    }

    /// The payment token every amount is counted in (its base units).
    async fn token(&self, ctx: &Context<'_>) -> Token {
        ctx.data_unchecked::<ApiConfig>().token.clone()
    }

    /// Contributors by earnings (`earnings.total`), largest first, ties by address.
    #[graphql(complexity = "first.max(1) as usize * child_complexity")]
    async fn top_contributors(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i32,
    ) -> ApiResult<Vec<Account>> {
        Account::top_contributors(ctx, first).await
    }

    /// The neighbourhood of a node as nodes and weighted edges, for drawing. `root` is `kind:key`
    /// (`account:0x…`, `datanet:1`, `release:1`, `model:1`, `contribution:1`, `inference:0x…`) or a bare
    /// address or receipt digest.
    #[graphql(complexity = "limit.max(1) as usize * depth.max(1) as usize")]
    async fn attribution_graph(
        &self,
        ctx: &Context<'_>,
        root: async_graphql::ID,
        #[graphql(default = 2)] depth: i32,
        #[graphql(default = 200)] limit: i32,
    ) -> ApiResult<AttributionGraph> {
        attribution_graph(ctx, &root, depth, limit).await
    }

    /// An account by address (null if the indexer has not seen it).
    async fn account(&self, ctx: &Context<'_>, address: String) -> ApiResult<Option<Account>> {
        let address = ids::address(&address).map_err(gql)?;
        Account::load(ctx, &address).await
    }

    /// A datanet by id.
    async fn datanet(&self, ctx: &Context<'_>, id: U64) -> ApiResult<Option<Datanet>> {
        load::<Datanet>(ctx, id.stored()).await
    }

    /// Datanets by id, optionally only those `owner` owns.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn datanets(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
        owner: Option<String>,
    ) -> ApiResult<Connection<Cursor, Datanet>> {
        Datanet::list(ctx, (first, after, last, before), order, address(owner)?).await
    }

    /// A contribution by id.
    async fn contribution(&self, ctx: &Context<'_>, id: U64) -> ApiResult<Option<Contribution>> {
        load::<Contribution>(ctx, id.stored()).await
    }

    /// Contributions by id, optionally of one datanet and/or one contributor.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn contributions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
        datanet_id: Option<U64>,
        contributor: Option<String>,
    ) -> ApiResult<Connection<Cursor, Contribution>> {
        Contribution::list(
            ctx,
            (first, after, last, before),
            order,
            datanet_id.map(U64::stored),
            address(contributor)?,
        )
        .await
    }

    /// A release by id.
    async fn release(&self, ctx: &Context<'_>, id: U64) -> ApiResult<Option<Release>> {
        load::<Release>(ctx, id.stored()).await
    }

    /// Releases by id, optionally of one datanet.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn releases(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
        datanet_id: Option<U64>,
    ) -> ApiResult<Connection<Cursor, Release>> {
        let datanet_id = datanet_id.map(U64::stored);
        Release::list(ctx, (first, after, last, before), order, datanet_id).await
    }

    /// A model by id.
    async fn model(&self, ctx: &Context<'_>, id: U64) -> ApiResult<Option<Model>> {
        load::<Model>(ctx, id.stored()).await
    }

    /// Models by id, optionally only those `owner` owns.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn models(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
        owner: Option<String>,
    ) -> ApiResult<Connection<Cursor, Model>> {
        let filter = address(owner)?.map_or(ModelFilter::All, ModelFilter::Owner);
        Model::list(ctx, (first, after, last, before), order, filter).await
    }

    /// A usage channel by id.
    async fn channel(&self, ctx: &Context<'_>, id: U64) -> ApiResult<Option<Channel>> {
        load::<Channel>(ctx, id.stored()).await
    }

    /// Usage channels by id, optionally only one payer's, one node's and/or one model's.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn channels(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
        payer: Option<String>,
        node: Option<String>,
        model_id: Option<U64>,
    ) -> ApiResult<Connection<Cursor, Channel>> {
        let filter = ChannelFilter {
            payer: address(payer)?,
            node: address(node)?,
            model: model_id.map(U64::stored),
        };
        Channel::list(ctx, (first, after, last, before), order, filter).await
    }

    /// An inference by receipt digest (for a receipt settled in a channel's voucher, its leaf in the
    /// period's log).
    async fn inference(&self, ctx: &Context<'_>, digest: String) -> ApiResult<Option<Inference>> {
        let digest = ids::digest(&digest).map_err(gql)?;
        load::<Inference>(ctx, digest).await
    }

    /// Inferences in chain order, optionally filtered by one of `modelId`, `payer` or `node`.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn inferences(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
        model_id: Option<U64>,
        payer: Option<String>,
        node: Option<String>,
    ) -> ApiResult<Connection<Cursor, Inference>> {
        let filter = match (model_id, address(payer)?, address(node)?) {
            (None, None, None) => InferenceFilter::All,
            (Some(model), None, None) => InferenceFilter::Model(model.stored()),
            (None, Some(payer), None) => InferenceFilter::Payer(payer),
            (None, None, Some(node)) => InferenceFilter::Node(node),
            _ => {
                return Err(gql(crate::api::error::ApiError::OneFilter(
                    "modelId, payer, node",
                )));
            }
        };
        Inference::list(ctx, (first, after, last, before), order, filter).await
    }

    /// Release-pool accruals in chain order, optionally to one release.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn pool_accruals(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
        release_id: Option<U64>,
    ) -> ApiResult<Connection<Cursor, PoolAccrual>> {
        let release_id = release_id.map(U64::stored);
        PoolAccrual::list(ctx, (first, after, last, before), order, release_id).await
    }

    /// Claims in chain order, optionally of one account.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn claims(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
        account: Option<String>,
    ) -> ApiResult<Connection<Cursor, Claim>> {
        Claim::list(ctx, (first, after, last, before), order, address(account)?).await
    }

    /// Receipts the escrow skipped instead of settling, in chain order, optionally those of one digest.
    /// Nothing was charged or credited for them: no figure counts them.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn skipped_receipts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
        digest: Option<String>,
    ) -> ApiResult<Connection<Cursor, SkippedReceipt>> {
        let digest = digest.map(|d| ids::digest(&d)).transpose().map_err(gql)?;
        SkippedReceipt::list(ctx, (first, after, last, before), order, digest).await
    }
}
