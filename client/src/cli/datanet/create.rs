//! `soil datanet create`.

use alloy::primitives::{Address, aliases::U96};

use soil_client::chain::DatanetTerms;

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
    /// Seconds a contribution may wait for review; past them its contributor may withdraw it and take
    /// the stake back (at most 90 days).
    #[arg(long, default_value_t = 7 * 24 * 3600)]
    review_window: u64,
    /// Largest token count one contribution may declare: what one declaration can take of a release pool.
    #[arg(long, default_value_t = 1_000_000)]
    max_contribution_tokens: u32,
    /// A curator (repeatable).
    #[arg(long = "curator")]
    curators: Vec<Address>,
}

impl Create {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        let id = chain
            .create_datanet(&DatanetTerms {
                metadata_uri: self.metadata_uri,
                min_stake: self.min_stake,
                review_window: self.review_window,
                max_contribution_tokens: self.max_contribution_tokens,
                curators: self.curators,
            })
            .await?;
        output::record(
            global.json,
            &serde_json::json!({ "datanetId": id }),
            &[("datanet", id.to_string())],
        )
    }
}
