//! `_meta` (how far the indexer has got) and `totals` (protocol-wide running totals).

use async_graphql::{Context, SimpleObject};

use crate::api::amount::BigInt;
use crate::api::db::Sql;
use crate::api::error::{ApiResult, gql};
use crate::api::quantity::U64;
use crate::api::{ApiConfig, db};

/// The sync checkpoint: everything up to this block is queryable.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct Meta {
    /// Last block fully applied.
    block_number: U64,
    /// Its hash.
    block_hash: String,
    /// Chain head when the checkpoint was written.
    head_block: U64,
    /// Whether the checkpoint is within `ApiConfig::synced_lag` blocks of that head.
    synced: bool,
    /// Unix time the checkpoint was written.
    updated_at: U64,
}

#[derive(Debug, sqlx::FromRow)]
struct SyncState {
    block_number: U64,
    block_hash: String,
    head_block: U64,
    updated_at: U64,
}

impl Meta {
    /// The checkpoint, or `None` before the first block is applied.
    pub(crate) async fn load(ctx: &Context<'_>) -> ApiResult<Option<Self>> {
        let sql = Sql::new(
            "SELECT block_number, block_hash, head_block, updated_at FROM sync_state WHERE id = 1",
        );
        let Some(state) = db(ctx, &["sync_state"])
            .one::<SyncState>(&sql)
            .await
            .map_err(gql)?
        else {
            return Ok(None);
        };
        let lag = ctx.data_unchecked::<ApiConfig>().synced_lag;
        Ok(Some(Self {
            synced: state
                .head_block
                .stored()
                .saturating_sub(state.block_number.stored())
                <= lag,
            block_number: state.block_number,
            block_hash: state.block_hash,
            head_block: state.head_block,
            updated_at: state.updated_at,
        }))
    }
}

/// Protocol-wide running totals.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
pub(crate) struct Totals {
    /// Events indexed.
    event_count: U64,
    /// Datanets created.
    datanet_count: U64,
    /// Contributions submitted.
    contribution_count: U64,
    /// Contributions accepted.
    accepted_count: U64,
    /// Contributions rejected.
    rejected_count: U64,
    /// Releases published.
    release_count: U64,
    /// Models registered.
    model_count: U64,
    /// Inferences settled.
    inference_count: U64,
    /// Σ prompt tokens.
    #[sqlx(try_from = "i64")]
    input_tokens: BigInt,
    /// Σ generated tokens.
    #[sqlx(try_from = "i64")]
    output_tokens: BigInt,
    /// Σ fees.
    fees: BigInt,
    /// Σ owner shares paid to the models' own owners (an adapter's net of its base's share).
    owner_revenue: BigInt,
    /// Σ derivative shares adapters' fees paid to their base models' owners (with `ownerRevenue`,
    /// `dataRevenue`, `nodeRevenue` and `treasuryRevenue`, they sum to `fees`).
    base_revenue: BigInt,
    /// Σ data shares.
    data_revenue: BigInt,
    /// Σ node shares.
    node_revenue: BigInt,
    /// Σ treasury shares (rounding dust included).
    treasury_revenue: BigInt,
    /// Σ data shares paid to attributed contributions.
    attributed_revenue: BigInt,
    /// Σ accrued to release pools.
    pool_accrued: BigInt,
    /// Σ pool rewards claimed.
    pool_claimed: BigInt,
    /// Σ credited to balances.
    credited: BigInt,
    /// Σ claimed from balances.
    claimed: BigInt,
    /// Σ deposited.
    deposited: BigInt,
    /// Σ withdrawn.
    withdrawn: BigInt,
    /// Σ stakes slashed.
    slashed: BigInt,
    /// Σ swept: tokens the escrow held beyond what it owed, credited to the treasury (in `credited`
    /// too, but no part of any fee).
    swept: BigInt,
}

impl Totals {
    /// The totals row, or `None` before anything was indexed.
    pub(crate) async fn load(ctx: &Context<'_>) -> ApiResult<Option<Self>> {
        let sql = Sql::new(
            "SELECT event_count, datanet_count, contribution_count, accepted_count, rejected_count, release_count, \
             model_count, receipt_count AS inference_count, input_tokens, output_tokens, fees, owner_revenue, \
             base_revenue, data_revenue, node_revenue, treasury_revenue, attributed_revenue, pool_accrued, pool_claimed, credited, \
             claimed, deposited, withdrawn, slashed, swept FROM totals WHERE id = 1",
        );
        db(ctx, &["totals"]).one(&sql).await.map_err(gql)
    }
}
