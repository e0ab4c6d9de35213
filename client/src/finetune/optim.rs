//! AdamW with decoupled weight decay (Loshchilov and Hutter), over candle tensors, with its moments
//! exposed so a checkpoint can hold them (candle-nn's `AdamW` keeps them private). Not autodiff: the
//! gradients come from candle's backward pass.
//!
//! For each parameter `p` with gradient `g` at step `t` (1-based), after optional global-norm clipping
//! (`g ← g · min(1, max_norm / ‖g‖₂)`, the norm over every gradient):
//! `m ← β₁m + (1-β₁)g`, `v ← β₂v + (1-β₂)g²`, `p ← p·(1 - lr·λ) - lr · (m / (1-β₁ᵗ)) / (√(v / (1-β₂ᵗ)) + ε)`.

use candle_core::{Tensor, Var, backprop::GradStore};

use super::{FinetuneError, config::Hyperparameters};

/// The optimiser's state: the first and second moments of each parameter, in the parameters' order.
#[derive(Debug, Clone)]
pub struct AdamW {
    /// First moments.
    pub m: Vec<Tensor>,
    /// Second moments.
    pub v: Vec<Tensor>,
    /// Steps taken.
    pub step: usize,
}

impl AdamW {
    /// Zero moments for `params`.
    pub fn new(params: &[&Var]) -> Result<Self, FinetuneError> {
        let zeros = params
            .iter()
            .map(|p| p.as_tensor().zeros_like())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            m: zeros.clone(),
            v: zeros,
            step: 0,
        })
    }

    /// One update of `params` from `grads`; returns the global gradient norm before clipping.
    pub fn step(
        &mut self,
        params: &[&Var],
        grads: &GradStore,
        hp: &Hyperparameters,
    ) -> Result<f64, FinetuneError> {
        let grads: Vec<Tensor> = params
            .iter()
            .map(|p| match grads.get(p.as_tensor()) {
                Some(g) => Ok(g.clone()),
                None => p.as_tensor().zeros_like(),
            })
            .collect::<Result<_, _>>()?;
        let mut sum_sq = 0f64;
        for g in &grads {
            sum_sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
        }
        let norm = sum_sq.sqrt();
        let clip = if hp.max_grad_norm > 0.0 && norm > hp.max_grad_norm {
            hp.max_grad_norm / norm
        } else {
            1.0
        };
        self.step += 1;
        let t = self.step as i32;
        let bias1 = 1.0 - hp.beta1.powi(t);
        let bias2 = 1.0 - hp.beta2.powi(t);
        for (i, (param, grad)) in params.iter().zip(grads).enumerate() {
            let grad = if clip < 1.0 { (grad * clip)? } else { grad };
            let m = ((&self.m[i] * hp.beta1)? + (&grad * (1.0 - hp.beta1))?)?;
            let v = ((&self.v[i] * hp.beta2)? + (grad.sqr()? * (1.0 - hp.beta2))?)?;
            let m_hat = (&m / bias1)?;
            let v_hat = (&v / bias2)?;
            let update = (m_hat / (v_hat.sqrt()? + hp.eps)?)?;
            let p = param.as_tensor();
            let decayed = if hp.weight_decay > 0.0 {
                (p * (1.0 - hp.lr * hp.weight_decay))?
            } else {
                p.clone()
            };
            param.set(&(decayed - (update * hp.lr)?)?)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(norm)
    }
}
