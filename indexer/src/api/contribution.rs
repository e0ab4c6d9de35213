//! Contributions: documents staked into a datanet, their review, and what they earned.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, Enum, SimpleObject};

use crate::api::account::Account;
use crate::api::amount::BigInt;
use crate::api::attribution::AttributionEdge;
use crate::api::datanet::Datanet;
use crate::api::db::Sql;
use crate::api::error::{ApiError, ApiResult, gql};
use crate::api::loader::{Entity, load};
use crate::api::model::{Model, ModelFilter};
use crate::api::pagination::{Cursor, KeyKind, Order, cost, page};
use crate::api::quantity::U64;
use crate::api::{Args, db};

/// Review state of a contribution.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContributionStatus {
    /// Waiting for a curator.
    Pending,
    /// Accepted: counts toward releases and can earn.
    Accepted,
    /// Rejected: its stake was slashed.
    Rejected,
    /// Withdrawn by its contributor, unreviewed past the datanet's review window: its stake went back.
    Withdrawn,
}

/// A document contributed to a datanet.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Contribution {
    /// Contribution id (1-based, global).
    #[graphql(name = "id")]
    pub(crate) contribution_id: U64,
    #[graphql(skip)]
    pub(crate) datanet_id: i64,
    #[graphql(skip)]
    pub(crate) contributor: String,
    /// keccak256 of the document's bytes.
    pub(crate) content_hash: String,
    /// Token count under the datanet's reference tokenizer.
    #[sqlx(try_from = "i64")]
    pub(crate) token_count: BigInt,
    /// Stake locked.
    pub(crate) stake: BigInt,
    /// Where the document can be fetched. Text: where the submitted bytes are not UTF-8, or hold a
    /// NUL, U+FFFD stands in and `uriBytes` has them.
    pub(crate) uri: String,
    /// The bytes the chain holds (0x hex), only when `uri` is not exactly them: where they are
    /// not UTF-8, or hold a NUL, U+FFFD stands in for them in `uri`.
    pub(crate) uri_bytes: Option<String>,
    #[graphql(skip)]
    pub(crate) status: String,
    /// 1-based position in the datanet's accepted set; 0 unless accepted.
    pub(crate) accepted_seq: U64,
    #[graphql(skip)]
    pub(crate) reviewer: Option<String>,
    /// Stake slashed on rejection.
    pub(crate) slashed: BigInt,
    #[graphql(skip)]
    pub(crate) stake_returned: i64,
    /// Block of submission.
    pub(crate) submitted_block: U64,
    /// Transaction of submission.
    pub(crate) submitted_tx: String,
    /// Block of the review, if reviewed.
    pub(crate) reviewed_block: Option<U64>,
    #[graphql(skip)]
    pub(crate) attribution_count: U64,
    #[graphql(skip)]
    pub(crate) attributed_earnings: BigInt,
    #[graphql(skip)]
    pub(crate) pool_earnings: BigInt,
    #[graphql(skip)]
    pub(crate) earnings: BigInt,
}

macro_rules! columns {
    () => {
        "contribution_id, datanet_id, contributor, content_hash, token_count, stake, uri, uri_bytes, status, accepted_seq, \
         reviewer, slashed, stake_returned, submitted_block, submitted_tx, reviewed_block, attribution_count, \
         attributed_earnings, pool_earnings, earnings"
    };
}
pub(crate) use columns;

impl Entity for Contribution {
    type Key = i64;
    const TABLE: &'static str = "contributions";
    const KEY: &'static str = "contribution_id";
    const SELECT_IN: &'static str = concat!(
        "SELECT ",
        columns!(),
        " FROM contributions WHERE contribution_id IN "
    );
    fn key(&self) -> i64 {
        self.contribution_id.stored()
    }
}

/// What a contribution earned (running totals kept by the indexer).
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct ContributionEarnings {
    /// attributed + pool.
    total: BigInt,
    /// From receipts whose attribution names it.
    attributed: BigInt,
    /// Release-pool rewards claimed for it.
    pool: BigInt,
    /// Receipts whose attribution names it.
    inferences: U64,
}

#[ComplexObject]
impl Contribution {
    /// Review state.
    async fn status(&self) -> ApiResult<ContributionStatus> {
        match self.status.as_str() {
            "pending" => Ok(ContributionStatus::Pending),
            "accepted" => Ok(ContributionStatus::Accepted),
            "rejected" => Ok(ContributionStatus::Rejected),
            "withdrawn" => Ok(ContributionStatus::Withdrawn),
            other => Err(gql(ApiError::Stored {
                column: "contributions.status",
                value: other.to_owned(),
            })),
        }
    }

    /// Whether its stake went back to its contributor: an accepted contribution's once unlocked, a
    /// withdrawn one's when it was withdrawn.
    async fn stake_returned(&self) -> bool {
        self.stake_returned != 0
    }

    /// The datanet it was contributed to.
    async fn datanet(&self, ctx: &Context<'_>) -> ApiResult<Option<Datanet>> {
        load::<Datanet>(ctx, self.datanet_id).await
    }

    /// The contributor.
    async fn contributor(&self, ctx: &Context<'_>) -> ApiResult<Account> {
        Account::load_or_empty(ctx, &self.contributor).await
    }

    /// The curator who reviewed it, if reviewed.
    async fn reviewer(&self, ctx: &Context<'_>) -> ApiResult<Option<Account>> {
        match &self.reviewer {
            Some(address) => Ok(Some(Account::load_or_empty(ctx, address).await?)),
            None => Ok(None),
        }
    }

    /// What it earned.
    async fn earnings(&self) -> ContributionEarnings {
        ContributionEarnings {
            total: self.earnings.clone(),
            attributed: self.attributed_earnings.clone(),
            pool: self.pool_earnings.clone(),
            inferences: self.attribution_count,
        }
    }

    /// Models trained on a release that includes this contribution (accepted ones only), by id.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn models(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, Model>> {
        let filter = ModelFilter::Contribution {
            datanet_id: self.datanet_id,
            accepted_seq: self.accepted_seq.stored(),
        };
        Model::list(ctx, (first, after, last, before), order, filter).await
    }

    /// The inferences whose attribution names this contribution, in chain order.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn attributions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, AttributionEdge>> {
        AttributionEdge::list(
            ctx,
            (first, after, last, before),
            order,
            "contribution_id",
            self.contribution_id.stored().into(),
        )
        .await
    }
}

impl Contribution {
    /// A page of contributions by id, optionally of one datanet and/or one contributor.
    pub(crate) async fn list(
        ctx: &Context<'_>,
        args: Args,
        order: Order,
        datanet: Option<i64>,
        contributor: Option<String>,
    ) -> ApiResult<Connection<Cursor, Self>> {
        let page = page(ctx, args, order, &[KeyKind::Int])?;
        let mut sql = Sql::new(concat!(
            "SELECT ",
            columns!(),
            " FROM contributions WHERE 1 = 1"
        ));
        if let Some(datanet) = datanet {
            sql.push(" AND datanet_id = ").bind(datanet);
        }
        if let Some(contributor) = contributor {
            sql.push(" AND contributor = ").bind(contributor);
        }
        page.append(&mut sql, &["contribution_id"]);
        let rows: Vec<Self> = db(ctx, &["contributions"]).all(&sql).await.map_err(gql)?;
        Ok(page.connection(rows, |r| Cursor::ints(&[r.contribution_id.stored()])))
    }
}
