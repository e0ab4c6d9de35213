//! The web explorer served at `/`: one static page (HTML, CSS and vanilla JavaScript compiled into the
//! binary with `include_str!`, no build step, nothing fetched from outside the indexer) that draws the
//! attribution graph from the GraphQL API as SVG, with the aggregate figures beside it.

use axum::Router;
use axum::routing::get;

use crate::api::embedded as asset;

const INDEX_HTML: &str = include_str!("index.html");
const EXPLORER_JS: &str = include_str!("explorer.js");
const EXPLORER_CSS: &str = include_str!("explorer.css");

/// The explorer's routes: `/`, `/explorer.js` and `/explorer.css`.
pub fn routes() -> Router {
    Router::new()
        .route(
            "/",
            get(|| asset("text/html; charset=utf-8", INDEX_HTML.as_bytes())),
        )
        .route(
            "/explorer.js",
            get(|| asset("text/javascript; charset=utf-8", EXPLORER_JS.as_bytes())),
        )
        .route(
            "/explorer.css",
            get(|| asset("text/css; charset=utf-8", EXPLORER_CSS.as_bytes())),
        )
}
