//! `soil channel settle`.

use soil_client::channel::{SettleRound, settle_channel};

use crate::cli::{Global, output, settle::SettleOptions};

/// Settles channel ID's latest voucher now: the open period is cut (its latest voucher chosen, the next
/// period opened at its fee) and every cut voucher sent, after reconciling the outbox with the chain (a
/// voucher that already settled is never sent again). The wallet must be the channel's node, holding its
/// vouchers in its outbox.
#[derive(Debug, clap::Args)]
pub(crate) struct Settle {
    /// The channel.
    id: u64,
    #[command(flatten)]
    options: SettleOptions,
}

impl Settle {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        let outbox = global.outbox().await?;
        if outbox.channel(self.id).await?.is_none() {
            anyhow::bail!(
                "the outbox {} holds no vouchers of channel {}",
                outbox.path().display(),
                self.id
            );
        }
        let config = self.options.config(chain.deployment().chain_id);
        let round = SettleRound {
            cut: true,
            confirmations: config.confirmations,
            fail_point: config.fail_point,
        };
        let report = settle_channel(&chain, &outbox, self.id, round).await?;
        let periods = |list: &[u32]| {
            list.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        output::record(
            global.json,
            &report,
            &[
                ("settled periods", periods(&report.settled)),
                ("already settled", periods(&report.already_settled)),
                ("settled fee", report.settled_fee.clone()),
                (
                    "transactions",
                    report
                        .transactions
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            ],
        )
    }
}
