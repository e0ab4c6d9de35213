//! Fetching a published receipts log: `http(s)` only, within a time limit and a size cap, and telling a
//! failure worth another try (the server is down or slow, the log not published yet) from one that will
//! not change (the URI is not one the indexer fetches, the body is too large).

use std::time::Duration;

/// The bounds of one fetch.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    /// The whole request, body included.
    pub timeout: Duration,
    /// The largest body read.
    pub max_bytes: usize,
}

/// Why a log could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URI is not an `http(s)` URL.
    #[error("not an http(s) URI: {0}")]
    Scheme(String),
    /// The body is larger than the cap.
    #[error("the log is larger than {0} bytes")]
    TooLarge(usize),
    /// The server refused for good (a 4xx other than 404, 408 and 429).
    #[error("the server answered {0}")]
    Refused(u16),
    /// Worth another try: the server could not be reached, was too slow, failed (5xx) or has not
    /// published the log yet (404).
    #[error("{0}")]
    Transient(String),
}

impl FetchError {
    /// Whether another try may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// A client for logs: no redirects to other schemes (reqwest follows http(s) only), no cookies.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .unwrap_or_default()
}

/// GETs `uri`'s body within `limits`.
pub async fn fetch(
    client: &reqwest::Client,
    uri: &str,
    limits: FetchLimits,
) -> Result<Vec<u8>, FetchError> {
    let url = url::Url::parse(uri).map_err(|_| FetchError::Scheme(uri.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(FetchError::Scheme(uri.to_owned()));
    }
    match tokio::time::timeout(limits.timeout, read(client, url, limits.max_bytes)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(FetchError::Transient(format!(
            "no whole answer within {} ms",
            limits.timeout.as_millis()
        ))),
    }
}

async fn read(
    client: &reqwest::Client,
    url: url::Url,
    max_bytes: usize,
) -> Result<Vec<u8>, FetchError> {
    let transient = |e: reqwest::Error| FetchError::Transient(e.to_string());
    let mut response = client.get(url).send().await.map_err(transient)?;
    let status = response.status();
    if status.is_server_error() || matches!(status.as_u16(), 404 | 408 | 429) {
        return Err(FetchError::Transient(format!(
            "the server answered {status}"
        )));
    }
    if !status.is_success() {
        return Err(FetchError::Refused(status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|length| length > max_bytes as u64)
    {
        return Err(FetchError::TooLarge(max_bytes));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transient)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(FetchError::TooLarge(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_http_and_https_are_fetched() {
        let limits = FetchLimits {
            timeout: Duration::from_secs(1),
            max_bytes: 1,
        };
        for uri in [
            "ipfs://bafy",
            "file:///etc/passwd",
            "ftp://host/log",
            "http://",
            "not a uri",
            "",
        ] {
            let refused = fetch(&client(), uri, limits).await;
            assert!(
                matches!(refused, Err(FetchError::Scheme(_))),
                "{uri}: {refused:?}"
            );
            assert!(!refused.unwrap_err().is_transient());
        }
    }
}
