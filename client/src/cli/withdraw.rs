//! `soil withdraw AMOUNT` (request) and `soil withdraw --execute`.

use anyhow::bail;

use super::{Global, args::parse_amount, output};

/// Requests a withdrawal of AMOUNT (executable after the escrow's delay), or executes an unlocked one.
#[derive(Debug, clap::Args)]
pub(crate) struct Withdraw {
    /// Amount to request, in base units.
    #[arg(value_parser = parse_amount, conflicts_with = "execute")]
    amount: Option<alloy::primitives::U256>,
    /// Execute the pending, unlocked withdrawal.
    #[arg(long)]
    execute: bool,
}

impl Withdraw {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        match (self.amount, self.execute) {
            (Some(amount), false) => chain.request_withdrawal(amount).await?,
            (None, true) => chain.withdraw().await?,
            _ => bail!(
                "give an AMOUNT to request a withdrawal, or --execute to carry out an unlocked one"
            ),
        }
        let (pending, unlock_at) = chain.pending_withdrawal(chain.account()).await?;
        let deposit = chain.deposit_of(chain.account()).await?;
        output::record(
            global.json,
            &serde_json::json!({
                "deposit": deposit.to_string(),
                "pendingWithdrawal": pending.to_string(),
                "unlockAt": unlock_at,
            }),
            &[
                ("deposit", deposit.to_string()),
                ("pending withdrawal", pending.to_string()),
                ("unlocks at", unlock_at.to_string()),
            ],
        )
    }
}
