//! The hyperparameters of a fine-tune: LoRA rank, alpha and target modules, the optimiser's settings,
//! steps, sequence length, seed, threads, the adapter's dtype. Everything here is recorded in the
//! training manifest.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use super::{FinetuneError, base::LlamaConfig};

/// A projection of a llama block LoRA can adapt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The query projection, `attn_q`.
    Q,
    /// The key projection, `attn_k`.
    K,
    /// The value projection, `attn_v`.
    V,
    /// The attention output projection, `attn_output`.
    O,
    /// The feed-forward gate, `ffn_gate`.
    Gate,
    /// The feed-forward up projection, `ffn_up`.
    Up,
    /// The feed-forward down projection, `ffn_down`.
    Down,
}

impl Target {
    /// Every target, in canonical order.
    pub const ALL: [Target; 7] = [
        Target::Q,
        Target::K,
        Target::V,
        Target::O,
        Target::Gate,
        Target::Up,
        Target::Down,
    ];

    /// The short name (`q`, `k`, ..., `down`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Q => "q",
            Self::K => "k",
            Self::V => "v",
            Self::O => "o",
            Self::Gate => "gate",
            Self::Up => "up",
            Self::Down => "down",
        }
    }

    /// The GGUF tensor name of this projection in block `layer`.
    pub fn tensor_name(self, layer: usize) -> String {
        let module = match self {
            Self::Q => "attn_q",
            Self::K => "attn_k",
            Self::V => "attn_v",
            Self::O => "attn_output",
            Self::Gate => "ffn_gate",
            Self::Up => "ffn_up",
            Self::Down => "ffn_down",
        };
        format!("blk.{layer}.{module}.weight")
    }

    /// `(n_in, n_out)` of this projection in a model of `config`.
    pub fn dims(self, config: &LlamaConfig) -> (usize, usize) {
        let h = config.hidden_size;
        let kv = config.n_kv_heads * config.head_dim();
        match self {
            Self::Q | Self::O => (h, h),
            Self::K | Self::V => (h, kv),
            Self::Gate | Self::Up => (h, config.ffn_size),
            Self::Down => (config.ffn_size, h),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Target {
    type Err = FinetuneError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == text.trim())
            .ok_or_else(|| FinetuneError::UnknownTarget(text.to_owned()))
    }
}

/// Parses a comma-separated list of targets (`q,v`) into a sorted, deduplicated list.
pub fn parse_targets(text: &str) -> Result<Vec<Target>, FinetuneError> {
    let mut targets = text
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(Target::from_str)
        .collect::<Result<Vec<_>, _>>()?;
    targets.sort_unstable();
    targets.dedup();
    Ok(targets)
}

/// The element type of the adapter's tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AdapterDType {
    /// Half precision (the default: half the size, the same perplexity).
    #[default]
    F16,
    /// Single precision, the trained values exactly.
    F32,
}

impl FromStr for AdapterDType {
    type Err = FinetuneError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "f16" => Ok(Self::F16),
            "f32" => Ok(Self::F32),
            other => Err(FinetuneError::Hyperparameter {
                name: "dtype",
                reason: format!("{other:?} is neither f16 nor f32"),
            }),
        }
    }
}

impl fmt::Display for AdapterDType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::F16 => "f16",
            Self::F32 => "f32",
        })
    }
}

/// Everything that, with the base and the documents, determines the adapter's bytes (plus `threads`,
/// recorded but not part of a checkpoint's identity: one and two threads give the same bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hyperparameters {
    /// LoRA rank r.
    pub rank: usize,
    /// LoRA alpha; the update is scaled by alpha / r.
    pub alpha: f32,
    /// The adapted projections, sorted.
    pub targets: Vec<Target>,
    /// Optimiser steps (one sequence each: batch size 1).
    pub steps: usize,
    /// Tokens per training sequence (each sequence holds `seq_len + 1` tokens: inputs and targets).
    pub seq_len: usize,
    /// AdamW learning rate (constant).
    pub lr: f64,
    /// AdamW beta1.
    pub beta1: f64,
    /// AdamW beta2.
    pub beta2: f64,
    /// AdamW epsilon.
    pub eps: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Gradients are scaled down so their global L2 norm is at most this (0: no clipping).
    pub max_grad_norm: f64,
    /// The seed of the A initialisation and the sequence order.
    pub seed: u64,
    /// CPU threads of the tensor kernels.
    pub threads: usize,
    /// The adapter's tensor type.
    pub dtype: AdapterDType,
}

impl Default for Hyperparameters {
    fn default() -> Self {
        Self {
            rank: 8,
            alpha: 16.0,
            targets: vec![Target::Q, Target::V],
            steps: 30,
            seq_len: 128,
            lr: 2e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            max_grad_norm: 1.0,
            seed: 0,
            threads: 1,
            dtype: AdapterDType::F16,
        }
    }
}

impl Hyperparameters {
    /// LoRA's scale: alpha / r.
    pub fn scale(&self) -> f64 {
        f64::from(self.alpha) / self.rank as f64
    }

    /// Checks every value, and the rank against each target layer of `config`.
    pub fn validate(&self, config: &LlamaConfig) -> Result<(), FinetuneError> {
        let bad = |name: &'static str, reason: &str| {
            Err(FinetuneError::Hyperparameter {
                name,
                reason: reason.to_owned(),
            })
        };
        if self.targets.is_empty() {
            return Err(FinetuneError::InvalidLora("no target modules".into()));
        }
        if self.rank == 0 {
            return Err(FinetuneError::InvalidLora("rank must be at least 1".into()));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return bad("alpha", "must be a positive number");
        }
        if self.steps == 0 {
            return bad("steps", "must be at least 1");
        }
        if self.seq_len < 2 {
            return bad("seq-len", "must be at least 2");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", "must be a positive number");
        }
        if !((0.0..1.0).contains(&self.beta1) && (0.0..1.0).contains(&self.beta2)) {
            return bad("betas", "must lie in [0, 1)");
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad("eps", "must be a positive number");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight-decay", "must be a non-negative number");
        }
        if !(self.max_grad_norm.is_finite() && self.max_grad_norm >= 0.0) {
            return bad("max-grad-norm", "must be a non-negative number");
        }
        if self.threads == 0 {
            return bad("threads", "must be at least 1");
        }
        for &target in &self.targets {
            let (n_in, n_out) = target.dims(config);
            let max = n_in.min(n_out);
            if self.rank > max {
                return Err(FinetuneError::RankTooLarge {
                    rank: self.rank,
                    target: target.name().to_owned(),
                    n_in,
                    n_out,
                    max,
                });
            }
        }
        Ok(())
    }
}
