//! `soil model finetune`.

use std::{
    io::IsTerminal as _,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use alloy::primitives::B256;
use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use soil_client::{
    attribution::DocumentFetcher,
    chain::{Chain, VerifiedRelease},
    finetune::{self, AdapterDType, Hyperparameters, Outcome, Prepared, RunOptions},
};

use crate::cli::{Global, output};

/// Fine-tunes a LoRA adapter of a GGUF llama base on the documents of one or more releases (fetched and
/// verified like attribution does), on the CPU. Writes `<out>/adapter.gguf`, `<out>/manifest.json` and
/// `<out>/checkpoint.gguf`; Ctrl-C stops after the current step with a checkpoint `--resume` continues.
#[derive(Debug, clap::Args)]
pub(crate) struct Finetune {
    /// The base: a GGUF file, or a registered model id (its file given with --base-file and checked
    /// against the registered weights hash).
    #[arg(long)]
    base: String,
    /// The local GGUF file of the model id given as --base.
    #[arg(long)]
    base_file: Option<PathBuf>,
    /// A release to train on (repeatable; their documents in the order given, each in release order).
    #[arg(long = "release", required = true)]
    releases: Vec<u64>,
    /// Optimiser steps (one sequence each).
    #[arg(long, default_value_t = 30)]
    steps: usize,
    /// Tokens per training sequence.
    #[arg(long, default_value_t = 128)]
    seq_len: usize,
    /// AdamW learning rate (constant).
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// LoRA rank.
    #[arg(long, default_value_t = 8)]
    rank: usize,
    /// LoRA alpha (the update is scaled by alpha / rank).
    #[arg(long, default_value_t = 16.0)]
    alpha: f32,
    /// Adapted projections, comma-separated, among q,k,v,o,gate,up,down.
    #[arg(long, default_value = "q,v")]
    targets: String,
    /// AdamW decoupled weight decay.
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Clip the global gradient norm to this (0: no clipping).
    #[arg(long, default_value_t = 1.0)]
    max_grad_norm: f64,
    /// Seed of the initialisation and the sequence order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// CPU threads of the tensor kernels (one is steadier on a busy machine).
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,
    /// Adapter tensor type: f16 or f32.
    #[arg(long, default_value = "f16")]
    dtype: String,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Resume from this checkpoint (of the same base, releases and hyperparameters).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Stop as Ctrl-C would once this many steps are done.
    #[arg(long, hide = true)]
    stop_after: Option<usize>,
}

/// Resolves `--base`: a file path, or a model id whose file is `--base-file`.
/// Returns the path and the hash it must have.
pub(crate) async fn resolve_base(
    chain: &Chain,
    base: &str,
    base_file: Option<&Path>,
) -> anyhow::Result<(PathBuf, Option<B256>)> {
    let model_id = match base.parse::<u64>() {
        Ok(id) if !Path::new(base).exists() => id,
        _ => {
            if base_file.is_some() {
                bail!("--base-file goes with a model id as --base, not with a file");
            }
            return Ok((PathBuf::from(base), None));
        }
    };
    let model = chain.model(model_id).await?;
    let Some(file) = base_file else {
        bail!(
            "--base {model_id} is a model id: give its GGUF file with --base-file (it is checked against the registered weights hash)"
        );
    };
    Ok((file.to_path_buf(), Some(model.weightsHash)))
}

/// Fetches and verifies `ids` in order.
pub(crate) async fn fetch_releases(
    chain: &Chain,
    ids: &[u64],
) -> anyhow::Result<Vec<VerifiedRelease>> {
    let fetcher = DocumentFetcher::new(Duration::from_secs(60))?;
    let mut releases = Vec::with_capacity(ids.len());
    for &id in ids {
        let release = chain
            .fetch_release(id, &fetcher)
            .await
            .with_context(|| format!("fetching release {id}"))?;
        releases.push(release);
    }
    Ok(releases)
}

fn progress_bar(steps: usize, hidden: bool) -> ProgressBar {
    let bar = ProgressBar::new(steps as u64);
    if hidden || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{bar:30} step {pos}/{len}  loss {msg}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

impl Finetune {
    fn hyperparameters(&self) -> anyhow::Result<Hyperparameters> {
        Ok(Hyperparameters {
            rank: self.rank,
            alpha: self.alpha,
            targets: finetune::parse_targets(&self.targets)?,
            steps: self.steps,
            seq_len: self.seq_len,
            lr: self.lr,
            weight_decay: self.weight_decay,
            max_grad_norm: self.max_grad_norm,
            seed: self.seed,
            threads: self.threads,
            dtype: self.dtype.parse::<AdapterDType>()?,
            ..Hyperparameters::default()
        })
    }

    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let hp = self.hyperparameters()?;
        let chain = global.chain().await?;
        let (base, expected) = resolve_base(&chain, &self.base, self.base_file.as_deref()).await?;
        let releases = fetch_releases(&chain, &self.releases).await?;
        std::fs::create_dir_all(&self.out)
            .with_context(|| format!("creating {}", self.out.display()))?;

        let stop = Arc::new(AtomicBool::new(false));
        let signal = Arc::clone(&stop);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                signal.store(true, Ordering::SeqCst);
            }
        });
        let checkpoint = self.out.join("checkpoint.gguf");
        let resume = self.resume.clone();
        let stop_after = self.stop_after;
        let hidden = global.json;
        let task = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let prepared = Prepared::new(&base, expected, &releases, hp)?;
            let weights = prepared.load_weights()?;
            let steps = prepared.hyperparameters().steps;
            tracing::info!(
                steps,
                sequences = prepared.dataset.train.len(),
                "training started (Ctrl-C stops after the current step)"
            );
            let bar = progress_bar(steps, hidden);
            let options = RunOptions {
                checkpoint: Some(checkpoint),
                resume,
                stop: Some(&stop),
                stop_after,
            };
            let outcome = finetune::run(&prepared, &weights, &options, &mut |report| {
                bar.set_position(report.step as u64);
                bar.set_message(format!(
                    "{:.4}  {:.0} tok/s",
                    report.loss, report.tokens_per_second
                ));
            })?;
            bar.finish_and_clear();
            Ok(outcome)
        });
        let outcome = task.await??;
        let trained = match outcome {
            Outcome::Interrupted { step, checkpoint } => {
                let checkpoint = checkpoint.unwrap_or_default();
                return output::record(
                    global.json,
                    &serde_json::json!({
                        "interrupted": true,
                        "step": step,
                        "checkpoint": checkpoint,
                    }),
                    &[
                        ("stopped after step", step.to_string()),
                        ("checkpoint", checkpoint.display().to_string()),
                        (
                            "resume with",
                            "--resume <checkpoint> and the same options".into(),
                        ),
                    ],
                );
            }
            Outcome::Finished(trained) => trained,
        };
        let adapter_path = self.out.join("adapter.gguf");
        let manifest_path = self.out.join("manifest.json");
        std::fs::write(&adapter_path, &trained.adapter)
            .with_context(|| format!("writing {}", adapter_path.display()))?;
        std::fs::write(&manifest_path, &trained.manifest_bytes)
            .with_context(|| format!("writing {}", manifest_path.display()))?;
        let m = &trained.manifest;
        let final_loss = m.losses.last().copied().unwrap_or(f64::NAN);
        let tokens_per_second = if trained.train_seconds > 0.0 {
            trained.steps_run as f64 * m.inputs.hyperparameters.seq_len as f64
                / trained.train_seconds
        } else {
            0.0
        };
        output::record(
            global.json,
            &serde_json::json!({
                "adapter": adapter_path,
                "manifest": manifest_path,
                "adapterSha256": m.adapter.sha256,
                "adapterBytes": m.adapter.size,
                "manifestSha256": trained.manifest_sha256(),
                "steps": m.losses.len(),
                "finalLoss": final_loss,
                "heldOutBase": m.held_out_base,
                "heldOutAdapter": m.held_out_adapter,
                "trainSeconds": trained.train_seconds,
                "tokensPerSecond": tokens_per_second,
            }),
            &[
                ("adapter", adapter_path.display().to_string()),
                ("manifest", manifest_path.display().to_string()),
                ("steps", m.losses.len().to_string()),
                ("final loss", format!("{final_loss:.4}")),
                (
                    "held-out perplexity",
                    format!(
                        "{:.2} (base) -> {:.2} (adapter)",
                        m.held_out_base.perplexity, m.held_out_adapter.perplexity
                    ),
                ),
                (
                    "adapter",
                    format!("sha256 {}, {} bytes", m.adapter.sha256, m.adapter.size),
                ),
                ("manifest sha256", trained.manifest_sha256().to_string()),
            ],
        )
    }
}
