//! Soil's client library: local GGUF inference, proof of attribution, wallet-signed usage receipts, the
//! durable receipt outbox, chain access and the OpenAI-compatible server. The `soil` binary
//! (`src/main.rs`, `src/cli/`) is a thin command-line edge over it.

pub mod attribution;
pub mod audit;
pub mod chain;
pub mod channel;
pub mod error;
pub mod finetune;
pub mod model;
pub mod outbox;
pub mod outputs;
pub mod receipt;
pub mod serve;
pub mod wallet;
