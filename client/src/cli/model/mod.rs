//! `soil model`: register, list.

mod list;
mod register;

use super::Global;

/// Model subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ModelCommand {
    /// Register a GGUF model (its SHA-256 is the weights hash) against releases, with a price and split.
    Register(register::Register),
    /// List registered models.
    List(list::List),
}

impl ModelCommand {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        match self {
            Self::Register(cmd) => cmd.run(global).await,
            Self::List(cmd) => cmd.run(global).await,
        }
    }
}
