//! `POST /v1/channels/{id}/cut`: the payer's server hands a channel's cut periods to the node that settles
//! them (docs/PROTOCOL.md, "Periods: why a stale voucher cannot pay").

use axum::{
    Json,
    extract::{Path, State},
};

use crate::{
    channel::{Handover, hand_over},
    serve::{AppState, openai::ApiError},
};

/// Cuts channel `id`'s open period if it has inferences (the cut the server's own settlement makes) and
/// answers every period cut and not yet settled, oldest first, each with its latest voucher, signature and
/// log URI; the outbox is reconciled with the chain first, so a period already settled is not handed out
/// again. 404 for a channel this server does not pay through.
///
/// No authentication: a cut only ends a period early, which costs the payer nothing (the next period
/// starts at the cut voucher's fee), and what the answer holds becomes public on chain when the node
/// settles it, its logs already published at `GET /v1/logs/0x<root>`.
pub(crate) async fn cut(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Handover>, ApiError> {
    let not_served =
        || ApiError::not_found(format!("channel {id} is not paid through by this server"));
    let channel_id: u64 = id.parse().map_err(|_| not_served())?;
    if !state
        .session
        .models()
        .iter()
        .any(|m| m.channel().is_some_and(|c| c.channel_id() == channel_id))
    {
        return Err(not_served());
    }
    let session = &state.session;
    hand_over(session.chain(), session.outbox(), channel_id)
        .await
        .map(Json)
        .map_err(|err| ApiError::server_failure(&format!("cutting channel {channel_id}"), &err))
}
