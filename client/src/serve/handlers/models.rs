//! `GET /v1/models`.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::serve::AppState;

/// Lists the one model this server serves.
pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{
            "id": state.model_name,
            "object": "model",
            "created": 0,
            "owned_by": "soil",
            "soil_model_id": state.session.model_id(),
            "releases": state.session.release_ids(),
        }],
    }))
}
