//! `soil datanet review`.

use crate::cli::{Global, output};

/// Accepts or rejects a pending contribution (rejection slashes its stake).
#[derive(Debug, clap::Args)]
pub(crate) struct Review {
    /// The contribution.
    #[arg(long)]
    contribution: u64,
    /// Accept it.
    #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
    accept: bool,
    /// Reject it.
    #[arg(long)]
    reject: bool,
}

impl Review {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        chain.review(self.contribution, self.accept).await?;
        let verdict = if self.accept { "accepted" } else { "rejected" };
        output::record(
            global.json,
            &serde_json::json!({ "contributionId": self.contribution, "verdict": verdict }),
            &[
                ("contribution", self.contribution.to_string()),
                ("verdict", verdict.to_owned()),
            ],
        )
    }
}
