//! Sending wallet-signed transactions and turning failures into words.

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{B256, Bytes},
    providers::Provider,
    rpc::types::{TransactionReceipt, TransactionRequest},
    sol_types::SolEvent,
    transports::{RpcError, TransportErrorKind},
};

use soil_bindings::revert::describe;

use super::Chain;
use crate::error::{ClientError, Result};

/// A revert: its raw data (when the node returned it) and a readable reason.
#[derive(Debug, Clone)]
pub struct Revert {
    /// The ABI-encoded custom error, if the node returned one.
    pub data: Option<Bytes>,
    /// The decoded error in words (or the node's message).
    pub reason: String,
}

impl Revert {
    fn from_data(data: Option<Bytes>, fallback: String) -> Self {
        let reason = data
            .as_ref()
            .and_then(describe)
            .or_else(|| {
                data.as_ref()
                    .filter(|d| !d.is_empty())
                    .map(|d| format!("revert data {d}"))
            })
            .unwrap_or(fallback);
        Self { data, reason }
    }
}

/// Where a transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// The node does not know it (never broadcast, or dropped).
    Unknown,
    /// In the mempool, not mined.
    Pending,
    /// Mined successfully in this block.
    Succeeded(u64),
    /// Mined and reverted in this block.
    Failed(u64),
}

/// An RPC failure as a [`ClientError`].
pub(crate) fn rpc_error(action: &str, err: &RpcError<TransportErrorKind>) -> ClientError {
    ClientError::Rpc {
        action: action.to_owned(),
        reason: with_causes(err),
    }
}

/// `err` followed by each of its causes that its own message leaves out ("error sending request …:
/// operation timed out"): transport errors name what went wrong only in their sources.
pub(crate) fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(source) = cause {
        let message = source.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = source.source();
    }
    text
}

/// A contract error as a [`ClientError`]: reverts decoded, transport errors kept.
pub(crate) fn contract_error(action: &str, err: &alloy::contract::Error) -> ClientError {
    match err.as_revert_data() {
        Some(data) => ClientError::Reverted {
            action: action.to_owned(),
            reason: Revert::from_data(Some(data), err.to_string()).reason,
        },
        None if err.to_string().contains("revert") => ClientError::Reverted {
            action: action.to_owned(),
            reason: err.to_string(),
        },
        None => ClientError::Rpc {
            action: action.to_owned(),
            reason: with_causes(err),
        },
    }
}

impl Chain {
    /// Sends a transaction built by a contract call, waits until it is mined and checks it succeeded.
    pub(crate) async fn send(
        &self,
        action: &str,
        tx: TransactionRequest,
    ) -> Result<TransactionReceipt> {
        let pending = self
            .provider
            .send_transaction(tx.from(self.account))
            .await
            .map_err(
                |err| match err.as_error_resp().and_then(|resp| resp.as_revert_data()) {
                    Some(data) => ClientError::Reverted {
                        action: action.to_owned(),
                        reason: Revert::from_data(Some(data), err.to_string()).reason,
                    },
                    None => rpc_error(action, &err),
                },
            )?;
        let receipt = pending
            .with_timeout(Some(super::MINING_TIMEOUT))
            .get_receipt()
            .await
            .map_err(|err| ClientError::Rpc {
                action: format!("{action} (waiting for the transaction to be mined)"),
                reason: with_causes(&err),
            })?;
        if !receipt.status() {
            return Err(ClientError::TransactionFailed {
                action: action.to_owned(),
                tx: receipt.transaction_hash,
            });
        }
        tracing::debug!(action, tx = %receipt.transaction_hash, gas = receipt.gas_used, "transaction mined");
        Ok(receipt)
    }

    /// Fills and signs `tx` without broadcasting it, so its hash can be recorded first. Returns the
    /// revert when gas estimation shows the transaction would fail.
    pub(crate) async fn sign_offline(
        &self,
        action: &str,
        tx: TransactionRequest,
    ) -> Result<std::result::Result<alloy::consensus::TxEnvelope, Revert>> {
        let mut tx = tx
            .from(self.account)
            .with_chain_id(self.deployment.chain_id);
        let gas = match self.provider.estimate_gas(tx.clone()).await {
            Ok(gas) => gas,
            Err(err) => {
                if let Some(resp) = err.as_error_resp()
                    && (resp.as_revert_data().is_some() || resp.message.contains("revert"))
                {
                    return Ok(Err(Revert::from_data(
                        resp.as_revert_data(),
                        resp.message.to_string(),
                    )));
                }
                return Err(rpc_error(action, &err));
            }
        };
        let nonce = self
            .provider
            .get_transaction_count(self.account)
            .pending()
            .await
            .map_err(|err| rpc_error(action, &err))?;
        let fees = self
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(|err| rpc_error(action, &err))?;
        // 20 % headroom over the estimate: the batch's storage writes can vary with the block's state.
        tx.set_gas_limit(gas + gas / 5);
        tx.set_nonce(nonce);
        tx.set_max_fee_per_gas(fees.max_fee_per_gas);
        tx.set_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        let envelope =
            <TransactionRequest as TransactionBuilder<alloy::network::Ethereum>>::build::<
                EthereumWallet,
            >(tx, &self.wallet)
            .await
            .map_err(|err| ClientError::Rpc {
                action: action.to_owned(),
                reason: format!("signing: {err}"),
            })?;
        Ok(Ok(envelope))
    }

    /// Broadcasts a transaction signed by [`Chain::sign_offline`]. A node that already has it is not an error.
    pub(crate) async fn broadcast(
        &self,
        action: &str,
        envelope: alloy::consensus::TxEnvelope,
    ) -> Result<B256> {
        let hash = *envelope.tx_hash();
        match self.provider.send_tx_envelope(envelope).await {
            Ok(_) => Ok(hash),
            Err(err) if err.to_string().to_lowercase().contains("already") => Ok(hash),
            Err(err) => Err(rpc_error(action, &err)),
        }
    }

    /// Where transaction `hash` stands.
    pub async fn tx_status(&self, hash: B256) -> Result<TxStatus> {
        let action = "checking a settlement transaction";
        if let Some(receipt) = self
            .provider
            .get_transaction_receipt(hash)
            .await
            .map_err(|err| rpc_error(action, &err))?
        {
            let block = receipt.block_number.unwrap_or_default();
            return Ok(if receipt.status() {
                TxStatus::Succeeded(block)
            } else {
                TxStatus::Failed(block)
            });
        }
        let known = self
            .provider
            .get_transaction_by_hash(hash)
            .await
            .map_err(|err| rpc_error(action, &err))?;
        Ok(if known.is_some() {
            TxStatus::Pending
        } else {
            TxStatus::Unknown
        })
    }
}

/// The first `E` event a mined transaction emitted.
pub(crate) fn event<E: SolEvent>(receipt: &TransactionReceipt) -> Option<E> {
    receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| log.log_decode::<E>().ok().map(|decoded| decoded.inner.data))
}

/// A mined transaction that emitted no event to read the new id from.
pub(crate) fn missing_event(action: &str) -> ClientError {
    ClientError::Rpc {
        action: action.to_owned(),
        reason: "the transaction emitted no event to read the new id from".to_owned(),
    }
}
