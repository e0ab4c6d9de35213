//! Settling the outbox: batches of pending receipts sent to `UsageEscrow.settle`, in-flight ones
//! reconciled against the chain. The escrow settles every valid receipt of a batch and skips the others
//! with `ReceiptSkipped` (index and reason): after each mined batch the skipped ones are sorted into
//! already settled (by whoever sent them first), deferred (the payer's deposit is short) and rejected.

use std::{collections::BTreeMap, time::Duration};

use alloy::{
    primitives::{B256, Bytes},
    sol_types::SolInterface,
};
use soil_bindings::{contracts::IUsageEscrow::IUsageEscrowErrors, revert::describe};

use super::{Entry, Outbox};
use crate::{
    chain::{Chain, SettleBatch, TxStatus},
    error::Result,
};

/// A point at which settlement aborts the process, to prove crash safety in tests
/// (`SOIL_FAIL_AFTER_SIGN=1`, `SOIL_FAIL_AFTER_SEND=1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailPoint {
    /// Right after the batch is marked in flight with its signed transaction's hash, before broadcast.
    AfterSign,
    /// Right after the transaction is broadcast, before its receipt is awaited.
    AfterSend,
}

impl FailPoint {
    /// The fail point named by the environment, if any.
    pub fn from_env() -> Option<Self> {
        let set = |name: &str| std::env::var(name).is_ok_and(|v| v == "1");
        if set("SOIL_FAIL_AFTER_SIGN") {
            Some(Self::AfterSign)
        } else if set("SOIL_FAIL_AFTER_SEND") {
            Some(Self::AfterSend)
        } else {
            None
        }
    }
}

/// How the outbox is settled.
#[derive(Debug, Clone, Copy)]
pub struct SettleConfig {
    /// Most receipts per `settle` transaction.
    pub batch_size: usize,
    /// Blocks on top of the settlement's block before its receipts are deleted (0 on anvil).
    pub confirmations: u64,
    /// How long to wait for a sent settlement to become final before leaving it for the next round.
    pub finality_timeout: Duration,
    /// Where to abort, for crash tests.
    pub fail_point: Option<FailPoint>,
}

impl Default for SettleConfig {
    fn default() -> Self {
        Self {
            batch_size: 32,
            confirmations: 0,
            finality_timeout: Duration::from_secs(120),
            fail_point: None,
        }
    }
}

/// What one round of settlement did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SettleReport {
    /// Receipts settled by this client's transactions and removed.
    pub settled: usize,
    /// Receipts found already settled on chain (after a crash) and removed.
    pub already_settled: usize,
    /// Receipts set aside as failed.
    pub failed: usize,
    /// Receipts put back for a later attempt.
    pub deferred: usize,
    /// Of the deferred ones, those the payer's deposit could not cover.
    pub deferred_for_deposit: usize,
    /// Settlement transactions sent.
    pub transactions: Vec<B256>,
}

/// Capped exponential backoff: 2 s, 4 s, 8 s … at most 5 minutes.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 9)).unwrap_or(9);
    Duration::from_secs((1u64 << exponent).min(300))
}

/// Settles one outbox on one chain.
#[derive(Debug)]
pub struct Settler<'a> {
    chain: &'a Chain,
    outbox: &'a Outbox,
    config: SettleConfig,
}

/// Whether a mined settlement is being finished by the round that sent it, or found in flight by a later
/// one (after a crash): its receipts then count as already settled.
#[derive(Debug, Clone, Copy)]
enum Round {
    Sending,
    Reconciling,
}

/// What became of one receipt of a mined settlement.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// It settled in this transaction.
    Settled,
    /// It had settled already: someone sent it first.
    AlreadySettled,
    /// The payer's deposit could not cover it: it may settle once the deposit grows.
    ShortOfDeposit(String),
    /// The escrow refused it for good.
    Rejected(String),
}

/// Sorts a receipt by the reason the escrow skipped it (`None`: it was not skipped).
fn outcome(skipped: Option<&Bytes>) -> Outcome {
    let Some(data) = skipped else {
        return Outcome::Settled;
    };
    let reason = describe(data).unwrap_or_else(|| format!("skipped by the escrow ({data})"));
    match IUsageEscrowErrors::abi_decode(data) {
        Ok(IUsageEscrowErrors::AlreadySettled(_)) => Outcome::AlreadySettled,
        Ok(IUsageEscrowErrors::InsufficientDeposit(_)) => Outcome::ShortOfDeposit(reason),
        _ => Outcome::Rejected(reason),
    }
}

fn batch_of(entries: &[Entry]) -> SettleBatch {
    SettleBatch {
        receipts: entries.iter().map(|e| e.signed.receipt.clone()).collect(),
        attributions: entries
            .iter()
            .map(|e| e.signed.attribution.to_sol())
            .collect(),
        signatures: entries.iter().map(|e| e.signed.signature.clone()).collect(),
    }
}

fn ids(entries: &[Entry]) -> Vec<i64> {
    entries.iter().map(|e| e.id).collect()
}

impl<'a> Settler<'a> {
    /// A settler for `outbox` on `chain`.
    pub fn new(chain: &'a Chain, outbox: &'a Outbox, config: SettleConfig) -> Self {
        Self {
            chain,
            outbox,
            config,
        }
    }

    /// One round: reconciles in-flight receipts, then sends every due receipt in batches and waits for
    /// each batch to become final.
    pub async fn run_once(&self) -> Result<SettleReport> {
        let mut report = SettleReport::default();
        self.reconcile(&mut report).await?;
        loop {
            let due = self.outbox.due(self.config.batch_size).await?;
            if due.is_empty() {
                break;
            }
            self.settle_batch(due, &mut report).await?;
        }
        Ok(report)
    }

    /// Resolves in-flight receipts (left by a crash or an unfinished wait): final ⇒ removed; reverted,
    /// dropped or never broadcast ⇒ removed if the escrow reports them settled, else pending again.
    pub async fn reconcile(&self, report: &mut SettleReport) -> Result<()> {
        let mut by_tx: BTreeMap<Option<B256>, Vec<Entry>> = BTreeMap::new();
        for entry in self.outbox.in_flight().await? {
            by_tx.entry(entry.tx_hash).or_default().push(entry);
        }
        for (tx, entries) in by_tx {
            let status = match tx {
                Some(hash) => self.chain.tx_status(hash).await?,
                None => TxStatus::Unknown,
            };
            match status {
                TxStatus::Succeeded(block) => {
                    if let Some(hash) = tx
                        && self.is_final(block).await?
                    {
                        self.finish(entries, hash, Round::Reconciling, report)
                            .await?;
                    }
                }
                TxStatus::Pending => {}
                TxStatus::Failed(_) | TxStatus::Unknown => {
                    // Never broadcast, dropped, or reverted: nothing was charged for receipts the escrow does not
                    // report settled, so they go out again at once.
                    self.resolve_by_chain(
                        entries,
                        "settlement did not reach the chain",
                        |_| Duration::ZERO,
                        report,
                    )
                    .await?
                }
            }
        }
        Ok(())
    }

    /// Removes the receipts the escrow reports settled; puts the others back to pending, retrying after
    /// `delay(attempts)`.
    async fn resolve_by_chain(
        &self,
        entries: Vec<Entry>,
        reason: &str,
        delay: fn(i64) -> Duration,
        report: &mut SettleReport,
    ) -> Result<()> {
        let domain = self.chain.receipt_domain();
        let mut resend = Vec::new();
        for entry in entries {
            if self.chain.is_settled(entry.signed.digest(&domain)).await? {
                self.outbox.remove(&[entry.id]).await?;
                report.already_settled += 1;
            } else {
                resend.push(entry.id);
            }
        }
        if !resend.is_empty() {
            tracing::info!(
                count = resend.len(),
                reason,
                "receipts were not settled; resending"
            );
            self.outbox.retry_later(&resend, reason, delay).await?;
        }
        Ok(())
    }

    async fn is_final(&self, block: u64) -> Result<bool> {
        if self.config.confirmations == 0 {
            return Ok(true);
        }
        let (head, _) = self.chain.head().await?;
        Ok(head >= block + self.config.confirmations)
    }

    /// Sends one batch; receipts already past their deadline are set aside first (the escrow would
    /// only skip them). A batch the node refuses to even simulate is split until the receipt that causes
    /// it stands alone, and that one is set aside.
    fn settle_batch<'b>(
        &'b self,
        entries: Vec<Entry>,
        report: &'b mut SettleReport,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<()>> + Send + 'b>> {
        Box::pin(async move {
            let (_, now) = self.chain.head().await?;
            let mut live = Vec::with_capacity(entries.len());
            for entry in entries {
                if entry.signed.receipt.deadline < now {
                    let reason = format!(
                        "expired unsettled: its deadline {} passed",
                        entry.signed.receipt.deadline
                    );
                    self.outbox.fail(entry.id, &reason).await?;
                    report.failed += 1;
                } else {
                    live.push(entry);
                }
            }
            if live.is_empty() {
                return Ok(());
            }
            match self.chain.prepare_settlement(&batch_of(&live)).await? {
                Ok(envelope) => self.send(live, envelope, report).await,
                Err(revert) => self.split_or_fail(live, revert.reason, report).await,
            }
        })
    }

    /// Applies a final settlement's outcome: settled and already-settled receipts leave the outbox,
    /// receipts short of deposit wait for a later round, the others are set aside with the reason.
    async fn finish(
        &self,
        entries: Vec<Entry>,
        tx: B256,
        round: Round,
        report: &mut SettleReport,
    ) -> Result<()> {
        let skipped: BTreeMap<usize, Bytes> =
            self.chain.skipped_receipts(tx).await?.into_iter().collect();
        let mut done = Vec::new();
        let mut short = Vec::new();
        let mut short_reason = String::new();
        for (index, entry) in entries.iter().enumerate() {
            match outcome(skipped.get(&index)) {
                Outcome::Settled => {
                    done.push(entry.id);
                    match round {
                        Round::Sending => report.settled += 1,
                        Round::Reconciling => report.already_settled += 1,
                    }
                }
                Outcome::AlreadySettled => {
                    done.push(entry.id);
                    report.already_settled += 1;
                }
                Outcome::ShortOfDeposit(reason) => {
                    short.push(entry.id);
                    short_reason = reason;
                }
                Outcome::Rejected(reason) => {
                    tracing::warn!(id = entry.id, %reason, "receipt rejected by the escrow");
                    self.outbox.fail(entry.id, &reason).await?;
                    report.failed += 1;
                }
            }
        }
        self.outbox.remove(&done).await?;
        if !short.is_empty() {
            tracing::warn!(count = short.len(), reason = %short_reason, "settlement deferred");
            self.outbox
                .retry_later(&short, &short_reason, backoff)
                .await?;
            report.deferred += short.len();
            report.deferred_for_deposit += short.len();
        }
        tracing::info!(%tx, settled = done.len(), deferred = short.len(), "settlement final");
        Ok(())
    }

    /// Fails a lone receipt with `reason`, or splits a larger batch in two and settles each half.
    async fn split_or_fail(
        &self,
        entries: Vec<Entry>,
        reason: String,
        report: &mut SettleReport,
    ) -> Result<()> {
        if entries.len() == 1 {
            self.outbox.fail(entries[0].id, &reason).await?;
            report.failed += 1;
        } else {
            let mut first = entries;
            let second = first.split_off(first.len() / 2);
            self.settle_batch(first, report).await?;
            self.settle_batch(second, report).await?;
        }
        Ok(())
    }

    async fn send(
        &self,
        entries: Vec<Entry>,
        envelope: alloy::consensus::TxEnvelope,
        report: &mut SettleReport,
    ) -> Result<()> {
        let batch_ids = ids(&entries);
        let hash = *envelope.tx_hash();
        self.outbox.mark_in_flight(&batch_ids, hash).await?;
        if self.config.fail_point == Some(FailPoint::AfterSign) {
            std::process::abort();
        }
        self.chain.broadcast_settlement(envelope).await?;
        report.transactions.push(hash);
        if self.config.fail_point == Some(FailPoint::AfterSend) {
            std::process::abort();
        }
        let deadline = tokio::time::Instant::now() + self.config.finality_timeout;
        loop {
            match self.chain.tx_status(hash).await? {
                TxStatus::Succeeded(block) if self.is_final(block).await? => {
                    return self.finish(entries, hash, Round::Sending, report).await;
                }
                TxStatus::Failed(_) => {
                    tracing::warn!(tx = %hash, "settlement transaction reverted on chain");
                    let before = report.already_settled;
                    self.resolve_by_chain(
                        entries,
                        "settlement transaction reverted",
                        backoff,
                        report,
                    )
                    .await?;
                    report.deferred += batch_ids.len() - (report.already_settled - before);
                    return Ok(());
                }
                TxStatus::Unknown | TxStatus::Pending | TxStatus::Succeeded(_) => {}
            }
            if tokio::time::Instant::now() >= deadline {
                // Left in flight; the next round's reconciliation picks it up.
                tracing::warn!(tx = %hash, "settlement not final yet; will reconcile later");
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        primitives::{Address, U256},
        sol_types::SolError,
    };
    use soil_bindings::contracts::IUsageEscrow;

    #[test]
    fn outcome_sorts_skip_reasons() {
        assert_eq!(outcome(None), Outcome::Settled);
        let used = IUsageEscrow::AlreadySettled {
            index: U256::from(1u8),
            digest: B256::repeat_byte(9),
        }
        .abi_encode();
        assert_eq!(outcome(Some(&used.into())), Outcome::AlreadySettled);
        let short = IUsageEscrow::InsufficientDeposit {
            payer: Address::ZERO,
            needed: U256::from(2u8),
            available: U256::from(1u8),
        }
        .abi_encode();
        assert!(matches!(
            outcome(Some(&short.into())),
            Outcome::ShortOfDeposit(reason) if reason.contains("needed: 2")
        ));
        let expired = IUsageEscrow::ReceiptExpired {
            index: U256::from(2u8),
            deadline: 5,
        }
        .abi_encode();
        assert!(matches!(
            outcome(Some(&expired.into())),
            Outcome::Rejected(reason) if reason.contains("past its deadline")
        ));
        assert!(matches!(
            outcome(Some(&Bytes::from_static(b"junk"))),
            Outcome::Rejected(reason) if reason.contains("0x6a756e6b")
        ));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(50), Duration::from_secs(300));
    }
}
