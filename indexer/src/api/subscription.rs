//! Subscriptions: new settlements and new contributions, pushed over WebSocket as the indexer applies
//! them. Each subscription polls the store past its own cursor every `ApiConfig::poll_interval`; a
//! reorg undone since the last poll (the `reorgs` table, written in the revert's transaction) moves the
//! cursor back to the block the store reverted to, so the replayed rows are delivered too, however soon
//! the replay followed the revert.

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

/// What a subscription saw of the store when it last looked: the checkpoint block (-1 before the
/// first) and the last reorg undone (0 before any).
#[derive(Debug, Clone, Copy)]
struct Seen {
    block_number: i64,
    reorg: i64,
}

/// The store now, and the lowest block that a reorg undone since `since` went back to, if any: the
/// rows above it may have been replaced since a subscription delivered them.
async fn look(db: &Db, since: i64) -> Result<(Seen, Option<i64>), ApiError> {
    let mut sql = Sql::new(
        "SELECT (SELECT block_number FROM sync_state WHERE id = 1) AS block_number, \
         (SELECT MAX(reorg_id) FROM reorgs) AS reorg, \
         (SELECT MIN(reverted_to) FROM reorgs WHERE reorg_id > ",
    );
    sql.bind(since).push(") AS reverted_to");
    let row: Option<(Option<i64>, Option<i64>, Option<i64>)> = db.one(&sql).await?;
    let (block, reorg, reverted_to) = row.unwrap_or_default();
    let seen = Seen {
        block_number: block.unwrap_or(-1),
        reorg: reorg.unwrap_or(0),
    };
    Ok((seen, reverted_to))
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
    /// Last delivered (block_number, log_index) and the last reorg seen; `None` until the first poll.
    position: Option<((i64, i64), i64)>,
    model: Option<i64>,
}

async fn next_settlements(mut s: Settlements) -> (Result<Vec<Inference>, ApiError>, Settlements) {
    let rows = async {
        let (position, reorg) = match s.position {
            // Subscribed now: deliver what comes after the current checkpoint.
            None => {
                let (now, _) = look(&s.db, i64::MAX).await?;
                s.position = Some(((now.block_number, i64::MAX), now.reorg));
                return Ok(Vec::new());
            }
            Some((position, reorg)) => {
                let (now, reverted_to) = look(&s.db, reorg).await?;
                // A reorg went back below what was delivered: the replayed blocks come again.
                let position = match reverted_to {
                    Some(block) => position.min((block, i64::MAX)),
                    None => position,
                };
                (position, now.reorg)
            }
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
        let last = rows
            .last()
            .map_or(position, |last| (last.block_number, last.log_index));
        s.position = Some((last, reorg));
        Ok(rows)
    }
    .await;
    (rows, s)
}

/// Where a contributions subscription stands.
struct Contributions {
    db: Db,
    /// Last delivered contribution id (ids are dense and global) and the last reorg seen; `None`
    /// until the first poll.
    last: Option<(i64, i64)>,
    datanet: Option<i64>,
}

/// The highest contribution id submitted at or below `block` (`i64::MAX`: any block).
async fn last_contribution(db: &Db, block: i64) -> Result<i64, ApiError> {
    let mut sql = Sql::new(
        "SELECT COALESCE(MAX(contribution_id), 0) FROM contributions WHERE submitted_block <= ",
    );
    sql.bind(block);
    let row: Option<(i64,)> = db.one(&sql).await?;
    Ok(row.map_or(0, |(id,)| id))
}

async fn next_contributions(
    mut s: Contributions,
) -> (Result<Vec<Contribution>, ApiError>, Contributions) {
    let rows = async {
        let (last, reorg) = match s.last {
            // Subscribed now: deliver the contributions after the last one there is.
            None => {
                let (now, _) = look(&s.db, i64::MAX).await?;
                s.last = Some((last_contribution(&s.db, i64::MAX).await?, now.reorg));
                return Ok(Vec::new());
            }
            Some((last, reorg)) => {
                let (now, reverted_to) = look(&s.db, reorg).await?;
                // Ids above the reorg's block were taken again by the replayed contributions.
                let last = match reverted_to {
                    Some(block) => last.min(last_contribution(&s.db, block).await?),
                    None => last,
                };
                (last, now.reorg)
            }
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
        let last = rows.last().map_or(last, |row| row.contribution_id);
        s.last = Some((last, reorg));
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
