//! The outbox's channel state: per channel its periods (the open one taking new inferences, cut ones
//! waiting to settle), each period's latest signed voucher and its receipts log. An inference is written
//! in one transaction — its log entry, the period's new voucher and the channel's inference count — and
//! only if nothing else wrote the channel since it was read, so concurrent writers (a server and
//! `soil channel settle`) never lose or double an inference.

use alloy::{
    primitives::{B256, Bytes, U256},
    sol_types::SolValue,
};
use soil_bindings::{
    Attribution,
    channel::{LogEntry, ReceiptsLog, Voucher},
    receipt::UsageReceipt,
};
use sqlx::{Row, sqlite::SqliteRow};

use super::{Outbox, store::now};
use crate::error::{ClientError, Result};

/// Where a period stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodState {
    /// Taking new inferences.
    Open,
    /// Its latest voucher was chosen to settle; the next period is open.
    Cut,
    /// Its `settle` transaction is signed (and maybe sent).
    InFlight,
    /// The chain moved past it.
    Settled,
}

impl PeriodState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Cut => "cut",
            Self::InFlight => "in_flight",
            Self::Settled => "settled",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "open" => Self::Open,
            "cut" => Self::Cut,
            "in_flight" => Self::InFlight,
            "settled" => Self::Settled,
            _ => return None,
        })
    }
}

/// One period of a channel as the outbox keeps it.
#[derive(Debug, Clone)]
pub struct PeriodRecord {
    /// The channel.
    pub channel_id: u64,
    /// The period.
    pub period: u32,
    /// The cumulative fee settled before it.
    pub start_fee: U256,
    /// Its latest signed voucher and signature (none before its first inference).
    pub voucher: Option<(Voucher, Bytes)>,
    /// Where it stands.
    pub state: PeriodState,
    /// Its settle transaction, once signed.
    pub tx_hash: Option<B256>,
    /// Unix seconds of its first inference.
    pub first_at: Option<i64>,
}

impl PeriodRecord {
    /// The cumulative fee its latest voucher promises (its start fee before any inference).
    pub fn promised(&self) -> U256 {
        self.voucher.as_ref().map_or(self.start_fee, |(v, _)| v.fee)
    }

    /// What it owes beyond its start fee.
    pub fn unsettled(&self) -> U256 {
        self.promised() - self.start_fee
    }
}

/// A channel as the outbox keeps it.
#[derive(Debug, Clone)]
pub struct ChannelRecord {
    /// The channel.
    pub channel_id: u64,
    /// Its model.
    pub model_id: u64,
    /// Inferences signed in it so far, all periods.
    pub inferences: u64,
    /// Where its logs are published ('' : nowhere).
    pub log_base: String,
}

/// The next inference of a channel, as signed: appended to `period` at `position`.
#[derive(Debug, Clone)]
pub struct SignedInference {
    /// The period it belongs to (the open one when it was read).
    pub period: u32,
    /// Its index in the period's log.
    pub position: u32,
    /// Its receipt and attribution.
    pub entry: LogEntry,
    /// Its leaf in the log.
    pub leaf: B256,
    /// The period's new voucher, covering it.
    pub voucher: Voucher,
    /// The voucher's signature.
    pub signature: Bytes,
}

fn channel_corrupt(channel_id: u64, what: &str) -> ClientError {
    ClientError::CorruptOutboxRow {
        id: i64::try_from(channel_id).unwrap_or(i64::MAX),
        reason: format!("channel {channel_id}: cannot decode {what}"),
    }
}

fn sql_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

fn decode_period(row: &SqliteRow) -> Result<PeriodRecord> {
    let channel_id = u64::try_from(row.get::<i64, _>("channel_id")).unwrap_or_default();
    let corrupt = |what| channel_corrupt(channel_id, what);
    let start_fee: String = row.get("start_fee");
    let voucher = match (
        row.get::<Option<Vec<u8>>, _>("voucher"),
        row.get::<Option<Vec<u8>>, _>("signature"),
    ) {
        (Some(voucher), Some(signature)) => Some((
            <Voucher as SolValue>::abi_decode(&voucher).map_err(|_| corrupt("voucher"))?,
            Bytes::from(signature),
        )),
        _ => None,
    };
    let tx_hash = match row.get::<Option<String>, _>("tx_hash") {
        Some(hash) => Some(hash.parse().map_err(|_| corrupt("tx hash"))?),
        None => None,
    };
    Ok(PeriodRecord {
        channel_id,
        period: u32::try_from(row.get::<i64, _>("period")).map_err(|_| corrupt("period"))?,
        start_fee: U256::from_str_radix(&start_fee, 10).map_err(|_| corrupt("start fee"))?,
        voucher,
        state: PeriodState::parse(&row.get::<String, _>("state"))
            .ok_or_else(|| corrupt("state"))?,
        tx_hash,
        first_at: row.get("first_at"),
    })
}

const PERIOD_COLUMNS: &str =
    "channel_id, period, start_fee, voucher, signature, state, tx_hash, first_at";

impl Outbox {
    /// Starts keeping channel `channel_id` of `model_id`, its current period `period` open at `start_fee`;
    /// a channel already kept is left as it is (its log base updated when `log_base` is not empty).
    pub async fn track_channel(
        &self,
        channel_id: u64,
        model_id: u64,
        period: u32,
        start_fee: U256,
        log_base: &str,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        let inserted = sqlx::query(
            "INSERT INTO channels (channel_id, model_id, log_base) VALUES (?, ?, ?)
             ON CONFLICT (channel_id) DO NOTHING",
        )
        .bind(sql_id(channel_id))
        .bind(sql_id(model_id))
        .bind(log_base)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?
        .rows_affected();
        if inserted == 1 {
            sqlx::query(
                "INSERT INTO channel_periods (channel_id, period, start_fee) VALUES (?, ?, ?)",
            )
            .bind(sql_id(channel_id))
            .bind(i64::from(period))
            .bind(start_fee.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        } else if !log_base.is_empty() {
            sqlx::query("UPDATE channels SET log_base = ? WHERE channel_id = ?")
                .bind(log_base)
                .bind(sql_id(channel_id))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// The channel, if the outbox keeps it.
    pub async fn channel(&self, channel_id: u64) -> Result<Option<ChannelRecord>> {
        let row =
            sqlx::query("SELECT model_id, inferences, log_base FROM channels WHERE channel_id = ?")
                .bind(sql_id(channel_id))
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.db(e))?;
        Ok(row.map(|row| ChannelRecord {
            channel_id,
            model_id: u64::try_from(row.get::<i64, _>(0)).unwrap_or_default(),
            inferences: u64::try_from(row.get::<i64, _>(1)).unwrap_or_default(),
            log_base: row.get(2),
        }))
    }

    /// Every channel the outbox keeps.
    pub async fn channel_ids(&self) -> Result<Vec<u64>> {
        let rows = sqlx::query("SELECT channel_id FROM channels ORDER BY channel_id")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(rows
            .iter()
            .map(|row| u64::try_from(row.get::<i64, _>(0)).unwrap_or_default())
            .collect())
    }

    /// The channel's periods, oldest first.
    pub async fn periods(&self, channel_id: u64) -> Result<Vec<PeriodRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {PERIOD_COLUMNS} FROM channel_periods WHERE channel_id = ? ORDER BY period"
        ))
        .bind(sql_id(channel_id))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.iter().map(decode_period).collect()
    }

    /// The channel's open period.
    pub async fn open_period(&self, channel_id: u64) -> Result<PeriodRecord> {
        self.periods(channel_id)
            .await?
            .into_iter()
            .find(|p| p.state == PeriodState::Open)
            .ok_or_else(|| channel_corrupt(channel_id, "its open period (none is open)"))
    }

    /// The leaves of a period's log, in order.
    pub async fn leaves(&self, channel_id: u64, period: u32) -> Result<Vec<B256>> {
        let rows = sqlx::query(
            "SELECT leaf FROM channel_entries WHERE channel_id = ? AND period = ? ORDER BY position",
        )
        .bind(sql_id(channel_id))
        .bind(i64::from(period))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.iter()
            .map(|row| {
                B256::try_from(row.get::<Vec<u8>, _>(0).as_slice())
                    .map_err(|_| channel_corrupt(channel_id, "a log leaf"))
            })
            .collect()
    }

    /// A period's receipts log.
    pub async fn period_log(&self, channel_id: u64, period: u32) -> Result<ReceiptsLog> {
        let rows = sqlx::query(
            "SELECT receipt, attribution FROM channel_entries WHERE channel_id = ? AND period = ?
             ORDER BY position",
        )
        .bind(sql_id(channel_id))
        .bind(i64::from(period))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        let entries = rows
            .iter()
            .map(|row| {
                Ok(LogEntry {
                    receipt: <UsageReceipt as SolValue>::abi_decode(&row.get::<Vec<u8>, _>(0))
                        .map_err(|_| channel_corrupt(channel_id, "a log receipt"))?,
                    attribution: Attribution::from_packed(&row.get::<Vec<u8>, _>(1))
                        .map_err(|_| channel_corrupt(channel_id, "a log attribution"))?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(ReceiptsLog {
            channel_id,
            period,
            entries,
        })
    }

    /// The log whose latest voucher commits to `root`, if the outbox holds it.
    pub async fn log_by_root(&self, root: B256) -> Result<Option<ReceiptsLog>> {
        let row = sqlx::query(
            "SELECT channel_id, period FROM channel_periods WHERE log_root = ? LIMIT 1",
        )
        .bind(root.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        let Some(row) = row else { return Ok(None) };
        let channel_id = u64::try_from(row.get::<i64, _>(0)).unwrap_or_default();
        let period = u32::try_from(row.get::<i64, _>(1)).unwrap_or_default();
        self.period_log(channel_id, period).await.map(Some)
    }

    /// Writes a signed inference in one transaction: its log entry, the period's new voucher and the
    /// channel's inference count. Returns false, writing nothing, when the channel changed since it was
    /// read (`inferences_before` signed, `inference.period` open): the caller reads again and re-signs.
    pub async fn append_inference(
        &self,
        channel_id: u64,
        inferences_before: u64,
        inference: &SignedInference,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        // The first statement writes, so the transaction holds the write lock from here on.
        let counted = sqlx::query(
            "UPDATE channels SET inferences = inferences + 1 WHERE channel_id = ? AND inferences = ?",
        )
        .bind(sql_id(channel_id))
        .bind(sql_id(inferences_before))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?
        .rows_affected();
        let voucher = sqlx::query(
            "UPDATE channel_periods SET voucher = ?, signature = ?, log_root = ?,
             first_at = COALESCE(first_at, ?) WHERE channel_id = ? AND period = ? AND state = 'open'",
        )
        .bind(inference.voucher.abi_encode())
        .bind(inference.signature.to_vec())
        .bind(inference.voucher.logRoot.to_string())
        .bind(now())
        .bind(sql_id(channel_id))
        .bind(i64::from(inference.period))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?
        .rows_affected();
        if counted != 1 || voucher != 1 {
            tx.rollback().await.map_err(|e| self.db(e))?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO channel_entries (channel_id, period, position, receipt, attribution, leaf, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(sql_id(channel_id))
        .bind(i64::from(inference.period))
        .bind(i64::from(inference.position))
        .bind(inference.entry.receipt.abi_encode())
        .bind(inference.entry.attribution.to_packed())
        .bind(inference.leaf.to_vec())
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(true)
    }

    /// Cuts the open period `period`: its latest voucher becomes the one to settle and period
    /// `period + 1` opens at that voucher's fee, in one transaction. Returns false when there is nothing
    /// to cut (no inference in the period, or it is no longer open).
    pub async fn cut(&self, channel_id: u64, period: u32) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        let row = sqlx::query(
            "UPDATE channel_periods SET state = 'cut' WHERE channel_id = ? AND period = ?
             AND state = 'open' AND voucher IS NOT NULL RETURNING voucher",
        )
        .bind(sql_id(channel_id))
        .bind(i64::from(period))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        let Some(row) = row else {
            tx.rollback().await.map_err(|e| self.db(e))?;
            return Ok(false);
        };
        let voucher = <Voucher as SolValue>::abi_decode(&row.get::<Vec<u8>, _>(0))
            .map_err(|_| channel_corrupt(channel_id, "voucher"))?;
        sqlx::query("INSERT INTO channel_periods (channel_id, period, start_fee) VALUES (?, ?, ?)")
            .bind(sql_id(channel_id))
            .bind(i64::from(period) + 1)
            .bind(voucher.fee.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(true)
    }

    /// Records a cut period's settle transaction, before it is broadcast.
    pub async fn mark_period_in_flight(
        &self,
        channel_id: u64,
        period: u32,
        tx_hash: B256,
    ) -> Result<()> {
        self.set_period_state(
            channel_id,
            period,
            PeriodState::InFlight,
            Some(tx_hash),
            None,
        )
        .await
    }

    /// A period the chain moved past.
    pub async fn mark_period_settled(
        &self,
        channel_id: u64,
        period: u32,
        tx_hash: Option<B256>,
    ) -> Result<()> {
        self.set_period_state(channel_id, period, PeriodState::Settled, tx_hash, None)
            .await
    }

    /// A period whose settlement did not reach the chain: cut again, waiting to be sent.
    pub async fn back_to_cut(&self, channel_id: u64, period: u32, error: &str) -> Result<()> {
        self.set_period_state(channel_id, period, PeriodState::Cut, None, Some(error))
            .await
    }

    async fn set_period_state(
        &self,
        channel_id: u64,
        period: u32,
        state: PeriodState,
        tx_hash: Option<B256>,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE channel_periods SET state = ?, tx_hash = COALESCE(?, tx_hash), last_error = ?
             WHERE channel_id = ? AND period = ?",
        )
        .bind(state.as_str())
        .bind(tx_hash.map(|h| h.to_string()))
        .bind(error)
        .bind(sql_id(channel_id))
        .bind(i64::from(period))
        .execute(&self.pool)
        .await
        .map_err(|e| self.db(e))
        .map(drop)
    }
}
