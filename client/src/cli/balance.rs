//! `soil balance`.

use super::{Global, output};

/// Shows the wallet's token balance, escrow deposit, pending withdrawal and claimable balance.
#[derive(Debug, clap::Args)]
pub(crate) struct Balance {
    /// Account to show [default: the wallet].
    #[arg(long)]
    account: Option<alloy::primitives::Address>,
}

impl Balance {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        let account = self.account.unwrap_or_else(|| chain.account());
        let token = chain.token_balance(account).await?;
        let deposit = chain.deposit_of(account).await?;
        let (pending, unlock_at) = chain.pending_withdrawal(account).await?;
        let claimable = chain.claimable(account).await?;
        output::record(
            global.json,
            &serde_json::json!({
                "account": account,
                "token": token.to_string(),
                "deposit": deposit.to_string(),
                "pendingWithdrawal": pending.to_string(),
                "unlockAt": unlock_at,
                "claimable": claimable.to_string(),
            }),
            &[
                ("account", account.to_string()),
                ("token balance", token.to_string()),
                ("escrow deposit", deposit.to_string()),
                (
                    "pending withdrawal",
                    format!("{pending} (unlocks at {unlock_at})"),
                ),
                ("claimable", claimable.to_string()),
            ],
        )
    }
}
