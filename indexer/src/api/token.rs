//! `token`: the payment token every amount in the API is counted in (fees, stakes, earnings,
//! balances), so that a client can show base units as token units.

use async_graphql::SimpleObject;

/// The payment token: amounts are integers in its base units; one token is 10^`decimals` of them.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct Token {
    /// Its ERC-20 symbol, such as `SOIL`.
    pub symbol: String,
    /// Its ERC-20 decimals: one token is 10^decimals base units.
    pub decimals: u8,
}

impl Default for Token {
    /// The protocol's own `SoilToken`: `SOIL`, 18 decimals.
    fn default() -> Self {
        Self {
            symbol: "SOIL".to_owned(),
            decimals: 18,
        }
    }
}
