//! `soil datanet contribute`.

use std::path::PathBuf;

use alloy::primitives::aliases::U96;
use anyhow::{Context as _, bail};
use soil_client::{attribution::content_hash, model::ModelOptions, serve::session::load_model};

use crate::cli::{Global, args::parse_u96, output};

/// Contributes a document: content hash = keccak256 of the file, token count from the model's tokenizer
/// (--model) or given (--tokens).
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
    /// GGUF model whose tokenizer counts the document's tokens.
    #[arg(long, conflicts_with = "tokens")]
    model: Option<PathBuf>,
    /// The document's token count, if already known.
    #[arg(long)]
    tokens: Option<u32>,
}

impl Contribute {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let bytes = std::fs::read(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        let tokens = match (self.tokens, &self.model) {
            (Some(tokens), _) => tokens,
            (None, Some(model)) => {
                let worker = load_model(model.clone(), None, ModelOptions::default()).await?;
                let count = worker.tokenize(&bytes).await?.len();
                u32::try_from(count)
                    .with_context(|| format!("{count} tokens do not fit a uint32"))?
            }
            (None, None) => {
                bail!("give --model PATH (to count the document's tokens) or --tokens N")
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
