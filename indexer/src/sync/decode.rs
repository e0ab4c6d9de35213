//! Logs of the four contracts decoded with the bindings into [`SoilEvent`]s.

use alloy::primitives::{Address, Bytes, LogData, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::{SolEvent, SolEventInterface, SolValue};
use soil_bindings::Deployment;
use soil_bindings::contracts::IDatanetRegistry::IDatanetRegistryEvents as D;
use soil_bindings::contracts::IModelRegistry::IModelRegistryEvents as M;
use soil_bindings::contracts::IUsageChannels::IUsageChannelsEvents as C;
use soil_bindings::contracts::IUsageEscrow::IUsageEscrowEvents as E;

use crate::error::{IndexerError, Result};
use crate::projection::{Contract, RawEvent, SoilEvent};

/// Decodes the logs of one deployment.
#[derive(Debug, Clone, Copy)]
pub struct Decoder {
    datanet_registry: Address,
    model_registry: Address,
    usage_escrow: Address,
    usage_channels: Address,
}

impl Decoder {
    /// A decoder for `deployment`'s contracts.
    pub fn new(deployment: &Deployment) -> Self {
        Self {
            datanet_registry: deployment.datanet_registry,
            model_registry: deployment.model_registry,
            usage_escrow: deployment.usage_escrow,
            usage_channels: deployment.usage_channels,
        }
    }

    /// The addresses whose logs are fetched.
    pub fn addresses(&self) -> Vec<Address> {
        vec![
            self.datanet_registry,
            self.model_registry,
            self.usage_escrow,
            self.usage_channels,
        ]
    }

    /// Decodes `log`. `Ok(None)` for logs that are not one of the interfaces' events (e.g. an
    /// implementation's `OwnershipTransferred`) or from another address; an error for a log whose
    /// signature is known but whose data does not decode, or that lacks a mined log's fields.
    pub fn decode(&self, log: &Log) -> Result<Option<RawEvent>> {
        let address = log.address();
        let contract = if address == self.datanet_registry {
            Contract::DatanetRegistry
        } else if address == self.model_registry {
            Contract::ModelRegistry
        } else if address == self.usage_escrow {
            Contract::UsageEscrow
        } else if address == self.usage_channels {
            Contract::UsageChannels
        } else {
            return Ok(None);
        };
        let Some(topic0) = log.topic0() else {
            return Ok(None);
        };
        let known = match contract {
            Contract::DatanetRegistry => D::SELECTORS.contains(&topic0.0),
            Contract::ModelRegistry => M::SELECTORS.contains(&topic0.0),
            Contract::UsageEscrow => E::SELECTORS.contains(&topic0.0),
            Contract::UsageChannels => C::SELECTORS.contains(&topic0.0),
        };
        if !known {
            return Ok(None);
        }
        let block_number = log
            .block_number
            .ok_or(IndexerError::IncompleteLog("block number"))?;
        let log_index = log
            .log_index
            .ok_or(IndexerError::IncompleteLog("log index"))?;
        let fail = |reason: String| IndexerError::Decode {
            contract: contract.name(),
            block_number,
            log_index,
            reason,
        };
        let event = match contract {
            Contract::DatanetRegistry => from_datanet_registry(
                D::decode_log(&log.inner)
                    .map_err(|e| fail(e.to_string()))?
                    .data,
                &log.inner.data,
            ),
            Contract::ModelRegistry => from_model_registry(
                M::decode_log(&log.inner)
                    .map_err(|e| fail(e.to_string()))?
                    .data,
                &log.inner.data,
            ),
            Contract::UsageEscrow => from_usage_escrow(
                E::decode_log(&log.inner)
                    .map_err(|e| fail(e.to_string()))?
                    .data,
                &log.inner.data,
            ),
            Contract::UsageChannels => from_usage_channels(
                C::decode_log(&log.inner)
                    .map_err(|e| fail(e.to_string()))?
                    .data,
                &log.inner.data,
            ),
        };
        Ok(Some(RawEvent {
            block_number,
            block_hash: log
                .block_hash
                .ok_or(IndexerError::IncompleteLog("block hash"))?,
            block_timestamp: log.block_timestamp,
            tx_hash: log
                .transaction_hash
                .ok_or(IndexerError::IncompleteLog("transaction hash"))?,
            tx_index: log
                .transaction_index
                .ok_or(IndexerError::IncompleteLog("transaction index"))?,
            log_index,
            contract,
            address,
            event,
        }))
    }
}

fn from_datanet_registry(event: D, data: &LogData) -> SoilEvent {
    match event {
        D::DatanetCreated(e) => SoilEvent::DatanetCreated {
            datanet_id: e.datanetId,
            owner: e.owner,
            min_stake: U256::from(e.minStake),
            review_window: e.reviewWindow,
            max_contribution_tokens: u64::from(e.maxContributionTokens),
            metadata_uri_bytes: raw_bytes(&e.metadataURI, || {
                Some(DatanetCreatedBytes::abi_decode_data(&data.data).ok()?.3)
            }),
            metadata_uri: e.metadataURI,
        },
        D::CuratorSet(e) => SoilEvent::CuratorSet {
            datanet_id: e.datanetId,
            curator: e.curator,
            enabled: e.enabled,
        },
        D::ContributionSubmitted(e) => SoilEvent::ContributionSubmitted {
            contribution_id: e.contributionId,
            datanet_id: e.datanetId,
            contributor: e.contributor,
            content_hash: e.contentHash,
            token_count: u64::from(e.tokenCount),
            stake: U256::from(e.stake),
            uri_bytes: raw_bytes(&e.uri, || {
                Some(
                    ContributionSubmittedBytes::abi_decode_data(&data.data)
                        .ok()?
                        .3,
                )
            }),
            uri: e.uri,
        },
        D::ContributionReviewed(e) => SoilEvent::ContributionReviewed {
            contribution_id: e.contributionId,
            datanet_id: e.datanetId,
            curator: e.curator,
            accepted: e.accepted,
            accepted_seq: u64::from(e.acceptedSeq),
            slashed: U256::from(e.slashed),
        },
        D::StakeReturned(e) => SoilEvent::StakeReturned {
            contribution_id: e.contributionId,
            contributor: e.contributor,
            amount: U256::from(e.amount),
        },
        D::ContributionWithdrawn(e) => SoilEvent::ContributionWithdrawn {
            contribution_id: e.contributionId,
            datanet_id: e.datanetId,
            contributor: e.contributor,
            amount: U256::from(e.amount),
        },
        D::ReleasePublished(e) => SoilEvent::ReleasePublished {
            release_id: e.releaseId,
            datanet_id: e.datanetId,
            root: e.root,
            contribution_count: u64::from(e.contributionCount),
            token_count: e.tokenCount,
        },
        D::StakeLockPeriodSet(e) => SoilEvent::StakeLockPeriodSet { period: e.period },
        D::TreasurySet(e) => SoilEvent::TreasurySet {
            treasury: e.treasury,
        },
    }
}

fn from_model_registry(event: M, data: &LogData) -> SoilEvent {
    match event {
        M::ModelRegistered(e) => SoilEvent::ModelRegistered {
            model_id: e.modelId,
            owner: e.owner,
            weights_hash: e.weightsHash,
            price_per_kilo_token: U256::from(e.pricePerKiloToken),
            owner_bps: u64::from(e.ownerBps),
            data_bps: u64::from(e.dataBps),
            node_bps: u64::from(e.nodeBps),
            treasury_bps: u64::from(e.treasuryBps),
            release_ids: e.releaseIds,
            uri_bytes: raw_bytes(&e.uri, || {
                Some(ModelRegisteredBytes::abi_decode_data(&data.data).ok()?.6)
            }),
            uri: e.uri,
        },
        M::ModelPriceSet(e) => SoilEvent::ModelPriceSet {
            model_id: e.modelId,
            price_per_kilo_token: U256::from(e.pricePerKiloToken),
            effective_at: e.effectiveAt,
        },
        M::ModelOwnerSet(e) => SoilEvent::ModelOwnerSet {
            model_id: e.modelId,
            owner: e.owner,
        },
        M::AdapterRegistered(e) => SoilEvent::AdapterRegistered {
            model_id: e.modelId,
            base_model_id: e.baseModelId,
            manifest_hash: e.manifestHash,
            base_share_bps: u64::from(e.baseShareBps),
            trained_on_release_ids: e.trainedOnReleaseIds,
            manifest_uri_bytes: raw_bytes(&e.manifestUri, || {
                Some(AdapterRegisteredBytes::abi_decode_data(&data.data).ok()?.2)
            }),
            manifest_uri: e.manifestUri,
        },
        M::DerivativeShareSet(e) => SoilEvent::DerivativeShareSet {
            model_id: e.modelId,
            share_bps: u64::from(e.shareBps),
        },
    }
}

alloy::sol! {
    // The events that carry a `string`, declared with `bytes` in its place: ABI-encoded alike, but
    // decoded without the lossy UTF-8 conversion `string` gets (only their data is decoded: the
    // topics, and so the signatures, do not matter).
    event DatanetCreatedBytes(uint64 indexed datanetId, address indexed owner, uint96 minStake, uint64 reviewWindow, uint32 maxContributionTokens, bytes metadataURI);
    event ContributionSubmittedBytes(uint64 indexed contributionId, uint64 indexed datanetId, address indexed contributor, bytes32 contentHash, uint32 tokenCount, uint96 stake, bytes uri);
    event ModelRegisteredBytes(uint64 indexed modelId, address indexed owner, bytes32 indexed weightsHash, uint96 pricePerKiloToken, uint16 ownerBps, uint16 dataBps, uint16 nodeBps, uint16 treasuryBps, uint64[] releaseIds, bytes uri);
    event AdapterRegisteredBytes(uint64 indexed modelId, uint64 indexed baseModelId, bytes32 indexed manifestHash, uint16 baseShareBps, uint64[] trainedOnReleaseIds, bytes manifestUri);

    /// `UsageReceipt` with its output URI read as the bytes it is: ABI-encoded like the `string`, but
    /// decoded without the lossy UTF-8 conversion `string` gets.
    struct ReceiptBytes {
        address payer;
        uint64 modelId;
        address node;
        bytes32 promptHash;
        bytes32 outputHash;
        bytes outputURI;
        uint32 inputTokens;
        uint32 outputTokens;
        uint256 fee;
        uint256 nonce;
        uint64 deadline;
        uint16 attributionVersion;
        bytes32 attributionHash;
    }
}

/// The bytes of an event's `string` when they are not the UTF-8 of `text`, the string as decoded
/// (where the decoder put U+FFFD for each invalid sequence); `None` when they are. `read` decodes them
/// from the event's data, only where `text` holds a U+FFFD.
fn raw_bytes(text: &str, read: impl FnOnce() -> Option<Bytes>) -> Option<Bytes> {
    if !text.contains(char::REPLACEMENT_CHARACTER) {
        return None;
    }
    read().filter(|bytes| bytes.as_ref() != text.as_bytes())
}

fn from_usage_escrow(event: E, data: &LogData) -> SoilEvent {
    match event {
        E::Deposited(e) => SoilEvent::Deposited {
            payer: e.payer,
            from: e.from,
            amount: e.amount,
        },
        E::WithdrawalRequested(e) => SoilEvent::WithdrawalRequested {
            payer: e.payer,
            amount: e.amount,
            unlock_at: e.unlockAt,
        },
        E::Withdrawn(e) => SoilEvent::Withdrawn {
            payer: e.payer,
            amount: e.amount,
        },
        E::ReceiptSettled(e) => {
            let r = e.receipt;
            SoilEvent::ReceiptSettled {
                digest: e.digest,
                payer: r.payer,
                model_id: r.modelId,
                node: r.node,
                prompt_hash: r.promptHash,
                output_hash: r.outputHash,
                output_uri_bytes: raw_bytes(&r.outputURI, || {
                    let (receipt, _attribution) =
                        <(ReceiptBytes, Bytes)>::abi_decode_params(&data.data).ok()?;
                    Some(receipt.outputURI)
                }),
                output_uri: r.outputURI,
                input_tokens: u64::from(r.inputTokens),
                output_tokens: u64::from(r.outputTokens),
                fee: r.fee,
                nonce: r.nonce,
                deadline: r.deadline,
                attribution_version: u64::from(r.attributionVersion),
                attribution_hash: r.attributionHash,
                attribution: e.attribution,
            }
        }
        E::ReceiptSkipped(e) => SoilEvent::ReceiptSkipped {
            index: e.index,
            digest: e.digest,
            reason: e.reason,
        },
        E::Credited(e) => SoilEvent::Credited {
            account: e.account,
            amount: e.amount,
        },
        E::PoolAccrued(e) => SoilEvent::PoolAccrued {
            release_id: e.releaseId,
            model_id: e.modelId,
            amount: e.amount,
            reward_per_token: e.rewardPerToken,
        },
        E::PoolRewardClaimed(e) => SoilEvent::PoolRewardClaimed {
            release_id: e.releaseId,
            contribution_id: e.contributionId,
            contributor: e.contributor,
            amount: e.amount,
        },
        E::Claimed(e) => SoilEvent::Claimed {
            account: e.account,
            to: e.to,
            amount: e.amount,
        },
        E::SignerAuthorized(e) => SoilEvent::SignerAuthorized {
            payer: e.payer,
            signer: e.signer,
        },
        E::SignerRevoked(e) => SoilEvent::SignerRevoked {
            payer: e.payer,
            signer: e.signer,
            valid_until: e.validUntil,
        },
        E::Swept(e) => SoilEvent::Swept { amount: e.amount },
        E::TreasurySet(e) => SoilEvent::TreasurySet {
            treasury: e.treasury,
        },
        E::WithdrawalDelaySet(e) => SoilEvent::WithdrawalDelaySet { delay: e.delay },
        E::MaxReceiptValiditySet(e) => SoilEvent::MaxReceiptValiditySet {
            validity: e.validity,
        },
        E::ChannelsSet(e) => SoilEvent::ChannelsSet {
            channels: e.channels,
        },
        E::EIP712DomainChanged(_) => SoilEvent::Eip712DomainChanged {},
    }
}

fn from_usage_channels(event: C, data: &LogData) -> SoilEvent {
    match event {
        C::ChannelOpened(e) => SoilEvent::ChannelOpened {
            channel_id: e.channelId,
            payer: e.payer,
            node: e.node,
            model_id: e.modelId,
            signer: e.signer,
            deposit: e.deposit,
        },
        C::ChannelFunded(e) => SoilEvent::ChannelFunded {
            channel_id: e.channelId,
            from: e.from,
            amount: e.amount,
            deposit: e.deposit,
        },
        C::VoucherSettled(e) => {
            let v = e.voucher;
            SoilEvent::VoucherSettled {
                channel_id: e.channelId,
                digest: e.digest,
                period: u64::from(v.period),
                inferences: u64::from(v.inferences),
                start_fee: v.startFee,
                fee: v.fee,
                owner_share: v.ownerShare,
                base_share: v.baseShare,
                node_share: v.nodeShare,
                data_share: v.dataShare,
                contribution_ids: v.contributionIds,
                contribution_amounts: v.contributionAmounts,
                log_root: v.logRoot,
                log_uri_bytes: raw_bytes(&e.logURI, || {
                    let (_voucher, uri) =
                        <(soil_bindings::channel::Voucher, Bytes)>::abi_decode_params(&data.data)
                            .ok()?;
                    Some(uri)
                }),
                log_uri: e.logURI,
            }
        }
        C::CloseRequested(e) => SoilEvent::CloseRequested {
            channel_id: e.channelId,
            closes_at: e.closesAt,
        },
        C::ChannelClosed(e) => SoilEvent::ChannelClosed {
            channel_id: e.channelId,
            settled_fee: e.settledFee,
            refund: e.refund,
        },
        C::EIP712DomainChanged(_) => SoilEvent::Eip712DomainChanged {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use soil_bindings::contracts::{IDatanetRegistry, IModelRegistry};

    /// Each `…Bytes` twin declares its event's parameters, with `bytes` for the event's `string`.
    #[test]
    fn the_bytes_twins_declare_their_events_parameters() {
        let twins = [
            (
                DatanetCreatedBytes::SIGNATURE,
                IDatanetRegistry::DatanetCreated::SIGNATURE,
            ),
            (
                ContributionSubmittedBytes::SIGNATURE,
                IDatanetRegistry::ContributionSubmitted::SIGNATURE,
            ),
            (
                ModelRegisteredBytes::SIGNATURE,
                IModelRegistry::ModelRegistered::SIGNATURE,
            ),
            (
                AdapterRegisteredBytes::SIGNATURE,
                IModelRegistry::AdapterRegistered::SIGNATURE,
            ),
        ];
        for (twin, event) in twins {
            let as_string = twin
                .replacen("Bytes(", "(", 1)
                .strip_suffix(",bytes)")
                .map(|params| format!("{params},string)"));
            assert_eq!(as_string.as_deref(), Some(event), "{twin}");
        }
    }
}
