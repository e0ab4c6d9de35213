//! Soil's indexer: follows the contracts' events, stores them raw and as an attribution graph with
//! incrementally kept aggregates, survives crashes and reorgs, and serves the graph over GraphQL.
//!
//! - [`sync`]: RPC, log ranges, decoding, the follow loop; [`reorg`]: detection and revert.
//! - [`projection`]: what each event means for the tables; `rebuild` from raw events.
//! - [`store`]: the schema (SQLite or PostgreSQL) and its transactional writes.
//! - [`api`]: GraphQL and the explorer over the store (read only).
//! - [`metrics`], [`config`], [`error`].

pub mod allocator;
pub mod api;
pub mod cli;
pub mod config;
pub mod error;
pub mod logs;
pub mod metrics;
pub mod projection;
pub mod reorg;
pub mod store;
pub mod sync;

pub use error::{IndexerError, Result};
