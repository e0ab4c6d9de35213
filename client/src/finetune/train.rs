//! The training run: base, tokenizer and data prepared and checked before any step; held-out loss of
//! the base; LoRA steps (batch 1, constant learning rate) with checkpoints on request, on a stop signal
//! and at the end; held-out loss of the adapter as written; the adapter file and the manifest.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::Instant,
};

use alloy::primitives::B256;
use candle_core::{DType, Var};

use super::{
    FinetuneError,
    adapter::write_adapter,
    base::{BaseModel, BaseWeights, LLAMA},
    checkpoint,
    config::{AdapterDType, Hyperparameters},
    cpu::CpuClass,
    data::{Dataset, EpochOrder},
    eval::held_out_loss,
    lora::Lora,
    manifest::{
        AdapterRecord, BaseRecord, DocumentRecord, Manifest, ReleaseRecord, Trainer,
        TrainingInputs, sha256,
    },
    model::LlamaLora,
    optim::AdamW,
    tokenizer::Tokenizer,
};
use crate::chain::VerifiedRelease;

/// A base and data set, prepared and checked: everything but the weights, which
/// [`Prepared::load_weights`] reads.
#[derive(Debug)]
pub struct Prepared {
    /// The base's header.
    pub base: BaseModel,
    /// The packed documents.
    pub dataset: Dataset,
    /// The training's identity.
    pub inputs: TrainingInputs,
}

impl Prepared {
    /// Opens the base (checking its hash against `expected_sha256` when given, and that it is a llama
    /// model), validates `hp` against it (rank included), tokenizes and packs the releases' documents.
    /// Every input error surfaces here, before any weight is read.
    pub fn new(
        base_path: &Path,
        expected_sha256: Option<B256>,
        releases: &[VerifiedRelease],
        hp: Hyperparameters,
    ) -> Result<Self, FinetuneError> {
        let base = BaseModel::open(base_path, expected_sha256)?;
        hp.validate(&base.config)?;
        let tokenizer = Tokenizer::load(base.path())?;
        let dataset = Dataset::build(releases, &tokenizer, hp.seq_len)?;
        let inputs = TrainingInputs {
            base: BaseRecord {
                architecture: LLAMA.to_owned(),
                weights_sha256: base.sha256(),
                tokenizer_fingerprint: base.tokenizer_fingerprint,
            },
            releases: releases
                .iter()
                .map(|r| ReleaseRecord {
                    release_id: r.release_id,
                    root: r.root,
                })
                .collect(),
            documents: dataset
                .documents
                .iter()
                .map(|d| DocumentRecord {
                    release_id: d.release_id,
                    contribution_id: d.contribution_id,
                    content_hash: d.content_hash,
                    tokens: d.tokens as u64,
                    held_out: d.held_out,
                })
                .collect(),
            hyperparameters: hp,
        };
        Ok(Self {
            base,
            dataset,
            inputs,
        })
    }

    /// The hyperparameters.
    pub fn hyperparameters(&self) -> &Hyperparameters {
        &self.inputs.hyperparameters
    }

    /// Reads and dequantizes the base's weights.
    pub fn load_weights(&self) -> Result<BaseWeights, FinetuneError> {
        self.base.load_weights()
    }
}

/// One finished step, for progress reports.
#[derive(Debug, Clone, Copy)]
pub struct StepReport {
    /// Steps done (1-based).
    pub step: usize,
    /// Steps in all.
    pub steps: usize,
    /// This step's loss.
    pub loss: f32,
    /// Tokens (predicted positions) trained per second over this run's steps.
    pub tokens_per_second: f64,
}

/// How a run is driven.
#[derive(Debug, Default)]
pub struct RunOptions<'a> {
    /// Where checkpoints go (none are written without it).
    pub checkpoint: Option<PathBuf>,
    /// A checkpoint to resume from.
    pub resume: Option<PathBuf>,
    /// Set to stop after the current step (Ctrl-C); a checkpoint is written.
    pub stop: Option<&'a AtomicBool>,
    /// Stop as if interrupted once this many steps are done (for tests and short sessions).
    pub stop_after: Option<usize>,
}

/// What a run produced.
#[derive(Debug)]
pub enum Outcome {
    /// Every step ran: the adapter and its manifest.
    Finished(Box<Trained>),
    /// Stopped early; the checkpoint holds the state after `step` steps.
    Interrupted {
        /// Steps done.
        step: usize,
        /// The checkpoint written, if a path was given.
        checkpoint: Option<PathBuf>,
    },
}

/// A finished training.
#[derive(Debug)]
pub struct Trained {
    /// The GGUF adapter.
    pub adapter: Vec<u8>,
    /// The manifest.
    pub manifest: Manifest,
    /// The manifest's canonical bytes.
    pub manifest_bytes: Vec<u8>,
    /// Seconds spent in training steps in this run.
    pub train_seconds: f64,
    /// Steps run in this run (fewer than the total when resumed).
    pub steps_run: usize,
}

impl Trained {
    /// SHA-256 of the manifest's canonical bytes.
    pub fn manifest_sha256(&self) -> B256 {
        sha256(&self.manifest_bytes)
    }
}

fn dtype_of(dtype: AdapterDType) -> DType {
    match dtype {
        AdapterDType::F16 => DType::F16,
        AdapterDType::F32 => DType::F32,
    }
}

/// Runs (or resumes) the training of `prepared` over `weights`, reporting each step to `progress`.
pub fn run(
    prepared: &Prepared,
    weights: &BaseWeights,
    options: &RunOptions<'_>,
    progress: &mut dyn FnMut(StepReport),
) -> Result<Outcome, FinetuneError> {
    let hp = prepared.hyperparameters();
    let config = prepared.base.config;
    let dataset = &prepared.dataset;
    let max_len = dataset
        .train
        .iter()
        .chain(&dataset.held_out)
        .map(Vec::len)
        .max()
        .unwrap_or(2);
    let model = LlamaLora::new(config, weights, max_len)?;
    let lora = Lora::init(&config, hp)?;
    let named = lora.named_vars();
    let vars: Vec<&Var> = named.iter().map(|(_, v)| *v).collect();
    let mut optimizer = AdamW::new(&vars)?;
    let mut losses: Vec<f32> = Vec::with_capacity(hp.steps);
    if let Some(resume) = &options.resume {
        let restored = checkpoint::load(resume, &prepared.inputs, &lora, &mut optimizer)?;
        losses = restored.losses;
    }
    let save = |lora: &Lora, optimizer: &AdamW, losses: &[f32]| -> Result<(), FinetuneError> {
        match &options.checkpoint {
            Some(path) => checkpoint::save(path, &prepared.inputs, lora, optimizer, losses),
            None => Ok(()),
        }
    };

    let mut order = EpochOrder::default();
    let first = losses.len();
    let started = Instant::now();
    let mut tokens = 0usize;
    for step in first..hp.steps {
        let index = dataset.sequence_for_step(hp.seed, step, &mut order);
        let loss = model.loss(&dataset.train[index], Some(&lora))?;
        let value = loss.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Err(FinetuneError::Diverged {
                step: step + 1,
                loss: value,
            });
        }
        let grads = loss.backward()?;
        optimizer.step(&vars, &grads, hp)?;
        losses.push(value);
        tokens += dataset.predicted(index);
        progress(StepReport {
            step: step + 1,
            steps: hp.steps,
            loss: value,
            tokens_per_second: tokens as f64 / started.elapsed().as_secs_f64().max(1e-9),
        });
        let stopped = options.stop.is_some_and(|s| s.load(Ordering::SeqCst))
            || options.stop_after.is_some_and(|n| step + 1 >= n);
        if stopped && step + 1 < hp.steps {
            save(&lora, &optimizer, &losses)?;
            return Ok(Outcome::Interrupted {
                step: step + 1,
                checkpoint: options.checkpoint.clone(),
            });
        }
    }
    let train_seconds = started.elapsed().as_secs_f64();
    save(&lora, &optimizer, &losses)?;

    let adapter = write_adapter(&lora, hp.alpha, LLAMA, hp.dtype)?;
    let written = lora.rounded(dtype_of(hp.dtype))?;
    let held_out_base = held_out_loss(&model, &dataset.held_out, None)?;
    let held_out_adapter = held_out_loss(&model, &dataset.held_out, Some(&written))?;
    let manifest = Manifest {
        version: super::manifest::MANIFEST_VERSION,
        trainer: Trainer::current(),
        inputs: prepared.inputs.clone(),
        cpu: CpuClass::detect(),
        losses: losses.iter().map(|&l| f64::from(l)).collect(),
        held_out_base,
        held_out_adapter,
        adapter: AdapterRecord {
            sha256: sha256(&adapter),
            size: adapter.len() as u64,
            parameters: lora.parameter_count() as u64,
        },
    };
    let manifest_bytes = manifest.to_bytes()?;
    Ok(Outcome::Finished(Box::new(Trained {
        adapter,
        manifest,
        manifest_bytes,
        train_seconds,
        steps_run: hp.steps - first.min(hp.steps),
    })))
}
