//! Inferences: settled usage receipts, the fee's split, and the attribution each one carried.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, SimpleObject};

use crate::api::account::Account;
use crate::api::amount::BigInt;
use crate::api::attribution::AttributionEdge;
use crate::api::channel::Channel;
use crate::api::db::Sql;
use crate::api::error::{ApiResult, gql};
use crate::api::loader::{Entity, load, load_group};
use crate::api::model::Model;
use crate::api::pagination::{Cursor, KeyKind, Order, page};
use crate::api::quantity::U64;
use crate::api::voucher::VoucherSettlement;
use crate::api::{Args, db};

/// One use of a model, paid by a signed usage receipt and settled on chain.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Inference {
    /// The receipt's EIP-712 digest.
    pub(crate) digest: String,
    #[graphql(skip)]
    pub(crate) payer: String,
    #[graphql(skip)]
    pub(crate) model_id: i64,
    #[graphql(skip)]
    pub(crate) node: String,
    /// The payer's unordered nonce.
    pub(crate) nonce: BigInt,
    /// Fee charged.
    pub(crate) fee: BigInt,
    /// Prompt tokens.
    #[sqlx(try_from = "i64")]
    pub(crate) input_tokens: BigInt,
    /// Generated tokens.
    #[sqlx(try_from = "i64")]
    pub(crate) output_tokens: BigInt,
    /// keccak256 of the prompt, as signed.
    pub(crate) prompt_hash: String,
    /// keccak256 of the output.
    pub(crate) output_hash: String,
    /// Where the output is published (empty if not), as the payer signed it. Text: where the signed
    /// bytes are not UTF-8, or hold a NUL, U+FFFD stands in and `outputUriBytes` has them.
    pub(crate) output_uri: String,
    /// The signed bytes of the output URI (0x hex), only when `outputUri` is not exactly them.
    pub(crate) output_uri_bytes: Option<String>,
    /// The receipt's deadline (unix seconds); it also decided which of the model's prices the fee was
    /// quoted at (the new one from a scheduled change's `nextPriceAt` on).
    pub(crate) deadline: U64,
    /// Version of the attribution method the receipt declares.
    pub(crate) attribution_version: i64,
    /// keccak256 of the attribution (`abi.encode(contributionIds, weightsPpm)`), as signed.
    pub(crate) attribution_hash: String,
    #[graphql(skip)]
    pub(crate) owner_amount: BigInt,
    #[graphql(skip)]
    pub(crate) data_amount: BigInt,
    #[graphql(skip)]
    pub(crate) node_amount: BigInt,
    #[graphql(skip)]
    pub(crate) treasury_amount: BigInt,
    #[graphql(skip)]
    pub(crate) attributed_amount: BigInt,
    #[graphql(skip)]
    pub(crate) unattributed_amount: BigInt,
    #[graphql(skip)]
    pub(crate) base_amount: BigInt,
    #[graphql(skip)]
    pub(crate) base_owner: Option<String>,
    /// Block of settlement.
    pub(crate) block_number: U64,
    /// Timestamp of that block, when known.
    pub(crate) block_timestamp: Option<U64>,
    /// Settlement transaction.
    pub(crate) tx_hash: String,
    /// Position of the `ReceiptSettled` log in its block (for a receipt settled in a channel's voucher,
    /// of its `VoucherSettled`).
    pub(crate) log_index: U64,
    #[graphql(skip)]
    pub(crate) settlement: Option<String>,
    #[graphql(skip)]
    pub(crate) channel_id: Option<i64>,
    /// For a receipt settled in a channel's voucher: the channel's period (null for one settled alone).
    pub(crate) channel_period: Option<U64>,
    /// For a receipt settled in a channel's voucher: its index in the period's log (0 otherwise).
    pub(crate) channel_position: U64,
}

macro_rules! columns {
    () => {
        "digest, payer, model_id, node, nonce, fee, input_tokens, output_tokens, prompt_hash, output_hash, \
         output_uri, output_uri_bytes, deadline, attribution_version, attribution_hash, owner_amount, \
         data_amount, node_amount, treasury_amount, attributed_amount, unattributed_amount, base_amount, base_owner, block_number, \
         block_timestamp, tx_hash, log_index, settlement, channel_id, channel_period, channel_position"
    };
}
pub(crate) use columns;

impl Entity for Inference {
    type Key = String;
    const TABLE: &'static str = "receipts";
    const KEY: &'static str = "digest";
    const SELECT_IN: &'static str =
        concat!("SELECT ", columns!(), " FROM receipts WHERE digest IN ");
    fn key(&self) -> String {
        self.digest.clone()
    }
}

/// Where an inference's fee went, as the escrow split it: `owner`, `base`, `data`, `node` and
/// `treasury` sum to the fee.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct FeeSplit {
    /// To the model's owner (for an adapter, its owner share less `base`).
    owner: BigInt,
    /// For an adapter, its base model's derivative share, paid to the base's owner at settlement
    /// (`baseOwner`); 0 for a whole model.
    base: BigInt,
    /// Who received `base` (the base model's owner then); null for a whole model.
    base_owner: Option<String>,
    /// To the data (attributed + unattributed).
    data: BigInt,
    /// To the node.
    node: BigInt,
    /// To the treasury.
    treasury: BigInt,
    /// Data share paid to the attributed contributions.
    attributed: BigInt,
    /// Data share accrued to the model's release pools.
    unattributed: BigInt,
}

/// Which inferences a list holds.
#[derive(Debug, Clone)]
pub(crate) enum InferenceFilter {
    /// All of them.
    All,
    /// One model's.
    Model(i64),
    /// Paid by one account.
    Payer(String),
    /// Served by one node.
    Node(String),
}

#[ComplexObject]
impl Inference {
    /// The account charged.
    async fn payer(&self, ctx: &Context<'_>) -> ApiResult<Account> {
        Account::load_or_empty(ctx, &self.payer).await
    }

    /// The node that ran the model.
    async fn node(&self, ctx: &Context<'_>) -> ApiResult<Account> {
        Account::load_or_empty(ctx, &self.node).await
    }

    /// The model used.
    async fn model(&self, ctx: &Context<'_>) -> ApiResult<Option<Model>> {
        load::<Model>(ctx, self.model_id).await
    }

    /// The fee's split.
    async fn split(&self) -> FeeSplit {
        FeeSplit {
            owner: self.owner_amount.clone(),
            base: self.base_amount.clone(),
            base_owner: self.base_owner.clone(),
            data: self.data_amount.clone(),
            node: self.node_amount.clone(),
            treasury: self.treasury_amount.clone(),
            attributed: self.attributed_amount.clone(),
            unattributed: self.unattributed_amount.clone(),
        }
    }

    /// The channel that paid it, for a receipt settled in a voucher (its log verified); null for one
    /// settled alone.
    async fn channel(&self, ctx: &Context<'_>) -> ApiResult<Option<Channel>> {
        match self.channel_id {
            Some(id) => load::<Channel>(ctx, id).await,
            None => Ok(None),
        }
    }

    /// The voucher settlement whose log holds it; null for a receipt settled alone.
    async fn voucher_settlement(&self, ctx: &Context<'_>) -> ApiResult<Option<VoucherSettlement>> {
        match &self.settlement {
            Some(digest) => load::<VoucherSettlement>(ctx, digest.clone()).await,
            None => Ok(None),
        }
    }

    /// The contributions its attribution named, with weights and amounts (at most 16, in receipt order).
    async fn attributions(&self, ctx: &Context<'_>) -> ApiResult<Vec<AttributionEdge>> {
        load_group::<AttributionEdge>(ctx, self.digest.clone()).await
    }
}

impl Inference {
    /// A page of inferences in chain order, filtered on an indexed column.
    pub(crate) async fn list(
        ctx: &Context<'_>,
        args: Args,
        order: Order,
        filter: InferenceFilter,
    ) -> ApiResult<Connection<Cursor, Self>> {
        let page = page(
            ctx,
            args,
            order,
            &[KeyKind::Int, KeyKind::Int, KeyKind::Int],
        )?;
        let mut sql = Sql::new(concat!("SELECT ", columns!(), " FROM receipts WHERE 1 = 1"));
        match filter {
            InferenceFilter::All => {}
            InferenceFilter::Model(id) => {
                sql.push(" AND model_id = ").bind(id);
            }
            InferenceFilter::Payer(address) => {
                sql.push(" AND payer = ").bind(address);
            }
            InferenceFilter::Node(address) => {
                sql.push(" AND node = ").bind(address);
            }
        }
        page.append(&mut sql, &["block_number", "log_index", "channel_position"]);
        let rows: Vec<Self> = db(ctx, &["receipts"]).all(&sql).await.map_err(gql)?;
        Ok(page.connection(rows, |r| {
            Cursor::ints(&[
                r.block_number.stored(),
                r.log_index.stored(),
                r.channel_position.stored(),
            ])
        }))
    }
}
