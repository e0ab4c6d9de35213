//! How the model thread draws each token: the sampler chain for a request's settings, grammar-constrained
//! drawing the way llama.cpp's own sampler does it, and the log-probabilities reported with a token.

use llama_cpp_2::{
    context::LlamaContext,
    sampling::LlamaSampler,
    token::{LlamaToken, data::LlamaTokenData, data_array::LlamaTokenDataArray},
    vocab::LlamaVocab,
};

use super::{Sampling, TokenLogprob};

/// The sampler chain for `sampling` over a vocabulary of `n_vocab` tokens: the presence and frequency
/// penalties over every token generated so far (when either is set), then greedy at temperature 0, else
/// top-p, temperature and a seeded draw.
pub(super) fn sampler_for(sampling: &Sampling, n_vocab: u32) -> LlamaSampler {
    let mut chain = Vec::with_capacity(4);
    if sampling.presence_penalty != 0.0 || sampling.frequency_penalty != 0.0 {
        chain.push(LlamaSampler::penalties(
            i32::try_from(n_vocab).unwrap_or(i32::MAX),
            i32::try_from(sampling.max_tokens).unwrap_or(i32::MAX),
            1.0,
            sampling.frequency_penalty,
            sampling.presence_penalty,
        ));
    }
    if sampling.temperature == 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        chain.extend([
            LlamaSampler::top_p(sampling.top_p, 1),
            LlamaSampler::temp(sampling.temperature),
            LlamaSampler::dist(sampling.seed),
        ]);
    }
    match chain.len() {
        1 => chain.remove(0),
        _ => LlamaSampler::chain_simple(chain),
    }
}

/// Draws as `sampler` would under `grammar`, the way llama.cpp's own sampler does it: the token drawn from
/// the unconstrained logits is checked against the grammar alone (one candidate, cheap); only a token the
/// grammar refuses makes it filter the whole vocabulary before `sampler` draws again. The same token as
/// filtering first whenever the first draw is allowed, at a fraction of the cost. Both accept the token.
pub(super) fn constrained_sample(
    sampler: &mut LlamaSampler,
    grammar: &mut LlamaSampler,
    context: &LlamaContext<'_>,
    index: i32,
) -> LlamaToken {
    let draw = |sampler: &mut LlamaSampler, candidates: &mut LlamaTokenDataArray| {
        candidates.apply_sampler(sampler);
        candidates
            .selected_token()
            .unwrap_or_else(|| candidates.sample_token_greedy())
    };
    let mut candidates = context.token_data_array_ith(index);
    let mut token = draw(sampler, &mut candidates);
    let mut alone = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 1.0, 0.0)], false);
    alone.apply_sampler(grammar);
    if alone.data[0].logit() == f32::NEG_INFINITY {
        let mut candidates = context.token_data_array_ith(index);
        candidates.apply_sampler(grammar);
        token = draw(sampler, &mut candidates);
    }
    grammar.accept(token);
    sampler.accept(token);
    token
}

/// The log-probability of `token` under `logits` (log-softmax over the vocabulary), with the `top` most
/// likely tokens.
pub(super) fn token_logprob(
    vocab: &LlamaVocab<'_>,
    logits: &[f32],
    token: LlamaToken,
    top: usize,
) -> TokenLogprob {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = max + logits.iter().map(|l| (l - max).exp()).sum::<f32>().ln();
    let bytes = |token: LlamaToken| {
        let mut bytes = Vec::with_capacity(16);
        vocab.token_to_piece_into(token, &mut bytes, false, None);
        bytes
    };
    let mut ids: Vec<usize> = (0..logits.len()).collect();
    let top = top.min(ids.len());
    if top > 0 {
        ids.select_nth_unstable_by(top - 1, |a, b| logits[*b].total_cmp(&logits[*a]));
    }
    ids.truncate(top);
    ids.sort_by(|a, b| logits[*b].total_cmp(&logits[*a]));
    TokenLogprob {
        bytes: bytes(token),
        logprob: logits[token.0 as usize] - log_sum,
        top: ids
            .into_iter()
            .map(|id| (bytes(LlamaToken(id as i32)), logits[id] - log_sum))
            .collect(),
    }
}
