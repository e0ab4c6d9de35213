//! `soil-indexer rebuild`: re-derives every projection and aggregate from `raw_events`, without the
//! RPC, in one transaction (a failed rebuild leaves the previous tables in place).

use alloy::primitives::{Address, B256};
use sqlx::Row;

use crate::error::{IndexerError, Result};
use crate::projection::apply::apply;
use crate::projection::event::{Contract, RawEvent, SoilEvent};
use crate::projection::state::State;
use crate::store::batch::{Batch, row_u64};
use crate::store::entity::Entity;
use crate::store::revert::clear_projections;
use crate::store::value::{Column, int};
use crate::store::{Changes, Store, version};

/// Raw events read per page.
const PAGE: i64 = 20_000;

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    /// Events replayed.
    pub events: u64,
    /// The checkpoint block the projections now reflect.
    pub block_number: u64,
}

fn contract(name: &str) -> Result<Contract> {
    match name {
        "DatanetRegistry" => Ok(Contract::DatanetRegistry),
        "ModelRegistry" => Ok(Contract::ModelRegistry),
        "UsageEscrow" => Ok(Contract::UsageEscrow),
        "UsageChannels" => Ok(Contract::UsageChannels),
        other => Err(IndexerError::CorruptRow {
            table: "raw_events",
            reason: format!("unknown contract `{other}`"),
        }),
    }
}

fn raw_event(row: &sqlx::any::AnyRow) -> Result<RawEvent> {
    let block_number = row_u64(row, "block_number", "raw_events")?;
    let log_index = row_u64(row, "log_index", "raw_events")?;
    let data: String = String::decode(row, "data", "raw_events")?;
    let event: SoilEvent =
        serde_json::from_str(&data).map_err(|source| IndexerError::RawEvent {
            block_number,
            log_index,
            source,
        })?;
    let timestamp: Option<i64> = Column::decode(row, "block_timestamp", "raw_events")?;
    Ok(RawEvent {
        block_number,
        block_hash: B256::decode(row, "block_hash", "raw_events")?,
        block_timestamp: timestamp.and_then(|t| u64::try_from(t).ok()),
        tx_hash: B256::decode(row, "tx_hash", "raw_events")?,
        tx_index: row_u64(row, "tx_index", "raw_events")?,
        log_index,
        contract: contract(&String::decode(row, "contract", "raw_events")?)?,
        address: Address::decode(row, "address", "raw_events")?,
        event,
    })
}

/// Empties the projections and replays every stored raw event in chain order. Blocks above the
/// checkpoint's finalized block are journalled again, so reorgs stay revertible.
pub async fn rebuild(store: &Store) -> Result<Rebuilt> {
    let checkpoint = store.checkpoint().await?;
    let finalized = checkpoint.map_or(0, |c| c.finalized_block);
    let mut tx = store
        .pool()
        .begin()
        .await
        .map_err(IndexerError::db("starting a rebuild"))?;
    clear_projections(&mut tx).await?;
    let mut state = State::for_rebuild(store.pool().clone());
    let mut after = (-1i64, -1i64);
    let mut events = 0u64;
    loop {
        let rows = sqlx::query(
            "SELECT block_number, block_hash, block_timestamp, tx_hash, tx_index, log_index, contract, address, data \
             FROM raw_events WHERE block_number > $1 OR (block_number = $1 AND log_index > $2) \
             ORDER BY block_number, log_index LIMIT $3",
        )
        .bind(after.0)
        .bind(after.1)
        .bind(PAGE)
        .fetch_all(&mut *tx)
        .await
        .map_err(IndexerError::db("reading raw events"))?;
        if rows.is_empty() {
            break;
        }
        let mut batch = Batch::default();
        for row in &rows {
            let ev = raw_event(row)?;
            state.begin_block(ev.block_number, ev.block_number > finalized);
            apply(&mut state, &mut batch, &ev).await?;
            after = (
                int("block number", ev.block_number)?,
                int("log index", ev.log_index)?,
            );
            events += 1;
        }
        state.flush(&mut batch);
        batch.write(&mut tx, store.backend()).await?;
        tracing::info!(events, block = after.0, "rebuilding");
    }
    version::publish(&mut tx, store.backend(), &Changes::everything()).await?;
    tx.commit()
        .await
        .map_err(IndexerError::db("committing the rebuild"))?;
    store.changed(Changes::everything());
    Ok(Rebuilt {
        events,
        block_number: checkpoint.map_or(0, |c| c.block_number),
    })
}

/// Every projection and aggregate table, in a canonical text form (rows sorted by key): two
/// databases hold the same graph exactly when their dumps are equal.
pub async fn dump(store: &Store) -> Result<String> {
    use crate::store::entity::{
        Account, Contribution, Curator, Datanet, Model, Parameter, Release, Totals,
    };
    fn columns<E: Entity>() -> Vec<&'static str> {
        E::KEY_COLUMNS.iter().chain(E::COLUMNS).copied().collect()
    }
    let mut tables: Vec<(&str, Vec<&str>)> = vec![
        ("datanets", columns::<Datanet>()),
        ("curators", columns::<Curator>()),
        ("contributions", columns::<Contribution>()),
        ("releases", columns::<Release>()),
        ("models", columns::<Model>()),
        ("accounts", columns::<Account>()),
        ("totals", columns::<Totals>()),
        ("parameters", columns::<Parameter>()),
    ];
    for set in Batch::default().facts.into_sets() {
        tables.push((set.table, set.columns));
    }
    let mut out = String::new();
    for (table, columns) in tables {
        let select: Vec<String> = columns
            .iter()
            .map(|c| format!("CAST({c} AS TEXT) AS {c}"))
            .collect();
        let sql = format!("SELECT {} FROM {table}", select.join(", "));
        let rows = sqlx::query(&sql)
            .fetch_all(store.pool())
            .await
            .map_err(IndexerError::db("dumping a table"))?;
        let mut lines: Vec<String> = rows
            .iter()
            .map(|row| {
                let values: Vec<String> = (0..columns.len())
                    .map(|i| {
                        row.try_get::<Option<String>, _>(i)
                            .ok()
                            .flatten()
                            .unwrap_or_else(|| "NULL".to_owned())
                    })
                    .collect();
                values.join("|")
            })
            .collect();
        lines.sort();
        out.push_str(&format!("## {table} ({})\n", columns.join("|")));
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
    Ok(out)
}
