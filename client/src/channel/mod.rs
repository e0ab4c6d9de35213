//! Paying through a usage channel (docs/PROTOCOL.md, "UsageChannels"): after every inference the payer's
//! wallet signs the channel's next cumulative voucher, and the node settles one voucher per period.
//!
//! - [`ChannelBook`]: one channel a session pays through — checked against the chain when opened, it
//!   refuses work its deposit cannot cover, holds each admitted request's largest fee until the request
//!   is recorded ([`Reservation`]) and records each inference (log entry and new voucher, in one outbox
//!   transaction);
//! - [`settle`]: choosing the voucher to settle (the cut), sending it, and reconciling the outbox with the
//!   chain after a crash, so nothing is lost and nothing is settled twice;
//! - [`handover`]: when the payer's wallet is not the node, the payer's server cuts on the node's request
//!   and hands over its cut periods ([`hand_over`]); [`collect`] is the node's side: it asks, checks each
//!   voucher ([`check`]) and its published log and settles them with its own wallet.

mod book;
pub mod check;
pub mod collect;
pub mod handover;
pub mod settle;

pub use book::{ChannelBook, ChannelPayment, Inference, Reservation};
pub use collect::{CollectReport, RefusedPeriod, SettledPeriod, collect};
pub use handover::{HandedPeriod, Handover, hand_over};
pub use settle::{ChannelSettleReport, SettlePolicy, SettleRound, reconcile, settle_channel};
