//! From decoded events to the attribution graph: what each event means for the tables
//! ([`apply`], [`channel`] for `UsageChannels`'), where settled money goes in the aggregates
//! (`credit`, shared by both), how a fee splits ([`split`]), and the cached working set that journals
//! changes to unfinalised blocks ([`state`]).

pub mod apply;
pub mod channel;
mod credit;
pub mod event;
pub mod rebuild;
pub mod split;
pub mod state;

pub use event::{Contract, RawEvent, SoilEvent};
pub use state::State;
