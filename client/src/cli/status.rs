//! `soil status`.

use super::{
    Global,
    output::{self, outln},
};

/// Outbox counts (pending, in flight, failed with reasons), deposit and claimable balance.
#[derive(Debug, clap::Args)]
pub(crate) struct Status {}

impl Status {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let outbox = global.outbox().await?;
        let counts = outbox.counts().await?;
        let failed = outbox.failed().await?;
        let chain = global.chain().await?;
        let deposit = chain.deposit_of(chain.account()).await?;
        let claimable = chain.claimable(chain.account()).await?;
        if global.json {
            let failed: Vec<_> = failed
                .iter()
                .map(|f| serde_json::json!({ "id": f.id, "digest": f.digest, "reason": f.reason }))
                .collect();
            return output::json(&serde_json::json!({
                "account": chain.account(),
                "outbox": counts,
                "failedReceipts": failed,
                "deposit": deposit.to_string(),
                "claimable": claimable.to_string(),
            }));
        }
        output::record(
            false,
            &(),
            &[
                ("account", chain.account().to_string()),
                ("outbox", outbox.path().display().to_string()),
                ("pending receipts", counts.pending.to_string()),
                ("in flight", counts.in_flight.to_string()),
                ("failed", counts.failed.to_string()),
                ("escrow deposit", deposit.to_string()),
                ("claimable", claimable.to_string()),
            ],
        )?;
        for f in failed {
            outln!("failed receipt #{} {}: {}", f.id, f.digest, f.reason)?;
        }
        Ok(())
    }
}
