//! Auditing settled receipts: what `soil audit` checks, as data.
//!
//! A settled receipt is read back from the escrow's `ReceiptSettled` log (by its digest, or every receipt
//! of a settlement transaction). Its output is fetched from the `outputURI` the payer signed and checked
//! against `outputHash`; the attribution is recomputed from those bytes over the model's releases (merged
//! as a session merges them) under the receipt's `attributionVersion`, and compared with the signed
//! `attributionHash` and with the attribution the log carries. Every difference is a [`Finding`]; a
//! receipt with none passes. What stops the audit itself (the chain unreachable, a release's documents
//! gone) is an error, not a finding. A settled channel period is audited through its receipts log
//! ([`channel`]).

pub mod channel;

use std::{collections::HashMap, fmt, path::PathBuf, time::Duration};

use alloy::primitives::{Address, B256, keccak256};
use serde::Serialize;

use crate::{
    attribution::{self, DocumentFetcher, Index, IndexCache},
    chain::{Chain, SettledReceipt, SettledVoucher},
    error::{ClientError, Result},
    serve::session::sync_releases,
};

/// What an audit needs besides the chain.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Where release indexes are cached.
    pub cache_dir: PathBuf,
    /// How long one fetch (the output, a document) may take.
    pub fetch_timeout: Duration,
}

/// What `id` names: a settled receipt, a settled channel voucher, or a transaction settling either.
#[derive(Debug, Default)]
pub struct Settled {
    /// Receipts settled one by one.
    pub receipts: Vec<SettledReceipt>,
    /// Channel vouchers, each paying a period of receipts.
    pub vouchers: Vec<SettledVoucher>,
}

/// What `id` names: the settled receipt or voucher whose digest it is, else everything settled by the
/// transaction with that hash.
pub async fn find_settled(chain: &Chain, id: B256) -> Result<Settled> {
    if let Some(settled) = chain.settled_receipt(id).await? {
        return Ok(Settled {
            receipts: vec![settled],
            vouchers: Vec::new(),
        });
    }
    if let Some(voucher) = chain.settled_voucher(id).await? {
        return Ok(Settled {
            receipts: Vec::new(),
            vouchers: vec![voucher],
        });
    }
    let Some(receipts) = chain.settled_in_tx(id).await? else {
        return Err(ClientError::NotSettled(id));
    };
    let vouchers = chain.vouchers_settled_in_tx(id).await?;
    if receipts.is_empty() && vouchers.is_empty() {
        return Err(ClientError::NoReceiptsSettled(id));
    }
    Ok(Settled { receipts, vouchers })
}

/// One contribution's weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Weight {
    /// The contribution.
    pub contribution_id: u64,
    /// Its weight in parts per million.
    pub weight_ppm: u32,
}

fn weights(entries: &[(u64, u32)]) -> Vec<Weight> {
    entries
        .iter()
        .map(|&(contribution_id, weight_ppm)| Weight {
            contribution_id,
            weight_ppm,
        })
        .collect()
}

/// One way a settled receipt differs from what its published output gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Finding {
    /// The receipt was attributed under a protocol version this client does not implement, so its
    /// attribution cannot be recomputed.
    UnsupportedVersion {
        /// The receipt's `attributionVersion`.
        version: u16,
        /// The version this client computes.
        supported: u16,
    },
    /// The output cannot be fetched from the receipt's `outputURI` (or the receipt names none).
    OutputUnavailable {
        /// The signed URI.
        uri: String,
        /// Why.
        reason: String,
    },
    /// The bytes at `outputURI` are not the output the payer signed.
    OutputHashMismatch {
        /// The receipt's `outputHash`.
        signed: B256,
        /// keccak256 of the bytes fetched.
        fetched: B256,
    },
    /// The attribution in the log does not hash to the receipt's `attributionHash` (or cannot be decoded).
    SettledAttributionInvalid {
        /// What is wrong.
        reason: String,
    },
    /// The attribution recomputed from the output differs from the one the receipt signs.
    AttributionMismatch {
        /// The receipt's `attributionHash`.
        signed_hash: B256,
        /// The hash of the recomputed attribution.
        recomputed_hash: B256,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedVersion { version, supported } => write!(
                f,
                "unsupported attribution version {version} (this client recomputes version {supported})"
            ),
            Self::OutputUnavailable { uri, reason } if uri.is_empty() => {
                write!(f, "output unavailable: {reason}")
            }
            Self::OutputUnavailable { uri, reason } => {
                write!(f, "output unavailable at {uri}: {reason}")
            }
            Self::OutputHashMismatch { signed, fetched } => write!(
                f,
                "output hash mismatch: the receipt signs {signed}, the published output hashes to {fetched}"
            ),
            Self::SettledAttributionInvalid { reason } => {
                write!(f, "the settled attribution is invalid: {reason}")
            }
            Self::AttributionMismatch {
                signed_hash,
                recomputed_hash,
            } => write!(
                f,
                "attribution mismatch: the receipt signs {signed_hash}, the output recomputes to {recomputed_hash}"
            ),
        }
    }
}

/// The audit of one settled receipt.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptAudit {
    /// The receipt's EIP-712 digest.
    pub digest: B256,
    /// The transaction that settled it.
    pub tx: B256,
    /// Its block.
    pub block: u64,
    /// The payer.
    pub payer: Address,
    /// The model used.
    pub model_id: u64,
    /// The signed output URI.
    pub output_uri: String,
    /// The signed output hash.
    pub output_hash: B256,
    /// The signed attribution protocol version.
    pub attribution_version: u16,
    /// The signed attribution hash.
    pub attribution_hash: B256,
    /// The attribution the settlement log carries.
    pub settled_attribution: Vec<Weight>,
    /// The attribution recomputed from the published output (absent when it could not be: the output
    /// unavailable or not the one signed, or the version unsupported).
    pub recomputed_attribution: Option<Vec<Weight>>,
    /// Its hash.
    pub recomputed_hash: Option<B256>,
    /// Every difference found; none means the receipt passed.
    pub findings: Vec<Finding>,
    /// Whether the receipt passed (no findings).
    pub passed: bool,
}

/// The attribution of `output` under [`attribution::PROTOCOL_VERSION`] over a model's merged index: the
/// one computation an audit repeats, exactly as a session does it (from the published bytes alone).
fn recompute(index: &Index, output: &[u8]) -> attribution::Attribution {
    index.attribute(output)
}

/// Audits settled receipts, keeping each model's index for the next receipt of the same model.
#[derive(Debug)]
pub struct Auditor<'a> {
    chain: &'a Chain,
    config: AuditConfig,
    fetcher: DocumentFetcher,
    models: HashMap<u64, Index>,
}

impl<'a> Auditor<'a> {
    /// An auditor reading `chain`.
    pub fn new(chain: &'a Chain, config: AuditConfig) -> Result<Self> {
        let fetcher = DocumentFetcher::new(config.fetch_timeout)?;
        Ok(Self {
            chain,
            config,
            fetcher,
            models: HashMap::new(),
        })
    }

    /// The model's releases, synced and merged as a session merges them (loaded once per model).
    async fn model(&mut self, model_id: u64) -> Result<&Index> {
        if !self.models.contains_key(&model_id) {
            let model = self.chain.model(model_id).await?;
            let cache = IndexCache::new(self.config.cache_dir.clone());
            let index = sync_releases(self.chain, &cache, &model.releaseIds).await?;
            self.models.insert(model_id, index);
        }
        Ok(&self.models[&model_id])
    }

    /// Audits one settled receipt.
    pub async fn audit(&mut self, settled: &SettledReceipt) -> Result<ReceiptAudit> {
        let receipt = &settled.receipt;
        let mut findings = Vec::new();
        let settled_attribution =
            match soil_bindings::Attribution::from_packed(&settled.packed_attribution) {
                Ok(attribution) => {
                    if attribution.hash() != receipt.attributionHash {
                        findings.push(Finding::SettledAttributionInvalid {
                            reason: format!(
                                "the log's attribution hashes to {}, the receipt signs {}",
                                attribution.hash(),
                                receipt.attributionHash
                            ),
                        });
                    }
                    attribution.entries
                }
                Err(err) => {
                    findings.push(Finding::SettledAttributionInvalid {
                        reason: err.to_string(),
                    });
                    Vec::new()
                }
            };
        let supported = receipt.attributionVersion == attribution::PROTOCOL_VERSION;
        if !supported {
            findings.push(Finding::UnsupportedVersion {
                version: receipt.attributionVersion,
                supported: attribution::PROTOCOL_VERSION,
            });
        }
        let output = self.fetch_output(receipt, &mut findings).await;
        let mut recomputed = None;
        if let (Some(output), true) = (output, supported) {
            let attribution = recompute(self.model(receipt.modelId).await?, &output);
            let hash = attribution.to_receipt().hash();
            if hash != receipt.attributionHash || attribution.weights != settled_attribution {
                findings.push(Finding::AttributionMismatch {
                    signed_hash: receipt.attributionHash,
                    recomputed_hash: hash,
                });
            }
            recomputed = Some((weights(&attribution.weights), hash));
        }
        let (recomputed_attribution, recomputed_hash) = recomputed.unzip();
        Ok(ReceiptAudit {
            digest: settled.digest,
            tx: settled.tx,
            block: settled.block,
            payer: receipt.payer,
            model_id: receipt.modelId,
            output_uri: receipt.outputURI.clone(),
            output_hash: receipt.outputHash,
            attribution_version: receipt.attributionVersion,
            attribution_hash: receipt.attributionHash,
            settled_attribution: weights(&settled_attribution),
            recomputed_attribution,
            recomputed_hash,
            passed: findings.is_empty(),
            findings,
        })
    }

    /// The output the receipt signed, fetched from its URI and checked against its hash; `None`, with
    /// the finding saying why, when it cannot be had.
    async fn fetch_output(
        &self,
        receipt: &soil_bindings::receipt::UsageReceipt,
        findings: &mut Vec<Finding>,
    ) -> Option<Vec<u8>> {
        let uri = &receipt.outputURI;
        if uri.is_empty() {
            findings.push(Finding::OutputUnavailable {
                uri: String::new(),
                reason: "the receipt names no output URI".to_owned(),
            });
            return None;
        }
        let bytes = match self.fetcher.fetch(uri).await {
            Ok(bytes) => bytes,
            Err(err) => {
                findings.push(Finding::OutputUnavailable {
                    uri: uri.clone(),
                    reason: err.to_string(),
                });
                return None;
            }
        };
        let fetched = keccak256(&bytes);
        if fetched != receipt.outputHash {
            findings.push(Finding::OutputHashMismatch {
                signed: receipt.outputHash,
                fetched,
            });
            return None;
        }
        Some(bytes)
    }
}
