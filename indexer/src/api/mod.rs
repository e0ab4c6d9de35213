//! The indexer's read side: GraphQL over the store (async-graphql on axum) and the web explorer.
//!
//! [`router`] serves
//! - `POST /graphql`: queries (Relay-style cursor pagination on every list, filters and ordering on
//!   indexed columns only, `attributionGraph`, aggregates read from the indexer's running totals);
//! - `GET /graphql` upgraded to WebSocket: subscriptions (`settlements`, `contributions`); with a
//!   query in the URL, that query; from a browser (`Accept: text/html`), GraphiQL;
//! - `GET /graphiql`: the GraphiQL IDE, served from the binary (no CDN);
//! - `GET /`: the explorer (see [`explorer`]).
//!
//! Every request is bounded: query depth and complexity limits, a page-size cap, a per-request time
//! limit, and a statement timeout on the API's own read connections (PostgreSQL's server-side
//! `statement_timeout`; on SQLite a progress handler that interrupts the statement).

mod account;
mod amount;
mod attribution;
mod cache;
mod channel;
mod claim;
mod contribution;
mod datanet;
mod db;
mod depth;
pub mod error;
#[path = "../explorer/mod.rs"]
pub mod explorer;
mod figures;
mod flat;
mod graph;
mod graphiql;
mod ids;
mod inference;
mod inflight;
mod loader;
mod marks;
mod meta;
mod model;
mod pagination;
mod pool;
mod quantity;
mod query;
mod reader;
mod reads;
mod release;
mod rows;
mod skipped;
mod splice;
mod subscription;
mod token;
mod voucher;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Context, EmptyMutation, Schema, SchemaBuilder, ServerError};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

pub use error::ApiError;
pub use token::Token;

use crate::api::cache::ResponseCache;
use crate::api::db::Db;
use crate::api::depth::DepthLimit;
use crate::api::figures::{Figures, Template};
use crate::api::inflight::{InFlight, Turn};
use crate::api::loader::{entity_loader, group_loader};
use crate::api::query::QueryRoot;
use crate::api::reads::Reads;
use crate::api::splice::Splices;
use crate::api::subscription::SubscriptionRoot;
use crate::store::Store;

/// The API's limits and tuning.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest `first`/`last` a list accepts.
    pub max_page_size: usize,
    /// Deepest query accepted: fields nested, `ofType` not counted (see `api::depth`).
    pub max_depth: usize,
    /// Largest query complexity accepted (`limit_complexity`); a list costs its page size times the
    /// cost of one node.
    pub max_complexity: usize,
    /// Deepest `attributionGraph` (levels from the root).
    pub max_graph_depth: usize,
    /// Most nodes an `attributionGraph` returns.
    pub max_graph_nodes: usize,
    /// Time limit of one request (and PostgreSQL's `statement_timeout` on the read pool).
    pub request_timeout: Duration,
    /// Connections in the API's read pool.
    pub read_connections: u32,
    /// How often subscriptions look for new rows.
    pub poll_interval: Duration,
    /// `_meta.synced` is true when the checkpoint is at most this many blocks behind the head.
    pub synced_lag: i64,
    /// Bytes of answers the response cache keeps for the store's current version (0: no cache).
    pub response_cache_bytes: usize,
    /// The payment token amounts are counted in (`token`; the explorer shows amounts in its units).
    pub token: Token,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_page_size: 100,
            max_depth: 12,
            max_complexity: 5_000,
            max_graph_depth: 3,
            max_graph_nodes: 500,
            request_timeout: Duration::from_secs(5),
            read_connections: 8,
            poll_interval: Duration::from_millis(250),
            synced_lag: 1,
            response_cache_bytes: 256 << 20,
            token: Token::default(),
        }
    }
}

/// The GraphQL schema type.
type SoilSchema = Schema<QueryRoot, EmptyMutation, SubscriptionRoot>;

/// The page-size-independent part of the schema (types and limits), without data.
fn builder(config: &ApiConfig) -> SchemaBuilder<QueryRoot, EmptyMutation, SubscriptionRoot> {
    Schema::build(QueryRoot, EmptyMutation, SubscriptionRoot)
        .extension(DepthLimit(config.max_depth))
        .limit_complexity(config.max_complexity)
}

/// The schema in SDL, as committed in `indexer/schema.graphql`.
pub fn sdl() -> String {
    builder(&ApiConfig::default()).finish().sdl()
}

/// The executable schema over `store`.
fn schema(db: Db, config: ApiConfig) -> SoilSchema {
    builder(&config)
        .data(entity_loader::<account::AccountRow>(&db))
        .data(entity_loader::<datanet::Datanet>(&db))
        .data(entity_loader::<contribution::Contribution>(&db))
        .data(entity_loader::<release::Release>(&db))
        .data(entity_loader::<model::Model>(&db))
        .data(entity_loader::<inference::Inference>(&db))
        .data(entity_loader::<channel::Channel>(&db))
        .data(entity_loader::<voucher::VoucherSettlement>(&db))
        .data(group_loader::<voucher::VoucherContribution>(&db))
        .data(group_loader::<attribution::AttributionEdge>(&db))
        .data(group_loader::<datanet::Curator>(&db))
        .data(group_loader::<release::ReleaseOfModel>(&db))
        .data(group_loader::<model::TrainedOn>(&db))
        .data(db)
        .data(config)
        .finish()
}

/// What a `/graphql` POST needs.
#[derive(Clone)]
struct Graphql {
    schema: SoilSchema,
    timeout: Duration,
    /// Read for its version: an answer is cached for the version it was read at.
    store: Store,
    cache: Option<Arc<ResponseCache>>,
    /// The node figures cached answers are filled with.
    figures: Arc<Figures>,
    /// The requests running for the cache, which identical requests wait for.
    flights: Arc<InFlight>,
    /// Where missing figures are read.
    db: Db,
}

/// The HTTP routes: `/graphql` (POST queries; GET: WebSocket subscriptions, a query in the URL,
/// GraphiQL for a browser), `/graphiql` and the explorer at `/`. The response cache follows `store`'s
/// change log: mount it in the process that writes `store` (`run`), or over a replica's handle that a
/// [`Follower`](crate::store::replica::Follower) keeps up (`serve`).
pub fn router(store: &Store, config: ApiConfig) -> Router {
    let timeout = config.request_timeout;
    let cache = ResponseCache::new(config.response_cache_bytes).map(Arc::new);
    let db = Db::new(store, config.read_connections, config.request_timeout);
    let schema = schema(db.clone(), config);
    let graphql = post(execute).get(get).with_state(Graphql {
        schema,
        timeout,
        store: store.clone(),
        cache,
        figures: Arc::new(Figures::new()),
        flights: Arc::default(),
        db,
    });
    Router::new()
        .route("/graphql", graphql)
        .merge(graphiql::routes())
        .merge(explorer::routes())
}

/// `GET /graphql`: a WebSocket upgrade serves subscriptions; a browser (`Accept: text/html`) gets
/// GraphiQL; a query in the URL (GraphQL over HTTP: `query`, `variables` as JSON, `operationName`) is
/// answered as the same query POSTed; anything else is HTTP 400 with a GraphQL error saying what GET
/// takes.
async fn get(State(api): State<Graphql>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let bad = |status: StatusCode, reason: String| {
        json(
            status,
            serialize(&error_response(&ApiError::BadGet(reason))),
        )
    };
    if parts.headers.contains_key(header::UPGRADE) {
        let Ok(protocol) = GraphQLProtocol::from_request_parts(&mut parts, &()).await else {
            return bad(
                StatusCode::BAD_REQUEST,
                "the upgrade names no GraphQL WebSocket subprotocol".to_owned(),
            );
        };
        let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(upgrade) => upgrade,
            Err(rejection) => return bad(rejection.status(), rejection.body_text()),
        };
        let schema = api.schema.clone();
        return upgrade
            .protocols(ALL_WEBSOCKET_PROTOCOLS)
            .on_upgrade(move |stream| GraphQLWebSocket::new(stream, schema, protocol).serve());
    }
    let html = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if html {
        return graphiql::page().await.into_response();
    }
    match url_request(parts.uri.query().unwrap_or_default()) {
        Ok(Some(body)) => execute(State(api), Ok(body)).await,
        Ok(None) => bad(StatusCode::BAD_REQUEST, "it has none of them".to_owned()),
        Err(reason) => bad(StatusCode::BAD_REQUEST, reason),
    }
}

/// The JSON body that POSTs the GraphQL request in a URL's query string `query`; `None` when it has no
/// `query`, and why when its `variables` are not JSON.
fn url_request(query: &str) -> Result<Option<Bytes>, String> {
    let mut request = serde_json::Map::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = match &*name {
            "query" | "operationName" => serde_json::Value::String(value.into_owned()),
            "variables" => {
                serde_json::from_str(&value).map_err(|e| format!("`variables` is not JSON: {e}"))?
            }
            _ => continue,
        };
        request.insert(name.into_owned(), value);
    }
    if !request.contains_key("query") {
        return Ok(None);
    }
    // A map of strings and JSON values: it always serializes.
    let body = serde_json::to_vec(&request).expect("a JSON map serializes");
    Ok(Some(Bytes::from(body)))
}

/// Answers one query: from the response cache when the same body was answered and nothing it read
/// has changed since, else by running it under the per-request time limit (recording what it reads,
/// for the cache). A request that misses while the same body runs waits for that run and asks the
/// cache again ([`inflight`]). A body that cannot be read, or is not a GraphQL request, is answered with
/// HTTP 400 (413 when too large) and a GraphQL error saying why.
async fn execute(State(api): State<Graphql>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let error = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge
            } else {
                ApiError::BadRequest(rejection.body_text())
            };
            return json(rejection.status(), serialize(&error_response(&error)));
        }
    };
    let deadline = tokio::time::Instant::now() + api.timeout;
    let timed_out = || {
        json(
            StatusCode::OK,
            serialize(&error_response(&ApiError::Timeout(api.timeout))),
        )
    };
    let log = api.store.changes();
    let mut version = log.version();
    let mut leading = None;
    let cached = api.cache.as_ref().filter(|_| cache::cacheable(&body));
    if let Some(cache) = &api.cache {
        if let Some(answer) = cache.get(log, &body) {
            return api.filled(&answer).await;
        }
        if cached.is_some() {
            match api.flights.join(&body) {
                Turn::Lead(leader) => leading = Some(leader),
                Turn::Follow(follower) => {
                    if tokio::time::timeout_at(deadline, follower.done())
                        .await
                        .is_err()
                    {
                        return timed_out();
                    }
                    if let Some(answer) = cache.get(log, &body) {
                        return api.filled(&answer).await;
                    }
                    version = log.version();
                }
            }
        }
    }
    let request = match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) if request.query.trim().is_empty() => {
            let response = error_response(&ApiError::BadRequest("it has no `query`".to_owned()));
            return json(StatusCode::BAD_REQUEST, serialize(&response));
        }
        Ok(request) => request,
        Err(e) => {
            let response = error_response(&ApiError::BadRequest(e.to_string()));
            return json(StatusCode::BAD_REQUEST, serialize(&response));
        }
    };
    let reads = Arc::new(Reads::default());
    let splices = Arc::new(Splices::new());
    let holes = cached.map(|_| Arc::new(api.figures.holes()));
    let mut request = request.data(Arc::clone(&reads)).data(Arc::clone(&splices));
    if let Some(holes) = &holes {
        request = request.data(Arc::clone(holes));
    }
    let Ok(response) = tokio::time::timeout_at(deadline, api.schema.execute(request)).await else {
        return timed_out();
    };
    let text = Bytes::from(splices.splice(serialize_vec(&response)));
    let answer = Arc::new(match &holes {
        Some(holes) => {
            api.figures.keep(log, version, holes);
            api.figures.template(text)
        }
        None => Template::plain(text),
    });
    if let Some(cache) = cached
        && response.is_ok()
    {
        cache.put(log, version, body, Arc::clone(&answer), reads.take());
    }
    // After the put: wakes the requests that waited for this one.
    drop(leading);
    api.filled(&answer).await
}

impl Graphql {
    /// `answer` with its node figures at the store's current version.
    async fn filled(&self, answer: &Template) -> Response {
        match self
            .figures
            .fill(&self.db, self.store.changes(), answer)
            .await
        {
            Ok(body) => json(StatusCode::OK, body),
            Err(error) => {
                let response = async_graphql::Response::from_errors(vec![
                    error.into_server_error(Default::default()),
                ]);
                json(StatusCode::OK, serialize(&response))
            }
        }
    }
}

/// A response carrying `error` alone, with its `extensions.code`.
fn error_response(error: &ApiError) -> async_graphql::Response {
    let mut server_error = ServerError::new(error.to_string(), None);
    server_error.extensions = Some({
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", error.code());
        ext
    });
    async_graphql::Response::from_errors(vec![server_error])
}

fn serialize(response: &async_graphql::Response) -> Bytes {
    Bytes::from(serialize_vec(response))
}

fn serialize_vec(response: &async_graphql::Response) -> Vec<u8> {
    // A response is a tree of strings, numbers and maps with string keys: it always serializes.
    serde_json::to_vec(response).expect("a GraphQL response serializes to JSON")
}

/// A file compiled into the binary (the explorer's and GraphiQL's), revalidated on every load.
pub(crate) async fn embedded(content_type: &'static str, body: &'static [u8]) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

fn json(status: StatusCode, body: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The list arguments every connection takes: `first`, `after`, `last`, `before`.
type Args = (Option<i32>, Option<String>, Option<i32>, Option<String>);

/// The read pool, from the schema's data, to read `tables` (recorded in the request's reads: name
/// every table the statement reads, unless the caller records finer reads itself).
fn db<'a>(ctx: &Context<'a>, tables: &[&'static str]) -> &'a Db {
    if let Some(reads) = reads::reads(ctx) {
        tables.iter().for_each(|table| reads.table(table));
    }
    ctx.data_unchecked::<Db>()
}
