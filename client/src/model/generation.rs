//! What a generation asks for (prompt and sampling) and what it streams back (text pieces, then the
//! token counts and the output's token ids).

use super::ModelError;

/// Who speaks a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The person asking.
    User,
    /// The model.
    Assistant,
    /// A tool's result, given back to the model as a turn of its own.
    Tool,
}

impl Role {
    /// The role's name as chat templates spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChatMessage {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    /// A message from `role`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// The model's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Chat messages, formatted with the chat template from the model's GGUF metadata; the text ends with
    /// the opening of the assistant's turn.
    Chat(Vec<ChatMessage>),
    /// Text given to the model as is (special tokens such as `<|im_start|>` are parsed).
    Raw(String),
}

/// How the next token is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Softmax temperature; `0.0` picks the most likely token (greedy), which ignores `top_p` and `seed`.
    pub temperature: f32,
    /// Nucleus sampling: keep the smallest set of tokens whose probabilities sum to at least `top_p`.
    pub top_p: f32,
    /// Seed of the random draw: the same seed, prompt, model and settings give the same output.
    pub seed: u32,
    /// The most tokens to generate.
    pub max_tokens: u32,
    /// Subtracted from the logit of every token already generated (OpenAI's `presence_penalty`, llama.cpp's
    /// penalties sampler); `0.0` is off.
    pub presence_penalty: f32,
    /// Subtracted from a token's logit once per time it was already generated (OpenAI's
    /// `frequency_penalty`); `0.0` is off.
    pub frequency_penalty: f32,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.7,
            top_p: 0.9,
            seed: 0,
            max_tokens: 256,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
        }
    }
}

impl Sampling {
    /// Checks the ranges: temperature finite and ≥ 0, `top_p` in (0, 1], `max_tokens` ≥ 1, penalties in
    /// [-2, 2].
    pub fn validate(&self) -> Result<(), ModelError> {
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(ModelError::InvalidSampling(format!(
                "temperature must be a finite number ≥ 0, got {}",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ModelError::InvalidSampling(format!(
                "top_p must be in (0, 1], got {}",
                self.top_p
            )));
        }
        if self.max_tokens == 0 {
            return Err(ModelError::InvalidSampling(
                "max_tokens must be at least 1".into(),
            ));
        }
        for (name, penalty) in [
            ("presence_penalty", self.presence_penalty),
            ("frequency_penalty", self.frequency_penalty),
        ] {
            if !(-2.0..=2.0).contains(&penalty) {
                return Err(ModelError::InvalidSampling(format!(
                    "{name} must be in [-2, 2], got {penalty}"
                )));
            }
        }
        Ok(())
    }
}

/// A request to generate text.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    /// The input.
    pub prompt: Prompt,
    /// The sampling settings.
    pub sampling: Sampling,
    /// Generation stops at the first of these strings, which is not part of the output (its tokens were
    /// generated, so they are counted).
    pub stop: Vec<String>,
    /// Report each output token's log-probability with this many most likely alternatives
    /// ([`GenerationStats::logprobs`]); `None`: none.
    pub logprobs: Option<usize>,
    /// A GBNF grammar every output must follow (llama.cpp's grammar-constrained sampling: tokens that
    /// would leave it are never drawn, and the end of generation only comes where it allows); `None`: free
    /// text.
    pub grammar: Option<String>,
    /// The LoRA adapter applied over the base weights: an index into the adapters the worker was spawned
    /// with; `None`: the base model alone.
    pub adapter: Option<usize>,
}

/// Why a generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model emitted an end-of-generation token (not included in the output).
    EndOfGeneration,
    /// `max_tokens` were generated.
    MaxTokens,
    /// The context is full.
    ContextFull,
    /// One of the request's stop strings was generated (it is cut from the output).
    StopString,
}

/// A token's log-probability under the model: the log-softmax of its logits over the whole vocabulary,
/// before temperature, top-p or penalties (as OpenAI and llama.cpp's server report it).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    /// The token's text, as bytes (a token may end inside a UTF-8 character).
    pub bytes: Vec<u8>,
    /// Its natural-log probability.
    pub logprob: f32,
    /// The most likely tokens at this position, most likely first: their bytes and log-probability.
    pub top: Vec<(Vec<u8>, f32)>,
}

/// The outcome of a finished generation.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationStats {
    /// Tokens in the prompt (after templating).
    pub prompt_tokens: u32,
    /// Of those, the tokens read from the prompt cache: the prefix the slot's KV cache still held from its
    /// previous request under the same adapter (not evaluated again).
    pub cached_prompt_tokens: u32,
    /// Tokens generated (the end-of-generation token excluded).
    pub output_tokens: u32,
    /// The generated tokens' ids, in order: what attribution runs over.
    pub output_token_ids: Vec<u32>,
    /// Why generation stopped.
    pub stop: StopReason,
    /// With [`GenerationRequest::logprobs`], each output token's log-probability, up to the last token
    /// whose text is (partly) in the output: tokens that only spelled a stop string are left out.
    pub logprobs: Vec<TokenLogprob>,
    /// Time spent evaluating the prompt (from the slot taking the request to its first token being drawn),
    /// in microseconds.
    pub prompt_micros: u64,
    /// Time from the request reaching the model to its first token being drawn (waiting for a slot
    /// included), in microseconds.
    pub first_token_micros: u64,
    /// Time spent generating, in microseconds.
    pub generation_micros: u64,
}

/// What a running generation streams.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenEvent {
    /// The next piece of text (whole UTF-8 characters; a token that ends inside a character is held back
    /// until the character is complete).
    Token(String),
    /// Generation finished.
    Done(GenerationStats),
}

/// A finished generation, collected from its stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The generated text.
    pub text: String,
    /// Token counts, ids and timings.
    pub stats: GenerationStats,
}

/// Turns the bytes of successive token pieces into whole UTF-8 characters.
#[derive(Debug, Default)]
pub(crate) struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Appends `bytes` and returns the text that is now complete; invalid sequences become U+FFFD.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(text) => {
                    out.push_str(text);
                    self.pending.clear();
                    return out;
                }
                Err(error) => {
                    let valid = error.valid_up_to();
                    out.push_str(std::str::from_utf8(&self.pending[..valid]).unwrap_or_default());
                    match error.error_len() {
                        // An incomplete character at the end: keep it for the next piece.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(invalid) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + invalid);
                        }
                    }
                }
            }
        }
    }

    /// The text still held back at the end of the stream (an incomplete character becomes U+FFFD).
    pub(crate) fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

/// Finds a generation's stop strings in its streamed text: text is released only once no stop string can
/// begin in it, so a stop string split over several tokens is never sent.
#[derive(Debug)]
pub(crate) struct StopMatcher {
    stops: Vec<String>,
    pending: String,
}

impl StopMatcher {
    pub(crate) fn new(stops: Vec<String>) -> Self {
        Self {
            stops,
            pending: String::new(),
        }
    }

    /// Appends `text`; returns the text that is now safe to send and whether a stop string was found (then
    /// the text is what precedes its first occurrence, and everything after is dropped).
    pub(crate) fn push(&mut self, text: &str) -> (String, bool) {
        self.pending.push_str(text);
        let found = self
            .stops
            .iter()
            .filter_map(|stop| self.pending.find(stop.as_str()))
            .min();
        if let Some(at) = found {
            self.pending.truncate(at);
            return (std::mem::take(&mut self.pending), true);
        }
        // Hold back the longest tail that a stop string begins with.
        let held = self
            .pending
            .char_indices()
            .map(|(at, _)| at)
            .find(|&at| {
                let tail = &self.pending[at..];
                self.stops.iter().any(|stop| stop.starts_with(tail))
            })
            .unwrap_or(self.pending.len());
        let rest = self.pending.split_off(held);
        (std::mem::replace(&mut self.pending, rest), false)
    }

    /// The text held back at the end of the stream (it began a stop string that never completed).
    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_stream_holds_back_split_characters() {
        let mut stream = Utf8Stream::default();
        let snowman = "☃".as_bytes();
        assert_eq!(stream.push(b"a"), "a");
        assert_eq!(stream.push(&snowman[..1]), "");
        assert_eq!(stream.push(&snowman[1..]), "☃");
        assert_eq!(stream.push(&[0xff, b'b']), "\u{fffd}b");
        assert_eq!(stream.push(&snowman[..2]), "");
        assert_eq!(stream.finish(), "\u{fffd}");
    }

    #[test]
    fn stop_strings_are_cut_even_across_pieces() {
        let stops = vec!["\n\n".to_owned(), "END".to_owned()];
        let mut matcher = StopMatcher::new(stops.clone());
        assert_eq!(matcher.push("one E"), ("one ".to_owned(), false));
        assert_eq!(matcher.push("Nx"), ("ENx".to_owned(), false));
        assert_eq!(matcher.push("two\n"), ("two".to_owned(), false));
        assert_eq!(matcher.push("\nthree"), (String::new(), true));
        let mut matcher = StopMatcher::new(stops);
        assert_eq!(matcher.push("a EN"), ("a ".to_owned(), false));
        assert_eq!(matcher.finish(), "EN");
        let mut matcher = StopMatcher::new(Vec::new());
        assert_eq!(matcher.push("☃"), ("☃".to_owned(), false));
    }

    #[test]
    fn sampling_ranges_are_checked() {
        assert!(Sampling::default().validate().is_ok());
        for bad in [
            Sampling {
                temperature: -1.0,
                ..Sampling::default()
            },
            Sampling {
                temperature: f32::NAN,
                ..Sampling::default()
            },
            Sampling {
                top_p: 0.0,
                ..Sampling::default()
            },
            Sampling {
                top_p: 1.5,
                ..Sampling::default()
            },
            Sampling {
                max_tokens: 0,
                ..Sampling::default()
            },
            Sampling {
                presence_penalty: 2.5,
                ..Sampling::default()
            },
            Sampling {
                frequency_penalty: -3.0,
                ..Sampling::default()
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(ModelError::InvalidSampling(_))),
                "{bad:?}"
            );
        }
    }
}
