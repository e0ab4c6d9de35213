//! Skipped receipts: receipts of a `settle` batch that the escrow did not settle. Anyone can have it
//! skip some (by sending it garbage), and nothing moves for them: no figure counts them. Listed for
//! operators, to see which receipt of which batch failed and why.

use alloy::primitives::Bytes;
use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, SimpleObject};

use crate::api::db::Sql;
use crate::api::error::{ApiResult, gql};
use crate::api::pagination::{Cursor, KeyKind, Order, page};
use crate::api::quantity::U64;
use crate::api::{Args, db};

/// A `ReceiptSkipped` event: a receipt of a settlement batch that did not settle (nothing was charged
/// or credited for it).
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub(crate) struct SkippedReceipt {
    /// Block of the settlement.
    block_number: U64,
    /// Position of the log in its block.
    log_index: U64,
    /// Settlement transaction.
    tx_hash: String,
    /// Position of the receipt in the transaction's batch (0-based).
    #[graphql(name = "index")]
    batch_index: U64,
    /// The EIP-712 digest the escrow computed from the receipt it was sent.
    digest: String,
    /// Why it was skipped: the escrow's custom error, ABI-encoded (0x hex).
    reason: String,
}

#[ComplexObject]
impl SkippedReceipt {
    /// `reason` in words, when it is one of the contracts' errors.
    async fn description(&self) -> Option<String> {
        let reason: Bytes = self.reason.parse().ok()?;
        soil_bindings::revert::describe(&reason)
    }
}

impl SkippedReceipt {
    /// A page of skipped receipts in chain order, optionally those of one digest.
    pub(crate) async fn list(
        ctx: &Context<'_>,
        args: Args,
        order: Order,
        digest: Option<String>,
    ) -> ApiResult<Connection<Cursor, Self>> {
        let page = page(ctx, args, order, &[KeyKind::Int, KeyKind::Int])?;
        let mut sql = Sql::new(
            "SELECT block_number, log_index, tx_hash, batch_index, digest, reason FROM skipped_receipts \
             WHERE 1 = 1",
        );
        if let Some(digest) = digest {
            sql.push(" AND digest = ").bind(digest);
        }
        page.append(&mut sql, &["block_number", "log_index"]);
        let rows: Vec<Self> = db(ctx, &["skipped_receipts"])
            .all(&sql)
            .await
            .map_err(gql)?;
        Ok(page.connection(rows, |r| {
            Cursor::ints(&[r.block_number.stored(), r.log_index.stored()])
        }))
    }
}
