//! The route registry: one handler per endpoint; any other route answers a JSON 404 (or 405).

use std::sync::Arc;

use axum::{
    Router, middleware,
    routing::{get, post},
};
use metrics_exporter_prometheus::PrometheusHandle;

use super::{Admission, Session, error::RequestError, handlers, session::ServedModel};
use crate::model::Sampling;

/// What every handler sees.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The paid session (its served models are what `/v1/models` lists and `model` picks from).
    pub session: Arc<Session>,
    /// Sampling used where a request leaves a field out.
    pub defaults: Sampling,
    /// The bound on completions running or queued.
    pub admission: Admission,
    /// Renders the process's metrics (see [`super::metrics::install`]).
    pub metrics: PrometheusHandle,
}

impl AppState {
    /// The served model clients call `name`, else a 404 `model_not_found` listing the served names.
    pub(crate) fn model(&self, name: &str) -> Result<&ServedModel, RequestError> {
        self.model_index(name)
            .map(|index| &self.session.models()[index])
    }

    /// [`Self::model`]'s index in the session's served models.
    pub(crate) fn model_index(&self, name: &str) -> Result<usize, RequestError> {
        let models = self.session.models();
        models
            .iter()
            .position(|model| model.name() == name)
            .ok_or_else(|| RequestError::ModelNotFound {
                requested: name.to_owned(),
                served: models
                    .iter()
                    .map(|model| format!("`{}`", model.name()))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(handlers::health::check))
        .route("/metrics", get(handlers::metrics::render))
        .route("/v1/models", get(handlers::models::list))
        .route("/v1/models/{model}", get(handlers::models::retrieve))
        .route("/v1/chat/completions", post(handlers::chat::complete))
        .route("/v1/completions", post(handlers::completions::complete))
        .route("/v1/embeddings", post(handlers::embeddings::embed))
        .route("/v1/responses", post(handlers::responses::respond))
        .route("/v1/outputs/{hash}", get(handlers::outputs::get))
        .route("/v1/logs/{root}", get(handlers::logs::get))
        .route("/v1/channels/{id}/cut", post(handlers::channels::cut))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(middleware::from_fn(handlers::metrics::track))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
