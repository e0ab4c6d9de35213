//! `soil channel open`.

use alloy::primitives::{Address, U256};

use crate::cli::{Global, args::parse_amount, output};

/// Opens a channel from the wallet to NODE for MODEL_ID, locking DEPOSIT; the wallet (or --signer) signs
/// its vouchers.
#[derive(Debug, clap::Args)]
pub(crate) struct Open {
    /// The node that runs the model and settles the vouchers.
    #[arg(long)]
    node: Address,
    /// The model the channel pays for.
    #[arg(long)]
    model_id: u64,
    /// Tokens locked in the channel (base units).
    #[arg(long, value_parser = parse_amount)]
    deposit: U256,
    /// Who signs the vouchers, fixed for the channel's life [default: the wallet].
    #[arg(long)]
    signer: Option<Address>,
}

impl Open {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        let signer = self.signer.unwrap_or_else(|| chain.account());
        let channel_id = chain
            .open_channel(self.node, self.model_id, signer, self.deposit)
            .await?;
        output::record(
            global.json,
            &serde_json::json!({
                "channelId": channel_id,
                "node": self.node,
                "modelId": self.model_id,
                "signer": signer,
                "deposit": self.deposit.to_string(),
            }),
            &[
                ("channel", channel_id.to_string()),
                ("node", self.node.to_string()),
                ("model", self.model_id.to_string()),
                ("signer", signer.to_string()),
                ("deposit", self.deposit.to_string()),
            ],
        )
    }
}
