//! `soil settle`.

use std::time::Duration;

use alloy::primitives::U256;
use soil_client::{
    chain::Chain,
    error::DepositShortfall,
    outbox::{FailPoint, Outbox, SettleConfig, Settler},
};

use super::{Global, output};

/// Options shared by `soil settle` and `soil serve`'s background settlement.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SettleOptions {
    /// Most receipts per settle transaction.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) batch_size: u16,
    /// Blocks on top of a settlement before its receipts leave the outbox [default: 0 on chain 31337
    /// (anvil), else 3].
    #[arg(long)]
    pub(crate) confirmations: Option<u64>,
}

impl SettleOptions {
    pub(crate) fn config(&self, chain_id: u64) -> SettleConfig {
        SettleConfig {
            batch_size: usize::from(self.batch_size),
            confirmations: self
                .confirmations
                .unwrap_or(if chain_id == 31337 { 0 } else { 3 }),
            fail_point: FailPoint::from_env(),
            ..SettleConfig::default()
        }
    }
}

/// How far the wallet's deposit is from covering the receipts waiting in its outbox (all of them `needed`).
async fn shortfall(chain: &Chain, outbox: &Outbox) -> anyhow::Result<DepositShortfall> {
    let payer = chain.account();
    Ok(DepositShortfall {
        needed: outbox.committed_fees(payer).await?,
        deposit: chain.deposit_of(payer).await?,
        withdrawing: chain.pending_withdrawal(payer).await?.0,
        committed: U256::ZERO,
    })
}

/// Sends the outbox's pending receipts to the escrow in batches; with --interval keeps doing so. Exits
/// non-zero when receipts are deferred because the deposit cannot cover them, naming the shortfall.
#[derive(Debug, clap::Args)]
pub(crate) struct Settle {
    #[command(flatten)]
    options: SettleOptions,
    /// Keep settling every SECONDS instead of one round.
    #[arg(long)]
    interval: Option<u64>,
}

impl Settle {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        let outbox = global.outbox().await?;
        let settler = Settler::new(
            &chain,
            &outbox,
            self.options.config(chain.deployment().chain_id),
        );
        loop {
            let report = settler.run_once().await?;
            let counts = outbox.counts().await?;
            output::record(
                global.json,
                &serde_json::json!({ "report": report, "outbox": counts }),
                &[
                    ("settled", report.settled.to_string()),
                    ("already settled", report.already_settled.to_string()),
                    ("failed", report.failed.to_string()),
                    ("deferred", report.deferred.to_string()),
                    (
                        "transactions",
                        report
                            .transactions
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    (
                        "outbox",
                        format!(
                            "{} pending, {} in flight, {} failed",
                            counts.pending, counts.in_flight, counts.failed
                        ),
                    ),
                ],
            )?;
            if report.deferred_for_deposit > 0 {
                let shortfall = shortfall(&chain, &outbox).await?;
                let message = format!(
                    "{} receipt(s) deferred: the deposit is short by {} (deposit {}, pending withdrawal {}, \
                     receipts waiting {}); run `soil deposit`",
                    report.deferred_for_deposit,
                    shortfall.missing(),
                    shortfall.deposit,
                    shortfall.withdrawing,
                    shortfall.needed
                );
                if self.interval.is_none() {
                    anyhow::bail!(message);
                }
                tracing::warn!("{message}");
            }
            match self.interval {
                Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
                None => return Ok(()),
            }
        }
    }
}
