//! `soil datanet`: create, contribute, review, release, list, sync.

mod contribute;
mod create;
mod list;
mod release;
mod review;
mod sync;
mod withdraw;

use super::Global;

/// Datanet subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum DatanetCommand {
    /// Create a datanet.
    Create(create::Create),
    /// Contribute a document (stakes the given amount; approves the registry for you).
    Contribute(contribute::Contribute),
    /// Accept or reject a pending contribution (curators).
    Review(review::Review),
    /// Take back your contribution left unreviewed past the datanet's review window, with its stake.
    Withdraw(withdraw::Withdraw),
    /// Publish a release of the datanet's accepted set.
    Release(release::Release),
    /// List datanets.
    List(list::List),
    /// Fetch, verify and index a release's documents.
    Sync(sync::Sync),
}

impl DatanetCommand {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        match self {
            Self::Create(cmd) => cmd.run(global).await,
            Self::Contribute(cmd) => cmd.run(global).await,
            Self::Review(cmd) => cmd.run(global).await,
            Self::Withdraw(cmd) => cmd.run(global).await,
            Self::Release(cmd) => cmd.run(global).await,
            Self::List(cmd) => cmd.run(global).await,
            Self::Sync(cmd) => cmd.run(global).await,
        }
    }
}
