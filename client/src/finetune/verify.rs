//! Verifying a registered training: the manifest and adapter against their registered hashes, the base,
//! tokenizer, releases and documents against the manifest; then either the training re-run and its
//! adapter compared byte for byte (same CPU class), or the supplied adapter's held-out loss measured
//! and compared with the manifest's within [`HELD_OUT_TOLERANCE`] (relative).

use std::{collections::BTreeMap, path::Path};

use alloy::primitives::B256;
use candle_core::Var;

use super::{
    FinetuneError,
    adapter::read_adapter,
    config::Target,
    cpu::CpuClass,
    eval::held_out_loss,
    lora::{Lora, LoraPair},
    manifest::{Manifest, sha256},
    model::LlamaLora,
    train::{Outcome, Prepared, RunOptions, run},
};
use crate::chain::VerifiedRelease;

/// The relative tolerance of the held-out loss check: `|measured - expected| <= 1e-3 · expected`. Kernels
/// of another CPU class change the loss in its sixth or seventh significant digit; a different adapter
/// or held-out set changes it by far more.
pub const HELD_OUT_TOLERANCE: f64 = 1e-3;

/// Which check to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyMode {
    /// Re-run the training when this machine's CPU class is the manifest's, else the held-out check.
    #[default]
    Auto,
    /// The held-out loss check whatever the CPU class.
    HeldOutOnly,
}

/// The check that passed.
#[derive(Debug, Clone, PartialEq)]
pub enum Verified {
    /// The training was re-run and gave the same adapter bytes.
    ReproducedBitForBit {
        /// The adapter's SHA-256.
        adapter_sha256: B256,
    },
    /// The supplied adapter's held-out loss matches the manifest's within the tolerance.
    HeldOutLossWithinTolerance {
        /// The manifest's held-out loss.
        expected: f64,
        /// The measured one.
        measured: f64,
        /// The relative tolerance.
        tolerance: f64,
    },
}

/// What a verification is given.
#[derive(Debug)]
pub struct VerifyInputs<'a> {
    /// The manifest's bytes.
    pub manifest: &'a [u8],
    /// The registered manifest hash.
    pub manifest_hash: B256,
    /// The adapter's bytes.
    pub adapter: &'a [u8],
    /// The registered adapter hash.
    pub adapter_hash: B256,
    /// The base GGUF file.
    pub base: &'a Path,
    /// The base model's registered weights hash, checked against the file when given.
    pub base_weights_hash: Option<B256>,
    /// The manifest's releases, fetched and verified, in the manifest's order.
    pub releases: &'a [VerifiedRelease],
}

fn hex(hash: B256) -> String {
    hash.to_string()
}

/// Checks the manifest's hash and parses it (the first thing a verifier does, also to learn which
/// releases to fetch).
pub fn parse_manifest(bytes: &[u8], expected: B256) -> Result<Manifest, FinetuneError> {
    let actual = sha256(bytes);
    if actual != expected {
        return Err(FinetuneError::ManifestHashMismatch {
            expected: hex(expected),
            actual: hex(actual),
        });
    }
    Manifest::from_bytes(bytes)
}

/// Compares what the verifier prepared with what the manifest names, each difference its own error.
fn compare_inputs(prepared: &Prepared, manifest: &Manifest) -> Result<(), FinetuneError> {
    let (ours, theirs) = (&prepared.inputs, &manifest.inputs);
    if ours.base.weights_sha256 != theirs.base.weights_sha256 {
        return Err(FinetuneError::BaseMismatch {
            manifest: hex(theirs.base.weights_sha256),
            actual: hex(ours.base.weights_sha256),
        });
    }
    if ours.base.tokenizer_fingerprint != theirs.base.tokenizer_fingerprint {
        return Err(FinetuneError::TokenizerMismatch {
            manifest: hex(theirs.base.tokenizer_fingerprint),
            actual: hex(ours.base.tokenizer_fingerprint),
        });
    }
    if ours.releases != theirs.releases {
        let show = |r: &[super::manifest::ReleaseRecord]| {
            r.iter()
                .map(|r| format!("{} (root {})", r.release_id, r.root))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(FinetuneError::ReleaseMismatch(format!(
            "fetched [{}], the manifest names [{}]",
            show(&ours.releases),
            show(&theirs.releases)
        )));
    }
    for (index, (a, b)) in ours.documents.iter().zip(&theirs.documents).enumerate() {
        let reason = if a.contribution_id != b.contribution_id {
            format!(
                "contribution {} where the manifest has {}",
                a.contribution_id, b.contribution_id
            )
        } else if a.content_hash != b.content_hash {
            format!(
                "contribution {}'s content hash is {}, the manifest names {}",
                a.contribution_id, a.content_hash, b.content_hash
            )
        } else if a != b {
            format!(
                "contribution {} tokenizes or splits differently ({} tokens, held out {}; the manifest: {} tokens, held out {})",
                a.contribution_id, a.tokens, a.held_out, b.tokens, b.held_out
            )
        } else {
            continue;
        };
        return Err(FinetuneError::DocumentMismatch { index, reason });
    }
    if ours.documents.len() != theirs.documents.len() {
        return Err(FinetuneError::DocumentMismatch {
            index: ours.documents.len().min(theirs.documents.len()),
            reason: format!(
                "the releases hold {} documents, the manifest {}",
                ours.documents.len(),
                theirs.documents.len()
            ),
        });
    }
    Ok(())
}

/// The adapter's tensors as LoRA pairs, checked against the manifest's rank and targets.
fn adapter_lora(
    bytes: &[u8],
    manifest: &Manifest,
    prepared: &Prepared,
) -> Result<Lora, FinetuneError> {
    let hp = &manifest.inputs.hyperparameters;
    let read = read_adapter(bytes)?;
    if read.alpha != hp.alpha {
        return Err(FinetuneError::BadAdapter(format!(
            "alpha {} where the manifest has {}",
            read.alpha, hp.alpha
        )));
    }
    let mut tensors: BTreeMap<String, candle_core::Tensor> = read.tensors.into_iter().collect();
    let mut pairs = BTreeMap::new();
    let config = prepared.base.config;
    for layer in 0..config.n_layers {
        for &target in &hp.targets {
            let name = target.tensor_name(layer);
            let (n_in, n_out) = target.dims(&config);
            let mut take = |suffix: &str, dims: [usize; 2]| -> Result<Var, FinetuneError> {
                let full = format!("{name}.{suffix}");
                let t = tensors.remove(&full).ok_or_else(|| {
                    FinetuneError::BadAdapter(format!("tensor {full} is missing"))
                })?;
                if t.dims() != dims {
                    return Err(FinetuneError::BadAdapter(format!(
                        "tensor {full} has shape {:?}, expected {dims:?}",
                        t.dims()
                    )));
                }
                Ok(Var::from_tensor(&t)?)
            };
            let a = take("lora_a", [hp.rank, n_in])?;
            let b = take("lora_b", [n_out, hp.rank])?;
            pairs.insert((layer, target), LoraPair { a, b });
        }
    }
    if let Some(extra) = tensors.keys().next() {
        return Err(FinetuneError::BadAdapter(format!(
            "tensor {extra} is not among the manifest's targets ({})",
            hp.targets
                .iter()
                .map(|t: &Target| t.name())
                .collect::<Vec<_>>()
                .join(",")
        )));
    }
    Ok(Lora {
        pairs,
        scale: hp.scale(),
    })
}

/// Verifies a training (see the module documentation). The caller sets the kernel threads to the
/// manifest's `threads` before a re-run.
pub fn verify(inputs: &VerifyInputs<'_>, mode: VerifyMode) -> Result<Verified, FinetuneError> {
    let manifest = parse_manifest(inputs.manifest, inputs.manifest_hash)?;
    let adapter_hash = sha256(inputs.adapter);
    if adapter_hash != inputs.adapter_hash {
        return Err(FinetuneError::AdapterHashMismatch {
            expected: hex(inputs.adapter_hash),
            actual: hex(adapter_hash),
        });
    }
    if adapter_hash != manifest.adapter.sha256 {
        return Err(FinetuneError::AdapterNotInManifest {
            manifest: hex(manifest.adapter.sha256),
            actual: hex(adapter_hash),
        });
    }
    let prepared = Prepared::new(
        inputs.base,
        inputs.base_weights_hash,
        inputs.releases,
        manifest.inputs.hyperparameters.clone(),
    )?;
    compare_inputs(&prepared, &manifest)?;
    let weights = prepared.load_weights()?;
    if mode == VerifyMode::Auto && CpuClass::detect() == manifest.cpu {
        let outcome = run(&prepared, &weights, &RunOptions::default(), &mut |_| {})?;
        let Outcome::Finished(trained) = outcome else {
            return Err(FinetuneError::BadManifest(
                "the re-run stopped early".into(),
            ));
        };
        let reproduced = sha256(&trained.adapter);
        if reproduced != manifest.adapter.sha256 {
            return Err(FinetuneError::NotReproduced {
                manifest: hex(manifest.adapter.sha256),
                reproduced: hex(reproduced),
            });
        }
        return Ok(Verified::ReproducedBitForBit {
            adapter_sha256: reproduced,
        });
    }
    let lora = adapter_lora(inputs.adapter, &manifest, &prepared)?;
    let dataset = &prepared.dataset;
    let max_len = dataset.held_out.iter().map(Vec::len).max().unwrap_or(2);
    let model = LlamaLora::new(prepared.base.config, &weights, max_len)?;
    let measured = held_out_loss(&model, &dataset.held_out, Some(&lora))?.loss;
    let expected = manifest.held_out_adapter.loss;
    if (measured - expected).abs() > HELD_OUT_TOLERANCE * expected.abs() {
        return Err(FinetuneError::HeldOutLossMismatch {
            expected,
            measured,
            tolerance: HELD_OUT_TOLERANCE,
        });
    }
    Ok(Verified::HeldOutLossWithinTolerance {
        expected,
        measured,
        tolerance: HELD_OUT_TOLERANCE,
    })
}
