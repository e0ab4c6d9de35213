//! The web explorer served at `/`: one static page (HTML, CSS and vanilla JavaScript compiled into the
//! binary with `include_str!`, no build step, nothing fetched from outside the indexer) that draws the
//! attribution graph from the GraphQL API as SVG, with the aggregate figures beside it.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const INDEX_HTML: &str = include_str!("index.html");
const EXPLORER_JS: &str = include_str!("explorer.js");
const EXPLORER_CSS: &str = include_str!("explorer.css");

/// The explorer's routes: `/`, `/explorer.js` and `/explorer.css`.
pub fn routes() -> Router {
    Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", INDEX_HTML)))
        .route(
            "/explorer.js",
            get(|| asset("text/javascript; charset=utf-8", EXPLORER_JS)),
        )
        .route(
            "/explorer.css",
            get(|| asset("text/css; charset=utf-8", EXPLORER_CSS)),
        )
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
