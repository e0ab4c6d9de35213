//! Accounts: contributors, curators, payers, nodes and owners, with their reputation, earnings and
//! balances (running totals kept by the indexer) and the lists that hang off them.

use async_graphql::connection::Connection;
use async_graphql::{Context, Object, SimpleObject};

use crate::api::amount::BigInt;
use crate::api::attribution::AttributionEdge;
use crate::api::claim::Claim;
use crate::api::contribution::Contribution;
use crate::api::datanet::Datanet;
use crate::api::db::Sql;
use crate::api::error::{ApiError, ApiResult, gql};
use crate::api::inference::{Inference, InferenceFilter};
use crate::api::loader::{Entity, load};
use crate::api::model::{Model, ModelFilter};
use crate::api::pagination::{Cursor, Order, cost};
use crate::api::quantity::U64;
use crate::api::{ApiConfig, db};

/// An `accounts` row.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub(crate) struct AccountRow {
    address: String,
    first_block: U64,
    is_contributor: i64,
    is_curator: i64,
    is_payer: i64,
    is_node: i64,
    is_model_owner: i64,
    is_datanet_owner: i64,
    contribution_count: U64,
    accepted_count: U64,
    rejected_count: U64,
    #[sqlx(try_from = "i64")]
    accepted_tokens: BigInt,
    slashed: BigInt,
    stake_returned: BigInt,
    attributed_earnings: BigInt,
    pool_earnings: BigInt,
    earnings: BigInt,
    owner_earnings: BigInt,
    node_earnings: BigInt,
    derivative_earnings: BigInt,
    credited: BigInt,
    claimed: BigInt,
    deposited: BigInt,
    withdrawn: BigInt,
    spent: BigInt,
    deposit_balance: BigInt,
    receipts_paid: U64,
    receipts_served: U64,
}

impl Entity for AccountRow {
    type Key = String;
    const TABLE: &'static str = "accounts";
    const KEY: &'static str = "address";
    const SELECT_IN: &'static str = "SELECT address, first_block, is_contributor, is_curator, is_payer, is_node, \
         is_model_owner, is_datanet_owner, contribution_count, accepted_count, rejected_count, accepted_tokens, \
         slashed, stake_returned, attributed_earnings, pool_earnings, earnings, owner_earnings, node_earnings, \
         derivative_earnings, credited, claimed, deposited, withdrawn, spent, deposit_balance, receipts_paid, receipts_served \
         FROM accounts WHERE address IN ";
    fn key(&self) -> String {
        self.address.clone()
    }
}

/// An address that took part in the protocol.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    row: AccountRow,
}

/// The roles an account has played.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct Roles {
    /// Contributed to a datanet.
    contributor: bool,
    /// Curates (or curated) a datanet.
    curator: bool,
    /// Paid for inferences.
    payer: bool,
    /// Ran inferences as a node.
    node: bool,
    /// Owns (or owned) a model.
    model_owner: bool,
    /// Owns a datanet.
    datanet_owner: bool,
}

/// A contributor's track record.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct Reputation {
    /// Contributions submitted.
    contributions: U64,
    /// Contributions accepted.
    accepted: U64,
    /// Contributions rejected.
    rejected: U64,
    /// Σ tokens of accepted contributions.
    accepted_tokens: BigInt,
    /// Σ stakes slashed.
    slashed: BigInt,
    /// Σ stakes returned.
    stake_returned: BigInt,
}

/// What an account earned.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct Earnings {
    /// As a contributor: attributed + pool.
    total: BigInt,
    /// As a contributor, from receipts naming its contributions.
    attributed: BigInt,
    /// As a contributor, release-pool rewards claimed for its contributions.
    pool: BigInt,
    /// As a model owner: the owner share of its models' fees, net of what its adapters paid their bases'
    /// owners, plus the derivative share adapters on its models paid it (`asBaseModelOwner`).
    as_model_owner: BigInt,
    /// The part of `asModelOwner` paid by adapters registered on its models (their derivative share).
    as_base_model_owner: BigInt,
    /// As a node: the node share of fees.
    as_node: BigInt,
}

/// An account's balances with the escrow.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct Balances {
    /// Σ credited to its claimable balance.
    credited: BigInt,
    /// Σ claimed (paid out).
    claimed: BigInt,
    /// Σ deposited as a payer.
    deposited: BigInt,
    /// Σ withdrawn from the deposit.
    withdrawn: BigInt,
    /// Σ fees paid.
    spent: BigInt,
    /// deposited − spent − withdrawn.
    deposit: BigInt,
}

/// An account's inference counts.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct AccountUsage {
    /// Inferences paid as a payer.
    inferences_paid: U64,
    /// Σ fees paid.
    fees_paid: BigInt,
    /// Inferences served as a node.
    inferences_served: U64,
}

impl Account {
    /// The account at `address` if the indexer has seen it.
    pub(crate) async fn load(ctx: &Context<'_>, address: &str) -> ApiResult<Option<Self>> {
        Ok(load::<AccountRow>(ctx, address.to_owned())
            .await?
            .map(|row| Self { row }))
    }

    /// The `first` contributors with the largest earnings (amounts are decimal text: longer is
    /// larger), ties by address.
    pub(crate) async fn top_contributors(ctx: &Context<'_>, first: i32) -> ApiResult<Vec<Self>> {
        let max = ctx.data_unchecked::<ApiConfig>().max_page_size;
        let rows = usize::try_from(first)
            .ok()
            .filter(|rows| *rows <= max)
            .ok_or(ApiError::PageSize {
                argument: "first",
                given: first,
                max,
            })
            .map_err(gql)?;
        let columns = AccountRow::SELECT_IN
            .strip_suffix("WHERE address IN ")
            .expect("SELECT_IN ends with its key's IN");
        let mut sql = Sql::new(columns);
        sql.push("WHERE is_contributor = 1 ORDER BY LENGTH(earnings) DESC, earnings DESC, address LIMIT ")
            .bind(rows as i64);
        let found = db(ctx, &["accounts"])
            .all::<AccountRow>(&sql)
            .await
            .map_err(gql)?;
        Ok(found.into_iter().map(|row| Self { row }).collect())
    }

    /// The account at `address`, all counters zero if the indexer has not seen it.
    pub(crate) async fn load_or_empty(ctx: &Context<'_>, address: &str) -> ApiResult<Self> {
        Ok(Self::load(ctx, address).await?.unwrap_or_else(|| Self {
            row: AccountRow {
                address: address.to_owned(),
                accepted_tokens: BigInt::zero(),
                slashed: BigInt::zero(),
                stake_returned: BigInt::zero(),
                attributed_earnings: BigInt::zero(),
                pool_earnings: BigInt::zero(),
                earnings: BigInt::zero(),
                owner_earnings: BigInt::zero(),
                node_earnings: BigInt::zero(),
                derivative_earnings: BigInt::zero(),
                credited: BigInt::zero(),
                claimed: BigInt::zero(),
                deposited: BigInt::zero(),
                withdrawn: BigInt::zero(),
                spent: BigInt::zero(),
                deposit_balance: BigInt::zero(),
                ..AccountRow::default()
            },
        }))
    }
}

/// An address that took part in the protocol: contributor, curator, payer, node or owner.
#[Object]
impl Account {
    /// The address (0x + 40 lowercase hex).
    async fn address(&self) -> &str {
        &self.row.address
    }

    /// First block the account appeared in (0 if never seen).
    async fn first_block(&self) -> U64 {
        self.row.first_block
    }

    /// The roles it has played.
    async fn roles(&self) -> Roles {
        let r = &self.row;
        Roles {
            contributor: r.is_contributor != 0,
            curator: r.is_curator != 0,
            payer: r.is_payer != 0,
            node: r.is_node != 0,
            model_owner: r.is_model_owner != 0,
            datanet_owner: r.is_datanet_owner != 0,
        }
    }

    /// Its record as a contributor.
    async fn reputation(&self) -> Reputation {
        let r = &self.row;
        Reputation {
            contributions: r.contribution_count,
            accepted: r.accepted_count,
            rejected: r.rejected_count,
            accepted_tokens: r.accepted_tokens.clone(),
            slashed: r.slashed.clone(),
            stake_returned: r.stake_returned.clone(),
        }
    }

    /// What it earned.
    async fn earnings(&self) -> Earnings {
        let r = &self.row;
        Earnings {
            total: r.earnings.clone(),
            attributed: r.attributed_earnings.clone(),
            pool: r.pool_earnings.clone(),
            as_model_owner: r.owner_earnings.clone(),
            as_base_model_owner: r.derivative_earnings.clone(),
            as_node: r.node_earnings.clone(),
        }
    }

    /// Its balances with the escrow.
    async fn balances(&self) -> Balances {
        let r = &self.row;
        Balances {
            credited: r.credited.clone(),
            claimed: r.claimed.clone(),
            deposited: r.deposited.clone(),
            withdrawn: r.withdrawn.clone(),
            spent: r.spent.clone(),
            deposit: r.deposit_balance.clone(),
        }
    }

    /// Its inference counts.
    async fn usage(&self) -> AccountUsage {
        let r = &self.row;
        AccountUsage {
            inferences_paid: r.receipts_paid,
            fees_paid: r.spent.clone(),
            inferences_served: r.receipts_served,
        }
    }

    /// Its contributions by id.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn contributions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, Contribution>> {
        Contribution::list(
            ctx,
            (first, after, last, before),
            order,
            None,
            Some(self.row.address.clone()),
        )
        .await
    }

    /// Attributions to its contributions (what its data earned, receipt by receipt), in chain order.
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
            "contributor",
            self.row.address.clone().into(),
        )
        .await
    }

    /// Models it owns, by id.
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
        Model::list(
            ctx,
            (first, after, last, before),
            order,
            ModelFilter::Owner(self.row.address.clone()),
        )
        .await
    }

    /// Datanets it owns, by id.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn datanets(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, Datanet>> {
        Datanet::list(
            ctx,
            (first, after, last, before),
            order,
            Some(self.row.address.clone()),
        )
        .await
    }

    /// Inferences it paid for, in chain order.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn inferences_paid(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, Inference>> {
        let filter = InferenceFilter::Payer(self.row.address.clone());
        Inference::list(ctx, (first, after, last, before), order, filter).await
    }

    /// Inferences it ran as a node, in chain order.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn inferences_served(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, Inference>> {
        let filter = InferenceFilter::Node(self.row.address.clone());
        Inference::list(ctx, (first, after, last, before), order, filter).await
    }

    /// Its claims (balance paid out), in chain order.
    #[graphql(complexity = "cost(first, last, child_complexity)")]
    async fn claims(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order: Order,
    ) -> ApiResult<Connection<Cursor, Claim>> {
        Claim::list(
            ctx,
            (first, after, last, before),
            order,
            Some(self.row.address.clone()),
        )
        .await
    }
}
