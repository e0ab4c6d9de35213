//! The outbox's SQLite storage.

use std::{
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    sol_types::SolValue,
};
use soil_bindings::{Attribution, ReceiptDomain, receipt::UsageReceipt};
use sqlx::{
    Row,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
        SqliteSynchronous,
    },
};

use crate::{
    error::{ClientError, Result},
    receipt::SignedReceipt,
};

/// A receipt waiting in the outbox.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Row id.
    pub id: i64,
    /// The signed receipt and its attribution.
    pub signed: SignedReceipt,
    /// The settlement transaction carrying it, while in flight.
    pub tx_hash: Option<B256>,
    /// Failed attempts so far.
    pub attempts: i64,
}

/// A receipt the escrow rejected for good.
#[derive(Debug, Clone)]
pub struct FailedEntry {
    /// Row id.
    pub id: i64,
    /// EIP-712 digest.
    pub digest: B256,
    /// Why it was rejected.
    pub reason: String,
}

/// How many receipts are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxCounts {
    /// Waiting to be sent.
    pub pending: u64,
    /// Sent in a settlement that is not final yet.
    pub in_flight: u64,
    /// Rejected by the escrow for good.
    pub failed: u64,
}

/// The outbox database.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub(super) pool: SqlitePool,
    path: PathBuf,
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Outbox {
    /// Opens (creating if needed) the outbox at `path` and migrates its schema.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| ClientError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|source| ClientError::Outbox {
                path: path.to_owned(),
                source,
            })?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| ClientError::Outbox {
                path: path.to_owned(),
                source,
            })?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|source| ClientError::OutboxMigration {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            pool,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn db(&self, source: sqlx::Error) -> ClientError {
        ClientError::Outbox {
            path: self.path.clone(),
            source,
        }
    }

    /// Durably stores a signed receipt as pending; returns its row id.
    pub async fn push(&self, domain: &ReceiptDomain, signed: &SignedReceipt) -> Result<i64> {
        let receipt = &signed.receipt;
        let row = sqlx::query(
            "INSERT INTO receipts (digest, payer, nonce, deadline, fee, receipt, attribution, signature, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(signed.digest(domain).to_string())
        .bind(receipt.payer.to_string())
        .bind(format!("{:#x}", receipt.nonce))
        .bind(i64::try_from(receipt.deadline).unwrap_or(i64::MAX))
        .bind(receipt.fee.to_string())
        .bind(receipt.abi_encode())
        .bind(signed.attribution.to_packed())
        .bind(signed.signature.to_vec())
        .bind(now())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(row.get(0))
    }

    /// Counts per state.
    pub async fn counts(&self) -> Result<OutboxCounts> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM receipts GROUP BY state")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        let mut counts = OutboxCounts::default();
        for row in rows {
            let state: String = row.get(0);
            let n = u64::try_from(row.get::<i64, _>(1)).unwrap_or_default();
            match state.as_str() {
                "pending" => counts.pending = n,
                "in_flight" => counts.in_flight = n,
                _ => counts.failed = n,
            }
        }
        Ok(counts)
    }

    /// The fees of `payer`'s receipts that may still be charged (pending or in flight): what its deposit
    /// must keep covering.
    pub async fn committed_fees(&self, payer: Address) -> Result<U256> {
        let rows =
            sqlx::query("SELECT id, fee FROM receipts WHERE payer = ? AND state != 'failed'")
                .bind(payer.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.db(e))?;
        rows.iter().try_fold(U256::ZERO, |sum, row| {
            let fee: String = row.get(1);
            let fee = U256::from_str_radix(&fee, 10).map_err(|_| corrupt(row.get(0), "fee"))?;
            Ok(sum.saturating_add(fee))
        })
    }

    /// Up to `limit` pending receipts whose backoff has passed, oldest first.
    pub async fn due(&self, limit: usize) -> Result<Vec<Entry>> {
        let rows = sqlx::query(
            "SELECT id, receipt, attribution, signature, tx_hash, attempts FROM receipts
             WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
        )
        .bind(now())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.iter().map(decode).collect()
    }

    /// Every in-flight receipt.
    pub async fn in_flight(&self) -> Result<Vec<Entry>> {
        let rows = sqlx::query(
            "SELECT id, receipt, attribution, signature, tx_hash, attempts FROM receipts
             WHERE state = 'in_flight' ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.iter().map(decode).collect()
    }

    /// Every failed receipt with its reason.
    pub async fn failed(&self) -> Result<Vec<FailedEntry>> {
        let rows = sqlx::query(
            "SELECT id, digest, last_error FROM receipts WHERE state = 'failed' ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.get(0);
                let digest: String = row.get(1);
                Ok(FailedEntry {
                    id,
                    digest: digest.parse().map_err(|_| corrupt(id, "digest"))?,
                    reason: row.get::<Option<String>, _>(2).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Marks receipts in flight in transaction `tx_hash` (in one database transaction).
    pub async fn mark_in_flight(&self, ids: &[i64], tx_hash: B256) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        for id in ids {
            sqlx::query("UPDATE receipts SET state = 'in_flight', tx_hash = ? WHERE id = ?")
                .bind(tx_hash.to_string())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// Deletes receipts whose settlement is final.
    pub async fn remove(&self, ids: &[i64]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        for id in ids {
            sqlx::query("DELETE FROM receipts WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// Puts receipts back to pending after a failed attempt, retrying after `backoff(attempts)`.
    pub async fn retry_later(
        &self,
        ids: &[i64],
        error: &str,
        backoff: impl Fn(i64) -> Duration,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        for id in ids {
            let attempts: i64 = sqlx::query("SELECT attempts FROM receipts WHERE id = ?")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.db(e))?
                .get(0);
            let delay = i64::try_from(backoff(attempts + 1).as_secs()).unwrap_or(i64::MAX);
            sqlx::query(
                "UPDATE receipts SET state = 'pending', tx_hash = NULL, attempts = attempts + 1,
                 next_attempt_at = ?, last_error = ? WHERE id = ?",
            )
            .bind(now().saturating_add(delay))
            .bind(error)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// Sets a receipt aside as failed for good, with the reason.
    pub async fn fail(&self, id: i64, reason: &str) -> Result<()> {
        sqlx::query(
            "UPDATE receipts SET state = 'failed', tx_hash = NULL, last_error = ? WHERE id = ?",
        )
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db(e))
        .map(drop)
    }
}

pub(super) fn corrupt(id: i64, what: &str) -> ClientError {
    ClientError::CorruptOutboxRow {
        id,
        reason: format!("cannot decode {what}"),
    }
}

fn decode(row: &SqliteRow) -> Result<Entry> {
    let id: i64 = row.get(0);
    let receipt_bytes: Vec<u8> = row.get(1);
    let receipt = <UsageReceipt as SolValue>::abi_decode(&receipt_bytes)
        .map_err(|_| corrupt(id, "receipt"))?;
    let attribution = Attribution::from_packed(&row.get::<Vec<u8>, _>(2))
        .map_err(|_| corrupt(id, "attribution"))?;
    let signature = Bytes::from(row.get::<Vec<u8>, _>(3));
    let tx_hash = match row.get::<Option<String>, _>(4) {
        Some(hash) => Some(hash.parse::<B256>().map_err(|_| corrupt(id, "tx hash"))?),
        None => None,
    };
    Ok(Entry {
        id,
        signed: SignedReceipt {
            receipt,
            attribution,
            signature,
        },
        tx_hash,
        attempts: row.get(5),
    })
}
