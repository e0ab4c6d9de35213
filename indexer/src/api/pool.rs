//! Release-pool accruals: the unattributed data share of a settlement, credited to a model's releases.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, SimpleObject};

use crate::api::amount::BigInt;
use crate::api::db::Sql;
use crate::api::error::{ApiResult, gql};
use crate::api::loader::load;
use crate::api::model::Model;
use crate::api::pagination::{Cursor, KeyKind, Order, page};
use crate::api::quantity::U64;
use crate::api::release::Release;
use crate::api::{Args, db};

/// A `PoolAccrued` event: a release's pool received part of a model's fees.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub(crate) struct PoolAccrual {
    /// Block of the accrual.
    block_number: U64,
    /// Position of the log in its block.
    log_index: U64,
    /// Transaction.
    tx_hash: String,
    #[graphql(skip)]
    release_id: i64,
    #[graphql(skip)]
    model_id: i64,
    /// Amount accrued.
    amount: BigInt,
    /// The release's accumulator after it (reward per token, scaled 1e18).
    reward_per_token: BigInt,
}

#[ComplexObject]
impl PoolAccrual {
    /// The release whose pool grew.
    async fn release(&self, ctx: &Context<'_>) -> ApiResult<Option<Release>> {
        load::<Release>(ctx, self.release_id).await
    }

    /// The model whose fees it came from.
    async fn model(&self, ctx: &Context<'_>) -> ApiResult<Option<Model>> {
        load::<Model>(ctx, self.model_id).await
    }
}

impl PoolAccrual {
    /// A page of accruals in chain order, optionally to one release.
    pub(crate) async fn list(
        ctx: &Context<'_>,
        args: Args,
        order: Order,
        release: Option<i64>,
    ) -> ApiResult<Connection<Cursor, Self>> {
        let page = page(ctx, args, order, &[KeyKind::Int, KeyKind::Int])?;
        let mut sql = Sql::new(
            "SELECT block_number, log_index, tx_hash, release_id, model_id, amount, reward_per_token \
             FROM pool_accruals WHERE 1 = 1",
        );
        if let Some(release) = release {
            sql.push(" AND release_id = ").bind(release);
        }
        page.append(&mut sql, &["block_number", "log_index"]);
        let rows: Vec<Self> = db(ctx, &["pool_accruals"]).all(&sql).await.map_err(gql)?;
        Ok(page.connection(rows, |r| {
            Cursor::ints(&[r.block_number.stored(), r.log_index.stored()])
        }))
    }
}
