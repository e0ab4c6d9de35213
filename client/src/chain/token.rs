//! The payment token: approvals handled for the user, balances.

use alloy::primitives::{Address, U256};
use soil_bindings::contracts::IPaymentToken;

use super::{Chain, tx::contract_error};
use crate::error::Result;

impl Chain {
    /// Makes sure `spender` may pull `amount` of the payment token from the wallet, approving exactly
    /// `amount` if the current allowance is lower.
    pub async fn ensure_allowance(&self, spender: Address, amount: U256) -> Result<()> {
        let token = IPaymentToken::new(self.deployment.token, &self.provider);
        let allowance = token
            .allowance(self.account, spender)
            .call()
            .await
            .map_err(|err| contract_error("reading the token allowance", &err))?;
        if allowance >= amount {
            return Ok(());
        }
        let tx = token.approve(spender, amount).into_transaction_request();
        self.send("approving the payment token", tx).await.map(drop)
    }

    /// The payment-token balance of `account`.
    pub async fn token_balance(&self, account: Address) -> Result<U256> {
        IPaymentToken::new(self.deployment.token, &self.provider)
            .balanceOf(account)
            .call()
            .await
            .map_err(|err| contract_error("reading the token balance", &err))
    }
}
