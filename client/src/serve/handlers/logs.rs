//! `GET /v1/logs/{root}`: a channel period's receipts log, by the root its vouchers commit to
//! (docs/PROTOCOL.md, "The receipts log").

use axum::{
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
};

use crate::{
    outputs::parse_hash,
    serve::{AppState, openai::ApiError},
};

/// The log's JSON (`ReceiptsLog::to_json`): 400 when `root` is not `0x` and 64 hex digits, 404 when no
/// log of this server has that root.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(root): Path<String>,
) -> Result<Response, ApiError> {
    let root = parse_hash(&root).map_err(|err| ApiError::bad_request(err.to_string()))?;
    let log = state
        .session
        .outbox()
        .log_by_root(root)
        .await
        .map_err(|err| ApiError::server_failure("reading a receipts log", &err))?
        .filter(|log| log.root() == root)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no receipts log with root {root} is published here"
            ))
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            // Content-addressed: the log under a root never changes.
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        log.to_json(),
    )
        .into_response())
}
