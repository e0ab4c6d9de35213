//! The contracts' events as the projections consume them, and as `raw_events.data` stores them (JSON,
//! tagged with the event name), so that `soil-indexer rebuild` re-derives everything without the RPC.

use alloy::primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, Serialize};

/// Which contract emitted an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Contract {
    /// `DatanetRegistry`.
    DatanetRegistry,
    /// `ModelRegistry`.
    ModelRegistry,
    /// `UsageEscrow`.
    UsageEscrow,
    /// `UsageChannels`.
    UsageChannels,
}

impl Contract {
    /// The contract's name as stored in `raw_events.contract` and `parameters.contract`.
    pub fn name(self) -> &'static str {
        match self {
            Self::DatanetRegistry => "DatanetRegistry",
            Self::ModelRegistry => "ModelRegistry",
            Self::UsageEscrow => "UsageEscrow",
            Self::UsageChannels => "UsageChannels",
        }
    }
}

/// One decoded event of Soil's contracts. Field names follow the Solidity events (camelCase in JSON).
#[allow(missing_docs)] // the fields are the Solidity events' parameters, documented in the interfaces
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all_fields = "camelCase")]
pub enum SoilEvent {
    // DatanetRegistry
    DatanetCreated {
        datanet_id: u64,
        owner: Address,
        min_stake: U256,
        /// Seconds a contribution waits for review before its contributor may withdraw it.
        #[serde(default)]
        review_window: u64,
        /// Most tokens one contribution may count.
        #[serde(default)]
        max_contribution_tokens: u64,
        metadata_uri: String,
        /// The bytes of `metadata_uri` when they are not UTF-8 (it then holds U+FFFD in their place).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata_uri_bytes: Option<Bytes>,
    },
    CuratorSet {
        datanet_id: u64,
        curator: Address,
        enabled: bool,
    },
    ContributionSubmitted {
        contribution_id: u64,
        datanet_id: u64,
        contributor: Address,
        content_hash: B256,
        token_count: u64,
        stake: U256,
        uri: String,
        /// The bytes of `uri` when they are not UTF-8 (it then holds U+FFFD in their place).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uri_bytes: Option<Bytes>,
    },
    ContributionReviewed {
        contribution_id: u64,
        datanet_id: u64,
        curator: Address,
        accepted: bool,
        accepted_seq: u64,
        slashed: U256,
    },
    StakeReturned {
        contribution_id: u64,
        contributor: Address,
        amount: U256,
    },
    /// A pending contribution left unreviewed past its review window was withdrawn: its stake went back.
    ContributionWithdrawn {
        contribution_id: u64,
        datanet_id: u64,
        contributor: Address,
        amount: U256,
    },
    ReleasePublished {
        release_id: u64,
        datanet_id: u64,
        root: B256,
        contribution_count: u64,
        token_count: u64,
    },
    StakeLockPeriodSet {
        period: u64,
    },
    /// `TreasurySet` of either registry or the escrow (see [`RawEvent::contract`]).
    TreasurySet {
        treasury: Address,
    },
    // ModelRegistry
    ModelRegistered {
        model_id: u64,
        owner: Address,
        weights_hash: B256,
        price_per_kilo_token: U256,
        owner_bps: u64,
        data_bps: u64,
        node_bps: u64,
        treasury_bps: u64,
        release_ids: Vec<u64>,
        uri: String,
        /// The bytes of `uri` when they are not UTF-8 (it then holds U+FFFD in their place).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uri_bytes: Option<Bytes>,
    },
    /// A price change, scheduled: receipts whose deadline is at or after `effective_at` pay the new
    /// price, earlier deadlines the one before.
    ModelPriceSet {
        model_id: u64,
        price_per_kilo_token: U256,
        #[serde(default)]
        effective_at: u64,
    },
    ModelOwnerSet {
        model_id: u64,
        owner: Address,
    },
    /// Model `model_id` (registered by the `ModelRegistered` just before) is a LoRA adapter on
    /// `base_model_id`, trained on `trained_on_release_ids` as the manifest at `manifest_uri` records;
    /// each of its receipts pays `base_share_bps` of the fee (out of the owner's share) to the base's
    /// owner.
    AdapterRegistered {
        model_id: u64,
        base_model_id: u64,
        manifest_hash: B256,
        base_share_bps: u64,
        trained_on_release_ids: Vec<u64>,
        /// As decoded: U+FFFD for each invalid UTF-8 sequence (NULs are kept here, replaced when stored).
        manifest_uri: String,
        /// The bytes of `manifest_uri` when they are not UTF-8 (it then holds U+FFFD in their place).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        manifest_uri_bytes: Option<Bytes>,
    },
    /// The share adapters registered on `model_id` from now on pay its owner.
    DerivativeShareSet {
        model_id: u64,
        share_bps: u64,
    },
    // UsageEscrow
    Deposited {
        payer: Address,
        from: Address,
        amount: U256,
    },
    WithdrawalRequested {
        payer: Address,
        amount: U256,
        unlock_at: u64,
    },
    Withdrawn {
        payer: Address,
        amount: U256,
    },
    /// A settled receipt: the whole signed receipt (its fields in the order of `UsageReceipt`), the
    /// digest the escrow computed from it and the packed attribution.
    ReceiptSettled {
        digest: B256,
        payer: Address,
        model_id: u64,
        node: Address,
        #[serde(default)]
        prompt_hash: B256,
        output_hash: B256,
        /// The output URI as text: the signed bytes, with U+FFFD for what is not UTF-8 in them.
        #[serde(rename = "outputURI")]
        output_uri: String,
        /// The signed bytes of the output URI, only when they are not UTF-8 (`output_uri` then differs
        /// from them).
        #[serde(
            default,
            rename = "outputURIBytes",
            skip_serializing_if = "Option::is_none"
        )]
        output_uri_bytes: Option<Bytes>,
        input_tokens: u64,
        output_tokens: u64,
        fee: U256,
        nonce: U256,
        #[serde(default)]
        deadline: u64,
        #[serde(default)]
        attribution_version: u64,
        #[serde(default)]
        attribution_hash: B256,
        attribution: Bytes,
    },
    /// A receipt of a `settle` batch that did not settle: nothing was charged or credited for it.
    ReceiptSkipped {
        /// Its position in the batch.
        index: U256,
        /// The digest the escrow computed from what it was sent.
        digest: B256,
        /// The escrow's error, ABI-encoded.
        reason: Bytes,
    },
    Credited {
        account: Address,
        amount: U256,
    },
    PoolAccrued {
        release_id: u64,
        model_id: u64,
        amount: U256,
        reward_per_token: U256,
    },
    PoolRewardClaimed {
        release_id: u64,
        contribution_id: u64,
        contributor: Address,
        amount: U256,
    },
    Claimed {
        account: Address,
        to: Address,
        amount: U256,
    },
    /// `payer` let `signer` sign receipts for it.
    SignerAuthorized {
        payer: Address,
        signer: Address,
    },
    /// `payer` revoked `signer`: its receipts with deadlines up to `valid_until` still settle.
    SignerRevoked {
        payer: Address,
        signer: Address,
        valid_until: u64,
    },
    /// Tokens the escrow held beyond what it owes went to the treasury (which a `Credited` follows).
    Swept {
        amount: U256,
    },
    WithdrawalDelaySet {
        delay: u64,
    },
    MaxReceiptValiditySet {
        validity: u64,
    },
    /// The escrow's `UsageChannels`, whose vouchers it settles (set once).
    ChannelsSet {
        channels: Address,
    },
    /// EIP-5267: the escrow's (or the channels') EIP-712 domain changed.
    #[serde(rename = "EIP712DomainChanged")]
    Eip712DomainChanged {},
    // UsageChannels
    ChannelOpened {
        channel_id: u64,
        payer: Address,
        node: Address,
        model_id: u64,
        signer: Address,
        deposit: U256,
    },
    ChannelFunded {
        channel_id: u64,
        from: Address,
        amount: U256,
        deposit: U256,
    },
    /// A voucher settled: its digest, the voucher's fields as signed and where the node published the
    /// period's receipts log.
    VoucherSettled {
        channel_id: u64,
        digest: B256,
        period: u64,
        inferences: u64,
        start_fee: U256,
        fee: U256,
        owner_share: U256,
        base_share: U256,
        node_share: U256,
        data_share: U256,
        contribution_ids: Vec<u64>,
        contribution_amounts: Vec<U256>,
        log_root: B256,
        #[serde(rename = "logURI")]
        log_uri: String,
        /// The bytes of `log_uri` when they are not UTF-8 (it then holds U+FFFD in their place).
        #[serde(
            default,
            rename = "logURIBytes",
            skip_serializing_if = "Option::is_none"
        )]
        log_uri_bytes: Option<Bytes>,
    },
    CloseRequested {
        channel_id: u64,
        closes_at: u64,
    },
    ChannelClosed {
        channel_id: u64,
        settled_fee: U256,
        refund: U256,
    },
}

impl SoilEvent {
    /// The Solidity event name (`raw_events.event`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::DatanetCreated { .. } => "DatanetCreated",
            Self::CuratorSet { .. } => "CuratorSet",
            Self::ContributionSubmitted { .. } => "ContributionSubmitted",
            Self::ContributionReviewed { .. } => "ContributionReviewed",
            Self::StakeReturned { .. } => "StakeReturned",
            Self::ContributionWithdrawn { .. } => "ContributionWithdrawn",
            Self::ReleasePublished { .. } => "ReleasePublished",
            Self::StakeLockPeriodSet { .. } => "StakeLockPeriodSet",
            Self::TreasurySet { .. } => "TreasurySet",
            Self::ModelRegistered { .. } => "ModelRegistered",
            Self::ModelPriceSet { .. } => "ModelPriceSet",
            Self::ModelOwnerSet { .. } => "ModelOwnerSet",
            Self::AdapterRegistered { .. } => "AdapterRegistered",
            Self::DerivativeShareSet { .. } => "DerivativeShareSet",
            Self::Deposited { .. } => "Deposited",
            Self::WithdrawalRequested { .. } => "WithdrawalRequested",
            Self::Withdrawn { .. } => "Withdrawn",
            Self::ReceiptSettled { .. } => "ReceiptSettled",
            Self::ReceiptSkipped { .. } => "ReceiptSkipped",
            Self::Credited { .. } => "Credited",
            Self::PoolAccrued { .. } => "PoolAccrued",
            Self::PoolRewardClaimed { .. } => "PoolRewardClaimed",
            Self::Claimed { .. } => "Claimed",
            Self::SignerAuthorized { .. } => "SignerAuthorized",
            Self::SignerRevoked { .. } => "SignerRevoked",
            Self::Swept { .. } => "Swept",
            Self::WithdrawalDelaySet { .. } => "WithdrawalDelaySet",
            Self::MaxReceiptValiditySet { .. } => "MaxReceiptValiditySet",
            Self::ChannelsSet { .. } => "ChannelsSet",
            Self::Eip712DomainChanged {} => "EIP712DomainChanged",
            Self::ChannelOpened { .. } => "ChannelOpened",
            Self::ChannelFunded { .. } => "ChannelFunded",
            Self::VoucherSettled { .. } => "VoucherSettled",
            Self::CloseRequested { .. } => "CloseRequested",
            Self::ChannelClosed { .. } => "ChannelClosed",
        }
    }
}

/// A decoded event with its position on the chain: one row of `raw_events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// The block it was mined in.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: B256,
    /// That block's timestamp, when the RPC returned it with the log.
    pub block_timestamp: Option<u64>,
    /// The transaction.
    pub tx_hash: B256,
    /// The transaction's index in the block.
    pub tx_index: u64,
    /// The log's index in the block.
    pub log_index: u64,
    /// Which contract emitted it.
    pub contract: Contract,
    /// The emitting address.
    pub address: Address,
    /// The event.
    pub event: SoilEvent,
}
