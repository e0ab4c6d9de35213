//! Errors the GraphQL API reports to its clients. Each says what was wrong with the request (or that
//! the database failed) in words; async-graphql turns them into the response's `errors[].message`, with
//! a stable machine-readable `extensions.code`.

use std::time::Duration;

use async_graphql::ErrorExtensions;

/// Why a GraphQL field could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `first` or `last` was negative or above the page-size cap.
    #[error("`{argument}` must be between 0 and {max}, got {given}")]
    PageSize {
        /// `first` or `last`.
        argument: &'static str,
        /// What the client asked for.
        given: i32,
        /// The cap ([`crate::api::ApiConfig::max_page_size`]).
        max: usize,
    },
    /// Both `first` and `last` were given on one list.
    #[error("give either `first` (with `after`) or `last` (with `before`), not both")]
    BothDirections,
    /// A cursor that this API did not hand out.
    #[error(
        "invalid cursor {0:?}: use a cursor returned in `edges.cursor` or `pageInfo` of the same list"
    )]
    InvalidCursor(String),
    /// A node id that is not `kind:key`.
    #[error(
        "invalid id {0:?}: expected `account:0x<40 hex>`, `inference:0x<64 hex>`, or `datanet:`, `release:`, \
         `model:` or `contribution:` followed by a positive integer"
    )]
    InvalidId(String),
    /// An address that is not 0x followed by 40 hex digits.
    #[error("invalid address {0:?}: expected 0x followed by 40 hex digits")]
    InvalidAddress(String),
    /// A digest or hash that is not 0x followed by 64 hex digits.
    #[error("invalid digest {0:?}: expected 0x followed by 64 hex digits")]
    InvalidDigest(String),
    /// More than one of a list's mutually exclusive filters was given.
    #[error("give at most one of {0}: each filter follows its own index")]
    OneFilter(&'static str),
    /// The node asked for has not been indexed.
    #[error("{0} has not been indexed (no such node, or the indexer has not reached it yet)")]
    NotFound(String),
    /// An integer argument outside its allowed range.
    #[error("`{argument}` must be between {min} and {max}, got {given}")]
    OutOfRange {
        /// The argument's name.
        argument: &'static str,
        /// What the client asked for.
        given: i64,
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// The HTTP body is not a GraphQL request (JSON with `query`, and optionally `variables` and
    /// `operationName`).
    #[error("the request body is not a GraphQL request: {0}")]
    BadRequest(String),
    /// A `GET /graphql` that is neither a WebSocket upgrade, nor a query in the URL, nor a browser's.
    #[error(
        "GET /graphql takes a query in the URL (`?query=…`, with `variables` as JSON and \
         `operationName`), or a WebSocket upgrade for subscriptions (graphql-transport-ws or \
         graphql-ws); a browser (Accept: text/html) gets GraphiQL: {0}"
    )]
    BadGet(String),
    /// The HTTP body is larger than the server reads (axum's body limit).
    #[error("the request body is larger than this server accepts; send a shorter query")]
    TooLarge,
    /// The request ran past the per-request time limit.
    #[error("the request ran longer than the {}ms limit; ask for smaller pages or a shallower graph", .0.as_millis())]
    Timeout(Duration),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A read on the API's own SQLite connections failed.
    #[error("database error: {0}")]
    Read(#[source] rusqlite::Error),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    Closed,
    /// A stored value did not have the shape the indexer writes.
    #[error("stored {column} value {value:?} is malformed")]
    Stored {
        /// Table and column.
        column: &'static str,
        /// The value found.
        value: String,
    },
}

impl ApiError {
    /// The stable code put in `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PageSize { .. } | Self::BothDirections => "PAGE_SIZE",
            Self::InvalidCursor(_) => "INVALID_CURSOR",
            Self::InvalidId(_)
            | Self::OneFilter(_)
            | Self::InvalidAddress(_)
            | Self::InvalidDigest(_)
            | Self::OutOfRange { .. } => "BAD_ARGUMENT",
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadRequest(_) | Self::BadGet(_) => "BAD_REQUEST",
            Self::TooLarge => "REQUEST_TOO_LARGE",
            Self::Timeout(_) => "TIMEOUT",
            Self::Database(_) | Self::Read(_) | Self::Stored { .. } | Self::Closed => "INTERNAL",
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| e.set("code", self.code()))
    }
}

/// Result of a resolver: the error carries its `extensions.code`.
pub type ApiResult<T> = Result<T, async_graphql::Error>;

/// Converts an [`ApiError`] into the GraphQL error with its code (for `?` via `map_err`).
pub(crate) fn gql(e: impl Into<ApiError>) -> async_graphql::Error {
    e.into().extend()
}
