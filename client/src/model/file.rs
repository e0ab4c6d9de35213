//! A GGUF model file on disk, checked before llama.cpp ever sees it: it must exist, start with the GGUF
//! magic and, when the model is registered, hash (SHA-256) to the registered weights hash.

use std::{
    fs::File,
    io::{BufReader, Read},
    path::{Path, PathBuf},
};

use alloy::primitives::B256;
use sha2::{Digest, Sha256};

use super::ModelError;

/// The four bytes every GGUF file starts with.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";

/// A GGUF file whose magic and SHA-256 have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFile {
    path: PathBuf,
    sha256: B256,
    size: u64,
}

impl ModelFile {
    /// Opens `path`, checks the GGUF magic and computes the file's SHA-256 (streamed, the file is never
    /// held in memory). With `expected_sha256` (the model's registered `weightsHash`), a different hash
    /// is a [`ModelError::WeightsHashMismatch`] naming the file and both hashes.
    pub fn open(path: impl AsRef<Path>, expected_sha256: Option<B256>) -> Result<Self, ModelError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| ModelError::Io {
            path: path.clone(),
            source,
        };
        let mut reader = BufReader::with_capacity(1 << 20, File::open(&path).map_err(io)?);

        let mut magic = Vec::with_capacity(4);
        (&mut reader).take(4).read_to_end(&mut magic).map_err(io)?;
        if magic != GGUF_MAGIC {
            return Err(ModelError::NotGguf { path, found: magic });
        }

        let mut hasher = Sha256::new();
        hasher.update(&magic);
        let mut size = magic.len() as u64;
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let read = reader.read(&mut buffer).map_err(io)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            size += read as u64;
        }
        let sha256 = B256::from_slice(&hasher.finalize());

        if let Some(expected) = expected_sha256
            && expected != sha256
        {
            return Err(ModelError::WeightsHashMismatch {
                path,
                expected: expected.to_string(),
                actual: sha256.to_string(),
            });
        }
        Ok(Self { path, sha256, size })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's SHA-256: the `weightsHash` a model registration commits to.
    pub fn sha256(&self) -> B256 {
        self.sha256
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}
