//! Subscriptions: new settlements and new contributions, pushed over WebSocket as the indexer applies
//! them. Each subscription polls the store past its own cursor every `ApiConfig::poll_interval`; a
//! reorg that rolls the checkpoint back below the cursor moves the cursor back with it, so the replayed
//! rows are delivered too.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use async_graphql::{Context, Subscription};
use futures::Stream;

use crate::api::contribution::Contribution;
use crate::api::db::{Db, Sql};
use crate::api::error::{ApiError, ApiResult, gql};
use crate::api::inference::Inference;
use crate::api::{ApiConfig, db};

/// Rows read per poll.
const BATCH: i64 = 100;

/// The subscription root.
#[derive(Debug, Default)]
pub(crate) struct SubscriptionRoot;

/// How far the indexer has got: the checkpoint block (-1 before the first) and the contributions so far.
struct Checkpoint {
    block_number: i64,
    contribution_count: i64,
}

async fn checkpoint(db: &Db) -> Result<Checkpoint, ApiError> {
    let sql = Sql::new(
        "SELECT (SELECT block_number FROM sync_state WHERE id = 1) AS block_number, \
         (SELECT contribution_count FROM totals WHERE id = 1) AS contribution_count",
    );
    let row: Option<(Option<i64>, Option<i64>)> = db.one(&sql).await?;
    let (block, count) = row.unwrap_or_default();
    Ok(Checkpoint {
        block_number: block.unwrap_or(-1),
        contribution_count: count.unwrap_or(0),
    })
}

/// Polls with `next` at once and then every `interval`, yielding each row it returns; a failed poll
/// yields an error and the stream goes on polling.
fn poll_stream<T, S, F, Fut>(
    interval: Duration,
    state: S,
    next: F,
) -> impl Stream<Item = ApiResult<T>> + Send
where
    T: Send + 'static,
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = (Result<Vec<T>, ApiError>, S)> + Send,
{
    futures::stream::unfold(
        (state, VecDeque::new(), true),
        move |(mut state, mut buffer, mut first)| async move {
            loop {
                if let Some(row) = buffer.pop_front() {
                    return Some((Ok(row), (state, buffer, first)));
                }
                if !first {
                    tokio::time::sleep(interval).await;
                }
                first = false;
                let (rows, next_state) = next(state).await;
                state = next_state;
                match rows {
                    Ok(rows) => buffer.extend(rows),
                    Err(e) => return Some((Err(gql(e)), (state, buffer, first))),
                }
            }
        },
    )
}

/// Where a settlements subscription stands.
struct Settlements {
    db: Db,
    /// Last delivered (block_number, log_index); `None` until the first poll takes the checkpoint.
    position: Option<(i64, i64)>,
    model: Option<i64>,
}

async fn next_settlements(mut s: Settlements) -> (Result<Vec<Inference>, ApiError>, Settlements) {
    let rows = async {
        let checkpoint = checkpoint(&s.db).await?;
        let position = match s.position {
            // Subscribed now: deliver what comes after the current checkpoint.
            None => {
                s.position = Some((checkpoint.block_number, i64::MAX));
                return Ok(Vec::new());
            }
            // A reorg rolled the checkpoint back: the replayed blocks come again.
            Some((block, _)) if checkpoint.block_number < block => {
                (checkpoint.block_number, i64::MAX)
            }
            Some(position) => position,
        };
        let mut sql = Sql::new(concat!(
            "SELECT ",
            crate::api::inference::columns!(),
            " FROM receipts WHERE (block_number, log_index) > ("
        ));
        sql.bind(position.0).push(", ").bind(position.1).push(")");
        if let Some(model) = s.model {
            sql.push(" AND model_id = ").bind(model);
        }
        sql.push(" ORDER BY block_number, log_index LIMIT ")
            .bind(BATCH);
        let rows: Vec<Inference> = s.db.all(&sql).await?;
        s.position = Some(
            rows.last()
                .map_or(position, |last| (last.block_number, last.log_index)),
        );
        Ok(rows)
    }
    .await;
    (rows, s)
}

/// Where a contributions subscription stands.
struct Contributions {
    db: Db,
    /// Last delivered contribution id (ids are dense and global); `None` until the first poll.
    last: Option<i64>,
    datanet: Option<i64>,
}

async fn next_contributions(
    mut s: Contributions,
) -> (Result<Vec<Contribution>, ApiError>, Contributions) {
    let rows = async {
        let checkpoint = checkpoint(&s.db).await?;
        // A reorg may have dropped contributions: never wait past the last one that exists.
        let Some(last) = s.last.map(|last| last.min(checkpoint.contribution_count)) else {
            s.last = Some(checkpoint.contribution_count);
            return Ok(Vec::new());
        };
        let mut sql = Sql::new(concat!(
            "SELECT ",
            crate::api::contribution::columns!(),
            " FROM contributions WHERE contribution_id > "
        ));
        sql.bind(last);
        if let Some(datanet) = s.datanet {
            sql.push(" AND datanet_id = ").bind(datanet);
        }
        sql.push(" ORDER BY contribution_id LIMIT ").bind(BATCH);
        let rows: Vec<Contribution> = s.db.all(&sql).await?;
        s.last = Some(rows.last().map_or(last, |row| row.contribution_id));
        Ok(rows)
    }
    .await;
    (rows, s)
}

#[Subscription]
impl SubscriptionRoot {
    /// Inferences settled from now on, in chain order, optionally of one model.
    async fn settlements(
        &self,
        ctx: &Context<'_>,
        model_id: Option<i64>,
    ) -> impl Stream<Item = ApiResult<Inference>> + use<> {
        // A subscription's events are pushed, never cached: no reads to record.
        let db = db(ctx, &[]).clone();
        let interval = ctx.data_unchecked::<ApiConfig>().poll_interval;
        poll_stream(
            interval,
            Settlements {
                db,
                position: None,
                model: model_id,
            },
            next_settlements,
        )
    }

    /// Contributions submitted from now on, by id, optionally to one datanet.
    async fn contributions(
        &self,
        ctx: &Context<'_>,
        datanet_id: Option<i64>,
    ) -> impl Stream<Item = ApiResult<Contribution>> + use<> {
        let db = db(ctx, &[]).clone();
        let interval = ctx.data_unchecked::<ApiConfig>().poll_interval;
        poll_stream(
            interval,
            Contributions {
                db,
                last: None,
                datanet: datanet_id,
            },
            next_contributions,
        )
    }
}
