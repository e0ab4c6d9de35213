//! Logs of the three contracts decoded with the bindings into [`SoilEvent`]s.

use alloy::primitives::{Address, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolEventInterface;
use soil_bindings::Deployment;
use soil_bindings::contracts::IDatanetRegistry::IDatanetRegistryEvents as D;
use soil_bindings::contracts::IModelRegistry::IModelRegistryEvents as M;
use soil_bindings::contracts::IUsageEscrow::IUsageEscrowEvents as E;

use crate::error::{IndexerError, Result};
use crate::projection::{Contract, RawEvent, SoilEvent};

/// Decodes the logs of one deployment.
#[derive(Debug, Clone, Copy)]
pub struct Decoder {
    datanet_registry: Address,
    model_registry: Address,
    usage_escrow: Address,
}

impl Decoder {
    /// A decoder for `deployment`'s contracts.
    pub fn new(deployment: &Deployment) -> Self {
        Self {
            datanet_registry: deployment.datanet_registry,
            model_registry: deployment.model_registry,
            usage_escrow: deployment.usage_escrow,
        }
    }

    /// The addresses whose logs are fetched.
    pub fn addresses(&self) -> Vec<Address> {
        vec![
            self.datanet_registry,
            self.model_registry,
            self.usage_escrow,
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
            ),
            Contract::ModelRegistry => from_model_registry(
                M::decode_log(&log.inner)
                    .map_err(|e| fail(e.to_string()))?
                    .data,
            ),
            Contract::UsageEscrow => from_usage_escrow(
                E::decode_log(&log.inner)
                    .map_err(|e| fail(e.to_string()))?
                    .data,
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

fn from_datanet_registry(event: D) -> SoilEvent {
    match event {
        D::DatanetCreated(e) => SoilEvent::DatanetCreated {
            datanet_id: e.datanetId,
            owner: e.owner,
            min_stake: U256::from(e.minStake),
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

fn from_model_registry(event: M) -> SoilEvent {
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
            uri: e.uri,
        },
        M::ModelPriceSet(e) => SoilEvent::ModelPriceSet {
            model_id: e.modelId,
            price_per_kilo_token: U256::from(e.pricePerKiloToken),
        },
        M::ModelOwnerSet(e) => SoilEvent::ModelOwnerSet {
            model_id: e.modelId,
            owner: e.owner,
        },
    }
}

fn from_usage_escrow(event: E) -> SoilEvent {
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
        E::ReceiptSettled(e) => SoilEvent::ReceiptSettled {
            digest: e.digest,
            payer: e.payer,
            model_id: e.modelId,
            node: e.node,
            nonce: e.nonce,
            fee: e.fee,
            input_tokens: u64::from(e.inputTokens),
            output_tokens: u64::from(e.outputTokens),
            output_hash: e.outputHash,
            attribution: e.attribution,
            output_uri: e.outputURI,
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
        E::NoncesInvalidated(e) => SoilEvent::NoncesInvalidated {
            payer: e.payer,
            word_pos: e.wordPos,
            mask: e.mask,
        },
        E::TreasurySet(e) => SoilEvent::TreasurySet {
            treasury: e.treasury,
        },
        E::WithdrawalDelaySet(e) => SoilEvent::WithdrawalDelaySet { delay: e.delay },
        E::MaxReceiptValiditySet(e) => SoilEvent::MaxReceiptValiditySet {
            validity: e.validity,
        },
        E::EIP712DomainChanged(_) => SoilEvent::Eip712DomainChanged {},
    }
}
