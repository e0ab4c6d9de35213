//! `soil datanet withdraw`.

use crate::cli::{Global, output};

/// Withdraws your contribution left unreviewed past its datanet's review window; the stake comes back.
#[derive(Debug, clap::Args)]
pub(crate) struct Withdraw {
    /// The contribution.
    #[arg(long)]
    contribution: u64,
}

impl Withdraw {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        chain.withdraw_contribution(self.contribution).await?;
        output::record(
            global.json,
            &serde_json::json!({ "contributionId": self.contribution, "withdrawn": true }),
            &[("withdrawn contribution", self.contribution.to_string())],
        )
    }
}
