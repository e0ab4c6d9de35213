//! The insert-only tables: one row per event (or per part of one), each with its `block_number`, so a
//! revert deletes the rows above the common ancestor.

use alloy::primitives::{Address, B256, U256};

use crate::store::rows::RowSet;
use crate::store::value::{Column, Val};

/// The fact tables, for reverts and rebuilds. `voucher_settlements` comes first: the log fetcher writes
/// a settlement's receipts in a transaction that holds its row, so a revert, deleting that row first,
/// waits for such a write and then deletes its receipts too.
pub const FACT_TABLES: &[&str] = &[
    "voucher_settlements",
    "voucher_contributions",
    "model_releases",
    "model_trained_on",
    "receipts",
    "attribution_edges",
    "pool_accruals",
    "pool_claims",
    "credits",
    "claims",
    "deposits",
    "withdrawals",
    "stake_returns",
    "reviews",
    "skipped_receipts",
];

/// Columns of `raw_events`.
pub const RAW_EVENT_COLUMNS: &[&str] = &[
    "chain_id",
    "block_number",
    "block_hash",
    "block_timestamp",
    "tx_hash",
    "tx_index",
    "log_index",
    "contract",
    "address",
    "event",
    "data",
];

/// Columns of `receipts` that every receipt fills, settled alone or in a channel's voucher.
pub const RECEIPT_COLUMNS: &[&str] = &[
    "digest",
    "payer",
    "model_id",
    "node",
    "nonce",
    "fee",
    "input_tokens",
    "output_tokens",
    "prompt_hash",
    "output_hash",
    "output_uri",
    "output_uri_bytes",
    "deadline",
    "attribution_version",
    "attribution_hash",
    "attribution",
    "owner_amount",
    "data_amount",
    "node_amount",
    "treasury_amount",
    "attributed_amount",
    "unattributed_amount",
    "base_amount",
    "base_owner",
    "block_number",
    "block_timestamp",
    "tx_hash",
    "log_index",
];

/// A row of `receipts` in [`RECEIPT_COLUMNS`].
#[derive(Debug, Clone)]
#[allow(missing_docs)] // each field is the column of the same name, see SCHEMA.md
pub struct Receipt {
    pub digest: B256,
    pub payer: Address,
    pub model_id: i64,
    pub node: Address,
    pub nonce: U256,
    pub fee: U256,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub prompt_hash: B256,
    pub output_hash: B256,
    pub output_uri: String,
    pub output_uri_bytes: Option<String>,
    pub deadline: i64,
    pub attribution_version: i64,
    pub attribution_hash: B256,
    pub attribution: String,
    pub owner_amount: U256,
    pub data_amount: U256,
    pub node_amount: U256,
    pub treasury_amount: U256,
    pub attributed_amount: U256,
    pub unattributed_amount: U256,
    pub base_amount: U256,
    pub base_owner: Option<Address>,
    pub block_number: i64,
    pub block_timestamp: Option<i64>,
    pub tx_hash: B256,
    pub log_index: i64,
}

impl Receipt {
    /// Its values, in [`RECEIPT_COLUMNS`] order.
    pub fn values(self) -> Vec<Val> {
        vec![
            self.digest.to_val(),
            self.payer.to_val(),
            Val::Int(self.model_id),
            self.node.to_val(),
            self.nonce.to_val(),
            self.fee.to_val(),
            Val::Int(self.input_tokens),
            Val::Int(self.output_tokens),
            self.prompt_hash.to_val(),
            self.output_hash.to_val(),
            Val::Text(self.output_uri),
            self.output_uri_bytes.map_or(Val::NullText, Val::Text),
            Val::Int(self.deadline),
            Val::Int(self.attribution_version),
            self.attribution_hash.to_val(),
            Val::Text(self.attribution),
            self.owner_amount.to_val(),
            self.data_amount.to_val(),
            self.node_amount.to_val(),
            self.treasury_amount.to_val(),
            self.attributed_amount.to_val(),
            self.unattributed_amount.to_val(),
            self.base_amount.to_val(),
            self.base_owner.to_val(),
            Val::Int(self.block_number),
            self.block_timestamp.to_val(),
            self.tx_hash.to_val(),
            Val::Int(self.log_index),
        ]
    }
}

/// Columns of `receipts` that only a receipt settled in a channel's voucher fills, after
/// [`RECEIPT_COLUMNS`].
pub const CHANNEL_RECEIPT_COLUMNS: &[&str] = &[
    "settlement",
    "channel_id",
    "channel_period",
    "channel_position",
];

/// Columns of `attribution_edges`.
pub const ATTRIBUTION_EDGE_COLUMNS: &[&str] = &[
    "digest",
    "position",
    "contribution_id",
    "contributor",
    "datanet_id",
    "model_id",
    "weight_ppm",
    "amount",
    "block_number",
    "fee",
];

/// A row of `attribution_edges` in [`ATTRIBUTION_EDGE_COLUMNS`].
#[derive(Debug, Clone)]
#[allow(missing_docs)] // each field is the column of the same name, see SCHEMA.md
pub struct AttributionEdge {
    pub digest: B256,
    pub position: i64,
    pub contribution_id: i64,
    pub contributor: Address,
    pub datanet_id: i64,
    pub model_id: i64,
    pub weight_ppm: i64,
    pub amount: U256,
    pub block_number: i64,
    pub fee: U256,
}

impl AttributionEdge {
    /// Its values, in [`ATTRIBUTION_EDGE_COLUMNS`] order.
    pub fn values(self) -> Vec<Val> {
        vec![
            self.digest.to_val(),
            Val::Int(self.position),
            Val::Int(self.contribution_id),
            self.contributor.to_val(),
            Val::Int(self.datanet_id),
            Val::Int(self.model_id),
            Val::Int(self.weight_ppm),
            self.amount.to_val(),
            Val::Int(self.block_number),
            self.fee.to_val(),
        ]
    }
}

/// The fact rows of one batch, one set per table.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // each field is the table of the same name, see SCHEMA.md
pub struct Facts {
    pub voucher_settlements: RowSet,
    pub voucher_contributions: RowSet,
    pub model_releases: RowSet,
    pub model_trained_on: RowSet,
    pub receipts: RowSet,
    pub attribution_edges: RowSet,
    pub pool_accruals: RowSet,
    pub pool_claims: RowSet,
    pub credits: RowSet,
    pub claims: RowSet,
    pub deposits: RowSet,
    pub withdrawals: RowSet,
    pub stake_returns: RowSet,
    pub reviews: RowSet,
    pub skipped_receipts: RowSet,
}

const EVENT: [&str; 3] = ["block_number", "log_index", "tx_hash"];

fn event_set(table: &'static str, rest: &[&'static str]) -> RowSet {
    let columns: Vec<&'static str> = EVENT.iter().chain(rest).copied().collect();
    RowSet::insert(table, &columns)
}

impl Default for Facts {
    fn default() -> Self {
        Self {
            voucher_settlements: RowSet::insert(
                "voucher_settlements",
                &[
                    "digest",
                    "channel_id",
                    "period",
                    "inferences",
                    "start_fee",
                    "fee",
                    "amount",
                    "owner_share",
                    "base_share",
                    "node_share",
                    "data_share",
                    "log_root",
                    "log_uri",
                    "log_uri_bytes",
                    "block_number",
                    "block_timestamp",
                    "tx_hash",
                    "log_index",
                ],
            ),
            voucher_contributions: RowSet::insert(
                "voucher_contributions",
                &[
                    "digest",
                    "position",
                    "contribution_id",
                    "contributor",
                    "datanet_id",
                    "model_id",
                    "amount",
                    "block_number",
                ],
            ),
            model_releases: RowSet::insert(
                "model_releases",
                &["model_id", "release_id", "position", "block_number"],
            ),
            model_trained_on: RowSet::insert(
                "model_trained_on",
                &["model_id", "release_id", "position", "block_number"],
            ),
            receipts: RowSet::insert("receipts", RECEIPT_COLUMNS),
            attribution_edges: RowSet::insert("attribution_edges", ATTRIBUTION_EDGE_COLUMNS),
            pool_accruals: event_set(
                "pool_accruals",
                &["release_id", "model_id", "amount", "reward_per_token"],
            ),
            pool_claims: event_set(
                "pool_claims",
                &["release_id", "contribution_id", "contributor", "amount"],
            ),
            credits: event_set("credits", &["account", "amount"]),
            claims: event_set("claims", &["account", "recipient", "amount"]),
            deposits: event_set("deposits", &["payer", "sender", "amount"]),
            withdrawals: event_set("withdrawals", &["payer", "kind", "amount", "unlock_at"]),
            stake_returns: event_set(
                "stake_returns",
                &["contribution_id", "contributor", "amount"],
            ),
            reviews: event_set(
                "reviews",
                &[
                    "contribution_id",
                    "datanet_id",
                    "curator",
                    "accepted",
                    "accepted_seq",
                    "slashed",
                ],
            ),
            skipped_receipts: event_set("skipped_receipts", &["batch_index", "digest", "reason"]),
        }
    }
}

impl Facts {
    /// Every set, to read.
    pub fn sets(&self) -> [&RowSet; 15] {
        [
            &self.voucher_settlements,
            &self.voucher_contributions,
            &self.model_releases,
            &self.model_trained_on,
            &self.receipts,
            &self.attribution_edges,
            &self.pool_accruals,
            &self.pool_claims,
            &self.credits,
            &self.claims,
            &self.deposits,
            &self.withdrawals,
            &self.stake_returns,
            &self.reviews,
            &self.skipped_receipts,
        ]
    }

    /// Every set, to write.
    pub fn into_sets(self) -> [RowSet; 15] {
        [
            self.voucher_settlements,
            self.voucher_contributions,
            self.model_releases,
            self.model_trained_on,
            self.receipts,
            self.attribution_edges,
            self.pool_accruals,
            self.pool_claims,
            self.credits,
            self.claims,
            self.deposits,
            self.withdrawals,
            self.stake_returns,
            self.reviews,
            self.skipped_receipts,
        ]
    }
}
