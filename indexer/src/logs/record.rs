//! The log fetcher's reads and writes: the settlements whose logs are due, and each outcome in one
//! transaction that holds the settlement's row (so a revert removing it waits, then removes what was
//! written with it) and raises the store's version like any write.

use std::collections::HashMap;

use alloy::primitives::{Address, B256, U256};
use soil_bindings::channel::{ReceiptsLog, SplitTerms};
use sqlx::any::AnyRow;

use crate::error::{IndexerError, Result};
use crate::logs::verify::Settled;
use crate::projection::split::{BPS, split_fee};
use crate::store::changes::Changes;
use crate::store::fact::{
    ATTRIBUTION_EDGE_COLUMNS, AttributionEdge, CHANNEL_RECEIPT_COLUMNS, RECEIPT_COLUMNS, Receipt,
};
use crate::store::rows::RowSet;
use crate::store::value::{Column, Val, chain_string, hex0x, int};
use crate::store::{Store, version};

/// A settlement whose log is due, with where it was settled.
#[derive(Debug, Clone)]
pub struct Due {
    /// What the voucher says.
    pub settled: Settled,
    /// Where the log was published.
    pub log_uri: String,
    /// Tries so far.
    pub attempts: u32,
    /// The base model's owner, for an adapter.
    pub base_owner: Option<Address>,
    block_number: i64,
    block_timestamp: Option<i64>,
    tx_hash: B256,
    log_index: i64,
}

/// What became of one try.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The log proves the voucher: its receipts are indexed.
    Verified(ReceiptsLog),
    /// The log could not be fetched, for good.
    Missing(String),
    /// The log does not prove the voucher.
    Mismatch(String),
    /// Another try at `at` (unix seconds); `problem` is why this one failed.
    Retry {
        /// Why this try failed.
        problem: String,
        /// When to try again.
        at: u64,
    },
}

/// A log status as stored: not fetched yet, or to be tried again.
pub const PENDING: &str = "PENDING";
/// A log status as stored: the log proves the voucher.
pub const VERIFIED: &str = "VERIFIED";
/// A log status as stored: the log could not be fetched.
pub const MISSING: &str = "MISSING";
/// A log status as stored: the log does not prove the voucher.
pub const MISMATCH: &str = "MISMATCH";

const TABLES: [&str; 3] = ["voucher_settlements", "receipts", "attribution_edges"];

/// Column `name` of a settlement's row as read here (joined with its channel and model).
fn column<T: Column>(row: &AnyRow, name: &str) -> Result<T> {
    T::decode(row, name, "voucher_settlements")
}

/// Integer column `name`, which must fit a `T`.
fn small<T: TryFrom<i64>>(row: &AnyRow, name: &'static str) -> Result<T> {
    T::try_from(column::<i64>(row, name)?).map_err(|_| IndexerError::CorruptRow {
        table: "voucher_settlements",
        reason: format!("{name} out of range"),
    })
}

/// Up to `limit` settlements whose log is pending and due at `now` (unix seconds), oldest first.
pub async fn due(store: &Store, now: u64, limit: usize) -> Result<Vec<Due>> {
    let rows = sqlx::query(
        "SELECT s.digest, s.channel_id, s.period, s.inferences, s.start_fee, s.fee, s.owner_share, \
         s.base_share, s.node_share, s.data_share, s.log_root, s.log_uri, s.block_number, \
         s.block_timestamp, s.tx_hash, s.log_index, s.log_attempts, c.payer, c.node, c.model_id, \
         m.owner_bps, m.node_bps, m.data_bps, m.base_share_bps, b.owner AS base_owner \
         FROM voucher_settlements s JOIN channels c ON c.channel_id = s.channel_id \
         JOIN models m ON m.model_id = c.model_id LEFT JOIN models b ON b.model_id = m.base_model_id \
         WHERE s.log_status = 'PENDING' AND s.log_next_attempt <= $1 \
         ORDER BY s.log_next_attempt, s.block_number, s.log_index LIMIT $2",
    )
    .bind(int("time", now)?)
    .bind(int("limit", limit as u64)?)
    .fetch_all(store.pool())
    .await
    .map_err(IndexerError::db("reading the logs due"))?;
    let mut due = Vec::with_capacity(rows.len());
    for row in &rows {
        let digest: B256 = column(row, "digest")?;
        let contributions = sqlx::query(
            "SELECT contribution_id, amount FROM voucher_contributions WHERE digest = $1 \
             ORDER BY position",
        )
        .bind(hex0x(digest.as_slice()))
        .fetch_all(store.pool())
        .await
        .map_err(IndexerError::db("reading a voucher's contributions"))?
        .iter()
        .map(|r| Ok((small(r, "contribution_id")?, column(r, "amount")?)))
        .collect::<Result<Vec<(u64, U256)>>>()?;
        due.push(Due {
            settled: Settled {
                digest,
                channel_id: small(row, "channel_id")?,
                period: small(row, "period")?,
                inferences: small(row, "inferences")?,
                start_fee: column(row, "start_fee")?,
                fee: column(row, "fee")?,
                owner_share: column(row, "owner_share")?,
                base_share: column(row, "base_share")?,
                node_share: column(row, "node_share")?,
                data_share: column(row, "data_share")?,
                contributions,
                log_root: column(row, "log_root")?,
                payer: column(row, "payer")?,
                node: column(row, "node")?,
                model_id: small(row, "model_id")?,
                terms: SplitTerms {
                    owner_bps: small(row, "owner_bps")?,
                    base_share_bps: small(row, "base_share_bps")?,
                    node_bps: small(row, "node_bps")?,
                    data_bps: small(row, "data_bps")?,
                },
            },
            log_uri: column(row, "log_uri")?,
            attempts: small(row, "log_attempts")?,
            base_owner: column(row, "base_owner")?,
            block_number: column(row, "block_number")?,
            block_timestamp: column(row, "block_timestamp")?,
            tx_hash: column(row, "tx_hash")?,
            log_index: column(row, "log_index")?,
        });
    }
    Ok(due)
}

/// Records `outcome` for `due`. `Ok(false)` when the settlement is no longer pending (a revert removed
/// it, or another fetcher recorded it first): nothing is written. A verified log whose receipts cannot
/// join the graph (one names a contribution that does not exist, or was indexed already) is recorded as
/// a mismatch.
pub async fn record(store: &Store, due: &Due, outcome: &Outcome) -> Result<bool> {
    match write(store, due, outcome).await? {
        Ok(held) => Ok(held),
        Err(why) => Ok(write(store, due, &Outcome::Mismatch(why))
            .await?
            .unwrap_or(false)),
    }
}

async fn write(
    store: &Store,
    due: &Due,
    outcome: &Outcome,
) -> Result<std::result::Result<bool, String>> {
    let (status, problem, next) = match outcome {
        Outcome::Verified(_) => (VERIFIED, None, 0),
        Outcome::Missing(why) => (MISSING, Some(why.as_str()), 0),
        Outcome::Mismatch(why) => (MISMATCH, Some(why.as_str()), 0),
        Outcome::Retry { problem, at } => (PENDING, Some(problem.as_str()), int("time", *at)?),
    };
    // The rows are built before the write begins, so it holds the store only to write them.
    let rows = match outcome {
        Outcome::Verified(log) => {
            let mut conn = store
                .pool()
                .acquire()
                .await
                .map_err(IndexerError::db("reading for a log's receipts"))?;
            match rows(&mut conn, due, log).await? {
                Ok(rows) => Some(rows),
                Err(why) => return Ok(Err(why)),
            }
        }
        _ => None,
    };
    let mut tx = store
        .pool()
        .begin()
        .await
        .map_err(IndexerError::db("starting a log's write"))?;
    let held = sqlx::query(
        "UPDATE voucher_settlements SET log_status = $1, log_problem = $2, \
         log_attempts = log_attempts + 1, log_next_attempt = $3 \
         WHERE digest = $4 AND log_status = 'PENDING'",
    )
    .bind(status)
    .bind(problem.map(str::to_owned))
    .bind(next)
    .bind(hex0x(due.settled.digest.as_slice()))
    .execute(&mut *tx)
    .await
    .map_err(IndexerError::db("recording a log's status"))?
    .rows_affected();
    if held != 1 {
        return Ok(Ok(false));
    }
    if let Some((receipts, edges)) = rows {
        receipts.write(&mut tx, store.backend()).await?;
        edges.write(&mut tx, store.backend()).await?;
    }
    let changes = Changes::of_tables(TABLES);
    version::publish(&mut tx, store.backend(), &changes).await?;
    tx.commit()
        .await
        .map_err(IndexerError::db("committing a log's write"))?;
    store.changed(changes);
    metrics::counter!("soil_indexer_logs_total", "status" => status).increment(1);
    Ok(Ok(true))
}

/// The rows of a verified log: one receipt per entry (its digest the entry's leaf) with the fee's split
/// as the escrow would have made it alone, and its attribution edges; `Err` says why they cannot be.
async fn rows(
    conn: &mut sqlx::AnyConnection,
    due: &Due,
    log: &ReceiptsLog,
) -> Result<std::result::Result<(RowSet, RowSet), String>> {
    let s = &due.settled;
    let mut receipts = RowSet::insert(
        "receipts",
        &[RECEIPT_COLUMNS, CHANNEL_RECEIPT_COLUMNS].concat(),
    );
    let mut edges = RowSet::insert("attribution_edges", ATTRIBUTION_EDGE_COLUMNS);
    let mut contributions: HashMap<u64, (Address, i64)> = HashMap::new();
    let model = int("model id", s.model_id)?;
    for (position, entry) in log.entries.iter().enumerate() {
        let r = &entry.receipt;
        let leaf = entry.leaf(s.channel_id);
        if indexed(conn, leaf).await? {
            return Ok(Err(format!(
                "receipt {position} ({leaf}) is indexed already"
            )));
        }
        let weights: Vec<u32> = entry.attribution.entries.iter().map(|e| e.1).collect();
        let split = split_fee(
            r.fee,
            u64::from(s.terms.owner_bps),
            u64::from(s.terms.data_bps),
            u64::from(s.terms.node_bps),
            &weights,
        );
        let base = (r.fee * U256::from(s.terms.base_share_bps) / U256::from(BPS)).min(split.owner);
        let (uri, uri_bytes) = chain_string(&r.outputURI, None);
        let receipt = Receipt {
            digest: leaf,
            payer: r.payer,
            model_id: model,
            node: r.node,
            nonce: r.nonce,
            fee: r.fee,
            input_tokens: i64::from(r.inputTokens),
            output_tokens: i64::from(r.outputTokens),
            prompt_hash: r.promptHash,
            output_hash: r.outputHash,
            output_uri: uri,
            output_uri_bytes: uri_bytes,
            deadline: int("deadline", r.deadline)?,
            attribution_version: i64::from(r.attributionVersion),
            attribution_hash: r.attributionHash,
            attribution: hex0x(&entry.attribution.to_packed()),
            owner_amount: split.owner - base,
            data_amount: split.data,
            node_amount: split.node,
            treasury_amount: split.treasury,
            attributed_amount: split.attributed,
            unattributed_amount: split.unattributed,
            base_amount: base,
            base_owner: due.base_owner,
            block_number: due.block_number,
            block_timestamp: due.block_timestamp,
            tx_hash: due.tx_hash,
            log_index: due.log_index,
        };
        let mut values = receipt.values();
        values.extend([
            s.digest.to_val(),
            Val::Int(int("channel id", s.channel_id)?),
            Val::Int(i64::from(s.period)),
            Val::Int(int("position", position as u64)?),
        ]);
        receipts.push(values);
        for (index, ((id, weight), amount)) in entry
            .attribution
            .entries
            .iter()
            .zip(&split.contributors)
            .enumerate()
        {
            let (contributor, datanet) = match contributions.get(id) {
                Some(known) => *known,
                None => {
                    let Some(known) = contribution(conn, *id).await? else {
                        return Ok(Err(format!(
                            "receipt {position} names contribution {id}, which does not exist"
                        )));
                    };
                    contributions.insert(*id, known);
                    known
                }
            };
            let edge = AttributionEdge {
                digest: leaf,
                position: int("position", index as u64)?,
                contribution_id: int("contribution id", *id)?,
                contributor,
                datanet_id: datanet,
                model_id: model,
                weight_ppm: i64::from(*weight),
                amount: *amount,
                block_number: due.block_number,
                fee: r.fee,
            };
            edges.push(edge.values());
        }
    }
    Ok(Ok((receipts, edges)))
}

/// Whether a receipt with digest `digest` is indexed.
async fn indexed(conn: &mut sqlx::AnyConnection, digest: B256) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM receipts WHERE digest = $1")
        .bind(hex0x(digest.as_slice()))
        .fetch_optional(&mut *conn)
        .await
        .map_err(IndexerError::db("looking up a receipt"))?
        .is_some())
}

/// Contribution `id`'s contributor and datanet, when it exists.
async fn contribution(conn: &mut sqlx::AnyConnection, id: u64) -> Result<Option<(Address, i64)>> {
    let Some(row) =
        sqlx::query("SELECT contributor, datanet_id FROM contributions WHERE contribution_id = $1")
            .bind(int("contribution id", id)?)
            .fetch_optional(&mut *conn)
            .await
            .map_err(IndexerError::db("reading a contribution"))?
    else {
        return Ok(None);
    };
    Ok(Some((
        Address::decode(&row, "contributor", "contributions")?,
        i64::decode(&row, "datanet_id", "contributions")?,
    )))
}
