//! `soil channel`: open, fund, status, settle, close.

mod close;
mod fund;
mod open;
mod settle;
mod status;

use super::Global;

/// Usage channel subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ChannelCommand {
    /// Open a channel to a node for a model, locking a deposit (approves the channels contract for you).
    Open(open::Open),
    /// Add to a channel's deposit.
    Fund(fund::Fund),
    /// A channel's state on chain and what the outbox holds unsettled.
    Status(status::Status),
    /// Settle the channel's vouchers now (its node): from this wallet's outbox, or with --from from the
    /// payer's server, each voucher and its log checked first.
    Settle(settle::Settle),
    /// Close a channel: its payer asks, then closes once the window passed; its node settles what it
    /// holds and closes at once.
    Close(close::Close),
}

impl ChannelCommand {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        match self {
            Self::Open(cmd) => cmd.run(global).await,
            Self::Fund(cmd) => cmd.run(global).await,
            Self::Status(cmd) => cmd.run(global).await,
            Self::Settle(cmd) => cmd.run(global).await,
            Self::Close(cmd) => cmd.run(global).await,
        }
    }
}
