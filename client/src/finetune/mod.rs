//! LoRA fine-tuning of a GGUF llama base on the documents of datanet releases, on the CPU with candle,
//! and verification of a registered training.
//!
//! The base is frozen and dequantized to f32 ([`base`]); the documents are tokenized by the base's own
//! tokenizer through llama.cpp ([`tokenizer`]) and packed ([`data`]); a llama forward of our own
//! ([`model`]) carries LoRA matrices ([`lora`]) trained by AdamW ([`optim`]) over candle's autograd
//! ([`train`]), with resumable checkpoints ([`checkpoint`]). The result is a GGUF LoRA adapter llama.cpp
//! loads ([`adapter`]) and a training manifest in canonical JSON ([`manifest`]) naming everything that
//! determines the adapter's bytes; [`verify`] re-runs or re-evaluates a training from them.
//!
//! candle's matrix kernels use `RAYON_NUM_THREADS` threads (all cores when unset); the `soil` binary sets
//! it from `--threads` before it starts any thread.

pub mod adapter;
pub mod base;
pub mod checkpoint;
pub mod config;
pub mod cpu;
pub mod data;
mod error;
pub mod eval;
pub mod lora;
pub mod manifest;
pub mod model;
pub mod optim;
pub mod rng;
pub mod tokenizer;
pub mod train;
pub mod verify;

pub use config::{AdapterDType, Hyperparameters, Target, parse_targets};
pub use error::FinetuneError;
pub use manifest::Manifest;
pub use train::{Outcome, Prepared, RunOptions, StepReport, Trained, run};
pub use verify::{HELD_OUT_TOLERANCE, Verified, VerifyInputs, VerifyMode, verify};
