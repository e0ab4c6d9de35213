//! GraphiQL at `/graphiql`, wholly served by the indexer: the page, a start script, and GraphiQL 3
//! with React 18 compiled into the binary from the pinned npm packages (see `indexer/build.rs`), so
//! the IDE works on a machine with no network. `/graphiql?query=…` opens with that query.

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::api::embedded as asset;

const PAGE: &str = include_str!("index.html");
const START_JS: &str = include_str!("start.js");
const REACT_JS: &[u8] = include_bytes!(env!("SOIL_GRAPHIQL_REACT"));
const REACT_DOM_JS: &[u8] = include_bytes!(env!("SOIL_GRAPHIQL_REACT_DOM"));
const GRAPHIQL_JS: &[u8] = include_bytes!(env!("SOIL_GRAPHIQL_JS"));
const GRAPHIQL_CSS: &[u8] = include_bytes!(env!("SOIL_GRAPHIQL_CSS"));

const JS: &str = "text/javascript; charset=utf-8";

/// The GraphiQL page (also served for a browser's `GET /graphql`).
pub(crate) async fn page() -> impl IntoResponse {
    asset("text/html; charset=utf-8", PAGE.as_bytes()).await
}

/// `/graphiql` and its assets under `/graphiql/`.
pub(crate) fn routes() -> Router {
    Router::new()
        .route("/graphiql", get(page))
        .route("/graphiql/start.js", get(|| asset(JS, START_JS.as_bytes())))
        .route("/graphiql/react.js", get(|| asset(JS, REACT_JS)))
        .route("/graphiql/react-dom.js", get(|| asset(JS, REACT_DOM_JS)))
        .route("/graphiql/graphiql.js", get(|| asset(JS, GRAPHIQL_JS)))
        .route(
            "/graphiql/graphiql.css",
            get(|| asset("text/css; charset=utf-8", GRAPHIQL_CSS)),
        )
}
