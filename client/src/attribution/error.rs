//! Errors of proof of attribution: fetching and checking a release's documents, building, storing and
//! loading its index, and attributing an output.

use std::path::PathBuf;

use alloy::primitives::B256;

/// What can go wrong in attribution.
#[derive(Debug, thiserror::Error)]
pub enum AttributionError {
    /// A document URI cannot be parsed.
    #[error("invalid document URI {uri:?}: {reason}")]
    InvalidUri {
        /// The URI.
        uri: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A document URI uses a scheme other than `file`, `http` and `https`.
    #[error(
        "unsupported scheme in document URI {uri}: only file://, http:// and https:// are fetched"
    )]
    UnsupportedScheme {
        /// The URI.
        uri: String,
    },
    /// A document could not be read or downloaded.
    #[error("cannot fetch document {uri}: {reason}")]
    Fetch {
        /// The URI.
        uri: String,
        /// Why.
        reason: String,
    },
    /// A document is larger than the fetcher accepts.
    #[error("document {uri} is larger than the {limit}-byte limit")]
    DocumentTooLarge {
        /// The URI.
        uri: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A document server answered with an error status.
    #[error("cannot fetch document {uri}: the server answered HTTP {status}")]
    HttpStatus {
        /// The URI.
        uri: String,
        /// The HTTP status code.
        status: u16,
    },
    /// A document's bytes do not hash to the content hash registered for it.
    #[error(
        "document content hash mismatch: keccak256 of the bytes is {actual}, the contribution registered {expected}"
    )]
    ContentHashMismatch {
        /// The registered content hash.
        expected: B256,
        /// keccak256 of the fetched bytes.
        actual: B256,
    },
    /// A release has no documents.
    #[error("a release must hold at least one document")]
    EmptyRelease,
    /// Two documents of a release carry the same contribution id.
    #[error("contribution {0} appears twice in the release")]
    DuplicateContribution(u64),
    /// The release holds more tokens than a 32-bit suffix array addresses.
    #[error("the releases hold {0} words; an index holds at most 2^31 - 1")]
    TooLarge(usize),
    /// libsais failed to build the suffix array.
    #[error("suffix array construction failed: {0}")]
    SuffixArray(String),
    /// An attribution parameter is out of range.
    #[error("invalid attribution parameter: {0}")]
    InvalidParams(String),
    /// Reading or writing an index on disk failed.
    #[error("index I/O error at {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An index directory on disk is damaged or from another format version.
    #[error("the index at {path} is unusable: {reason}")]
    CorruptIndex {
        /// The index directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
