//! `GET /health`: whether the server is up and which model it serves, for load balancers and supervisors.
//! It answers only once the model is loaded and its releases indexed, since the server listens after that.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::serve::AppState;

/// `{"status": "ok", "model": <default model's name>, "soil_model_id": <its registered id>,
/// "models": <every served name>}`.
pub(crate) async fn check(State(state): State<AppState>) -> Json<Value> {
    let default = state.session.default_model();
    let names: Vec<&str> = state.session.models().iter().map(|m| m.name()).collect();
    Json(json!({
        "status": "ok",
        "model": default.name(),
        "soil_model_id": default.model_id(),
        "models": names,
    }))
}
