//! `GET /v1/models` and `GET /v1/models/{model}`.

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};

use crate::serve::{AppState, openai::ApiError, session::ServedModel};

/// A served model's object: OpenAI's fields, then its registered id, its base (for an adapter) and the
/// releases its outputs are attributed over.
fn model(served: &ServedModel) -> Value {
    json!({
        "id": served.name(),
        "object": "model",
        "created": 0,
        "owned_by": "soil",
        "soil_model_id": served.model_id(),
        "soil_base_model_id": served.base_model_id(),
        "releases": served.release_ids(),
    })
}

/// Lists the served models: the default one first, then the base and each adapter.
pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    let data: Vec<Value> = state.session.models().iter().map(model).collect();
    Json(json!({ "object": "list", "data": data }))
}

/// A served model by name; any other name is a 404 `model_not_found`.
pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(model(state.model(&name)?)))
}
