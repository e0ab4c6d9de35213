//! `soil wallet address`.

use crate::cli::{Global, output};

/// Prints the address of the wallet (keystore or SOIL_PRIVATE_KEY).
#[derive(Debug, clap::Args)]
pub(crate) struct Address {}

impl Address {
    pub(crate) fn run(self, global: &Global) -> anyhow::Result<()> {
        let address = global.wallet().open()?.address();
        output::record(
            global.json,
            &serde_json::json!({ "address": address }),
            &[("address", address.to_string())],
        )
    }
}
