//! `GET /v1/outputs/{hash}`: a published output, by the keccak256 its receipts sign as `outputHash`.

use axum::{
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
};

use crate::{
    outputs::parse_hash,
    serve::{AppState, openai::ApiError},
};

/// The exact bytes published under `hash`: 400 when `hash` is not `0x` and 64 hex digits, 404 when
/// nothing is published under it (or the server publishes nothing).
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&hash).map_err(|err| ApiError::bad_request(err.to_string()))?;
    let not_found = || ApiError::not_found(format!("no output {hash} is published here"));
    let store = state.session.outputs().ok_or_else(not_found)?;
    let bytes = store
        .read(hash)
        .await
        .map_err(|err| ApiError::server_failure("reading a published output", &err))?
        .ok_or_else(not_found)?;
    let content_type = if std::str::from_utf8(&bytes).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // Content-addressed: the bytes under a hash never change.
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        bytes,
    )
        .into_response())
}
