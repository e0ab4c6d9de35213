//! `soil deposit AMOUNT`.

use super::{Global, args::parse_amount, output};

/// Deposits AMOUNT (token base units) for the wallet; approves the escrow first if needed.
#[derive(Debug, clap::Args)]
pub(crate) struct Deposit {
    /// Amount in the payment token's base units.
    #[arg(value_parser = parse_amount)]
    amount: alloy::primitives::U256,
}

impl Deposit {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        chain.deposit(self.amount).await?;
        let deposit = chain.deposit_of(chain.account()).await?;
        output::record(
            global.json,
            &serde_json::json!({ "deposited": self.amount.to_string(), "deposit": deposit.to_string() }),
            &[
                ("deposited", self.amount.to_string()),
                ("deposit", deposit.to_string()),
            ],
        )
    }
}
