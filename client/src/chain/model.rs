//! `ModelRegistry`: registering models and reading them back.

use alloy::{
    primitives::{B256, U256, aliases::U96},
    providers::Provider,
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};
use soil_bindings::contracts::IModelRegistry::{self, IModelRegistryInstance};

use super::{
    Chain,
    tx::{contract_error, event, missing_event, rpc_error},
};
use crate::error::{ClientError, Result};

impl Chain {
    fn models(&self) -> IModelRegistryInstance<&alloy::providers::DynProvider> {
        IModelRegistry::new(self.deployment.model_registry, &self.provider)
    }

    /// Registers a model; returns its id.
    pub async fn register_model(
        &self,
        weights_hash: B256,
        uri: &str,
        release_ids: Vec<u64>,
        price_per_kilo_token: U96,
        split: IModelRegistry::Split,
    ) -> Result<u64> {
        let action = "registering the model";
        let tx = self
            .models()
            .registerModel(
                weights_hash,
                uri.to_owned(),
                release_ids,
                price_per_kilo_token,
                split,
            )
            .into_transaction_request();
        let receipt = self.send(action, tx).await?;
        event::<IModelRegistry::ModelRegistered>(&receipt)
            .map(|e| e.modelId)
            .ok_or_else(|| missing_event(action))
    }

    /// Registers a LoRA adapter on a whole model; returns its id.
    pub async fn register_adapter(
        &self,
        registration: IModelRegistry::AdapterRegistration,
    ) -> Result<u64> {
        let action = "registering the adapter";
        let tx = self
            .models()
            .registerAdapter(registration)
            .into_transaction_request();
        let receipt = self.send(action, tx).await?;
        event::<IModelRegistry::AdapterRegistered>(&receipt)
            .map(|e| e.modelId)
            .ok_or_else(|| missing_event(action))
    }

    /// Declares the derivative share adapters registered on `model_id` from now on pay its owner.
    pub async fn set_derivative_share(&self, model_id: u64, share_bps: u16) -> Result<()> {
        let tx = self
            .models()
            .setDerivativeShare(model_id, share_bps)
            .into_transaction_request();
        self.send("declaring the derivative share", tx).await?;
        Ok(())
    }

    /// The derivative share adapters registered on `model_id` now would pay its owner.
    pub async fn derivative_share(&self, model_id: u64) -> Result<u16> {
        self.models()
            .derivativeShareOf(model_id)
            .call()
            .await
            .map_err(|err| contract_error(&format!("reading model {model_id}"), &err))
    }

    /// A model by id.
    pub async fn model(&self, model_id: u64) -> Result<IModelRegistry::Model> {
        let model = self
            .models()
            .getModel(model_id)
            .call()
            .await
            .map_err(|err| {
                if err
                    .as_decoded_error::<IModelRegistry::UnknownModel>()
                    .is_some()
                {
                    ClientError::UnknownModel(model_id)
                } else {
                    contract_error(&format!("reading model {model_id}"), &err)
                }
            })?;
        if model.owner == alloy::primitives::Address::ZERO {
            return Err(ClientError::UnknownModel(model_id));
        }
        Ok(model)
    }

    /// Number of models registered.
    pub async fn model_count(&self) -> Result<u64> {
        self.models()
            .modelCount()
            .call()
            .await
            .map_err(|err| contract_error("counting models", &err))
    }

    /// Adapter `model_id`'s training record: its manifest hash and trained-on releases (reverts
    /// `NotAnAdapter` for a whole model).
    pub async fn adapter(&self, model_id: u64) -> Result<IModelRegistry::Adapter> {
        self.models()
            .getAdapter(model_id)
            .call()
            .await
            .map_err(|err| contract_error(&format!("reading adapter {model_id}"), &err))
    }

    /// Where adapter `model_id`'s file and training manifest were published: the URIs its
    /// `ModelRegistered` and `AdapterRegistered` events carry (they are emitted, not stored).
    pub async fn adapter_uris(&self, model_id: u64) -> Result<AdapterUris> {
        let id = B256::from(U256::from(model_id));
        let logs = |signature: B256| {
            Filter::new()
                .address(self.deployment.model_registry)
                .event_signature(signature)
                .topic1(id)
                .from_block(self.deployment.start_block)
        };
        let registered = self
            .first_event::<IModelRegistry::ModelRegistered>(&logs(
                IModelRegistry::ModelRegistered::SIGNATURE_HASH,
            ))
            .await?;
        let adapter = self
            .first_event::<IModelRegistry::AdapterRegistered>(&logs(
                IModelRegistry::AdapterRegistered::SIGNATURE_HASH,
            ))
            .await?;
        match (registered, adapter) {
            (Some(model), Some(adapter)) => Ok(AdapterUris {
                adapter: model.uri,
                manifest: adapter.manifestUri,
            }),
            _ => Err(ClientError::MissingAdapterEvent(model_id)),
        }
    }

    async fn first_event<E: SolEvent>(&self, filter: &Filter) -> Result<Option<E>> {
        let action = format!("reading {} events", E::SIGNATURE);
        let logs: Vec<Log> = self
            .provider
            .get_logs(filter)
            .await
            .map_err(|err| rpc_error(&action, &err))?;
        logs.first()
            .map(|log| {
                log.log_decode::<E>()
                    .map(|decoded| decoded.inner.data)
                    .map_err(|err| ClientError::Rpc {
                        action: action.clone(),
                        reason: err.to_string(),
                    })
            })
            .transpose()
    }
}

/// Where an adapter's file and training manifest were published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterUris {
    /// The adapter GGUF's URI.
    pub adapter: String,
    /// The training manifest's URI.
    pub manifest: String,
}
