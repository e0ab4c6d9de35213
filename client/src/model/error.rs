//! Errors of the local model: opening and verifying a GGUF file, loading it into llama.cpp, and running it.

use std::path::PathBuf;

/// What can go wrong with a local model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model file does not exist or cannot be read.
    #[error("cannot read the model file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file does not start with the GGUF magic bytes, so it is not a GGUF model.
    #[error(
        "{path} is not a GGUF model file (it starts with {found:02x?}, a GGUF file starts with \"GGUF\")"
    )]
    NotGguf {
        /// The file.
        path: PathBuf,
        /// Its first bytes (up to 4).
        found: Vec<u8>,
    },
    /// The file's SHA-256 differs from the weights hash registered for the model.
    #[error(
        "{path} does not match the registered weights: sha256 is {actual}, the registry expects {expected}"
    )]
    WeightsHashMismatch {
        /// The file.
        path: PathBuf,
        /// The registered weights hash, hex.
        expected: String,
        /// The file's SHA-256, hex.
        actual: String,
    },
    /// The path is not valid UTF-8, which llama.cpp requires.
    #[error("the model path {0} is not valid UTF-8")]
    NonUtf8Path(PathBuf),
    /// llama.cpp refused to load the file (a verified GGUF file it cannot run, e.g. an unknown architecture).
    #[error("llama.cpp could not load {path}: {reason}")]
    Load {
        /// The file.
        path: PathBuf,
        /// llama.cpp's error.
        reason: String,
    },
    /// llama.cpp refused a LoRA adapter (e.g. one trained on another base, whose shapes do not match).
    #[error("llama.cpp could not load the adapter {path} on this base model: {reason}")]
    AdapterLoad {
        /// The adapter file.
        path: PathBuf,
        /// llama.cpp's error.
        reason: String,
    },
    /// A generation asked for an adapter the worker was not spawned with.
    #[error("no adapter {slot} is loaded ({loaded} are)")]
    UnknownAdapter {
        /// The adapter index asked for.
        slot: usize,
        /// How many adapters are loaded.
        loaded: usize,
    },
    /// llama.cpp could not switch the context to an adapter.
    #[error("llama.cpp could not apply the adapter: error {0}")]
    AdapterSet(String),
    /// llama.cpp refused a grammar.
    #[error("llama.cpp could not compile the output grammar: {0}")]
    Grammar(String),
    /// llama.cpp could not create an inference context (e.g. not enough memory for the context size).
    #[error("llama.cpp could not create a context of {context_size} tokens: {reason}")]
    Context {
        /// The requested context size.
        context_size: u32,
        /// llama.cpp's error.
        reason: String,
    },
    /// The model's GGUF metadata carries no chat template, so chat messages cannot be formatted.
    #[error(
        "the model has no chat template in its GGUF metadata; send a raw prompt instead of chat messages"
    )]
    NoChatTemplate,
    /// llama.cpp could not apply the chat template to the messages.
    #[error("cannot apply the model's chat template: {0}")]
    ChatTemplate(String),
    /// A chat message holds an interior NUL byte.
    #[error("a chat message holds a NUL byte, which the chat template cannot carry")]
    NulInMessage,
    /// The prompt is empty after templating and tokenization.
    #[error("the prompt is empty")]
    EmptyPrompt,
    /// The prompt does not fit the context, leaving no room to generate.
    #[error("the prompt has {prompt_tokens} tokens but the context holds {context_size}")]
    PromptTooLong {
        /// Tokens in the prompt.
        prompt_tokens: usize,
        /// The context size.
        context_size: u32,
    },
    /// A sampling parameter is out of range.
    #[error("invalid sampling parameter: {0}")]
    InvalidSampling(String),
    /// A token id is outside the model's vocabulary.
    #[error("token id {token} is outside the vocabulary of {vocab_size} tokens")]
    TokenOutOfRange {
        /// The token id.
        token: u32,
        /// The vocabulary size.
        vocab_size: u32,
    },
    /// llama.cpp failed while evaluating a batch.
    #[error("llama.cpp failed to decode: {0}")]
    Decode(String),
    /// The worker thread could not be started.
    #[error("cannot start the model thread: {0}")]
    Spawn(std::io::Error),
    /// The model thread stopped (it panicked or was shut down), so the request was not served.
    #[error("the model thread has stopped")]
    WorkerGone,
}
