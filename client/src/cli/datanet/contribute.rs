//! `soil datanet contribute`.

use std::path::PathBuf;

use alloy::primitives::aliases::U96;
use anyhow::Context as _;
use soil_client::attribution::{content_hash, word_count};

use crate::cli::{Global, args::parse_u96, output};

/// Contributes a document: content hash = keccak256 of the file, token count = its words
/// (docs/PROTOCOL.md), or given (--tokens).
#[derive(Debug, clap::Args)]
pub(crate) struct Contribute {
    /// The datanet.
    #[arg(long)]
    datanet: u64,
    /// The document.
    #[arg(long)]
    file: PathBuf,
    /// Where others fetch it [default: file://<absolute path>].
    #[arg(long)]
    uri: Option<String>,
    /// Stake to lock, in base units.
    #[arg(long, value_parser = parse_u96)]
    stake: U96,
    /// The token count to declare [default: the document's words]. A count above the words is refused
    /// by models registering the release (`soil model register`).
    #[arg(long)]
    tokens: Option<u32>,
}

impl Contribute {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let bytes = std::fs::read(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        let tokens = match self.tokens {
            Some(tokens) => tokens,
            None => {
                let count = word_count(&bytes);
                u32::try_from(count)
                    .with_context(|| format!("{count} words do not fit a uint32"))?
            }
        };
        let uri = match self.uri {
            Some(uri) => uri,
            None => {
                let absolute = std::fs::canonicalize(&self.file)
                    .with_context(|| format!("cannot resolve {}", self.file.display()))?;
                url::Url::from_file_path(&absolute)
                    .map_err(|()| {
                        anyhow::anyhow!("{} is not an absolute path", absolute.display())
                    })?
                    .to_string()
            }
        };
        let hash = content_hash(&bytes);
        let chain = global.chain().await?;
        let id = chain
            .contribute(self.datanet, hash, tokens, &uri, self.stake)
            .await?;
        output::record(
            global.json,
            &serde_json::json!({ "contributionId": id, "contentHash": hash, "tokenCount": tokens, "uri": uri }),
            &[
                ("contribution", id.to_string()),
                ("content hash", hash.to_string()),
                ("tokens", tokens.to_string()),
                ("uri", uri),
            ],
        )
    }
}
