//! `soil channel fund`.

use alloy::primitives::U256;

use crate::cli::{Global, args::parse_amount, output};

/// Adds AMOUNT to channel ID's deposit (not once its payer asked to close).
#[derive(Debug, clap::Args)]
pub(crate) struct Fund {
    /// The channel.
    id: u64,
    /// Amount in the payment token's base units.
    #[arg(value_parser = parse_amount)]
    amount: U256,
}

impl Fund {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        chain.fund_channel(self.id, self.amount).await?;
        let deposit = chain.channel(self.id).await?.deposit.to_string();
        output::record(
            global.json,
            &serde_json::json!({ "channelId": self.id, "funded": self.amount.to_string(), "deposit": deposit }),
            &[("funded", self.amount.to_string()), ("deposit", deposit)],
        )
    }
}
