//! `soil claim`.

use std::collections::BTreeMap;

use alloy::primitives::U256;

use super::{Global, output};

/// Moves the pool rewards of your accepted contributions into your balance, then pays out the balance.
#[derive(Debug, clap::Args)]
pub(crate) struct Claim {
    /// Where to send the payout [default: the wallet].
    #[arg(long)]
    to: Option<alloy::primitives::Address>,
}

impl Claim {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        let account = chain.account();
        let contributions: Vec<_> = chain
            .contributions_of(account)
            .await?
            .into_iter()
            // `acceptedSeq` is nonzero exactly when the contribution was accepted.
            .filter(|c| c.state.acceptedSeq != 0)
            .collect();
        // Each release holds its datanet's first `contributionCount` accepted contributions.
        let mut pools: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        let mut pool_total = U256::ZERO;
        if !contributions.is_empty() {
            for release_id in 1..=chain.release_count().await? {
                let release = chain.release(release_id).await?;
                for c in &contributions {
                    if c.datanet_id == release.datanetId
                        && c.state.acceptedSeq <= release.contributionCount
                    {
                        let reward = chain.pool_reward_of(release_id, c.id).await?;
                        if reward > U256::ZERO {
                            pool_total += reward;
                            pools.entry(release_id).or_default().push(c.id);
                        }
                    }
                }
            }
        }
        for (release_id, ids) in &pools {
            chain.claim_pool_rewards(*release_id, ids.clone()).await?;
        }
        let claimable = chain.claimable(account).await?;
        let to = self.to.unwrap_or(account);
        let tx = if claimable > U256::ZERO {
            Some(chain.claim(to).await?)
        } else {
            None
        };
        output::record(
            global.json,
            &serde_json::json!({
                "poolRewards": pool_total.to_string(),
                "claimed": if tx.is_some() { claimable } else { U256::ZERO }.to_string(),
                "to": to,
                "transaction": tx,
            }),
            &[
                ("pool rewards moved", pool_total.to_string()),
                (
                    "claimed",
                    if tx.is_some() {
                        claimable.to_string()
                    } else {
                        "nothing to claim".to_owned()
                    },
                ),
                ("paid to", to.to_string()),
            ],
        )
    }
}
