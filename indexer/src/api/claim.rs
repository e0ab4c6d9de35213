//! Claims: an account's credited balance paid out by the escrow.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, SimpleObject};

use crate::api::account::Account;
use crate::api::amount::BigInt;
use crate::api::db::Sql;
use crate::api::error::{ApiResult, gql};
use crate::api::pagination::{Cursor, KeyKind, Order, page};
use crate::api::quantity::U64;
use crate::api::{Args, db};

/// A `Claimed` event.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Claim {
    /// Block of the claim.
    block_number: U64,
    /// Position of the log in its block.
    log_index: U64,
    /// Transaction.
    tx_hash: String,
    #[graphql(skip)]
    account: String,
    /// Where the tokens were sent.
    recipient: String,
    /// Amount paid out.
    amount: BigInt,
}

#[ComplexObject]
impl Claim {
    /// The account whose balance was paid out.
    async fn account(&self, ctx: &Context<'_>) -> ApiResult<Account> {
        Account::load_or_empty(ctx, &self.account).await
    }
}

impl Claim {
    /// A page of claims in chain order, optionally of one account.
    pub(crate) async fn list(
        ctx: &Context<'_>,
        args: Args,
        order: Order,
        account: Option<String>,
    ) -> ApiResult<Connection<Cursor, Self>> {
        let page = page(ctx, args, order, &[KeyKind::Int, KeyKind::Int])?;
        let mut sql = Sql::new(
            "SELECT block_number, log_index, tx_hash, account, recipient, amount FROM claims WHERE 1 = 1",
        );
        if let Some(account) = account {
            sql.push(" AND account = ").bind(account);
        }
        page.append(&mut sql, &["block_number", "log_index"]);
        let rows: Vec<Self> = db(ctx, &["claims"]).all(&sql).await.map_err(gql)?;
        Ok(page.connection(rows, |r| {
            Cursor::ints(&[r.block_number.stored(), r.log_index.stored()])
        }))
    }
}
