//! `GET /v1/models` and `GET /v1/models/{model}`.

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};

use crate::serve::{AppState, error::RequestError, openai::ApiError};

/// The model object of the one model this server serves.
fn model(state: &AppState) -> Value {
    json!({
        "id": state.model_name,
        "object": "model",
        "created": 0,
        "owned_by": "soil",
        "soil_model_id": state.session.model_id(),
        "releases": state.session.release_ids(),
    })
}

/// Lists the one model this server serves.
pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "object": "list", "data": [model(&state)] }))
}

/// The served model by name; any other name is a 404 `model_not_found`.
pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if name != state.model_name {
        return Err(RequestError::ModelNotFound {
            requested: name,
            served: state.model_name,
        }
        .into());
    }
    Ok(Json(model(&state)))
}
