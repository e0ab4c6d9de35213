//! `GET /health`: whether the server is up and which model it serves, for load balancers and supervisors.
//! It answers only once the model is loaded and its releases indexed, since the server listens after that.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::serve::AppState;

/// `{"status": "ok", "model": <served name>, "soil_model_id": <registered id>}`.
pub(crate) async fn check(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "model": state.model_name,
        "soil_model_id": state.session.model_id(),
    }))
}
