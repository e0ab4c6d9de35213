//! The trainable LoRA matrices: for each adapted projection `W` (`[n_out, n_in]`), `A` (`[r, n_in]`) and
//! `B` (`[n_out, r]`), so the adapted projection is `x Wᵀ + (alpha / r) · x Aᵀ Bᵀ`.
//!
//! Initialisation (PEFT's): `B = 0`; `A` uniform in `[-1/√n_in, 1/√n_in)` (Kaiming-uniform with
//! a = √5), drawn from SplitMix64 seeded by `(seed, purpose 1, 0)` for every adapted projection in
//! (layer, target) order, row-major: each value is `(2u - 1) / √n_in` rounded to f32, `u` from
//! [`Rng::next_f64`].

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor, Var};

use super::{
    FinetuneError,
    base::LlamaConfig,
    config::{Hyperparameters, Target},
    rng::Rng,
};

/// The RNG purpose tag of A's initialisation.
const INIT_PURPOSE: u8 = 1;

/// The A and B matrices of one adapted projection.
#[derive(Debug, Clone)]
pub struct LoraPair {
    /// `[r, n_in]`.
    pub a: Var,
    /// `[n_out, r]`.
    pub b: Var,
}

/// Every LoRA pair of a model, keyed by (layer, target).
#[derive(Debug, Clone)]
pub struct Lora {
    /// The pairs in (layer, target) order.
    pub pairs: BTreeMap<(usize, Target), LoraPair>,
    /// alpha / r.
    pub scale: f64,
}

impl Lora {
    /// Freshly initialised matrices for `hp`'s targets in every layer of `config`.
    pub fn init(config: &LlamaConfig, hp: &Hyperparameters) -> Result<Self, FinetuneError> {
        let mut rng = Rng::for_purpose(hp.seed, INIT_PURPOSE, 0);
        let mut pairs = BTreeMap::new();
        for layer in 0..config.n_layers {
            for &target in &hp.targets {
                let (n_in, n_out) = target.dims(config);
                let bound = 1.0 / (n_in as f64).sqrt();
                let values: Vec<f32> = (0..hp.rank * n_in)
                    .map(|_| ((2.0 * rng.next_f64() - 1.0) * bound) as f32)
                    .collect();
                let a =
                    Var::from_tensor(&Tensor::from_vec(values, (hp.rank, n_in), &Device::Cpu)?)?;
                let b = Var::zeros((n_out, hp.rank), DType::F32, &Device::Cpu)?;
                pairs.insert((layer, target), LoraPair { a, b });
            }
        }
        Ok(Self {
            pairs,
            scale: hp.scale(),
        })
    }

    /// Every trainable variable in a fixed order: for each pair in (layer, target) order, A then B,
    /// with its adapter tensor name.
    pub fn named_vars(&self) -> Vec<(String, &Var)> {
        let mut vars = Vec::with_capacity(self.pairs.len() * 2);
        for (&(layer, target), pair) in &self.pairs {
            let base = target.tensor_name(layer);
            vars.push((format!("{base}.lora_a"), &pair.a));
            vars.push((format!("{base}.lora_b"), &pair.b));
        }
        vars
    }

    /// The number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.named_vars()
            .iter()
            .map(|(_, v)| v.as_tensor().elem_count())
            .sum()
    }

    /// Replaces every matrix by its value rounded through `dtype` (what an adapter file of that type
    /// holds), for evaluating the adapter as written.
    pub fn rounded(&self, dtype: DType) -> Result<Self, FinetuneError> {
        let round = |v: &Var| -> Result<Var, FinetuneError> {
            let t = v.as_tensor().to_dtype(dtype)?.to_dtype(DType::F32)?;
            Ok(Var::from_tensor(&t)?)
        };
        let pairs = self
            .pairs
            .iter()
            .map(|(key, pair)| {
                Ok((
                    *key,
                    LoraPair {
                        a: round(&pair.a)?,
                        b: round(&pair.b)?,
                    },
                ))
            })
            .collect::<Result<_, FinetuneError>>()?;
        Ok(Self {
            pairs,
            scale: self.scale,
        })
    }
}
