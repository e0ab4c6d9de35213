//! Settled channel vouchers, read back from `UsageChannels`' `VoucherSettled` logs (for audits).

use alloy::{
    primitives::B256,
    providers::Provider,
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};
use soil_bindings::{channel::Voucher, contracts::IUsageChannels};

use super::{Chain, tx::rpc_error};
use crate::error::Result;

/// A voucher as a `VoucherSettled` log records it.
#[derive(Debug, Clone)]
pub struct SettledVoucher {
    /// Its EIP-712 digest.
    pub digest: B256,
    /// The settlement transaction.
    pub tx: B256,
    /// The block it settled in.
    pub block: u64,
    /// The voucher as signed.
    pub voucher: Voucher,
    /// Where the node published the period's receipts log.
    pub log_uri: String,
}

impl Chain {
    /// The settled voucher with EIP-712 digest `digest`, if any.
    pub async fn settled_voucher(&self, digest: B256) -> Result<Option<SettledVoucher>> {
        let filter = Filter::new()
            .address(self.deployment.usage_channels)
            .event_signature(IUsageChannels::VoucherSettled::SIGNATURE_HASH)
            .topic2(digest)
            .from_block(self.deployment.start_block);
        let logs = self
            .provider
            .get_logs(&filter)
            .await
            .map_err(|err| rpc_error("reading VoucherSettled events", &err))?;
        Ok(logs.iter().find_map(settled_voucher))
    }

    /// Every voucher settled by transaction `tx`; empty when it settled none or is unknown.
    pub async fn vouchers_settled_in_tx(&self, tx: B256) -> Result<Vec<SettledVoucher>> {
        let receipt = self
            .provider
            .get_transaction_receipt(tx)
            .await
            .map_err(|err| rpc_error("reading a settlement transaction's receipt", &err))?;
        Ok(receipt
            .map(|r| {
                r.inner
                    .logs()
                    .iter()
                    .filter(|log| log.address() == self.deployment.usage_channels)
                    .filter_map(settled_voucher)
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// A `VoucherSettled` log, decoded (`None` for any other log).
fn settled_voucher(log: &Log) -> Option<SettledVoucher> {
    let event = log
        .log_decode::<IUsageChannels::VoucherSettled>()
        .ok()?
        .inner
        .data;
    Some(SettledVoucher {
        digest: event.digest,
        tx: log.transaction_hash.unwrap_or_default(),
        block: log.block_number.unwrap_or_default(),
        voucher: event.voucher,
        log_uri: event.logURI,
    })
}
