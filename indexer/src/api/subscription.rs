//! Subscriptions: new settlements and new contributions, pushed over WebSocket as the indexer applies
//! them, each as an [`Event`] naming the block that holds it, and removed again when a reorg reverts
//! that block.
//!
//! Each subscription polls the store past its own cursor every `ApiConfig::poll_interval`. A reorg
//! undone since the last poll (the `reorgs` table, written in the revert's transaction) reverted every
//! row above the block the store went back to: the subscription sends the items it delivered above
//! that block again, flagged `removed`, and moves its cursor back to it, so the new branch's rows are
//! delivered too, however soon the replay followed the revert. It keeps the items it delivered above
//! the finalized block (no reorg may go below it) to name them. A read of new rows checks in the same
//! statement that no reorg was undone since the poll looked, so it never delivers a row it has not yet
//! rewound for. With `confirmations: N` a subscription delivers only rows at least `N` blocks below the
//! indexed head; from the indexer's finality depth on, none is ever removed.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use async_graphql::{Context, OutputType, SimpleObject, Subscription};
use futures::Stream;
use sqlx::FromRow;

use crate::api::contribution::Contribution;
use crate::api::db::{Db, Sql};
use crate::api::error::{ApiError, ApiResult, gql};
use crate::api::inference::Inference;
use crate::api::quantity::U64;
use crate::api::{ApiConfig, db};

/// Rows read per poll.
const BATCH: i64 = 100;

/// The subscription root.
#[derive(Debug, Default)]
pub(crate) struct SubscriptionRoot;

/// An item a subscription delivers and the block that holds it: added (`removed: false`) once that
/// block is indexed (and as deep as the subscription's `confirmations` ask), removed (`removed: true`)
/// when a reorg reverts that block. A subscriber that adds the first and takes away the second holds
/// what the chain holds; an item a reorg removed may be added again, from a block of the new branch.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(concrete(name = "SettlementEvent", params(Inference)))]
#[graphql(concrete(name = "ContributionEvent", params(Contribution)))]
pub(crate) struct Event<T: OutputType> {
    /// Whether a reorg reverted the block: the item, as delivered before, is no longer on chain.
    removed: bool,
    /// The block that holds (for a removed item: held) the item.
    block_number: U64,
    /// That block's hash: a removed item names the orphaned block it was delivered from.
    block_hash: String,
    /// The item. A removed item's own fields are as they were delivered; the objects it links to are
    /// read from the store as it is now (identify a removed item by its key: `digest`, `id`).
    node: T,
}

/// A row read with the hash of its block (the column `block_hash`, [`block_hash`]).
struct Hashed<T> {
    row: T,
    block_hash: String,
}

impl<'r, R, T> FromRow<'r, R> for Hashed<T>
where
    R: sqlx::Row,
    T: FromRow<'r, R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    &'static str: sqlx::ColumnIndex<R>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        Ok(Self {
            row: T::from_row(row)?,
            block_hash: row.try_get("block_hash")?,
        })
    }
}

/// A select-list column `block_hash`: the hash of the block numbered `block` (a column of the row),
/// from the raw events that block's rows were projected from.
fn block_hash(block: &str) -> String {
    format!(
        "(SELECT block_hash FROM raw_events WHERE raw_events.block_number = {block} LIMIT 1) \
         AS block_hash"
    )
}

/// Appends the conditions every read of new rows carries: their block, the column `block`, is at
/// least `confirmations` below the checkpoint, and no reorg was undone after `reorg` (if one was, the
/// read finds nothing and the next poll rewinds for it first). Read in the same statement as the rows,
/// so from the same state of the store. Confirmations past `i64::MAX` count as `i64::MAX`: no block is
/// that deep either way.
fn settled(sql: &mut Sql, block: &str, confirmations: U64, reorg: i64) {
    sql.push(" AND ")
        .push(block)
        .push(" <= (SELECT block_number FROM sync_state WHERE id = 1) - ")
        .bind(i64::try_from(confirmations.get()).unwrap_or(i64::MAX))
        .push(" AND (SELECT COALESCE(MAX(reorg_id), 0) FROM reorgs) = ")
        .bind(reorg);
}

/// What a subscription saw of the store when it last looked: the checkpoint block (-1 before the
/// first), the finalized block and the last reorg undone (0 before any).
#[derive(Debug, Clone, Copy)]
struct Seen {
    block_number: i64,
    finalized: i64,
    reorg: i64,
}

/// The store now, and the lowest block that a reorg undone since `since` went back to, if any: every
/// row above it was reverted since a subscription delivered it.
async fn look(db: &Db, since: i64) -> Result<(Seen, Option<i64>), ApiError> {
    let mut sql = Sql::new(
        "SELECT (SELECT block_number FROM sync_state WHERE id = 1) AS block_number, \
         (SELECT finalized_block FROM sync_state WHERE id = 1) AS finalized, \
         (SELECT MAX(reorg_id) FROM reorgs) AS reorg, \
         (SELECT MIN(reverted_to) FROM reorgs WHERE reorg_id > ",
    );
    sql.bind(since).push(") AS reverted_to");
    type Looked = (Option<i64>, Option<i64>, Option<i64>, Option<i64>);
    let row: Option<Looked> = db.one(&sql).await?;
    let (block, finalized, reorg, reverted_to) = row.unwrap_or_default();
    let seen = Seen {
        block_number: block.unwrap_or(-1),
        finalized: finalized.unwrap_or(-1),
        reorg: reorg.unwrap_or(0),
    };
    Ok((seen, reverted_to))
}

/// Polls with `next` at once and then every `interval`, yielding each item it returns; a failed poll
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

/// Where a subscription stands: the position of the last item it delivered (where the head was when
/// it began, before any), the last reorg it has seen, and the items it delivered that a reorg may
/// still revert (above the finalized block), in the order delivered.
struct Cursor<P, T: OutputType> {
    position: P,
    reorg: i64,
    unfinal: VecDeque<Event<T>>,
}

impl<P: Copy, T: OutputType + Clone> Cursor<P, T> {
    fn new(position: P, now: Seen) -> Self {
        Self {
            position,
            reorg: now.reorg,
            unfinal: VecDeque::new(),
        }
    }

    /// Moves on past a poll that looked at `now`, found reorgs reverted every row above `reverted_to`,
    /// and read `rows` past `position` (the cursor moved back before them). Returns what to deliver:
    /// the reverted items, newest first, removed; then `rows`, added. `at` is an item's position and
    /// block.
    fn advance(
        &mut self,
        now: Seen,
        reverted_to: Option<i64>,
        position: P,
        rows: Vec<Hashed<T>>,
        at: impl Fn(&T) -> (P, U64),
    ) -> Vec<Event<T>> {
        let mut events = Vec::new();
        if let Some(block) = reverted_to {
            while self
                .unfinal
                .back()
                .is_some_and(|e| e.block_number.stored() > block)
            {
                if let Some(event) = self.unfinal.pop_back() {
                    events.push(Event {
                        removed: true,
                        ..event
                    });
                }
            }
        }
        self.position = rows.last().map_or(position, |last| at(&last.row).0);
        self.reorg = now.reorg;
        for Hashed { row, block_hash } in rows {
            events.push(Event {
                removed: false,
                block_number: at(&row).1,
                block_hash,
                node: row,
            });
        }
        self.unfinal
            .extend(events.iter().filter(|e| !e.removed).cloned());
        while self
            .unfinal
            .front()
            .is_some_and(|e| e.block_number.stored() <= now.finalized)
        {
            self.unfinal.pop_front();
        }
        events
    }
}

/// Where a settlements subscription stands.
struct Settlements {
    db: Db,
    /// At the last delivered (block_number, log_index); `None` until the first poll.
    cursor: Option<Cursor<(i64, i64), Inference>>,
    model: Option<i64>,
    confirmations: U64,
}

async fn next_settlements(
    mut s: Settlements,
) -> (Result<Vec<Event<Inference>>, ApiError>, Settlements) {
    let events = async {
        let Some(cursor) = &mut s.cursor else {
            // Subscribed now: deliver what comes after the current checkpoint.
            let (now, _) = look(&s.db, i64::MAX).await?;
            s.cursor = Some(Cursor::new((now.block_number, i64::MAX), now));
            return Ok(Vec::new());
        };
        let (now, reverted_to) = look(&s.db, cursor.reorg).await?;
        let position = match reverted_to {
            Some(block) => cursor.position.min((block, i64::MAX)),
            None => cursor.position,
        };
        let mut sql = Sql::new(concat!("SELECT ", crate::api::inference::columns!(), ", "));
        sql.push(&block_hash("receipts.block_number"))
            .push(" FROM receipts WHERE (block_number, log_index) > (")
            .bind(position.0)
            .push(", ")
            .bind(position.1)
            // A voucher's receipts join once its log is verified, behind the cursor: not delivered.
            .push(") AND settlement IS NULL");
        if let Some(model) = s.model {
            sql.push(" AND model_id = ").bind(model);
        }
        settled(&mut sql, "block_number", s.confirmations, now.reorg);
        sql.push(" ORDER BY block_number, log_index LIMIT ")
            .bind(BATCH);
        let rows: Vec<Hashed<Inference>> = s.db.all(&sql).await?;
        Ok(cursor.advance(now, reverted_to, position, rows, |row| {
            (
                (row.block_number.stored(), row.log_index.stored()),
                row.block_number,
            )
        }))
    }
    .await;
    (events, s)
}

/// Where a contributions subscription stands.
struct Contributions {
    db: Db,
    /// At the last delivered contribution id (ids are dense and global); `None` until the first poll.
    cursor: Option<Cursor<i64, Contribution>>,
    datanet: Option<i64>,
    confirmations: U64,
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
) -> (Result<Vec<Event<Contribution>>, ApiError>, Contributions) {
    let events = async {
        let Some(cursor) = &mut s.cursor else {
            // Subscribed now: deliver the contributions after the last one there is.
            let (now, _) = look(&s.db, i64::MAX).await?;
            let last = last_contribution(&s.db, i64::MAX).await?;
            s.cursor = Some(Cursor::new(last, now));
            return Ok(Vec::new());
        };
        let (now, reverted_to) = look(&s.db, cursor.reorg).await?;
        // Ids above the reorg's block were taken again by the replayed contributions.
        let last = match reverted_to {
            Some(block) => cursor.position.min(last_contribution(&s.db, block).await?),
            None => cursor.position,
        };
        let mut sql = Sql::new(concat!(
            "SELECT ",
            crate::api::contribution::columns!(),
            ", "
        ));
        sql.push(&block_hash("contributions.submitted_block"))
            .push(" FROM contributions WHERE contribution_id > ")
            .bind(last);
        if let Some(datanet) = s.datanet {
            sql.push(" AND datanet_id = ").bind(datanet);
        }
        settled(&mut sql, "submitted_block", s.confirmations, now.reorg);
        sql.push(" ORDER BY contribution_id LIMIT ").bind(BATCH);
        let rows: Vec<Hashed<Contribution>> = s.db.all(&sql).await?;
        Ok(cursor.advance(now, reverted_to, last, rows, |row| {
            (row.contribution_id.stored(), row.submitted_block)
        }))
    }
    .await;
    (events, s)
}

#[Subscription]
impl SubscriptionRoot {
    /// Inferences settled from now on, in chain order, optionally of one model; and, removed, those a
    /// reorg reverted after they were delivered. With `confirmations`, only settlements in blocks at
    /// least that many blocks below the indexed head (from the indexer's finality depth on, none is
    /// ever removed).
    async fn settlements(
        &self,
        ctx: &Context<'_>,
        model_id: Option<U64>,
        #[graphql(default)] confirmations: U64,
    ) -> impl Stream<Item = ApiResult<Event<Inference>>> + use<> {
        // A subscription's events are pushed, never cached: no reads to record.
        let db = db(ctx, &[]).clone();
        let interval = ctx.data_unchecked::<ApiConfig>().poll_interval;
        poll_stream(
            interval,
            Settlements {
                db,
                cursor: None,
                model: model_id.map(U64::stored),
                confirmations,
            },
            next_settlements,
        )
    }

    /// Contributions submitted from now on, by id, optionally to one datanet; and, removed, those a
    /// reorg reverted after they were delivered. With `confirmations`, only contributions submitted at
    /// least that many blocks below the indexed head (from the indexer's finality depth on, none is
    /// ever removed).
    async fn contributions(
        &self,
        ctx: &Context<'_>,
        datanet_id: Option<U64>,
        #[graphql(default)] confirmations: U64,
    ) -> impl Stream<Item = ApiResult<Event<Contribution>>> + use<> {
        let db = db(ctx, &[]).clone();
        let interval = ctx.data_unchecked::<ApiConfig>().poll_interval;
        poll_stream(
            interval,
            Contributions {
                db,
                cursor: None,
                datanet: datanet_id.map(U64::stored),
                confirmations,
            },
            next_contributions,
        )
    }
}
