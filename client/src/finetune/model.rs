//! A llama forward pass over the dequantized frozen weights, with LoRA on the chosen projections, written
//! with candle ops that all have a backward pass (candle's fused `rms_norm`, `rope_i` and
//! `softmax_last_dim` kernels have none):
//!
//! - RMS norm: `x / sqrt(mean(x²) + eps) · w`;
//! - rotary embedding in the interleaved form (pairs `(x[2i], x[2i+1])`, angle `pos · base^(-2i/d)`),
//!   which is how llama.cpp applies it to GGUF llama weights, so the adapter needs no permutation;
//! - causal grouped-query attention, softmax as `exp(x - max) / Σ` (the max detached: the shift does not
//!   change the result, so it needs no gradient);
//! - SwiGLU feed-forward; the output projection (tied to the embeddings when the file has no
//!   `output.weight`).
//!
//! A frozen projection is a custom op ([`FrozenLinear`]) whose backward pass returns the gradient of its
//! input only; candle's matmul backward would also compute the (unused) gradient of the weight.

use candle_core::{
    CpuStorage, CustomOp1, D, Device, Layout, Shape, Storage, Tensor, backend::BackendStorage,
};

use super::{
    FinetuneError,
    base::{BaseWeights, LlamaConfig},
    config::Target,
    lora::Lora,
};

/// `x Wᵀ` for a frozen `W` (`[n_out, n_in]`, contiguous f32) and a contiguous `x` (`[..., n_in]`).
#[derive(Debug)]
struct FrozenLinear {
    w: Tensor,
    /// Forward (`x Wᵀ`) or the input gradient (`g W`).
    transposed: bool,
}

impl CustomOp1 for FrozenLinear {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        if !layout.is_contiguous() {
            candle_core::bail!("frozen-linear needs a contiguous input");
        }
        let dims = layout.dims();
        let k = *dims.last().unwrap_or(&0);
        let m = layout.shape().elem_count() / k.max(1);
        let (w_storage, w_layout) = self.w.storage_and_layout();
        let Storage::Cpu(w) = &*w_storage else {
            candle_core::bail!("frozen-linear runs on the CPU only");
        };
        let (n_out, n_in) = (w_layout.dims()[0], w_layout.dims()[1]);
        let (n, rhs_layout) = if self.transposed {
            (n_in, w_layout.clone())
        } else {
            (n_out, w_layout.transpose(0, 1)?)
        };
        let expected = if self.transposed { n_out } else { n_in };
        if k != expected {
            candle_core::bail!(
                "frozen-linear: input has {k} features, the weight takes {expected}"
            );
        }
        let lhs_layout = Layout::contiguous_with_offset((m, k), layout.start_offset());
        let out = storage.matmul(w, (1, m, n, k), &lhs_layout, &rhs_layout)?;
        let mut out_dims = dims.to_vec();
        if let Some(last) = out_dims.last_mut() {
            *last = n;
        }
        Ok((out, Shape::from(out_dims)))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let grad = grad_res.contiguous()?.apply_op1_no_bwd(&FrozenLinear {
            w: self.w.clone(),
            transposed: !self.transposed,
        })?;
        Ok(Some(grad))
    }
}

/// `x Wᵀ` for the frozen weight `w`; gradients flow to `x` only.
fn frozen(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(FrozenLinear {
        w: w.clone(),
        transposed: false,
    })
}

/// The llama forward of a base plus (optionally) a LoRA adapter.
#[derive(Debug)]
pub struct LlamaLora<'a> {
    config: LlamaConfig,
    weights: &'a BaseWeights,
    /// `[max_len, head_dim / 2, 1]` rotary cosines and sines.
    cos: Tensor,
    sin: Tensor,
}

fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let inv = (x.sqr()?.mean_keepdim(D::Minus1)? + eps)?.sqrt()?.recip()?;
    x.broadcast_mul(&inv)?.broadcast_mul(w)
}

impl<'a> LlamaLora<'a> {
    /// A forward over `weights` for sequences of up to `max_len` tokens.
    pub fn new(
        config: LlamaConfig,
        weights: &'a BaseWeights,
        max_len: usize,
    ) -> Result<Self, FinetuneError> {
        let half = config.head_dim() / 2;
        let mut cos = Vec::with_capacity(max_len * half);
        let mut sin = Vec::with_capacity(max_len * half);
        for pos in 0..max_len {
            for i in 0..half {
                let freq = config
                    .rope_base
                    .powf(-2.0 * i as f64 / config.head_dim() as f64);
                let angle = pos as f64 * freq;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        let cos = Tensor::from_vec(cos, (max_len, half, 1), &Device::Cpu)?;
        let sin = Tensor::from_vec(sin, (max_len, half, 1), &Device::Cpu)?;
        Ok(Self {
            config,
            weights,
            cos,
            sin,
        })
    }

    /// Interleaved rotary embedding of `x` (`[heads, t, head_dim]`).
    fn rope(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (h, t, d) = x.dims3()?;
        let x = x.reshape((h, t, d / 2, 2))?;
        let x0 = x.narrow(3, 0, 1)?;
        let x1 = x.narrow(3, 1, 1)?;
        let cos = self.cos.narrow(0, 0, t)?;
        let sin = self.sin.narrow(0, 0, t)?;
        let r0 = (x0.broadcast_mul(&cos)? - x1.broadcast_mul(&sin)?)?;
        let r1 = (x0.broadcast_mul(&sin)? + x1.broadcast_mul(&cos)?)?;
        Tensor::cat(&[r0, r1], 3)?.reshape((h, t, d))
    }

    /// A projection of block `layer`, with its LoRA update when adapted.
    fn project(
        &self,
        x: &Tensor,
        w: &Tensor,
        lora: Option<&Lora>,
        layer: usize,
        target: Target,
    ) -> candle_core::Result<Tensor> {
        let y = frozen(x, w)?;
        match lora.and_then(|l| l.pairs.get(&(layer, target)).map(|p| (l.scale, p))) {
            None => Ok(y),
            Some((scale, pair)) => {
                let update = x
                    .matmul(&pair.a.as_tensor().t()?)?
                    .matmul(&pair.b.as_tensor().t()?)?;
                y + (update * scale)?
            }
        }
    }

    /// The logits (`[t, vocab]`) of `tokens`.
    pub fn logits(&self, tokens: &[u32], lora: Option<&Lora>) -> candle_core::Result<Tensor> {
        let c = &self.config;
        let t = tokens.len();
        let (h, kvh, d) = (c.n_heads, c.n_kv_heads, c.head_dim());
        let ids = Tensor::from_slice(tokens, t, &Device::Cpu)?;
        let mut x = self.weights.token_embd.index_select(&ids, 0)?;
        let mask: Vec<f32> = (0..t)
            .flat_map(|i| (0..t).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (t, t), &Device::Cpu)?;
        let attn_scale = 1.0 / (d as f64).sqrt();
        for (layer, w) in self.weights.blocks.iter().enumerate() {
            let residual = x.clone();
            let n = rms_norm(&x, &w.attn_norm, c.rms_eps)?;
            let heads = |y: Tensor, count: usize| -> candle_core::Result<Tensor> {
                y.reshape((t, count, d))?.transpose(0, 1)?.contiguous()
            };
            let q = heads(self.project(&n, &w.q, lora, layer, Target::Q)?, h)?;
            let k = heads(self.project(&n, &w.k, lora, layer, Target::K)?, kvh)?;
            let v = heads(self.project(&n, &w.v, lora, layer, Target::V)?, kvh)?;
            let q = self.rope(&q)?;
            let k = self.rope(&k)?;
            let (k, v) = if kvh == h {
                (k, v)
            } else {
                let repeat = |x: Tensor| -> candle_core::Result<Tensor> {
                    x.unsqueeze(1)?
                        .broadcast_as((kvh, h / kvh, t, d))?
                        .reshape((h, t, d))
                };
                (repeat(k)?, repeat(v)?)
            };
            let scores = (q.matmul(&k.t()?)? * attn_scale)?.broadcast_add(&mask)?;
            let max = scores.max_keepdim(D::Minus1)?.detach();
            let exp = scores.broadcast_sub(&max)?.exp()?;
            let probs = exp.broadcast_div(&exp.sum_keepdim(D::Minus1)?)?;
            let attn = probs.matmul(&v)?.transpose(0, 1)?.reshape((t, h * d))?;
            let attn = self.project(&attn, &w.o, lora, layer, Target::O)?;
            x = (residual + attn)?;
            let residual = x.clone();
            let n = rms_norm(&x, &w.ffn_norm, c.rms_eps)?;
            let gate = self
                .project(&n, &w.gate, lora, layer, Target::Gate)?
                .silu()?;
            let up = self.project(&n, &w.up, lora, layer, Target::Up)?;
            let down = self.project(&(gate * up)?, &w.down, lora, layer, Target::Down)?;
            x = (residual + down)?;
        }
        let x = rms_norm(&x, &self.weights.output_norm, c.rms_eps)?;
        frozen(&x, &self.weights.output)
    }

    /// The summed negative log-likelihood (nats) of `sequence[1..]` given the preceding tokens, and the
    /// number of predicted tokens. `sequence` holds at least 2 tokens.
    pub fn nll(
        &self,
        sequence: &[u32],
        lora: Option<&Lora>,
    ) -> candle_core::Result<(Tensor, usize)> {
        let (inputs, targets) = (&sequence[..sequence.len() - 1], &sequence[1..]);
        let logits = self.logits(inputs, lora)?;
        let max = logits.max_keepdim(D::Minus1)?.detach();
        let shifted = logits.broadcast_sub(&max)?;
        let log_sum = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
        let targets = Tensor::from_slice(targets, (targets.len(), 1), &Device::Cpu)?;
        let picked = shifted.gather(&targets, D::Minus1)?;
        let nll = (log_sum - picked)?.sum_all()?;
        Ok((nll, inputs.len()))
    }

    /// The mean loss of `sequence` (what a training step minimises).
    pub fn loss(&self, sequence: &[u32], lora: Option<&Lora>) -> candle_core::Result<Tensor> {
        let (nll, count) = self.nll(sequence, lora)?;
        nll / count as f64
    }
}
