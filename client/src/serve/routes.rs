//! The route registry: one handler per endpoint; any other route answers a JSON 404 (or 405).

use std::sync::Arc;

use axum::{
    Router,
    routing::{get, post},
};

use super::{Session, handlers};
use crate::model::Sampling;

/// What every handler sees.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The paid session.
    pub session: Arc<Session>,
    /// The name clients use in `model` (listed by `/v1/models`).
    pub model_name: String,
    /// Sampling used where a request leaves a field out.
    pub defaults: Sampling,
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(handlers::health::check))
        .route("/v1/models", get(handlers::models::list))
        .route("/v1/models/{model}", get(handlers::models::retrieve))
        .route("/v1/chat/completions", post(handlers::chat::complete))
        .route("/v1/completions", post(handlers::completions::complete))
        .route("/v1/outputs/{hash}", get(handlers::outputs::get))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
