//! `soil datanet release`.

use anyhow::bail;
use soil_client::attribution::release_root;

use crate::cli::{Global, output};

/// Publishes a release: the datanet's whole accepted set, as a Merkle root over
/// (contributionId, contentHash) in acceptance order.
#[derive(Debug, clap::Args)]
pub(crate) struct Release {
    /// The datanet.
    #[arg(long)]
    datanet: u64,
}

impl Release {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        let datanet = chain.datanet(self.datanet).await?;
        let members = chain
            .accepted_set(self.datanet, datanet.acceptedCount)
            .await?;
        let leaves: Vec<_> = members
            .iter()
            .map(|m| (m.contribution_id, m.content_hash))
            .collect();
        if leaves.is_empty() {
            bail!(
                "datanet {} has no accepted contribution to release",
                self.datanet
            );
        }
        let root = release_root(&leaves);
        let id = chain
            .publish_release(self.datanet, root, datanet.acceptedCount)
            .await?;
        output::record(
            global.json,
            &serde_json::json!({ "releaseId": id, "root": root, "contributionCount": datanet.acceptedCount }),
            &[
                ("release", id.to_string()),
                ("root", root.to_string()),
                ("contributions", datanet.acceptedCount.to_string()),
            ],
        )
    }
}
