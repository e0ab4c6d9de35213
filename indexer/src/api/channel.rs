//! Usage channels: a payer's deposit locked for one node and one model, paid by cumulative vouchers.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, Enum, SimpleObject};

use crate::api::account::Account;
use crate::api::amount::BigInt;
use crate::api::db::Sql;
use crate::api::error::{ApiError, ApiResult, gql};
use crate::api::loader::{Entity, load};
use crate::api::model::Model;
use crate::api::pagination::{Cursor, KeyKind, Order, page};
use crate::api::quantity::U64;
use crate::api::voucher::VoucherSettlement;
use crate::api::{Args, db};
use crate::projection::channel::{CLOSED, CLOSING, OPEN};

/// Where a channel stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelState {
    /// Open: the node serves and settles.
    Open,
    /// The payer asked to close: the node may settle until `closesAt`.
    Closing,
    /// Closed: what was not settled went back to the payer.
    Closed,
}

/// A usage channel (docs/PROTOCOL.md, "UsageChannels").
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Channel {
    /// Channel id (1-based).
    #[graphql(name = "id")]
    pub(crate) channel_id: U64,
    #[graphql(skip)]
    pub(crate) payer: String,
    #[graphql(skip)]
    pub(crate) node: String,
    #[graphql(skip)]
    pub(crate) model_id: i64,
    /// Signs the vouchers (the payer or a key it named), fixed for the channel's life.
    pub(crate) signer: String,
    /// Tokens locked.
    pub(crate) deposit: BigInt,
    /// Σ fees settled: the cumulative fee of the last settled voucher.
    pub(crate) settled_fee: BigInt,
    /// The period the next settled voucher belongs to.
    pub(crate) period: U64,
    /// When the payer may close it (unix seconds); 0 while no close was asked for.
    pub(crate) closes_at: U64,
    #[graphql(skip)]
    pub(crate) state: String,
    /// What went back to the payer when it closed (0 before).
    pub(crate) refund: BigInt,
    /// Vouchers settled.
    pub(crate) settlement_count: U64,
    /// Block of opening.
    pub(crate) opened_block: U64,
    /// Transaction of opening.
    pub(crate) opened_tx: String,
}

macro_rules! columns {
    () => {
        "channel_id, payer, node, model_id, signer, deposit, settled_fee, period, closes_at, state, refund, \
         settlement_count, opened_block, opened_tx"
    };
}

impl Entity for Channel {
    type Key = i64;
    const TABLE: &'static str = "channels";
    const KEY: &'static str = "channel_id";
    const SELECT_IN: &'static str =
        concat!("SELECT ", columns!(), " FROM channels WHERE channel_id IN ");
    fn key(&self) -> i64 {
        self.channel_id.stored()
    }
}

/// Which channels a list holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChannelFilter {
    /// Only this payer's.
    pub(crate) payer: Option<String>,
    /// Only this node's.
    pub(crate) node: Option<String>,
    /// Only for this model.
    pub(crate) model: Option<i64>,
}

#[ComplexObject]
impl Channel {
    /// Where it stands.
    async fn state(&self) -> ApiResult<ChannelState> {
        match self.state.as_str() {
            OPEN => Ok(ChannelState::Open),
            CLOSING => Ok(ChannelState::Closing),
            CLOSED => Ok(ChannelState::Closed),
            other => Err(gql(ApiError::Stored {
                column: "channels.state",
                value: other.to_owned(),
            })),
        }
    }

    /// Funds it; gets back what was not settled.
    async fn payer(&self, ctx: &Context<'_>) -> ApiResult<Account> {
        Account::load_or_empty(ctx, &self.payer).await
    }

    /// Runs the model and settles the vouchers.
    async fn node(&self, ctx: &Context<'_>) -> ApiResult<Account> {
        Account::load_or_empty(ctx, &self.node).await
    }

    /// The model it pays for.
    async fn model(&self, ctx: &Context<'_>) -> ApiResult<Option<Model>> {
        load::<Model>(ctx, self.model_id).await
    }

    /// Its settled vouchers, by period.
    #[graphql(complexity = "crate::api::pagination::cost(first, last, child_complexity)")]
    async fn settlements(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, VoucherSettlement>> {
        VoucherSettlement::list(
            ctx,
            (first, after, last, before),
            order,
            self.channel_id.stored(),
        )
        .await
    }
}

impl Channel {
    /// A page of channels by id, filtered.
    pub(crate) async fn list(
        ctx: &Context<'_>,
        args: Args,
        order: Order,
        filter: ChannelFilter,
    ) -> ApiResult<Connection<Cursor, Self>> {
        let page = page(ctx, args, order, &[KeyKind::Int])?;
        let mut sql = Sql::new(concat!("SELECT ", columns!(), " FROM channels WHERE 1 = 1"));
        if let Some(payer) = filter.payer {
            sql.push(" AND payer = ").bind(payer);
        }
        if let Some(node) = filter.node {
            sql.push(" AND node = ").bind(node);
        }
        if let Some(model) = filter.model {
            sql.push(" AND model_id = ").bind(model);
        }
        page.append(&mut sql, &["channel_id"]);
        let rows: Vec<Self> = db(ctx, &["channels"]).all(&sql).await.map_err(gql)?;
        Ok(page.connection(rows, |r| Cursor::ints(&[r.channel_id.stored()])))
    }
}
