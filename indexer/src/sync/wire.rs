//! A log as `eth_getLogs` sends it, read field by field.
//!
//! alloy's RPC `Log` nests the consensus log (address, then topics and data) with `#[serde(flatten)]`
//! twice, and serde reads a flattened struct by first copying every field of the object, names and
//! values, into an owned buffer, then reading the struct from that. Here the object's fields are
//! read straight into their types, and the result is the same alloy `Log` the decoder takes.

use alloy::primitives::{Address, B256, Bytes, LogData};
use alloy::rpc::types::Log;
use serde::Deserialize;

/// One log of an `eth_getLogs` answer (the fields of the JSON-RPC spec's log object).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireLog {
    address: Address,
    topics: Vec<B256>,
    data: Bytes,
    block_hash: Option<B256>,
    #[serde(default, with = "alloy::serde::quantity::opt")]
    block_number: Option<u64>,
    #[serde(default, with = "alloy::serde::quantity::opt")]
    block_timestamp: Option<u64>,
    transaction_hash: Option<B256>,
    #[serde(default, with = "alloy::serde::quantity::opt")]
    transaction_index: Option<u64>,
    #[serde(default, with = "alloy::serde::quantity::opt")]
    log_index: Option<u64>,
    #[serde(default)]
    removed: bool,
}

impl From<WireLog> for Log {
    fn from(wire: WireLog) -> Self {
        Self {
            inner: alloy::primitives::Log {
                address: wire.address,
                data: LogData::new_unchecked(wire.topics, wire.data),
            },
            block_hash: wire.block_hash,
            block_number: wire.block_number,
            block_timestamp: wire.block_timestamp,
            transaction_hash: wire.transaction_hash,
            transaction_index: wire.transaction_index,
            log_index: wire.log_index,
            removed: wire.removed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log as anvil sends it, and one as a node without the optional fields sends it.
    const LOGS: &str = r#"[
        {"address":"0x5fbdb2315678afecb367f032d93f642f64180aa3",
         "topics":["0x0000000000000000000000000000000000000000000000000000000000000001",
                   "0x0000000000000000000000000000000000000000000000000000000000000002"],
         "data":"0x00ff","blockHash":"0x00000000000000000000000000000000000000000000000000000000000000aa",
         "blockNumber":"0x1b","blockTimestamp":"0x6553f100",
         "transactionHash":"0x00000000000000000000000000000000000000000000000000000000000000bb",
         "transactionIndex":"0x2","logIndex":"0x7","removed":false},
        {"address":"0x5fbdb2315678afecb367f032d93f642f64180aa3","topics":[],"data":"0x",
         "blockHash":null,"blockNumber":null,"transactionHash":null,"transactionIndex":null,
         "logIndex":null}
    ]"#;

    #[test]
    fn reads_the_same_log_as_alloy() {
        let wire: Vec<WireLog> = serde_json::from_str(LOGS).expect("wire logs");
        let ours: Vec<Log> = wire.into_iter().map(Log::from).collect();
        let alloy: Vec<Log> = serde_json::from_str(LOGS).expect("alloy logs");
        assert_eq!(ours, alloy);
        assert_eq!(ours[0].block_number, Some(27));
        assert_eq!(ours[0].topics().len(), 2);
        assert_eq!(ours[1].log_index, None);
    }

    #[test]
    fn a_malformed_field_is_an_error() {
        let short = LOGS.replacen(
            "0x00ff\",\"blockHash\":\"0x00",
            "0x00ff\",\"blockHash\":\"0x",
            1,
        );
        let error = serde_json::from_str::<Vec<WireLog>>(&short).expect_err("a 31-byte hash");
        assert!(error.to_string().contains("line 5"), "{error}");
    }
}
