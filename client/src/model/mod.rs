//! Local inference: a GGUF model checked against its registered weights hash ([`ModelFile`]) and run by
//! llama.cpp on its own thread ([`ModelWorker`]), streaming tokens and reporting token counts and the
//! output's token ids (what attribution and the usage receipt need).

mod backend;
mod error;
mod file;
mod generation;
mod sampling;
mod slots;
mod worker;

pub use backend::llama_backend;
pub use error::ModelError;
pub use file::{GGUF_MAGIC, ModelFile};
pub use generation::{
    ChatMessage, Generation, GenerationRequest, GenerationStats, Prompt, Role, Sampling,
    StopReason, TokenEvent, TokenLogprob,
};
pub use slots::SlotLoad;
pub use worker::{AdapterInfo, Embedding, ModelInfo, ModelOptions, ModelWorker, TokenStream};
