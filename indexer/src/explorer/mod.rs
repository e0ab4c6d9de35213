//! The web explorer served at `/`: one static page (HTML, CSS and vanilla JavaScript modules compiled
//! into the binary with `include_str!`, no build step, nothing fetched from outside the indexer). It
//! opens on the network at a glance (totals, datanets, models, top contributors, latest inferences with
//! their attributions) and shows any entity's attribution graph, drawn as SVG, with its figures beside
//! it; amounts are in the payment token's units, every id links to its entity's page (`#kind:key`).

use axum::Router;
use axum::routing::get;

use crate::api::embedded as asset;

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Each file of the explorer: its path, content type and content.
const FILES: [(&str, &str, &str); 8] = [
    ("/", HTML, include_str!("index.html")),
    ("/explorer.css", CSS, include_str!("explorer.css")),
    // The entry point: routes the URL's hash to the landing page or an entity's page.
    ("/explorer.js", JS, include_str!("explorer.js")),
    ("/api.js", JS, include_str!("api.js")),
    ("/format.js", JS, include_str!("format.js")),
    ("/landing.js", JS, include_str!("landing.js")),
    ("/entity.js", JS, include_str!("entity.js")),
    ("/graph.js", JS, include_str!("graph.js")),
];

/// The explorer's routes: `/` and each of its files.
pub fn routes() -> Router {
    FILES
        .into_iter()
        .fold(Router::new(), |router, (path, content_type, body)| {
            router.route(path, get(move || asset(content_type, body.as_bytes())))
        })
}
