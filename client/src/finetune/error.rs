//! Errors of fine-tuning and of verifying a training: each names what is wrong.

use std::path::PathBuf;

use crate::model::ModelError;

/// What can go wrong while fine-tuning, evaluating or verifying an adapter.
#[derive(Debug, thiserror::Error)]
pub enum FinetuneError {
    /// The base file could not be opened, is not GGUF, or does not hash to the expected weights hash.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The GGUF file could not be parsed.
    #[error("{path} is not a readable GGUF file: {reason}")]
    Gguf {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        reason: String,
    },
    /// The base is a GGUF file of another architecture than `llama`.
    #[error(
        "{path} is a GGUF model of architecture {found:?}; fine-tuning supports the `llama` architecture only"
    )]
    NotLlama {
        /// The file.
        path: PathBuf,
        /// Its `general.architecture` (empty when missing).
        found: String,
    },
    /// A metadata key the llama configuration needs is missing or has the wrong type.
    #[error("{path}: GGUF metadata {key} is missing or invalid: {reason}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The metadata key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A weight tensor the llama forward needs is missing or has an unexpected shape.
    #[error("{path}: tensor {name} {reason}")]
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// llama.cpp could not load the base's vocabulary.
    #[error("llama.cpp could not load the tokenizer of {path}: {reason}")]
    Tokenizer {
        /// The file.
        path: PathBuf,
        /// llama.cpp's error.
        reason: String,
    },
    /// A LoRA target module name is not one of q, k, v, o, gate, up, down.
    #[error("unknown LoRA target {0:?}: choose among q, k, v, o, gate, up, down")]
    UnknownTarget(String),
    /// The LoRA configuration is unusable (no targets, rank 0, ...).
    #[error("invalid LoRA configuration: {0}")]
    InvalidLora(String),
    /// The rank exceeds a target layer's input or output dimension.
    #[error(
        "rank {rank} is larger than layer {target} allows: its weight is {n_in} inputs x {n_out} outputs, so the rank can be at most {max}"
    )]
    RankTooLarge {
        /// The requested rank.
        rank: usize,
        /// The target module.
        target: String,
        /// The layer's input dimension.
        n_in: usize,
        /// The layer's output dimension.
        n_out: usize,
        /// The largest rank the layer allows.
        max: usize,
    },
    /// A hyperparameter is out of range.
    #[error("invalid hyperparameter {name}: {reason}")]
    Hyperparameter {
        /// The hyperparameter.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No releases were given.
    #[error("no release given: fine-tuning needs at least one release")]
    NoRelease,
    /// A release has no documents.
    #[error("release {0} has no documents to train on")]
    EmptyRelease(u64),
    /// The releases hold too little text for a held-out slice and one training sequence.
    #[error("the releases hold too little text to train on: {0}")]
    TooLittleData(String),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// A checkpoint belongs to another training configuration.
    #[error("checkpoint {path} belongs to another training configuration: {differences}")]
    CheckpointMismatch {
        /// The checkpoint.
        path: PathBuf,
        /// The differing fields, `field: checkpoint value != this run's value`.
        differences: String,
    },
    /// A checkpoint is malformed.
    #[error("checkpoint {path} is not a usable checkpoint: {reason}")]
    BadCheckpoint {
        /// The checkpoint.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The loss became NaN or infinite.
    #[error("the loss diverged at step {step} ({loss}); lower the learning rate")]
    Diverged {
        /// The step (1-based).
        step: usize,
        /// The loss.
        loss: f32,
    },
    /// A manifest is not valid JSON of the expected shape or not in canonical encoding.
    #[error("the training manifest is malformed: {0}")]
    BadManifest(String),
    /// An adapter file is not a LoRA adapter this trainer could have written.
    #[error("the adapter is malformed: {0}")]
    BadAdapter(String),
    /// The manifest's SHA-256 differs from the expected (registered) manifest hash.
    #[error("the manifest's sha256 is {actual}, the registered manifest hash is {expected}")]
    ManifestHashMismatch {
        /// The registered hash.
        expected: String,
        /// The manifest bytes' hash.
        actual: String,
    },
    /// The adapter's SHA-256 differs from the expected (registered) adapter hash.
    #[error("the adapter's sha256 is {actual}, the registered adapter hash is {expected}")]
    AdapterHashMismatch {
        /// The registered hash.
        expected: String,
        /// The adapter bytes' hash.
        actual: String,
    },
    /// The adapter's SHA-256 differs from the one the manifest names.
    #[error("the adapter's sha256 is {actual}, the manifest names {manifest}")]
    AdapterNotInManifest {
        /// The manifest's adapter hash.
        manifest: String,
        /// The adapter bytes' hash.
        actual: String,
    },
    /// The base model differs from the manifest's.
    #[error("the base weights' sha256 is {actual}, the manifest was trained on {manifest}")]
    BaseMismatch {
        /// The manifest's base weights hash.
        manifest: String,
        /// The supplied base's hash.
        actual: String,
    },
    /// The tokenizer differs from the manifest's.
    #[error("the base's tokenizer fingerprint is {actual}, the manifest names {manifest}")]
    TokenizerMismatch {
        /// The manifest's fingerprint.
        manifest: String,
        /// The supplied base's fingerprint.
        actual: String,
    },
    /// The releases differ from the manifest's (ids, order or roots).
    #[error("the releases differ from the manifest's: {0}")]
    ReleaseMismatch(String),
    /// A document differs from the manifest's (order, contribution or content hash).
    #[error("document {index} differs from the manifest's: {reason}")]
    DocumentMismatch {
        /// Its position in training order.
        index: usize,
        /// What differs.
        reason: String,
    },
    /// Re-running the training on the same CPU class gave another adapter.
    #[error(
        "re-running the training on the same CPU class gave an adapter with sha256 {reproduced}, the manifest names {manifest}"
    )]
    NotReproduced {
        /// The manifest's adapter hash.
        manifest: String,
        /// The re-run's adapter hash.
        reproduced: String,
    },
    /// The supplied adapter's held-out loss is outside the tolerance of the manifest's.
    #[error(
        "the adapter's held-out loss is {measured}, the manifest states {expected} (tolerance {tolerance} relative)"
    )]
    HeldOutLossMismatch {
        /// The manifest's held-out loss.
        expected: f64,
        /// The measured held-out loss.
        measured: f64,
        /// The relative tolerance.
        tolerance: f64,
    },
}

impl FinetuneError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
