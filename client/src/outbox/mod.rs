//! The durable receipt outbox: signed receipts in SQLite (WAL, fully synchronous) until their settlement
//! is final.
//!
//! A receipt is written before anything is sent ([`Outbox::push`]); the [`settle`] loop marks a batch
//! in flight with the hash of its already signed settlement transaction before broadcasting it, and
//! deletes the rows only once that transaction has the configured confirmations. After a crash the
//! in-flight rows are reconciled against the chain (the nonce bitmap says whether each receipt was
//! charged), so no receipt is lost and none is charged twice.
//!
//! The same database keeps the state of usage channels (`channels`): each period's receipts log and
//! latest signed voucher, written together per inference.

mod channels;
pub mod settle;
mod store;

pub use channels::{ChannelRecord, PeriodRecord, PeriodState, SignedInference};
pub use settle::{FailPoint, SettleConfig, SettleReport, Settler};
pub use store::{Entry, FailedEntry, Outbox, OutboxCounts, now as store_now};
