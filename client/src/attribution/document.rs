//! A release's documents: fetched from their contribution URIs (`file://`, `http://`, `https://`) and
//! checked against their registered content hash (`keccak256` of the bytes).

use std::time::Duration;

use alloy::primitives::{B256, keccak256};
use url::Url;

use super::AttributionError;

/// One document of a release, as the index is built from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The contribution it belongs to.
    pub contribution_id: u64,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// The content hash a contribution registers: `keccak256` of its bytes.
pub fn content_hash(bytes: &[u8]) -> B256 {
    keccak256(bytes)
}

/// Checks that `bytes` hash to the registered `expected` content hash.
pub fn verify_document(bytes: &[u8], expected: B256) -> Result<(), AttributionError> {
    let actual = content_hash(bytes);
    if actual == expected {
        Ok(())
    } else {
        Err(AttributionError::ContentHashMismatch { expected, actual })
    }
}

/// The largest document a fetcher accepts unless told otherwise: 64 MiB.
pub const MAX_DOCUMENT_BYTES: u64 = 64 << 20;

/// Fetches documents by URI; one HTTP client (connection pool) shared by all fetches. A document
/// larger than the fetcher's limit is refused before it is read whole (a contribution's URI is chosen
/// by its contributor and must not be able to exhaust a node's memory).
#[derive(Debug, Clone)]
pub struct DocumentFetcher {
    http: reqwest::Client,
    max_bytes: u64,
}

impl DocumentFetcher {
    /// A fetcher whose HTTP requests give up after `timeout`, accepting documents up to
    /// [`MAX_DOCUMENT_BYTES`].
    pub fn new(timeout: Duration) -> Result<Self, AttributionError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|error| AttributionError::Fetch {
                uri: String::new(),
                reason: format!("cannot build the HTTP client: {error}"),
            })?;
        Ok(Self {
            http,
            max_bytes: MAX_DOCUMENT_BYTES,
        })
    }

    /// The same fetcher with another size limit.
    pub fn with_max_bytes(self, max_bytes: u64) -> Self {
        Self { max_bytes, ..self }
    }

    /// The bytes behind `uri`: a local file for `file://`, an HTTP GET (2xx required) otherwise.
    pub async fn fetch(&self, uri: &str) -> Result<Vec<u8>, AttributionError> {
        let url = Url::parse(uri).map_err(|error| AttributionError::InvalidUri {
            uri: uri.to_owned(),
            reason: error.to_string(),
        })?;
        let fetch_error = |reason: String| AttributionError::Fetch {
            uri: uri.to_owned(),
            reason,
        };
        let too_large = || AttributionError::DocumentTooLarge {
            uri: uri.to_owned(),
            limit: self.max_bytes,
        };
        match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| AttributionError::InvalidUri {
                        uri: uri.to_owned(),
                        reason: "not an absolute local file path".into(),
                    })?;
                let size = tokio::fs::metadata(&path)
                    .await
                    .map_err(|error| fetch_error(error.to_string()))?
                    .len();
                if size > self.max_bytes {
                    return Err(too_large());
                }
                tokio::fs::read(&path)
                    .await
                    .map_err(|error| fetch_error(error.to_string()))
            }
            "http" | "https" => {
                let mut response = self
                    .http
                    .get(url)
                    .send()
                    .await
                    .map_err(|error| fetch_error(error.to_string()))?;
                let status = response.status();
                if !status.is_success() {
                    return Err(AttributionError::HttpStatus {
                        uri: uri.to_owned(),
                        status: status.as_u16(),
                    });
                }
                if response
                    .content_length()
                    .is_some_and(|length| length > self.max_bytes)
                {
                    return Err(too_large());
                }
                let mut body = Vec::new();
                while let Some(chunk) = response
                    .chunk()
                    .await
                    .map_err(|error| fetch_error(error.to_string()))?
                {
                    if (body.len() + chunk.len()) as u64 > self.max_bytes {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            }
            _ => Err(AttributionError::UnsupportedScheme {
                uri: uri.to_owned(),
            }),
        }
    }

    /// Fetches `uri` and checks it against the registered `content_hash`.
    pub async fn fetch_verified(
        &self,
        uri: &str,
        content_hash: B256,
    ) -> Result<Vec<u8>, AttributionError> {
        let bytes = self.fetch(uri).await?;
        verify_document(&bytes, content_hash)?;
        Ok(bytes)
    }
}

/// Fetches one document with a 30-second HTTP timeout (use a [`DocumentFetcher`] for many).
pub async fn fetch_document(uri: &str) -> Result<Vec<u8>, AttributionError> {
    DocumentFetcher::new(Duration::from_secs(30))?
        .fetch(uri)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_accepts_the_right_hash_and_names_both_on_mismatch() {
        let bytes = b"soil";
        assert!(verify_document(bytes, keccak256(bytes)).is_ok());
        match verify_document(bytes, B256::ZERO) {
            Err(AttributionError::ContentHashMismatch { expected, actual }) => {
                assert_eq!(expected, B256::ZERO);
                assert_eq!(actual, keccak256(bytes));
            }
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn fetches_files_and_rejects_bad_uris() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.txt");
        std::fs::write(&path, b"hello soil").unwrap();
        let uri = Url::from_file_path(&path).unwrap().to_string();
        assert_eq!(fetch_document(&uri).await.unwrap(), b"hello soil");

        let missing = Url::from_file_path(dir.path().join("missing"))
            .unwrap()
            .to_string();
        assert!(matches!(
            fetch_document(&missing).await,
            Err(AttributionError::Fetch { .. })
        ));
        assert!(matches!(
            fetch_document("ftp://host/doc").await,
            Err(AttributionError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            fetch_document("not a uri").await,
            Err(AttributionError::InvalidUri { .. })
        ));
    }

    #[tokio::test]
    async fn fetches_over_http_and_reports_error_statuses() {
        use tokio::{
            io::{AsyncReadExt, AsyncWriteExt},
            net::TcpListener,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for (status, body) in [("200 OK", "served text"), ("404 Not Found", "")] {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await.unwrap();
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(response.as_bytes()).await.unwrap();
            }
        });
        let fetcher = DocumentFetcher::new(Duration::from_secs(5)).unwrap();
        let uri = format!("http://{address}/doc");
        assert_eq!(
            fetcher
                .fetch_verified(&uri, keccak256(b"served text"))
                .await
                .unwrap(),
            b"served text"
        );
        assert!(matches!(
            fetcher.fetch(&uri).await,
            Err(AttributionError::HttpStatus { status: 404, .. })
        ));
        server.await.unwrap();
    }

    #[tokio::test]
    async fn refuses_documents_over_the_limit_announced_or_not() {
        use tokio::{
            io::{AsyncReadExt, AsyncWriteExt},
            net::TcpListener,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            // With a content-length, then without one (the body ends when the connection closes).
            for length in [true, false] {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await.unwrap();
                let header = if length { "content-length: 20\r\n" } else { "" };
                let response = format!(
                    "HTTP/1.1 200 OK\r\n{header}connection: close\r\n\r\n0123456789abcdefghij"
                );
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        let fetcher = DocumentFetcher::new(Duration::from_secs(5))
            .unwrap()
            .with_max_bytes(16);
        let uri = format!("http://{address}/big");
        for _ in 0..2 {
            let error = fetcher.fetch(&uri).await.unwrap_err();
            assert!(
                matches!(error, AttributionError::DocumentTooLarge { limit: 16, .. }),
                "{error}"
            );
        }
        server.await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.txt");
        std::fs::write(&path, [b'x'; 17]).unwrap();
        let uri = Url::from_file_path(&path).unwrap().to_string();
        assert!(matches!(
            fetcher.fetch(&uri).await,
            Err(AttributionError::DocumentTooLarge { limit: 16, .. })
        ));
    }
}
