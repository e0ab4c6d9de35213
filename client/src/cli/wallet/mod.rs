//! `soil wallet`: create a keystore, show the wallet's address.

mod address;
mod new;

use super::Global;

/// Wallet subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum WalletCommand {
    /// Create a new random key in an encrypted keystore (--keystore PATH).
    New(new::New),
    /// Print the wallet's address.
    Address(address::Address),
}

impl WalletCommand {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        match self {
            Self::New(cmd) => cmd.run(global),
            Self::Address(cmd) => cmd.run(global),
        }
    }
}
