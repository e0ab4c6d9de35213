//! Options every subcommand shares, and parsers for amounts.

use std::path::PathBuf;

use alloy::{
    primitives::{U256, aliases::U96},
    signers::local::PrivateKeySigner,
};
use anyhow::{Context as _, bail};
use soil_bindings::contracts::IModelRegistry::Split;
use soil_client::{
    chain::{Chain, DEFAULT_RPC_TIMEOUT, DEFAULT_RPC_URL},
    outbox::Outbox,
    wallet::WalletSource,
};

use super::output::outln;

/// Global options.
#[derive(Debug, clap::Args)]
pub(crate) struct Global {
    /// JSON-RPC endpoint of the chain.
    #[arg(long, global = true, env = "SOIL_RPC_URL", default_value = DEFAULT_RPC_URL)]
    pub(crate) rpc_url: String,
    /// Seconds one JSON-RPC request may take before it fails.
    #[arg(long, global = true, env = "SOIL_RPC_TIMEOUT", default_value_t = DEFAULT_RPC_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) rpc_timeout: u64,
    /// Encrypted keystore file (password from SOIL_KEYSTORE_PASSWORD or a prompt). Without it the raw
    /// key in SOIL_PRIVATE_KEY is used (local chains only).
    #[arg(long, global = true, env = "SOIL_KEYSTORE")]
    pub(crate) keystore: Option<PathBuf>,
    /// Deployment file [default: deployments/<chainId>.json].
    #[arg(long, global = true, env = "SOIL_DEPLOYMENT")]
    pub(crate) deployment: Option<PathBuf>,
    /// The receipt outbox database [default: $SOIL_HOME/outbox.sqlite, SOIL_HOME defaulting to ~/.soil].
    #[arg(long, global = true, env = "SOIL_OUTBOX")]
    pub(crate) outbox: Option<PathBuf>,
    /// Where release indexes are cached [default: $SOIL_HOME/index].
    #[arg(long, global = true, env = "SOIL_CACHE_DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

impl Global {
    /// `$SOIL_HOME`, defaulting to `~/.soil`.
    fn home() -> PathBuf {
        std::env::var_os("SOIL_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("HOME").map_or_else(
                    || PathBuf::from(".soil"),
                    |home| PathBuf::from(home).join(".soil"),
                )
            })
    }

    /// The wallet source the options name.
    pub(crate) fn wallet(&self) -> WalletSource {
        WalletSource {
            keystore: self.keystore.clone(),
        }
    }

    /// Opens the wallet and connects to the chain.
    pub(crate) async fn chain(&self) -> anyhow::Result<Chain> {
        self.connect(self.wallet().open()?).await
    }

    /// Connects to the chain for reads only: no wallet is needed (anyone may list, attribute, audit and
    /// verify).
    pub(crate) async fn reader(&self) -> anyhow::Result<Chain> {
        self.connect(PrivateKeySigner::random()).await
    }

    /// Connects to the chain as `signer`.
    pub(crate) async fn connect(&self, signer: PrivateKeySigner) -> anyhow::Result<Chain> {
        Ok(Chain::connect(
            &self.rpc_url,
            signer,
            self.deployment.as_deref(),
            std::time::Duration::from_secs(self.rpc_timeout),
        )
        .await?)
    }

    /// Opens the receipt outbox.
    pub(crate) async fn outbox(&self) -> anyhow::Result<Outbox> {
        let path = self
            .outbox
            .clone()
            .unwrap_or_else(|| Self::home().join("outbox.sqlite"));
        Ok(Outbox::open(&path).await?)
    }

    /// The release index cache directory.
    pub(crate) fn cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| Self::home().join("index"))
    }
}

/// Parses an amount in the token's base units (a non-negative integer).
pub(crate) fn parse_amount(text: &str) -> anyhow::Result<U256> {
    text.parse::<U256>()
        .with_context(|| format!("amount {text:?} is not a non-negative integer in base units"))
}

/// Parses `owner,data,node,treasury` basis points.
pub(crate) fn parse_split(text: &str) -> anyhow::Result<Split> {
    let parts: Vec<u16> = text
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<u16>()
                .with_context(|| format!("split part {p:?} is not a number of basis points"))
        })
        .collect::<anyhow::Result<_>>()?;
    let [owner, data, node, treasury] = parts[..] else {
        bail!(
            "--split takes four basis-point parts: owner,data,node,treasury (e.g. 3000,5000,1500,500)"
        );
    };
    let sum = u32::from(owner) + u32::from(data) + u32::from(node) + u32::from(treasury);
    if sum != 10_000 {
        bail!("--split parts sum to {sum} basis points; they must sum to 10000");
    }
    Ok(Split {
        ownerBps: owner,
        dataBps: data,
        nodeBps: node,
        treasuryBps: treasury,
    })
}

/// Parses an amount that must fit a uint96 (stakes, prices).
pub(crate) fn parse_u96(text: &str) -> anyhow::Result<U96> {
    let amount = parse_amount(text)?;
    U96::checked_from_limbs_slice(amount.as_limbs())
        .with_context(|| format!("amount {text} does not fit in 96 bits"))
}

/// Which registered model runs, on which files: a whole model, or an adapter over its base.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServedModelArgs {
    /// The registered model's id: a whole model, or an adapter (whose file --adapter gives).
    #[arg(long)]
    pub(crate) model_id: u64,
    /// The whole model's GGUF file (for an adapter, its base's).
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// A LoRA adapter registered on that base, as MODEL_ID=FILE (repeatable); it is loaded once over the
    /// base and picked per request.
    #[arg(long = "adapter", value_name = "MODEL_ID=FILE", value_parser = parse_adapter)]
    pub(crate) adapters: Vec<(u64, PathBuf)>,
}

/// Parses `MODEL_ID=FILE`.
fn parse_adapter(text: &str) -> anyhow::Result<(u64, PathBuf)> {
    let (id, path) = text.split_once('=').with_context(|| {
        format!("--adapter {text:?}: expected MODEL_ID=FILE, e.g. 3=adapter.gguf")
    })?;
    let id = id
        .trim()
        .parse()
        .with_context(|| format!("--adapter {text:?}: {id:?} is not a model id"))?;
    Ok((id, PathBuf::from(path)))
}

/// llama.cpp settings.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ModelArgs {
    /// CPU threads [default: all cores].
    #[arg(long)]
    pub(crate) threads: Option<u32>,
    /// Context size in tokens.
    #[arg(long, default_value_t = 2048)]
    pub(crate) ctx_size: u32,
}

impl ModelArgs {
    pub(crate) fn options(&self) -> soil_client::model::ModelOptions {
        let defaults = soil_client::model::ModelOptions::default();
        soil_client::model::ModelOptions {
            threads: self.threads.unwrap_or(defaults.threads),
            context_size: self.ctx_size,
            ..defaults
        }
    }
}

/// Sampling settings.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SamplingArgs {
    /// Softmax temperature (0 = greedy).
    #[arg(long, default_value_t = 0.7)]
    pub(crate) temperature: f32,
    /// Nucleus sampling threshold.
    #[arg(long, default_value_t = 0.9)]
    pub(crate) top_p: f32,
    /// Seed of the random draw.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u32,
    /// The most tokens to generate.
    #[arg(long, default_value_t = 256)]
    pub(crate) max_tokens: u32,
}

impl SamplingArgs {
    pub(crate) fn sampling(&self) -> soil_client::model::Sampling {
        soil_client::model::Sampling {
            temperature: self.temperature,
            top_p: self.top_p,
            seed: self.seed,
            max_tokens: self.max_tokens,
            ..soil_client::model::Sampling::default()
        }
    }
}

/// Prints an attribution as a table: contribution, weight (ppm and percent).
pub(crate) fn print_attribution(
    attribution: &soil_client::attribution::Attribution,
) -> std::io::Result<()> {
    if attribution.weights.is_empty() {
        return outln!("attribution: no span of the output was found in the release");
    }
    let rows: Vec<Vec<String>> = attribution
        .weights
        .iter()
        .map(|&(id, ppm)| {
            vec![
                id.to_string(),
                ppm.to_string(),
                format!("{:.2}%", f64::from(ppm) / 10_000.0),
            ]
        })
        .collect();
    super::output::table(&["CONTRIBUTION", "WEIGHT (PPM)", "SHARE"], &rows)?;
    outln!(
        "{} of {} output words covered by {} matched spans",
        attribution.covered_words,
        attribution.output_words,
        attribution.spans.len()
    )
}

/// An attribution as JSON.
pub(crate) fn attribution_json(
    attribution: &soil_client::attribution::Attribution,
) -> serde_json::Value {
    serde_json::json!({
        "weights": attribution.weights.iter().map(|&(id, ppm)| serde_json::json!({ "contributionId": id, "weightPpm": ppm })).collect::<Vec<_>>(),
        "coveredWords": attribution.covered_words,
        "outputWords": attribution.output_words,
        "spans": attribution.spans.len(),
        "hash": attribution.to_receipt().hash(),
    })
}
