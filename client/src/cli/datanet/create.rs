//! `soil datanet create`.

use alloy::primitives::{Address, aliases::U96};

use crate::cli::{Global, args::parse_u96, output};

/// Creates a datanet.
#[derive(Debug, clap::Args)]
pub(crate) struct Create {
    /// Where the datanet's description lives.
    #[arg(long, default_value = "")]
    metadata_uri: String,
    /// Smallest stake a contribution must lock, in base units.
    #[arg(long, value_parser = parse_u96)]
    min_stake: U96,
    /// A curator (repeatable).
    #[arg(long = "curator")]
    curators: Vec<Address>,
}

impl Create {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        let id = chain
            .create_datanet(&self.metadata_uri, self.min_stake, self.curators)
            .await?;
        output::record(
            global.json,
            &serde_json::json!({ "datanetId": id }),
            &[("datanet", id.to_string())],
        )
    }
}
