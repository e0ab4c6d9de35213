//! `soil attribute`.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use soil_client::{attribution::IndexCache, serve::session::sync_releases};

use super::{
    Global,
    args::{attribution_json, print_attribution},
    output::{self, outln},
};

/// Attributes a text to the contributions of a model's releases under this client's attribution protocol
/// version (the recomputation an audit does: the same text and releases give the same attribution and
/// hash anywhere; no model file is needed).
#[derive(Debug, clap::Args)]
pub(crate) struct Attribute {
    /// Use every release of this registered model, merged exactly as `soil infer` merges them.
    #[arg(
        long,
        conflicts_with = "releases",
        required_unless_present = "releases"
    )]
    model_id: Option<u64>,
    /// A release to attribute over (repeatable; merged in the order given).
    #[arg(long = "release")]
    releases: Vec<u64>,
    /// The text to attribute.
    #[arg(long, conflicts_with = "file", required_unless_present = "file")]
    text: Option<String>,
    /// A file holding the text to attribute.
    #[arg(long)]
    file: Option<PathBuf>,
}

impl Attribute {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let text = match (&self.text, &self.file) {
            (Some(text), _) => text.clone().into_bytes(),
            (None, Some(file)) => {
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?
            }
            (None, None) => bail!("give --text or --file"),
        };
        let chain = global.reader().await?;
        let releases = match self.model_id {
            Some(model_id) => chain.model(model_id).await?.releaseIds,
            None => self.releases.clone(),
        };
        for &release in &releases {
            chain.release(release).await?;
        }
        let index = sync_releases(&chain, &IndexCache::new(global.cache_dir()), &releases).await?;
        let attribution = index.attribute(&text);
        if global.json {
            return output::json(&attribution_json(&attribution));
        }
        print_attribution(&attribution)?;
        outln!("attribution hash {}", attribution.to_receipt().hash())?;
        Ok(())
    }
}
