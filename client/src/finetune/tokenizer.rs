//! The base's own tokenizer, run by llama.cpp from a vocabulary-only load of the GGUF file, so training
//! sees exactly the token ids inference sees.

use std::path::Path;

use llama_cpp_2::model::{LlamaModel, params::LlamaModelParams};

use super::FinetuneError;
use crate::model::llama_backend;

/// A vocabulary-only llama.cpp model.
#[derive(Debug)]
pub struct Tokenizer {
    model: LlamaModel,
}

impl Tokenizer {
    /// Loads the vocabulary of the GGUF file at `path` (no weights).
    pub fn load(path: &Path) -> Result<Self, FinetuneError> {
        let failed = |reason: String| FinetuneError::Tokenizer {
            path: path.to_path_buf(),
            reason,
        };
        let backend = llama_backend(false).map_err(|e| failed(e.to_string()))?;
        let params = LlamaModelParams::default().with_vocab_only(true);
        let model = LlamaModel::load_from_file(backend, path, &params)
            .map_err(|error| failed(error.to_string()))?;
        Ok(Self { model })
    }

    /// A document's training tokens: its bytes tokenized as llama.cpp tokenizes a prompt with special
    /// tokens added (BOS when the vocabulary asks for it, EOS likewise), then the end-of-sequence token
    /// appended unless already there, so that packed documents stay separated.
    pub fn encode_document(&self, bytes: &[u8]) -> Vec<u32> {
        let vocab = self.model.vocab();
        let mut tokens: Vec<u32> = vocab
            .tokenize(bytes, true, false)
            .into_iter()
            .map(|token| token.0 as u32)
            .collect();
        let eos = vocab.eos().0 as u32;
        if tokens.last() != Some(&eos) {
            tokens.push(eos);
        }
        tokens
    }
}
