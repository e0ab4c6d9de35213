//! Attribution edges: inference → contribution, with the weight the receipt gave it and the amount
//! it was paid.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, SimpleObject};

use crate::api::account::Account;
use crate::api::amount::BigInt;
use crate::api::contribution::Contribution;
use crate::api::datanet::Datanet;
use crate::api::db::{Sql, Val};
use crate::api::error::{ApiResult, gql};
use crate::api::inference::Inference;
use crate::api::loader::{Group, load};
use crate::api::model::Model;
use crate::api::pagination::{Cursor, Key, KeyKind, Order, page};
use crate::api::quantity::U64;
use crate::api::{Args, db};

/// Parts per million in a whole.
const PPM: f64 = 1_000_000.0;

/// An inference's attribution to one contribution.
#[derive(Debug, Clone, sqlx::FromRow, SimpleObject)]
#[graphql(complex)]
pub(crate) struct AttributionEdge {
    #[graphql(skip)]
    pub(crate) digest: String,
    /// Index in the receipt's attribution.
    pub(crate) position: i64,
    #[graphql(skip)]
    pub(crate) contribution_id: i64,
    #[graphql(skip)]
    pub(crate) contributor: String,
    #[graphql(skip)]
    pub(crate) datanet_id: i64,
    #[graphql(skip)]
    pub(crate) model_id: i64,
    /// Weight in parts per million (Σ over a receipt ≤ 1 000 000).
    pub(crate) weight_ppm: i64,
    /// Paid to the contribution: data share × weight / 1e6, rounded down.
    pub(crate) amount: BigInt,
    /// Block of settlement.
    pub(crate) block_number: U64,
}

macro_rules! columns {
    () => {
        "digest, position, contribution_id, contributor, datanet_id, model_id, weight_ppm, amount, block_number"
    };
}

impl Group for AttributionEdge {
    type Key = String;
    const TABLES: &'static [&'static str] = &["attribution_edges"];
    const SELECT_IN: &'static str = concat!(
        "SELECT ",
        columns!(),
        " FROM attribution_edges WHERE digest IN "
    );
    const ORDER: &'static str = " ORDER BY digest, position";
    fn group(&self) -> String {
        self.digest.clone()
    }
}

#[ComplexObject]
impl AttributionEdge {
    /// The weight as a fraction of the whole (weightPpm / 1e6).
    async fn weight(&self) -> f64 {
        self.weight_ppm as f64 / PPM
    }

    /// The inference.
    async fn inference(&self, ctx: &Context<'_>) -> ApiResult<Option<Inference>> {
        load::<Inference>(ctx, self.digest.clone()).await
    }

    /// The contribution credited.
    async fn contribution(&self, ctx: &Context<'_>) -> ApiResult<Option<Contribution>> {
        load::<Contribution>(ctx, self.contribution_id).await
    }

    /// The contribution's contributor.
    async fn contributor(&self, ctx: &Context<'_>) -> ApiResult<Account> {
        Account::load_or_empty(ctx, &self.contributor).await
    }

    /// The contribution's datanet.
    async fn datanet(&self, ctx: &Context<'_>) -> ApiResult<Option<Datanet>> {
        load::<Datanet>(ctx, self.datanet_id).await
    }

    /// The model the inference used.
    async fn model(&self, ctx: &Context<'_>) -> ApiResult<Option<Model>> {
        load::<Model>(ctx, self.model_id).await
    }
}

impl AttributionEdge {
    /// A page of the edges whose `column` (an indexed column: `contribution_id`, `contributor` or
    /// `model_id`) equals `value`, in chain order.
    pub(crate) async fn list(
        ctx: &Context<'_>,
        args: Args,
        order: Order,
        column: &'static str,
        value: Val,
    ) -> ApiResult<Connection<Cursor, Self>> {
        let page = page(
            ctx,
            args,
            order,
            &[KeyKind::Int, KeyKind::Text, KeyKind::Int],
        )?;
        let mut sql = Sql::new(concat!(
            "SELECT ",
            columns!(),
            " FROM attribution_edges WHERE "
        ));
        sql.push(column).push(" = ").bind(value);
        page.append(&mut sql, &["block_number", "digest", "position"]);
        let rows: Vec<Self> = db(ctx, &["attribution_edges"])
            .all(&sql)
            .await
            .map_err(gql)?;
        Ok(page.connection(rows, |r| {
            Cursor(vec![
                Key::Int(r.block_number.stored()),
                Key::Text(r.digest.clone()),
                Key::Int(r.position),
            ])
        }))
    }
}
