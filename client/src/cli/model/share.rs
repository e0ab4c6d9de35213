//! `soil model share`.

use crate::cli::{Global, output};

/// Declares the derivative share of a whole model: the basis points of each fee that every adapter
/// registered on it from now on pays its owner (adapters already registered keep theirs).
#[derive(Debug, clap::Args)]
pub(crate) struct Share {
    /// The whole model's id.
    model_id: u64,
    /// The share in basis points of each adapter receipt's fee (0–10000, taken from the adapter owner's
    /// part).
    #[arg(value_parser = clap::value_parser!(u16).range(0..=10_000))]
    bps: u16,
}

impl Share {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        chain.set_derivative_share(self.model_id, self.bps).await?;
        output::record(
            global.json,
            &serde_json::json!({ "modelId": self.model_id, "derivativeShareBps": self.bps }),
            &[
                ("model", self.model_id.to_string()),
                ("derivative share", format!("{} bps", self.bps)),
            ],
        )
    }
}
