//! `soil model register`.

use std::path::PathBuf;

use alloy::primitives::aliases::U96;
use anyhow::bail;
use soil_bindings::contracts::IModelRegistry::Split;
use soil_client::{model::ModelFile, serve::session::overclaims};

use crate::cli::{
    Global,
    args::{parse_split, parse_u96},
    output,
};

/// Registers a model. Every document of its releases is fetched, verified and counted with the model's
/// tokenizer first: a release where a contribution declares more tokens than its document holds is refused.
#[derive(Debug, clap::Args)]
pub(crate) struct Register {
    /// The GGUF file (its SHA-256 becomes the weights hash).
    #[arg(long)]
    file: PathBuf,
    /// Where the weights can be fetched.
    #[arg(long, default_value = "")]
    uri: String,
    /// A release the model was trained on (repeatable).
    #[arg(long = "release", required = true)]
    releases: Vec<u64>,
    /// Price per 1,000 tokens, in base units.
    #[arg(long, value_parser = parse_u96)]
    price: U96,
    /// Revenue split in basis points: owner,data,node,treasury.
    #[arg(long, value_parser = parse_split)]
    split: Split,
}

impl Register {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let path = self.file.clone();
        let file = tokio::task::spawn_blocking(move || ModelFile::open(path, None)).await??;
        let chain = global.chain().await?;
        let overclaimed = overclaims(&chain, &self.releases).await?;
        if !overclaimed.is_empty() {
            let list = overclaimed
                .iter()
                .map(|o| {
                    format!(
                        "contribution {} declares {} tokens, its document holds {} words",
                        o.contribution_id, o.declared, o.counted
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            bail!(
                "refusing to register on these releases: {} contribution(s) declare more tokens than \
                 their documents hold under this model's tokenizer, which would hand them more of the \
                 release pools than their data: {list}",
                overclaimed.len()
            );
        }
        let id = chain
            .register_model(
                file.sha256(),
                &self.uri,
                self.releases.clone(),
                self.price,
                self.split,
            )
            .await?;
        output::record(
            global.json,
            &serde_json::json!({ "modelId": id, "weightsHash": file.sha256(), "releases": self.releases }),
            &[
                ("model", id.to_string()),
                ("weights hash", file.sha256().to_string()),
            ],
        )
    }
}
