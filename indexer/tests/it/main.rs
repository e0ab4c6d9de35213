//! The indexer's integration suite: a real anvil with the contracts deployed, the real store
//! (SQLite, and PostgreSQL in a throwaway cluster), the real binary for the crash test.

mod adapters;
mod api;
mod channels;
mod crash;
mod explorer;
mod graphql;
mod indexes;
mod landing;
mod migrations;
mod postgres;
mod reorg;
mod replicas;
mod strings;
mod subscriptions;
mod support;
mod sync;
