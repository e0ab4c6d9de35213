//! The JSON-RPC client: every call has a timeout, is timed and counted in the metrics, and fails
//! with a classified error so the caller can split a log range, slow down, or retry with capped
//! exponential backoff and jitter. An empty answer is never mistaken for a failure, nor a failure
//! for an empty answer.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256, Bytes};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, Header, Log};
use alloy::transports::{RpcError, TransportError, TransportErrorKind};

use crate::config::RpcConfig;
use crate::error::{IndexerError, Result};
use crate::sync::wire::WireLog;

/// Why one RPC attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The node refused a log query as too large (results, response size or block range).
    TooManyResults(String),
    /// HTTP 429 or an equivalent JSON-RPC error: slow down.
    RateLimited(String),
    /// Timeouts, connection errors, missing data: worth retrying.
    Transient(String),
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Self::TooManyResults(m) | Self::RateLimited(m) | Self::Transient(m) => m,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::TooManyResults(_) => "too_many_results",
            Self::RateLimited(_) => "rate_limited",
            Self::Transient(_) => "transient",
        }
    }

    /// Classifies a transport error.
    pub fn classify(error: &TransportError) -> Self {
        let text = error.to_string();
        match error {
            RpcError::ErrorResp(payload) => {
                let message = payload.message.to_lowercase();
                let rate_limited = payload.code == 429
                    || ["too many requests", "rate limit", "capacity"]
                        .iter()
                        .any(|needle| message.contains(needle));
                let too_many = [
                    "more than",
                    "too many",
                    "range",
                    "response size",
                    "size exceeded",
                    "too large",
                ]
                .iter()
                .any(|needle| message.contains(needle));
                if rate_limited {
                    Self::RateLimited(text)
                } else if too_many {
                    Self::TooManyResults(text)
                } else {
                    Self::Transient(text)
                }
            }
            RpcError::Transport(TransportErrorKind::HttpError(http)) if http.status == 429 => {
                Self::RateLimited(text)
            }
            RpcError::Transport(TransportErrorKind::HttpError(http)) if http.status == 413 => {
                Self::TooManyResults(text)
            }
            _ => Self::Transient(text),
        }
    }
}

/// How many requests may be in flight: halved on rate limiting, grown back one at a time on success.
#[derive(Debug)]
pub struct Throttle {
    limit: AtomicUsize,
    max: usize,
}

impl Throttle {
    /// A throttle allowing up to `max` requests in flight.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            limit: AtomicUsize::new(max),
            max,
        }
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    fn slow_down(&self) {
        let _ = self
            .limit
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| {
                Some((l / 2).max(1))
            });
    }

    fn speed_up(&self) {
        let max = self.max;
        let _ = self
            .limit
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| {
                Some((l + 1).min(max))
            });
    }
}

/// The RPC endpoint.
#[derive(Debug)]
pub struct Rpc {
    provider: DynProvider,
    config: RpcConfig,
    /// Requests in flight allowed now.
    pub throttle: Throttle,
    url_is_ws: bool,
}

impl Rpc {
    /// Connects to `url` (`http(s)://` or `ws(s)://`).
    pub async fn connect(url: &str, config: RpcConfig) -> Result<Self> {
        let url_is_ws = url.starts_with("ws://") || url.starts_with("wss://");
        let provider = tokio::time::timeout(config.timeout, ProviderBuilder::new().connect(url))
            .await
            .map_err(|_| IndexerError::Rpc {
                method: "connect",
                message: format!("connecting to {url} timed out"),
            })?
            .map_err(|e| IndexerError::Rpc {
                method: "connect",
                message: format!("cannot connect to {url}: {e}"),
            })?;
        Ok(Self {
            provider: provider.erased(),
            throttle: Throttle::new(config.concurrency),
            config,
            url_is_ws,
        })
    }

    /// Whether new heads can be subscribed to (a WebSocket endpoint).
    pub fn is_ws(&self) -> bool {
        self.url_is_ws
    }

    /// The provider, for subscriptions.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// One attempt of `call`, with the timeout, metrics and classification.
    pub async fn attempt<T, F, Fut>(&self, method: &'static str, call: F) -> Result<T, Failure>
    where
        F: FnOnce(DynProvider) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let started = Instant::now();
        let outcome =
            match tokio::time::timeout(self.config.timeout, call(self.provider.clone())).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure::Transient(format!(
                    "timed out after {:?}",
                    self.config.timeout
                ))),
            };
        metrics::histogram!("soil_indexer_rpc_latency_seconds", "method" => method)
            .record(started.elapsed().as_secs_f64());
        match &outcome {
            Ok(_) => self.throttle.speed_up(),
            Err(failure) => {
                metrics::counter!("soil_indexer_rpc_errors_total", "method" => method, "kind" => failure.kind())
                    .increment(1);
                if matches!(failure, Failure::RateLimited(_)) {
                    self.throttle.slow_down();
                }
            }
        }
        outcome
    }

    /// Retries `call` on every failure with capped exponential backoff and jitter, at most
    /// `RpcConfig::attempts` times; then the last failure is returned as an error (which the sync
    /// loop treats as transient: it backs off and starts over from the checkpoint).
    pub async fn retry<T, F, Fut>(&self, method: &'static str, call: F) -> Result<T>
    where
        F: Fn(DynProvider) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut attempt = 0u32;
        loop {
            match self.attempt(method, &call).await {
                Ok(value) => return Ok(value),
                Err(failure) => {
                    attempt += 1;
                    if attempt >= self.config.attempts {
                        return Err(IndexerError::Rpc {
                            method,
                            message: failure.message().to_owned(),
                        });
                    }
                    let delay = self.backoff(attempt);
                    tracing::warn!(
                        method,
                        attempt,
                        ?delay,
                        error = failure.message(),
                        "RPC call failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Capped exponential backoff with jitter in [d/2, d].
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.config.backoff(attempt)
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64> {
        self.retry("eth_chainId", |p| async move {
            p.get_chain_id().await.map_err(|e| Failure::classify(&e))
        })
        .await
    }

    /// `eth_getCode` at the latest block.
    pub async fn code(&self, address: Address) -> Result<Bytes> {
        self.retry("eth_getCode", |p| async move {
            p.get_code_at(address)
                .await
                .map_err(|e| Failure::classify(&e))
        })
        .await
    }

    /// `eth_blockNumber`.
    pub async fn head(&self) -> Result<u64> {
        self.retry("eth_blockNumber", |p| async move {
            p.get_block_number()
                .await
                .map_err(|e| Failure::classify(&e))
        })
        .await
    }

    /// The header of block `number` (a missing block is retried, never taken as empty).
    pub async fn header(&self, number: u64) -> Result<Header> {
        self.retry("eth_getBlockByNumber", |p| async move {
            match p
                .get_block_by_number(BlockNumberOrTag::Number(number))
                .await
            {
                Ok(Some(block)) => Ok(block.header),
                Ok(None) => Err(Failure::Transient(format!("block {number} not available"))),
                Err(e) => Err(Failure::classify(&e)),
            }
        })
        .await
    }

    /// One attempt of `eth_getLogs` over `[from, to]` for `addresses`.
    pub async fn logs_in_range(
        &self,
        addresses: &[Address],
        from: u64,
        to: u64,
    ) -> Result<Vec<Log>, Failure> {
        let filter = Filter::new()
            .address(addresses.to_vec())
            .from_block(from)
            .to_block(to);
        self.attempt("eth_getLogs", |p| get_logs(p, filter)).await
    }

    /// `eth_getLogs` of exactly the block `hash` (so the logs and the header agree even mid-reorg).
    pub async fn logs_of_block(&self, addresses: &[Address], hash: B256) -> Result<Vec<Log>> {
        let filter = Filter::new()
            .address(addresses.to_vec())
            .at_block_hash(hash);
        self.retry("eth_getLogs", |p| get_logs(p, filter.clone()))
            .await
    }
}

/// `eth_getLogs` with `filter`, its answer read as [`WireLog`]s (see [`super::wire`]).
async fn get_logs(provider: DynProvider, filter: Filter) -> Result<Vec<Log>, Failure> {
    let logs: Vec<WireLog> = provider
        .raw_request("eth_getLogs".into(), (filter,))
        .await
        .map_err(|e| Failure::classify(&e))?;
    Ok(logs.into_iter().map(Log::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::transports::HttpError;

    fn error_response(code: i64, message: &str) -> TransportError {
        let payload = serde_json::json!({ "code": code, "message": message });
        RpcError::ErrorResp(serde_json::from_value(payload).expect("an error payload"))
    }

    #[test]
    fn classifies_node_errors() {
        let geth = error_response(-32005, "query returned more than 10000 results");
        assert!(matches!(
            Failure::classify(&geth),
            Failure::TooManyResults(_)
        ));
        let alchemy = error_response(
            -32602,
            "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
        );
        assert!(matches!(
            Failure::classify(&alchemy),
            Failure::TooManyResults(_)
        ));
        let limited = error_response(429, "Too Many Requests");
        assert!(matches!(
            Failure::classify(&limited),
            Failure::RateLimited(_)
        ));
        let http429 = RpcError::Transport(TransportErrorKind::HttpError(HttpError {
            status: 429,
            body: String::new(),
        }));
        assert!(matches!(
            Failure::classify(&http429),
            Failure::RateLimited(_)
        ));
        let internal = error_response(-32000, "internal error");
        assert!(matches!(
            Failure::classify(&internal),
            Failure::Transient(_)
        ));
    }

    #[test]
    fn throttle_halves_and_recovers() {
        let throttle = Throttle::new(8);
        throttle.slow_down();
        throttle.slow_down();
        assert_eq!(throttle.limit(), 2);
        for _ in 0..10 {
            throttle.speed_up();
        }
        assert_eq!(throttle.limit(), 8);
        for _ in 0..10 {
            throttle.slow_down();
        }
        assert_eq!(throttle.limit(), 1);
    }
}
