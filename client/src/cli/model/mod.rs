//! `soil model`: register, list, share.

mod list;
mod register;
mod share;

use super::Global;

/// Model subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ModelCommand {
    /// Register a GGUF model (its SHA-256 is the weights hash) against releases, with a price and split.
    Register(register::Register),
    /// List registered models.
    List(list::List),
    /// Declare the share of each fee that adapters registered on a model from now on pay its owner.
    Share(share::Share),
}

impl ModelCommand {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        match self {
            Self::Register(cmd) => cmd.run(global).await,
            Self::List(cmd) => cmd.run(global).await,
            Self::Share(cmd) => cmd.run(global).await,
        }
    }
}
