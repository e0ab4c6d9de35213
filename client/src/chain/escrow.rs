//! `UsageEscrow`: deposits, withdrawals, claims and settlement of signed receipts.

use alloy::{
    consensus::TxEnvelope,
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::{Filter, Log},
    sol_types::SolEvent as _,
};
use soil_bindings::contracts::IUsageEscrow::{self, IUsageEscrowInstance};

use super::{
    Chain, Revert,
    tx::{contract_error, rpc_error},
};
use crate::error::Result;

/// A batch of signed receipts, in the order `settle` takes them.
#[derive(Debug, Clone, Default)]
pub struct SettleBatch {
    /// The receipts.
    pub receipts: Vec<IUsageEscrow::UsageReceipt>,
    /// One attribution per receipt.
    pub attributions: Vec<IUsageEscrow::Attribution>,
    /// One signature per receipt.
    pub signatures: Vec<Bytes>,
}

/// A receipt as the escrow's `ReceiptSettled` event carries it.
#[derive(Debug, Clone)]
pub struct SettledReceipt {
    /// Its EIP-712 digest (the event's first topic).
    pub digest: B256,
    /// The settlement transaction.
    pub tx: B256,
    /// The block it settled in.
    pub block: u64,
    /// The whole receipt.
    pub receipt: IUsageEscrow::UsageReceipt,
    /// The attribution as settled: 12 bytes per entry (see `soil_bindings::Attribution::from_packed`).
    pub packed_attribution: Bytes,
}

/// A settlement transaction signed and ready to broadcast, or the revert it would hit.
pub type SettlePreparation = std::result::Result<TxEnvelope, Revert>;

impl Chain {
    fn escrow(&self) -> IUsageEscrowInstance<&alloy::providers::DynProvider> {
        IUsageEscrow::new(self.deployment.usage_escrow, &self.provider)
    }

    /// Deposits `amount` for the wallet, approving the escrow first if needed.
    pub async fn deposit(&self, amount: U256) -> Result<()> {
        self.ensure_allowance(self.deployment.usage_escrow, amount)
            .await?;
        let tx = self.escrow().deposit(amount).into_transaction_request();
        self.send("depositing", tx).await.map(drop)
    }

    /// Starts a withdrawal of `amount` (executable after the escrow's withdrawal delay).
    pub async fn request_withdrawal(&self, amount: U256) -> Result<()> {
        let tx = self
            .escrow()
            .requestWithdrawal(amount)
            .into_transaction_request();
        self.send("requesting a withdrawal", tx).await.map(drop)
    }

    /// Executes the wallet's unlocked withdrawal.
    pub async fn withdraw(&self) -> Result<()> {
        let tx = self.escrow().withdraw().into_transaction_request();
        self.send("withdrawing", tx).await.map(drop)
    }

    /// The wallet's pending withdrawal: amount and unlock time.
    pub async fn pending_withdrawal(&self, payer: Address) -> Result<(U256, u64)> {
        let pending = self
            .escrow()
            .pendingWithdrawal(payer)
            .call()
            .await
            .map_err(|err| contract_error("reading the pending withdrawal", &err))?;
        Ok((pending.amount, pending.unlockAt))
    }

    /// A payer's deposit.
    pub async fn deposit_of(&self, payer: Address) -> Result<U256> {
        self.escrow()
            .depositOf(payer)
            .call()
            .await
            .map_err(|err| contract_error("reading the deposit", &err))
    }

    /// An account's claimable balance.
    pub async fn claimable(&self, account: Address) -> Result<U256> {
        self.escrow()
            .balanceOf(account)
            .call()
            .await
            .map_err(|err| contract_error("reading the claimable balance", &err))
    }

    /// The longest lifetime a receipt may have, in seconds.
    pub async fn max_receipt_validity(&self) -> Result<u64> {
        self.escrow()
            .maxReceiptValidity()
            .call()
            .await
            .map_err(|err| contract_error("reading maxReceiptValidity", &err))
    }

    /// Whether the receipt with EIP-712 digest `digest` settled.
    pub async fn is_settled(&self, digest: B256) -> Result<bool> {
        self.escrow()
            .isSettled(digest)
            .call()
            .await
            .map_err(|err| contract_error("reading whether a receipt settled", &err))
    }

    /// A contribution's unclaimed pool reward in a release.
    pub async fn pool_reward_of(&self, release_id: u64, contribution_id: u64) -> Result<U256> {
        self.escrow()
            .poolRewardOf(release_id, contribution_id)
            .call()
            .await
            .map_err(|err| contract_error("reading a pool reward", &err))
    }

    /// Moves the pool rewards of `contribution_ids` in a release to their contributors' balances.
    pub async fn claim_pool_rewards(
        &self,
        release_id: u64,
        contribution_ids: Vec<u64>,
    ) -> Result<()> {
        let tx = self
            .escrow()
            .claimPoolRewards(release_id, contribution_ids)
            .into_transaction_request();
        self.send(
            &format!("claiming pool rewards of release {release_id}"),
            tx,
        )
        .await
        .map(drop)
    }

    /// Pays the wallet's whole claimable balance to `to`; returns the transaction hash.
    pub async fn claim(&self, to: Address) -> Result<B256> {
        let tx = self.escrow().claim(to).into_transaction_request();
        self.send("claiming", tx)
            .await
            .map(|receipt| receipt.transaction_hash)
    }

    /// Signs (without sending) a `settle` transaction for `batch`, or returns the revert it would hit.
    pub async fn prepare_settlement(&self, batch: &SettleBatch) -> Result<SettlePreparation> {
        let tx = self
            .escrow()
            .settle(
                batch.receipts.clone(),
                batch.attributions.clone(),
                batch.signatures.clone(),
            )
            .into_transaction_request();
        self.sign_offline("settling receipts", tx).await
    }

    /// The receipts a mined settlement skipped: each one's index in the batch and the ABI-encoded custom
    /// error saying why (`ReceiptSkipped` logs of the escrow).
    pub async fn skipped_receipts(&self, tx: B256) -> Result<Vec<(usize, Bytes)>> {
        let action = "reading a settlement's skipped receipts";
        let receipt = self
            .provider
            .get_transaction_receipt(tx)
            .await
            .map_err(|err| rpc_error(action, &err))?
            .ok_or_else(|| crate::error::ClientError::Rpc {
                action: action.to_owned(),
                reason: format!("no receipt for transaction {tx}"),
            })?;
        Ok(receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == self.deployment.usage_escrow)
            .filter_map(|log| log.log_decode::<IUsageEscrow::ReceiptSkipped>().ok())
            .map(|log| {
                let skipped = log.inner.data;
                (
                    usize::try_from(skipped.index).unwrap_or(usize::MAX),
                    skipped.reason,
                )
            })
            .collect())
    }

    /// The settled receipt with EIP-712 digest `digest`, from the escrow's `ReceiptSettled` logs since the
    /// deployment's start block (filtered on the indexed digest); `None` when it has not settled.
    pub async fn settled_receipt(&self, digest: B256) -> Result<Option<SettledReceipt>> {
        let filter = Filter::new()
            .address(self.deployment.usage_escrow)
            .event_signature(IUsageEscrow::ReceiptSettled::SIGNATURE_HASH)
            .topic1(digest)
            .from_block(self.deployment.start_block);
        let logs = self
            .provider
            .get_logs(&filter)
            .await
            .map_err(|err| rpc_error("reading ReceiptSettled events", &err))?;
        Ok(logs.iter().find_map(settled))
    }

    /// Every receipt settled by transaction `tx` (its escrow `ReceiptSettled` logs, in log order); `None`
    /// when the chain knows no such transaction.
    pub async fn settled_in_tx(&self, tx: B256) -> Result<Option<Vec<SettledReceipt>>> {
        let action = "reading a settlement transaction's receipt";
        let Some(receipt) = self
            .provider
            .get_transaction_receipt(tx)
            .await
            .map_err(|err| rpc_error(action, &err))?
        else {
            return Ok(None);
        };
        Ok(Some(
            receipt
                .inner
                .logs()
                .iter()
                .filter(|log| log.address() == self.deployment.usage_escrow)
                .filter_map(settled)
                .collect(),
        ))
    }

    /// Broadcasts a settlement signed by [`Chain::prepare_settlement`].
    pub async fn broadcast_settlement(&self, envelope: TxEnvelope) -> Result<B256> {
        self.broadcast("broadcasting a settlement", envelope).await
    }
}

/// A `ReceiptSettled` log, decoded (`None` for any other log).
fn settled(log: &Log) -> Option<SettledReceipt> {
    let decoded = log.log_decode::<IUsageEscrow::ReceiptSettled>().ok()?;
    let event = decoded.inner.data;
    Some(SettledReceipt {
        digest: event.digest,
        tx: log.transaction_hash.unwrap_or_default(),
        block: log.block_number.unwrap_or_default(),
        receipt: event.receipt,
        packed_attribution: event.attribution,
    })
}
