//! `soil model verify-training`.

use std::{collections::BTreeSet, path::PathBuf, time::Duration};

use anyhow::{Context as _, bail};
use soil_client::{
    attribution::DocumentFetcher,
    finetune::{self, Verified, VerifyInputs, VerifyMode, verify::parse_manifest},
};

use super::finetune::fetch_releases;
use crate::cli::{Global, output};

/// Verifies a registered adapter's training: the manifest and adapter against their registered hashes,
/// the base, tokenizer, releases and documents against the manifest; then re-runs the training and
/// compares the adapter bit for bit on the manifest's CPU class, or elsewhere compares the adapter's
/// held-out loss with the manifest's (relative tolerance 1e-3). Says which check it made.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyTraining {
    /// The adapter's model id.
    model_id: u64,
    /// The training manifest: a file or a URI (file://, http://, https://) [default: the URI it was
    /// registered with].
    #[arg(long)]
    manifest: Option<String>,
    /// The adapter GGUF: a file or a URI [default: the URI it was registered with].
    #[arg(long)]
    adapter: Option<String>,
    /// The base model's GGUF file (checked against the base's registered weights hash).
    #[arg(long)]
    base_file: PathBuf,
    /// Compare the held-out loss even on the manifest's CPU class (no re-run).
    #[arg(long)]
    held_out_only: bool,
    /// CPU threads of the tensor kernels (they do not change the result).
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,
}

/// The bytes of `what` at `source` (a path or a URI).
async fn read(what: &str, source: &str, fetcher: &DocumentFetcher) -> anyhow::Result<Vec<u8>> {
    if source.is_empty() {
        bail!("the {what} was registered without a URI: give it with --{what}");
    }
    if source.contains("://") {
        Ok(fetcher.fetch(source).await?)
    } else {
        std::fs::read(source).with_context(|| format!("reading {source}"))
    }
}

impl VerifyTraining {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.reader().await?;
        let model = chain.model(self.model_id).await?;
        let record = chain
            .adapter(self.model_id)
            .await
            .with_context(|| format!("model {} is not a registered adapter", self.model_id))?;
        let base = chain.model(model.baseModelId).await?;
        let fetcher = DocumentFetcher::new(Duration::from_secs(60))?;
        let (manifest_source, adapter_source) = match (self.manifest, self.adapter) {
            (Some(manifest), Some(adapter)) => (manifest, adapter),
            (manifest, adapter) => {
                let registered = chain.adapter_uris(self.model_id).await?;
                (
                    manifest.unwrap_or(registered.manifest),
                    adapter.unwrap_or(registered.adapter),
                )
            }
        };
        let manifest_bytes = read("manifest", &manifest_source, &fetcher).await?;
        let adapter_bytes = read("adapter", &adapter_source, &fetcher).await?;
        let manifest = parse_manifest(&manifest_bytes, record.manifestHash)?;
        let in_manifest: BTreeSet<u64> = manifest
            .inputs
            .releases
            .iter()
            .map(|r| r.release_id)
            .collect();
        let registered: BTreeSet<u64> = record.trainedOnReleaseIds.iter().copied().collect();
        if in_manifest != registered {
            bail!(
                "the manifest's releases {in_manifest:?} are not the adapter's registered trained-on releases {registered:?}"
            );
        }
        let ids: Vec<u64> = manifest
            .inputs
            .releases
            .iter()
            .map(|r| r.release_id)
            .collect();
        let releases = fetch_releases(&chain, &ids).await?;
        let mode = if self.held_out_only {
            VerifyMode::HeldOutOnly
        } else {
            VerifyMode::Auto
        };
        let (adapter_hash, base_hash) = (model.weightsHash, base.weightsHash);
        let base_file = self.base_file.clone();
        let verified = tokio::task::spawn_blocking(move || {
            finetune::verify(
                &VerifyInputs {
                    manifest: &manifest_bytes,
                    manifest_hash: record.manifestHash,
                    adapter: &adapter_bytes,
                    adapter_hash,
                    base: &base_file,
                    base_weights_hash: Some(base_hash),
                    releases: &releases,
                },
                mode,
            )
        })
        .await??;
        let (check, detail, json) = match verified {
            Verified::ReproducedBitForBit { adapter_sha256 } => (
                "reproduced bit for bit",
                format!("re-running the training gave adapter sha256 {adapter_sha256}"),
                serde_json::json!({ "check": "reproducedBitForBit", "adapterSha256": adapter_sha256 }),
            ),
            Verified::HeldOutLossWithinTolerance {
                expected,
                measured,
                tolerance,
            } => (
                "held-out loss within tolerance",
                format!(
                    "{measured} measured, {expected} in the manifest, tolerance {tolerance} relative"
                ),
                serde_json::json!({
                    "check": "heldOutLossWithinTolerance",
                    "expected": expected,
                    "measured": measured,
                    "tolerance": tolerance,
                }),
            ),
        };
        let mut json = json;
        json["modelId"] = self.model_id.into();
        json["verified"] = true.into();
        output::record(
            global.json,
            &json,
            &[
                ("model", self.model_id.to_string()),
                ("verified", check.to_owned()),
                ("detail", detail),
            ],
        )
    }
}
