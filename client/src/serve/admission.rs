//! Admission: the completions a server takes on at once, running or waiting for the model, are bounded.
//! Past the bound a request is refused at once with a 429 and `Retry-After` rather than queued without
//! limit (llama.cpp's server queues without bound; OpenAI answers 429 when it is saturated).

use std::sync::Arc;

use axum::http::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::openai::ApiError;

/// Seconds a refused client is told to wait before retrying.
const RETRY_AFTER_SECONDS: u64 = 1;

/// The server's completion slots, running and queued together.
#[derive(Debug, Clone)]
pub struct Admission {
    slots: Arc<Semaphore>,
    limit: usize,
}

/// A completion's place in the server, given back when it is dropped (its response sent, or its stream
/// ended or abandoned).
pub(crate) type Admitted = OwnedSemaphorePermit;

impl Admission {
    /// At most `limit` completions at once (at least 1).
    pub fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        Self {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// Takes a place for one completion, or refuses with OpenAI's 429 `rate_limit_exceeded`.
    pub(crate) fn admit(&self) -> Result<Admitted, ApiError> {
        Arc::clone(&self.slots).try_acquire_owned().map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                format!(
                    "the server is busy: {} completions are running or queued (its --max-queue); \
                     retry after {RETRY_AFTER_SECONDS} s",
                    self.limit
                ),
            )
            .with_code("rate_limit_exceeded")
            .with_retry_after(RETRY_AFTER_SECONDS)
        })
    }

    /// Completions running or queued now.
    pub fn in_flight(&self) -> usize {
        self.limit - self.slots.available_permits()
    }
}
