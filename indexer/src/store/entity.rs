//! The mutable rows of the schema (entities and aggregates) as Rust structs. Each one knows its table,
//! key and columns, so the cache in [`crate::projection::state`] can load, journal and upsert them
//! generically.

use alloy::primitives::{Address, B256, U256};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::store::value::{Column, Val};

/// A row type of an entity table.
pub trait Entity: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Its primary key (a tuple, in `KEY_COLUMNS` order).
    type Key: Clone
        + Eq
        + std::hash::Hash
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + std::fmt::Debug;
    /// The table.
    const TABLE: &'static str;
    /// The key's columns.
    const KEY_COLUMNS: &'static [&'static str];
    /// The other columns, in [`Entity::values`] order.
    const COLUMNS: &'static [&'static str];
    /// The key's values, in `KEY_COLUMNS` order.
    fn key_values(key: &Self::Key) -> Vec<Val>;
    /// The row's values, in `COLUMNS` order.
    fn values(&self) -> Vec<Val>;
    /// Reads the row's columns (not the key) from a `SELECT` of `COLUMNS`.
    fn from_row(row: &AnyRow) -> Result<Self>;
}

macro_rules! entity {
    (
        $(#[$meta:meta])*
        $name:ident in $table:literal, key ($($key:ident: $kty:ty),+) {
            $($(#[$fmeta:meta])* $field:ident: $fty:ty,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $fty,)+
        }

        impl Entity for $name {
            type Key = ($($kty,)+);
            const TABLE: &'static str = $table;
            const KEY_COLUMNS: &'static [&'static str] = &[$(stringify!($key)),+];
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];

            fn key_values(key: &Self::Key) -> Vec<Val> {
                let ($($key,)+) = key;
                vec![$(Column::to_val($key)),+]
            }

            fn values(&self) -> Vec<Val> {
                vec![$(Column::to_val(&self.$field)),+]
            }

            fn from_row(row: &AnyRow) -> Result<Self> {
                Ok(Self { $($field: Column::decode(row, stringify!($field), $table)?,)+ })
            }
        }
    };
}

entity! {
    /// A datanet and its aggregates (`datanets`).
    Datanet in "datanets", key (datanet_id: i64) {
        /// Creator.
        owner: Address,
        /// Smallest stake.
        min_stake: U256,
        /// Where its description lives.
        metadata_uri: String,
        /// The chain's bytes of `metadata_uri` (0x hex) when its stored text is not them (they were not
        /// UTF-8, or held a NUL); `None` when it is.
        #[serde(default)]
        metadata_uri_bytes: Option<String>,
        /// Seconds a contribution waits for review before it may be withdrawn.
        #[serde(default)]
        review_window: i64,
        /// Most tokens one contribution may count.
        #[serde(default)]
        max_contribution_tokens: i64,
        /// Block of `DatanetCreated`.
        created_block: i64,
        /// Transaction of `DatanetCreated`.
        created_tx: B256,
        /// Enabled curators.
        curator_count: i64,
        /// Contributions submitted.
        contribution_count: i64,
        /// Contributions accepted.
        accepted_count: i64,
        /// Contributions rejected.
        rejected_count: i64,
        /// Σ token count of accepted contributions.
        accepted_tokens: i64,
        /// Σ stakes slashed.
        slashed: U256,
        /// Releases published.
        release_count: i64,
        /// Σ attribution-edge amounts to its contributions.
        attributed_revenue: U256,
        /// Σ pool accruals to its releases.
        pool_revenue: U256,
        /// attributed + pool.
        revenue: U256,
    }
}

entity! {
    /// A curator of a datanet (`curators`).
    Curator in "curators", key (datanet_id: i64, curator: Address) {
        /// Whether it curates now.
        enabled: bool,
        /// Contributions it accepted.
        accepted_reviews: i64,
        /// Contributions it rejected.
        rejected_reviews: i64,
        /// Last block that changed it.
        updated_block: i64,
    }
}

entity! {
    /// A contribution and its earnings (`contributions`).
    Contribution in "contributions", key (contribution_id: i64) {
        /// Its datanet.
        datanet_id: i64,
        /// Who submitted it.
        contributor: Address,
        /// keccak256 of the document.
        content_hash: B256,
        /// Tokens under the reference tokenizer.
        token_count: i64,
        /// Stake locked.
        stake: U256,
        /// Where the document lives.
        uri: String,
        /// The chain's bytes of `uri` (0x hex) when its stored text is not them (they were not
        /// UTF-8, or held a NUL); `None` when it is.
        #[serde(default)]
        uri_bytes: Option<String>,
        /// `pending`, `accepted`, `rejected` or `withdrawn`.
        status: String,
        /// Position in the accepted set (0 unless accepted).
        accepted_seq: i64,
        /// The curator who reviewed it.
        reviewer: Option<Address>,
        /// Stake slashed on rejection.
        slashed: U256,
        /// Whether the stake went back.
        stake_returned: bool,
        /// Block of submission.
        submitted_block: i64,
        /// Transaction of submission.
        submitted_tx: B256,
        /// Block of review.
        reviewed_block: Option<i64>,
        /// Receipts whose attribution names it, each counted once however often it names it.
        attribution_count: i64,
        /// Σ attribution-edge amounts.
        attributed_earnings: U256,
        /// Σ pool rewards claimed for it.
        pool_earnings: U256,
        /// attributed + pool.
        earnings: U256,
    }
}

entity! {
    /// A release and its pool (`releases`).
    Release in "releases", key (release_id: i64) {
        /// Its datanet.
        datanet_id: i64,
        /// Merkle root of the accepted set.
        root: B256,
        /// Contributions in it.
        contribution_count: i64,
        /// Tokens in it.
        token_count: i64,
        /// Block of publication.
        published_block: i64,
        /// Transaction of publication.
        published_tx: B256,
        /// Latest reward-per-token accumulator (1e18-scaled).
        reward_per_token: U256,
        /// Σ pool accruals.
        pool_accrued: U256,
        /// Σ pool rewards claimed.
        pool_claimed: U256,
    }
}

entity! {
    /// A model, its usage and revenue (`models`).
    Model in "models", key (model_id: i64) {
        /// Current owner.
        owner: Address,
        /// sha256 of the GGUF weights.
        weights_hash: B256,
        /// Where the weights live.
        uri: String,
        /// The chain's bytes of `uri` (0x hex) when its stored text is not them (they were not
        /// UTF-8, or held a NUL); `None` when it is.
        #[serde(default)]
        uri_bytes: Option<String>,
        /// Price per 1,000 tokens of receipts whose deadline is before `next_price_at` (all receipts
        /// when no change is scheduled).
        price_per_kilo_token: U256,
        /// The scheduled price, if a change was set.
        #[serde(default)]
        next_price_per_kilo_token: Option<U256>,
        /// The first receipt deadline the scheduled price applies to.
        #[serde(default)]
        next_price_at: Option<i64>,
        /// Owner share, basis points.
        owner_bps: i64,
        /// Data share, basis points.
        data_bps: i64,
        /// Node share, basis points.
        node_bps: i64,
        /// Treasury share, basis points.
        treasury_bps: i64,
        /// Block of registration.
        registered_block: i64,
        /// Transaction of registration.
        registered_tx: B256,
        /// Receipts settled.
        receipt_count: i64,
        /// Σ input tokens.
        input_tokens: i64,
        /// Σ output tokens.
        output_tokens: i64,
        /// Σ fees.
        revenue: U256,
        /// Σ owner shares.
        owner_revenue: U256,
        /// Σ data shares.
        data_revenue: U256,
        /// Σ node shares.
        node_revenue: U256,
        /// Σ treasury shares.
        treasury_revenue: U256,
        /// Σ data shares paid to attributed contributions.
        attributed_revenue: U256,
        /// Σ data shares accrued to release pools.
        pool_revenue: U256,
        /// For an adapter, the whole model it applies to (`None` for a whole model).
        #[serde(default)]
        base_model_id: Option<i64>,
        /// For an adapter, the part of each fee (bps, out of the owner share) paid to the base's owner.
        #[serde(default)]
        base_share_bps: i64,
        /// For an adapter, sha256 of its training manifest.
        #[serde(default)]
        manifest_hash: Option<B256>,
        /// For an adapter, where its training manifest lives (stored text, see SCHEMA.md).
        #[serde(default)]
        manifest_uri: Option<String>,
        /// The chain's bytes of `manifest_uri` (0x hex) when its stored text is not them (they were not
        /// UTF-8, or held a NUL); `None` when it is.
        #[serde(default)]
        manifest_uri_bytes: Option<String>,
        /// The share (bps) adapters registered on this model from now on pay its owner.
        #[serde(default)]
        derivative_share_bps: i64,
        /// For an adapter, Σ shares of its fees paid to its base's owner.
        #[serde(default)]
        base_revenue: U256,
        /// Σ shares of adapters' fees paid to this model's owner.
        #[serde(default)]
        derivative_revenue: U256,
    }
}

entity! {
    /// An account in any of its roles, with reputation, earnings and balances (`accounts`).
    Account in "accounts", key (address: Address) {
        /// First block it appeared in.
        first_block: i64,
        /// Submitted a contribution.
        is_contributor: bool,
        /// Was made a curator.
        is_curator: bool,
        /// Deposited or paid for a receipt.
        is_payer: bool,
        /// Served a receipt.
        is_node: bool,
        /// Owned a model.
        is_model_owner: bool,
        /// Created a datanet.
        is_datanet_owner: bool,
        /// Contributions submitted.
        contribution_count: i64,
        /// Contributions accepted.
        accepted_count: i64,
        /// Contributions rejected.
        rejected_count: i64,
        /// Σ tokens of accepted contributions.
        accepted_tokens: i64,
        /// Σ stake slashed.
        slashed: U256,
        /// Σ stake returned.
        stake_returned: U256,
        /// Σ attribution-edge amounts to its contributions.
        attributed_earnings: U256,
        /// Σ pool rewards claimed for its contributions.
        pool_earnings: U256,
        /// attributed + pool.
        earnings: U256,
        /// Σ owner shares of its models' fees.
        owner_earnings: U256,
        /// Σ node shares of receipts it served.
        node_earnings: U256,
        /// The part of `owner_earnings` adapters on its models paid it (their derivative share).
        #[serde(default)]
        derivative_earnings: U256,
        /// Σ `Credited`.
        credited: U256,
        /// Σ `Claimed`.
        claimed: U256,
        /// Σ deposits.
        deposited: U256,
        /// Σ withdrawals executed.
        withdrawn: U256,
        /// Σ fees paid.
        spent: U256,
        /// deposited − spent − withdrawn.
        deposit_balance: U256,
        /// Receipts it paid.
        receipts_paid: i64,
        /// Receipts it served as node.
        receipts_served: i64,
    }
}

entity! {
    /// Chain-wide totals (`totals`, one row with id 1).
    Totals in "totals", key (id: i64) {
        /// Events indexed.
        event_count: i64,
        /// Datanets.
        datanet_count: i64,
        /// Contributions.
        contribution_count: i64,
        /// Accepted contributions.
        accepted_count: i64,
        /// Rejected contributions.
        rejected_count: i64,
        /// Releases.
        release_count: i64,
        /// Models.
        model_count: i64,
        /// Receipts settled.
        receipt_count: i64,
        /// Σ input tokens.
        input_tokens: i64,
        /// Σ output tokens.
        output_tokens: i64,
        /// Σ fees.
        fees: U256,
        /// Σ owner shares.
        owner_revenue: U256,
        /// Σ data shares.
        data_revenue: U256,
        /// Σ node shares.
        node_revenue: U256,
        /// Σ treasury shares.
        treasury_revenue: U256,
        /// Σ attribution-edge amounts.
        attributed_revenue: U256,
        /// Σ pool accruals.
        pool_accrued: U256,
        /// Σ pool claims.
        pool_claimed: U256,
        /// Σ `Credited`.
        credited: U256,
        /// Σ `Claimed`.
        claimed: U256,
        /// Σ deposits.
        deposited: U256,
        /// Σ withdrawals.
        withdrawn: U256,
        /// Σ slashed stakes.
        slashed: U256,
        /// Σ `Swept`: tokens the escrow held beyond what it owed, credited to the treasury.
        #[serde(default)]
        swept: U256,
        /// Σ derivative shares of adapters' fees paid to their bases' owners.
        #[serde(default)]
        base_revenue: U256,
    }
}

entity! {
    /// A protocol parameter (`parameters`).
    Parameter in "parameters", key (contract: String, name: String) {
        /// Decimal number or address.
        value: String,
        /// Block that set it.
        updated_block: i64,
    }
}

entity! {
    /// A usage channel (`channels`).
    Channel in "channels", key (channel_id: i64) {
        /// Funds it; gets the rest back when it closes.
        payer: Address,
        /// Runs the model and settles the vouchers.
        node: Address,
        /// The model it pays for.
        model_id: i64,
        /// Signs the vouchers.
        signer: Address,
        /// Tokens locked in it.
        deposit: U256,
        /// Σ fees settled (the cumulative fee of the last settled voucher).
        settled_fee: U256,
        /// The period the next settled voucher belongs to.
        period: i64,
        /// When the payer may close it (0: no close asked for).
        closes_at: i64,
        /// `open`, `closing` (a close was asked for) or `closed`.
        state: String,
        /// What went back to the payer when it closed.
        refund: U256,
        /// Vouchers settled.
        settlement_count: i64,
        /// Block of `ChannelOpened`.
        opened_block: i64,
        /// Transaction of `ChannelOpened`.
        opened_tx: B256,
    }
}

/// Calls `$body` with the entity type named by a table name (for replaying the undo journal).
#[macro_export]
#[doc(hidden)]
macro_rules! with_entity_type {
    ($table:expr, $E:ident => $body:expr, $otherwise:expr) => {{
        use $crate::store::entity::*;
        match $table {
            "datanets" => {
                type $E = Datanet;
                $body
            }
            "curators" => {
                type $E = Curator;
                $body
            }
            "contributions" => {
                type $E = Contribution;
                $body
            }
            "releases" => {
                type $E = Release;
                $body
            }
            "models" => {
                type $E = Model;
                $body
            }
            "accounts" => {
                type $E = Account;
                $body
            }
            "totals" => {
                type $E = Totals;
                $body
            }
            "parameters" => {
                type $E = Parameter;
                $body
            }
            "channels" => {
                type $E = Channel;
                $body
            }
            _ => $otherwise,
        }
    }};
}

impl Default for Totals {
    fn default() -> Self {
        Self {
            event_count: 0,
            datanet_count: 0,
            contribution_count: 0,
            accepted_count: 0,
            rejected_count: 0,
            release_count: 0,
            model_count: 0,
            receipt_count: 0,
            input_tokens: 0,
            output_tokens: 0,
            fees: U256::ZERO,
            owner_revenue: U256::ZERO,
            data_revenue: U256::ZERO,
            node_revenue: U256::ZERO,
            treasury_revenue: U256::ZERO,
            attributed_revenue: U256::ZERO,
            pool_accrued: U256::ZERO,
            pool_claimed: U256::ZERO,
            credited: U256::ZERO,
            claimed: U256::ZERO,
            deposited: U256::ZERO,
            withdrawn: U256::ZERO,
            slashed: U256::ZERO,
            swept: U256::ZERO,
            base_revenue: U256::ZERO,
        }
    }
}

impl Account {
    /// A new account first seen in `block`, with no role and nothing earned.
    pub fn new(block: i64) -> Self {
        Self {
            first_block: block,
            is_contributor: false,
            is_curator: false,
            is_payer: false,
            is_node: false,
            is_model_owner: false,
            is_datanet_owner: false,
            contribution_count: 0,
            accepted_count: 0,
            rejected_count: 0,
            accepted_tokens: 0,
            slashed: U256::ZERO,
            stake_returned: U256::ZERO,
            attributed_earnings: U256::ZERO,
            pool_earnings: U256::ZERO,
            earnings: U256::ZERO,
            owner_earnings: U256::ZERO,
            node_earnings: U256::ZERO,
            derivative_earnings: U256::ZERO,
            credited: U256::ZERO,
            claimed: U256::ZERO,
            deposited: U256::ZERO,
            withdrawn: U256::ZERO,
            spent: U256::ZERO,
            deposit_balance: U256::ZERO,
            receipts_paid: 0,
            receipts_served: 0,
        }
    }
}
