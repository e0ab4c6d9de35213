//! `soil datanet list`.

use crate::cli::{Global, output};

/// Lists every datanet.
#[derive(Debug, clap::Args)]
pub(crate) struct List {}

impl List {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.reader().await?;
        let mut rows = Vec::new();
        let mut values = Vec::new();
        for id in 1..=chain.datanet_count().await? {
            let d = chain.datanet(id).await?;
            values.push(serde_json::json!({
                "id": id, "owner": d.owner, "minStake": d.minStake.to_string(),
                "acceptedCount": d.acceptedCount, "acceptedTokens": d.acceptedTokens, "releaseCount": d.releaseCount,
            }));
            rows.push(vec![
                id.to_string(),
                d.owner.to_string(),
                d.minStake.to_string(),
                d.acceptedCount.to_string(),
                d.acceptedTokens.to_string(),
                d.releaseCount.to_string(),
            ]);
        }
        if global.json {
            return output::json(&values);
        }
        output::table(
            &["ID", "OWNER", "MIN STAKE", "ACCEPTED", "TOKENS", "RELEASES"],
            &rows,
        )?;
        Ok(())
    }
}
