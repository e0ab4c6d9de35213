//! `DatanetRegistry`: datanets, contributions, reviews and releases.

use std::collections::BTreeMap;

use alloy::{
    primitives::{Address, B256, U256, aliases::U96},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use soil_bindings::contracts::IDatanetRegistry::{self, IDatanetRegistryInstance};

use super::{
    Chain,
    tx::{contract_error, event, missing_event, rpc_error},
};
use crate::error::{ClientError, Result};

/// A member of a release: an accepted contribution and the hash its document must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseMember {
    /// The contribution id.
    pub contribution_id: u64,
    /// keccak256 of the document's bytes.
    pub content_hash: B256,
}

/// A contribution as its `ContributionSubmitted` event recorded it, with its current state.
#[derive(Debug, Clone)]
pub struct ContributionRecord {
    /// The contribution id.
    pub id: u64,
    /// The datanet it was submitted to.
    pub datanet_id: u64,
    /// Where the document lives.
    pub uri: String,
    /// Its current on-chain state.
    pub state: IDatanetRegistry::Contribution,
}

/// What a datanet is created with.
#[derive(Debug, Clone)]
pub struct DatanetTerms {
    /// Where the datanet's description lives.
    pub metadata_uri: String,
    /// Smallest stake a contribution must lock.
    pub min_stake: U96,
    /// Seconds a contribution may wait for review before its contributor may withdraw it.
    pub review_window: u64,
    /// Largest token count one contribution may declare.
    pub max_contribution_tokens: u32,
    /// Initial curators (contributions need at least one).
    pub curators: Vec<Address>,
}

impl Chain {
    fn datanets(&self) -> IDatanetRegistryInstance<&alloy::providers::DynProvider> {
        IDatanetRegistry::new(self.deployment.datanet_registry, &self.provider)
    }

    /// Creates a datanet; returns its id.
    pub async fn create_datanet(&self, terms: &DatanetTerms) -> Result<u64> {
        let action = "creating the datanet";
        let tx = self
            .datanets()
            .createDatanet(
                terms.metadata_uri.clone(),
                terms.min_stake,
                terms.review_window,
                terms.max_contribution_tokens,
                terms.curators.clone(),
            )
            .into_transaction_request();
        let receipt = self.send(action, tx).await?;
        event::<IDatanetRegistry::DatanetCreated>(&receipt)
            .map(|e| e.datanetId)
            .ok_or_else(|| missing_event(action))
    }

    /// Submits a contribution, approving the stake for the registry first if needed; returns its id.
    pub async fn contribute(
        &self,
        datanet_id: u64,
        content_hash: B256,
        token_count: u32,
        uri: &str,
        stake: U96,
    ) -> Result<u64> {
        let action = "submitting the contribution";
        let datanet = self.datanet(datanet_id).await?;
        if datanet.curatorCount == 0 {
            return Err(ClientError::OutOfRange {
                what: "datanet (it has no curator to review contributions)",
                value: datanet_id.to_string(),
            });
        }
        if token_count > datanet.maxContributionTokens {
            return Err(ClientError::OutOfRange {
                what: "token count (above the datanet's largest contribution)",
                value: format!("{token_count} > {}", datanet.maxContributionTokens),
            });
        }
        if stake < datanet.minStake {
            return Err(ClientError::OutOfRange {
                what: "stake (below the datanet's minimum stake)",
                value: format!("{stake} < {}", datanet.minStake),
            });
        }
        self.ensure_allowance(self.deployment.datanet_registry, U256::from(stake))
            .await?;
        let tx = self
            .datanets()
            .contribute(datanet_id, content_hash, token_count, uri.to_owned(), stake)
            .into_transaction_request();
        let receipt = self.send(action, tx).await?;
        event::<IDatanetRegistry::ContributionSubmitted>(&receipt)
            .map(|e| e.contributionId)
            .ok_or_else(|| missing_event(action))
    }

    /// Withdraws the wallet's contribution left unreviewed past its datanet's review window; the stake
    /// comes back.
    pub async fn withdraw_contribution(&self, contribution_id: u64) -> Result<()> {
        let action = format!("withdrawing contribution {contribution_id}");
        let tx = self
            .datanets()
            .withdrawContribution(contribution_id)
            .into_transaction_request();
        self.send(&action, tx).await.map(drop)
    }

    /// Accepts or rejects a pending contribution (curators only).
    pub async fn review(&self, contribution_id: u64, accept: bool) -> Result<()> {
        let action = format!("reviewing contribution {contribution_id}");
        let tx = self
            .datanets()
            .review(contribution_id, accept)
            .into_transaction_request();
        self.send(&action, tx).await.map(drop)
    }

    /// Publishes a release of `count` accepted contributions with Merkle root `root`; returns its id.
    pub async fn publish_release(&self, datanet_id: u64, root: B256, count: u32) -> Result<u64> {
        let action = format!("publishing a release of datanet {datanet_id}");
        let tx = self
            .datanets()
            .publishRelease(datanet_id, root, count)
            .into_transaction_request();
        let receipt = self.send(&action, tx).await?;
        event::<IDatanetRegistry::ReleasePublished>(&receipt)
            .map(|e| e.releaseId)
            .ok_or_else(|| missing_event(&action))
    }

    /// A datanet by id.
    pub async fn datanet(&self, datanet_id: u64) -> Result<IDatanetRegistry::Datanet> {
        let datanet = self
            .datanets()
            .getDatanet(datanet_id)
            .call()
            .await
            .map_err(|err| {
                if err
                    .as_decoded_error::<IDatanetRegistry::UnknownDatanet>()
                    .is_some()
                {
                    ClientError::UnknownDatanet(datanet_id)
                } else {
                    contract_error(&format!("reading datanet {datanet_id}"), &err)
                }
            })?;
        if datanet.owner == Address::ZERO {
            return Err(ClientError::UnknownDatanet(datanet_id));
        }
        Ok(datanet)
    }

    /// Number of datanets created.
    pub async fn datanet_count(&self) -> Result<u64> {
        self.datanets()
            .datanetCount()
            .call()
            .await
            .map_err(|err| contract_error("counting datanets", &err))
    }

    /// Number of releases published.
    pub async fn release_count(&self) -> Result<u64> {
        self.datanets()
            .releaseCount()
            .call()
            .await
            .map_err(|err| contract_error("counting releases", &err))
    }

    /// A contribution by id.
    pub async fn contribution(
        &self,
        contribution_id: u64,
    ) -> Result<IDatanetRegistry::Contribution> {
        self.datanets()
            .getContribution(contribution_id)
            .call()
            .await
            .map_err(|err| contract_error(&format!("reading contribution {contribution_id}"), &err))
    }

    /// A release by id.
    pub async fn release(&self, release_id: u64) -> Result<IDatanetRegistry::Release> {
        let release = self
            .datanets()
            .getRelease(release_id)
            .call()
            .await
            .map_err(|err| {
                if err
                    .as_decoded_error::<IDatanetRegistry::UnknownRelease>()
                    .is_some()
                {
                    ClientError::UnknownRelease(release_id)
                } else {
                    contract_error(&format!("reading release {release_id}"), &err)
                }
            })?;
        if release.datanetId == 0 {
            return Err(ClientError::UnknownRelease(release_id));
        }
        Ok(release)
    }

    /// The first `count` accepted contributions of a datanet, in `acceptedSeq` order.
    pub async fn accepted_set(&self, datanet_id: u64, count: u32) -> Result<Vec<ReleaseMember>> {
        let mut members = Vec::with_capacity(count as usize);
        for seq in 1..=count {
            let contribution_id = self
                .datanets()
                .acceptedContributionAt(datanet_id, seq)
                .call()
                .await
                .map_err(|err| {
                    contract_error(
                        &format!("reading accepted contribution #{seq} of datanet {datanet_id}"),
                        &err,
                    )
                })?;
            let contribution = self.contribution(contribution_id).await?;
            members.push(ReleaseMember {
                contribution_id,
                content_hash: contribution.contentHash,
            });
        }
        Ok(members)
    }

    /// The members of a release (with the release itself).
    pub async fn release_members(
        &self,
        release_id: u64,
    ) -> Result<(IDatanetRegistry::Release, Vec<ReleaseMember>)> {
        let release = self.release(release_id).await?;
        let members = self
            .accepted_set(release.datanetId, release.contributionCount)
            .await?;
        Ok((release, members))
    }

    /// The URIs of contributions, from their `ContributionSubmitted` events since the deployment's start
    /// block (the URI is emitted, not stored).
    pub async fn contribution_uris(&self, ids: &[u64]) -> Result<BTreeMap<u64, String>> {
        let topics: Vec<B256> = ids.iter().map(|&id| B256::from(U256::from(id))).collect();
        let filter = Filter::new()
            .address(self.deployment.datanet_registry)
            .event_signature(IDatanetRegistry::ContributionSubmitted::SIGNATURE_HASH)
            .topic1(topics)
            .from_block(self.deployment.start_block);
        let uris: BTreeMap<u64, String> = self
            .submitted(&filter)
            .await?
            .into_iter()
            .map(|e| (e.contributionId, e.uri))
            .collect();
        match ids.iter().find(|id| !uris.contains_key(id)) {
            Some(&missing) => Err(ClientError::MissingContributionEvent(missing)),
            None => Ok(uris),
        }
    }

    /// Every contribution `contributor` submitted, with its current state.
    pub async fn contributions_of(&self, contributor: Address) -> Result<Vec<ContributionRecord>> {
        let filter = Filter::new()
            .address(self.deployment.datanet_registry)
            .event_signature(IDatanetRegistry::ContributionSubmitted::SIGNATURE_HASH)
            .topic3(contributor.into_word())
            .from_block(self.deployment.start_block);
        let mut records = Vec::new();
        for submitted in self.submitted(&filter).await? {
            let state = self.contribution(submitted.contributionId).await?;
            records.push(ContributionRecord {
                id: submitted.contributionId,
                datanet_id: submitted.datanetId,
                uri: submitted.uri,
                state,
            });
        }
        Ok(records)
    }

    async fn submitted(
        &self,
        filter: &Filter,
    ) -> Result<Vec<IDatanetRegistry::ContributionSubmitted>> {
        let logs = self
            .provider
            .get_logs(filter)
            .await
            .map_err(|err| rpc_error("reading ContributionSubmitted events", &err))?;
        logs.iter()
            .map(|log| {
                log.log_decode::<IDatanetRegistry::ContributionSubmitted>()
                    .map(|decoded| decoded.inner.data)
                    .map_err(|err| ClientError::Rpc {
                        action: "decoding a ContributionSubmitted event".to_owned(),
                        reason: err.to_string(),
                    })
            })
            .collect()
    }
}
