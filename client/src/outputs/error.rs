//! Errors of the published-output store.

use std::path::PathBuf;

/// What can go wrong publishing or reading a published output.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A name asked for is not an output hash (`0x` and 64 hex digits).
    #[error("{0:?} is not an output hash: expected 0x followed by 64 hex digits")]
    InvalidHash(String),
    /// The publish directory cannot be created or resolved to an absolute path.
    #[error("publish directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A published output could not be written or read.
    #[error("published output {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The blocking task writing or reading the output ended abnormally.
    #[error("the task publishing an output failed: {0}")]
    Task(String),
}
