//! `soil channel close`.

use soil_client::channel::{SettleRound, settle_channel};

use crate::cli::{Global, output, settle::SettleOptions};

/// Closes channel ID. As its node: settles the vouchers the outbox holds, then closes at once. As its
/// payer: asks to close (the node may settle for one more close window), and closes once the window
/// passed, the rest of the deposit coming back.
#[derive(Debug, clap::Args)]
pub(crate) struct Close {
    /// The channel.
    id: u64,
    #[command(flatten)]
    options: SettleOptions,
}

impl Close {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        let channel = chain.channel(self.id).await?;
        let me = chain.account();
        if !channel.open {
            anyhow::bail!("channel {} is already closed", self.id);
        }
        if me == channel.node {
            let outbox = global.outbox().await?;
            if outbox.channel(self.id).await?.is_some() {
                let config = self.options.config(chain.deployment().chain_id);
                let round = SettleRound {
                    cut: true,
                    confirmations: config.confirmations,
                    fail_point: config.fail_point,
                };
                settle_channel(&chain, &outbox, self.id, round).await?;
            }
        } else if me != channel.payer {
            anyhow::bail!(
                "channel {} is closed by its payer {} or its node {}, not by this wallet ({me})",
                self.id,
                channel.payer,
                channel.node
            );
        } else if channel.closesAt == 0 {
            let closes_at = chain.request_channel_close(self.id).await?;
            return output::record(
                global.json,
                &serde_json::json!({ "channelId": self.id, "closed": false, "closesAt": closes_at }),
                &[(
                    "close requested",
                    format!(
                        "run `soil channel close {}` again from {closes_at}",
                        self.id
                    ),
                )],
            );
        } else {
            let (_, now) = chain.head().await?;
            if now < channel.closesAt {
                anyhow::bail!(
                    "channel {} may be closed by its payer from {} (the chain's time is {now}): its node may \
                     settle until then",
                    self.id,
                    channel.closesAt
                );
            }
        }
        let refund = chain.close_channel(self.id).await?;
        output::record(
            global.json,
            &serde_json::json!({ "channelId": self.id, "closed": true, "refund": refund.to_string() }),
            &[
                ("closed", self.id.to_string()),
                ("refund", refund.to_string()),
            ],
        )
    }
}
