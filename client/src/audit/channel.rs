//! Auditing a settled channel period. The period's receipts log is fetched from the URI the node named
//! when it settled (`VoucherSettled.logURI`) and checked against the settled voucher with
//! `soil_bindings::channel::verify_log`: the same channel and period, the voucher's `logRoot`, every
//! receipt the channel's own (payer, model, node), and the totals the escrow paid recomputed receipt by
//! receipt with the model's split. Then each chosen receipt is proved
//! into the root (a Merkle inclusion proof) and audited as a settled receipt: its output fetched and its
//! attribution recomputed.

use std::fmt;

use alloy::primitives::{B256, U256};
use serde::Serialize;
use soil_bindings::{
    channel::{Parties, ReceiptsLog, Voucher, verify_log},
    merkle,
};

use super::{Auditor, ReceiptAudit};
use crate::{
    chain::{SettledReceipt, SettledVoucher},
    error::Result,
};

/// Which receipts of a period to audit (the log itself is always checked whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every receipt.
    All,
    /// `n` receipts spread evenly over the log (first and last included).
    Sample(usize),
    /// The receipts with these numbers in the channel (their `nonce`).
    Numbers(Vec<u64>),
}

impl Selection {
    fn indexes(&self, log: &ReceiptsLog) -> Vec<usize> {
        let n = log.entries.len();
        match self {
            Self::All => (0..n).collect(),
            Self::Sample(0) => Vec::new(),
            Self::Sample(k) if *k >= n => (0..n).collect(),
            Self::Sample(1) => vec![0],
            Self::Sample(k) => {
                let mut picked: Vec<usize> = (0..*k).map(|i| i * (n - 1) / (k - 1)).collect();
                picked.dedup();
                picked
            }
            Self::Numbers(numbers) => log
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    numbers
                        .iter()
                        .any(|&number| e.receipt.nonce == U256::from(number))
                })
                .map(|(i, _)| i)
                .collect(),
        }
    }
}

/// One way a period's published log differs from what settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum LogFinding {
    /// The log cannot be fetched from the URI the node named.
    LogUnavailable {
        /// The URI.
        uri: String,
        /// Why.
        reason: String,
    },
    /// The bytes are not a receipts log.
    NotALog {
        /// Why.
        reason: String,
    },
    /// The log does not prove the settled voucher (`soil_bindings::channel::verify_log`).
    LogMismatch {
        /// The first difference.
        reason: String,
    },
    /// A receipt asked for by number is not in the log.
    ReceiptNotInLog {
        /// Its number in the channel.
        number: u64,
    },
}

impl fmt::Display for LogFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LogUnavailable { uri, reason } => {
                write!(f, "receipts log unavailable at {uri}: {reason}")
            }
            Self::NotALog { reason } => write!(f, "not a receipts log: {reason}"),
            Self::LogMismatch { reason } => {
                write!(f, "the log does not prove the settled voucher: {reason}")
            }
            Self::ReceiptNotInLog { number } => write!(f, "no receipt number {number} in the log"),
        }
    }
}

/// A receipt proved into the settled root and audited.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelReceiptAudit {
    /// Its position in the log.
    pub index: usize,
    /// Its number in the channel (the receipt's `nonce`), a decimal string in JSON.
    #[serde(serialize_with = "decimal")]
    pub number: U256,
    /// Its leaf: keccak256(abi.encode(channelId, hashStruct(receipt))).
    pub leaf: B256,
    /// The siblings from the leaf up to the settled `logRoot`.
    pub proof: Vec<B256>,
    /// Whether the proof leads to the settled root.
    pub proved: bool,
    /// The receipt's own audit (output and attribution).
    pub audit: ReceiptAudit,
}

/// The audit of one settled channel period.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeriodAudit {
    /// The voucher's EIP-712 digest.
    pub digest: B256,
    /// The settlement transaction.
    pub tx: B256,
    /// Its block.
    pub block: u64,
    /// The channel.
    pub channel_id: u64,
    /// The period.
    pub period: u32,
    /// Its inferences, as the voucher counts them.
    pub inferences: u32,
    /// The period's fee, a decimal string in JSON.
    #[serde(serialize_with = "decimal")]
    pub fee: U256,
    /// Where the node published the log.
    pub log_uri: String,
    /// The root the voucher commits to.
    pub log_root: B256,
    /// What is wrong with the log as a whole.
    pub findings: Vec<LogFinding>,
    /// The receipts audited.
    pub receipts: Vec<ChannelReceiptAudit>,
    /// Whether the log and every receipt audited passed.
    pub passed: bool,
}

impl Auditor<'_> {
    /// Audits the period `settled` paid, and the receipts of its log that `selection` picks.
    pub async fn audit_period(
        &mut self,
        settled: &SettledVoucher,
        selection: &Selection,
    ) -> Result<PeriodAudit> {
        let voucher = &settled.voucher;
        let mut audit = PeriodAudit {
            digest: settled.digest,
            tx: settled.tx,
            block: settled.block,
            channel_id: voucher.channelId,
            period: voucher.period,
            inferences: voucher.inferences,
            fee: voucher.fee - voucher.startFee,
            log_uri: settled.log_uri.clone(),
            log_root: voucher.logRoot,
            findings: Vec::new(),
            receipts: Vec::new(),
            passed: false,
        };
        let Some(log) = self.fetch_log(settled, &mut audit.findings).await else {
            return Ok(audit);
        };
        self.check_log(voucher, &log, &mut audit.findings).await?;
        if let Selection::Numbers(numbers) = selection {
            for &number in numbers {
                if !log
                    .entries
                    .iter()
                    .any(|e| e.receipt.nonce == U256::from(number))
                {
                    audit.findings.push(LogFinding::ReceiptNotInLog { number });
                }
            }
        }
        let leaves = log.leaves();
        for index in selection.indexes(&log) {
            let entry = &log.entries[index];
            let proof = merkle::proof(leaves.clone(), index).expect("index within the log");
            let leaf = leaves[index];
            let receipt = SettledReceipt {
                digest: leaf,
                tx: settled.tx,
                block: settled.block,
                receipt: entry.receipt.clone(),
                packed_attribution: entry.attribution.to_packed().into(),
            };
            audit.receipts.push(ChannelReceiptAudit {
                index,
                number: entry.receipt.nonce,
                leaf,
                proved: merkle::verify(voucher.logRoot, leaf, &proof),
                proof,
                audit: self.audit(&receipt).await?,
            });
        }
        audit.passed =
            audit.findings.is_empty() && audit.receipts.iter().all(|r| r.proved && r.audit.passed);
        Ok(audit)
    }

    /// The log at the voucher's URI, parsed; `None`, with the finding, when it cannot be had.
    async fn fetch_log(
        &self,
        settled: &SettledVoucher,
        findings: &mut Vec<LogFinding>,
    ) -> Option<ReceiptsLog> {
        let bytes = match self.fetcher.fetch(&settled.log_uri).await {
            Ok(bytes) => bytes,
            Err(err) => {
                findings.push(LogFinding::LogUnavailable {
                    uri: settled.log_uri.clone(),
                    reason: err.to_string(),
                });
                return None;
            }
        };
        match ReceiptsLog::from_json(&bytes) {
            Ok(log) => Some(log),
            Err(err) => {
                findings.push(LogFinding::NotALog {
                    reason: err.to_string(),
                });
                None
            }
        }
    }

    /// The whole log against the voucher, with the channel's parties and the model's split.
    async fn check_log(
        &self,
        voucher: &Voucher,
        log: &ReceiptsLog,
        findings: &mut Vec<LogFinding>,
    ) -> Result<()> {
        let channel = self.chain.channel(voucher.channelId).await?;
        let parties = Parties {
            payer: channel.payer,
            model_id: channel.modelId,
            node: channel.node,
        };
        let terms = self.chain.split_terms(channel.modelId).await?;
        if let Err(mismatch) = verify_log(log, voucher, &parties, &terms) {
            findings.push(LogFinding::LogMismatch {
                reason: mismatch.to_string(),
            });
        }
        Ok(())
    }
}

/// A 256-bit value as a decimal string, as the CLI's JSON writes amounts.
fn decimal<S: serde::Serializer>(
    value: &U256,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{Address, keccak256};
    use soil_bindings::{Attribution, channel::LogEntry, receipt::UsageReceipt};

    use super::*;

    fn log(n: u64) -> ReceiptsLog {
        let entries = (1..=n)
            .map(|nonce| LogEntry {
                receipt: UsageReceipt {
                    payer: Address::repeat_byte(1),
                    modelId: 1,
                    node: Address::repeat_byte(2),
                    promptHash: B256::ZERO,
                    outputHash: keccak256(nonce.to_be_bytes()),
                    outputURI: String::new(),
                    inputTokens: 1,
                    outputTokens: 1,
                    fee: U256::from(nonce),
                    nonce: U256::from(nonce),
                    deadline: 0,
                    attributionVersion: 1,
                    attributionHash: Attribution::default().hash(),
                },
                attribution: Attribution::default(),
            })
            .collect();
        ReceiptsLog {
            channel_id: 1,
            period: 0,
            entries,
        }
    }

    #[test]
    fn a_sample_spreads_over_the_log_ends_included() {
        let ten = log(10);
        assert_eq!(Selection::Sample(3).indexes(&ten), vec![0, 4, 9]);
        assert_eq!(Selection::Sample(1).indexes(&ten), vec![0]);
        assert_eq!(Selection::Sample(0).indexes(&ten), Vec::<usize>::new());
        assert_eq!(Selection::Sample(50).indexes(&ten).len(), 10);
        assert_eq!(Selection::All.indexes(&log(2)), vec![0, 1]);
        assert_eq!(Selection::Numbers(vec![7, 2, 99]).indexes(&ten), vec![1, 6]);
    }
}
