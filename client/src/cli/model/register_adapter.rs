//! `soil model register-adapter`.

use std::path::PathBuf;

use alloy::primitives::aliases::U96;
use anyhow::{Context as _, bail};
use soil_bindings::contracts::IModelRegistry::{AdapterRegistration, Split};
use soil_client::{
    finetune::{Manifest, manifest::sha256},
    model::ModelFile,
};

use crate::cli::{
    Global,
    args::{parse_split, parse_u96},
    output,
};

/// Registers a LoRA adapter trained by `soil model finetune` on a registered whole model. The adapter
/// file and the manifest are checked against each other and against the base's registered weights; the
/// releases it was trained on come from the manifest and must be among those its receipts attribute to.
#[derive(Debug, clap::Args)]
pub(crate) struct RegisterAdapter {
    /// The registered whole model the adapter was trained on.
    #[arg(long)]
    base: u64,
    /// The GGUF adapter (its SHA-256 becomes the adapter's weights hash).
    #[arg(long)]
    file: PathBuf,
    /// Where the adapter can be fetched.
    #[arg(long, default_value = "")]
    uri: String,
    /// The training manifest `soil model finetune` wrote (its SHA-256 is registered).
    #[arg(long)]
    manifest: PathBuf,
    /// Where the manifest can be fetched (what `soil model verify-training` reads).
    #[arg(long)]
    manifest_uri: String,
    /// A release the adapter's receipts are attributed over (repeatable) [default: the releases it was
    /// trained on].
    #[arg(long = "release")]
    releases: Vec<u64>,
    /// Price per 1,000 tokens, in base units.
    #[arg(long, value_parser = parse_u96)]
    price: U96,
    /// Revenue split in basis points: owner,data,node,treasury (the owner part carries the base's
    /// derivative share).
    #[arg(long, value_parser = parse_split)]
    split: Split,
    /// The most derivative share (basis points) you accept paying the base's owner [default: the base's
    /// share now].
    #[arg(long)]
    max_base_share: Option<u16>,
}

impl RegisterAdapter {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let manifest_bytes = std::fs::read(&self.manifest)
            .with_context(|| format!("cannot read the manifest {}", self.manifest.display()))?;
        let manifest = Manifest::from_bytes(&manifest_bytes)
            .with_context(|| format!("{} is not a training manifest", self.manifest.display()))?;
        let path = self.file.clone();
        let adapter = tokio::task::spawn_blocking(move || ModelFile::open(path, None)).await??;
        if adapter.sha256() != manifest.adapter.sha256 {
            bail!(
                "{} has sha256 {}, but the manifest records the adapter {}: they come from different trainings",
                self.file.display(),
                adapter.sha256(),
                manifest.adapter.sha256
            );
        }
        let chain = global.chain().await?;
        let base = chain.model(self.base).await?;
        if base.weightsHash != manifest.inputs.base.weights_sha256 {
            bail!(
                "the manifest's base weights are {}, model {} registers {}: the adapter was trained on another base",
                manifest.inputs.base.weights_sha256,
                self.base,
                base.weightsHash
            );
        }
        let trained_on: Vec<u64> = manifest
            .inputs
            .releases
            .iter()
            .map(|r| r.release_id)
            .collect();
        for release in &manifest.inputs.releases {
            let root = chain.release(release.release_id).await?.root;
            if root != release.root {
                bail!(
                    "release {} has root {root} on chain, the manifest records {}",
                    release.release_id,
                    release.root
                );
            }
        }
        let releases = if self.releases.is_empty() {
            trained_on.clone()
        } else {
            self.releases.clone()
        };
        let max_base_share = match self.max_base_share {
            Some(max) => max,
            None => chain.derivative_share(self.base).await?,
        };
        let id = chain
            .register_adapter(AdapterRegistration {
                baseModelId: self.base,
                adapterHash: adapter.sha256(),
                uri: self.uri.clone(),
                manifestHash: sha256(&manifest_bytes),
                manifestUri: self.manifest_uri.clone(),
                releaseIds: releases.clone(),
                trainedOnReleaseIds: trained_on.clone(),
                pricePerKiloToken: self.price,
                split: self.split,
                maxBaseShareBps: max_base_share,
            })
            .await?;
        output::record(
            global.json,
            &serde_json::json!({
                "modelId": id, "baseModelId": self.base, "adapterHash": adapter.sha256(),
                "manifestHash": sha256(&manifest_bytes), "releases": releases, "trainedOn": trained_on,
            }),
            &[
                ("adapter model", id.to_string()),
                ("base model", self.base.to_string()),
                ("adapter hash", adapter.sha256().to_string()),
                ("manifest hash", sha256(&manifest_bytes).to_string()),
            ],
        )
    }
}
