//! Settled vouchers: one settlement of a channel's period, what it paid each party, and whether its
//! published receipts log proved it.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, Enum, SimpleObject};

use crate::api::amount::BigInt;
use crate::api::channel::Channel;
use crate::api::contribution::Contribution;
use crate::api::db::Sql;
use crate::api::error::{ApiError, ApiResult, gql};
use crate::api::inference::{Inference, columns as receipt_columns};
use crate::api::loader::{Entity, Group, load, load_group};
use crate::api::pagination::{Cursor, KeyKind, Order, page};
use crate::api::quantity::U64;
use crate::api::{Args, db};
use crate::logs::record::{MISMATCH, MISSING, PENDING, VERIFIED};

/// What the indexer learned of a settlement's receipts log.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogStatus {
    /// Not fetched yet, or to be tried again.
    Pending,
    /// Fetched, and it proves the voucher: its receipts are indexed.
    Verified,
    /// Could not be fetched (`logProblem` says why): the settlement is unproven.
    Missing,
    /// Fetched, and it does not prove the voucher (`logProblem` says how): the settlement is unproven.
    Mismatch,
}

/// A voucher settled on a channel: the money is paid whatever its log shows.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub(crate) struct VoucherSettlement {
    /// The voucher's EIP-712 digest.
    pub(crate) digest: String,
    #[graphql(skip)]
    pub(crate) channel_id: i64,
    /// The channel's period it settled.
    pub(crate) period: U64,
    /// Inferences in the period.
    pub(crate) inferences: U64,
    /// The channel's cumulative fee before the period.
    pub(crate) start_fee: BigInt,
    /// The channel's cumulative fee after it.
    pub(crate) fee: BigInt,
    /// What the period paid: `fee − startFee`.
    pub(crate) amount: BigInt,
    /// To the model's owner (net of `baseShare`).
    pub(crate) owner_share: BigInt,
    /// To an adapter's base model's owner.
    pub(crate) base_share: BigInt,
    /// To the node.
    pub(crate) node_share: BigInt,
    /// To the data: the contributions, the rest to the release pools.
    pub(crate) data_share: BigInt,
    /// Merkle root of the period's receipts log.
    pub(crate) log_root: String,
    /// Where the node published the log (text, as URIs are).
    pub(crate) log_uri: String,
    /// The URI's bytes (0x hex), only when `logUri` is not exactly them.
    pub(crate) log_uri_bytes: Option<String>,
    /// Block of settlement.
    pub(crate) block_number: U64,
    /// Timestamp of that block, when known.
    pub(crate) block_timestamp: Option<U64>,
    /// Settlement transaction.
    pub(crate) tx_hash: String,
    /// Position of the `VoucherSettled` log in its block.
    pub(crate) log_index: U64,
    #[graphql(skip)]
    pub(crate) log_status: String,
    /// Why the log is missing or does not match (for a pending one: why the last try failed).
    pub(crate) log_problem: Option<String>,
    /// Tries to fetch the log so far.
    pub(crate) log_attempts: U64,
}

macro_rules! columns {
    () => {
        "digest, channel_id, period, inferences, start_fee, fee, amount, owner_share, base_share, node_share, \
         data_share, log_root, log_uri, log_uri_bytes, block_number, block_timestamp, tx_hash, log_index, \
         log_status, log_problem, log_attempts"
    };
}

impl Entity for VoucherSettlement {
    type Key = String;
    const TABLE: &'static str = "voucher_settlements";
    const KEY: &'static str = "digest";
    const SELECT_IN: &'static str = concat!(
        "SELECT ",
        columns!(),
        " FROM voucher_settlements WHERE digest IN "
    );
    fn key(&self) -> String {
        self.digest.clone()
    }
}

/// What a settled voucher paid one contribution.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub(crate) struct VoucherContribution {
    #[graphql(skip)]
    pub(crate) digest: String,
    #[graphql(skip)]
    pub(crate) contribution_id: i64,
    /// Σ over the period's receipts of its part of their data share.
    pub(crate) amount: BigInt,
}

impl Group for VoucherContribution {
    type Key = String;
    const TABLES: &'static [&'static str] = &["voucher_contributions"];
    const SELECT_IN: &'static str = "SELECT digest, contribution_id, amount FROM voucher_contributions \
         WHERE digest IN ";
    const ORDER: &'static str = " ORDER BY digest, position";
    fn group(&self) -> String {
        self.digest.clone()
    }
}

#[ComplexObject]
impl VoucherContribution {
    /// The contribution paid.
    async fn contribution(&self, ctx: &Context<'_>) -> ApiResult<Option<Contribution>> {
        load::<Contribution>(ctx, self.contribution_id).await
    }
}

#[ComplexObject]
impl VoucherSettlement {
    /// The channel.
    async fn channel(&self, ctx: &Context<'_>) -> ApiResult<Option<Channel>> {
        load::<Channel>(ctx, self.channel_id).await
    }

    /// What the log showed.
    async fn log_status(&self) -> ApiResult<LogStatus> {
        match self.log_status.as_str() {
            PENDING => Ok(LogStatus::Pending),
            VERIFIED => Ok(LogStatus::Verified),
            MISSING => Ok(LogStatus::Missing),
            MISMATCH => Ok(LogStatus::Mismatch),
            other => Err(gql(ApiError::Stored {
                column: "voucher_settlements.log_status",
                value: other.to_owned(),
            })),
        }
    }

    /// Each contribution the voucher paid, in ascending id order.
    async fn contributions(&self, ctx: &Context<'_>) -> ApiResult<Vec<VoucherContribution>> {
        load_group::<VoucherContribution>(ctx, self.digest.clone()).await
    }

    /// The period's receipts, in log order, once the log is verified (none before, or when it is
    /// missing or does not match).
    #[graphql(complexity = "crate::api::pagination::cost(first, last, child_complexity)")]
    async fn receipts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, Inference>> {
        let page = page(ctx, (first, after, last, before), order, &[KeyKind::Int])?;
        let mut sql = Sql::new(concat!(
            "SELECT ",
            receipt_columns!(),
            " FROM receipts WHERE settlement = "
        ));
        sql.bind(self.digest.clone());
        page.append(&mut sql, &["channel_position"]);
        let rows: Vec<Inference> = db(ctx, &["receipts"]).all(&sql).await.map_err(gql)?;
        Ok(page.connection(rows, |r| Cursor::ints(&[r.channel_position.stored()])))
    }
}

impl VoucherSettlement {
    /// A page of channel `channel_id`'s settlements by period.
    pub(crate) async fn list(
        ctx: &Context<'_>,
        args: Args,
        order: Order,
        channel_id: i64,
    ) -> ApiResult<Connection<Cursor, Self>> {
        let page = page(ctx, args, order, &[KeyKind::Int])?;
        let mut sql = Sql::new(concat!(
            "SELECT ",
            columns!(),
            " FROM voucher_settlements WHERE channel_id = "
        ));
        sql.bind(channel_id);
        page.append(&mut sql, &["period"]);
        let rows: Vec<Self> = db(ctx, &["voucher_settlements"])
            .all(&sql)
            .await
            .map_err(gql)?;
        Ok(page.connection(rows, |r| Cursor::ints(&[r.period.stored()])))
    }
}
