//! `soil datanet sync`.

use soil_client::{attribution::IndexCache, serve::session::sync_releases};

use crate::cli::{Global, output};

/// Fetches a release's documents from their URIs, verifies their hashes and the release root, and
/// builds (or loads) its attribution index (model-independent: words, docs/PROTOCOL.md).
#[derive(Debug, clap::Args)]
pub(crate) struct Sync {
    /// The release.
    release: u64,
}

impl Sync {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        let release = chain.release(self.release).await?;
        let cache = IndexCache::new(global.cache_dir());
        let index = sync_releases(&chain, &cache, &[self.release]).await?;
        let path = cache.path_for(index.root());
        output::record(
            global.json,
            &serde_json::json!({
                "releaseId": self.release, "root": release.root, "documents": index.documents().len(),
                "words": index.word_count(), "index": path,
            }),
            &[
                ("release", self.release.to_string()),
                ("root", release.root.to_string()),
                ("documents", index.documents().len().to_string()),
                ("words", index.word_count().to_string()),
                ("index", path.display().to_string()),
            ],
        )
    }
}
