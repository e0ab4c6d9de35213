//! Published outputs: each output stored under its content address, `DIR/<keccak256 of the bytes>` (`0x`
//! and 64 lowercase hex digits), so anyone holding a receipt can fetch the output its `outputURI` names
//! and check it against its `outputHash`.
//!
//! An output is written to a temporary file in the directory, flushed to disk and renamed into place, so a
//! reader never sees a partial file and publishing the same output twice leaves the same file. A name is
//! always derived from a parsed hash, never from the text a client asked for, so no request reaches
//! outside the directory.

mod error;

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use alloy::primitives::{B256, keccak256};

pub use error::PublishError;

/// A directory of content-addressed outputs.
#[derive(Debug, Clone)]
pub struct OutputStore {
    dir: PathBuf,
}

/// Parses an output hash as it appears in an output URI: `0x` and 64 hex digits (either case).
pub fn parse_hash(text: &str) -> Result<B256, PublishError> {
    let invalid = || PublishError::InvalidHash(text.chars().take(80).collect());
    let hex = text.strip_prefix("0x").ok_or_else(invalid)?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    hex.parse::<B256>().map_err(|_| invalid())
}

/// The URI of `output` under `base`: `<base>/<keccak256(output)>` (one `/` between them).
pub fn output_uri(base: &str, output: &[u8]) -> String {
    format!("{}/{}", base.trim_end_matches('/'), keccak256(output))
}

impl OutputStore {
    /// Opens (creating it if needed) the directory `dir`, resolved to an absolute path.
    pub fn open(dir: &Path) -> Result<Self, PublishError> {
        let directory = |source| PublishError::Directory {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(directory)?;
        let dir = std::fs::canonicalize(dir).map_err(directory)?;
        Ok(Self { dir })
    }

    /// The directory (absolute).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `file://` URL of the directory, usable as an output base on this machine.
    pub fn file_base(&self) -> String {
        url::Url::from_directory_path(&self.dir)
            .map_or_else(|()| format!("file://{}", self.dir.display()), String::from)
    }

    /// Where the output with hash `hash` is stored.
    pub fn path_for(&self, hash: B256) -> PathBuf {
        self.dir.join(hash.to_string())
    }

    /// Publishes `output`: writes it to `DIR/<keccak256(output)>` atomically unless a file with exactly
    /// those bytes is already there. Returns the hash.
    pub async fn publish(&self, output: &[u8]) -> Result<B256, PublishError> {
        let hash = keccak256(output);
        let path = self.path_for(hash);
        let bytes = output.to_vec();
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || write_atomically(&dir, &path, &bytes))
            .await
            .map_err(|err| PublishError::Task(err.to_string()))??;
        Ok(hash)
    }

    /// The bytes published under `hash`, or `None` when nothing is.
    pub async fn read(&self, hash: B256) -> Result<Option<Vec<u8>>, PublishError> {
        let path = self.path_for(hash);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(PublishError::Io { path, source }),
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in `dir` and a rename; a file already holding
/// exactly `bytes` is left alone (one holding anything else is replaced).
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let io = |source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    };
    if std::fs::read(path).is_ok_and(|existing| existing == bytes) {
        return Ok(());
    }
    let mut file = tempfile::Builder::new()
        .prefix(".publishing-")
        .tempfile_in(dir)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.as_file().sync_all().map_err(io)?;
    file.persist(path).map_err(|err| io(err.error))?;
    // The rename is durable once the directory is.
    if let Ok(directory) = std::fs::File::open(dir) {
        let _ = directory.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_full_hashes() {
        let hash = keccak256(b"soil");
        assert_eq!(parse_hash(&hash.to_string()).unwrap(), hash);
        assert_eq!(
            parse_hash(&hash.to_string().to_uppercase().replacen("0X", "0x", 1)).unwrap(),
            hash
        );
        for bad in [
            "",
            "0x",
            "1234",
            &hash.to_string()[2..],
            &hash.to_string()[..65],
            &format!("{hash}00"),
            "../../etc/passwd",
            "0x../../../../../../../../../../../../../../../../../../../../../../../etc/passwd",
            &format!("0x{}", "g".repeat(64)),
            &format!("0x{}", "é".repeat(32)),
        ] {
            assert!(
                matches!(parse_hash(bad), Err(PublishError::InvalidHash(_))),
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn publishes_content_addressed_and_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let store = OutputStore::open(&dir.path().join("outputs")).unwrap();
        let output = "Honey bees make honey. — «quoted»".as_bytes();
        let hash = store.publish(output).await.unwrap();
        assert_eq!(hash, keccak256(output));
        let path = store.dir().join(hash.to_string());
        assert_eq!(std::fs::read(&path).unwrap(), output);
        assert_eq!(store.read(hash).await.unwrap().as_deref(), Some(output));
        assert_eq!(store.publish(output).await.unwrap(), hash);
        // A damaged file is replaced on the next publish; no temporary file is left behind.
        std::fs::write(&path, b"tampered").unwrap();
        store.publish(output).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), output);
        let names: Vec<_> = std::fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from(hash.to_string())]);
        assert_eq!(store.read(keccak256(b"other")).await.unwrap(), None);
        // An empty output is an output too.
        let empty = store.publish(b"").await.unwrap();
        assert_eq!(store.read(empty).await.unwrap().as_deref(), Some(&b""[..]));
    }

    #[test]
    fn uris_join_base_and_hash() {
        let hash = keccak256(b"x");
        assert_eq!(
            output_uri("http://h/v1/outputs/", b"x"),
            format!("http://h/v1/outputs/{hash}")
        );
        let dir = tempfile::tempdir().unwrap();
        let store = OutputStore::open(dir.path()).unwrap();
        let uri = output_uri(&store.file_base(), b"x");
        assert!(uri.starts_with("file:///"), "{uri}");
        let path = url::Url::parse(&uri).unwrap().to_file_path().unwrap();
        assert_eq!(path, store.path_for(hash));
    }
}
