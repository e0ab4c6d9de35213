//! The client's integration tests: one binary, one module per area. They run the real `soil` binary
//! against a real anvil with the contracts deployed (`soil_bindings::testnet::LocalChain`) and the real
//! default model (`SOIL_MODEL`, else `models/SmolLM2-135M-Instruct.Q4_1.gguf`).

mod account;
mod adapters;
mod attribution;
mod audit;
mod batching;
mod channel_audit;
mod channel_handover;
mod channels;
mod common;
mod errors;
mod finetune;
mod funds;
mod model;
mod openai;
mod outbox;
mod quality;
mod recompute;
mod responses;
mod round_trip;
mod sdk;
mod serve;
mod stakes;
mod vectors;
mod wallet;
