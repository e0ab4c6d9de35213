//! `soil model list`.

use crate::cli::{Global, output};

/// Lists every registered model.
#[derive(Debug, clap::Args)]
pub(crate) struct List {}

impl List {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.reader().await?;
        let mut rows = Vec::new();
        let mut values = Vec::new();
        for id in 1..=chain.model_count().await? {
            let m = chain.model(id).await?;
            let split = format!(
                "{}/{}/{}/{}",
                m.split.ownerBps, m.split.dataBps, m.split.nodeBps, m.split.treasuryBps
            );
            let releases = m
                .releaseIds
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let base = (m.baseModelId != 0).then_some(m.baseModelId);
            values.push(serde_json::json!({
                "id": id, "owner": m.owner, "weightsHash": m.weightsHash,
                "pricePerKiloToken": m.pricePerKiloToken.to_string(), "split": split, "releases": m.releaseIds,
                "baseModelId": base, "baseShareBps": base.map(|_| m.baseShareBps),
            }));
            rows.push(vec![
                id.to_string(),
                m.owner.to_string(),
                m.pricePerKiloToken.to_string(),
                split,
                releases,
                base.map_or_else(
                    || "-".to_owned(),
                    |base| format!("{base} ({} bps)", m.baseShareBps),
                ),
            ]);
        }
        if global.json {
            return output::json(&values);
        }
        output::table(
            &[
                "ID",
                "OWNER",
                "PRICE/1K",
                "SPLIT O/D/N/T",
                "RELEASES",
                "ADAPTER ON",
            ],
            &rows,
        )?;
        Ok(())
    }
}
