//! The receipts log of a channel period: every inference's receipt and attribution, in order. A voucher's
//! `logRoot` is the Merkle root over `keccak256(abi.encode(uint64 channelId, bytes32 hashStruct(receipt)))`;
//! the node publishes the log as JSON (docs/PROTOCOL.md, "The receipts log").

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    sol_types::{SolStruct, SolValue},
};
use serde::{Deserialize, Serialize};

use crate::{Attribution, BindingsError, merkle, receipt::UsageReceipt};

/// The log format's version.
pub const LOG_VERSION: u32 = 1;

/// One inference of a period: its receipt (the channel's payer, model and node; `nonce` its number in the
/// channel; `deadline` 0) and the attribution its `attributionHash` commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The receipt.
    pub receipt: UsageReceipt,
    /// Its attribution.
    pub attribution: Attribution,
}

impl LogEntry {
    /// The entry's leaf in channel `channel_id`'s log.
    pub fn leaf(&self, channel_id: u64) -> B256 {
        leaf(channel_id, &self.receipt)
    }
}

/// `keccak256(abi.encode(uint64 channelId, bytes32 hashStruct(receipt)))`.
pub fn leaf(channel_id: u64, receipt: &UsageReceipt) -> B256 {
    keccak256((channel_id, receipt.eip712_hash_struct()).abi_encode())
}

/// A period's receipts log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptsLog {
    /// The channel.
    pub channel_id: u64,
    /// The period.
    pub period: u32,
    /// The period's inferences, in order.
    pub entries: Vec<LogEntry>,
}

impl ReceiptsLog {
    /// The leaves, in order.
    pub fn leaves(&self) -> Vec<B256> {
        self.entries
            .iter()
            .map(|e| e.leaf(self.channel_id))
            .collect()
    }

    /// The root a voucher commits to.
    pub fn root(&self) -> B256 {
        merkle::root(self.leaves())
    }

    /// The inclusion proof of entry `index`.
    pub fn proof(&self, index: usize) -> Option<Vec<B256>> {
        merkle::proof(self.leaves(), index)
    }

    /// The published JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let file = LogFile {
            version: LOG_VERSION,
            channel_id: self.channel_id.to_string(),
            period: self.period,
            receipts: self.entries.iter().map(EntryJson::from).collect(),
        };
        serde_json::to_vec(&file).expect("the log serializes")
    }

    /// Parses a published log, checking every receipt's attribution against its `attributionHash`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, BindingsError> {
        let file: LogFile = serde_json::from_slice(bytes)
            .map_err(|e| BindingsError::InvalidLog(format!("not a receipts log: {e}")))?;
        if file.version != LOG_VERSION {
            return Err(BindingsError::InvalidLog(format!(
                "version {} (this reader knows {LOG_VERSION})",
                file.version
            )));
        }
        let channel_id = parse_u64(&file.channel_id, "channelId")?;
        let entries = file
            .receipts
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                e.parse()
                    .map_err(|why| BindingsError::InvalidLog(format!("receipt {i}: {why}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            channel_id,
            period: file.period,
            entries,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LogFile {
    version: u32,
    channel_id: String,
    period: u32,
    receipts: Vec<EntryJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryJson {
    receipt: ReceiptJson,
    attribution: AttributionJson,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReceiptJson {
    payer: Address,
    model_id: String,
    node: Address,
    prompt_hash: B256,
    output_hash: B256,
    #[serde(rename = "outputURI")]
    output_uri: String,
    input_tokens: u32,
    output_tokens: u32,
    fee: String,
    nonce: String,
    deadline: String,
    attribution_version: u16,
    attribution_hash: B256,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AttributionJson {
    contribution_ids: Vec<String>,
    weights_ppm: Vec<u32>,
}

impl From<&LogEntry> for EntryJson {
    fn from(e: &LogEntry) -> Self {
        let r = &e.receipt;
        Self {
            receipt: ReceiptJson {
                payer: r.payer,
                model_id: r.modelId.to_string(),
                node: r.node,
                prompt_hash: r.promptHash,
                output_hash: r.outputHash,
                output_uri: r.outputURI.clone(),
                input_tokens: r.inputTokens,
                output_tokens: r.outputTokens,
                fee: r.fee.to_string(),
                nonce: r.nonce.to_string(),
                deadline: r.deadline.to_string(),
                attribution_version: r.attributionVersion,
                attribution_hash: r.attributionHash,
            },
            attribution: AttributionJson {
                contribution_ids: e
                    .attribution
                    .entries
                    .iter()
                    .map(|(id, _)| id.to_string())
                    .collect(),
                weights_ppm: e.attribution.entries.iter().map(|&(_, w)| w).collect(),
            },
        }
    }
}

impl EntryJson {
    fn parse(self) -> Result<LogEntry, String> {
        let r = self.receipt;
        let receipt = UsageReceipt {
            payer: r.payer,
            modelId: parse_u64(&r.model_id, "modelId").map_err(|e| e.to_string())?,
            node: r.node,
            promptHash: r.prompt_hash,
            outputHash: r.output_hash,
            outputURI: r.output_uri,
            inputTokens: r.input_tokens,
            outputTokens: r.output_tokens,
            fee: parse_u256(&r.fee, "fee")?,
            nonce: parse_u256(&r.nonce, "nonce")?,
            deadline: parse_u64(&r.deadline, "deadline").map_err(|e| e.to_string())?,
            attributionVersion: r.attribution_version,
            attributionHash: r.attribution_hash,
        };
        let a = self.attribution;
        if a.contribution_ids.len() != a.weights_ppm.len() {
            return Err(format!(
                "attribution has {} contributions and {} weights",
                a.contribution_ids.len(),
                a.weights_ppm.len()
            ));
        }
        let entries = a
            .contribution_ids
            .iter()
            .zip(a.weights_ppm)
            .map(|(id, w)| {
                Ok((
                    parse_u64(id, "contributionId").map_err(|e| e.to_string())?,
                    w,
                ))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let attribution = Attribution::new(entries).map_err(|e| e.to_string())?;
        if attribution.hash() != receipt.attributionHash {
            return Err("attribution does not hash to the receipt's attributionHash".into());
        }
        Ok(LogEntry {
            receipt,
            attribution,
        })
    }
}

fn parse_u64(text: &str, field: &str) -> Result<u64, BindingsError> {
    text.parse()
        .map_err(|_| BindingsError::InvalidLog(format!("{field} {text:?} is not a decimal u64")))
}

fn parse_u256(text: &str, field: &str) -> Result<U256, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{field} {text:?} is not a decimal uint256"));
    }
    U256::from_str_radix(text, 10).map_err(|_| format!("{field} {text:?} is not a decimal uint256"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(nonce: u64, ids: &[u64]) -> LogEntry {
        let attribution = Attribution::new(ids.iter().map(|&id| (id, 1000)).collect()).unwrap();
        LogEntry {
            receipt: UsageReceipt {
                payer: Address::repeat_byte(1),
                modelId: 3,
                node: Address::repeat_byte(2),
                promptHash: B256::repeat_byte(3),
                outputHash: keccak256(nonce.to_be_bytes()),
                outputURI: format!("http://127.0.0.1:8080/v1/outputs/{nonce}\u{0}\"\\"),
                inputTokens: 12,
                outputTokens: 30,
                fee: U256::MAX - U256::from(nonce),
                nonce: U256::from(nonce),
                deadline: 0,
                attributionVersion: 1,
                attributionHash: attribution.hash(),
            },
            attribution,
        }
    }

    #[test]
    fn json_round_trips_and_keeps_the_root() {
        let log = ReceiptsLog {
            channel_id: u64::MAX,
            period: 4,
            entries: vec![entry(1, &[5, 9]), entry(2, &[]), entry(3, &[u64::MAX])],
        };
        let parsed = ReceiptsLog::from_json(&log.to_json()).unwrap();
        assert_eq!(parsed, log);
        assert_eq!(parsed.root(), log.root());
        for i in 0..3 {
            let proof = log.proof(i).unwrap();
            assert!(merkle::verify(
                log.root(),
                log.entries[i].leaf(log.channel_id),
                &proof
            ));
        }
    }

    #[test]
    fn the_leaf_binds_the_channel() {
        let e = entry(1, &[5]);
        assert_ne!(e.leaf(1), e.leaf(2));
    }

    #[test]
    fn a_tampered_log_is_refused_or_changes_the_root() {
        let log = ReceiptsLog {
            channel_id: 1,
            period: 0,
            entries: vec![entry(1, &[5])],
        };
        let text = String::from_utf8(log.to_json()).unwrap();
        let wrong_attribution = text.replace("\"weightsPpm\":[1000]", "\"weightsPpm\":[1001]");
        let err = ReceiptsLog::from_json(wrong_attribution.as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .contains("receipt 0: attribution does not hash"),
            "{err}"
        );
        let other_tokens = text.replace("\"outputTokens\":30", "\"outputTokens\":31");
        assert_ne!(
            ReceiptsLog::from_json(other_tokens.as_bytes())
                .unwrap()
                .root(),
            log.root()
        );
        let err = ReceiptsLog::from_json(text.replace("\"version\":1", "\"version\":2").as_bytes())
            .unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
        let err = ReceiptsLog::from_json(b"{\"version\":1}").unwrap_err();
        assert!(err.to_string().contains("not a receipts log"), "{err}");
    }
}
