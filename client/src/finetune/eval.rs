//! Held-out evaluation: the mean negative log-likelihood per predicted token over every held-out
//! sequence (token-weighted), and its exponential, the perplexity.

use super::{FinetuneError, lora::Lora, manifest::HeldOut, model::LlamaLora};

/// The held-out loss and perplexity of the base (`lora` none) or the base with `lora`.
pub fn held_out_loss(
    model: &LlamaLora<'_>,
    sequences: &[Vec<u32>],
    lora: Option<&Lora>,
) -> Result<HeldOut, FinetuneError> {
    let mut sum = 0f64;
    let mut count = 0usize;
    for sequence in sequences {
        let (nll, n) = model.nll(sequence, lora)?;
        sum += f64::from(nll.detach().to_scalar::<f32>()?);
        count += n;
    }
    let loss = sum / count.max(1) as f64;
    Ok(HeldOut {
        loss,
        perplexity: loss.exp(),
    })
}
