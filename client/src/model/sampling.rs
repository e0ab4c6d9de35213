//! How the model thread draws each token: the sampler chain for a request's settings, grammar-constrained
//! drawing the way llama.cpp's own sampler does it, and the log-probabilities reported with a token.

use llama_cpp_2::{
    context::LlamaContext,
    model::LlamaModel,
    sampling::LlamaSampler,
    token::{LlamaToken, data::LlamaTokenData, data_array::LlamaTokenDataArray},
    vocab::LlamaVocab,
};

use super::{ModelError, Sampling, TokenLogprob};

/// How many of the most likely tokens a greedy draw under a grammar checks one by one, when the most
/// likely is refused, before it filters the whole vocabulary.
const GREEDY_CANDIDATES: usize = 16;

/// How a generation draws its tokens: the sampler chain for its settings, under its grammar if it has
/// one.
pub(super) struct TokenDraw {
    sampler: LlamaSampler,
    grammar: Option<LlamaSampler>,
    /// Greedy with no penalties: the draw is the most likely token, so under a grammar it is the most
    /// likely token the grammar allows.
    plain_greedy: bool,
}

impl TokenDraw {
    /// The draw for `sampling` over `model`'s vocabulary, under the GBNF `grammar` (rule `root`) if any.
    pub(super) fn new(
        model: &LlamaModel,
        sampling: &Sampling,
        grammar: Option<&str>,
    ) -> Result<Self, ModelError> {
        let grammar = grammar
            .map(|grammar| LlamaSampler::grammar(model, grammar, "root"))
            .transpose()
            .map_err(|error| ModelError::Grammar(error.to_string()))?;
        Ok(Self {
            sampler: sampler_for(sampling, u32::try_from(model.n_vocab()).unwrap_or(0)),
            grammar,
            plain_greedy: sampling.temperature == 0.0
                && sampling.presence_penalty == 0.0
                && sampling.frequency_penalty == 0.0,
        })
    }

    /// Draws the next token from the logits at `index` of the batch just decoded.
    ///
    /// Under a grammar it draws as llama.cpp's own sampler does: the token drawn from the unconstrained
    /// logits is checked against the grammar alone (one candidate, cheap), and only a refused token makes
    /// it filter the whole vocabulary and draw again. A plain greedy draw first checks the next most likely
    /// tokens in order, which finds the same token (the most likely one allowed, the lowest id among
    /// equals) without the filter whenever one of them is allowed.
    pub(super) fn draw(&mut self, context: &LlamaContext<'_>, index: i32) -> LlamaToken {
        let Some(grammar) = self.grammar.as_mut() else {
            return self.sampler.sample(context, index);
        };
        let sampler = &mut self.sampler;
        let draw = |sampler: &mut LlamaSampler, candidates: &mut LlamaTokenDataArray| {
            candidates.apply_sampler(sampler);
            candidates
                .selected_token()
                .unwrap_or_else(|| candidates.sample_token_greedy())
        };
        let mut token = draw(sampler, &mut context.token_data_array_ith(index));
        if !allows(grammar, token) {
            let greedy = self.plain_greedy.then(|| {
                most_likely(context.get_logits_ith(index), GREEDY_CANDIDATES)
                    .into_iter()
                    .map(|id| LlamaToken(id as i32))
                    .find(|&candidate| allows(grammar, candidate))
            });
            token = match greedy.flatten() {
                Some(allowed) => allowed,
                None => {
                    let mut candidates = context.token_data_array_ith(index);
                    candidates.apply_sampler(grammar);
                    draw(sampler, &mut candidates)
                }
            };
        }
        grammar.accept(token);
        sampler.accept(token);
        token
    }
}

/// The sampler chain for `sampling` over a vocabulary of `n_vocab` tokens: the presence and frequency
/// penalties over every token generated so far (when either is set), then greedy at temperature 0, else
/// top-p, temperature and a seeded draw.
fn sampler_for(sampling: &Sampling, n_vocab: u32) -> LlamaSampler {
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

/// Whether `grammar`, in its current state, allows `token` next.
fn allows(grammar: &mut LlamaSampler, token: LlamaToken) -> bool {
    let mut alone = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 1.0, 0.0)], false);
    alone.apply_sampler(grammar);
    alone.data[0].logit() != f32::NEG_INFINITY
}

/// The ids of the `count` largest logits, largest first (the lower id first among equals, as greedy
/// drawing picks).
fn most_likely(logits: &[f32], count: usize) -> Vec<usize> {
    let order = |a: &usize, b: &usize| logits[*b].total_cmp(&logits[*a]).then(a.cmp(b));
    let mut ids: Vec<usize> = (0..logits.len()).collect();
    let count = count.min(ids.len());
    if count > 0 && count < ids.len() {
        ids.select_nth_unstable_by(count - 1, order);
    }
    ids.truncate(count);
    ids.sort_by(order);
    ids
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
    TokenLogprob {
        bytes: bytes(token),
        logprob: logits[token.0 as usize] - log_sum,
        top: most_likely(logits, top)
            .into_iter()
            .map(|id| (bytes(LlamaToken(id as i32)), logits[id] - log_sum))
            .collect(),
    }
}
